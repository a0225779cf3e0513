package harness_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness"
	"github.com/tickflow/tickflow/harness/lake"
)

// uploadLake copies a fixture lake (a folder that mirrors a bucket) into the
// world's bucket.
func uploadLake(t *testing.T, w *harness.World, dir string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		return w.Store().Put(context.Background(), filepath.ToSlash(rel), b, nil)
	}))
}

// TestLakeAssertionsWithTable: the Lake assertions check any table, given
// its definition, the same way `tickflow verify --table` does.
func TestLakeAssertionsWithTable(t *testing.T) {
	t.Parallel()
	def, err := os.ReadFile("../testdata/lakes/good-clicks/clicks.glue.json")
	require.NoError(t, err)
	clicks, err := lake.ParseTable("clicks.glue.json", def)
	require.NoError(t, err)

	w := harness.Start(t)
	uploadLake(t, w, "../testdata/lakes/good-clicks")
	rep := w.Lake(t).RequireContractClean(lake.WithTable(clicks))
	assert.EqualValues(t, 12, rep.Rows)
	assert.Equal(t, "events/clicks/", rep.Location)

	bad := harness.Start(t)
	uploadLake(t, bad, "../testdata/lakes/bad-clicks-renamed")
	r := run(t.Name(), func(rt testing.TB) { bad.Lake(rt).RequireContractClean(lake.WithTable(clicks)) })
	require.True(t, r.Failed())
	assert.Contains(t, r.Messages(), "L19 schema-drift")
	assert.Contains(t, r.Messages(), "events/clicks/day=2024-03-01/region=eu/part-00000.parquet")
}
