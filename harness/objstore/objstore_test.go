package objstore

import (
	"context"
	"net/http/httptest"
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
