package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/goccy/go-json"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/produce"
	"github.com/tickflow/tickflow/harness/sink"
	"github.com/tickflow/tickflow/harness/tick"
)

// recordBytes is the mean key+value size of the first n synthetic ticks,
// encoded the way the producer encodes them.
func recordBytes(tb testing.TB, n int, seed uint64) int64 {
	tb.Helper()
	src := produce.Synthetic(n, seed)
	var total int64
	for {
		t, err := src.Next()
		if err == io.EOF {
			break
		}
		require.NoError(tb, err)
		b, err := json.Marshal(t)
		require.NoError(tb, err)
		total += int64(len(b) + len(t.Symbol))
	}
	return total / int64(n)
}

// startSinkProfile starts a CPU profile of the timed part only (go test's
// -cpuprofile also covers producing the input) when
// TICKFLOW_SINK_CPUPROFILE names a file.
func startSinkProfile(b *testing.B) (stop func()) {
	path := os.Getenv("TICKFLOW_SINK_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	require.NoError(b, err)
	require.NoError(b, pprof.StartCPUProfile(f))
	return func() {
		pprof.StopCPUProfile()
		require.NoError(b, f.Close())
	}
}

// BenchmarkSink is the full pipeline of one sink over b.N pre-produced
// records in the embedded world: consume, decode, encode, upload to the
// fake S3, commit. Producing is outside the timer. For a CPU profile:
//
//	TICKFLOW_SINK_CPUPROFILE=$PWD/cpu.out go test -run '^$' -bench 'Sink/parquet' -benchtime 1000000x -o bench.test ./harness/bench/
//	go tool pprof -top bench.test cpu.out                     # everything in the process
//	go tool pprof -top -tagfocus side=sink bench.test cpu.out # the sink's own goroutines
func BenchmarkSink(b *testing.B) {
	for _, f := range []sink.Format{sink.Parquet, sink.JSON} {
		b.Run(string(f), func(b *testing.B) {
			ctx := context.Background()
			cfg := defaults()
			cfg.format = f
			w, err := startWorld(ctx, &cfg)
			require.NoError(b, err)
			defer w.Close()
			topic := fmt.Sprintf("bench-sink-%d", b.N)
			require.NoError(b, w.createTopic(ctx, topic, cfg.partitions))
			_, err = w.produce(ctx, topic, b.N, 1)
			require.NoError(b, err)
			ends, err := w.endOffsets(ctx, topic)
			require.NoError(b, err)
			b.SetBytes(recordBytes(b, min(b.N, 10_000), 1))
			ph := &phaser{cfg: &cfg, w: w}
			group := fmt.Sprintf("bench-sink-%s-%d", f, time.Now().UnixNano())
			stopProfile := startSinkProfile(b)
			b.ResetTimer()
			var r Trial
			// Goroutines the sink starts inherit the label, so a profile
			// separates the sink's CPU (side=sink) from the embedded
			// brokers' and S3's that serve it in the same process.
			pprof.Do(ctx, pprof.Labels("side", "sink"), func(ctx context.Context) {
				r, err = runSinks(ctx, &cfg, w, w.store, topic, group, ends, ph.sinkOpts(topic, group, "bench/"+group))
			})
			b.StopTimer()
			stopProfile()
			require.NoError(b, err)
			// The sink's own clock (first record → last commit) excludes
			// the group join, which b.Elapsed includes.
			b.ReportMetric(float64(r.Records)/r.Seconds, "records/s")
		})
	}
}

// BenchmarkDecode is the sink's per-record decode (tick.Decode, then
// tick.RowFrom), the work of the decode phase.
func BenchmarkDecode(b *testing.B) {
	src := produce.Synthetic(1000, 1)
	var vals [][]byte
	var size int
	for range 1000 {
		t, err := src.Next()
		require.NoError(b, err)
		v, err := json.Marshal(t)
		require.NoError(b, err)
		vals = append(vals, v)
		size += len(v)
	}
	ts := time.Now()
	b.SetBytes(int64(size / len(vals)))
	b.ReportAllocs()
	i := 0
	var t tick.Tick
	for b.Loop() {
		if err := tick.Decode(vals[i%len(vals)], &t); err != nil {
			b.Fatal(err)
		}
		if _, err := tick.RowFrom(t, ts, 0, int64(i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
