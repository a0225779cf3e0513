package sink

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/tick"
)

// txProducer is a transactional producer on the sink's topic.
func txProducer(t testing.TB, w *world, id string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(fastKafka[:2:2], kgo.SeedBrokers(w.brokers...), kgo.DefaultProduceTopic(tick.DefaultTopic),
		kgo.TransactionalID(id), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

// produceTx produces n ticks to each of partitions in one transaction and
// ends it with commit (or abort); end false leaves it open.
func produceTx(t testing.TB, cl *kgo.Client, partitions int32, n int, commit, end bool) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, cl.BeginTransaction())
	for p := range partitions {
		for i := range n {
			v, err := tick.Marshal(tick.Tick{Symbol: "HSI", TradeDate: "2024-01-05", Close: float64(i)})
			require.NoError(t, err)
			require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: v, Timestamp: base}).FirstErr())
		}
	}
	if end {
		require.NoError(t, cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)))
	}
}

// topicOffsets lists the topic's end offsets (isolation read_uncommitted:
// the high watermarks) and, with committed, its last stable offsets.
func topicOffsets(t testing.TB, w *world, stable bool) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	list := adm.ListEndOffsets
	if stable {
		list = adm.ListCommittedOffsets
	}
	l, err := list(context.Background(), tick.DefaultTopic)
	require.NoError(t, err)
	require.NoError(t, l.Error())
	out := map[int32]int64{}
	l.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// requireTiledRows checks that the lake holds rows distinct rows and that
// each partition's objects tile from 0 up to end[p] (their ranges may hold
// fewer rows than offsets: transaction markers and aborted records).
func requireTiledRows(t testing.TB, objs []lakeObj, rows int64, end map[int32]int64) {
	t.Helper()
	seen := map[[2]int64]bool{}
	byPart := map[int32][]lakeObj{}
	for _, o := range objs {
		byPart[o.partition] = append(byPart[o.partition], o)
		for _, r := range o.rows {
			k := [2]int64{int64(r.KafkaPartition), r.KafkaOffset}
			assert.False(t, seen[k], "duplicate %v", k)
			seen[k] = true
			assert.True(t, r.KafkaOffset >= o.start && r.KafkaOffset < o.end, "offset %d outside %s", r.KafkaOffset, o.key)
		}
	}
	assert.EqualValues(t, rows, len(seen), "rows in the lake")
	for p, e := range end {
		os := byPart[p]
		require.NotEmpty(t, os, "partition %d", p)
		sort.Slice(os, func(i, j int) bool { return os[i].start < os[j].start })
		assert.Zero(t, os[0].start)
		for i := 1; i < len(os); i++ {
			assert.Equal(t, os[i-1].end, os[i].start, "partition %d", p)
		}
		assert.Equal(t, e, os[len(os)-1].end, "partition %d: the last object ends at the end offset", p)
	}
}

// Issue 21, point 3: on a topic written in transactions, a read_committed
// consumer never receives the commit markers, so its position (the offset
// after its last record) stops one short of the end offset and "caught up"
// never held: --until-idle ran forever. The sink now sees the markers
// (kgo.KeepControlRecords), counts them into the object they follow, and
// ends once idle with every offset committed up to the end offset.
func TestUntilIdleEndsOnTransactionalTopic(t *testing.T) {
	w := newWorld(t, 2)
	tx := txProducer(t, w, "ticks-tx")
	produceTx(t, tx, 2, 40, true, true)
	produceTx(t, tx, 2, 15, false, true) // aborted: never read
	produceTx(t, tx, 2, 25, true, true)
	ends := topicOffsets(t, w, false)
	require.Equal(t, map[int32]int64{0: 40 + 1 + 15 + 1 + 25 + 1, 1: 83}, ends, "each transaction ends with a marker")

	var logs syncLog
	s, err := New(context.Background(), w.brokers, w.store, KafkaOptions(fastKafka...), FlushInterval(time.Hour), UntilIdle(500*time.Millisecond),
		Logger(slog.New(slog.NewTextHandler(io.MultiWriter(&logs, tWriter{t, "sink"}), &slog.HandlerOptions{Level: slog.LevelInfo}))))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, s.Run(ctx))
	require.NoError(t, ctx.Err(), "--until-idle did not end by itself on a transactional topic")
	assert.Contains(t, logs.String(), "idle: caught up")
	assert.EqualValues(t, 2*(40+25), s.Stats().Consumed, "records received (markers and aborted records are not)")
	assert.Equal(t, ends, s.Stats().Committed, "committed up to the end offsets: the next run has nothing to read")
	requireTiledRows(t, readLake(t, w.store), 2*(40+25), ends)
}

// The same with a transaction still open: records past the last stable
// offset are not readable yet. --until-idle ends once idle at the last
// stable offset and says which offsets an open transaction holds back.
func TestUntilIdleEndsBeforeAnOpenTransaction(t *testing.T) {
	w := newWorld(t, 1)
	tx := txProducer(t, w, "ticks-tx-open")
	produceTx(t, tx, 1, 30, true, true)
	produceTx(t, tx, 1, 20, true, false) // open: not readable until it ends
	stable := topicOffsets(t, w, true)
	require.Equal(t, map[int32]int64{0: 31}, stable)

	var logs syncLog
	s, err := New(context.Background(), w.brokers, w.store, KafkaOptions(fastKafka...), FlushInterval(time.Hour), UntilIdle(500*time.Millisecond),
		Logger(slog.New(slog.NewTextHandler(io.MultiWriter(&logs, tWriter{t, "sink"}), &slog.HandlerOptions{Level: slog.LevelInfo}))))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, s.Run(ctx))
	require.NoError(t, ctx.Err(), "--until-idle did not end by itself before an open transaction")
	assert.Contains(t, logs.String(), "open transaction")
	assert.Contains(t, logs.String(), "0:31-51")
	assert.Equal(t, stable, s.Stats().Committed)
	requireTiledRows(t, readLake(t, w.store), 30, stable)
}

// Issue 21, point 3: a member that joined the group and was given no
// partition (the other members hold them all) waited 30s (neverAssigned)
// whatever the idle time. It now ends after the idle time, with
// ErrNeverAssigned naming the group and saying why.
func TestUntilIdleEndsWhenGivenNoPartition(t *testing.T) {
	w := newWorld(t, 1)
	produceTicks(t, w, false, 100)
	a, _ := runSink(t, w)
	waitCommitted(t, w, a, 100)
	b, err := New(context.Background(), w.brokers, w.store, KafkaOptions(fastKafka...), UntilIdle(500*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	err = b.Run(ctx)
	require.ErrorIs(t, err, ErrNeverAssigned, "ended after %s", time.Since(start))
	assert.Contains(t, err.Error(), "tickflow-sink")
	assert.Contains(t, err.Error(), "other members hold")
	assert.Equal(t, 1, a.Stats().Partitions)
}
