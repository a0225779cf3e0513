package query

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
)

// RunTable runs query (Athena's dialect) against the table def (see
// lake.ParseTable; lake.AcceptText for CSV tables) whose objects are in the
// local folder dir mirroring def's bucket: dir + the path of def.Location.
// The view is named after the table (also reachable as db.table); its
// columns are def's with Athena's types, then the partition keys read from
// key=value folders. The format follows the SerDe: Parquet, JSON Lines
// (OpenX or Hive JSON SerDe), or delimited text (LazySimpleSerDe with its
// field.delim, OpenCSVSerde), gzip by the .gz extension.
func RunTable(ctx context.Context, dir string, def *lake.TableDef, query string) (*Result, error) {
	if !HaveDuckDB {
		return nil, ErrNeedsCgo
	}
	if strings.TrimSpace(query) == "" {
		return nil, errors.New("query: empty SQL")
	}
	root := filepath.Join(dir, filepath.FromSlash(def.LocationPath()))
	files, err := tableFiles(root, def)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("query: no data objects for table %s under %s (location %s; --dir names the folder that mirrors bucket %s)%s",
			def.Name, root, def.Location, def.Bucket(), layoutHint(def))
	}
	var views []string
	if def.Format == lake.FormatParquet {
		// Athena maps Parquet columns by name: a declared column no file has reads as NULL.
		s, err := openSession(ctx)
		if err != nil {
			return nil, err
		}
		desc, err := s.query(ctx, "DESCRIBE SELECT * FROM read_parquet("+fileList(files)+", union_by_name = true)")
		s.close()
		if err != nil {
			return nil, fmt.Errorf("query: table %s: read the Parquet schemas under %s: %w", def.Name, root, err)
		}
		present := map[string]bool{}
		for _, r := range desc.Rows {
			if n, ok := r[0].(string); ok {
				present[strings.ToLower(n)] = true
			}
		}
		v, err := tableViewSQL(def, files, present)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	} else {
		v, err := tableViewSQL(def, files, nil)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return runSQL(ctx, views, query, []TableName{{Name: def.Name, Database: def.Database}}, tableHint(def))
}

