package lake

import (
	"fmt"
	"strings"

	"github.com/tickflow/tickflow/harness/tick"
)

// checkDrift applies L19 to a table no crawler maintains: Athena reads
// Parquet and JSON by column name, so added, dropped and reordered columns
// are fine (A handling-schema-updates-chapter), but a renamed column silently reads as
// NULL in the files that carry the old name. A file that lacks a declared
// column other files have, while carrying an undeclared column of the same
// type, is such a rename. Type changes are L11/L07 (HIVE_BAD_DATA).
func checkDrift(rep *Report, files []*file, def *TableDef) {
	has := map[string]int{} // declared column → files that carry it
	var readable []*file
	for _, f := range files {
		if !f.readable() || f.jsonArray {
			continue
		}
		readable = append(readable, f)
		for _, c := range f.schema {
			if col, ok := def.column(c.Name); ok {
				has[strings.ToLower(col.Name)]++
			}
		}
	}
	// A declared column no file carries is NULL in every row.
	if len(readable) > 0 {
		for _, col := range def.Columns {
			if has[strings.ToLower(col.Name)] == 0 {
				rep.add(violation("L19", rep.Location, fmt.Sprintf("write %s, or drop it from the table definition", col.Name),
					"declared column %s is in none of the %s: Athena returns NULL for it in every row, with no error", col.Name, plural(len(readable), "data file", "")))
			}
		}
	}
	for _, f := range readable {
		present := map[string]bool{}
		var extra []tick.Column
		for _, c := range f.schema {
			if _, ok := def.column(c.Name); ok {
				present[strings.ToLower(c.Name)] = true
			} else if !def.isPartitionKey(c.Name) {
				extra = append(extra, c)
			}
		}
		if len(extra) == 0 {
			continue
		}
		for _, col := range def.Columns {
			name := strings.ToLower(col.Name)
			if present[name] || has[name] == 0 {
				continue
			}
			for _, e := range extra {
				if f.format == "json" || expectedKind(col, f.format) == e.Type {
					rep.add(violation("L19", f.key, fmt.Sprintf("write the column as %s (or rewrite these files); renaming a column is not a compatible change for Parquet or JSON", col.Name),
						"declared column %s is missing here but the file has the undeclared column %s (%s) and %s %s: a rename; Athena matches columns by name and returns NULL for %s in this file's %s, with no error",
						col.Name, e.Name, e.Type, plural(has[name], "other file has", "other files have"), col.Name, col.Name, plural(f.rows, "row", "")))
					break
				}
			}
		}
	}
}

// crawlerKind is the Glue type a crawler reports for a declared type read
// from Parquet.
func crawlerKind(t *htype) string {
	switch t.kind {
	case "char", "varchar":
		return "string"
	}
	return t.String()
}

func expectedKind(col Column, format string) string {
	d := &TableDef{Columns: []Column{col}}
	return expectedColumns(d, format)[0].Type
}
