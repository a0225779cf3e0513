package lake_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/lake"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(p, got, 0o644))
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err, "run go test ./harness/lake -run DDL -update")
	assert.Equal(t, string(want), string(got))
}

func TestDDLGolden(t *testing.T) {
	cases := []struct {
		name, location, format string
	}{
		{"ddl-parquet.sql", "s3://lake-bucket/prod/", "parquet"},
		{"ddl-json.sql", "s3://lake-bucket/prod", "json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ddl, err := lake.DDL(tc.location, lake.DDLFormat(tc.format), lake.StartDate("2024-01-01"))
			require.NoError(t, err)
			golden(t, tc.name, []byte(ddl))
			assert.Contains(t, ddl, "LOCATION 's3://lake-bucket/prod/stock_ticks/'")
			assert.Contains(t, ddl, "'storage.location.template'='s3://lake-bucket/prod/stock_ticks/dt=${dt}/hour=${hour}/'")
			assert.Contains(t, ddl, "'projection.dt.range'='2024-01-01,NOW'")
		})
	}
}

func TestGlueTableInputGolden(t *testing.T) {
	for _, format := range []string{"parquet", "json"} {
		t.Run(format, func(t *testing.T) {
			b, err := lake.GlueTableInput("s3://lake-bucket/prod/", lake.DDLFormat(format), lake.StartDate("2024-01-01"), lake.Database("ticks"))
			require.NoError(t, err)
			golden(t, "glue-"+format+".json", b)
			var in struct {
				DatabaseName string
				TableInput   struct {
					Name          string
					PartitionKeys []struct{ Name, Type string }
					Parameters    map[string]string
				}
			}
			require.NoError(t, json.Unmarshal(b, &in))
			assert.Equal(t, "ticks", in.DatabaseName)
			assert.Equal(t, "stock_ticks", in.TableInput.Name)
			assert.Equal(t, "true", in.TableInput.Parameters["projection.enabled"])
			require.Len(t, in.TableInput.PartitionKeys, 2)
			assert.Equal(t, "dt", in.TableInput.PartitionKeys[0].Name)
			assert.Equal(t, "string", in.TableInput.PartitionKeys[1].Type)
		})
	}
}

func TestDDLBadInput(t *testing.T) {
	cases := []struct {
		name     string
		location string
		opts     []lake.DDLOption
		want     string
	}{
		{"not s3", "/tmp/lake/", nil, "want s3://bucket/prefix/"},
		{"double slash", "s3://b//x/", nil, "contains //"},
		{"bad format", "s3://b/x/", []lake.DDLOption{lake.DDLFormat("csv")}, `format "csv"`},
		{"bad start date", "s3://b/x/", []lake.DDLOption{lake.StartDate("05/01/2024")}, "not YYYY-MM-DD"},
		{"quote", "s3://b/x'/", nil, "quote"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lake.DDL(tc.location, tc.opts...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			_, err = lake.GlueTableInput(tc.location, tc.opts...)
			assert.Error(t, err)
		})
	}
}

func ExampleDDL() {
	ddl, _ := lake.DDL("s3://my-bucket/lake/", lake.StartDate("2024-01-01"))
	os.Stdout.WriteString(ddl[:strings.Index(ddl, "(")] + "…\n")
	// Output: CREATE EXTERNAL TABLE IF NOT EXISTS `stock_ticks` …
}
