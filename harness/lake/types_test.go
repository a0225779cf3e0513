package lake

import (
	"strings"
	"testing"
)

// TestCompareTypes covers the type rules on shapes the fixtures do not
// write: decimals above precision 38, nanosecond and INT96 timestamps,
// map keys and missing struct fields.
func TestCompareTypes(t *testing.T) {
	leaf := func(kind, phys string) *fileType { return &fileType{h: &htype{kind: kind}, phys: phys} }
	ts := func(unit string) *fileType {
		phys := "INT64"
		if unit == "INT96" {
			phys = "INT96"
		}
		return &fileType{h: &htype{kind: "timestamp"}, phys: phys, unit: unit, utc: true}
	}
	dec := func(p, s int) *fileType {
		return &fileType{h: &htype{kind: "decimal", p: p, s: s}, phys: "FIXED_LEN_BYTE_ARRAY"}
	}
	mustType := func(s string) *htype {
		h, err := parseTypeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	cases := []struct {
		name, want string
		got        *fileType
		rule, msg  string // "" rule: compatible
	}{
		{"millis", "timestamp", ts("MILLIS"), "", ""},
		{"nanos", "timestamp", ts("NANOS"), "L11", "nanoseconds"},
		{"int96", "timestamp", ts("INT96"), "L11", "legacy INT96"},
		{"int64 timestamp", "timestamp", leaf("bigint", "INT64"), "L11", "without a TIMESTAMP annotation"},
		{"int into tinyint", "tinyint", leaf("int", "INT32"), "L11", "values wider than tinyint"},
		{"smallint into int", "int", leaf("smallint", "INT32"), "", ""},
		{"int into bigint", "bigint", leaf("int", "INT32"), "L11", "INT32 in parquet is incompatible with type bigint"},
		{"bigint into int", "int", leaf("bigint", "INT64"), "L11", "values wider than int"},
		{"decimal 40", "decimal(38,2)", dec(40, 2), "L17", "precision above 38"},
		{"decimal scale", "decimal(12,2)", dec(12, 4), "L17", "DECIMAL(12,4) in the file, the table declares decimal(12,2)"},
		{"decimal as double", "decimal(12,2)", leaf("double", "DOUBLE"), "L17", "not as a float"},
		{"date as string", "date", leaf("string", "BYTE_ARRAY"), "L11", "cannot be read as the declared type"},
		{"binary ok", "binary", leaf("binary", "BYTE_ARRAY"), "", ""},
		{"varchar", "varchar(10)", leaf("string", "BYTE_ARRAY"), "", ""},
		{"map key", "map<string,int>", &fileType{h: mustType("map<int,int>"), phys: "group", key: leaf("int", "INT32"), elem: leaf("int", "INT32")}, "L18", "column m.key is INT32"},
		{"struct field missing", "struct<a:int,b:string>", &fileType{h: mustType("struct<a:int>"), phys: "group", fields: []fileField{{"A", leaf("int", "INT32")}}}, "L18", "struct field m.b is declared but missing"},
		{"struct as list", "struct<a:int>", &fileType{h: mustType("array<int>"), phys: "group", elem: leaf("int", "INT32")}, "L18", "not a struct"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			issues := compareTypes("m", mustType(tc.want), tc.got, false)
			if tc.rule == "" {
				if len(issues) > 0 {
					t.Fatalf("want compatible, got %+v", issues)
				}
				return
			}
			if len(issues) != 1 || issues[0].rule != tc.rule || !strings.Contains(issues[0].msg, tc.msg) || issues[0].fix == "" {
				t.Fatalf("want one %s mentioning %q with a fix, got %+v", tc.rule, tc.msg, issues)
			}
		})
	}
}
