package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStaticBinary builds tickflow with CGO_ENABLED=0: it must build, be
// statically linked, run the commands that need no DuckDB, and have `query`
// say in one line that it needs the cgo build.
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a second binary")
	}
	bin := filepath.Join(t.TempDir(), "tickflow-static")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "CGO_ENABLED=0 go build: %s", out)

	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "a static binary has no dynamic loader")
	}

	cmd := exec.Command(bin, "query", "SELECT 1", "--dir", t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, exitUsage, ee.ExitCode())
	msg := strings.TrimSpace(stderr.String())
	assert.Contains(t, msg, "needs DuckDB")
	assert.Contains(t, msg, "cgo build")
	assert.NotContains(t, msg, "\n")

	out, err = exec.Command(bin, "ddl", "--location", "s3://lake/prod/").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "CREATE EXTERNAL TABLE")
	out, err = exec.Command(bin, "demo", "--records", "300").CombinedOutput()
	require.NoError(t, err, "the static binary runs the whole demo: %s", out)
	assert.Contains(t, string(out), "OK: 300 produced = 300 landed")
	assert.Contains(t, string(out), "sample SQL query skipped")
}
