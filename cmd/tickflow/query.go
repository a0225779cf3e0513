package main

import (
	"errors"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/tickflow/tickflow/harness/lake/query"
)

func init() { register(newQueryCmd) }

func newQueryCmd() *cobra.Command {
	var src lakeSource
	var format string
	cmd := &cobra.Command{
		Use:   `query "SQL" (--dir DIR | [--s3-endpoint URL] --bucket B [--prefix P]) [--format table|csv|json]`,
		Short: "Run SQL over the lake offline (DuckDB) with stock_ticks defined exactly as Athena sees it",
		Long: `query runs SQL against the table stock_ticks: the contract's columns with Athena's types, and the
partition keys dt and hour as strings. An S3 lake is first copied to a temporary folder.
Example: tickflow query "SELECT count(*), count(DISTINCT (kafka_partition, kafka_offset)) FROM stock_ticks" --dir ./lake`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !query.HaveDuckDB {
				return usageError("query needs DuckDB, which only the cgo build links: this is the static (CGO_ENABLED=0) binary; run the cgo build (make release builds both)")
			}
			f := query.Format(format)
			if f != query.Table && f != query.CSV && f != query.JSON {
				return usageError("--format %q: want table, csv or json", format)
			}
			var res *query.Result
			var err error
			if src.dir != "" && src.bucket == "" && src.endpoint == "" && src.prefix == "" {
				res, err = query.Run(cmd.Context(), src.dir, args[0])
			} else {
				st, prefix, oerr := src.open(cmd.Context())
				if oerr != nil {
					return oerr
				}
				res, err = query.RunStore(cmd.Context(), st, prefix, args[0])
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
