package sink

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/produce"
	"github.com/tickflow/tickflow/harness/tick"
)

// lateStore holds PutIfAbsent calls for delay when armed, then applies them
// even if the caller gave up meanwhile, like a proxy that received the
// whole request and forwards it late. It counts List calls.
type lateStore struct {
	objstore.Store
	delay    atomic.Int64
	inflight atomic.Int32
	lists    atomic.Int32
}

func (l *lateStore) PutIfAbsent(ctx context.Context, key string, body []byte, meta map[string]string) error {
	if d := time.Duration(l.delay.Load()); d > 0 {
		l.inflight.Add(1)
		defer l.inflight.Add(-1)
		time.Sleep(d) // the fault itself: the request is on its way this long
		ctx = context.WithoutCancel(ctx)
	}
	return l.Store.PutIfAbsent(ctx, key, body, meta)
}

func (l *lateStore) List(ctx context.Context, prefix string) ([]objstore.Object, error) {
	l.lists.Add(1)
	return l.Store.List(ctx, prefix)
}

// The reproduction: member A's shutdown PUT is slow; B joins while
// it is on its way. The partition must not move before A's object is in S3
// and committed, or B starts from the old commit and A's range is lost or
// doubled.
func TestShutdownPutInFlightWhileNewMemberJoins(t *testing.T) {
	w := newWorld(t, 2)
	produced := produceTicks(t, w, false, 100)
	late := &lateStore{Store: w.store}
	wa := &world{brokers: w.brokers, store: late}
	// The group must wait for A's revocation flush (the sink derives this
	// from its S3 budget; fastKafka's 3s would evict A mid-flush).
	a, stopA := runSink(t, wa, FlushInterval(time.Hour), FlushRecords(1_000_000), KafkaOptions(kgo.RebalanceTimeout(20*time.Second)))
	require.Eventually(t, func() bool { return a.Stats().Consumed >= produced }, 30*time.Second, 10*time.Millisecond)
	late.delay.Store(int64(3 * time.Second))
	aDone := make(chan error, 1)
	go func() { aDone <- stopA() }()
	require.Eventually(t, func() bool { return late.inflight.Load() > 0 }, 10*time.Second, 5*time.Millisecond, "A's shutdown PUT started")
	produced += produceTicks(t, w, false, 60)
	b, stopB := runSink(t, w, FlushRecords(25))
	produced += produceTicks(t, w, false, 40)
	require.NoError(t, <-aDone)
	waitCommitted(t, w, b, produced)
	require.NoError(t, stopB())
	requireExactlyOnce(t, readLake(t, w.store), produced)
}

// A writer put an object at the key this member writes next and never
// committed it (a zombie whose late PUT landed, or a crash after upload).
// The conditional write finds it; the sink continues from its end instead
// of overwriting it, and resumes from the commit metadata without listing
// the lake.
func TestAdoptsObjectAtNextKey(t *testing.T) {
	w := newWorld(t, 1)
	produced := produceTicks(t, w, true, 0)
	a, stopA := runSink(t, w, FlushRecords(400), UntilIdle(300*time.Millisecond))
	waitCommitted(t, w, a, produced)
	require.NoError(t, stopA())

	produced += produceTicks(t, w, false, 1000)
	// The zombie: uploads its first object with its own cut and dies before
	// committing it.
	var ups atomic.Int32
	_, stopZ := runSink(t, w, FlushRecords(23), Hook(func(ev HookEvent) error {
		if ev.Point == AfterUpload && ups.Add(1) == 1 {
			return errCrash
		}
		return nil
	}))
	require.Eventually(t, func() bool { return ups.Load() >= 1 }, 30*time.Second, 10*time.Millisecond)
	require.ErrorIs(t, stopZ(), errCrash)

	late := &lateStore{Store: w.store}
	b, stopB := runSink(t, &world{brokers: w.brokers, store: late}, FlushRecords(400))
	waitCommitted(t, w, b, produced)
	require.NoError(t, stopB())
	assert.EqualValues(t, 1, b.Stats().Adopted, "the zombie's object was adopted")
	assert.Zero(t, late.lists.Load(), "a partition with commit metadata resumes without listing the lake")
	requireExactlyOnce(t, readLake(t, w.store), produced)
}

