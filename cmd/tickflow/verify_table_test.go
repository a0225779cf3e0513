package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
)

// TestVerifyTableBuiltinAsDefinition: the built-in table given as a file in
// each of the three formats checks the good fixtures clean and the bad ones
// with the same data rules.
func TestVerifyTableBuiltinAsDefinition(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, args ...string) string {
		out, code := runLakeCmd(t, args...)
		require.Equal(t, 0, code, out)
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(out), 0o644))
		return p
	}
	defs := map[string]string{
		"ddl":         write("stock_ticks.sql", "ddl", "--location", "s3://any-bucket/", "--start-date", "2024-01-01"),
		"table input": write("stock_ticks.json", "ddl", "--location", "s3://any-bucket/", "--glue-json", "--start-date", "2024-01-01"),
		"json ddl":    write("stock_ticks_json.sql", "ddl", "--location", "s3://any-bucket/", "--format", "json", "--start-date", "2024-01-01"),
	}
	// aws glue get-table wraps the table as {"Table": {...}} with extra fields.
	getTable := filepath.Join(dir, "get-table.json")
	b, err := os.ReadFile(defs["table input"])
	require.NoError(t, err)
	body := string(b)
	body = `{"Table": {"CreateTime": "2024-01-01T00:00:00Z", "DatabaseName": "default", ` + body[len(`{
  "DatabaseName": "default",
  "TableInput": {`):]
	require.NoError(t, os.WriteFile(getTable, []byte(body), 0o644))
	defs["get-table"] = getTable

	for name, def := range defs {
		t.Run(name, func(t *testing.T) {
			lakeName := "good-parquet"
			if name == "json ddl" {
				lakeName = "good-json"
			}
			out, code := runLakeCmd(t, "verify", "--dir", filepath.Join(fixtureLakes, lakeName), "--table", def, "--expect-records", "25")
			assert.Equal(t, 0, code, out)
			assert.Contains(t, out, "table definition: "+def)
			out, code = runLakeCmd(t, "verify", "--dir", filepath.Join(fixtureLakes, "bad-gap"), "--table", def)
			if name == "json ddl" {
				assert.Equal(t, 1, code, out)
				assert.Contains(t, out, "L04") // Parquet files under a JSON table
				return
			}
			assert.Equal(t, 1, code, out)
			assert.Contains(t, out, "L12 deterministic-names")
		})
	}
}

func TestVerifyTableBadDefinitions(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, file, body, want string
	}{
		{"missing file", "nope.sql", "", "no such file"},
		{"bad type", "t.sql", "CREATE EXTERNAL TABLE t (\n  a int,\n  b strin\n) STORED AS PARQUET LOCATION 's3://b/t/'", `t.sql:3:5: unknown type "strin"`},
		{"csv table", "csv.sql", "CREATE EXTERNAL TABLE t (a int)\nROW FORMAT DELIMITED FIELDS TERMINATED BY ','\nLOCATION 's3://b/t/'", "csv.sql:2:12: ROW FORMAT DELIMITED"},
		{"no location", "noloc.sql", "CREATE EXTERNAL TABLE t (a int) STORED AS PARQUET", "noloc.sql:1:1: the table has no location; fix: add LOCATION"},
		{"key is a column", "dup.sql", "CREATE EXTERNAL TABLE t (a int, dt string) PARTITIONED BY (dt string) STORED AS PARQUET LOCATION 's3://b/t/'", "dup.sql:1:60: partition key \"dt\" is declared twice"},
		{"broken json", "t.json", "{\"Table\": {\"Name\": \"t\",\n \"StorageDescriptor\": {\"Columns\": [}}}", "t.json:2:35: invalid JSON"},
		{"bad glue type", "g.json", `{"Table": {"Name": "t", "StorageDescriptor": {"Location": "s3://b/t/", "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
 "Columns": [{"Name": "a", "Type": "array<int"}]}}}`, `g.json:2:46: column a: type "array<int": expected ">"`},
		{"unknown serde", "s.json", `{"TableInput": {"Name": "t", "StorageDescriptor": {"Location": "s3://b/t/", "Columns": [{"Name": "a", "Type": "int"}],
 "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"}}}}`, "unsupported format"},
		{"bad projection", "p.sql", "CREATE EXTERNAL TABLE t (a int) PARTITIONED BY (d string) STORED AS PARQUET LOCATION 's3://b/t/'\nTBLPROPERTIES ('projection.enabled'='true', 'projection.d.type'='date', 'projection.d.format'='yyyy-MM-dd', 'projection.d.range'='yesterday,NOW')",
			"p.sql:2:109: projection.d.range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.file)
			if tc.body != "" {
				require.NoError(t, os.WriteFile(p, []byte(tc.body), 0o644))
			}
			out, code := runLakeCmd(t, "verify", "--dir", filepath.Join(fixtureLakes, "good-parquet"), "--table", p)
			assert.Equal(t, 2, code, out)
			assert.Contains(t, out, tc.want)
			assert.Contains(t, out, p)
		})
	}
}

