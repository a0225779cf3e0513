package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerifyInferSummary: issue 20 measured verify --infer on 4,338
// one-record objects at the root print 52,057 lines (a table per object)
// and no summary. The summary comes first and says why; the tables need
// --verbose.
func TestVerifyInferSummary(t *testing.T) {
	const n = 300
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		body := fmt.Sprintf(`{"symbol":"HSI","price":%d.5}`+"\n", i)
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("tick-%04d.json", i)), []byte(body), 0o644))
	}
	// And one well-laid-out table next to them.
	good := filepath.Join(dir, "clicks", "dt=2024-01-01")
	require.NoError(t, os.MkdirAll(good, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(good, "a.json"), []byte(`{"page":"/"}`+"\n"), 0o644))

	out, code := runLakeCmd(t, "verify", "--infer", "--dir", dir)
	require.Equal(t, exitOK, code, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Less(t, len(lines), 10, "a summary, not a table per object:\n%s", out)
	assert.Contains(t, lines[0], "would create 301 tables")
	assert.Contains(t, out, "clicks/: 1 object, 1 table")
	assert.Contains(t, out, "300 objects at the root: the crawler makes one table per object — put them under a folder")
	assert.Contains(t, out, "301 tables predicted: --verbose lists each with its columns")
	assert.NotContains(t, out, "PREDICTED GLUE TABLES")

	out, code = runLakeCmd(t, "verify", "--infer", "--verbose", "--dir", dir)
	require.Equal(t, exitOK, code, out)
	assert.True(t, strings.HasPrefix(out, "A default Glue crawler"), "the summary still comes first")
	assert.Contains(t, out, "PREDICTED GLUE TABLES (301)")
	assert.Contains(t, out, "tick_0299")

	out, code = runLakeCmd(t, "verify", "--infer", "--strict", "--dir", dir)
	assert.Equal(t, exitUsage, code, out)
	assert.Contains(t, out, "--infer predicts tables")
	out, code = runLakeCmd(t, "verify", "--verbose", "--dir", dir)
	assert.Equal(t, exitUsage, code, out)
	assert.Contains(t, out, "--verbose only applies with --infer")
}
