package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/bench"
)

// runBenchCmd runs `tickflow bench args…` in-process: stdout and exit code.
func runBenchCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"bench"}, args...))
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return out.String(), errOut.String(), exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return out.String(), ee.Error(), ee.code
	}
	return out.String(), err.Error(), exitUsage // cobra's own usage errors, as run() maps them
}

// The test binary is no tickflow: bench's sink processes run
// $TICKFLOW_BIN, and without it the memory phase says it did not measure
// the sink process.
func init() { benchSinkBinary = func() string { return "" } }

func TestBenchBadFlags(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "keep.svg")
	require.NoError(t, os.WriteFile(existing, []byte("keep"), 0o644))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"zero records", []string{"--records", "0"}, "--records"},
		{"negative records", []string{"--records", "-1"}, "--records"},
		{"absurd records", []string{"--records", "60000000"}, "--records"},
		{"not a number", []string{"--records", "many"}, "--records"},
		{"zero partitions", []string{"--partitions", "0"}, "--partitions"},
		{"absurd partitions", []string{"--partitions", "100000"}, "--partitions"},
		{"negative consumers", []string{"--consumers", "-2"}, "--consumers"},
		{"zero runs", []string{"--runs", "0"}, "--runs"},
		{"bad format", []string{"--format", "csv"}, "--format"},
		{"plot in a missing folder", []string{"--records", "10", "--plot", filepath.Join(dir, "no", "such", "p.svg")}, "--plot"},
		{"plot is a folder", []string{"--records", "10", "--plot", dir}, "--plot"},
		{"bad flag before plot", []string{"--records", "0", "--plot", existing}, "--records"},
		{"extra argument", []string{"now"}, "now"},
		{"sweep axis without --sweep", []string{"--sweep-records", "1e6"}, "--sweep-records applies to --sweep only"},
		{"sweep with --records", []string{"--sweep", "--records", "10"}, "--records does not apply to --sweep"},
		{"sweep axis not a number", []string{"--sweep", "--sweep-records", "1e6,lots"}, "--sweep-records"},
		{"sweep axis fraction", []string{"--sweep", "--sweep-partitions", "6,1.5"}, "--sweep-partitions"},
		{"sweep axis out of range", []string{"--sweep", "--sweep-consumers", "1,1000"}, "--sweep-consumers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, msg, code := runBenchCmd(t, tc.args...)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, msg, tc.want)
		})
	}
	b, err := os.ReadFile(existing)
	require.NoError(t, err)
	assert.Equal(t, "keep", string(b), "a rejected run must not touch an existing plot file")
}

func TestBenchTinyRunJSONAndPlot(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "bench.svg")
	out, progress, code := runBenchCmd(t, "--records", "2000", "--runs", "1", "--json", "--plot", plot)
	require.Equal(t, exitOK, code, progress)
	var rep bench.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assert.Equal(t, 2000, rep.Records)
	assertSnakeKeys(t, "bench --json", []byte(out))
	require.Len(t, rep.Phases, 4)
	for _, p := range rep.Phases {
		require.Len(t, p.Runs, 1, p.Name)
		assert.InDelta(t, float64(p.Runs[0].Records)/p.Runs[0].Seconds, p.BestRate, 1e-6*p.BestRate, p.Name)
	}
	assert.InDelta(t, rep.Phase(bench.PhaseSink).BestRate/rep.Phase(bench.PhaseSeed).BestRate, rep.SinkVsSeed, 1e-9)
	require.NotNil(t, rep.Latency)
	require.NotNil(t, rep.Memory)
	assert.NotEmpty(t, rep.Targets)
	assert.Contains(t, progress, "bench: ceiling")
	// The latency phase's size is stated: it follows the sink's rate, not --records.
	assert.Regexp(t, `bench: latency: 3s of production at 50% of the sink's median rate = [0-9,]+ records at [0-9,]+ records/s \(sized by the rate, not by the record count\)`, progress)
	assert.Regexp(t, `records at [0-9,]+ rec/s`, func() string { var b strings.Builder; _ = rep.WriteTable(&b); return b.String() }())

	f, err := os.Open(plot)
	require.NoError(t, err)
	defer f.Close()
	dec := xml.NewDecoder(f)
	series := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "plot is not well-formed XML")
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "g" {
			var class, phase string
			for _, a := range el.Attr {
				switch a.Name.Local {
				case "class":
					class = a.Value
				case "data-phase":
					phase = a.Value
				}
			}
			if class == "series" && phase != "" {
				series++
			}
		}
	}
	assert.Equal(t, 5, series, "one series per phase (4 throughput phases + latency)")
}

// buildBenchConsumer builds harness/bench/testdata/consumer, a small Go
// consumer program (commit after PUT) of the kind a user brings.
func buildBenchConsumer(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the test consumer")
	}
	bin := filepath.Join(t.TempDir(), "consumer")
	out, err := exec.Command(goBin, "build", "-o", bin, "../../harness/bench/testdata/consumer").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

