package objstore

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/internal/testnet"
)

func TestS3SilentEndpointTimesOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang fails the test, not the run
	defer cancel()
	st, err := NewS3(ctx, S3Config{Endpoint: testnet.SilentEndpoint(t), Bucket: "lake", AccessKey: "k", SecretKey: "s",
		MaxAttempts: 1, Timeout: 100 * time.Millisecond})
	require.NoError(t, err)
	_, err = st.List(ctx, "stock_ticks/")
	require.Error(t, err)
	assert.True(t, IsTimeout(err), "List: %v", err)
	require.NoError(t, ctx.Err(), "the call ended by the test's deadline, not by Timeout")
	err = st.CheckBucket(ctx)
	require.Error(t, err)
	assert.True(t, IsTimeout(err), "CheckBucket: %v", err)
	assert.NotErrorIs(t, err, ErrNoSuchBucket)
}

func TestS3CheckBucket(t *testing.T) {
	ctx := context.Background()
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("lake"))
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	for bucket, want := range map[string]error{"lake": nil, "no-such-bucket": ErrNoSuchBucket} {
		st, err := NewS3(ctx, S3Config{Endpoint: srv.URL, Bucket: bucket, AccessKey: "k", SecretKey: "s"})
		require.NoError(t, err)
		err = st.CheckBucket(ctx)
		if want == nil {
			assert.NoError(t, err)
			continue
		}
		assert.ErrorIs(t, err, want)
		assert.Contains(t, err.Error(), bucket)
		assert.False(t, IsTimeout(err))
	}
}
