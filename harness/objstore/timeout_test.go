package objstore

import (
	"context"
	"io"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SilentEndpoint returns the URL of a loopback listener that accepts
// connections, reads what is sent and never answers; stopped by t.Cleanup.
func silentEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

func TestS3SilentEndpointTimesOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang fails the test, not the run
	defer cancel()
	st, err := NewS3(ctx, S3Config{Endpoint: silentEndpoint(t), Bucket: "lake", AccessKey: "k", SecretKey: "s",
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
