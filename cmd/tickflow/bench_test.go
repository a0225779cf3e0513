package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
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