// Topic names may contain dots (market.ticks, and the sink's own
// <topic>.dlq): object names must still parse, or reconciliation sees
// nothing and a crash after upload duplicates the range.
func TestDottedTopicCrashAfterUpload(t *testing.T) {
	const topic = "market.ticks"
	w := newWorld(t, 1)
	createTopic(t, w, topic, 1)
	produced := produceTo(t, w, topic, 900)
	var ups atomic.Int32
	_, stopA := runSink(t, w, Topic(topic), FlushRecords(200), Hook(func(ev HookEvent) error {
		if ev.Point == AfterUpload && ups.Add(1) == 2 {
			return errCrash
		}
		return nil
	}))
	require.Eventually(t, func() bool { return ups.Load() >= 2 }, 30*time.Second, 10*time.Millisecond)
	require.ErrorIs(t, stopA(), errCrash)
	b, stopB := runSink(t, w, Topic(topic), FlushRecords(300))
	require.Eventually(t, func() bool { return b.Stats().Committed[0] == produced }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, stopB())
	objs := readLake(t, w.store)
	requireExactlyOnce(t, objs, produced)
	for _, o := range objs {
		tp, _, _, ok := ParseObjectName(o.key)
		require.True(t, ok, o.key)
		assert.Equal(t, topic, tp)
	}
}

func TestCommitNamesOnlyOwnedPartitions(t *testing.T) {
	s := &Sink{parts: map[int32]*partState{1: {gen: 7}}, commits: map[int32]int64{}}
	s.cfg.log = discardLogger()
	failed := s.commit(context.Background(), map[int32]commitPoint{
		1: {off: 10, carryStart: -1, gen: 6}, // an older generation of partition 1
		2: {off: 10, carryStart: -1, gen: 7}, // a partition this member does not own
	})
	require.Len(t, failed, 2)
	for p, err := range failed {
		assert.ErrorIs(t, err, errNotOwned, "partition %d", p)
	}
	assert.Empty(t, s.Stats().Committed)
}

func TestCommitMetaRoundTrip(t *testing.T) {
	for _, m := range []CommitMeta{
		{NextStart: 0},
		{NextStart: 12, DLQ: 3, Expired: 4, TopicID: "abc", LastKey: "p;x/stock_ticks/dt=2024-01-05/hour=09/market.ticks+0+00000000000000000000.parquet"},
	} {
		got, ok := ParseCommitMeta(m.String())
		require.True(t, ok, m.String())
		assert.Equal(t, m, got)
	}
	for _, bad := range []string{"", "member-1", CarryMetadata(1, 2), "tickflow/2;next-start=x;dlq=0;expired=0;topic-id=;last=",
		"tickflow/2;next-start=1;dlq=-1;expired=0;topic-id=;last=", "tickflow/2;next-start=1;dlq=0;expired=0;last="} {
		_, ok := ParseCommitMeta(bad)
		assert.False(t, ok, bad)
	}
	start, dlq, ok := ParseCarryMetadata(CommitMeta{NextStart: 5, DLQ: 2}.String())
	assert.True(t, ok)
	assert.Equal(t, []int64{5, 2}, []int64{start, int64(dlq)})
}

