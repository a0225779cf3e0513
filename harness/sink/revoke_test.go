package sink

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/objstore"
)

// holdingStore holds every PutIfAbsent while armed until released, then
// applies it even if the caller gave up meanwhile: a proxy that received
// the whole request and forwards it late.
type holdingStore struct {
	objstore.Store
	mu      sync.Mutex
	armed   bool
	release chan struct{}
	held    int
}

func newHoldingStore(st objstore.Store) *holdingStore {
	return &holdingStore{Store: st, release: make(chan struct{})}
}

func (h *holdingStore) arm() {
	h.mu.Lock()
	h.armed = true
	h.mu.Unlock()
}

// free lets every held PUT through and stops holding; safe to call twice.
func (h *holdingStore) free() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.armed {
		h.armed = false
		close(h.release)
	}
}

func (h *holdingStore) heldPuts() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held
}

func (h *holdingStore) PutIfAbsent(ctx context.Context, key string, body []byte, meta map[string]string) error {
	h.mu.Lock()
	armed, release := h.armed, h.release
	if armed {
		h.held++
	}
	h.mu.Unlock()
	if armed {
		<-release
		ctx = context.WithoutCancel(ctx)
	}
	return h.Store.PutIfAbsent(ctx, key, body, meta)
}

// Issue 21, point 0: a revoked member does not hold its partitions (and so
// the group) while an upload of theirs hangs: after its revocation budget
// it lets them go, the next owner writes the same key first, and the late
// PUT that lands afterwards is refused by the conditional write.
func TestRevocationDoesNotWaitForAHungUpload(t *testing.T) {
	w := newWorld(t, 2)
	produced := produceTicks(t, w, false, 200)
	hold := newHoldingStore(w.store)
	t.Cleanup(hold.free)
	a, stopA := runSink(t, &world{brokers: w.brokers, store: hold}, FlushInterval(time.Hour), FlushRecords(1_000_000),
		RebalanceTimeout(6*time.Second), CallTimeout(time.Minute), Logger(slog.New(slog.NewTextHandler(tWriter{t, "A"}, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	require.Eventually(t, func() bool { return a.Stats().Consumed >= produced && a.Stats().Partitions == 2 },
		30*time.Second, 10*time.Millisecond)
	hold.arm()
	b, stopB := runSink(t, w, FlushRecords(40), RebalanceTimeout(6*time.Second), Logger(slog.New(slog.NewTextHandler(tWriter{t, "B"}, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	// B gets a partition (and commits it) although A's revocation upload
	// never finishes.
	require.Eventually(t, func() bool { return b.Stats().Partitions >= 1 && len(b.Stats().Committed) >= 1 }, 30*time.Second, 10*time.Millisecond,
		"the revoked partition did not move while its upload hung")
	require.GreaterOrEqual(t, hold.heldPuts(), 1, "A's revocation upload is held")
	// Now A's late PUT lands: the conditional write refuses or adopts it.
	hold.free()
	require.NoError(t, stopA())
	waitCommitted(t, w, b, produced)
	require.NoError(t, stopB())
	requireExactlyOnce(t, readLake(t, w.store), produced)
}

// tWriter writes log lines to t.Log, each with a name.
type tWriter struct {
	t    testing.TB
	name string
}

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(w.name + ": " + string(p))
	return len(p), nil
}
