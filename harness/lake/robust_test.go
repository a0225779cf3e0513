package lake_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

func parquetBytes[T any](t *testing.T, rows []T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf)
	_, err := w.Write(rows)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// robustRows is partition 0, offsets 0..n-1, inside 2024-01-05 10:00 UTC.
func robustRows(n int) []tick.Row {
	base := time.Date(2024, 1, 5, 10, 0, 0, 0, time.UTC)
	out := make([]tick.Row, n)
	for i := range out {
		out[i] = tick.Row{Symbol: "HSI", TradeDate: 14613, Open: 1, High: 2, Low: 0.5, Close: 1.5, AdjClose: 1.5, Volume: 100, CloseUSD: 0.2,
			EventTime: base.Add(time.Duration(i) * time.Second).UnixMilli(), KafkaOffset: int64(i)}
	}
	return out
}

type (
	withNested struct {
		tick.Row
		Tags []string `parquet:"tags,list"`
		Nest struct {
			A int64 `parquet:"a"`
		} `parquet:"nest"`
	}
	nullable struct {
		Symbol         *string `parquet:"symbol,optional"`
		TradeDate      int32   `parquet:"trade_date,date"`
		Open           float64 `parquet:"open"`
		High           float64 `parquet:"high"`
		Low            float64 `parquet:"low"`
		Close          float64 `parquet:"close"`
		AdjClose       float64 `parquet:"adj_close"`
		Volume         int64   `parquet:"volume"`
		CloseUSD       float64 `parquet:"close_usd"`
		EventTime      *int64  `parquet:"event_time,timestamp(millisecond),optional"`
		KafkaPartition int32   `parquet:"kafka_partition"`
		KafkaOffset    *int64  `parquet:"kafka_offset,optional"`
	}
	narrowTypes struct {
		Symbol         string  `parquet:"symbol"`
		TradeDate      string  `parquet:"trade_date"`
		Open           float64 `parquet:"open"`
		High           float64 `parquet:"high"`
		Low            float64 `parquet:"low"`
		Close          float64 `parquet:"close"`
		AdjClose       float64 `parquet:"adj_close"`
		Volume         int32   `parquet:"volume"`
		CloseUSD       float64 `parquet:"close_usd"`
		EventTime      int64   `parquet:"event_time,timestamp(millisecond)"`
		KafkaPartition int32   `parquet:"kafka_partition"`
		KafkaOffset    int64   `parquet:"kafka_offset"`
	}
	repeatedOffset struct {
		Symbol         string  `parquet:"symbol"`
		TradeDate      int32   `parquet:"trade_date,date"`
		Open           float64 `parquet:"open"`
		High           float64 `parquet:"high"`
		Low            float64 `parquet:"low"`
		Close          float64 `parquet:"close"`
		AdjClose       float64 `parquet:"adj_close"`
		Volume         int64   `parquet:"volume"`
		CloseUSD       float64 `parquet:"close_usd"`
		EventTime      int64   `parquet:"event_time,timestamp(millisecond)"`
		KafkaPartition int32   `parquet:"kafka_partition"`
		KafkaOffset    []int64 `parquet:"kafka_offset,list"`
	}
)

func toNullable(rs []tick.Row) []nullable {
	out := make([]nullable, len(rs))
	for i, r := range rs {
		s, ev, off := r.Symbol, r.EventTime, r.KafkaOffset
		out[i] = nullable{Symbol: &s, TradeDate: r.TradeDate, Open: r.Open, High: r.High, Low: r.Low, Close: r.Close, AdjClose: r.AdjClose,
			Volume: r.Volume, CloseUSD: r.CloseUSD, EventTime: &ev, KafkaPartition: r.KafkaPartition, KafkaOffset: &off}
	}
	return out
}

