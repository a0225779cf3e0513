package sink

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/harness/tick"
)

// runUntil runs a new sink until it returns or limit passes (then it is
// cancelled, and Run's error after the cancel is returned with ok=false).
func runUntil(t testing.TB, w *world, limit time.Duration, opts ...Option) (s *Sink, err error, ok bool) {
	t.Helper()
	s, err = New(context.Background(), w.brokers, w.store, append([]Option{KafkaOptions(fastKafka...), FlushInterval(200 * time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(cancel)
	select {
	case err = <-done:
		return s, err, true
	case <-time.After(limit):
		cancel()
		return s, <-done, false
	}
}

// A committed offset above the partition's end offset (an operator reset
// it there, or the log lost its tail) answers every fetch with
// OFFSET_OUT_OF_RANGE. On main the sink spun on it silently, forever; it
// must stop with ErrTruncated, naming the partition, the offset and the
// end, and count it.
func TestOffsetAboveEndIsTruncation(t *testing.T) {
	w := newWorld(t, 1)
	produced := produceTicks(t, w, false, 200)
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: tick.DefaultTopic, Partition: 0, At: 5000, LeaderEpoch: -1})
	resp, err := admin(t, w).CommitOffsets(context.Background(), "tickflow-sink", os)
	require.NoError(t, err)
	require.NoError(t, resp.Error())

	s, runErr, ok := runUntil(t, w, 30*time.Second, UntilIdle(time.Second))
	require.True(t, ok, "the sink did not stop on an offset above the end offset (it spun on OFFSET_OUT_OF_RANGE); Run then returned %v", runErr)
	require.ErrorIs(t, runErr, ErrTruncated)
	for _, want := range []string{tick.DefaultTopic + "[0]", "5000", strconv.FormatInt(produced, 10)} {
		assert.Contains(t, runErr.Error(), want)
	}
	assert.EqualValues(t, 1, s.Stats().Truncated)
	assert.Zero(t, s.Stats().Written)
}

// truncatedEpochs answers every OffsetForLeaderEpoch request for topic with
// the end offset `end` in the requested epoch: the log the client read was
// truncated at end (an unclean leader election, a broker restored from an
// older disk), so records at and after end may be different records now.
// kfake keeps one log per partition and cannot truncate it, so the test
// fakes the answer a real broker gives after a truncation. It returns a
// counter of requests answered.
func truncatedEpochs(c *kfake.Cluster, topic string, end int64) *int64Counter {
	n := &int64Counter{}
	c.ControlKey(int16(kmsg.OffsetForLeaderEpoch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.OffsetForLeaderEpochRequest)
		resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
		resp.Version = req.Version
		ours := false
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetForLeaderEpochResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.LeaderEpoch = rp.LeaderEpoch
				sp.EndOffset = end
				if rt.Topic != topic {
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				}
				st.Partitions = append(st.Partitions, sp)
			}
			ours = ours || rt.Topic == topic
			resp.Topics = append(resp.Topics, st)
		}
		if !ours {
			return nil, nil, false
		}
		n.add(1)
		return resp, nil, true
	})
	return n
}

type int64Counter struct{ v atomic.Int64 }

func (c *int64Counter) add(d int64) { c.v.Add(d) }
func (c *int64Counter) load() int64 { return c.v.Load() }

// The sink commits the leader epoch of the last record it covered, and the
// next owner resumes with it, so kgo asks the broker (OffsetForLeaderEpoch)
// whether the log it resumes in is the log that was committed. After a
// truncation below the committed offset it is not: the records at the
// reused offsets are new, and resuming at the commit would skip them as
// "already in the lake". On main the epoch was dropped (WithEpoch(-1)), no
// check ran and the sink went on; it must stop with ErrTruncated, counted.
func TestTruncationBelowCommitIsReported(t *testing.T) {
	w := newWorld(t, 1)
	produced := produceTicks(t, w, false, 300)
	a, stopA := runSink(t, w, FlushRecords(100))
	waitCommitted(t, w, a, produced)
	require.NoError(t, stopA())
	offs, err := admin(t, w).FetchOffsetsForTopics(context.Background(), "tickflow-sink", tick.DefaultTopic)
	require.NoError(t, err)
	c, ok := offs.Lookup(tick.DefaultTopic, 0)
	require.True(t, ok)
	assert.GreaterOrEqual(t, c.LeaderEpoch, int32(0), "the commit carries the leader epoch of the last record it covers")

	const end = 200
	asked := truncatedEpochs(w.cluster, tick.DefaultTopic, end)
	before := readLake(t, w.store)
	s, runErr, stopped := runUntil(t, w, 30*time.Second, UntilIdle(time.Second))
	require.True(t, stopped)
	require.ErrorIs(t, runErr, ErrTruncated, "the resume was not checked against the log (OffsetForLeaderEpoch asked %d times)", asked.load())
	for _, want := range []string{tick.DefaultTopic + "[0]", "300", "200"} {
		assert.Contains(t, runErr.Error(), want)
	}
	assert.EqualValues(t, 1, s.Stats().Truncated)
	assert.Zero(t, s.Stats().Written)
	assert.Len(t, readLake(t, w.store), len(before), "nothing written after the truncation")
}

// The same while the sink runs: the partition's leader changes, kgo checks
// the epoch of the last record it consumed against the new leader, and the
// new leader's log ends below it. On main kgo's ErrDataLoss was logged as a
// retriable fetch error and the records re-read from the truncation point
// were dropped as "already in the lake".
func TestTruncationWhileRunningIsReported(t *testing.T) {
	w := newWorld(t, 1)
	produced := produceTicks(t, w, false, 300)
	s, stop := runSink(t, w, FlushRecords(100))
	waitCommitted(t, w, s, produced)
	const end = 200
	asked := truncatedEpochs(w.cluster, tick.DefaultTopic, end)
	leader := w.cluster.LeaderFor(tick.DefaultTopic, 0)
	next := (leader + 1) % 3
	require.NoError(t, w.cluster.MoveTopicPartition(tick.DefaultTopic, 0, next))
	require.Eventually(t, func() bool { return s.runErr() != nil || s.Stats().Truncated > 0 },
		30*time.Second, 10*time.Millisecond, "no truncation reported")
	assert.Positive(t, asked.load(), "kgo validated the epoch with the new leader")
	err := stop()
	require.ErrorIs(t, err, ErrTruncated)
	assert.Contains(t, err.Error(), tick.DefaultTopic+"[0]")
	assert.EqualValues(t, 1, s.Stats().Truncated)
}
