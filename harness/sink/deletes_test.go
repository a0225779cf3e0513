package sink

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// Issue 21, point 4: the deletes of the listing path (no commit metadata:
// first assignment, offsets expired, offsets reset by an operator).

// lakeOf fills a one-partition lake with objects of at most 20 records
// (and one hour folder) each, committed by a sink that then stops, and
// returns how many records it produced. For 150 records (one a minute from
// 09:30) the objects start at 0, 20, 30, 50, 70, 90, 110 and 130.
func lakeOf(t *testing.T, w *world, records int) int64 {
	t.Helper()
	produced := produceTicks(t, w, false, records)
	z, stopZ := runSink(t, w, FlushRecords(20), FlushInterval(time.Hour), UntilIdle(300*time.Millisecond))
	waitCommitted(t, w, z, produced)
	require.NoError(t, stopZ())
	return produced
}

// keyAt returns the key of partition 0's object that starts at start.
func keyAt(t *testing.T, st objstore.Store, start int64) string {
	t.Helper()
	objs, err := st.List(context.Background(), tick.Table+"/")
	require.NoError(t, err)
	for _, o := range objs {
		if _, p, s, ok := ParseObjectName(o.Key); ok && p == 0 && s == start {
			return o.Key
		}
	}
	t.Fatalf("no object starts at %d", start)
	return ""
}

func exists(t *testing.T, st objstore.Store, key string) bool {
	t.Helper()
	_, err := st.Head(context.Background(), key)
	if errors.Is(err, objstore.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

// resetCommit commits at for partition 0 of the default group with no
// metadata, as `kafka-consumer-groups --reset-offsets` does: the next
// owner has no commit metadata and reconciles from a listing.
func resetCommit(t *testing.T, w *world, at int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	require.NoError(t, err)
	defer cl.Close()
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: tick.DefaultTopic, Partition: 0, At: at, LeaderEpoch: -1})
	resp, err := kadm.NewClient(cl).CommitOffsets(context.Background(), defaults().group, offs)
	require.NoError(t, err)
	require.NoError(t, resp.Error())
}

// Two objects with the same start offset below the committed offset both
// hold committed records: Athena counts them twice, and which one the
// commit was made for cannot be told from a listing. On main the sink
// deleted the lexically first one and went on (a coin toss); it must stop
// with an error naming both keys, and delete neither.
func TestDuplicateStartBelowCommitIsReported(t *testing.T) {
	w := newWorld(t, 1)
	produced := lakeOf(t, w, 100)
	ctx := context.Background()
	k := keyAt(t, w.store, 20)
	// The same start in another hour folder, as an owner that decoded the
	// head record differently (an upgrade) would have named it.
	dup := regexp.MustCompile(`/hour=\d\d/`).ReplaceAllString(k, "/hour=23/")
	if dup == k {
		dup = strings.Replace(k, "/hour=23/", "/hour=22/", 1)
	}
	body, o, err := w.store.Get(ctx, k)
	require.NoError(t, err)
	require.NoError(t, w.store.PutIfAbsent(ctx, dup, body, o.Metadata))
	resetCommit(t, w, produced)

	s, err := New(ctx, w.brokers, w.store, KafkaOptions(fastKafka...), FlushInterval(200*time.Millisecond), UntilIdle(500*time.Millisecond))
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the sink did not stop within 60s")
	}
	assert.True(t, exists(t, w.store, k), "%s was deleted", k)
	assert.True(t, exists(t, w.store, dup), "%s was deleted", dup)
	assert.Zero(t, s.Stats().OrphansDeleted)
	require.Error(t, runErr, "two objects at one start below the commit must stop the sink")
	assert.ErrorIs(t, runErr, ErrDuplicateStart)
	assert.Contains(t, runErr.Error(), k)
	assert.Contains(t, runErr.Error(), dup)
}

// heldDeletes fails every delete with a retriable error until released,
// then forwards them, recording what it deleted after the release.
type heldDeletes struct {
	objstore.Store
	released atomic.Bool
	attempts atomic.Int32
	mu       sync.Mutex
	deleted  []string // forwarded after the release and gone
}

