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

// Replay is the command that runs r again with the same schedule.
func (r Result) Replay() string {
	s := fmt.Sprintf("tickflow scenario run %s --seed %d", r.Scenario, r.Seed)
	if r.Long {
		s += " --long"
	}
	if r.Consumer != "" {
		s += " --consumer " + shellQuote(r.Consumer)
	}
	return s
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeVerdict explains what a user's consumer did to the records: the
// counts, then examples of each kind of damage, then (on failure) the end
// of every instance's output.
func writeVerdict(b *strings.Builder, r Result) {
	v := r.Verdict
	status := "PASS"
	if !r.Pass {
		status = "FAIL"
	}
	fmt.Fprintf(b, "\nverdict %s for %s: %s\n", r.Scenario, shellQuote(r.Consumer), status)
	fmt.Fprintf(b, "  %-34s %d\n", "produced (acknowledged by Kafka)", v.Produced)
	fmt.Fprintf(b, "  %-34s %d rows in %d objects (%d consumer processes, %d S3 writes, %d partition commits)\n", "read back from the lake", v.Rows, v.Objects, v.Instances, v.Writes, v.Commits)
	fmt.Fprintf(b, "  %-34s %d\n", "distinct records", v.Distinct)
	fmt.Fprintf(b, "  %-34s %d\n", "lost", v.Lost)
	fmt.Fprintf(b, "  %-34s %d\n", "duplicated (extra rows)", v.Duplicated)
	fmt.Fprintf(b, "  %-34s %d\n", "overwritten objects", v.Overwritten)
	fmt.Fprintf(b, "  %-34s %d\n", "committed before they were in S3", v.CommitsAhead)
	fmt.Fprintf(b, "  %-34s %d\n", "writes after fencing", v.WritesAfterFencing)
	if v.Unidentified > 0 {
		fmt.Fprintf(b, "  %-34s %d (no volume/sequence field, or one never produced)\n", "rows not matched to a record", v.Unidentified)
	}
	if v.Unreadable > 0 {
		fmt.Fprintf(b, "  %-34s %d\n", "unreadable objects", v.Unreadable)
		for _, u := range v.UnreadableExamples {
			fmt.Fprintf(b, "    %s\n", u)
		}
	}
	if v.Deleted > 0 {
		fmt.Fprintf(b, "  %-34s %d\n", "objects deleted", v.Deleted)
	}
	fmt.Fprintf(b, "  %s\n", v.Drain)
	if v.ContractNote != "" {
		fmt.Fprintf(b, "  %s\n", v.ContractNote)
	}
	for _, x := range v.Contract {
		fmt.Fprintf(b, "    %s\n", x)
	}
	if len(v.LostExamples) > 0 {
		b.WriteString("  lost, e.g.:\n")
		for _, x := range v.LostExamples {
			fmt.Fprintf(b, "    %s\n", x)
		}
	}
	if len(v.DuplicateExamples) > 0 {
		b.WriteString("  duplicated, e.g.:\n")
		for _, d := range v.DuplicateExamples {
			var cp []string
			for _, c := range d.Copies {
				cp = append(cp, fmt.Sprintf("%s (instance %d)", c.Object, c.Instance))
			}
			fmt.Fprintf(b, "    %s in %s\n", d.Record, strings.Join(cp, ", "))
		}
	}
	if len(v.OverwriteExamples) > 0 {
		b.WriteString("  overwritten, e.g.:\n")
		for _, o := range v.OverwriteExamples {
			fmt.Fprintf(b, "    %s: %d versions by instances %v; %d of its records are in no object now\n", o.Object, o.Versions, o.Instances, o.Dropped)
		}
	}
	if len(v.CommitAheadExamples) > 0 {
		b.WriteString("  committed before they were in S3, e.g.:\n")
		for _, c := range v.CommitAheadExamples {
			fmt.Fprintf(b, "    %s committed %s, landed %s\n", c.Record, c.CommittedAt, c.Landed)
		}
	}
	if len(v.FencedExamples) > 0 {
		b.WriteString("  writes after fencing, e.g.:\n")
		for _, f := range v.FencedExamples {
			fmt.Fprintf(b, "    %s by instance %d: partition %d had moved to instance %d %s earlier\n", f.Object, f.Instance, f.Partition, f.Owner, f.Since)
		}
	}
	writeOutput(b, r.Output)
}

// writeOutput shows the end of each consumer instance's output.
func writeOutput(b *strings.Builder, output []string) {
	if len(output) == 0 {
		return
	}
	b.WriteString("  consumer output (the end of each instance's):\n")
	for _, o := range output {
		for _, line := range strings.Split(o, "\n") {
			fmt.Fprintf(b, "    %s\n", line)
		}
	}
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
		fmt.Fprintf(&b, "\n%s %s (seed %d; replay: %s)\n", r.Status(), r.Scenario, r.Seed, r.Replay())
		if r.Error != "" {
			fmt.Fprintf(&b, "  error: %s\n", r.Error)
		}
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "  - %s\n", f)
		}
		if r.Verdict == nil {
			writeOutput(&b, r.Output)
		}
	}
	for _, r := range results {
		if r.Verdict != nil {
			writeVerdict(&b, r)
		}
	}
	fmt.Fprintf(&b, "\n%d of %d scenarios passed\n", passed, len(results))
	_, err := io.WriteString(w, b.String())
	return err
}
