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

var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	if consumerBin != "" {
		_ = os.RemoveAll(filepath.Dir(consumerBin))
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// tickflowBinary is $TICKFLOW_BIN, or the tickflow command built once for
// this test run. It skips the test when the binary has no sink subcommand
// (cmd/tickflow/sink.go not there yet).
func tickflowBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if b := os.Getenv("TICKFLOW_BIN"); b != "" {
			builtBin = b
			return
		}
		dir, err := os.MkdirTemp("", "tickflow-scenarios-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		builtBin = filepath.Join(dir, "tickflow")
		out, err := exec.Command("go", "build", "-o", builtBin, "github.com/tickflow/tickflow/cmd/tickflow").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/tickflow: %v: %s", err, out)
		}
	})
	require.NoError(t, buildErr)
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
