// Package query runs Athena-dialect SQL over a lake offline through DuckDB,
// with each table defined exactly as Athena sees it: the built-in
// stock_ticks (Run, RunStore: the contract's columns and types in order,
// then the partition keys dt and hour as strings), or any table definition
// lake.ParseTable reads (RunTable, RunTableStore: its columns, types,
// key=value partitions and SerDe). SQL is translated from Athena's (Trino's)
// dialect where DuckDB names things differently (Translate, Macros; see
// docs/query.md), and unnamed columns are _col0, _col1… as in Athena.
// It links DuckDB (cgo), so it lives apart from harness/lake. Built without
// cgo (CGO_ENABLED=0, the static release binary) the Run functions return
// ErrNeedsCgo; everything else here works.
//
//	res, err := query.Run(ctx, "/tmp/lake", "SELECT count(*) FROM stock_ticks")
//	res.Write(os.Stdout, query.Table)
//
//	def, err := lake.ParseTable("clicks.sql", ddl, lake.AcceptText())
//	res, err = query.RunTable(ctx, "/tmp/bucket", def, "SELECT dt, approx_distinct(user_id) FROM web.clicks GROUP BY dt")
//
// For an S3 lake, RunStore and RunTableStore copy the objects to a
// temporary folder first.
package query

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// ErrNeedsCgo is returned by Run and RunStore in a build without cgo: DuckDB
// is C++ and links only with cgo.
var ErrNeedsCgo = errors.New("query: this tickflow was built without cgo (CGO_ENABLED=0) and has no DuckDB; use the cgo build (make release builds both: bin/tickflow next to bin/tickflow-static)")

// Result is a query's columns and rows (values as database/sql returns them).
type Result struct {
	Columns []string
	Types   []string // DuckDB type names
	Rows    [][]any
}

// Format is an output format for Result.Write.
type Format string

const (
	Table Format = "table" // aligned columns
	CSV   Format = "csv"
	JSON  Format = "json" // an array of objects
)

// duckType maps an Athena type to the DuckDB type of the view's column.
var duckType = map[string]string{
	"string": "VARCHAR", "date": "DATE", "double": "DOUBLE", "bigint": "BIGINT", "timestamp": "TIMESTAMP", "int": "INTEGER",
}

// detectFormat finds the lake's format from its object names: "parquet" or
// "json" (.json and .json.gz). It also refuses what DuckDB would otherwise
// skip or misread without a word, naming the object: data files that are
// not regular files (dangling symlinks, FIFOs) or that sit outside the
// dt=/hour= folders the view reads, and truncated .json.gz files (DuckDB
// returns the rows before the cut and no error).
func detectFormat(root string) (string, error) {
	// WalkDir does not descend into a symlinked root (a linked lake or
	// stock_ticks folder); DuckDB's glob does, so resolve it first.
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	var parquet, jsonN int
	var other, outside string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		isParquet := strings.HasSuffix(p, ".parquet")
		isJSON := strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".json.gz")
		if !isParquet && !isJSON {
			if other == "" {
				other = rel
			}
			return nil
		}
		st, err := os.Stat(p) // follows symlinks: DuckDB reads the target
		switch {
		case err != nil:
			return fmt.Errorf("cannot read %s/%s: %w", tick.Table, rel, err)
		case !st.Mode().IsRegular():
			return fmt.Errorf("%s/%s is not a regular file (%s); DuckDB would skip it", tick.Table, rel, st.Mode().Type())
		case strings.Count(rel, "/") != 2:
			if outside == "" {
				outside = rel
			}
			return nil
		case isParquet:
			parquet++
		default:
			jsonN++
			if strings.HasSuffix(p, ".gz") {
				if err := checkGzip(p); err != nil {
					return fmt.Errorf("%s/%s: %w; DuckDB would silently return only the rows before the damage (run tickflow verify)", tick.Table, rel, err)
				}
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return "", fmt.Errorf("query: %w", err)
	case parquet > 0 && jsonN > 0:
		return "", fmt.Errorf("query: %s mixes .parquet and .json objects (rule L04); run tickflow verify", root)
	case parquet > 0:
		return "parquet", nil
	case jsonN > 0:
		return "json", nil
	}
	msg := fmt.Sprintf("query: no .parquet, .json or .json.gz objects in dt=…/hour=… folders under %s", root)
	if outside != "" {
		msg += fmt.Sprintf("; %s/%s is not in a dt=…/hour=… folder (rule L01/L02; run tickflow verify)", tick.Table, outside)
	}
	if other != "" {
		msg += fmt.Sprintf("; found %s/%s (extensions are case-sensitive)", tick.Table, other)
	}
	return "", errors.New(msg)
}

