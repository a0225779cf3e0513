package sink

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/objstore"
)

// lastWriterWins is a store (or gateway) that ignores If-None-Match: its
// PutIfAbsent is a plain PUT.
type lastWriterWins struct{ objstore.Store }

func (l lastWriterWins) PutIfAbsent(ctx context.Context, key string, body []byte, meta map[string]string) error {
	return l.Store.Put(ctx, key, body, meta)
}

// syncLog is a log buffer safe to read while the sink writes.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func requireNoProbeLeft(t *testing.T, st objstore.Store) {
	t.Helper()
	objs, err := st.List(context.Background(), "")
	require.NoError(t, err)
	for _, o := range objs {
		assert.NotContains(t, o.Key, FenceProbePrefix, "the probe object is deleted")
	}
}

// Issue 21, point 1: the sink proves the store's conditional writes before
// relying on them. A store that lets a second If-None-Match: * write
// through is refused, naming the store and what it does not support.
func TestRefusesStoreWithoutConditionalWrites(t *testing.T) {
	w := newWorld(t, 1)
	_, err := New(context.Background(), w.brokers, lastWriterWins{w.store}, KafkaOptions(fastKafka...), ProveConditionalWrites())
	require.ErrorIs(t, err, ErrNoConditionalWrites)
	assert.Contains(t, err.Error(), "s3://lake")
	assert.Contains(t, err.Error(), "If-None-Match: *")
	assert.Contains(t, err.Error(), "succeeded instead of answering 412")
	requireNoProbeLeft(t, w.store)

	// A store that honours it passes, and the probe is gone.
	s, err := New(context.Background(), w.brokers, w.store, KafkaOptions(fastKafka...), ProveConditionalWrites())
	require.NoError(t, err)
	s.client.Close()
	requireNoProbeLeft(t, w.store)

	// The unsafe mode runs, and says so at every start.
	var logs syncLog
	s, err = New(context.Background(), w.brokers, lastWriterWins{w.store}, KafkaOptions(fastKafka...), ProveConditionalWrites(),
		UnsafeNoConditionalWrites(), Logger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	s.client.Close()
	assert.True(t, strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "UNSAFE"), logs.String())
}
