//go:build cgo

package query_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/lake/query"
)

const goodJSON = lakes + "/good-json/stock_ticks/dt=2024-01-05/hour=10/stock-ticks+0+00000000000000000000.json"
const goodParquet = lakes + "/good-parquet/stock_ticks/dt=2024-01-05/hour=10/stock-ticks+0+00000000000000000000.parquet"

// TestBadLakes: a lake query cannot read right is an error naming the
// object, never a silent "0 rows" or a DuckDB "no files found" riddle.
func TestBadLakes(t *testing.T) {
	const part = "stock_ticks/dt=2024-01-05/hour=10/"
	jsonBody, err := os.ReadFile(goodJSON)
	require.NoError(t, err)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(jsonBody)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	pq, err := os.ReadFile(goodParquet)
	require.NoError(t, err)

	cases := []struct {
		name  string
		build func(t *testing.T, dir string)
		want  []string // substrings of the error; nil: the query succeeds with rows
		rows  int64
	}{
		{name: "truncated json.gz", want: []string{"x+0+00000000000000000000.json.gz", "truncated"},
			build: func(t *testing.T, dir string) {
				put(t, dir, part+"x+0+00000000000000000000.json.gz", gz.Bytes()[:gz.Len()/2])
			}},
		{name: "json.gz that is not gzip", want: []string{"x+0+00000000000000000000.json.gz", "not a gzip"},
			build: func(t *testing.T, dir string) { put(t, dir, part+"x+0+00000000000000000000.json.gz", jsonBody) }},
		{name: "dangling symlink", want: []string{"x+0+00000000000000000000.parquet", "cannot read"},
			build: func(t *testing.T, dir string) {
				put(t, dir, part+"keep", nil)
				require.NoError(t, os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, part, "x+0+00000000000000000000.parquet")))
			}},
		{name: "symlink loop", want: []string{"loop.parquet", "cannot read"},
			build: func(t *testing.T, dir string) {
				put(t, dir, part+"keep", nil)
				require.NoError(t, os.Symlink("loop.parquet", filepath.Join(dir, part, "loop.parquet")))
			}},
		{name: "fifo", want: []string{"x+0+00000000000000000000.parquet", "not a regular file"},
			build: func(t *testing.T, dir string) {
				put(t, dir, part+"keep", nil)
				require.NoError(t, syscall.Mkfifo(filepath.Join(dir, part, "x+0+00000000000000000000.parquet"), 0o644))
			}},
		{name: "upper-case extension", want: []string{"x+0+00000000000000000000.PARQUET", "case-sensitive"},
			build: func(t *testing.T, dir string) { put(t, dir, part+"x+0+00000000000000000000.PARQUET", pq) }},
		{name: "only a root file", want: []string{"stock_ticks/x+0+00000000000000000000.parquet", "not in a dt="},
			build: func(t *testing.T, dir string) { put(t, dir, "stock_ticks/x+0+00000000000000000000.parquet", pq) }},
		{name: "only folders", want: []string{"no .parquet"},
			build: func(t *testing.T, dir string) {
				require.NoError(t, os.MkdirAll(filepath.Join(dir, part, "sub"), 0o755))
			}},
		{name: "csv named parquet", want: []string{"x+0+00000000000000000000.parquet"},
			build: func(t *testing.T, dir string) {
				put(t, dir, part+"x+0+00000000000000000000.parquet", []byte("Index,Date\nHSI,2010-01-04\n"))
			}},
		{name: "BOM json", want: []string{"x+0+00000000000000000000.json"},
			build: func(t *testing.T, dir string) {
				put(t, dir, part+"x+0+00000000000000000000.json", append([]byte("\xef\xbb\xbf"), jsonBody...))
			}},
		{name: "CRLF json reads every row", rows: 5,
			build: func(t *testing.T, dir string) {
				put(t, dir, part+"x+0+00000000000000000000.json", bytes.ReplaceAll(jsonBody, []byte("\n"), []byte("\r\n")))
			}},
		{name: "good json.gz reads every row", rows: 5,
			build: func(t *testing.T, dir string) { put(t, dir, part+"x+0+00000000000000000000.json.gz", gz.Bytes()) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.build(t, dir)
			res, err := query.Run(context.Background(), dir, "SELECT count(*) FROM stock_ticks")
			if tc.want == nil {
				require.NoError(t, err)
				require.Len(t, res.Rows, 1)
				assert.EqualValues(t, tc.rows, res.Rows[0][0])
				return
			}
			require.Error(t, err, "rows: %v", res)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestSymlinkedLake: a lake folder or stock_ticks folder reached through a
// symlink reads like the real one.
func TestSymlinkedLake(t *testing.T) {
	abs, err := filepath.Abs(lakes + "/good-parquet")
	require.NoError(t, err)
	linkedLake := filepath.Join(t.TempDir(), "lake")
	require.NoError(t, os.Symlink(abs, linkedLake))
	linkedTable := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(abs, "stock_ticks"), filepath.Join(linkedTable, "stock_ticks")))
	for _, dir := range []string{linkedLake, linkedTable} {
		res, err := query.Run(context.Background(), dir, "SELECT count(*) FROM stock_ticks")
		require.NoError(t, err, dir)
		require.Len(t, res.Rows, 1)
		assert.EqualValues(t, 25, res.Rows[0][0], dir)
	}
}

// TestUnknownColumn: a column the view does not have is an error naming it.
func TestUnknownColumn(t *testing.T) {
	for _, q := range []string{"SELECT nosuchcol FROM stock_ticks", "SELECT count(*) FROM stock_ticks WHERE Volumee > 3"} {
		_, err := query.Run(context.Background(), lakes+"/good-parquet", q)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not found")
		assert.Contains(t, err.Error(), "has columns symbol")
	}
}

func put(t *testing.T, dir, key string, body []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(key))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, body, 0o644))
}