// checkGzip reads a gzip file to its end: a truncated or corrupt stream is
// an error.
func checkGzip(p string) error {
	fh, err := os.Open(p)
	if err != nil {
		return err
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return fmt.Errorf("not a gzip file (%w)", err)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return fmt.Errorf("corrupt or truncated gzip stream (%w)", err)
	}
	return nil
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// ViewSQL returns the CREATE VIEW statement defining stock_ticks over the lake
// in dir (the folder that holds stock_ticks/) of the given format.
func ViewSQL(dir, format string) string {
	root := filepath.Join(dir, tick.Table)
	var cols []string
	for _, c := range tick.Columns {
		cols = append(cols, fmt.Sprintf("CAST(%q AS %s) AS %q", c.Name, duckType[c.Type], c.Name))
	}
	cols = append(cols, `CAST("dt" AS VARCHAR) AS "dt"`, `CAST("hour" AS VARCHAR) AS "hour"`)
	hive := "hive_partitioning = true, hive_types = {'dt': VARCHAR, 'hour': VARCHAR}"
	var src string
	if format == "json" {
		var spec []string
		for _, c := range tick.Columns {
			spec = append(spec, fmt.Sprintf("%s: %s", sqlString(c.Name), sqlString(duckType[c.Type])))
		}
		// One glob for .json and .json.gz: DuckDB fails on a glob that matches nothing.
		glob := sqlString(filepath.Join(root, "*", "*", "*.json*"))
		src = fmt.Sprintf("read_json(%s, format = 'newline_delimited', columns = {%s}, timestampformat = '%%Y-%%m-%%d %%H:%%M:%%S.%%g', dateformat = '%%Y-%%m-%%d', %s)",
			glob, strings.Join(spec, ", "), hive)
	} else {
		src = fmt.Sprintf("read_parquet(%s, %s)", sqlString(filepath.Join(root, "*", "*", "*.parquet")), hive)
	}
	return fmt.Sprintf("CREATE VIEW %s AS SELECT %s FROM %s", tick.Table, strings.Join(cols, ", "), src)
}

// Run executes query against the lake in the local folder dir (the folder
// that holds stock_ticks/). Errors name what went wrong: no lake, an unknown
// column (with the view's columns listed), a syntax error.
func Run(ctx context.Context, dir, query string) (*Result, error) {
	if !HaveDuckDB {
		return nil, ErrNeedsCgo
	}
	if strings.TrimSpace(query) == "" {
		return nil, errors.New("query: empty SQL")
	}
	st, err := os.Stat(filepath.Join(dir, tick.Table))
	if err != nil || !st.IsDir() {
		return nil, fmt.Errorf("query: %s has no %s/ folder (--dir names the folder that holds it)", dir, tick.Table)
	}
	format, err := detectFormat(filepath.Join(dir, tick.Table))
	if err != nil {
		return nil, err
	}
	return runSQL(ctx, []string{ViewSQL(dir, format)}, query, []TableName{{Name: tick.Table}}, hint)
}

// runSQL defines the views, translates query from Athena's dialect and runs
// it, with Athena's column names.
func runSQL(ctx context.Context, views []string, query string, tables []TableName, hint func(error) string) (*Result, error) {
	translated, err := Translate(query, tables...)
	if err != nil {
		return nil, err
	}
	s, err := openSession(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()
	for _, v := range views {
		if err := s.exec(ctx, v); err != nil {
			return nil, fmt.Errorf("query: define the table's view: %w (%s)", err, v)
		}
	}
	res, err := s.query(ctx, translated)
	if err != nil {
		if fe := functionError(err); fe != err {
			return nil, fe
		}
		return nil, fmt.Errorf("query: %w%s", err, hint(err))
	}
	athenaNames(res.Columns)
	return res, nil
}

// hint lists the view's columns when DuckDB could not bind a name.
func hint(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "Table with name") {
		return fmt.Sprintf(" (the table here is %s; tickflow query --table FILE queries any other table)", tick.Table)
	}
	if !strings.Contains(msg, "not found") && !strings.Contains(msg, "Binder Error") {
		return ""
	}
	names := make([]string, 0, len(tick.Columns)+2)
	for _, c := range tick.Columns {
		names = append(names, c.Name)
	}
	names = append(names, "dt", "hour")
	return fmt.Sprintf(" (table %s has columns %s)", tick.Table, strings.Join(names, ", "))
}

// RunStore mirrors the lake under prefix of st into a temporary folder and
// runs query there; the folder is removed afterwards.
func RunStore(ctx context.Context, st objstore.Store, prefix, query string) (*Result, error) {
	if !HaveDuckDB {
		return nil, ErrNeedsCgo // before mirroring a whole lake for nothing
	}
	tmp, err := os.MkdirTemp("", "tickflow-query-")
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := lake.Mirror(ctx, st, prefix, tmp); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return Run(ctx, tmp, query)
}

// text renders one value the way Athena's console would.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.UTC().Format(time.DateOnly)
		}
		return x.UTC().Format("2006-01-02 15:04:05.000")
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return fmt.Sprint(x)
		}
		return fmt.Sprint(x)
	case []byte:
		return string(x)
	case []any: // array, as Athena prints it: [a, b]
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = text(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any: // struct: {name=value, …}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + text(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	if keys, vals, ok := mapEntries(v); ok { // map: {key=value, …}
		parts := make([]string, len(keys))
		for i := range keys {
			parts[i] = text(keys[i]) + "=" + text(vals[i])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// mapEntries returns a DuckDB MAP value's keys and values in order (set by
// the cgo build).
var mapEntries = func(any) (keys, vals []any, ok bool) { return nil, nil, false }

// Write prints the result as an aligned table, CSV, or a JSON array of objects.
func (r *Result) Write(w io.Writer, f Format) error {
	switch f {
	case CSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(r.Columns); err != nil {
			return err
		}
		for _, row := range r.Rows {
			rec := make([]string, len(row))
			for i, v := range row {
				rec[i] = text(v)
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case JSON:
		out := make([]map[string]any, 0, len(r.Rows))
		for _, row := range r.Rows {
			m := make(map[string]any, len(row))
			for i, v := range row {
				switch x := v.(type) {
				case time.Time, []byte:
					m[r.Columns[i]] = text(x)
				default:
					m[r.Columns[i]] = x
				}
			}
			out = append(out, m)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case Table, "":
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(r.Columns, "\t"))
		seps := make([]string, len(r.Columns))
		for i, c := range r.Columns {
			seps[i] = strings.Repeat("-", max(len(c), 3))
		}
		fmt.Fprintln(tw, strings.Join(seps, "\t"))
		for _, row := range r.Rows {
			cells := make([]string, len(row))
			for i, v := range row {
				cells[i] = text(v)
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		count := fmt.Sprintf("%d rows", len(r.Rows))
		if len(r.Rows) == 1 {
			count = "1 row"
		}
		_, err := fmt.Fprintf(w, "(%s)\n", count)
		return err
	}
	return fmt.Errorf("query: unknown format %q: want table, csv or json", f)
}
