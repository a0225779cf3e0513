package produce

import (
	"bytes"
	"cmp"
	"context"
	"maps"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/goccy/go-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow"
	"github.com/tickflow/tickflow/harness/tick"
)

func newCluster(t testing.TB) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(6, tick.DefaultTopic))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func testOpts() Option {
	return KafkaOptions(kgo.MetadataMinAge(100*time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
}

func consumeAll(t *testing.T, brokers []string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(tick.DefaultTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(100*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "consumed %d of %d", len(out), want)
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func TestProduceSample(t *testing.T) {
	brokers := newCluster(t)
	ctx := context.Background()
	p, err := New(ctx, brokers, testOpts())
	require.NoError(t, err)
	defer p.Close()
	src, err := NewCSV(bytes.NewReader(tickflow.SampleCSV), "sample")
	require.NoError(t, err)
	res, err := p.Produce(ctx, src)
	require.NoError(t, err)
	want, _, err := ReadAll(bytes.NewReader(tickflow.SampleCSV), "sample")
	require.NoError(t, err)
	assert.Equal(t, int64(len(want)), res.Produced)
	assert.Equal(t, 1, res.Skipped)
	assert.Equal(t, res.Produced, p.Produced())

	recs := consumeAll(t, brokers, len(want))
	require.Len(t, recs, len(want))
	got := map[string]bool{}
	parts := map[int32]bool{}
	for _, r := range recs {
		var tk tick.Tick
		require.NoError(t, json.Unmarshal(r.Value, &tk))
		assert.Equal(t, tk.Symbol, string(r.Key))
		assert.False(t, r.Timestamp.IsZero())
		got[tk.TradeDate] = true
		parts[r.Partition] = true
	}
	assert.Len(t, got, len(want), "every trade date once")
	assert.Len(t, parts, 1, "one symbol → one partition")
}

func TestProduceSyntheticWithTimestamps(t *testing.T) {
	brokers := newCluster(t)
	ctx := context.Background()
	base := time.Date(2024, 1, 5, 10, 0, 0, 0, time.UTC)
	p, err := New(ctx, brokers, testOpts(), Topic(tick.DefaultTopic),
		RecordTimestamps(func(i int64, _ tick.Tick) time.Time { return base.Add(time.Duration(i) * time.Minute) }))
	require.NoError(t, err)
	defer p.Close()
	res, err := p.Produce(ctx, Synthetic(140, 1))
	require.NoError(t, err)
	assert.Equal(t, int64(140), res.Produced)
	assert.Zero(t, res.Skipped)
	recs := consumeAll(t, brokers, 140)
	parts := map[int32]bool{}
	for _, r := range recs {
		parts[r.Partition] = true
		assert.True(t, !r.Timestamp.Before(base) && r.Timestamp.Before(base.Add(140*time.Minute)))
	}
	assert.Greater(t, len(parts), 1, "14 symbols spread over partitions")
}

func TestProduceUnreachableBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	_, err = New(context.Background(), []string{addr}, PingTimeout(2*time.Second))
	require.Error(t, err)
	assert.Contains(t, err.Error(), addr)
	assert.Contains(t, err.Error(), "no Kafka broker reachable")
}

func TestProduceHonoursContext(t *testing.T) {
	brokers := newCluster(t)
	p, err := New(context.Background(), brokers, testOpts(), Rate(200))
	require.NoError(t, err)
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var res Result
	go func() {
		defer close(done)
		res, err = p.Produce(ctx, Synthetic(1_000_000, 1))
	}()
	require.Eventually(t, func() bool { return p.Produced() >= 5 }, 20*time.Second, 5*time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Produce did not return after cancel")
	}
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, res.Produced, int64(1_000_000))
	assert.GreaterOrEqual(t, res.Produced, int64(5))
}

func TestNoBrokers(t *testing.T) {
	_, err := New(context.Background(), nil)
	assert.ErrorContains(t, err, "no brokers")
}

func BenchmarkProduce(b *testing.B) {
	brokers := newCluster(b)
	ctx := context.Background()
	p, err := New(ctx, brokers, testOpts())
	require.NoError(b, err)
	defer p.Close()
	val, _ := json.Marshal(tick.Tick{Symbol: "HSI", TradeDate: "2010-01-04", Open: 21000.12, High: 21100.5, Low: 20900.25, Close: 21050.75, AdjClose: 21050.75, Volume: 1234567890, CloseUSD: 2736.6})
	b.SetBytes(int64(len(val)))
	b.ResetTimer()
	res, err := p.Produce(ctx, Synthetic(b.N, 1))
	require.NoError(b, err)
	require.Equal(b, int64(b.N), res.Produced)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// codecHook records the compression codec of every batch a consumer reads
// (Kafka's attribute value: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
// kgo calls it from each broker's fetch goroutine.
type codecHook struct {
	mu     sync.Mutex
	codecs map[int16]int
}

func (h *codecHook) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.codecs[int16(m.CompressionType)]++
}

// batchCodecs reads the default topic back and counts its batches by codec.
func batchCodecs(t *testing.T, brokers []string, records int) map[int16]int {
	t.Helper()
	h := &codecHook{codecs: map[int16]int{}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(tick.DefaultTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.WithHooks(h))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for n := 0; n < records; {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "read %d of %d records", n, records)
		n += fs.NumRecords()
	}
	cl.Close() // no hook runs after this
	return h.codecs
}

// The default codec is one every client reads (none); --compression picks
// another; an unknown name is refused before anything is sent.
func TestProduceCompression(t *testing.T) {
	for _, tc := range []struct {
		codec string // "" = the default
		want  int16  // Kafka's attribute value
	}{{"", 0}, {"gzip", 1}, {"snappy", 2}, {"zstd", 4}} {
		t.Run(cmp.Or(tc.codec, "default"), func(t *testing.T) {
			brokers := newCluster(t)
			opts := []Option{testOpts()}
			if tc.codec != "" {
				opts = append(opts, Compression(tc.codec))
			}
			p, err := New(context.Background(), brokers, opts...)
			require.NoError(t, err)
			defer p.Close()
			_, err = p.Produce(context.Background(), Synthetic(500, 1))
			require.NoError(t, err)
			got := batchCodecs(t, brokers, 500)
			require.NotEmpty(t, got)
			// kgo sends a batch uncompressed when compressing would not make
			// it smaller (a lone record): none is always allowed.
			assert.Greater(t, got[tc.want], 0, "codecs of the batches: %v", got)
			for codec := range maps.Keys(got) {
				assert.Contains(t, []int16{tc.want, 0}, codec, "codecs of the batches: %v", got)
			}
		})
	}
	_, err := New(context.Background(), []string{"127.0.0.1:1"}, Compression("brotli"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown compression "brotli"`)
}
