package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/scenarios"
)

// runScenarioCmd runs the CLI in-process with ctx and returns stdout,
// stderr (plus the error) and the exit code.
func runScenarioCmd(t *testing.T, ctx context.Context, args ...string) (string, string, int) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return out.String(), errOut.String(), exitOK
	}
	var ee *exitError
	require.True(t, errors.As(err, &ee), "plain error %v", err)
	return out.String(), errOut.String() + ee.Error(), ee.code
}

func TestScenarioCmd(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name      string
		ctx       context.Context
		args      []string
		code      int
		wantOut   []string
		wantErr   string
		checkJSON func(t *testing.T, out string)
	}{
		{name: "list", args: []string{"scenario", "list"}, wantOut: []string{"happy-path", "sink-crash-mid-flush", "sink-kill-9", "s3-outage"}},
		{name: "list json", args: []string{"scenario", "list", "--json"}, checkJSON: func(t *testing.T, out string) {
			var list []struct{ Name, Description string }
			require.NoError(t, json.Unmarshal([]byte(out), &list))
			assert.Len(t, list, len(scenarios.Names()))
		}},
		{name: "no subcommand", args: []string{"scenario"}, code: exitUsage, wantErr: "list or run"},
		{name: "run nothing", args: []string{"scenario", "run"}, code: exitUsage, wantErr: "valid names: broker-stop-during-consume"},
		{name: "unknown name", args: []string{"scenario", "run", "happy-path", "no-such"}, code: exitUsage, wantErr: `unknown scenario "no-such"; valid names:`},
		{name: "names and all", args: []string{"scenario", "run", "--all", "happy-path"}, code: exitUsage, wantErr: "not both"},
		{name: "bad seed", args: []string{"scenario", "run", "happy-path", "--seed", "x"}, code: exitUsage, wantErr: "--seed"},
		{name: "run passes", args: []string{"scenario", "run", "happy-path", "--seed", "11"}, wantOut: []string{"seed 11", "pass  happy-path", "scenario", "records", "duplicated", "1 of 1 scenarios passed"}},
		{name: "run json", args: []string{"scenario", "run", "happy-path", "--seed", "12", "--json"}, checkJSON: func(t *testing.T, out string) {
			var res []scenarios.Result
			require.NoError(t, json.Unmarshal([]byte(out), &res))
			require.Len(t, res, 1)
			assert.True(t, res[0].Pass)
			assert.Equal(t, int64(12), res[0].Seed)
			assert.Positive(t, res[0].Records)
			assert.Equal(t, res[0].Records, res[0].Rows)
		}},
		{name: "interrupted is a failure", ctx: cancelled, args: []string{"scenario", "run", "happy-path", "--seed", "13"}, code: exitViolation, wantErr: "seed 13"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			out, errOut, code := runScenarioCmd(t, ctx, tc.args...)
			assert.Equal(t, tc.code, code, "stdout: %s\nstderr: %s", out, errOut)
			for _, w := range tc.wantOut {
				assert.Contains(t, out, w)
			}
			if tc.wantErr != "" {
				assert.Contains(t, errOut, tc.wantErr)
			}
			if tc.checkJSON != nil {
				tc.checkJSON(t, out)
			}
		})
	}
}

// TestScenarioFailure: a run with failures exits 1 naming them, the seed
// and the command that replays exactly them (a broken sink is not reachable
// from the CLI, so the results are made up here; scenarios' own tests run
// the broken sink).
func TestScenarioFailure(t *testing.T) {
	pass := scenarios.Result{Scenario: "happy-path", Pass: true}
	fail := scenarios.Result{Scenario: "sink-crash-mid-flush", Failures: []string{"lost"}}
	errored := scenarios.Result{Scenario: "sink-kill-9", Error: "precondition"}
	cases := []struct {
		name    string
		results []scenarios.Result
		long    bool
		want    string // "" → no error
	}{
		{"all pass", []scenarios.Result{pass, pass}, false, ""},
		{"one fails", []scenarios.Result{pass, fail}, false,
			"1 of 2 scenarios failed: sink-crash-mid-flush (seed 21; replay: tickflow scenario run sink-crash-mid-flush --seed 21)"},
		{"fail and error, long", []scenarios.Result{fail, pass, errored}, true,
			"2 of 3 scenarios failed: sink-crash-mid-flush, sink-kill-9 (seed 21; replay: tickflow scenario run sink-crash-mid-flush sink-kill-9 --seed 21 --long)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := scenarioFailure(tc.results, 21, tc.long)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			var ee *exitError
			require.True(t, errors.As(err, &ee), "%v", err)
			assert.Equal(t, exitViolation, ee.code)
			assert.Contains(t, ee.Error(), tc.want)
		})
	}
}

// --consumer's flags: misuse is exit 2 naming the flag and the fix.
func TestScenarioConsumerFlags(t *testing.T) {
	dir := t.TempDir()
	noVolume := filepath.Join(dir, "novolume.sql")
	require.NoError(t, os.WriteFile(noVolume, []byte("CREATE EXTERNAL TABLE t (symbol string, price double) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://b/t/'"), 0o644))
	garbage := filepath.Join(dir, "garbage.sql")
	require.NoError(t, os.WriteFile(garbage, []byte("SELECT 1"), 0o644))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"scenario", "run", "happy-path", "--instances", "2"}, "--instances applies to --consumer only"},
		{[]string{"scenario", "run", "happy-path", "--out", t.TempDir()}, "--out applies to --consumer only"},
		{[]string{"scenario", "run", "sink-crash-mid-flush", "--consumer", "true"}, "cannot run --consumer; valid with --consumer:"},
		{[]string{"scenario", "run", "produce-timeout-retries", "--consumer", "true"}, "produce-timeout-retries judges the producer, runs no consumer, and cannot run --consumer; valid with --consumer:"},
		{[]string{"scenario", "run", "happy-path", "--consumer", "true", "--instances", "-1"}, "--consumer: consumer: -1 instances"},
		{[]string{"scenario", "run", "happy-path", "--consumer", "true", "--workdir", "/nonexistent-dir"}, "working directory /nonexistent-dir"},
		{[]string{"scenario", "run", "happy-path", "--compression", "brotli"}, `--compression "brotli": want one of none, gzip`},
		{[]string{"scenario", "run", "happy-path", "--table", noVolume}, "--table applies to --consumer only"},
		{[]string{"scenario", "run", "happy-path", "--consumer", "true", "--table", filepath.Join(dir, "missing.sql")}, "--table " + filepath.Join(dir, "missing.sql") + ": no such file or directory; fix:"},
		{[]string{"scenario", "run", "happy-path", "--consumer", "true", "--table", garbage}, "--table " + garbage},
		{[]string{"scenario", "run", "happy-path", "--consumer", "true", "--table", noVolume}, "no volume column among symbol, price"},
	} {
		_, stderr, code := runScenarioCmd(t, context.Background(), tc.args...)
		assert.Equal(t, exitUsage, code, "%v: %s", tc.args, stderr)
		assert.Contains(t, stderr, tc.want, "%v", tc.args)
	}
	out, _, code := runScenarioCmd(t, context.Background(), "scenario", "list", "--json")
	require.Equal(t, exitOK, code)
	var list []struct {
		Name     string
		Consumer bool
	}
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	forConsumer := map[string]bool{}
	for _, s := range list {
		forConsumer[s.Name] = s.Consumer
	}
	assert.False(t, forConsumer["sink-crash-mid-flush"])
	assert.False(t, forConsumer["produce-timeout-retries"])
	assert.True(t, forConsumer["kill-after-commit"])
	assert.True(t, forConsumer["sink-kill-9"])
}
