package demo_test

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoDuckDB: the demo library stays cgo-free; the CLI runs the sample SQL
// (harness/lake/query, DuckDB) itself.
func TestNoDuckDB(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/tickflow/tickflow/harness/demo").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := string(out)
	require.Contains(t, deps, "github.com/tickflow/tickflow/harness/lake", "go list output looks wrong")
	assert.NotContains(t, deps, "duckdb")
	assert.NotContains(t, deps, "harness/lake/query")
}