// TestVerifyTableFolderAndS3: for tables other than stock_ticks (clicks as
// Glue JSON, orders as DDL, sensor_readings as DDL), verify --table over a
// folder that mirrors the bucket and over the bucket itself report the same
// violations, and each bad fixture fails with its rule.
func TestVerifyTableFolderAndS3(t *testing.T) {
	cases := []struct {
		lake, table string
		code        int
		rule        string
	}{
		{"good-clicks", "clicks.glue.json", 0, ""},
		{"bad-clicks-renamed", "clicks.glue.json", 1, "L19"},
		{"bad-clicks-projection", "clicks.glue.json", 1, "L25"},
		{"good-orders", "orders.sql", 0, ""},
		{"bad-orders-decimal", "orders.sql", 1, "L17"},
		{"bad-orders-iso-time", "orders-hive.sql", 1, "L22"},
		{"good-orders-openx-lenient", "orders.sql", 0, ""},
		{"good-orders-hive", "orders-hive.sql", 0, ""},
		{"bad-orders-hive-quoted", "orders-hive.sql", 1, "L07"},
		{"good-sensors", "sensors.sql", 0, ""},
		{"bad-sensors-nested", "sensors.sql", 1, "L18"},
	}
	for _, tc := range cases {
		t.Run(tc.lake, func(t *testing.T) {
			dir := filepath.Join(fixtureLakes, tc.lake)
			def := filepath.Join(dir, tc.table)
			local, code := runLakeCmd(t, "verify", "--json", "--dir", dir, "--table", def)
			require.Equal(t, tc.code, code, local)
			url := serveFolderAsS3(t, dir, "mirror")
			remote, code := runLakeCmd(t, "verify", "--json", "--s3-endpoint", url, "--bucket", "mirror", "--access-key", "k", "--secret-key", "s", "--table", def)
			require.Equal(t, tc.code, code, remote)
			a, b := decodeViolations(t, local), decodeViolations(t, remote)
			assert.Equal(t, a, b)
			if tc.rule != "" {
				require.NotEmpty(t, a)
				for _, v := range a {
					assert.Equal(t, tc.rule, v.Rule, "%+v", v)
				}
			} else {
				assert.Empty(t, a)
			}
		})
	}
}

// TestVerifyTableCrawlerFlag: the clicks table (JSON, OpenX, dt
// only, no crawler) gets no crawler prediction and no C01, and its fixes
// name its own location; --crawler asks for the prediction.
func TestVerifyTableCrawlerFlag(t *testing.T) {
	dir := t.TempDir()
	def := filepath.Join(dir, "clicks.sql")
	require.NoError(t, os.WriteFile(def, []byte(`CREATE EXTERNAL TABLE clicks (user_id bigint, url string, clicked_at timestamp)
PARTITIONED BY (dt string) ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://web-lake/clicks/'`), 0o644))
	lakeDir := filepath.Join(dir, "lake")
	for p, body := range map[string]string{
		"clicks/dt=2024-03-01/a.json": `{"user_id":"9000000001","url":"/a","clicked_at":"2024-03-01T09:00:00Z"}` + "\n",
		"clicks/2024/03/02/b.json":    `{"user_id":2,"url":"/b","clicked_at":"2024-03-02 09:00:00"}` + "\n",
	} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(lakeDir, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(lakeDir, p), []byte(body), 0o644))
	}
	out, code := runLakeCmd(t, "verify", "--dir", lakeDir, "--table", def)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "L01 hive-partitions")
	assert.Contains(t, out, "fix: write objects under clicks/dt=VALUE/")
	assert.NotContains(t, out, "stock_ticks")
	assert.NotContains(t, out, "C01 crawler-one-table")
	assert.NotContains(t, out, "L07")
	assert.NotContains(t, out, "L22")
	assert.NotContains(t, out, "PREDICTED GLUE TABLES")
	out, code = runLakeCmd(t, "verify", "--dir", lakeDir, "--table", def, "--crawler")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "C01 crawler-one-table")
	assert.Contains(t, out, "PREDICTED GLUE TABLES")
}