func (h *heldDeletes) hold(key string) error {
	h.attempts.Add(1)
	if !h.released.Load() {
		return errors.New("injected: 503 SlowDown for " + key)
	}
	return nil
}

func (h *heldDeletes) forwarded(key string, err error) error {
	if err == nil {
		h.mu.Lock()
		h.deleted = append(h.deleted, key)
		h.mu.Unlock()
	}
	return err
}

func (h *heldDeletes) Delete(ctx context.Context, key string) error {
	if err := h.hold(key); err != nil {
		return err
	}
	return h.forwarded(key, h.Store.Delete(ctx, key))
}

func (h *heldDeletes) DeleteIfMatch(ctx context.Context, key, etag string) error {
	if err := h.hold(key); err != nil {
		return err
	}
	return h.forwarded(key, h.Store.(interface {
		DeleteIfMatch(context.Context, string, string) error
	}).DeleteIfMatch(ctx, key, etag))
}

func (h *heldDeletes) afterRelease() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.deleted...)
}

// A member reconciling from a listing retries the delete of an off-chain
// object while the group gives its partition to another member (here: its
// heartbeats never reach the coordinator, as when its process is frozen,
// and the coordinator evicts it). The new owner deletes the same orphans,
// rewrites the range and commits, under the very key of one of the
// orphans. On main the frozen member's retried DELETE then removed the new
// owner's committed object; it must check that it still owns the partition
// before every DELETE and stop retrying once it does not.
func TestListingDeleteStopsWhenOwnershipIsLost(t *testing.T) {
	w := newWorld(t, 1)
	produced := lakeOf(t, w, 150)
	// Offsets reset to the start, and the object at 50 gone: the chain
	// ends at 50, the objects from 70 on are off it.
	resetCommit(t, w, 0)
	require.NoError(t, w.store.Delete(context.Background(), keyAt(t, w.store, 50)))
	k70 := keyAt(t, w.store, 70)

	held := &heldDeletes{Store: w.store}
	var logs syncBuffer
	a, stopA := runSink(t, &world{brokers: w.brokers, store: held}, FlushRecords(20), FlushInterval(time.Hour),
		Retry(1_000_000, time.Millisecond, 10*time.Millisecond), Logger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.Eventually(t, func() bool { return held.attempts.Load() > 0 }, 30*time.Second, 5*time.Millisecond, "A deletes an orphan")

	// Freeze A as the coordinator sees it: its heartbeats are answered
	// without reaching the group, so A's client never learns that A is
	// evicted; then evict it.
	aMember, _ := a.client.GroupMetadata()
	require.NotEmpty(t, aMember)
	w.cluster.ControlKey(int16(kmsg.Heartbeat), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		w.cluster.KeepControl()
		req := kr.(*kmsg.HeartbeatRequest)
		if req.MemberID != aMember {
			return nil, nil, false
		}
		return req.ResponseKind(), nil, true
	})
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = a.cfg.group
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = aMember
	leave.Members = append(leave.Members, lm)
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	resp, err := leave.RequestWith(context.Background(), cl)
	require.NoError(t, err)
	require.NoError(t, kerr.ErrorForCode(resp.ErrorCode))

	// B takes the partition: it lists, deletes the orphans itself,
	// rewrites [50, 150) with the same cuts (the object at 70 under k70
	// again) and commits. A either keeps retrying its DELETE (main) or
	// gives up; then it is stopped, or as a new member it could take the
	// partition back and hold it retrying deletes this test fails.
	b, stopB := runSink(t, w, FlushRecords(20), FlushInterval(time.Hour))
	gaveUp := func() bool { return strings.Contains(logs.String(), "no longer owned") }
	require.Eventually(t, func() bool { return gaveUp() || committedOffset(t, w) >= produced }, 60*time.Second, 10*time.Millisecond)
	var aStopped atomic.Bool
	if gaveUp() {
		_ = stopA()
		aStopped.Store(true)
	}
	waitCommitted(t, w, b, produced)
	require.True(t, exists(t, w.store, k70), "B rewrote %s", k70)

	// A's store answers again: a DELETE still retried now removes B's
	// committed objects.
	held.released.Store(true)
	require.Eventually(t, func() bool { return aStopped.Load() || strings.Contains(logs.String(), "deleted off-chain object") },
		60*time.Second, 10*time.Millisecond, "A neither deleted nor gave up")
	assert.Empty(t, held.afterRelease(), "A deleted objects of a partition it no longer owned")
	assert.True(t, exists(t, w.store, k70), "B's committed object %s is gone", k70)
	assert.True(t, gaveUp(), "A says why it stopped deleting")
	require.NoError(t, stopB())
	requireExactlyOnce(t, readLake(t, w.store), produced)
}