// TestCheckRobust: lakes nobody writes on purpose. Each bad one fails with
// the named rules and a violation that names the object; the good-but-odd
// ones are clean.
func TestCheckRobust(t *testing.T) {
	const part = "stock_ticks/dt=2024-01-05/hour=10/"
	const pqKey = part + "stock-ticks+0+00000000000000000000.parquet"
	const jsKey = part + "stock-ticks+0+00000000000000000000.json"
	rows := robustRows(5)
	good, err := os.ReadFile(filepath.Join(lakesDir, "good-json", filepath.FromSlash(part), "stock-ticks+0+00000000000000000000.json"))
	require.NoError(t, err)
	huge := strings.Replace(strings.SplitAfter(string(good), "\n")[0], `"HSI"`, `"`+strings.Repeat("H", 2<<20)+`"`, 1)

	withNulls := toNullable(rows)
	withNulls[2].KafkaOffset = nil
	withNulls[3].EventTime = nil
	withNulls[4].Symbol = nil
	var nested []withNested
	var narrow []narrowTypes
	var repeated []repeatedOffset
	for _, r := range rows {
		nested = append(nested, withNested{Row: r, Tags: []string{"a"}})
		narrow = append(narrow, narrowTypes{r.Symbol, "2010-01-04", r.Open, r.High, r.Low, r.Close, r.AdjClose, int32(r.Volume), r.CloseUSD, r.EventTime, r.KafkaPartition, r.KafkaOffset})
		repeated = append(repeated, repeatedOffset{r.Symbol, r.TradeDate, r.Open, r.High, r.Low, r.Close, r.AdjClose, r.Volume, r.CloseUSD, r.EventTime, r.KafkaPartition, []int64{r.KafkaOffset}})
	}

	cases := []struct {
		name    string
		objs    map[string][]byte
		rules   []string // rules that must be reported; nil: clean
		named   string   // key some violation must name (Key or Message)
		notRule string   // a rule that must not be reported (misdiagnosis)
	}{
		{name: "parquet with optional columns, no nulls", objs: map[string][]byte{pqKey: parquetBytes(t, toNullable(rows))}},
		{name: "CRLF JSON lines", objs: map[string][]byte{jsKey: bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n"))}},
		{name: "nulls in kafka_offset and event_time", objs: map[string][]byte{pqKey: parquetBytes(t, withNulls)},
			rules: []string{"L10", "L12"}, named: pqKey},
		{name: "extra nested and repeated columns", objs: map[string][]byte{pqKey: parquetBytes(t, nested)}, rules: []string{"C01"}, named: pqKey},
		{name: "int32 volume, string trade_date", objs: map[string][]byte{pqKey: parquetBytes(t, narrow)}, rules: []string{"C01", "L11"}, named: pqKey},
		{name: "repeated kafka_offset", objs: map[string][]byte{pqKey: parquetBytes(t, repeated)}, rules: []string{"C01", "L11"}, named: pqKey},
		{name: "parquet with zero rows", objs: map[string][]byte{pqKey: parquetBytes(t, []tick.Row{})}, rules: []string{"L12"}, named: pqKey},
		{name: "CSV named .parquet", objs: map[string][]byte{pqKey: []byte("Index,Date,Open\nHSI,2010-01-04,1\n")}, rules: []string{"L04"}, named: pqKey},
		{name: "JSON named .parquet", objs: map[string][]byte{pqKey: good}, rules: []string{"L04"}, named: pqKey},
		{name: "truncated json.gz", objs: map[string][]byte{jsKey + ".gz": gzipped(t, good)[:40]}, rules: []string{"L04"}, named: jsKey + ".gz"},
		{name: "BOM", objs: map[string][]byte{jsKey: append([]byte("\xef\xbb\xbf"), good...)}, rules: []string{"L06"}, named: jsKey},
		{name: "first line longer than the crawler's sample", objs: map[string][]byte{jsKey: []byte(huge)}, rules: []string{"C01"}, named: jsKey},
		{name: "upper-case .PARQUET", objs: map[string][]byte{part + "stock-ticks+0+00000000000000000000.PARQUET": parquetBytes(t, rows)},
			rules: []string{"L04", "L12"}, named: part + "stock-ticks+0+00000000000000000000.PARQUET"},
		{name: "hour=-0", objs: map[string][]byte{"stock_ticks/dt=2024-01-05/hour=-0/stock-ticks+0+00000000000000000000.parquet": parquetBytes(t, rows)},
			rules: []string{"L01"}, named: "stock_ticks/dt=2024-01-05/hour=-0/"},
		{name: "spaces and unicode in folder names", objs: map[string][]byte{"stock_ticks/dt=2024-01-05é/hour=1 0/stock-ticks+0+00000000000000000000.parquet": parquetBytes(t, rows)},
			rules: []string{"L01", "L16"}, named: "stock_ticks/dt=2024-01-05é/hour=1 0/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for k, b := range tc.objs {
				p := filepath.Join(dir, filepath.FromSlash(k))
				require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
				require.NoError(t, os.WriteFile(p, b, 0o644))
			}
			st, err := objstore.NewDir(dir)
			require.NoError(t, err)
			rep, err := lake.Check(context.Background(), st, "")
			require.NoError(t, err)
			if tc.rules == nil {
				assert.True(t, rep.OK(), "violations: %v", rep.Errors())
				assert.EqualValues(t, 5, rep.Rows)
				return
			}
			require.False(t, rep.OK())
			for _, r := range tc.rules {
				assert.Contains(t, rep.Rules(), r, "violations: %v", rep.Errors())
			}
			named := false
			for _, v := range rep.Errors() {
				named = named || v.Key == tc.named || strings.Contains(v.Message, tc.named)
			}
			assert.True(t, named, "no violation names %s: %v", tc.named, rep.Errors())
		})
	}
}