type cliViolation struct{ Rule, Key, Message string }

func decodeViolations(t *testing.T, out string) []cliViolation {
	t.Helper()
	var rep struct{ Violations []cliViolation }
	dec := json.NewDecoder(strings.NewReader(out))
	require.NoError(t, dec.Decode(&rep), out)
	return rep.Violations
}

// serveFolderAsS3 uploads every file of dir into a fresh bucket of a fake
// S3 on loopback and returns its endpoint.
func serveFolderAsS3(t *testing.T, dir, bucket string) string {
	t.Helper()
	ctx := context.Background()
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket(bucket))
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: srv.URL, Bucket: bucket, AccessKey: "k", SecretKey: "s"})
	require.NoError(t, err)
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		return st.Put(ctx, filepath.ToSlash(rel), b, nil)
	}))
	return srv.URL
}

func TestVerifyInfer(t *testing.T) {
	out, code := runLakeCmd(t, "verify", "--infer", "--dir", filepath.Join(fixtureLakes, "good-orders"))
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "PREDICTED GLUE TABLES (1)")
	assert.Contains(t, out, "orders  (json")
	assert.Contains(t, out, "dt           string (partition key)")

	out, code = runLakeCmd(t, "verify", "--infer", "--json", "--dir", filepath.Join(fixtureLakes, "bad-mixed-formats"))
	require.Equal(t, 0, code, out)
	var tables []struct{ Name, Format string }
	require.NoError(t, json.Unmarshal([]byte(out), &tables), out)
	assert.Len(t, tables, 3)

	out, code = runLakeCmd(t, "verify", "--infer", "--dir", filepath.Join(fixtureLakes, "good-orders"), "--table", "x.sql")
	assert.Equal(t, 2, code, out)
	assert.Contains(t, out, "--infer")
	out, code = runLakeCmd(t, "verify", "--infer", "--dir", t.TempDir())
	assert.Equal(t, 2, code, out)
	assert.Contains(t, out, "no objects")
}

// TestVerifyHelpListsRules: verify --help names every rule it can report.
func TestVerifyHelpListsRules(t *testing.T) {
	out, code := runLakeCmd(t, "verify", "--help")
	require.Equal(t, 0, code, out)
	for _, r := range lake.Rules {
		assert.Contains(t, out, r.ID+" "+r.Name, "verify --help does not list %s", r.ID)
	}
}

// TestDDLStartFromLake: with the lake named (--dir or S3), ddl starts the
// date projection at the lake's first day, and verify --table with that DDL
// finds every folder reachable.
func TestDDLStartFromLake(t *testing.T) {
	lakeDir := filepath.Join(fixtureLakes, "good-parquet")
	out, code := runLakeCmd(t, "ddl", "--location", "s3://lake-bucket/", "--dir", lakeDir)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "'projection.dt.range'='2024-01-05,NOW'")

	url := serveFolderAsS3(t, lakeDir, "mirror")
	out, code = runLakeCmd(t, "ddl", "--location", "s3://lake-bucket/", "--glue-json", "--s3-endpoint", url, "--bucket", "mirror", "--access-key", "k", "--secret-key", "s")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, `"projection.dt.range": "2024-01-05,NOW"`)

	def := filepath.Join(t.TempDir(), "t.json")
	require.NoError(t, os.WriteFile(def, []byte(out), 0o644))
	out, code = runLakeCmd(t, "verify", "--dir", lakeDir, "--table", def, "--production")
	assert.Equal(t, 0, code, out)
	assert.NotContains(t, out, "L25")
	assert.NotContains(t, out, "L26")

	out, code = runLakeCmd(t, "ddl", "--location", "s3://lake-bucket/", "--dir", lakeDir, "--start-date", "2024-01-01")
	assert.Equal(t, 2, code, out)
	assert.Contains(t, out, "give one")
	out, code = runLakeCmd(t, "ddl", "--location", "s3://lake-bucket/", "--dir", filepath.Join(fixtureLakes, "bad-non-hive"))
	assert.Equal(t, 2, code, out)
	assert.Contains(t, out, "no dt=YYYY-MM-DD folder")
}
