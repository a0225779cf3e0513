package lake

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/objstore"
)

// FuzzParseTable feeds arbitrary bytes to the table definition parsers
// (Glue JSON and Athena DDL): no panic; an error is a DefinitionError with a
// position inside the input; a definition that parses has a name, columns
// and an s3:// location, its types print back to themselves, and checking a
// lake with it never panics.
func FuzzParseTable(f *testing.F) {
	for _, p := range []string{"good-clicks/clicks.glue.json", "good-orders/orders.sql", "good-sensors/sensors.sql",
		"bad-clicks-projection-empty/clicks.glue.json"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/lakes", p))
		require.NoError(f, err)
		f.Add(b)
	}
	for _, format := range []string{"parquet", "json"} {
		ddl, err := DDL("s3://lake-bucket/p/", DDLFormat(format))
		require.NoError(f, err)
		glue, err := GlueTableInput("s3://lake-bucket/p/", DDLFormat(format))
		require.NoError(f, err)
		f.Add([]byte(ddl))
		f.Add(glue)
	}
	f.Add([]byte("CREATE TABLE t (a struct<b:array<map<string,decimal(3,1)>>>) PARTITIONED BY (`k` int) STORED AS PARQUET LOCATION 's3://b/t/' TBLPROPERTIES ('projection.enabled'='true','projection.k.type'='integer','projection.k.range'='0,9')"))
	f.Add([]byte(`{"TableInput": {"Name": "t", "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "array<struct<x:int>>"}], "Location": "s3://b/t/", "SerdeInfo": {"SerializationLibrary": "org.apache.hive.hcatalog.data.JsonSerDe"}}}}`))
	st, err := objstore.NewDir("../../testdata/lakes/good-clicks")
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, src []byte) {
		def, err := ParseTable("fuzz.def", src)
		if err != nil {
			var de *DefinitionError
			require.True(t, errors.As(err, &de), "%T %v", err, err)
			assert.Equal(t, "fuzz.def", de.File)
			assert.GreaterOrEqual(t, de.Line, 1)
			assert.GreaterOrEqual(t, de.Col, 1)
			assert.LessOrEqual(t, de.Line, bytes.Count(src, []byte("\n"))+1)
			assert.NotEmpty(t, de.Msg)
			return
		}
		assert.NotEmpty(t, def.Name)
		assert.NotEmpty(t, def.Columns)
		assert.NotEmpty(t, def.Bucket())
		assert.Contains(t, []string{FormatParquet, FormatJSON}, def.Format)
		for _, c := range append(append([]Column(nil), def.Columns...), def.PartitionKeys...) {
			ht, err := parseTypeString(c.Type)
			require.NoError(t, err, "type %q of %s does not parse back", c.Type, c.Name)
			assert.Equal(t, c.Type, ht.String())
		}
		// Whatever the definition, reading a lake with it must not panic.
		_, _ = Check(context.Background(), st, "", WithTable(def), Concurrency(1))
	})
}
