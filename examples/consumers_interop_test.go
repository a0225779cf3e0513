package examples_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/scenarios"
)

// The shipped example consumers under the consumer scenarios: the seed
// project's consumer must fail with records lost, the correct ones must
// pass. They run real OS processes (Debian's kafka-python and boto3 under
// /usr/bin/python3, the Go example built here) for minutes, so they run with
// `make interop` (TICKFLOW_INTEROP=1), like the other real-client tests.

func interop(t *testing.T) {
	t.Helper()
	if os.Getenv("TICKFLOW_INTEROP") != "1" {
		t.Skip("set TICKFLOW_INTEROP=1 (make interop) to run the example consumers under the fault scenarios")
	}
}

// python returns the interpreter with Debian's kafka-python and boto3; in CI
// their absence fails the test.
func python(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import kafka, boto3").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s cannot import kafka and boto3 (apt-get install python3-kafka python3-boto3): %v: %s", py, err, out)
		}
		t.Skipf("%s has no kafka-python/boto3: %s", py, out)
	}
	return py
}

func abs(t *testing.T, path string) string {
	t.Helper()
	p, err := filepath.Abs(path)
	require.NoError(t, err)
	return p
}

func runScenario(t *testing.T, name, command string) scenarios.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	res := scenarios.Run(ctx, name, scenarios.Config{Seed: 19, Consumer: &scenarios.Consumer{Command: command}})
	t.Logf("%s\nnotes: %v\nfailures: %v", res.Line(), res.Notes, res.Failures)
	if res.Verdict != nil {
		t.Logf("verdict: %s (%s)", res.Verdict.Summary(), res.Verdict.Drain)
	}
	require.Empty(t, res.Error, "output: %v", res.Output)
	require.NotNil(t, res.Verdict)
	return res
}

func TestInteropSeedConsumerLosesRecords(t *testing.T) {
	interop(t)
	t.Parallel()
	res := runScenario(t, "sink-kill-9", python(t)+" "+abs(t, "python/seed_consumer.py"))
	assert.False(t, res.Pass, "the seed consumer must fail sink-kill-9")
	assert.Greater(t, res.Verdict.Lost, int64(0), "auto-commit and counter-named objects lose records on restart")
	assert.NotEmpty(t, res.Verdict.LostExamples)
}

func TestInteropPythonConsumerPasses(t *testing.T) {
	interop(t)
	t.Parallel()
	cmd := python(t) + " " + abs(t, "python/consumer.py")
	for _, name := range []string{"sink-kill-9", "zombie-sink", "rolling-restart-slow-s3", "rebalance-scale-out", "s3-outage", "kill-after-commit"} {
		t.Run(name, func(t *testing.T) {
			res := runScenario(t, name, cmd)
			assert.True(t, res.Pass, "output: %v", res.Output)
			assert.Zero(t, res.Verdict.Lost)
			assert.Zero(t, res.Verdict.Duplicated)
			assert.Equal(t, res.Verdict.Produced, res.Verdict.Distinct)
		})
	}
}

func TestInteropGoConsumerPasses(t *testing.T) {
	interop(t)
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "goconsumer")
	out, err := exec.Command("go", "build", "-o", bin, "./goconsumer").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, name := range []string{"kill-after-put", "kill-after-commit", "zombie-sink"} {
		t.Run(name, func(t *testing.T) {
			res := runScenario(t, name, bin)
			assert.True(t, res.Pass, "output: %v", res.Output)
			assert.Zero(t, res.Verdict.Lost)
			assert.Zero(t, res.Verdict.Duplicated)
		})
	}
}
