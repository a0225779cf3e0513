package sink

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/produce"
	"github.com/tickflow/tickflow/harness/tick"
)

// world is a kfake cluster plus a gofakes3 bucket, for sink tests.
type world struct {
	brokers []string
	store   objstore.Store
	cluster *kfake.Cluster
}

func newWorld(t testing.TB, partitions int32) *world {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(partitions, tick.DefaultTopic),
		kfake.SeedTopics(1, tick.DefaultTopic+".dlq"), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("lake"))
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	st, err := objstore.NewS3(context.Background(), objstore.S3Config{Endpoint: srv.URL, Bucket: "lake", AccessKey: "k", SecretKey: "s", MaxAttempts: 1})
	require.NoError(t, err)
	return &world{brokers: c.ListenAddrs(), store: st, cluster: c}
}

var fastKafka = []kgo.Opt{
	kgo.MetadataMinAge(100 * time.Millisecond),
	kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }),
	kgo.HeartbeatInterval(100 * time.Millisecond),
	kgo.SessionTimeout(3 * time.Second),
	kgo.RebalanceTimeout(3 * time.Second),
}

// base is the timestamp of the first test record; records are spread one
// minute apart so hour folders change.
var base = time.Date(2024, 1, 5, 9, 30, 0, 0, time.UTC)

// produceTicks produces the HSI sample (one partition) and n synthetic
// ticks (14 symbols); it returns how many records were produced.
func produceTicks(t testing.TB, w *world, sample bool, n int) int64 {
	t.Helper()
	ctx := context.Background()
	var i0 int64
	ts := produce.RecordTimestamps(func(i int64, _ tick.Tick) time.Time {
		return base.Add(time.Duration(i0+i) * time.Minute)
	})
	p, err := produce.New(ctx, w.brokers, produce.KafkaOptions(fastKafka[:2]...), ts)
	require.NoError(t, err)
	defer p.Close()
	var total int64
	if sample {
		src, err := produce.NewCSV(bytes.NewReader(sampleCSV(t)), "sample")
		require.NoError(t, err)
		res, err := p.Produce(ctx, src)
		require.NoError(t, err)
		total += res.Produced
		i0 = total
	}
	if n > 0 {
		res, err := p.Produce(ctx, produce.Synthetic(n, 42))
		require.NoError(t, err)
		total += res.Produced
	}
	return total
}

