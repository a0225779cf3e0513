package objstore

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func stores(t *testing.T) map[string]Store {
	t.Helper()
	ctx := context.Background()
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("lake"))
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	s3s, err := NewS3(ctx, S3Config{Endpoint: srv.URL, Bucket: "lake", AccessKey: "k", SecretKey: "s"})
	require.NoError(t, err)
	dir, err := NewDir(t.TempDir())
	require.NoError(t, err)
	return map[string]Store{"s3": s3s, "dir": dir}
}

func TestStoreContract(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, st.Put(ctx, "t/a/2.txt", []byte("two"), map[string]string{"End-Offset": "9"}))
			require.NoError(t, st.Put(ctx, "t/a/1.txt", []byte("one"), nil))
			require.NoError(t, st.Put(ctx, "u/x.txt", []byte("x"), nil))

			objs, err := st.List(ctx, "t/")
			require.NoError(t, err)
			require.Len(t, objs, 2)
			assert.Equal(t, "t/a/1.txt", objs[0].Key)
			assert.Equal(t, int64(3), objs[1].Size)

			b, o, err := st.Get(ctx, "t/a/2.txt")
			require.NoError(t, err)
			assert.Equal(t, "two", string(b))
			if name == "s3" {
				assert.Equal(t, "9", o.Metadata["end-offset"])
				h, err := st.Head(ctx, "t/a/2.txt")
				require.NoError(t, err)
				assert.Equal(t, "9", h.Metadata["end-offset"])
			}

			_, _, err = st.Get(ctx, "t/missing")
			assert.ErrorIs(t, err, ErrNotFound)
			_, err = st.Head(ctx, "t/missing")
			assert.ErrorIs(t, err, ErrNotFound)

			require.NoError(t, st.Delete(ctx, "t/a/1.txt"))
			require.NoError(t, st.Delete(ctx, "t/a/1.txt"))
			objs, err = st.List(ctx, "t/")
			require.NoError(t, err)
			assert.Len(t, objs, 1)

			objs, err = st.List(ctx, "nothing/here/")
			require.NoError(t, err)
			assert.Empty(t, objs)
		})
	}
}

func TestPutIfAbsent(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, st.PutIfAbsent(ctx, "c/a/1.txt", []byte("first"), map[string]string{"End-Offset": "9"}))
			err := st.PutIfAbsent(ctx, "c/a/1.txt", []byte("second"), nil)
			require.ErrorIs(t, err, ErrPreconditionFailed)
			assert.Contains(t, err.Error(), "c/a/1.txt", "the error names the key")
			b, _, err := st.Get(ctx, "c/a/1.txt")
			require.NoError(t, err)
			assert.Equal(t, "first", string(b), "a refused PutIfAbsent leaves the object alone")

			// Racing writers: exactly one wins, the others see ErrPreconditionFailed.
			const n = 8
			errs := make(chan error, n)
			for i := range n {
				go func() { errs <- st.PutIfAbsent(ctx, "c/race", []byte(fmt.Sprint("writer ", i)), nil) }()
			}
			won := 0
			for range n {
				err := <-errs
				if err == nil {
					won++
				} else {
					assert.ErrorIs(t, err, ErrPreconditionFailed)
				}
			}
			assert.Equal(t, 1, won)
			objs, err := st.List(ctx, "c/")
			require.NoError(t, err)
			assert.Equal(t, []string{"c/a/1.txt", "c/race"}, keys(objs), "no temporary files are left behind")
		})
	}
}

// A 409 ConditionalRequestConflict (another write to the key in progress) is
// retried: the retry decides between success and ErrPreconditionFailed.
func TestS3PutIfAbsentRetriesConflict(t *testing.T) {
	ctx := context.Background()
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("lake"))
	fake := gofakes3.New(backend).Server()
	var conflicts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && conflicts.Add(1) <= 2 {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ConditionalRequestConflict</Code><Message>A conflicting operation occurred.</Message></Error>`)
			return
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	st, err := NewS3(ctx, S3Config{Endpoint: srv.URL, Bucket: "lake", AccessKey: "k", SecretKey: "s", MaxAttempts: 1})
	require.NoError(t, err)
	require.NoError(t, st.PutIfAbsent(ctx, "k", []byte("v"), nil))
	assert.Equal(t, int32(3), conflicts.Load(), "two 409s, then the write")
	err = st.PutIfAbsent(ctx, "k", []byte("v2"), nil)
	assert.ErrorIs(t, err, ErrPreconditionFailed)
}

// List, Head and Get report one ETag per object; DeleteIfMatch with it
// deletes, and a missing key is not an error.
func TestDeleteIfMatch(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, st.Put(ctx, "e/1.txt", []byte("one"), nil))
			objs, err := st.List(ctx, "e/")
			require.NoError(t, err)
			require.Len(t, objs, 1)
			require.NotEmpty(t, objs[0].ETag)
			h, err := st.Head(ctx, "e/1.txt")
			require.NoError(t, err)
			assert.Equal(t, objs[0].ETag, h.ETag)
			_, g, err := st.Get(ctx, "e/1.txt")
			require.NoError(t, err)
			assert.Equal(t, objs[0].ETag, g.ETag)
			if name == "dir" {
				// gofakes3 itself ignores If-Match on DELETE (broker's
				// TestS3ConditionalWrites checks the S3 side).
				require.NoError(t, st.Put(ctx, "e/1.txt", []byte("a newer one"), nil))
				require.ErrorIs(t, st.DeleteIfMatch(ctx, "e/1.txt", objs[0].ETag), ErrPreconditionFailed)
				h, err = st.Head(ctx, "e/1.txt")
				require.NoError(t, err)
			}
			require.NoError(t, st.DeleteIfMatch(ctx, "e/1.txt", h.ETag))
			_, err = st.Head(ctx, "e/1.txt")
			require.ErrorIs(t, err, ErrNotFound)
			require.NoError(t, st.DeleteIfMatch(ctx, "e/1.txt", h.ETag), "a missing key is not an error")
		})
	}
}

// S3's DeleteIfMatch sends If-Match and reads 412 as ErrPreconditionFailed.
func TestS3DeleteIfMatchHeader(t *testing.T) {
	ctx := context.Background()
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("lake"))
	fake := gofakes3.New(backend).Server()
	var sent atomic.Pointer[string]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			v := r.Header.Get("If-Match")
			sent.Store(&v)
			if v == `"stale"` {
				w.WriteHeader(http.StatusPreconditionFailed)
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>`)
				return
			}
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	st, err := NewS3(ctx, S3Config{Endpoint: srv.URL, Bucket: "lake", AccessKey: "k", SecretKey: "s", MaxAttempts: 1})
	require.NoError(t, err)
	require.NoError(t, st.Put(ctx, "k", []byte("v"), nil))
	err = st.DeleteIfMatch(ctx, "k", `"stale"`)
	require.ErrorIs(t, err, ErrPreconditionFailed)
	assert.Contains(t, err.Error(), "k")
	h, err := st.Head(ctx, "k")
	require.NoError(t, err)
	require.NoError(t, st.DeleteIfMatch(ctx, "k", h.ETag))
	assert.Equal(t, h.ETag, *sent.Load())
	require.Error(t, st.DeleteIfMatch(ctx, "k", ""), "no ETag is no condition: refused")
}