// RunTableStore copies def's objects (under prefix + the path of
// def.Location) from st into a temporary folder and runs query there; the
// folder is removed afterwards.
func RunTableStore(ctx context.Context, st objstore.Store, prefix string, def *lake.TableDef, query string) (*Result, error) {
	if !HaveDuckDB {
		return nil, ErrNeedsCgo
	}
	tmp, err := os.MkdirTemp("", "tickflow-query-")
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer os.RemoveAll(tmp)
	prefix = strings.TrimPrefix(prefix, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	root := prefix + def.LocationPath()
	objs, err := st.List(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("query: list %s %s: %w", st, root, err)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("query: no objects for table %s under %s in %s (location %s)", def.Name, root, st, def.Location)
	}
	for _, o := range objs {
		if strings.HasSuffix(o.Key, "/") {
			continue // folder placeholder
		}
		p := filepath.Join(tmp, filepath.FromSlash(strings.TrimPrefix(o.Key, prefix)))
		if !strings.HasPrefix(p, filepath.Clean(tmp)+string(filepath.Separator)) {
			return nil, fmt.Errorf("query: key %q escapes %s", o.Key, tmp)
		}
		body, _, err := st.Get(ctx, o.Key)
		if err != nil {
			return nil, fmt.Errorf("query: get %s: %w", o.Key, err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
	}
	return RunTable(ctx, tmp, def, query)
}

// tableFiles lists the objects Athena reads for def under root: in a
// partitioned table only files exactly in key1=…/key2=…/ folders (in the
// declared order), in an unpartitioned one every file below root. Hidden
// files (_SUCCESS, .crc), folder markers and empty objects are left out, as
// Hive and Athena leave them out.
func tableFiles(root string, def *lake.TableDef) ([]string, error) {
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	st, err := os.Stat(root)
	if err != nil || !st.IsDir() {
		return nil, nil
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := d.Name()
		if p != root && (strings.HasPrefix(base, "_") || strings.HasPrefix(base, ".")) && !strings.Contains(base, "=") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || strings.HasSuffix(base, "$folder$") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if n := len(def.PartitionKeys); n > 0 {
			if len(parts) != n+1 {
				return nil
			}
			for i, k := range def.PartitionKeys {
				key, _, ok := strings.Cut(parts[i], "=")
				if !ok || !strings.EqualFold(key, k.Name) {
					return nil
				}
			}
		}
		info, err := os.Stat(p)
		switch {
		case err != nil:
			return fmt.Errorf("query: cannot read %s: %w", rel, err)
		case !info.Mode().IsRegular():
			return fmt.Errorf("query: %s is not a regular file (%s)", rel, info.Mode().Type())
		case info.Size() == 0:
			return nil
		}
		if strings.HasSuffix(base, ".gz") {
			if err := checkGzip(p); err != nil {
				return fmt.Errorf("query: %s: %w; DuckDB would silently return only the rows before the damage", rel, err)
			}
		}
		files = append(files, p)
		return nil
	})
	sort.Strings(files)
	return files, err
}

// layoutHint says where a partitioned table's objects must be.
func layoutHint(def *lake.TableDef) string {
	if len(def.PartitionKeys) == 0 {
		return ""
	}
	var segs []string
	for _, k := range def.PartitionKeys {
		segs = append(segs, k.Name+"=…")
	}
	return "; objects of a partitioned table are read from " + path.Join(def.LocationPath(), strings.Join(segs, "/")) + "/"
}

func fileList(files []string) string {
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = sqlString(f)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// tableViewSQL returns the CREATE VIEW statement for def over files; present
// lists the columns the Parquet files hold (lowercase).
func tableViewSQL(def *lake.TableDef, files []string, present map[string]bool) (string, error) {
	var cols, hiveTypes, jsonCols []string
	for _, k := range def.PartitionKeys {
		t, err := lake.DuckDBType(k.Type)
		if err != nil {
			return "", fmt.Errorf("query: table %s: partition key %s: %w", def.Name, k.Name, err)
		}
		hiveTypes = append(hiveTypes, fmt.Sprintf("%s: %s", sqlString(k.Name), t))
	}
	hive := "hive_partitioning = false"
	if len(def.PartitionKeys) > 0 {
		hive = "hive_partitioning = true, hive_types = {" + strings.Join(hiveTypes, ", ") + "}"
	}
	for _, c := range def.Columns {
		t, err := lake.DuckDBType(c.Type)
		if err != nil {
			return "", fmt.Errorf("query: table %s: column %s: %w", def.Name, c.Name, err)
		}
		name := quoteIdent(c.Name)
		switch {
		case def.Format == lake.FormatParquet && !present[strings.ToLower(c.Name)]:
			cols = append(cols, fmt.Sprintf("CAST(NULL AS %s) AS %s", t, name))
		case def.Format == lake.FormatCSV && t != "VARCHAR":
			// LazySimpleSerDe reads a field it cannot parse as NULL.
			cols = append(cols, fmt.Sprintf("TRY_CAST(%s AS %s) AS %s", name, t, name))
		case def.Format == lake.FormatCSV && def.SerDe == lake.SerDeOpenCSV:
			// OpenCSVSerde has no NULL: an empty field is an empty string.
			cols = append(cols, fmt.Sprintf("coalesce(%s, '') AS %s", name, name))
		default:
			cols = append(cols, fmt.Sprintf("CAST(%s AS %s) AS %s", name, t, name))
		}
		jt := t
		if def.Format == lake.FormatCSV {
			jt = "VARCHAR"
		}
		jsonCols = append(jsonCols, fmt.Sprintf("%s: %s", sqlString(c.Name), sqlString(jt)))
	}
	for _, k := range def.PartitionKeys {
		cols = append(cols, quoteIdent(k.Name))
	}
	var src string
	switch def.Format {
	case lake.FormatParquet:
		src = fmt.Sprintf("read_parquet(%s, union_by_name = true, %s)", fileList(files), hive)
	case lake.FormatJSON:
		src = fmt.Sprintf("read_json(%s, format = 'newline_delimited', columns = {%s}, %s)", fileList(files), strings.Join(jsonCols, ", "), hive)
	case lake.FormatCSV:
		opts, err := csvOptions(def)
		if err != nil {
			return "", err
		}
		src = fmt.Sprintf("read_csv(%s, columns = {%s}, %s, auto_detect = false, null_padding = true, %s)", fileList(files), strings.Join(jsonCols, ", "), opts, hive)
	default:
		return "", fmt.Errorf("query: table %s: format %q (SerDe %s) is not readable offline: Parquet, JSON Lines or delimited text", def.Name, def.Format, def.SerDe)
	}
	return fmt.Sprintf("CREATE VIEW %s AS SELECT %s FROM %s", quoteIdent(strings.ToLower(def.Name)), strings.Join(cols, ", "), src), nil
}

// csvOptions returns read_csv's options for a text table's SerDe
// (lake.TableDef.Text): LazySimpleSerDe has no quoting and \N for NULL;
// OpenCSVSerde quotes and escapes. A header is skipped only when the table
// says so (skip.header.line.count).
func csvOptions(def *lake.TableDef) (string, error) {
	f, err := def.Text()
	if err != nil {
		return "", fmt.Errorf("query: %w", err)
	}
	// An empty quote or escape turns quoting off (LazySimpleSerDe has none).
	opts := fmt.Sprintf("delim = %s, quote = %s, escape = %s, header = false, skip = %d",
		sqlString(f.Delim), sqlString(f.Quote), sqlString(f.Escape), f.SkipHeader)
	// OpenCSVSerde has no NULL marker: the view turns DuckDB's NULL for an
	// empty field back into ''.
	if f.Null != "" {
		opts += ", nullstr = " + sqlString(f.Null)
	}
	return opts, nil
}

// tableHint lists the table's columns when DuckDB could not bind a name.
func tableHint(def *lake.TableDef) func(error) string {
	return func(err error) string {
		msg := err.Error()
		if strings.Contains(msg, "Table with name") {
			also := `"default".` + quoteIdent(def.Name)
			if def.Database != "" {
				also = def.Database + "." + def.Name + ", " + also
			}
			return fmt.Sprintf(" (the table here is %s, also reachable as %s)", def.Name, also)
		}
		if !strings.Contains(msg, "not found") && !strings.Contains(msg, "Binder Error") && !strings.Contains(msg, "does not exist") {
			return ""
		}
		var names []string
		for _, c := range def.Columns {
			names = append(names, c.Name)
		}
		for _, k := range def.PartitionKeys {
			names = append(names, k.Name)
		}
		table := def.Name
		if def.Database != "" {
			table = def.Database + "." + def.Name
		}
		return fmt.Sprintf(" (table %s has columns %s)", table, strings.Join(names, ", "))
	}
}
