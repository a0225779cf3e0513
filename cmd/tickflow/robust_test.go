package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLakeCommandsOnBadInput: verify and query on lakes and paths nobody
// should hand them exit 1 (violations naming the object and rule) or 2
// (a clear error naming the path), never 0 with wrong data.
func TestLakeCommandsOnBadInput(t *testing.T) {
	const part = "stock_ticks/dt=2024-01-05/hour=10/"
	good, err := os.ReadFile(filepath.Join(fixtureLakes, "good-json", filepath.FromSlash(part), "stock-ticks+0+00000000000000000000.json"))
	require.NoError(t, err)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(good)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	truncated := gz.Bytes()[:gz.Len()/2]

	lakeWith := func(t *testing.T, objs map[string][]byte) string {
		dir := t.TempDir()
		for k, b := range objs {
			p := filepath.Join(dir, filepath.FromSlash(k))
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, b, 0o644))
		}
		return dir
	}
	file := filepath.Join(t.TempDir(), "lake.txt")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	onlyFolders := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(onlyFolders, part, "sub"), 0o755))
	gzKey := part + "stock-ticks+0+00000000000000000000.json.gz"
	truncLake := lakeWith(t, map[string][]byte{gzKey: truncated})
	bomKey := part + "stock-ticks+0+00000000000000000000.json"
	bomLake := lakeWith(t, map[string][]byte{bomKey: append([]byte("\xef\xbb\xbf"), good...)})

	// Many tiny objects: one record each, offsets 0..n-1 of partition 0.
	many := map[string][]byte{}
	lines := strings.SplitAfter(string(good), "\n")
	const n = 2000
	for i := range n {
		line := strings.Replace(lines[0], `"kafka_offset":0`, fmt.Sprintf(`"kafka_offset":%d`, i), 1)
		many[fmt.Sprintf("%sstock-ticks+0+%020d.json", part, i)] = []byte(line)
	}
	manyLake := lakeWith(t, many)

	count := "SELECT count(*) AS n FROM stock_ticks"
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"verify: --dir is a file", []string{"verify", "--dir", file}, 2, []string{file, "not a folder"}},
		{"query: --dir is a file", []string{"query", count, "--dir", file}, 2, []string{file}},
		{"verify: only folders", []string{"verify", "--dir", onlyFolders}, 2, []string{"no objects"}},
		{"query: only folders", []string{"query", count, "--dir", onlyFolders}, 2, []string{"no .parquet"}},
		{"verify: truncated json.gz", []string{"verify", "--dir", truncLake}, 1, []string{"L04", gzKey, "truncated"}},
		{"query: truncated json.gz", []string{"query", count, "--dir", truncLake}, 2, []string{gzKey, "truncated"}},
		{"verify: BOM", []string{"verify", "--dir", bomLake}, 1, []string{"L06", bomKey, "byte order mark"}},
		{"query: BOM", []string{"query", count, "--dir", bomLake}, 2, []string{bomKey}},
		{"verify: many tiny objects", []string{"verify", "--dir", manyLake, "--expect-records", fmt.Sprint(n)}, 0, []string{"OK"}},
		{"query: many tiny objects", []string{"query", count, "--dir", manyLake, "--format", "csv"}, 0, []string{fmt.Sprintf("n\n%d\n", n)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runLakeCmd(t, tc.args...)
			assert.Equal(t, tc.code, code, out)
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
		})
	}
}

// TestProduceBadCSV: a CSV that cannot be read is exit 2 naming the file
// before any broker is dialled (the broker address here is unreachable).
func TestProduceBadCSV(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	cases := []struct {
		name, path string
		want       []string
	}{
		{"missing file", filepath.Join(dir, "nope.csv"), []string{"nope.csv", "no such file"}},
		{"folder", dir, []string{filepath.Base(dir), "is a directory"}},
		{"empty file", write("empty.csv", ""), []string{"empty.csv:1", "empty"}},
		{"binary garbage", write("garbage.csv", "\x89PNG\r\n\x1a\n\x00\x00"), []string{"garbage.csv:1", "unexpected header"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runLakeCmd(t, "produce", "--brokers", "127.0.0.1:1", "--csv", tc.path)
			assert.Equal(t, exitUsage, code, out)
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
		})
	}
}