// runSink starts a sink in the background; the returned func cancels it
// and returns Run's error.
func runSink(t testing.TB, w *world, opts ...Option) (*Sink, func() error) {
	t.Helper()
	s, err := New(context.Background(), w.brokers, w.store, append([]Option{KafkaOptions(fastKafka...), FlushInterval(200 * time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(60 * time.Second):
				runErr = errors.New("sink did not stop within 60s")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return s, stop
}

// lakeObj is one object read back independently of the sink.
type lakeObj struct {
	key          string
	partition    int32
	start, end   int64
	records, dlq int
	rows         []tick.Row
}

func readLake(t testing.TB, st objstore.Store) []lakeObj {
	t.Helper()
	ctx := context.Background()
	objs, err := st.List(ctx, tick.Table+"/")
	require.NoError(t, err)
	var out []lakeObj
	for _, o := range objs {
		body, full, err := st.Get(ctx, o.Key)
		require.NoError(t, err)
		lo := lakeObj{key: o.Key}
		var ok bool
		_, lo.partition, lo.start, ok = ParseObjectName(o.Key)
		require.True(t, ok, o.Key)
		m := full.Metadata
		lo.end, _ = strconv.ParseInt(m[MetaEndOffset], 10, 64)
		lo.records, _ = strconv.Atoi(m[MetaRecords])
		lo.dlq, _ = strconv.Atoi(m[MetaDLQ])
		assert.Equal(t, strconv.FormatInt(lo.start, 10), m[MetaStartOffset], o.Key)
		switch {
		case strings.HasSuffix(o.Key, ".parquet"):
			lo.rows, err = tick.ReadParquet(bytes.NewReader(body), int64(len(body)))
			require.NoError(t, err, o.Key)
		case strings.HasSuffix(o.Key, ".json.gz"):
			zr, err := gzip.NewReader(bytes.NewReader(body))
			require.NoError(t, err)
			plain, err := io.ReadAll(zr)
			require.NoError(t, err)
			lo.rows = decodeJSONLines(t, plain)
		case strings.HasSuffix(o.Key, ".json"):
			lo.rows = decodeJSONLines(t, body)
		}
		for _, r := range lo.rows {
			ts := time.UnixMilli(r.EventTime)
			assert.True(t, strings.Contains(o.Key, "/"+tick.PartitionPath(ts)+"/"), "row in wrong hour folder: %s", o.Key)
		}
		out = append(out, lo)
	}
	return out
}

func decodeJSONLines(t testing.TB, b []byte) []tick.Row {
	var rows []tick.Row
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		var m struct {
			Symbol                 string
			TradeDate              string `json:"trade_date"`
			Open, High, Low, Close *float64
			AdjClose               *float64 `json:"adj_close"`
			Volume                 *int64
			CloseUSD               *float64 `json:"close_usd"`
			EventTime              string   `json:"event_time"`
			KafkaPartition         int32    `json:"kafka_partition"`
			KafkaOffset            int64    `json:"kafka_offset"`
		}
		require.NoError(t, json.Unmarshal(line, &m), string(line))
		for _, k := range []string{"open", "high", "low", "close", "adj_close", "volume", "close_usd"} {
			require.Contains(t, string(line), `"`+k+`":`, "every column is in every line")
		}
		d, err := tick.DateToDays(m.TradeDate)
		require.NoError(t, err)
		et, err := time.Parse(tick.JSONTimestampLayout, m.EventTime)
		require.NoError(t, err)
		r := tick.Row{Symbol: m.Symbol, TradeDate: d, EventTime: et.UnixMilli(), KafkaPartition: m.KafkaPartition, KafkaOffset: m.KafkaOffset}
		for _, f := range []struct {
			v   *float64
			dst *float64
			bit tick.Nulls
		}{{m.Open, &r.Open, tick.NullOpen}, {m.High, &r.High, tick.NullHigh}, {m.Low, &r.Low, tick.NullLow}, {m.Close, &r.Close, tick.NullClose},
			{m.AdjClose, &r.AdjClose, tick.NullAdjClose}, {m.CloseUSD, &r.CloseUSD, tick.NullCloseUSD}} {
			if f.v == nil {
				r.Null |= f.bit
			} else {
				*f.dst = *f.v
			}
		}
		if m.Volume == nil {
			r.Null |= tick.NullVolume
		} else {
			r.Volume = *m.Volume
		}
		rows = append(rows, r)
	}
	return rows
}

// requireExactlyOnce checks the lake holds every (partition, offset) once,
// `rows` rows in all, and that each partition's object ranges tile from its
// first object with no overlap or gap.
func requireExactlyOnce(t testing.TB, objs []lakeObj, rows int64) {
	t.Helper()
	seen := map[[2]int64]string{}
	byPart := map[int32][]lakeObj{}
	var n int64
	for _, o := range objs {
		byPart[o.partition] = append(byPart[o.partition], o)
		assert.Equal(t, o.records, len(o.rows), o.key)
		assert.Equal(t, int64(o.records+o.dlq), o.end-o.start, "range of %s holds rows+dlq", o.key)
		for _, r := range o.rows {
			k := [2]int64{int64(r.KafkaPartition), r.KafkaOffset}
			if prev, dup := seen[k]; dup {
				t.Errorf("duplicate partition %d offset %d in %s and %s", k[0], k[1], prev, o.key)
			}
			seen[k] = o.key
			assert.Equal(t, o.partition, r.KafkaPartition)
			assert.True(t, r.KafkaOffset >= o.start && r.KafkaOffset < o.end, "offset %d outside %s", r.KafkaOffset, o.key)
			n++
		}
	}
	assert.Equal(t, rows, n, "rows in lake")
	for p, os := range byPart {
		sort.Slice(os, func(i, j int) bool { return os[i].start < os[j].start })
		assert.Zero(t, os[0].start, "partition %d starts at 0", p)
		for i := 1; i < len(os); i++ {
			assert.Equal(t, os[i-1].end, os[i].start, "partition %d: %s then %s", p, os[i-1].key, os[i].key)
		}
	}
}

func waitWritten(t testing.TB, want int64, sinks ...*Sink) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int64
		for _, s := range sinks {
			n += s.Stats().Written
		}
		return n >= want
	}, 60*time.Second, 20*time.Millisecond)
}