// Issue 21, points 0 and 8: a member killed mid join/sync costs the group
// the rebalance timeout, so it is short and does not grow with the S3
// retry budget; and what a live member waits for during a rebalance fits
// inside it, whatever the S3 and Kafka settings. The numbers are the ones
// the sink runs with: each case is a real New, and the timeouts are read
// back from its config and from its Kafka client (kgo.Client.OptValue), so
// raising any of them past the rebalance timeout fails here. What a
// revocation waits for, in the code:
//   - handing the revoked partitions' batch to the flusher: never waits
//     (handOver; TestRejoinWhileUploadsHang fills the queue behind a hung
//     upload);
//   - the uploads and commits on their way (several batches, each with a
//     dead-letter flush of up to the delivery timeout, S3 retries and
//     commits retried within commitBudget): at most revokeBudget, then the
//     partitions go anyway (waitTimeout; TestRevocationDoesNotWaitForAHungUpload);
//   - one commit attempt that holds s.own (forget): commitAttemptTimeout.
//
// Rejoining a rebalance waits for the heartbeat that announces it and for
// one commit attempt on its way (kgo's JoinGroup waits for commits in
// flight); the poll loop does not hold it (it waits for room in the
// flusher's queue before it polls, not after).
func TestTimeoutsFitTogether(t *testing.T) {
	w := newWorld(t, 1)
	for name, opts := range map[string][]Option{
		"defaults":          nil,
		"slow S3":           {Retry(20, time.Second, time.Minute), CallTimeout(time.Minute)},
		"short rebalance":   {RebalanceTimeout(3 * time.Second)},
		"kgo options":       {KafkaOptions(kgo.RebalanceTimeout(2*time.Second), kgo.HeartbeatInterval(500*time.Millisecond))},
		"session and heart": {SessionTimeout(30 * time.Second), HeartbeatInterval(time.Second)},
	} {
		s, err := New(context.Background(), w.brokers, w.store, opts...)
		require.NoError(t, err, name)
		s.client.Close()
		c := s.cfg
		rebalance := s.client.OptValue(kgo.RebalanceTimeout).(time.Duration)
		heartbeat := s.client.OptValue(kgo.HeartbeatInterval).(time.Duration)
		require.Equal(t, rebalance, c.rebalanceTimeout(), "%s: the sink budgets for the group's rebalance timeout", name)
		assert.LessOrEqual(t, rebalance, DefaultRebalanceTimeout, "%s: a crash mid join/sync stalls the group this long", name)
		assert.Less(t, rebalance, c.retryBudget(), "%s: the rebalance timeout does not grow with the S3 retry budget", name)
		assert.Less(t, c.revokeBudget()+c.commitAttemptTimeout(), rebalance, "%s: a revocation fits the rebalance timeout", name)
		assert.Less(t, heartbeat+c.commitAttemptTimeout(), rebalance, "%s: rejoining fits the rebalance timeout", name)
		assert.GreaterOrEqual(t, c.commitBudget(), c.commitAttemptTimeout(), name)
	}
}

// BenchmarkReconcile measures what a new owner does before it consumes one
// partition of a lake of 100,000 objects: with commit metadata nothing is
// read from S3; without it (a group committed by an older tickflow) the
// table is listed.
func BenchmarkReconcile(b *testing.B) {
	ms := &memStore{objs: map[string]objstore.Object{}}
	const objects = 100_000
	for i := range objects {
		p, start := int32(i%10), int64(i/10)*100
		key := ObjectKey("", fmt.Sprintf("dt=2024-01-%02d/hour=%02d", 1+i%28, i%24), tick.DefaultTopic, p, start, "parquet")
		ms.objs[key] = objstore.Object{Key: key, Metadata: map[string]string{MetaStartOffset: fmt.Sprint(start), MetaEndOffset: fmt.Sprint(start + 100)}}
	}
	s := &Sink{store: ms, cfg: defaults()}
	committed := int64(objects/10) * 100
	b.Run("commit-metadata", func(b *testing.B) {
		meta := CommitMeta{NextStart: committed, LastKey: "k"}.String()
		for b.Loop() {
			cm, ok := ParseCommitMeta(meta)
			if !ok || cm.NextStart != committed {
				b.Fatal("metadata")
			}
		}
		b.ReportMetric(0, "store-calls/op")
	})
	b.Run("listing", func(b *testing.B) {
		for b.Loop() {
			points := map[int32]commitPoint{3: {off: committed, carryStart: -1}}
			if err := s.reconcileListed(context.Background(), []int32{3}, points, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(1, "store-calls/op")
	})
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// waitCommitted waits until the group's committed offsets, read from Kafka,
// add up to want across the topic's partitions.
func waitCommitted(t testing.TB, w *world, s *Sink, want int64) {
	t.Helper()
	// Its own client: s may have stopped (UntilIdle) and closed its own.
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var last int64
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		offs, err := adm.FetchOffsets(context.Background(), s.cfg.group)
		if err != nil {
			continue
		}
		last = 0
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Topic == s.cfg.topic {
				last += o.At
			}
		})
		if last >= want {
			return
		}
	}
	t.Fatalf("group %s committed %d of %d records within 60s", s.cfg.group, last, want)
}

func createTopic(t testing.TB, w *world, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	require.NoError(t, err)
	defer cl.Close()
	_, err = kadm.NewClient(cl).CreateTopic(context.Background(), partitions, 1, nil, topic)
	require.NoError(t, err)
}

