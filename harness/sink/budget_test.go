package sink

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pollRecords bounds the records one poll takes (tests only), so a test
// knows how many batches the poll loop makes of records already fetched.
func pollRecords(n int) Option { return func(c *config) { c.pollRecords = n } }

// Issue 21, point 8: while S3 hangs, the flusher's queue fills up. The
// poll loop used to block handing the next batch over while it held the
// rebalance (BlockRebalanceOnPoll), and a revocation blocked the same way
// before its bounded wait even began: the member could not rejoin within
// the rebalance timeout, the coordinator evicted it and every partition it
// owned moved (a group-wide stall of one rebalance timeout, and all its
// work lost). Now the poll loop waits for room before it polls, with
// rebalances allowed, and a revocation never waits longer than its budget:
// the member stays in the group, keeps one partition and hands the other
// over while its uploads are still held.
func TestRejoinWhileUploadsHang(t *testing.T) {
	w := newWorld(t, 2)
	produced := produceTicks(t, w, false, 600)
	hold := newHoldingStore(w.store)
	hold.arm() // every upload of A hangs until hold.free
	t.Cleanup(hold.free)
	var logsA syncLog
	// 50 records a poll, a segment every 10 records: every poll makes one
	// batch, so the flusher (stuck on the first) has a full queue after
	// three polls of records A already fetched.
	a, stopA := runSink(t, &world{brokers: w.brokers, store: hold}, pollRecords(50), FlushRecords(10), FlushInterval(time.Hour),
		CallTimeout(time.Minute), Logger(slog.New(slog.NewTextHandler(io.MultiWriter(&logsA, tWriter{t, "A"}), &slog.HandlerOptions{Level: slog.LevelInfo}))))
	require.Eventually(t, func() bool { return a.Stats().Partitions == 2 && a.Stats().Consumed >= 150 && hold.heldPuts() >= 1 },
		30*time.Second, 10*time.Millisecond)
	b, stopB := runSink(t, w, Logger(slog.New(slog.NewTextHandler(tWriter{t, "B"}, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	require.Eventually(t, func() bool {
		return a.Stats().Partitions == 1 && b.Stats().Partitions == 1 && len(b.Stats().Committed) == 1
	}, 30*time.Second, 10*time.Millisecond,
		"A did not rejoin within the rebalance timeout (the coordinator evicted it, B took every partition)")
	assert.NotContains(t, logsA.String(), "partitions lost", "A was evicted from the group")
	hold.free()
	require.NoError(t, stopA()) // A's last records wait for its shutdown (FlushInterval 1h)
	waitCommitted(t, w, b, produced)
	require.NoError(t, stopB())
	requireExactlyOnce(t, readLake(t, w.store), produced)
}

// Issue 21, point 8: the budgets are derived from the rebalance timeout
// the group actually uses. A kgo.RebalanceTimeout passed through
// KafkaOptions (applied after the sink's own) used to leave the sink
// budgeting for its default 15s while the coordinator evicted it after
// the shorter time.
func TestBudgetsFollowTheClientsRebalanceTimeout(t *testing.T) {
	w := newWorld(t, 1)
	for _, tc := range []struct {
		opts []Option
		want time.Duration
	}{
		{nil, DefaultRebalanceTimeout},
		{[]Option{RebalanceTimeout(7 * time.Second)}, 7 * time.Second},
		{[]Option{KafkaOptions(kgo.RebalanceTimeout(4 * time.Second))}, 4 * time.Second},
		{[]Option{RebalanceTimeout(9 * time.Second), KafkaOptions(kgo.RebalanceTimeout(5 * time.Second))}, 5 * time.Second},
	} {
		s, err := New(context.Background(), w.brokers, w.store, tc.opts...)
		require.NoError(t, err)
		s.client.Close()
		assert.Equal(t, tc.want, s.client.OptValue(kgo.RebalanceTimeout), "the group's rebalance timeout")
		assert.Equal(t, tc.want, s.cfg.rebalanceTimeout(), "the sink budgets for the group's rebalance timeout")
		assert.Less(t, s.cfg.revokeBudget()+s.cfg.commitAttemptTimeout(), tc.want)
	}
}
