package broker

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/harness/objstore"
)

func newStore(t testing.TB, w *World) *objstore.S3 {
	t.Helper()
	s, err := objstore.NewS3(context.Background(), objstore.S3Config{
		Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Region: w.Region(),
		AccessKey: AccessKey, SecretKey: SecretKey, MaxAttempts: 1,
	})
	require.NoError(t, err)
	return s
}

// produceN produces n records with values prefix-0..n-1 synchronously.
func produceN(t testing.TB, cl *kgo.Client, topic, prefix string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("%s-%d", prefix, i))}
	}
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
}

// consumeAll reads until it has want distinct values or times out.
func consumeAll(t testing.TB, cl *kgo.Client, want int) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]int{}
	for len(seen) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
	}
	return seen
}

func leadersOf(t testing.TB, w *World, topic string) map[int32]int32 {
	t.Helper()
	topics, err := w.Coordinator().Topics(context.Background())
	require.NoError(t, err)
	out := map[int32]int32{}
	for _, tp := range topics {
		if tp.Name == topic {
			for _, p := range tp.Partitions {
				out[p.Partition] = p.Leader
			}
		}
	}
	return out
}

func metadataBrokers(t testing.TB, cl *kgo.Client) []int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ids []int32
	// A raw request: kadm would answer from kgo's metadata cache.
	md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	require.NoError(t, err)
	for _, b := range md.Brokers {
		ids = append(ids, b.NodeID)
	}
	return ids
}

