package sink

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/tick"
)

// admin is a kadm client of w's cluster for a test.
func admin(t testing.TB, w *world) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// deleteRecordsBelow moves partition 0's log start to lo (retention).
func deleteRecordsBelow(t testing.TB, w *world, lo int64) {
	t.Helper()
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: tick.DefaultTopic, Partition: 0, At: lo})
	dr, err := admin(t, w).DeleteRecords(context.Background(), os)
	require.NoError(t, err)
	require.NoError(t, dr.Error())
}

// The group's commit is gone (offsets.retention.minutes passed while no
// member ran, or an operator deleted it) and retention moved the log start
// past the lake's end. The next sink has no commit and reconciles from the
// lake: the offsets between the lake's end and the log start are lost, and
// must be counted as expired (K01), not left as a hole between two objects
// (L12) that looks like the lake lost them.
func TestNoCommitLogStartPastLakeEndCountsExpired(t *testing.T) {
	w := newWorld(t, 1)
	first := produceTicks(t, w, false, 300)
	a, stopA := runSink(t, w, FlushRecords(100))
	waitCommitted(t, w, a, first)
	require.NoError(t, stopA())
	second := produceTicks(t, w, false, 300)
	const logStart = 450
	deleteRecordsBelow(t, w, logStart)
	adm := admin(t, w)
	del, err := adm.DeleteOffsets(context.Background(), "tickflow-sink", kadm.TopicsSet{tick.DefaultTopic: {0: {}}})
	require.NoError(t, err)
	require.NoError(t, del.Error())

	b, stopB := runSink(t, w, FlushRecords(100))
	waitCommitted(t, w, b, first+second)
	require.NoError(t, stopB())
	assert.EqualValues(t, logStart-first, b.Stats().Expired, "the gap between the lake's end and the log start counts as expired")
	var expired int
	for _, o := range readLake(t, w.store) {
		h, err := w.store.Head(context.Background(), o.key)
		require.NoError(t, err)
		if v := h.Metadata[MetaExpired]; v != "" {
			assert.Equal(t, first, o.start, "the expired range opens the object that starts at the lake's end")
			expired, _ = strconv.Atoi(v)
		}
	}
	assert.EqualValues(t, logStart-first, expired)
	rep, err := lake.Check(context.Background(), w.store, "")
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Violations)
	assert.Equal(t, []string{"K01"}, rep.Rules())
	assert.EqualValues(t, logStart-first, rep.Partitions[0].Expired)
}
