//go:build cgo

package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const queryClicksDDL = `CREATE EXTERNAL TABLE web.clicks (user_id bigint, url string, ts timestamp)
PARTITIONED BY (dt string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION 's3://lake/web/clicks/'`

var queryClicksObjects = map[string]string{
	"web/clicks/dt=2024-01-05/part-0.json": `{"user_id": 1, "url": "https://a.example/x", "ts": "2024-01-05 10:15:30"}
{"user_id": 2, "url": "https://b.example/y", "ts": "2024-01-05 11:00:00"}
{"user_id": 1, "url": "https://a.example/z", "ts": "2024-01-05 23:59:59"}
`,
	"web/clicks/dt=2024-01-06/part-0.json": `{"user_id": 3, "url": "https://c.example/", "ts": "2024-01-06 00:00:01"}
`,
}

// TestQueryTable: query --table answers Athena-dialect SQL on a table it
// has never seen, from a folder mirroring the bucket and from S3 (the bucket
// taken from the table's LOCATION).
func TestQueryTable(t *testing.T) {
	dir := t.TempDir()
	for k, v := range queryClicksObjects {
		p := filepath.Join(dir, "bucket", filepath.FromSlash(k))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(v), 0o644))
	}
	table := filepath.Join(dir, "clicks.sql")
	require.NoError(t, os.WriteFile(table, []byte(queryClicksDDL), 0o644))
	const sql = `SELECT dt, count(*), approx_distinct(user_id), date_format(min(ts), '%H:%i') FROM "default"."clicks" GROUP BY dt ORDER BY dt`
	const want = "dt,_col1,_col2,_col3\n2024-01-05,3,2,10:15\n2024-01-06,1,1,00:00\n"

	out, _, msg, code := runCmdCtx(context.Background(), t, "query", sql, "--table", table, "--dir", filepath.Join(dir, "bucket"), "--format", "csv")
	require.Equal(t, exitOK, code, msg)
	assert.Equal(t, want, out)

	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("lake"))
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	for k, v := range queryClicksObjects {
		_, err := backend.PutObject("lake", k, nil, strings.NewReader(v), int64(len(v)), nil)
		require.NoError(t, err)
	}
	out, _, msg, code = runCmdCtx(context.Background(), t, "query", sql, "--table", table, "--s3-endpoint", srv.URL, "--format", "csv")
	require.Equal(t, exitOK, code, msg)
	assert.Equal(t, want, out)

	_, _, msg, code = runCmdCtx(context.Background(), t, "query", "SELECT url_extract_host(url) FROM clicks", "--table", table, "--dir", filepath.Join(dir, "bucket"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, msg, "url_extract_host is an Athena (Trino) function that DuckDB lacks")

	_, _, msg, code = runCmdCtx(context.Background(), t, "query", "SELECT 1", "--table", filepath.Join(dir, "missing.sql"), "--dir", dir)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, msg, "missing.sql")
}
