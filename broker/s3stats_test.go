package broker

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/objstore"
)

func TestS3StatsCountRequestsErrorsAndInjectedFaults(t *testing.T) {
	w := startWorld(t, Brokers(1))
	store := newStore(t, w)
	ctx := context.Background()

	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, store.Put(ctx, k, []byte("x"), nil))
	}
	_, err := store.Head(ctx, "missing")
	require.True(t, errors.Is(err, objstore.ErrNotFound), "HEAD of a missing key: %v", err)
	f := w.Coordinator().FailS3(S3Fault{Op: "PUT", Status: 503, Count: 2})
	require.NoError(t, f.Err())
	for _, k := range []string{"d", "e"} {
		require.Error(t, store.Put(ctx, k, []byte("x"), nil))
	}
	_, err = store.List(ctx, "")
	require.NoError(t, err)

	byOp := map[string]S3OpStats{}
	for _, s := range w.S3Stats() {
		byOp[s.Op] = s
	}
	assert.Equal(t, int64(5), byOp["PUT"].Requests)
	assert.Equal(t, map[int]int64{503: 2}, byOp["PUT"].Errors)
	assert.Equal(t, int64(2), byOp["PUT"].Injected)
	assert.Equal(t, int64(1), byOp["HEAD"].Requests)
	assert.Equal(t, map[int]int64{404: 1}, byOp["HEAD"].Errors)
	assert.Equal(t, int64(0), byOp["HEAD"].Injected)
	assert.GreaterOrEqual(t, byOp["LIST"].Requests, int64(1))
	assert.Empty(t, byOp["LIST"].Errors)
}