// TestCheckNullOffsetsNoFalseDuplicate: a null kafka_offset is reported as
// such, not counted as offset 0 (which made up a duplicate and a gap).
func TestCheckNullOffsetsNoFalseDuplicate(t *testing.T) {
	rows := toNullable(robustRows(5))
	rows[4].KafkaOffset = nil
	dir := t.TempDir()
	p := filepath.Join(dir, "stock_ticks", "dt=2024-01-05", "hour=10", "stock-ticks+0+00000000000000000000.parquet")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, parquetBytes(t, rows), 0o644))
	st, err := objstore.NewDir(dir)
	require.NoError(t, err)
	rep, err := lake.Check(context.Background(), st, "")
	require.NoError(t, err)
	require.Len(t, rep.Partitions, 1)
	assert.Zero(t, rep.Partitions[0].Duplicates)
	assert.Empty(t, rep.Partitions[0].Gaps)
	var msgs []string
	for _, v := range rep.Errors() {
		msgs = append(msgs, v.Message)
	}
	assert.Contains(t, strings.Join(msgs, "\n"), "1 row with a null kafka_partition or kafka_offset")
}

// TestCheckUnreadableObjects: objects the store lists but cannot read are an
// IO error naming the object (exit 2 in the CLI), or — a FIFO, which has no
// size — a zero-byte marker (L03); never a hang or a clean report.
func TestCheckUnreadableObjects(t *testing.T) {
	const part = "stock_ticks/dt=2024-01-05/hour=10/"
	cases := []struct {
		name   string
		build  func(t *testing.T, folder string)
		errHas string // Check's error contains this; "": Check reports L03 instead
	}{
		{"dangling symlink", func(t *testing.T, folder string) {
			require.NoError(t, os.Symlink("/nonexistent", filepath.Join(folder, "stock-ticks+0+00000000000000000000.parquet")))
		}, "stock-ticks+0+00000000000000000000.parquet"},
		{"symlink loop", func(t *testing.T, folder string) {
			require.NoError(t, os.Symlink("b.parquet", filepath.Join(folder, "a.parquet")))
			require.NoError(t, os.Symlink("a.parquet", filepath.Join(folder, "b.parquet")))
		}, "a.parquet"},
		{"symlink to a folder", func(t *testing.T, folder string) {
			require.NoError(t, os.Symlink("..", filepath.Join(folder, "up.parquet")))
		}, "up.parquet"},
		{"fifo", func(t *testing.T, folder string) {
			require.NoError(t, syscall.Mkfifo(filepath.Join(folder, "stock-ticks+0+00000000000000000000.parquet"), 0o644))
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			folder := filepath.Join(dir, filepath.FromSlash(part))
			require.NoError(t, os.MkdirAll(folder, 0o755))
			tc.build(t, folder)
			st, err := objstore.NewDir(dir)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := lake.Check(ctx, st, "")
			if tc.errHas != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.errHas)
				return
			}
			require.NoError(t, err)
			assert.Contains(t, rep.Rules(), "L03")
		})
	}
}

// BenchmarkCheckManySmallObjects measures Check over a lake of 2000
// one-row JSON objects (the shape a too-eager flush produces).
func BenchmarkCheckManySmallObjects(b *testing.B) {
	const n = 2000
	dir := b.TempDir()
	folder := filepath.Join(dir, "stock_ticks", "dt=2024-01-05", "hour=10")
	require.NoError(b, os.MkdirAll(folder, 0o755))
	base := time.Date(2024, 1, 5, 10, 0, 0, 0, time.UTC)
	var total int64
	for i := range n {
		line := fmt.Sprintf(`{"symbol":"HSI","trade_date":"2010-01-04","open":1.0,"high":2.0,"low":0.5,"close":1.5,"adj_close":1.5,"volume":100,"close_usd":0.2,"event_time":%q,"kafka_partition":0,"kafka_offset":%d}`+"\n",
			base.Add(time.Duration(i)*time.Second).Format(lake.EventTimeLayout), i)
		total += int64(len(line))
		require.NoError(b, os.WriteFile(filepath.Join(folder, fmt.Sprintf("stock-ticks+0+%020d.json", i)), []byte(line), 0o644))
	}
	st, err := objstore.NewDir(dir)
	require.NoError(b, err)
	b.SetBytes(total)
	b.ResetTimer()
	for b.Loop() {
		rep, err := lake.Check(context.Background(), st, "", lake.ExpectRecords(n))
		require.NoError(b, err)
		require.True(b, rep.OK(), "%v", rep.Errors())
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}