// produceTo produces n synthetic ticks to topic.
func produceTo(t testing.TB, w *world, topic string, n int) int64 {
	t.Helper()
	p, err := produce.New(context.Background(), w.brokers, produce.Topic(topic), produce.KafkaOptions(fastKafka[:2]...))
	require.NoError(t, err)
	defer p.Close()
	res, err := p.Produce(context.Background(), produce.Synthetic(n, 7))
	require.NoError(t, err)
	return res.Produced
}

// Records that retention removed before the sink read them are counted in
// the next object's metadata, logged and in Stats, and the lake checker
// reports them as expired (K01), not as delivered and not as a gap.
func TestRetentionExpiredCounted(t *testing.T) {
	w := newWorld(t, 1)
	first := produceTicks(t, w, false, 300)
	a, stopA := runSink(t, w, FlushRecords(100))
	waitCommitted(t, w, a, first)
	require.NoError(t, stopA())
	second := produceTicks(t, w, false, 300)
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	require.NoError(t, err)
	defer cl.Close()
	const logStart = 450
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: tick.DefaultTopic, Partition: 0, At: logStart})
	dr, err := kadm.NewClient(cl).DeleteRecords(context.Background(), os)
	require.NoError(t, err)
	require.NoError(t, dr.Error())

	b, stopB := runSink(t, w, FlushRecords(100))
	waitCommitted(t, w, b, first+second)
	require.NoError(t, stopB())
	assert.EqualValues(t, logStart-first, b.Stats().Expired)
	var rows int64
	var expired int
	for _, o := range readLake(t, w.store) {
		rows += int64(len(o.rows))
		h, err := w.store.Head(context.Background(), o.key)
		require.NoError(t, err)
		if v := h.Metadata[MetaExpired]; v != "" {
			assert.Equal(t, first, o.start, "the expired range opens the object that follows the commit")
			expired, _ = strconv.Atoi(v)
			assert.EqualValues(t, logStart, o.rows[0].KafkaOffset)
		}
	}
	assert.EqualValues(t, logStart-first, expired)
	assert.EqualValues(t, first+second-(logStart-first), rows)
	rep, err := lake.Check(context.Background(), w.store, "")
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Violations)
	assert.Equal(t, []string{"K01"}, rep.Rules())
	assert.EqualValues(t, logStart-first, rep.Partitions[0].Expired)
}

