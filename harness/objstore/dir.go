package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Dir is a Store over a local folder: keys are paths relative to Root. It
// keeps no user metadata (Put ignores it, Head and Get return none), so it
// suits reading a downloaded lake (`aws s3 sync`) and writing test fixtures.
type Dir struct {
	Root string
}

// NewDir returns a Store rooted at the folder root, which must exist.
func NewDir(root string) (*Dir, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("objstore: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("objstore: %s is not a folder", root)
	}
	// A symlinked root (or a root reached through one) is walked as the
	// folder it points to.
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	return &Dir{Root: root}, nil
}

func (d *Dir) String() string { return "dir:" + d.Root }

func (d *Dir) path(key string) string { return filepath.Join(d.Root, filepath.FromSlash(key)) }

func (d *Dir) Put(_ context.Context, key string, body []byte, _ map[string]string) error {
	p := d.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("put %s: %w", p, err)
	}
	tmp := p + ".partial"
	if err := os.WriteFile(tmp, body, 0o644); err != nil {
		return fmt.Errorf("put %s: %w", p, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("put %s: %w", p, err)
	}
	return nil
}

// PutIfAbsent writes body to a temporary file and hard-links it into place:
// link(2) fails if the name exists, so the existence check and the write are
// one atomic step and a reader never sees a half-written file.
func (d *Dir) PutIfAbsent(_ context.Context, key string, body []byte, _ map[string]string) error {
	p := d.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("put-if-absent %s: %w", p, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), filepath.Base(p)+".partial-*")
	if err != nil {
		return fmt.Errorf("put-if-absent %s: %w", p, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		return fmt.Errorf("put-if-absent %s: %w", p, err)
	}
	if err := os.Link(tmp.Name(), p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("put-if-absent %s: %w", p, ErrPreconditionFailed)
		}
		return fmt.Errorf("put-if-absent %s: %w", p, err)
	}
	return nil
}

func (d *Dir) Get(_ context.Context, key string) ([]byte, Object, error) {
	// Refuse FIFOs, devices and sockets (also behind a symlink): reading one
	// would block forever or never end.
	if st, err := os.Stat(d.path(key)); err == nil && !st.Mode().IsRegular() {
		return nil, Object{}, fmt.Errorf("get %s: %w", d.path(key), ErrNotRegular)
	}
	b, err := os.ReadFile(d.path(key))
	if err != nil {
		return nil, Object{}, fmt.Errorf("get %s: %w", d.path(key), notFound(err))
	}
	o := Object{Key: key, Size: int64(len(b))}
	if st, err := os.Stat(d.path(key)); err == nil {
		o.ETag = dirETag(st)
	}
	return b, o, nil
}

func (d *Dir) Head(_ context.Context, key string) (Object, error) {
	st, err := os.Stat(d.path(key))
	if err != nil {
		return Object{}, fmt.Errorf("head %s: %w", d.path(key), notFound(err))
	}
	if st.IsDir() {
		return Object{}, fmt.Errorf("head %s: %w: is a folder", d.path(key), ErrNotFound)
	}
	if !st.Mode().IsRegular() {
		return Object{}, fmt.Errorf("head %s: %w", d.path(key), ErrNotRegular)
	}
	return Object{Key: key, Size: st.Size(), ETag: dirETag(st)}, nil
}

func (d *Dir) List(_ context.Context, prefix string) ([]Object, error) {
	// Walk from the deepest folder the prefix names, then filter by prefix.
	start := d.Root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = d.path(prefix[:i])
	}
	if _, err := os.Stat(start); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var objs []Object
	visited := map[string]bool{} // real paths of folders walked: symlink loops end here
	var walk func(dir, key string) error
	walk = func(dir, key string) error {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return err
		}
		if visited[real] {
			// Only a symlinked folder can lead back to a folder already walked.
			return fmt.Errorf("%s: symbolic link loop (it leads back to %s)", key, real)
		}
		visited[real] = true
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			rel, err := filepath.Rel(d.Root, p)
			if err != nil {
				return err
			}
			key := filepath.ToSlash(rel)
			// Size through the link. A dangling or looping link is an error
			// naming the key, never a silently empty object.
			info, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			if info.IsDir() {
				if strings.HasPrefix(key+"/", prefix) || strings.HasPrefix(prefix, key+"/") {
					if err := walk(p, key); err != nil {
						return err
					}
				}
				continue
			}
			if strings.HasPrefix(key, prefix) {
				objs = append(objs, Object{Key: key, Size: info.Size(), ETag: dirETag(info)})
			}
		}
		return nil
	}
	if err := walk(start, strings.TrimSuffix(prefix, "/")); err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", d.Root, prefix, err)
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	return objs, nil
}

func (d *Dir) Delete(_ context.Context, key string) error {
	if err := os.Remove(d.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", d.path(key), err)
	}
	return nil
}

// DeleteIfMatch removes key if its ETag (size and modification time) is
// still etag. The comparison and the removal are two steps: another
// process replacing the file in between is not detected (a folder is for
// one writer; S3 checks both in one step).
func (d *Dir) DeleteIfMatch(ctx context.Context, key, etag string) error {
	st, err := os.Stat(d.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete-if-match %s: %w", d.path(key), err)
	}
	if got := dirETag(st); got != etag {
		return fmt.Errorf("delete-if-match %s: %w (ETag %s, not %s)", d.path(key), ErrPreconditionFailed, got, etag)
	}
	return d.Delete(ctx, key)
}

// dirETag stands in for an ETag in a folder: size and modification time.
func dirETag(st fs.FileInfo) string {
	return fmt.Sprintf(`"%x-%x"`, st.Size(), st.ModTime().UnixNano())
}

func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return err
}
