package sink

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Issue 21, point 3: one OffsetCommit answered REBALANCE_IN_PROGRESS on the
// final commit made the sink exit with the lake complete and nothing
// committed. A retriable refusal is retried within the commit budget.
func TestFinalCommitRetriesRebalanceInProgress(t *testing.T) {
	w := newWorld(t, 1)
	produced := produceTicks(t, w, false, 300)
	f := w.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Err: kerr.RebalanceInProgress, Count: 1})
	t.Cleanup(f.Remove)
	// Nothing is committed before the final flush: the fault hits it.
	s, stop := runSink(t, w, FlushInterval(time.Hour), FlushRecords(1_000_000))
	require.Eventually(t, func() bool { return s.Stats().Consumed >= produced }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, stop(), "a retriable commit refusal is retried, not an error")
	assert.EqualValues(t, 1, f.Hits(), "the fault was hit")
	assert.Equal(t, produced, s.Stats().Committed[0])
	waitCommitted(t, w, s, produced)
	requireExactlyOnce(t, readLake(t, w.store), produced)
}

// Issue 21, point 3: a batch whose commit was refused (not retriably) and
// never made later is reported when the sink stops, with the partition
// and the offset range, even when its final batch committed: SIGTERM or
// UntilIdle must not look like a clean stop. Here the commit of the
// partition A gives up in a rebalance is refused; B reads it again.
func TestStopReportsUncommittedRanges(t *testing.T) {
	w := newWorld(t, 2)
	produced := produceTicks(t, w, false, 200)
	a, stopA := runSink(t, w, FlushInterval(time.Hour), FlushRecords(1_000_000))
	require.Eventually(t, func() bool { return a.Stats().Consumed >= produced && a.Stats().Partitions == 2 },
		30*time.Second, 10*time.Millisecond)
	// Refuse A's commits (and only A's) with a non-retriable error.
	aMember, _ := a.client.GroupMetadata()
	var (
		mu       sync.Mutex
		refusing = true
		refused  int
	)
	w.cluster.ControlKey(int16(kmsg.OffsetCommit), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		w.cluster.KeepControl()
		req := kr.(*kmsg.OffsetCommitRequest)
		mu.Lock()
		defer mu.Unlock()
		if !refusing || req.MemberID != aMember {
			return nil, nil, false
		}
		refused++
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.IllegalGeneration.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	b, stopB := runSink(t, w, FlushRecords(40))
	require.Eventually(t, func() bool { return b.Stats().Partitions == 1 && len(b.Stats().Committed) == 1 }, 30*time.Second, 10*time.Millisecond)
	mu.Lock()
	require.Positive(t, refused, "A's revocation commit was refused")
	refusing = false // A's final commit of the partition it kept succeeds
	mu.Unlock()
	err := stopA()
	require.ErrorIs(t, err, ErrUncommitted)
	assert.Regexp(t, `offsets left uncommitted: (stock-ticks\[[01]\] [0-9]+-[0-9]+(, )?)+ \(last refusal: ILLEGAL_GENERATION`, err.Error(),
		"names the partition and the range")
	waitCommitted(t, w, b, produced)
	require.NoError(t, stopB())
	requireExactlyOnce(t, readLake(t, w.store), produced)
}

// The commit error classes: what is retried, what is not.
func TestRetriableCommit(t *testing.T) {
	for _, err := range []error{kerr.RebalanceInProgress, kerr.CoordinatorNotAvailable, kerr.NotCoordinator,
		kerr.RequestTimedOut, kerr.CoordinatorLoadInProgress, context.DeadlineExceeded} {
		assert.True(t, retriableCommit(err), "%v", err)
	}
	for _, err := range []error{nil, errNotOwned, kerr.IllegalGeneration, kerr.UnknownMemberID, kerr.GroupAuthorizationFailed} {
		assert.False(t, retriableCommit(err), "%v", err)
	}
}

// Issue 21, point 3: --until-idle ends, with a message, when the member
// owned partitions and then owns none for longer than the idle time (the
// group's other members hold them), instead of waiting forever.
func TestUntilIdleEndsWhenOthersHoldEverything(t *testing.T) {
	w := newWorld(t, 1)
	produced := produceTicks(t, w, false, 100)
	var logs syncLog
	a, stopA := runSink(t, w, UntilIdle(time.Second), Logger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.Eventually(t, func() bool { return a.Stats().Committed[0] == produced }, 30*time.Second, 10*time.Millisecond)
	b, stopB := runSink(t, w)
	// B is a member with nothing to own; evict A: the partition goes to B.
	require.Eventually(t, func() bool {
		m, _ := b.client.GroupMetadata()
		return m != ""
	}, 30*time.Second, 10*time.Millisecond)
	aMember, _ := a.client.GroupMetadata()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = a.cfg.group
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = aMember
	req.Members = append(req.Members, lm)
	resp, err := req.RequestWith(context.Background(), b.client)
	require.NoError(t, err)
	require.NoError(t, kerr.ErrorForCode(resp.ErrorCode))
	require.Eventually(t, func() bool { return b.Stats().Partitions == 1 }, 30*time.Second, 10*time.Millisecond)
	// A stops by itself (stopA only collects Run's result afterwards).
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "owned no partition for the idle time") }, 30*time.Second, 20*time.Millisecond,
		"A waits forever for records it will never get")
	require.NoError(t, stopA())
	require.NoError(t, stopB())
}