func TestStopBrokerClientKeepsWorking(t *testing.T) {
	w := startWorld(t)
	c := w.Coordinator()
	ctx := context.Background()

	prod := newClient(t, w, kgo.DefaultProduceTopic(DefaultTopic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	produceN(t, prod, DefaultTopic, "before", 60)

	// Hold a raw connection to broker 0 open: after the stop it must be cut.
	raw, err := net.Dial("tcp", c.Brokers()[0].Addr)
	require.NoError(t, err)
	defer raw.Close()

	require.NoError(t, c.StopBroker(0))

	bs := c.Brokers()
	assert.False(t, bs[0].Up)
	assert.True(t, bs[1].Up)
	assert.Len(t, w.KafkaAddrs(), 2)
	assert.NotContains(t, w.KafkaAddrs(), bs[0].Addr)

	// The port refuses connections; the open one is closed.
	_, err = net.DialTimeout("tcp", bs[0].Addr, time.Second)
	assert.Error(t, err, "stopped broker still accepts connections")
	require.NoError(t, raw.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = raw.Read(make([]byte, 1))
	assert.Error(t, err)
	assert.False(t, isTimeout(err), "open connection to the stopped broker was not cut")

	// Metadata no longer lists it and no partition is led by it.
	assert.ElementsMatch(t, []int32{1, 2}, metadataBrokers(t, prod))
	for p, l := range leadersOf(t, w, DefaultTopic) {
		assert.NotEqual(t, int32(0), l, "partition %d still led by the stopped broker", p)
	}

	// The same client keeps producing, and a consumer reads everything.
	produceN(t, prod, DefaultTopic, "after", 60)
	cons := newClient(t, w, kgo.ConsumeTopics(DefaultTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := consumeAll(t, cons, 120)
	assert.Len(t, seen, 120)
	for v, n := range seen {
		assert.Equal(t, 1, n, "value %s read %d times", v, n)
	}

	// Restart: same id and address, back in metadata.
	require.NoError(t, c.RestartBroker(0))
	assert.True(t, c.Brokers()[0].Up)
	assert.Equal(t, bs[0].Addr, c.Brokers()[0].Addr)
	assert.Len(t, w.KafkaAddrs(), 3)
	require.Eventually(t, func() bool {
		return len(metadataBrokers(t, prod)) == 3
	}, 10*time.Second, 50*time.Millisecond)
	produceN(t, prod, DefaultTopic, "restarted", 30)
	conn, err := net.DialTimeout("tcp", bs[0].Addr, time.Second)
	require.NoError(t, err)
	conn.Close()
	_ = ctx
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestStopBrokerRefusals(t *testing.T) {
	w := startWorld(t, Brokers(2))
	c := w.Coordinator()
	assert.Equal(t, int32(1), c.Controller())

	err := c.StopBroker(1)
	assert.ErrorIs(t, err, ErrController)
	err = c.StopBroker(7)
	assert.ErrorContains(t, err, "no broker with id 7")
	assert.ErrorContains(t, c.RestartBroker(0), "already up")

	require.NoError(t, c.StopBroker(0))
	assert.ErrorContains(t, c.StopBroker(0), "already down")
	assert.ErrorContains(t, c.MoveLeader(DefaultTopic, 0, 0), "down")

	w1 := startWorld(t, Brokers(1))
	assert.Error(t, w1.Coordinator().StopBroker(0))
}

func TestCreateTopicWhileBrokerDown(t *testing.T) {
	w := startWorld(t)
	c := w.Coordinator()
	ctx := context.Background()
	require.NoError(t, c.StopBroker(0))

	require.NoError(t, c.CreateTopic(ctx, "extra", 4))
	err := c.CreateTopic(ctx, "extra", 4)
	assert.ErrorIs(t, err, kerr.TopicAlreadyExists)
	assert.Error(t, c.CreateTopic(ctx, "bad name", 1))
	assert.Error(t, c.CreateTopic(ctx, "ok", 0))

	require.NoError(t, c.AddPartitions(ctx, DefaultTopic, 2))
	assert.Len(t, leadersOf(t, w, DefaultTopic), DefaultPartitions+2)
	assert.Len(t, leadersOf(t, w, "extra"), 4)
	for _, l := range leadersOf(t, w, "extra") {
		assert.NotEqual(t, int32(0), l)
	}
	assert.Error(t, c.AddPartitions(ctx, "missing", 1))
	assert.Error(t, c.AddPartitions(ctx, DefaultTopic, 0))
}

func TestMoveAndShuffleLeaders(t *testing.T) {
	w := startWorld(t)
	c := w.Coordinator()
	for _, target := range []int32{0, 1, 2} {
		require.NoError(t, c.MoveLeader(DefaultTopic, 3, target))
		assert.Equal(t, target, leadersOf(t, w, DefaultTopic)[3])
	}
	assert.Error(t, c.MoveLeader(DefaultTopic, 99, 0))
	assert.Error(t, c.MoveLeader("missing", 0, 0))
	assert.Error(t, c.MoveLeader(DefaultTopic, 0, 9))

	// Shuffle until some leader changes (each shuffle is random; 20 rounds
	// all leaving 6 partitions unchanged has probability (1/3)^120).
	before := leadersOf(t, w, DefaultTopic)
	changed := false
	for i := 0; i < 20 && !changed; i++ {
		require.NoError(t, c.ShuffleLeaders())
		after := leadersOf(t, w, DefaultTopic)
		for p := range before {
			changed = changed || before[p] != after[p]
		}
	}
	assert.True(t, changed)

	// A client keeps producing across leader moves.
	cl := newClient(t, w)
	produceN(t, cl, DefaultTopic, "x", 20)
	require.NoError(t, c.ShuffleLeaders())
	produceN(t, cl, DefaultTopic, "y", 20)
}

func TestGroups(t *testing.T) {
	w := startWorld(t, Brokers(1), Partitions(2))
	c := w.Coordinator()
	ctx := context.Background()

	gs, err := c.Groups(ctx)
	require.NoError(t, err)
	assert.Empty(t, gs)

	prod := newClient(t, w, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	recs := []*kgo.Record{}
	for i := 0; i < 5; i++ {
		recs = append(recs, &kgo.Record{Topic: DefaultTopic, Partition: 0, Value: []byte("a")})
	}
	for i := 0; i < 3; i++ {
		recs = append(recs, &kgo.Record{Topic: DefaultTopic, Partition: 1, Value: []byte("b")})
	}
	require.NoError(t, prod.ProduceSync(ctx, recs...).FirstErr())

	cons := newClient(t, w, kgo.ConsumerGroup("g1"), kgo.ConsumeTopics(DefaultTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	seen := 0
	for seen < 8 {
		fs := cons.PollFetches(ctx)
		require.NoError(t, fs.Err())
		seen += fs.NumRecords()
	}
	// Commit 4 of 5 on partition 0 and all 3 on partition 1.
	offsets := map[string]map[int32]kgo.EpochOffset{DefaultTopic: {0: {Epoch: -1, Offset: 4}, 1: {Epoch: -1, Offset: 3}}}
	var cerr error
	cons.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) { cerr = err })
	require.NoError(t, cerr)

	gs, err = c.Groups(ctx)
	require.NoError(t, err)
	require.Len(t, gs, 1)
	g := gs[0]
	assert.Equal(t, "g1", g.Group)
	assert.Equal(t, 1, g.Members)
	assert.Equal(t, "Stable", g.State)
	require.Len(t, g.Offsets, 2)
	assert.Equal(t, GroupOffset{Topic: DefaultTopic, Partition: 0, Committed: 4, End: 5, Lag: 1}, g.Offsets[0])
	assert.Equal(t, GroupOffset{Topic: DefaultTopic, Partition: 1, Committed: 3, End: 3, Lag: 0}, g.Offsets[1])
}

func TestRestartBrokerPortTaken(t *testing.T) {
	w := startWorld(t)
	c := w.Coordinator()
	addr := c.Brokers()[1].Addr
	require.NoError(t, c.StopBroker(1))

	squatter, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	err = c.RestartBroker(1)
	assert.ErrorIs(t, err, ErrAddrInUse)
	assert.False(t, c.Brokers()[1].Up)
	require.NoError(t, squatter.Close())

	require.NoError(t, c.RestartBroker(1))
	assert.Equal(t, addr, c.Brokers()[1].Addr)

	// Stop and restart again: the re-created listener is tracked too.
	cl := newClient(t, w)
	produceN(t, cl, DefaultTopic, "a", 10)
	require.NoError(t, c.StopBroker(1))
	_, err = net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err)
	produceN(t, cl, DefaultTopic, "b", 10)
	require.NoError(t, c.RestartBroker(1))
	produceN(t, cl, DefaultTopic, "c", 10)
}

// TestStopBrokerUnderLoad stops and restarts brokers while a producer is
// writing: every acknowledged record is read back exactly once.
func TestStopBrokerUnderLoad(t *testing.T) {
	w := startWorld(t)
	c := w.Coordinator()
	prod := newClient(t, w, kgo.DefaultProduceTopic(DefaultTopic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const total = 3000
	acked := make(chan error, total)
	for i := 0; i < total; i++ {
		prod.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}, func(_ *kgo.Record, err error) { acked <- err })
		switch i {
		case 500:
			require.NoError(t, c.StopBroker(0))
		case 1200:
			require.NoError(t, c.StopBroker(1))
		case 1800:
			require.NoError(t, c.RestartBroker(0))
		case 2400:
			require.NoError(t, c.RestartBroker(1))
			require.NoError(t, c.ShuffleLeaders())
		}
	}
	for i := 0; i < total; i++ {
		require.NoError(t, <-acked)
	}
	cons := newClient(t, w, kgo.ConsumeTopics(DefaultTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := consumeAll(t, cons, total)
	require.Len(t, seen, total)
	for v, n := range seen {
		assert.Equal(t, 1, n, "record %s read %d times", v, n)
	}
}
