package scenarios

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReport checks that every result that did not pass names its seed and
// the exact command that replays it, in the live line and in the table.
func TestReport(t *testing.T) {
	pass := Result{Scenario: "happy-path", Seed: 4, Records: 3000, Rows: 3000, Duration: 1500 * time.Millisecond, Pass: true}
	fail := Result{Scenario: "sink-crash-mid-flush", Seed: 77, Records: 1500, Lost: 150, Gaps: 150,
		Failures: []string{"iteration 0: partition 2: offsets [300, 450) are not in the lake"}}
	longErr := Result{Scenario: "sink-kill-9", Seed: 9, Long: true, Error: "scenario precondition not reached: no binary"}
	cases := []struct {
		name      string
		results   []Result
		wantTable []string
		notTable  []string
		lines     map[string][]string // scenario → substrings of its live line
	}{
		{name: "all pass", results: []Result{pass},
			wantTable: []string{"happy-path", "3000", "1.5s", "pass", "1 of 1 scenarios passed"},
			notTable:  []string{"replay", "seed"},
			lines:     map[string][]string{"happy-path": {"pass", "happy-path", "3000 records"}}},
		{name: "a failure names seed and replay", results: []Result{pass, fail},
			wantTable: []string{"FAIL sink-crash-mid-flush (seed 77; replay: tickflow scenario run sink-crash-mid-flush --seed 77)\n",
				"  - iteration 0: partition 2: offsets [300, 450) are not in the lake", "1 of 2 scenarios passed"},
			lines: map[string][]string{"sink-crash-mid-flush": {"FAIL", "150 lost", "(replay: --seed 77)"}}},
		{name: "a long error replays with --long", results: []Result{longErr},
			wantTable: []string{"ERROR sink-kill-9 (seed 9; replay: tickflow scenario run sink-kill-9 --seed 9 --long)",
				"  error: scenario precondition not reached: no binary", "0 of 1 scenarios passed"},
			lines: map[string][]string{"sink-kill-9": {"ERROR", "(replay: --seed 9)"}}},
	}
	faulty := Result{Scenario: "sink-kill-9", Seed: 5, Iterations: 2, Records: 4000, Rows: 4000, Restarts: 3, Poison: 2, DLQ: 2, Pass: true,
		Notes: []string{"iteration 0: killed the sink (SIGKILL) after 812 records", "iteration 1: froze S3 PUTs for 2s"}}
	cases = append(cases, struct {
		name      string
		results   []Result
		wantTable []string
		notTable  []string
		lines     map[string][]string
	}{name: "the text shows what the JSON has: restarts, poison, iterations, fault notes", results: []Result{pass, faulty},
		wantTable: []string{"iterations", "restarts", "poison", "faults applied\n  sink-kill-9\n    iteration 0: killed the sink (SIGKILL) after 812 records\n    iteration 1: froze S3 PUTs for 2s\n"},
		notTable:  []string{"replay"}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			require.NoError(t, WriteTable(&b, tc.results))
			for _, w := range tc.wantTable {
				assert.Contains(t, b.String(), w)
			}
			if tc.name == "the text shows what the JSON has: restarts, poison, iterations, fault notes" {
				assert.Regexp(t, `sink-kill-9\s+2\s+4000\s+0\s+0\s+0\s+0\s+2\s+2\s+3\s`, b.String(), "iterations, poison, DLQ and restarts per row")
			}
			for _, w := range tc.notTable {
				assert.NotContains(t, b.String(), w)
			}
			for _, r := range tc.results {
				for _, w := range tc.lines[r.Scenario] {
					assert.Contains(t, r.Line(), w)
				}
			}
		})
	}
}
