package objstore

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func keys(objs []Object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.Key)
	}
	return ks
}

func TestDirFollowsSymlinksAndRefusesSpecialFiles(t *testing.T) {
	ctx := context.Background()
	real := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(real, "t", "a"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(real, "t", "a", "x.json"), []byte("{}\n"), 0o644))
	other := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(other, "y.json"), []byte("{}\n"), 0o644))
	require.NoError(t, os.Symlink(other, filepath.Join(real, "t", "linked"))) // symlinked folder
	require.NoError(t, syscall.Mkfifo(filepath.Join(other, "fifo"), 0o644))
	require.NoError(t, os.Symlink(filepath.Join(other, "fifo"), filepath.Join(real, "t", "a", "fifo.json")))

	link := filepath.Join(t.TempDir(), "lake")
	require.NoError(t, os.Symlink(real, link)) // symlinked root
	d, err := NewDir(link)
	require.NoError(t, err)

	objs, err := d.List(ctx, "t/")
	require.NoError(t, err)
	assert.Equal(t, []string{"t/a/fifo.json", "t/a/x.json", "t/linked/fifo", "t/linked/y.json"}, keys(objs))

	_, _, err = d.Get(ctx, "t/a/fifo.json")
	assert.ErrorIs(t, err, ErrNotRegular, "a FIFO must be refused, not read (that would block)")
	_, err = d.Head(ctx, "t/linked/fifo")
	assert.ErrorIs(t, err, ErrNotRegular)
	b, _, err := d.Get(ctx, "t/linked/y.json")
	require.NoError(t, err)
	assert.Equal(t, "{}\n", string(b))

	objs, err = d.List(ctx, "t/a/x")
	require.NoError(t, err)
	assert.Equal(t, []string{"t/a/x.json"}, keys(objs))
}

func TestDirListNamesBrokenLinks(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		link func(root string) error
		want string
	}{
		{"dangling", func(root string) error {
			return os.Symlink(filepath.Join(root, "missing"), filepath.Join(root, "t", "a", "dangling"))
		}, "t/a/dangling"},
		{"loop to an ancestor", func(root string) error {
			return os.Symlink(filepath.Join(root, "t"), filepath.Join(root, "t", "a", "loop"))
		}, "t/a/loop: symbolic link loop"},
		{"links to each other", func(root string) error {
			if err := os.Symlink("y", filepath.Join(root, "t", "a", "x")); err != nil {
				return err
			}
			return os.Symlink("x", filepath.Join(root, "t", "a", "y"))
		}, "t/a/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(root, "t", "a"), 0o755))
			require.NoError(t, tc.link(root))
			d, err := NewDir(root)
			require.NoError(t, err)
			_, err = d.List(ctx, "t/")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
