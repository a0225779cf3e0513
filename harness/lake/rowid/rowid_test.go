package rowid

import (
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func parquetOf(t *testing.T) []byte {
	t.Helper()
	type row struct {
		Symbol string  `parquet:"symbol"`
		Volume int64   `parquet:"volume"`
		Close  float64 `parquet:"close"`
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf)
	_, err := w.Write([]row{{"HSI", 7, 1.5}, {"N225", 8, 2.5}})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func TestReadLakeRows(t *testing.T) {
	two := []Row{{Seq: 7, OK: true, Symbol: "HSI"}, {Seq: 8, OK: true, Symbol: "N225"}}
	lines := []byte("{\"symbol\":\"HSI\",\"volume\":7}\n{\"symbol\":\"N225\",\"volume\":8}\n")
	for _, tc := range []struct {
		name string
		body []byte
		want []Row
	}{
		{"one JSON document", []byte(`{"symbol":"HSI","trade_date":"2024-03-04","volume":7,"close":1.5}`), two[:1]},
		{"pretty JSON", []byte("{\n  \"symbol\": \"HSI\",\n  \"volume\": 7\n}\n"), two[:1]},
		{"JSON Lines", lines, two},
		{"JSON array", []byte(`[{"symbol":"HSI","volume":7},{"symbol":"N225","volume":8}]`), two},
		{"gzipped JSON Lines", gz(t, lines), two},
		{"quoted number, other case", []byte(`{"Symbol":"HSI","VOLUME":"7"}`), two[:1]},
		{"float volume", []byte(`{"symbol":"HSI","volume":7.0}`), two[:1]},
		{"wrapped value", []byte(`{"topic":"t","offset":3,"value":{"symbol":"HSI","volume":7}}`), two[:1]},
		{"value as a JSON string", []byte(`{"offset":3,"value":"{\"symbol\":\"HSI\",\"volume\":7}"}`), two[:1]},
		{"CSV with a header", []byte("symbol,trade_date,volume\nHSI,2024-03-04,7\nN225,2024-03-04,8\n"), two},
		{"Parquet", parquetOf(t), []Row{{Seq: 7, OK: true, Symbol: "HSI"}, {Seq: 8, OK: true, Symbol: "N225"}}},
		{"no volume", []byte(`{"symbol":"HSI"}`), []Row{{}}},
		{"empty object body", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(tc.body)
			require.NoError(t, err)
			for i := range got {
				if tc.name == "no volume" {
					got[i].Symbol = ""
				}
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestReadLakeRowsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		body       []byte
	}{
		{"CSV without a volume column", "no CSV header naming a volume column", []byte("a,b\n1,2\n")},
		{"truncated JSON", "JSON after 1 rows", []byte("{\"volume\":1}\n{\"volume\":")},
		{"corrupt gzip", "gzip", []byte{0x1f, 0x8b, 0, 0}},
		{"corrupt Parquet", "Parquet", []byte("PAR1 not really")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(tc.body)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestHidden(t *testing.T) {
	for key, want := range map[string]bool{
		"lake/a.json": false, "lake/_SUCCESS": true, "lake/.tmp/a.json": true, "lake/dt=1/_temporary/x": true,
		"lake/dt=1/a.json": false, "_lake/a.json": false, // above the prefix: not ours to judge
	} {
		prefix := "lake/"
		if key == "_lake/a.json" {
			prefix = "_lake/"
		}
		assert.Equal(t, want, Hidden(prefix, key), key)
	}
}
