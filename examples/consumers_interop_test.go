package examples_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	return runScenarioOut(t, name, command, "")
}

// runScenarioOut runs a scenario like runScenario, keeping its evidence
// under out (--out) when out is not empty.
func runScenarioOut(t *testing.T, name, command, out string) scenarios.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	res := scenarios.Run(ctx, name, scenarios.Config{Seed: 19, Consumer: &scenarios.Consumer{Command: command, Out: out}})
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

// consumerScenarios are the scenarios every correct example consumer must
// pass: kills at seeded moments and right after a PUT or a commit, a frozen
// member whose held PUTs land after its partitions moved, a rolling restart
// under slow PUTs, a scale-out and back, and an S3 outage.
var consumerScenarios = []string{"sink-kill-9", "kill-after-put", "kill-after-commit", "zombie-sink", "rolling-restart-slow-s3", "rebalance-scale-out", "s3-outage"}

// passesEveryScenario runs command under each consumer scenario with --out
// and asserts a PASS whose counts equal recount's, made from the kept
// evidence alone. Then the same consumer with CONSUMER_BUG=commit-before-put
// (it commits a batch before writing it) must fail kill-after-commit with
// records lost, counted exactly as the recount counts them.
func passesEveryScenario(t *testing.T, command string) {
	t.Helper()
	for _, name := range consumerScenarios {
		t.Run(name, func(t *testing.T) {
			res := runAndRecount(t, name, command)
			v := res.Verdict
			assert.True(t, res.Pass, "output: %v", res.Output)
			assert.Zero(t, v.Lost, "%v", v.LostExamples)
			assert.Zero(t, v.Duplicated, "%v", v.DuplicateExamples)
			assert.Equal(t, v.Produced, v.Distinct)
			assert.Greater(t, v.Instances, 1, "the scenario restarted or added processes")
		})
	}
	t.Run("commit-before-put", func(t *testing.T) {
		res := runAndRecount(t, "kill-after-commit", "CONSUMER_BUG=commit-before-put "+command)
		assert.False(t, res.Pass, "committing before the PUT must fail kill-after-commit")
		assert.Greater(t, res.Verdict.Lost, int64(0), "a kill right after the commit loses the batch it had not written")
		assert.NotEmpty(t, res.Verdict.LostExamples)
	})
}

// runAndRecount runs a scenario with --out and asserts that the verdict's
// counts equal recount's.
func runAndRecount(t *testing.T, name, command string) scenarios.Result {
	t.Helper()
	out := t.TempDir()
	res := runScenarioOut(t, name, command, out)
	v := res.Verdict
	dir := filepath.Join(out, name, "0")
	c := recount(t, dir)
	t.Logf("recount of %s: produced %d rows %d distinct %d lost %d duplicated %d", dir, c.produced, c.rows, c.distinct, c.lost, c.duplicated)
	assert.Equal(t, v.Produced, c.produced, "produced, recounted")
	assert.Equal(t, v.Rows, c.rows, "rows, recounted")
	assert.Equal(t, v.Distinct, c.distinct, "distinct, recounted")
	assert.Equal(t, v.Lost, c.lost, "lost, recounted")
	assert.Equal(t, v.Duplicated, c.duplicated, "duplicated, recounted")
	return res
}

type counts struct{ produced, rows, distinct, lost, duplicated int64 }

// recount counts an iteration's records from what --out kept, without the
// verdict's code: the sequence numbers in produced.jsonl against the volume
// of every JSON row under lake/ (each object one JSON document or a stream
// of them; names with a segment starting with "_" or "." skipped, as Athena
// does).
func recount(t *testing.T, dir string) counts {
	t.Helper()
	var c counts
	produced := map[int64]bool{}
	f, err := os.Open(filepath.Join(dir, "produced.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	for dec := json.NewDecoder(f); ; {
		var p struct{ Sequence int64 }
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		produced[p.Sequence] = true
	}
	c.produced = int64(len(produced))

	copies := map[int64]int64{}
	lake := filepath.Join(dir, "lake")
	require.NoError(t, filepath.WalkDir(lake, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(lake, path)
		for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
			if strings.HasPrefix(seg, "_") || strings.HasPrefix(seg, ".") {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		for {
			var row struct{ Volume *int64 }
			if err := dec.Decode(&row); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			c.rows++
			if row.Volume != nil && produced[*row.Volume] {
				copies[*row.Volume]++
			}
		}
	}))
	for seq := range produced {
		switch n := copies[seq]; {
		case n == 0:
			c.lost++
		default:
			c.distinct++
			c.duplicated += n - 1
		}
	}
	return c
}

// confluentPython returns the interpreter with Debian's confluent-kafka and
// boto3; in CI their absence fails the test.
func confluentPython(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import confluent_kafka, boto3").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s cannot import confluent_kafka and boto3 (apt-get install python3-confluent-kafka python3-boto3): %v: %s", py, err, out)
		}
		t.Skipf("%s has no confluent-kafka/boto3: %s", py, out)
	}
	return py
}

// node returns the node binary once examples/node has its dependencies
// (npm ci); in CI their absence fails the test.
func node(t *testing.T) string {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	bin, err := exec.LookPath("node")
	if err != nil {
		skip("no node on PATH (apt-get install nodejs npm): %v", err)
		return ""
	}
	cmd := exec.Command(bin, "-e", "require('kafkajs'); require('@aws-sdk/client-s3')")
	cmd.Dir = "node" // modules resolve from examples/node/node_modules
	out, err := cmd.CombinedOutput()
	if err != nil {
		skip("examples/node has no kafkajs/@aws-sdk/client-s3 (cd examples/node && npm ci): %v: %s", err, out)
	}
	return bin
}

func TestInteropConfluentConsumerPasses(t *testing.T) {
	interop(t)
	t.Parallel()
	passesEveryScenario(t, confluentPython(t)+" "+abs(t, "python/confluent_consumer.py"))
}

func TestInteropNodeConsumerPasses(t *testing.T) {
	interop(t)
	t.Parallel()
	passesEveryScenario(t, node(t)+" "+abs(t, "node/consumer.js"))
}
