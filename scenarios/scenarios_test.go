package scenarios

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binDir holds the binaries the tests build (removed by TestMain).
var binDir = sync.OnceValues(func() (string, error) { return os.MkdirTemp("", "tickflow-scenarios-") })

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := binDir(); err == nil {
		_ = os.RemoveAll(dir)
	}
	os.Exit(code)
}

var (
	builds   sync.Mutex
	built    = map[string]string{} // package → binary
	buildErr = map[string]error{}
)

// goBuild builds pkg once per test run and returns the binary.
func goBuild(t *testing.T, pkg string) string {
	t.Helper()
	builds.Lock()
	defer builds.Unlock()
	if bin, ok := built[pkg]; ok || buildErr[pkg] != nil {
		require.NoError(t, buildErr[pkg])
		return bin
	}
	dir, err := binDir()
	require.NoError(t, err)
	bin := filepath.Join(dir, filepath.Base(pkg))
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		buildErr[pkg] = fmt.Errorf("go build %s: %v: %s", pkg, err, out)
		require.NoError(t, buildErr[pkg])
	}
	built[pkg] = bin
	return bin
}

// tickflowBinary is $TICKFLOW_BIN, or the tickflow command built once for
// this test run. It skips the test when the binary has no sink subcommand
// (cmd/tickflow/sink.go not there yet).
func tickflowBinary(t *testing.T) string {
	t.Helper()
	builtBin := os.Getenv("TICKFLOW_BIN")
	if builtBin == "" {
		builtBin = goBuild(t, "github.com/tickflow/tickflow/cmd/tickflow")
	}
	if out, err := exec.Command(builtBin, "sink", "--help").CombinedOutput(); err != nil {
		t.Skipf("%s has no working sink subcommand yet (%v): %s", builtBin, err, out)
	}
	return builtBin
}

func testConfig(t *testing.T) Config {
	return Config{Seed: 1, Long: os.Getenv("TICKFLOW_LONG") == "1"}
}

func TestScenarios(t *testing.T) {
	for _, s := range All() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			if s.proc {
				cfg.TickflowBin = tickflowBinary(t)
			}
			limit := 10 * time.Minute
			if cfg.Long {
				limit = 50 * time.Minute // rolling-restart-slow-s3's 30 iterations took 17 min on a loaded machine
			}
			ctx, cancel := context.WithTimeout(context.Background(), limit)
			defer cancel()
			res := s.Run(ctx, cfg)
			t.Logf("%s: %s records=%d rows=%d objects=%d lost=%d dup=%d overlaps=%d gaps=%d dlq=%d/%d restarts=%d in %s notes=%v",
				s.Name, res.Status(), res.Records, res.Rows, res.Objects, res.Lost, res.Duplicated, res.Overlaps, res.Gaps, res.DLQ, res.Poison, res.Restarts, res.Duration, res.Notes)
			require.Empty(t, res.Error, "seed %d", res.Seed)
			assert.Empty(t, res.Failures, "seed %d", res.Seed)
			assert.True(t, res.Pass)
		})
	}
}
