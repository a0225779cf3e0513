package main

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/lake/query"
)

func init() { register(newQueryCmd) }

func newQueryCmd() *cobra.Command {
	var src lakeSource
	var format, table string
	cmd := &cobra.Command{
		Use:   `query "SQL" (--dir DIR | [--s3-endpoint URL] --bucket B [--prefix P]) [--table FILE] [--format table|csv|json]`,
		Short: "Run Athena-dialect SQL over the lake offline (DuckDB), any table defined as Athena sees it",
		Long: `query runs SQL offline through DuckDB against a table defined exactly as Athena sees it.

Without --table the table is the built-in stock_ticks: the contract's columns with Athena's types,
and the partition keys dt and hour as strings (--dir/--prefix: the folder that holds stock_ticks/).
--table FILE queries any table: FILE is the JSON of 'aws glue get-table', a Glue TableInput
('tickflow ddl --glue-json') or an Athena CREATE EXTERNAL TABLE statement, as for verify, and CSV
tables too (ROW FORMAT DELIMITED, LazySimpleSerDe, OpenCSVSerde). The table's name is the view's
(db.table and "default"."table" work too); --dir/--prefix mirror the bucket and the objects are
read under the path of its LOCATION; partition keys come from key=value folders; Parquet, JSON
Lines and delimited text (gzip too) follow the SerDe. --bucket defaults to the LOCATION's bucket.
An S3 lake is first copied to a temporary folder.

SQL is Athena's (Trino's) dialect: unnamed columns are _col0, _col1…, and approx_distinct,
date_format/date_parse (%Y-%m-%d %H:%i:%s), from_iso8601_timestamp, regexp_like, element_at,
cardinality, from_unixtime, to_unixtime, date_add, date_diff and more are translated to DuckDB
(docs/query.md lists them); a function neither knows is an error naming it and what to use.

Examples:
  tickflow query "SELECT count(*), count(DISTINCT (kafka_partition, kafka_offset)) FROM stock_ticks" --dir ./lake
  tickflow query --table clicks.sql --dir ./bucket "SELECT dt, approx_distinct(user_id) FROM web.clicks GROUP BY dt"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !query.HaveDuckDB {
				return usageError("query needs DuckDB, which only the cgo build links: this is the static (CGO_ENABLED=0) binary; run the cgo build (make release builds both)")
			}
			f := query.Format(format)
			if f != query.Table && f != query.CSV && f != query.JSON {
				return usageError("--format %q: want table, csv or json", format)
			}
			var def *lake.TableDef
			if table != "" {
				b, err := os.ReadFile(table)
				if err != nil {
					return usageError("--table %s: %v; fix: give the file aws glue get-table or tickflow ddl wrote", table, errors.Unwrap(err))
				}
				if def, err = lake.ParseTable(table, b, lake.AcceptText()); err != nil {
					return usageError("--table %v", err)
				}
				if src.dir == "" && src.bucket == "" && src.endpoint != "" {
					src.bucket = def.Bucket()
				}
			}
			var res *query.Result
			var err error
			local := src.dir != "" && src.bucket == "" && src.endpoint == "" && src.prefix == ""
			switch {
			case local && def != nil:
				res, err = query.RunTable(cmd.Context(), src.dir, def, args[0])
			case local:
				res, err = query.Run(cmd.Context(), src.dir, args[0])
			default:
				st, prefix, oerr := src.open(cmd.Context())
				if oerr != nil {
					return oerr
				}
				if def != nil {
					res, err = query.RunTableStore(cmd.Context(), st, prefix, def, args[0])
				} else {
					res, err = query.RunStore(cmd.Context(), st, prefix, args[0])
				}
			}
			if err != nil {
				err = s3Error(src.target(), err)
				var ee *exitError
				if errors.As(err, &ee) {
					return err
				}
				return usageError("%s", sqlErrorLines(err.Error(), len("tickflow: ")))
			}
			if err := res.Write(cmd.OutOrStdout(), f); err != nil {
				return usageError("query: write result: %v", err)
			}
			return nil
		},
	}
	src.flags(cmd.Flags())
	cmd.Flags().StringVar(&format, "format", "table", "output: table, csv or json")
	cmd.Flags().StringVar(&table, "table", "", "table definition: aws glue get-table JSON, Glue TableInput JSON, or CREATE EXTERNAL TABLE .sql, CSV tables too (default: the built-in stock_ticks)")
	return cmd
}

var sqlErrorLine = regexp.MustCompile(`^LINE (\d+): (.*)$`)

// sqlErrorLines turns DuckDB's multi-line error (message, blank line,
// "LINE n: sql", a caret line) into one line that ends with the SQL line,
// plus the caret line aligned under it; indent is the width of what is
// printed before msg on its line. Messages without a caret stay as they are
// with their lines joined.
func sqlErrorLines(msg string, indent int) string {
	lines := strings.Split(msg, "\n")
	var head []string
	var sqlNo, sql, caret string
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if m := sqlErrorLine.FindStringSubmatch(lines[i]); m != nil && i+1 < len(lines) && strings.Contains(lines[i+1], "^") {
			sqlNo, sql = m[1], m[2]
			// The caret's column within the SQL text.
			col := strings.Index(lines[i+1], "^") - len("LINE "+m[1]+": ")
			caret = strings.Repeat(" ", max(col, 0)) + strings.TrimLeft(lines[i+1], " ")
			i++
			continue
		}
		if l != "" {
			head = append(head, l)
		}
	}
	first := strings.Join(head, " ")
	if sql == "" {
		return first
	}
	first += " (line " + sqlNo + "): "
	return first + sql + "\n" + strings.Repeat(" ", indent+utf8.RuneCountInString(first)) + caret
}
