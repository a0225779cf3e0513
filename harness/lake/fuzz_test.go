package lake_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
)

// fuzzFolder is where FuzzCheckObject puts its one object.
const fuzzFolder = "stock_ticks/dt=2024-01-05/hour=10/"

// fuzzExts are the extensions FuzzCheckObject names its object with.
var fuzzExts = []string{"parquet", "json", "json.gz"}

// addLakeSeeds adds every data object of the fixture lakes as a seed, with
// its extension's index in fuzzExts.
func addLakeSeeds(f *testing.F) {
	f.Helper()
	n := 0
	err := filepath.WalkDir(lakesDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for i, ext := range fuzzExts {
			if strings.HasSuffix(p, "."+ext) && !(ext == "json" && strings.HasSuffix(p, ".json.gz")) {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				f.Add(uint8(i), b)
				n++
			}
		}
		return nil
	})
	require.NoError(f, err)
	require.NotZero(f, n, "no fixture objects under %s", lakesDir)
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// FuzzCheckObject runs Check over a Dir lake holding one arbitrary object
// under a valid partition folder. Check must never panic or fail to read a
// plain file; a clean report must mean every row can be read back; a dirty
// report must name the object.
func FuzzCheckObject(f *testing.F) {
	addLakeSeeds(f)
	f.Add(uint8(1), []byte("\xef\xbb\xbf{\"a\":1}\n"))
	f.Add(uint8(1), []byte("{\"symbol\":\"HSI\"}\r\n\r\n"))
	f.Add(uint8(0), []byte("PAR1PAR1PAR1"))
	f.Add(uint8(2), gzipped(f, []byte("[1,2]\n"))[:10])
	f.Fuzz(func(t *testing.T, ext uint8, body []byte) {
		dir := t.TempDir()
		key := fuzzFolder + "stock-ticks+0+00000000000000000000." + fuzzExts[int(ext)%len(fuzzExts)]
		p := filepath.Join(dir, filepath.FromSlash(key))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, body, 0o644))
		st, err := objstore.NewDir(dir)
		require.NoError(t, err)

		rep, err := lake.Check(context.Background(), st, "")
		require.NoError(t, err, "a readable object is never an IO error")
		assert.Equal(t, 1, rep.Objects)
		if rep.OK() {
			rows, err := lake.ReadRows(context.Background(), st, "")
			require.NoError(t, err, "Check said OK but the rows cannot be read")
			assert.EqualValues(t, rep.Rows, len(rows), "Check's row count differs from the rows read")
			assert.NotZero(t, rep.Rows, "a clean lake with one object holds rows")
			return
		}
		named := false
		for _, v := range rep.Errors() {
			assert.NotEmpty(t, v.Rule)
			assert.NotEmpty(t, v.Message)
			if v.Key == key || strings.Contains(v.Message, key) {
				named = true
			}
		}
		assert.True(t, named, "no violation names %s: %v", key, rep.Errors())
	})
}
