package lake

import "testing"

// TestTypeStrings: Glue type strings parse to their canonical spelling
// (struct field names as a crawler writes them, dashes included), and
// malformed ones are errors.
func TestTypeStrings(t *testing.T) {
	for in, want := range map[string]string{
		"struct<user-agent:string,geo:struct<lat:double,lon:double>>": "struct<user-agent:string,geo:struct<lat:double,lon:double>>",
		"array<struct<a:int>>":      "array<struct<a:int>>",
		" decimal( 10 , 2 ) ":       "decimal(10,2)",
		"decimal":                   "decimal(10,0)",
		"map<string,array<bigint>>": "map<string,array<bigint>>",
		"INTEGER":                   "int",
		"varchar(65535)":            "varchar(65535)",
		"struct<`a b`:int>":         "struct<`a b`:int>",
	} {
		ht, err := parseTypeString(in)
		if err != nil || ht.String() != want {
			t.Errorf("%q: got %v, %v; want %s", in, ht, err, want)
			continue
		}
		again, err := parseTypeString(ht.String())
		if err != nil || again.String() != want {
			t.Errorf("%q does not parse back: %v %v", want, again, err)
		}
	}
	for _, bad := range []string{"", "int int", "array<", "struct<>", "decimal(0,1)", "decimal(5,6)", "map<struct<a:int>,int>", "money", "array<int>>", "struct<a:int,A:int>"} {
		if _, err := parseTypeString(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
