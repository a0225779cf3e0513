package demo

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tickflow/tickflow/harness/lake"
)

// Summary is what a demo run did and what the lake holds. The lake numbers
// (LandedRows, Distinct, Objects, Duplicates, Gaps, Overlaps, Violations)
// come from reading the lake back; Consumed, DLQ and PerConsumer are the
// sink's own counters.
type Summary struct {
	OK       bool     `json:"ok"`       // complete, duplicate-free, contract-clean
	Problems []string `json:"problems"` // why OK is false; empty when OK

	Source     string `json:"source"`
	Format     string `json:"format"`
	Brokers    int    `json:"brokers"`
	Topic      string `json:"topic"`
	Partitions int    `json:"partitions"`
	Consumers  int    `json:"consumers"`

	Produced       int64    `json:"produced"`         // records acknowledged by Kafka
	SkippedBadRows int      `json:"skipped_bad_rows"` // input rows the producer skipped
	BadRows        []BadRow `json:"bad_rows,omitempty"`
	Consumed       int64    `json:"consumed"` // records the sink consumers received
	DLQ            int64    `json:"dlq"`      // records the sink dead-lettered

	LandedRows int64 `json:"landed_rows"` // rows read back from the lake
	Distinct   int64 `json:"distinct"`    // distinct (kafka_partition, kafka_offset) in the lake
	Objects    int   `json:"objects"`     // data objects in the lake
	Bytes      int64 `json:"bytes"`
	Duplicates int64 `json:"duplicates"` // rows beyond the first per (partition, offset)
	Gaps       int64 `json:"gaps"`       // produced offsets missing from the lake
	Overlaps   int   `json:"overlaps"`   // objects whose offset range overlaps another's
	Violations int   `json:"violations"` // contract errors
	Warnings   int   `json:"warnings"`   // contract warnings (informational)

	ViolationDetails []lake.Violation `json:"violation_details,omitempty"`
	GlueTables       []string         `json:"glue_tables"`     // tables a Glue crawler would create
	PartitionsUsed   int              `json:"partitions_used"` // topic partitions that received records
	PerConsumer      []ConsumerStats  `json:"per_consumer"`
	Lake             Location         `json:"lake"`

	Duration         time.Duration `json:"-"`
	DurationSeconds  float64       `json:"duration_seconds"`   // first record produced → every record committed in S3
	RecordsPerSecond float64       `json:"records_per_second"` // Produced / Duration
	TotalSeconds     float64       `json:"total_seconds"`      // whole run: world start to checked lake
}

// ConsumerStats is one sink consumer's counters.
type ConsumerStats struct {
	Consumer int   `json:"consumer"` // 1..K
	Consumed int64 `json:"consumed"`
	Rows     int64 `json:"rows"`
	Objects  int64 `json:"objects"`
	DLQ      int64 `json:"dlq"`
}

// Location is where the lake is.
type Location struct {
	URL      string `json:"url"`      // s3://bucket/prefix/stock_ticks/
	Endpoint string `json:"endpoint"` // the embedded S3 endpoint (gone when the demo exits unless it keeps serving)
	Bucket   string `json:"bucket"`
	Prefix   string `json:"prefix"`
	Local    string `json:"local,omitempty"` // Config.Out/stock_ticks/ when a local copy was written
}

// WriteText prints the summary for people: source, where the lake is, the
// numbers table and the verdict.
func (s *Summary) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("Source   %s\n", s.Source)
	ew.printf("Pipeline %d brokers, topic %s (%d partitions) → %d sink consumers → %s lake\n",
		s.Brokers, s.Topic, s.Partitions, s.Consumers, s.Format)
	if s.PartitionsUsed < s.Partitions && s.PartitionsUsed < s.Consumers {
		// Why a consumer sat idle: keys, not a bug.
		ew.printf("         records are keyed by index symbol: this source filled %d of %d partitions, so some consumers had nothing to do\n",
			s.PartitionsUsed, s.Partitions)
	}
	switch n := s.SkippedBadRows; {
	case n == 1 && len(s.BadRows) == 1:
		ew.printf("Input    1 bad row skipped (line %d: %s)\n", s.BadRows[0].Line, s.BadRows[0].Problem)
	case n > 0:
		ew.printf("Input    %d bad rows skipped", n)
		if len(s.BadRows) > 0 {
			ew.printf(" (first: line %d: %s)", s.BadRows[0].Line, s.BadRows[0].Problem)
		}
		ew.printf("\n")
	}
	ew.printf("Lake     %s on the embedded S3 %s\n", s.Lake.URL, s.Lake.Endpoint)
	if s.Lake.Local != "" {
		ew.printf("         %s (local copy: tickflow verify --dir / query --dir)\n", s.Lake.Local)
	}
	if len(s.GlueTables) > 0 {
		what := "1 table"
		if len(s.GlueTables) > 1 {
			what = fmt.Sprintf("%d tables", len(s.GlueTables))
		}
		ew.printf("Crawler  a default Glue crawler would create %s: %s\n", what, strings.Join(s.GlueTables, "; "))
	}
	ew.printf("\n")

	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', tabwriter.AlignRight)
	row := func(name, value, note string) { fmt.Fprintf(tw, "  %s\t%s\t  %s\n", name, value, note) }
	n := func(v int64) string { return group(v) }
	row("produced", n(s.Produced), "records acknowledged by Kafka")
	row("skipped bad rows", n(int64(s.SkippedBadRows)), "")
	row("consumed", n(s.Consumed), perConsumer(s.PerConsumer))
	row("landed rows", n(s.LandedRows), fmt.Sprintf("read back from the lake; %s distinct (partition, offset)", n(s.Distinct)))
	row("objects", n(int64(s.Objects)), bytesText(s.Bytes))
	row("duplicates", n(s.Duplicates), "")
	row("gaps", n(s.Gaps), "missing offsets")
	row("overlaps", n(int64(s.Overlaps)), "")
	warn := ""
	if s.Warnings > 0 {
		warn = fmt.Sprintf("%d warnings", s.Warnings)
	}
	row("violations", n(int64(s.Violations)), warn)
	row("DLQ", n(s.DLQ), "")
	row("duration", s.Duration.Round(time.Millisecond).String(), fmt.Sprintf("first record produced → all committed in S3 (total %.1fs)", s.TotalSeconds))
	row("records/s", n(int64(s.RecordsPerSecond)), "")
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(table.String(), "\n") {
		ew.printf("%s", strings.TrimRight(line, " \n"))
		if strings.HasSuffix(line, "\n") {
			ew.printf("\n")
		}
	}
	ew.printf("\n")
	for _, v := range s.ViolationDetails {
		ew.printf("  %s\n", v)
	}
	if s.OK {
		ew.printf("OK: %s produced = %s landed, no duplicates, offsets tile every partition, contract-clean\n",
			n(s.Produced), n(s.Distinct))
	} else {
		ew.printf("FAIL:\n")
		for _, p := range s.Problems {
			ew.printf("  - %s\n", p)
		}
	}
	return ew.err
}

func perConsumer(cs []ConsumerStats) string {
	if len(cs) < 2 {
		return ""
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = group(c.Consumed)
	}
	return "per consumer: " + strings.Join(parts, " + ")
}

// group formats n with thousands separators: 1234567 → "1,234,567".
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func bytesText(b int64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", b)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
