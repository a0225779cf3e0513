package sink

import (
	"context"
	"testing"
	"time"

	"github.com/goccy/go-json"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/produce"
)

// BenchmarkSink measures the sink end to end (consume, decode, encode
// Parquet, upload to gofakes3, commit) over b.N synthetic ticks produced
// beforehand; bytes are Kafka record values.
func BenchmarkSink(b *testing.B) {
	w := newWorld(b, 6)
	n := max(b.N, 1000)
	// Produce-time timestamps (one hour folder), as in production.
	p, err := produce.New(context.Background(), w.brokers, produce.KafkaOptions(fastKafka[:2]...))
	require.NoError(b, err)
	res, err := p.Produce(context.Background(), produce.Synthetic(n, 42))
	require.NoError(b, err)
	p.Close()
	produced := res.Produced
	tk, _ := produce.Synthetic(1, 42).Next()
	val, _ := json.Marshal(tk)
	b.SetBytes(int64(len(val)))
	b.ResetTimer()
	start := time.Now()
	s, err := New(context.Background(), w.brokers, w.store, KafkaOptions(fastKafka...), Group("bench"), FlushInterval(time.Second))
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	// Stop once everything is consumed: the shutdown flushes and commits
	// the rest, so the timing does not wait for FlushInterval.
	for s.Stats().Consumed < produced {
		time.Sleep(time.Millisecond) // a benchmark's wait loop, not test synchronisation
	}
	cancel()
	require.NoError(b, <-done)
	elapsed := time.Since(start)
	require.Equal(b, produced, s.Stats().Written)
	b.ReportMetric(float64(produced)/elapsed.Seconds(), "records/s")
}