// committedOffset is partition 0's committed offset in the default group
// (-1: none, or not known now).
func committedOffset(t *testing.T, w *world) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	require.NoError(t, err)
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(context.Background(), defaults().group)
	if err != nil {
		return -1
	}
	if o, ok := offs.Lookup(tick.DefaultTopic, 0); ok && o.Err == nil {
		return o.At
	}
	return -1
}

// swapBeforeDelete replaces the object at key with another one just before
// the first delete of key reaches the store, as a newer owner's object
// landing between the listing and a late DELETE, and records whether the
// replacement survived that DELETE.
type swapBeforeDelete struct {
	objstore.Store
	key      string
	body     []byte
	once     sync.Once
	done     chan struct{}
	survived atomic.Bool
}

func (s *swapBeforeDelete) swap(ctx context.Context, key string, del func() error) error {
	if key != s.key {
		return del()
	}
	var err error
	first := false
	s.once.Do(func() {
		first = true
		if err = s.Store.Delete(ctx, key); err == nil {
			err = s.Store.PutIfAbsent(ctx, key, s.body, map[string]string{"note": "a newer owner's object"})
		}
	})
	if err != nil {
		return err
	}
	err = del()
	if first {
		b, _, gerr := s.Store.Get(context.WithoutCancel(ctx), key)
		s.survived.Store(gerr == nil && string(b) == string(s.body))
		close(s.done)
	}
	return err
}

func (s *swapBeforeDelete) Delete(ctx context.Context, key string) error {
	return s.swap(ctx, key, func() error { return s.Store.Delete(ctx, key) })
}

func (s *swapBeforeDelete) DeleteIfMatch(ctx context.Context, key, etag string) error {
	return s.swap(ctx, key, func() error {
		return s.Store.(interface {
			DeleteIfMatch(context.Context, string, string) error
		}).DeleteIfMatch(ctx, key, etag)
	})
}

// The DELETE of an off-chain object carries If-Match with the ETag the
// listing saw, so an object written under that key since the listing (a
// newer owner's, while this DELETE was on its way) is not removed. On main
// the DELETE was unconditional and removed it. Run against the fake S3 of
// `tickflow serve` (package broker), which answers If-Match on DELETE as
// AWS does.
func TestListingDeleteIsConditional(t *testing.T) {
	ctx := context.Background()
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	bw, err := broker.Start(startCtx, broker.Brokers(1), broker.Partitions(1), broker.GroupMinSessionTimeout(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = bw.Close() })
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: bw.S3Endpoint(), Bucket: bw.Bucket(), Region: bw.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey, MaxAttempts: 1})
	require.NoError(t, err)
	w := &world{brokers: bw.KafkaAddrs(), store: st}
	lakeOf(t, w, 150)
	resetCommit(t, w, 0)
	require.NoError(t, st.Delete(ctx, keyAt(t, st, 50)))

	sw := &swapBeforeDelete{Store: st, key: keyAt(t, st, 70), body: []byte("a newer owner's object"), done: make(chan struct{})}
	_, stop := runSink(t, &world{brokers: w.brokers, store: sw}, FlushRecords(20), FlushInterval(time.Hour))
	select {
	case <-sw.done:
	case <-time.After(60 * time.Second):
		t.Fatal("the sink never deleted the off-chain object")
	}
	assert.True(t, sw.survived.Load(), "a DELETE of %s removed the object written there after the listing", sw.key)
	_ = stop()
}
