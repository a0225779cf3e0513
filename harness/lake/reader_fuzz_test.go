package lake

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/objstore"
)

// FuzzObjectName feeds arbitrary keys under the table root to the name and
// folder parsers: they never panic, split the key losslessly, and agree with
// each other (a folder pair is a valid partition exactly when L01/L13/L16
// find nothing wrong with it).
func FuzzObjectName(f *testing.F) {
	for _, k := range []string{
		"dt=2024-01-05/hour=10/stock-ticks+0+00000000000000000000.parquet",
		"dt=2024-01-05/hour=10/stock-ticks+1+00000000000000000005.json.gz",
		"dt=2024-01-05/hour=-0/x+0+00000000000000000000.json",
		"dt=2024-01-05/hour=+1/x+0+00000000000000000000.json",
		"Dt=2024-01-05/hour=10/_SUCCESS",
		"dt=2024-01-05T10:00:00/hour=10/a.parquet",
		"partition=3/a.json",
		"2024/01/05/a.json",
		"a.parquet",
		"dt=2024-01-05/hour=10/",
		"dt=2024-01-05/hour=10/stock-ticks+0+00000000000000000000.PARQUET",
		"dt=2024-01-05/hour=1 0/é+0+00000000000000000000.json",
	} {
		f.Add(k, int64(10))
	}
	f.Fuzz(func(t *testing.T, rel string, size int64) {
		root := "stock_ticks/"
		fl := newFile(root, objstore.Object{Key: root + rel, Size: size})
		assert.Equal(t, rel, strings.Join(append(append([]string{}, fl.folders...), fl.name), "/"))
		assert.NotContains(t, fl.name, "/")
		if m := objectName.FindStringSubmatch(fl.name); m != nil {
			assert.NotEmpty(t, fl.format, "a deterministic name has a known format")
			assert.Len(t, m[3], 20)
		}
		if fl.marker == "" {
			assert.NotZero(t, size, "a zero-byte object is a marker")
		}
		if len(fl.folders) == 0 {
			return
		}
		rep := &Report{}
		def := StockTicks()
		proj, err := parseProjection(def)
		require.NoError(t, err)
		checkFolders(rep, folderKey(root, fl.folders), fl.folders, def, proj)
		start, ok := partitionTime(fl.folders)
		clean := len(rep.Violations) == 0
		reached := len(fl.folders) == 2
		for _, seg := range fl.folders {
			k, v, _ := parsePartition(seg)
			if pk, found := proj.key(k); !found || pk.reach(v) != "" {
				reached = false
			}
		}
		if ok {
			assert.True(t, clean, "partitionTime=%v but folder violations %v", ok, rep.Violations)
		}
		if clean && reached {
			assert.True(t, ok, "no folder violation and projected, but partitionTime fails")
		}
		if ok {
			assert.Equal(t, "dt="+start.Format("2006-01-02")+"/hour="+start.Format("15"), strings.Join(fl.folders, "/"))
		}
	})
}

// FuzzJSONLines feeds arbitrary bytes to the JSON Lines reader (plain and
// gzip): it never panics, never counts more rows than lines, keys every
// problem to the object, and never calls a file with no rows clean.
func FuzzJSONLines(f *testing.F) {
	for _, p := range []string{
		"../../testdata/lakes/good-json/stock_ticks/dt=2024-01-05/hour=10/stock-ticks+0+00000000000000000000.json",
		"../../testdata/lakes/bad-json-pretty/stock_ticks/dt=2024-01-06/hour=00/stock-ticks+0+00000000000000000010.json",
		"../../testdata/lakes/bad-json-array/stock_ticks/dt=2024-01-06/hour=00/stock-ticks+0+00000000000000000010.json",
	} {
		b, err := os.ReadFile(filepath.FromSlash(p))
		require.NoError(f, err)
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte("\ufeff{\"a\":1}\r\n{\"a\":2.5}\r\n"), false)
	f.Add([]byte("{\"kafka_offset\":null,\"kafka_partition\":\"0\",\"event_time\":1}\n\n"), false)
	f.Add([]byte("{} {}\n[]\n\xff\n"), false)
	f.Fuzz(func(t *testing.T, body []byte, gz bool) {
		ext := "json"
		if gz {
			ext = "json.gz"
			var buf bytes.Buffer
			w := gzip.NewWriter(&buf)
			_, err := w.Write(body)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			body = buf.Bytes()
		}
		key := "stock_ticks/dt=2024-01-05/hour=10/stock-ticks+0+00000000000000000000." + ext
		fl := newFile("stock_ticks/", objstore.Object{Key: key, Size: int64(len(body)) + 1})
		fl.analyse(body)
		require.Empty(t, fl.unreadable, "valid gzip of anything is readable")
		lines := int64(bytes.Count(body, []byte("\n")) + 1)
		if gz {
			lines = 1 << 62 // counted on the compressed bytes: no bound
		}
		assert.LessOrEqual(t, fl.rows, lines)
		assert.LessOrEqual(t, int64(len(fl.recs)), fl.rows)
		for _, v := range fl.problems {
			assert.Equal(t, key, v.Key)
			assert.NotEmpty(t, v.Rule)
		}
		if fl.rows == 0 {
			assert.NotEmpty(t, fl.problems, "a JSON file without rows is a problem")
		}
	})
}
