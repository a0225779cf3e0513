package sink

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/produce"
	"github.com/tickflow/tickflow/harness/tick"
)

func TestObjectKey(t *testing.T) {
	cases := []struct {
		prefix, want string
	}{
		{"", "stock_ticks/dt=2024-01-05/hour=10/stock-ticks+3+00000000000000000042.parquet"},
		{"lake", "lake/stock_ticks/dt=2024-01-05/hour=10/stock-ticks+3+00000000000000000042.parquet"},
		{"/a/b/", "a/b/stock_ticks/dt=2024-01-05/hour=10/stock-ticks+3+00000000000000000042.parquet"},
	}
	for _, tc := range cases {
		t.Run(tc.prefix, func(t *testing.T) {
			k := ObjectKey(tc.prefix, "dt=2024-01-05/hour=10", "stock-ticks", 3, 42, "parquet")
			assert.Equal(t, tc.want, k)
			topic, p, start, ok := ParseObjectName(k)
			require.True(t, ok)
			assert.Equal(t, "stock-ticks", topic)
			assert.Equal(t, int32(3), p)
			assert.Equal(t, int64(42), start)
		})
	}
	for _, bad := range []string{"x/_SUCCESS", "a/t+1+42.parquet", "a/t+x+00000000000000000042.json", "a/+1+00000000000000000042.json", "a/t+1+00000000000000000042.csv"} {
		_, _, _, ok := ParseObjectName(bad)
		assert.False(t, ok, bad)
	}
}

func sampleRows(n int) []tick.Row {
	rows := make([]tick.Row, n)
	for i := range rows {
		r, _ := tick.RowFrom(tick.Tick{Symbol: "HSI", TradeDate: "2010-01-04", Open: float64(i), High: float64(i) + 0.5,
			Close: 1.25, Volume: int64(i) * 1000, CloseUSD: 0.1}, base.Add(time.Duration(i)*time.Second), 2, int64(i))
		rows[i] = r
	}
	return rows
}

func TestEncodersRoundTrip(t *testing.T) {
	rows := sampleRows(1000)
	t.Run("parquet", func(t *testing.T) {
		for range 2 { // the second run reuses a pooled writer
			var buf bytes.Buffer
			require.NoError(t, EncodeParquet(&buf, rows))
			got, err := tick.ReadParquet(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			require.NoError(t, err)
			assert.Equal(t, rows, got)
			f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			require.NoError(t, err)
			for _, rg := range f.Metadata().RowGroups {
				for _, c := range rg.Columns {
					assert.Equal(t, "SNAPPY", c.MetaData.Codec.String())
				}
			}
		}
	})
	for _, gz := range []bool{false, true} {
		t.Run("json gzip="+strconv.FormatBool(gz), func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, EncodeJSON(&buf, rows, gz))
			b := buf.Bytes()
			if gz {
				zr, err := gzip.NewReader(bytes.NewReader(b))
				require.NoError(t, err)
				b, err = io.ReadAll(zr)
				require.NoError(t, err)
			}
			assert.Equal(t, rows, decodeJSONLines(t, b))
			assert.Equal(t, len(rows), bytes.Count(b, []byte("\n")))
		})
	}
}

// memStore is an in-memory Store with metadata, for reconciliation tests.
type memStore struct {
	objs map[string]objstore.Object
}

