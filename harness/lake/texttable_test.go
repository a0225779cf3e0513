package lake_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/lake"
)

// TestAcceptText: delimited text tables parse only when asked for (tickflow
// query reads them; verify's Check cannot), with their delimiters as written.
func TestAcceptText(t *testing.T) {
	cases := []struct {
		name, src, serde string
		params           map[string]string
		text             lake.TextFormat
	}{
		{"delimited", "CREATE EXTERNAL TABLE t (a int, b string)\nROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' NULL DEFINED AS ''\nLOCATION 's3://b/t/'",
			lake.SerDeLazySimple, map[string]string{"field.delim": `\t`, "escape.delim": `\\`, "serialization.null.format": ""},
			lake.TextFormat{Delim: "\t", Escape: `\`}},
		{"lazy simple serde", "CREATE EXTERNAL TABLE t (a int) ROW FORMAT SERDE '" + lake.SerDeLazySimple + "' WITH SERDEPROPERTIES ('field.delim'='|') STORED AS TEXTFILE LOCATION 's3://b/t/'",
			lake.SerDeLazySimple, map[string]string{"field.delim": "|"}, lake.TextFormat{Delim: "|", Null: `\N`}},
		{"open csv", "CREATE EXTERNAL TABLE t (a string) ROW FORMAT SERDE '" + lake.SerDeOpenCSV + "' LOCATION 's3://b/t/'", lake.SerDeOpenCSV, map[string]string{},
			lake.TextFormat{OpenCSV: true, Delim: ",", Quote: `"`, Escape: `\`}},
		{"textfile", "CREATE EXTERNAL TABLE t (a string) STORED AS TEXTFILE LOCATION 's3://b/t/'", lake.SerDeLazySimple, map[string]string{},
			lake.TextFormat{Delim: "\x01", Null: `\N`}},
		{"glue", `{"Table": {"Name": "t", "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}], "Location": "s3://b/t/",
			"InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
			"SerdeInfo": {"SerializationLibrary": "` + lake.SerDeLazySimple + `", "Parameters": {"field.delim": ","}}}}}`, lake.SerDeLazySimple, map[string]string{"field.delim": ","},
			lake.TextFormat{Delim: ",", Null: `\N`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lake.ParseTable("t.sql", []byte(tc.src))
			require.Error(t, err, "without AcceptText a text table is refused")
			def, err := lake.ParseTable("t.sql", []byte(tc.src), lake.AcceptText())
			require.NoError(t, err)
			assert.Equal(t, lake.FormatCSV, def.Format)
			assert.Equal(t, tc.serde, def.SerDe)
			assert.Equal(t, tc.params, def.SerDeParameters)
			assert.Equal(t, "t/", def.LocationPath())
			text, err := def.Text()
			require.NoError(t, err)
			assert.Equal(t, tc.text, text)
		})
	}
}

func TestDuckDBType(t *testing.T) {
	for in, want := range map[string]string{
		"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "decimal(10,2)": "DECIMAL(10,2)", "varchar(5)": "VARCHAR",
		"array<struct<x:double,Y:string>>": `STRUCT("x" DOUBLE, "y" VARCHAR)[]`, "map<string,array<int>>": "MAP(VARCHAR, INTEGER[])",
		"timestamp": "TIMESTAMP", "binary": "BLOB", "float": "FLOAT",
	} {
		got, err := lake.DuckDBType(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := lake.DuckDBType("nosuch")
	assert.Error(t, err)
}

func TestTextFormatBadParameters(t *testing.T) {
	def, err := lake.ParseTable("t.sql", []byte("CREATE EXTERNAL TABLE t (a int) ROW FORMAT SERDE '"+lake.SerDeLazySimple+
		"' WITH SERDEPROPERTIES ('field.delim'='') STORED AS TEXTFILE LOCATION 's3://b/t/' TBLPROPERTIES ('skip.header.line.count'='x')"), lake.AcceptText())
	require.NoError(t, err)
	_, err = def.Text()
	require.ErrorContains(t, err, "table t: empty field delimiter")
	def.SerDeParameters["field.delim"] = ","
	_, err = def.Text()
	require.ErrorContains(t, err, `skip.header.line.count "x" is not a count`)
	def.Parameters["skip.header.line.count"] = "1"
	f, err := def.Text()
	require.NoError(t, err)
	assert.Equal(t, 1, f.SkipHeader)

	parquet := lake.StockTicks()
	_, err = parquet.Text()
	require.ErrorContains(t, err, "not delimited text")
}
