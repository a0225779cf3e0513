package tick

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parquetRows returns n rows whose values are all non-zero and present;
// mutate them to reach the other layouts.
func parquetRows(n int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		r, err := RowFrom(Tick{Symbol: "HSI", TradeDate: "2010-01-11", Open: 1 + float64(i), High: 2, Low: 0.5, Close: 1.5, AdjClose: 1.5,
			Volume: 100 + int64(i), CloseUSD: 0.2}, time.UnixMilli(1700000000000+int64(i)), 1, int64(i))
		if err != nil {
			panic(err)
		}
		rows[i] = r
	}
	return rows
}

// TestParquetNullsAndZeros: whatever layout the encoder picks, the file has
// ParquetSchema, NULLs read back as NULL and zeros as 0, in every column.
func TestParquetNullsAndZeros(t *testing.T) {
	const n = 2*convertRows + 10 // more than one conversion batch
	cases := []struct {
		name   string
		plan   plan
		mutate func(i int, r *Row)
	}{
		{"dense: no zero, no NULL", plan{layout: dense, mask: AllValues}, func(int, *Row) {}},
		// NULLs mixed with values in every 64-row batch, in the pattern that
		// parquet-go's batch path for optional fields gets wrong.
		{"partial ticks row by row", plan{layout: sparse}, scatteredNulls},
		{"only what serve's examples send", plan{layout: dense, runs: true, mask: AllValues}, func(_ int, r *Row) {
			r.Null = AllValues &^ NullClose
			r.clearNulls()
		}},
		{"partial ticks in runs", plan{layout: dense, runs: true, mask: AllValues}, func(i int, r *Row) {
			switch i / 100 % 3 {
			case 1:
				r.Null = AllValues &^ NullClose
			case 2:
				r.Null = NullAdjClose | NullVolume
			}
			r.clearNulls()
		}},
		{"runs of NULLs, volume 0 anywhere", plan{layout: volume, runs: true, mask: AllValues &^ NullVolume}, func(i int, r *Row) {
			if i/150%2 == 1 {
				r.Null = NullOpen | NullHigh
				r.clearNulls()
			}
			if i%3 == 0 {
				r.Volume = 0
			}
		}},
		{"volume 0 and NULL volume", plan{layout: volume, mask: AllValues &^ NullVolume}, func(i int, r *Row) {
			switch i % 3 {
			case 0:
				r.Volume = 0
			case 1:
				r.Null |= NullVolume
				r.Volume = 0
			}
		}},
		{"partial ticks, zeros and -0", plan{layout: sparse}, func(i int, r *Row) {
			switch i % 5 {
			case 0: // what `tickflow serve`'s examples send: symbol, trade_date, close
				r.Null = AllValues &^ NullClose
				r.clearNulls()
			case 1:
				r.Open, r.Low, r.CloseUSD, r.Volume = 0, 0, 0, 0
			case 2:
				r.High = negZero()
				r.Null = NullAdjClose | NullVolume
				r.clearNulls()
			case 3:
				r.Null = AllValues
				r.clearNulls()
			}
		}},
		{"a zero price alone", plan{layout: sparse}, func(i int, r *Row) {
			if i == n-1 {
				r.AdjClose = 0
			}
		}},
		{"NULL with a value, built by hand", plan{layout: sparse}, func(i int, r *Row) {
			if i == 3 {
				r.Null = NullOpen // Open keeps its value: NULL wins
			}
		}},
		{"a NULL volume with a value, built by hand", plan{layout: volume, mask: AllValues &^ NullVolume}, func(i int, r *Row) {
			if i == 3 {
				r.Null = NullVolume
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows := parquetRows(n)
			for i := range rows {
				tc.mutate(i, &rows[i])
			}
			require.Equal(t, tc.plan, planOf([][]Row{rows}))
			enc := NewParquetEncoder()
			for range 2 { // the second file reuses the writer
				var buf bytes.Buffer
				// In uneven chunks, as the sink hands them over.
				require.NoError(t, enc.Encode(&buf, rows[:7], rows[7:convertRows+3], nil, rows[convertRows+3:]))
				f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
				require.NoError(t, err)
				assert.Equal(t, ParquetSchema.String(), f.Schema().String())
				back, err := ReadParquet(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
				require.NoError(t, err)
				require.Len(t, back, len(rows))
				for i := range rows {
					want := rows[i]
					want.clearNulls() // what a NULL reads back as
					require.Equal(t, want, back[i], "row %d", i)
					// Equal takes -0 for 0: compare the bits.
					require.Equal(t, math.Float64bits(rows[i].High), math.Float64bits(back[i].High), "row %d", i)
				}
			}
		})
	}
}

// scatteredNulls makes every fourth row a full tick and the others partial
// in three ways, a pattern in which parquet-go's batch path writes some
// NULLs as values (TestParquetGoBatchPathMixesNulls).
func scatteredNulls(i int, r *Row) {
	switch i % 4 {
	case 0: // what `tickflow serve`'s examples send: symbol, trade_date, close
		r.Null = AllValues &^ NullClose
	case 1:
		r.Null = AllValues
	case 2:
		r.Null = NullVolume | NullLow
	}
	r.clearNulls()
}

// TestParquetGoBatchPathMixesNulls is why the encoder writes NULLs through
// the batch path only in runs: written in one go, some NULLs of these rows
// come back as values. If this fails, parquet-go got it right, and plan's
// runs (and this test) can go.
func TestParquetGoBatchPathMixesNulls(t *testing.T) {
	// parquet-go cuts a Write into batches of 64 rows; in the last batch
	// here (7 rows) close is a value, a value, NULL, then three values and
	// a NULL, which it writes as 0.
	rows := parquetRows(8202)[8131:]
	for i := range rows {
		scatteredNulls(8131+i, &rows[i])
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[denseRow](&buf, ParquetSchema)
	_, err := w.Write(unsafe.Slice((*denseRow)(&rows[0]), len(rows)))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	back, err := ReadParquet(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	wrong := 0
	for i := range rows {
		if back[i].Null != rows[i].Null {
			wrong++
		}
	}
	assert.NotZero(t, wrong, "parquet-go's batch path now writes mixed NULLs right")
}

func negZero() float64 {
	z := 0.0
	return -z
}

// TestParquetSchemaColumns: ParquetSchema has Columns' names and physical
// types, the value columns OPTIONAL and the others REQUIRED.
func TestParquetSchemaColumns(t *testing.T) {
	fields := ParquetSchema.Fields()
	require.Len(t, fields, len(Columns))
	for i, c := range Columns {
		assert.Equal(t, c.Name, fields[i].Name())
		assert.Equal(t, NullOf(c.Name) != 0, fields[i].Optional(), "%s optional", c.Name)
		assert.True(t, fields[i].Optional() || fields[i].Required(), c.Name)
	}
	for _, l := range []any{denseRow{}, volumeRow{}, sparseRow{}} {
		// Every layout maps onto the same columns (names, types, repetition).
		s := parquet.SchemaOf(l)
		for i, f := range s.Fields() {
			assert.Equal(t, fields[i].Name(), f.Name())
			assert.Equal(t, fields[i].Type().String(), f.Type().String(), f.Name())
			assert.Equal(t, fields[i].Optional(), f.Optional(), f.Name())
		}
	}
}

// TestReadParquetRequiredColumns: files written with Row's own tags
// (REQUIRED value columns, as the sink wrote before NULLs) read back whole.
func TestReadParquetRequiredColumns(t *testing.T) {
	rows := parquetRows(5)
	rows[2].Volume, rows[3].Open = 0, 0
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[Row](&buf)
	_, err := w.Write(rows)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	back, err := ReadParquet(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	assert.Equal(t, rows, back)

	_, err = ReadParquet(bytes.NewReader(buf.Bytes()[:buf.Len()/2]), int64(buf.Len()/2))
	require.Error(t, err)
}

func TestNulls(t *testing.T) {
	assert.Equal(t, "", Nulls(0).String())
	assert.Equal(t, "open,volume", (NullOpen | NullVolume).String())
	assert.Equal(t, "open,high,low,close,adj_close,volume,close_usd", AllValues.String())
	for _, c := range Columns {
		assert.Equal(t, c.Type == "double" || c.Name == "volume", NullOf(c.Name) != 0, c.Name)
	}
	r, err := RowFrom(Tick{Symbol: "X", TradeDate: "2010-01-11", Open: 3, Volume: 9, Close: 2, Null: NullOpen | NullVolume}, time.Unix(0, 0), 0, 0)
	require.NoError(t, err)
	assert.Equal(t, Row{Symbol: "X", TradeDate: 14620, Close: 2, Null: NullOpen | NullVolume}, r, "RowFrom: NULL wins over a value")
}

func BenchmarkParquetEncode(b *testing.B) {
	for _, tc := range []struct {
		name   string
		mutate func(i int, r *Row)
	}{
		{"dense", func(int, *Row) {}},
		{"volume", func(i int, r *Row) { r.Volume = int64(i % 2) }},
		{"sparse", func(i int, r *Row) {
			if i%10 == 0 {
				r.Null = AllValues &^ NullClose
				r.clearNulls()
			}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			rows := parquetRows(10_000)
			for i := range rows {
				tc.mutate(i, &rows[i])
			}
			enc := NewParquetEncoder()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := enc.Encode(&buf, rows); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// Row.Null sits in padding: the sink holds up to FlushRecords rows per
// partition, so a NULL mask must not make every row bigger.
func TestRowNullTakesNoRoom(t *testing.T) {
	type withoutNull struct {
		Symbol                           string
		TradeDate                        int32
		Open, High, Low, Close, AdjClose float64
		Volume                           int64
		CloseUSD                         float64
		EventTime                        int64
		KafkaPartition                   int32
		KafkaOffset                      int64
	}
	assert.Equal(t, unsafe.Sizeof(withoutNull{}), unsafe.Sizeof(Row{}))
	assert.Equal(t, unsafe.Sizeof(Row{}), unsafe.Sizeof(denseRow{}), "denseRow mirrors Row")
}

// Lake Parquet files keep NULL and 0 apart.
func ExampleParquetEncoder() {
	r, _ := RowFrom(Tick{Symbol: "HSI", TradeDate: "2010-01-11", Close: 22411.5, Null: AllValues &^ NullClose}, time.UnixMilli(0), 0, 0)
	var buf bytes.Buffer
	_ = NewParquetEncoder().Encode(&buf, []Row{r})
	rows, _ := ReadParquet(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	fmt.Println(rows[0].Close, rows[0].Null)
	// Output:
	// 22411.5 open,high,low,adj_close,volume,close_usd
}