func (m *memStore) Put(_ context.Context, key string, _ []byte, meta map[string]string) error {
	m.objs[key] = objstore.Object{Key: key, Metadata: meta}
	return nil
}
func (m *memStore) PutIfAbsent(ctx context.Context, key string, body []byte, meta map[string]string) error {
	if _, ok := m.objs[key]; ok {
		return objstore.ErrPreconditionFailed
	}
	return m.Put(ctx, key, body, meta)
}
func (m *memStore) Get(ctx context.Context, key string) ([]byte, objstore.Object, error) {
	o, err := m.Head(ctx, key)
	return nil, o, err
}
func (m *memStore) Head(_ context.Context, key string) (objstore.Object, error) {
	o, ok := m.objs[key]
	if !ok {
		return o, objstore.ErrNotFound
	}
	return o, nil
}
func (m *memStore) List(_ context.Context, prefix string) ([]objstore.Object, error) {
	var out []objstore.Object
	for k, o := range m.objs {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			out = append(out, objstore.Object{Key: o.Key})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	// Quirky stores repeat keys across pages: the sink must dedupe.
	return append(out, out...), nil
}
func (m *memStore) Delete(_ context.Context, key string) error { delete(m.objs, key); return nil }
func (m *memStore) DeleteIfMatch(_ context.Context, key, etag string) error {
	if o, ok := m.objs[key]; ok && o.ETag != etag {
		return objstore.ErrPreconditionFailed
	}
	delete(m.objs, key)
	return nil
}
func (m *memStore) String() string { return "mem" }

func TestReconcile(t *testing.T) {
	type obj struct {
		part       int32
		start, end int64
		hour       string
	}
	cases := []struct {
		name        string
		objs        []obj
		committed   int64
		wantResume  int64
		wantDeleted []int64 // starts of deleted objects (partition 0)
	}{
		{"empty lake", nil, 0, 0, nil},
		{"all committed", []obj{{0, 0, 10, "10"}, {0, 10, 20, "10"}}, 20, 20, nil},
		{"crash between upload and commit: follow the chain", []obj{{0, 0, 10, "10"}, {0, 10, 20, "10"}, {0, 20, 35, "11"}}, 10, 35, nil},
		{"committed offset inside an object", []obj{{0, 0, 30, "10"}}, 12, 30, nil},
		{"zombie's different cut is off the chain", []obj{{0, 0, 10, "10"}, {0, 10, 20, "10"}, {0, 15, 30, "10"}, {0, 40, 50, "10"}}, 10, 20, []int64{15, 40}},
		{"same start in two hour folders: one survives", []obj{{0, 0, 10, "10"}, {0, 0, 10, "11"}}, 0, 10, []int64{0}},
		{"other partitions untouched", []obj{{1, 0, 10, "10"}, {1, 10, 20, "10"}}, 0, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ms := &memStore{objs: map[string]objstore.Object{}}
			for _, o := range tc.objs {
				k := ObjectKey("p", "dt=2024-01-05/hour="+o.hour, "stock-ticks", o.part, o.start, "parquet")
				require.NoError(t, ms.Put(context.Background(), k, nil, map[string]string{MetaEndOffset: strconv.FormatInt(o.end, 10)}))
			}
			s := &Sink{cfg: defaults(), store: ms}
			s.cfg.prefix = "p"
			objs, dupes, err := s.listPartitions(context.Background())
			require.NoError(t, err)
			pl, err := s.reconcile(context.Background(), objs[0], tc.committed)
			require.NoError(t, err)
			assert.Equal(t, tc.wantResume, pl.resume)
			var deleted []int64
			for _, o := range append(pl.orphans, dupes[0]...) {
				_, _, st, ok := ParseObjectName(o.key)
				require.True(t, ok)
				deleted = append(deleted, st)
			}
			assert.ElementsMatch(t, tc.wantDeleted, deleted)
		})
	}
	t.Run("object without metadata is an error naming it", func(t *testing.T) {
		ms := &memStore{objs: map[string]objstore.Object{}}
		k := ObjectKey("", "dt=2024-01-05/hour=10", "stock-ticks", 0, 0, "parquet")
		require.NoError(t, ms.Put(context.Background(), k, nil, nil))
		s := &Sink{cfg: defaults(), store: ms}
		objs, _, err := s.listPartitions(context.Background())
		require.NoError(t, err)
		_, err = s.reconcile(context.Background(), objs[0], 0)
		require.Error(t, err)
		assert.Contains(t, err.Error(), k)
		assert.Contains(t, err.Error(), MetaEndOffset)
	})
}

