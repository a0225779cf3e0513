package lake

import (
	"fmt"
	"strings"
)

// DuckDBType returns the DuckDB type that holds a Glue/Hive column type as
// Athena reads it: string → VARCHAR, bigint → BIGINT, decimal(10,2) →
// DECIMAL(10,2), array<T> → T[], map<K,V> → MAP(K, V), struct<a:T> →
// STRUCT("a" T). It does not link DuckDB; tickflow query uses it to define
// a table's view.
func DuckDBType(hiveType string) (string, error) {
	t, err := parseTypeString(hiveType)
	if err != nil {
		return "", fmt.Errorf("lake: type %q: %w", hiveType, err)
	}
	return t.duckDB(), nil
}

func (t *htype) duckDB() string {
	switch t.kind {
	case "string", "char", "varchar":
		return "VARCHAR"
	case "tinyint", "smallint", "bigint", "double", "boolean", "date", "timestamp":
		return strings.ToUpper(t.kind)
	case "int":
		return "INTEGER"
	case "float":
		return "FLOAT"
	case "binary":
		return "BLOB"
	case "decimal":
		return fmt.Sprintf("DECIMAL(%d,%d)", t.p, t.s)
	case "array":
		return t.elem.duckDB() + "[]"
	case "map":
		return "MAP(" + t.key.duckDB() + ", " + t.elem.duckDB() + ")"
	case "struct":
		parts := make([]string, len(t.fields))
		for i, f := range t.fields {
			parts[i] = `"` + strings.ReplaceAll(f.name, `"`, `""`) + `" ` + f.t.duckDB()
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")"
	}
	return "VARCHAR"
}