func TestBenchConsumer(t *testing.T) {
	bin := buildBenchConsumer(t)
	plot := filepath.Join(t.TempDir(), "bench.svg")
	command := "exec " + bin
	out, progress, code := runBenchCmd(t, "--records", "2000", "--runs", "1", "--json", "--plot", plot,
		"--consumer", command, "--instances", "2")
	require.Equal(t, exitOK, code, progress)
	var rep bench.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assertSnakeKeys(t, "bench --json", []byte(out))
	c := rep.Consumer
	require.NotNil(t, c, "the consumer phase is in --json")
	assert.Equal(t, command, c.Command)
	assert.Equal(t, 2, c.Instances)
	assert.True(t, c.Drained)
	assert.Equal(t, bench.DrainedByCommits, c.DrainedBy)
	assert.Equal(t, int64(2000), c.Records)
	assert.Positive(t, c.Rate)
	assert.Positive(t, c.VsCeiling)
	assert.Positive(t, c.VsSink)
	assert.Positive(t, c.TimeVsSink)
	require.NotNil(t, rep.Phase(bench.PhaseConsumer))
	assert.Contains(t, progress, "bench: consumer: drained by its commits")
	svg, err := os.ReadFile(plot)
	require.NoError(t, err)
	assert.Contains(t, string(svg), `data-phase="consumer"`)

	// The text report puts the user's line next to tickflow's.
	var table strings.Builder
	require.NoError(t, rep.WriteTable(&table))
	assert.Regexp(t, "your consumer `"+regexp.QuoteMeta(command)+"`, 2 instances \\(tickflow's sink: 1 instance\\), drained", table.String())
	assert.Regexp(t, `[0-9,]+ rec/s = [0-9.e-]+× the ceiling, [0-9.e-]+× tickflow's sink`, table.String())
}

// A consumer program that fails at once: exit 1, and the error names the
// command and shows its output.
func TestBenchConsumerFails(t *testing.T) {
	command := `echo "no such module: kafka" >&2; exit 3`
	_, msg, code := runBenchCmd(t, "--records", "200", "--runs", "1", "--consumer", command)
	assert.Equal(t, exitViolation, code)
	assert.Contains(t, msg, "consumer command `"+command+"`")
	assert.Contains(t, msg, "exited with 3")
	assert.Contains(t, msg, "no such module: kafka")
}

func TestBenchConsumerBadFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"instances without consumer", []string{"--instances", "2"}, "--instances applies to --consumer only"},
		{"drain timeout without consumer", []string{"--drain-timeout", "1m"}, "--drain-timeout applies to --consumer only"},
		{"empty consumer", []string{"--consumer", " "}, "--consumer"},
		{"zero drain timeout", []string{"--consumer", "true", "--drain-timeout", "0s"}, "--drain-timeout"},
		{"absurd instances", []string{"--consumer", "true", "--instances", "1000"}, "--instances"},
		{"missing workdir", []string{"--consumer", "true", "--workdir", "/no/such/dir"}, "--workdir"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, msg, code := runBenchCmd(t, tc.args...)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, msg, tc.want)
		})
	}
}

// A consumer that does not drain in time: the report says so (no
// throughput), then exit 1.
func TestBenchConsumerTimeout(t *testing.T) {
	bin := buildBenchConsumer(t)
	out, msg, code := runBenchCmd(t, "--records", "300", "--runs", "1", "--consumer", "exec "+bin+" -nocommit",
		"--drain-timeout", "5s")
	assert.Equal(t, exitViolation, code)
	assert.Contains(t, msg, "did not drain the topic within --drain-timeout 5s: 0 of 300 records done")
	assert.Contains(t, out, "TIMED OUT after 5s with 0 of 300 records done — no throughput reported")
}

// bench --sweep with tiny axes prints the table and writes the plot. It
// runs `tickflow sink` processes, so it needs the binary: $TICKFLOW_BIN.
func TestBenchSweepTiny(t *testing.T) {
	if os.Getenv("TICKFLOW_BIN") == "" {
		t.Skip("bench --sweep runs `tickflow sink` processes: set TICKFLOW_BIN")
	}
	plot := filepath.Join(t.TempDir(), "sweep.svg")
	out, progress, code := runBenchCmd(t, "--sweep", "--sweep-records", "1e3,2e3", "--sweep-partitions", "2,3",
		"--sweep-consumers", "1", "--plot", plot)
	require.Equal(t, exitOK, code, progress)
	for _, s := range []string{"by records:", "by partitions:", "by consumers:", "rec/CPU-s", "RSS / owned partition"} {
		assert.Contains(t, out, s)
	}
	doc, err := os.ReadFile(plot)
	require.NoError(t, err)
	dec := xml.NewDecoder(bytes.NewReader(doc))
	cells := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "plot is not well-formed XML")
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "g" {
			for _, a := range el.Attr {
				if a.Name.Local == "class" && a.Value == "cell" {
					cells++
				}
			}
		}
	}
	assert.Equal(t, 6, cells, "3 axes × 2 measures")
}