// A topic deleted and re-created restarts at offset 0, so its object names
// collide with the old incarnation's. The sink must not adopt an old object
// (that would skip the new records): it stops and names the key. Once the
// old objects are moved away, the new incarnation lands exactly once.
func TestTopicRecreatedIsNotAdopted(t *testing.T) {
	w := newWorld(t, 1)
	old := produceTicks(t, w, false, 200)
	a, stopA := runSink(t, w, FlushRecords(100))
	waitCommitted(t, w, a, old)
	require.NoError(t, stopA())
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	_, err = adm.DeleteTopic(context.Background(), tick.DefaultTopic)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := adm.CreateTopic(context.Background(), 1, 1, nil, tick.DefaultTopic)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
	fresh := produceTicks(t, w, false, 100)

	b, err := New(context.Background(), w.brokers, w.store, KafkaOptions(fastKafka...), FlushInterval(200*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runErr := b.Run(ctx)
	require.ErrorIs(t, runErr, errOtherIncarnation)
	assert.Contains(t, runErr.Error(), "re-created")
	assert.Zero(t, b.Stats().Adopted)

	objs, err := w.store.List(context.Background(), tick.Table+"/")
	require.NoError(t, err)
	for _, o := range objs {
		require.NoError(t, w.store.Delete(context.Background(), o.Key))
	}
	c, stopC := runSink(t, w, FlushRecords(40))
	waitCommitted(t, w, c, fresh)
	require.NoError(t, stopC())
	requireExactlyOnce(t, readLake(t, w.store), fresh)
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Kafka going away under a running sink is never silent: a warning every
// few seconds, and stopping with records that could not be committed is an
// error (the CLI exits non-zero), not a clean exit.
func TestKafkaGoneIsLoud(t *testing.T) {
	w := newWorld(t, 1)
	produced := produceTicks(t, w, false, 200)
	var logs syncBuffer
	s, stop := runSink(t, w, FlushInterval(time.Hour), CallTimeout(2*time.Second),
		Logger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.Eventually(t, func() bool { return s.Stats().Consumed >= produced }, 30*time.Second, 10*time.Millisecond)
	w.cluster.Close()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "Kafka brokers unreachable") }, 30*time.Second, 50*time.Millisecond,
		"no warning while Kafka is gone; log so far:\n%s", logs.String())
	err := stop()
	require.Error(t, err, "stopped with records it could not commit")
	assert.Contains(t, err.Error(), "Kafka was unreachable")
}

// UntilIdle means "assigned, caught up and quiet": a sink that starts while
// a dead member still holds the partitions (its session not expired yet)
// waits for them instead of exiting with nothing consumed.
func TestUntilIdleWaitsForAssignment(t *testing.T) {
	w := newWorld(t, 1)
	produced := produceTicks(t, w, false, 300)
	// A member that dies without leaving: static membership keeps it in the
	// group until its session times out.
	dead, err := kgo.NewClient(append(fastKafka[:2], kgo.SeedBrokers(w.brokers...), kgo.ConsumerGroup("tickflow-sink"),
		kgo.ConsumeTopics(tick.DefaultTopic), kgo.InstanceID("dead-member"), kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(200*time.Millisecond),
		kgo.DisableAutoCommit())...)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(dead.PollFetches(ctx).Records()) == 0 {
		require.NoError(t, ctx.Err(), "the dead member never got records")
	}
	dead.Close()

	s, err := New(context.Background(), w.brokers, w.store, KafkaOptions(fastKafka...), FlushInterval(100*time.Millisecond), UntilIdle(300*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, s.Run(ctx))
	assert.Equal(t, produced, s.Stats().Consumed)
	requireExactlyOnce(t, readLake(t, w.store), produced)
}

func TestUntilIdleNeverAssigned(t *testing.T) {
	old := neverAssigned
	neverAssigned = time.Second
	t.Cleanup(func() { neverAssigned = old })
	w := newWorld(t, 1)
	produceTicks(t, w, false, 100)
	a, _ := runSink(t, w)
	waitCommitted(t, w, a, 100)
	b, err := New(context.Background(), w.brokers, w.store, KafkaOptions(fastKafka...), UntilIdle(200*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = b.Run(ctx)
	require.ErrorIs(t, err, ErrNeverAssigned)
	assert.Contains(t, err.Error(), "tickflow-sink")
}

// The same while the sink runs: its fetch position falls below the log
// start (OFFSET_OUT_OF_RANGE); it counts the gap as expired and moves on.
func TestRetentionExpiredWhileRunning(t *testing.T) {
	w := newWorld(t, 1)
	first := produceTicks(t, w, false, 300)
	s, stop := runSink(t, w, FlushRecords(100), KafkaOptions(kgo.FetchMaxWait(50*time.Millisecond)))
	waitCommitted(t, w, s, first)
	s.client.PauseFetchPartitions(map[string][]int32{tick.DefaultTopic: {0}})
	// A fetch already on its way when the partition was paused long-polls
	// for at most FetchMaxWait and may still bring what is produced next:
	// let it end first (a bound of kgo's protocol, not a guess).
	time.Sleep(300 * time.Millisecond)
	second := produceTicks(t, w, false, 300)
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	require.NoError(t, err)
	defer cl.Close()
	const logStart = 450
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: tick.DefaultTopic, Partition: 0, At: logStart})
	dr, err := kadm.NewClient(cl).DeleteRecords(context.Background(), os)
	require.NoError(t, err)
	require.NoError(t, dr.Error())
	s.client.ResumeFetchPartitions(map[string][]int32{tick.DefaultTopic: {0}})
	waitCommitted(t, w, s, first+second)
	require.NoError(t, stop())
	assert.EqualValues(t, logStart-first, s.Stats().Expired)
	rep, err := lake.Check(context.Background(), w.store, "")
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Violations)
	assert.Equal(t, []string{"K01"}, rep.Rules())
	assert.EqualValues(t, logStart-first, rep.Partitions[0].Expired)
	assert.EqualValues(t, first+second-(logStart-first), rep.Rows)
}
