// Package objstore is the narrow object-store seam the sink writes through
// and the lake reader reads through: S3 (real AWS or any S3-compatible
// endpoint such as tickflow's fake) or a local folder. Tests and fault
// injection wrap a Store rather than switching on concrete types.
//
//	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: "http://127.0.0.1:9000", Bucket: "lake"})
//	err = st.Put(ctx, "stock_ticks/dt=2024-01-05/hour=10/x.parquet", body, nil)
//	err = st.PutIfAbsent(ctx, key, body, meta) // errors.Is(err, objstore.ErrPreconditionFailed) if key exists
//	objs, err := st.List(ctx, "stock_ticks/")
package objstore

import (
	"context"
	"errors"
)

// ErrNotFound is returned (wrapped) by Get and Head for a missing key.
var ErrNotFound = errors.New("object not found")

// ErrNotRegular is returned (wrapped) by a Dir store's Get and Head for a
// path that is not a regular file (a FIFO, device or socket).
var ErrNotRegular = errors.New("not a regular file")

// ErrPreconditionFailed is returned (wrapped) by PutIfAbsent when the key
// already exists, and by DeleteIfMatch when the object under the key is not
// the one named (S3's 412 PreconditionFailed).
var ErrPreconditionFailed = errors.New("precondition failed")

// Object describes one stored object.
type Object struct {
	Key      string
	Size     int64
	Metadata map[string]string // user metadata, lowercase keys; filled by Head and Get only
	// ETag identifies the object's content as the store reports it (S3:
	// the quoted entity tag; Dir: size and modification time), filled by
	// List, Head and Get; "" when the store reports none. Pass it to
	// DeleteIfMatch.
	ETag string
}

// Store is the object-store seam. Keys are slash-separated, never start with '/'.
type Store interface {
	// Put stores body under key with user metadata, replacing any previous object.
	Put(ctx context.Context, key string, body []byte, meta map[string]string) error
	// PutIfAbsent stores body under key with user metadata only if no object
	// exists under key (S3: PutObject with If-None-Match: *); otherwise it
	// stores nothing and returns an error matching ErrPreconditionFailed.
	// The check and the write are one atomic step. A retried call whose
	// earlier attempt landed also sees ErrPreconditionFailed: compare the
	// existing object's metadata to tell "already mine" from "someone else's".
	PutIfAbsent(ctx context.Context, key string, body []byte, meta map[string]string) error
	// Get returns the object's content and metadata.
	Get(ctx context.Context, key string) ([]byte, Object, error)
	// Head returns the object's size and metadata without its content.
	Head(ctx context.Context, key string) (Object, error)
	// List returns every object whose key starts with prefix, sorted by key,
	// each key once (Metadata not filled).
	List(ctx context.Context, prefix string) ([]Object, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteIfMatch removes key only if the object under it still has
	// etag (from List, Head or Get): S3's DeleteObject with If-Match.
	// Another object under key gives an error matching
	// ErrPreconditionFailed and deletes nothing; a missing key is not an
	// error. Stores that ignore If-Match on DELETE (gofakes3 itself; AWS S3
	// and tickflow serve honour it) delete unconditionally: callers that
	// depend on the condition compare a Head's ETag first to narrow that
	// window.
	DeleteIfMatch(ctx context.Context, key, etag string) error
	// String names the store for messages, e.g. "s3://bucket" or "dir:/tmp/lake".
	String() string
}
