package lake_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoDuckDBInLake: importing harness/lake must not link DuckDB (cgo, a
// 70 MB binary); SQL lives in harness/lake/query.
func TestNoDuckDBInLake(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/tickflow/tickflow/harness/lake").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := string(out)
	require.Contains(t, deps, "github.com/parquet-go/parquet-go", "go list output looks wrong")
	assert.NotContains(t, deps, "duckdb")
	assert.False(t, strings.Contains(deps, "harness/lake/query"))
}