func BenchmarkEncodeParquet(b *testing.B) {
	rows := sampleRows(10_000)
	var buf bytes.Buffer
	require.NoError(b, EncodeParquet(&buf, rows))
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for b.Loop() {
		buf.Reset()
		if err := EncodeParquet(&buf, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkEncodeJSON(b *testing.B) {
	rows := sampleRows(10_000)
	var buf bytes.Buffer
	require.NoError(b, EncodeJSON(&buf, rows, false))
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for b.Loop() {
		buf.Reset()
		if err := EncodeJSON(&buf, rows, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}

// The sink encodes a segment from its row chunks: the object must be the
// one EncodeParquet/EncodeJSON make of the same rows in one slice.
func TestEncodeChunksMatchesOneSlice(t *testing.T) {
	rows := sampleRows(2*chunkRows + 17)
	chunks := [][]tick.Row{rows[:chunkRows], rows[chunkRows : 2*chunkRows], rows[2*chunkRows:], nil}
	for _, tc := range []struct {
		name string
		f    Format
		gz   bool
	}{{"parquet", Parquet, false}, {"json", JSON, false}, {"json.gz", JSON, true}} {
		t.Run(tc.name, func(t *testing.T) {
			var want, got bytes.Buffer
			if tc.f == Parquet {
				require.NoError(t, EncodeParquet(&want, rows))
			} else {
				require.NoError(t, EncodeJSON(&want, rows, tc.gz))
			}
			require.NoError(t, encodeChunks(&got, tc.f, tc.gz, chunks...))
			if tc.f == Parquet {
				back, err := tick.ReadParquet(bytes.NewReader(got.Bytes()), int64(got.Len()))
				require.NoError(t, err)
				assert.Equal(t, rows, back) // page cuts may differ: compare rows
				return
			}
			assert.Equal(t, want.Bytes(), got.Bytes())
		})
	}
}

// BenchmarkEncodeParquetData encodes 10,000 rows of realistic data with the
// sink's encoder (tick.ParquetEncoder, value columns OPTIONAL) and, for
// comparison in the same run, with a plain REQUIRED-column writer of
// tick.Row (what the sink wrote before NULLs): synthetic ticks (no 0, no
// NULL), the HSI sample (volume 0 in most rows) and synthetic ticks of
// which every tenth (partial) or every one (partial-only) carried only
// symbol, trade_date and close.
func BenchmarkEncodeParquetData(b *testing.B) {
	synthetic := func(partialEvery int) []tick.Row {
		src := produce.Synthetic(10_000, 1)
		var rows []tick.Row
		for i := 0; ; i++ {
			tk, err := src.Next()
			if err == io.EOF {
				return rows
			}
			require.NoError(b, err)
			if partialEvery > 0 && i%partialEvery == 0 {
				tk = tick.Tick{Symbol: tk.Symbol, TradeDate: tk.TradeDate, Close: tk.Close, Null: tick.AllValues &^ tick.NullClose}
			}
			r, err := tick.RowFrom(tk, base.Add(time.Duration(i)*time.Millisecond), 0, int64(i))
			require.NoError(b, err)
			rows = append(rows, r)
		}
	}
	ticks, _, err := produce.ReadAll(bytes.NewReader(sampleCSV(b)), "HSI")
	require.NoError(b, err)
	var hsi []tick.Row
	for len(hsi) < 10_000 {
		for _, tk := range ticks {
			r, err := tick.RowFrom(tk, base, 0, int64(len(hsi)))
			require.NoError(b, err)
			hsi = append(hsi, r)
		}
	}
	hsi = hsi[:10_000]
	required := parquet.NewGenericWriter[tick.Row](nil, parquet.Compression(&fastSnappy{}))
	for _, data := range []struct {
		name string
		rows []tick.Row
	}{{"synthetic", synthetic(0)}, {"hsi", hsi}, {"partial", synthetic(10)}, {"partial-only", synthetic(1)}} {
		for _, enc := range []struct {
			name   string
			encode func(*bytes.Buffer, []tick.Row) error
		}{
			{"sink", EncodeParquet},
			{"required", func(buf *bytes.Buffer, rows []tick.Row) error {
				required.Reset(buf)
				if _, err := required.Write(rows); err != nil {
					return err
				}
				return required.Close()
			}},
		} {
			b.Run(data.name+"/"+enc.name, func(b *testing.B) {
				var buf bytes.Buffer
				for b.Loop() {
					buf.Reset()
					if err := enc.encode(&buf, data.rows); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*len(data.rows))/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}
