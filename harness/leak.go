package harness

import (
	"bytes"
	"runtime/pprof"
	"strings"
	"time"
)

// leakLabel is the pprof label key that marks a world's goroutines. Labels
// are inherited by every goroutine a labelled goroutine starts, so kfake's,
// the S3 server's, the sink's and the helper clients' goroutines all carry
// the label of the world that started them, and parallel worlds in one test
// binary can be checked independently.
const leakLabel = "tickflow.world"

// waitGoroutinesGone polls until no goroutine carries label value v, and
// returns the stacks of those left after timeout ("" when none).
func waitGoroutinesGone(v string, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	sleep := time.Millisecond
	for {
		left := labelledGoroutines(v)
		if left == "" || time.Now().After(deadline) {
			return left
		}
		time.Sleep(sleep) // polling a condition with a deadline, not synchronising
		sleep = min(2*sleep, 50*time.Millisecond)
	}
}

// labelledGoroutines returns the goroutine profile records (count, label
// and stack) of the goroutines labelled leakLabel=v.
func labelledGoroutines(v string) string {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return ""
	}
	want := `"` + leakLabel + `":"` + v + `"`
	var out []string
	for _, rec := range strings.Split(buf.String(), "\n\n") {
		if strings.Contains(rec, "# labels: ") && strings.Contains(rec, want) {
			out = append(out, strings.TrimSpace(rec))
		}
	}
	return strings.Join(out, "\n\n")
}
