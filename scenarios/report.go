package scenarios

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Line is the one-line live summary of a finished scenario, with the seed
// to replay it when it did not pass.
func (r Result) Line() string {
	s := fmt.Sprintf("%-5s %-28s %6d records %4d lost %4d dup %4d overlaps %4d gaps %4d dlq %3d restarts  %s",
		r.Status(), r.Scenario, r.Records, r.Lost, r.Duplicated, r.Overlaps, r.Gaps, r.DLQ, r.Restarts, r.Duration.Round(time.Millisecond))
	if !r.Pass {
		s += fmt.Sprintf("  (replay: --seed %d)", r.Seed)
	}
	return s
}

// WriteTable writes the final aligned table, then for every scenario that
// did not pass its error, its first failures and the seed that replays it.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Left-align the names by padding them to one width (the writer
	// right-aligns every column so the numbers line up).
	width := len("scenario")
	for _, r := range results {
		width = max(width, len(r.Scenario))
	}
	fmt.Fprintf(tw, "%-*s\titerations\trecords\tlost\tduplicated\toverlaps\tgaps\tpoison\tDLQ\trestarts\tduration\tresult\t\n", width, "scenario")
	var passed int
	for _, r := range results {
		if r.Pass {
			passed++
		}
		fmt.Fprintf(tw, "%-*s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", width, r.Scenario, r.Iterations, r.Records, r.Lost, r.Duplicated,
			r.Overlaps, r.Gaps, r.Poison, r.DLQ, r.Restarts, r.Duration.Round(10*time.Millisecond), r.Status())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	// What each fault schedule did (kills, restarts, broker stops, S3
	// freezes): the same notes the JSON carries.
	header := false
	for _, r := range results {
		if len(r.Notes) == 0 {
			continue
		}
		if !header {
			b.WriteString("\nfaults applied\n")
			header = true
		}
		fmt.Fprintf(&b, "  %s\n", r.Scenario)
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "    %s\n", n)
		}
	}
	for _, r := range results {
		if r.Pass {
			continue
		}
		fmt.Fprintf(&b, "\n%s %s (seed %d; replay: tickflow scenario run %s --seed %d", r.Status(), r.Scenario, r.Seed, r.Scenario, r.Seed)
		if r.Long {
			b.WriteString(" --long")
		}
		b.WriteString(")\n")
		if r.Error != "" {
			fmt.Fprintf(&b, "  error: %s\n", r.Error)
		}
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "  - %s\n", f)
		}
	}
	fmt.Fprintf(&b, "\n%d of %d scenarios passed\n", passed, len(results))
	_, err := io.WriteString(w, b.String())
	return err
}
