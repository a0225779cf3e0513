//go:build !cgo

package query_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/lake/query"
	"github.com/tickflow/tickflow/harness/tick"
)

// Without cgo there is no DuckDB: Run says so instead of failing obscurely.
func TestRunNeedsCgo(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, tick.Table), 0o755))
	_, err := query.Run(context.Background(), dir, "SELECT 1")
	assert.ErrorIs(t, err, query.ErrNeedsCgo)
}
