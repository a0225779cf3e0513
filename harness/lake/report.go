package lake

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Report is the outcome of Check: every violation, the predicted Glue
// table(s), per-Kafka-partition offset coverage and counts.
type Report struct {
	Store           string `json:"store"`                // e.g. "s3://bucket" or "dir:/tmp/lake"
	Prefix          string `json:"prefix"`               // the folder that holds the table root
	Location        string `json:"location"`             // the table root, e.g. prefix + "stock_ticks/"
	Table           string `json:"table"`                // the table's name
	Definition      string `json:"definition,omitempty"` // the file the table definition came from ("" for the built-in one)
	Format          string `json:"format"`               // parquet, json, json+gzip, or mixed
	Production      bool   `json:"production"`
	Objects         int    `json:"objects"`      // every object under the table root
	DataObjects     int    `json:"data_objects"` // objects that are not markers
	Bytes           int64  `json:"bytes"`
	Rows            int64  `json:"rows"`       // rows in readable data objects
	Distinct        int64  `json:"distinct"`   // distinct (kafka_partition, kafka_offset)
	Duplicates      int64  `json:"duplicates"` // rows beyond the first per (partition, offset)
	ExpectedRecords int64  `json:"expected_records"`
	// RecordsCounted says Distinct and Duplicates mean something: the
	// table has kafka_partition/kafka_offset columns or sink metadata.
	RecordsCounted bool `json:"records_counted"`
	// DeadLetters counts the records of the dead-letter topic (read with
	// --brokers) that are not in the lake: R01 counts them as delivered.
	DeadLetters int64 `json:"dead_letters"`
	// Unchecked lists the rules that could not be applied, and why; with
	// Strict any of them fails the check.
	Unchecked []Unchecked `json:"unchecked"`
	Strict    bool        `json:"strict"`
	// Kafka is the lake against the topic's offsets (WithKafka), nil
	// without Kafka.
	Kafka      *KafkaCoverage `json:"kafka,omitempty"`
	Violations []Violation    `json:"violations"`
	// Tables is the crawler prediction, made for crawled tables (Crawled)
	// and with PredictCrawler; empty otherwise.
	Tables []Table `json:"tables"`
	// Crawled says the table was judged as a crawler maintains it.
	Crawled    bool                `json:"crawled"`
	Partitions []PartitionCoverage `json:"partitions"`
	// Timestamps says how each timestamp column is stored in the Parquet
	// files (unit and isAdjustedToUTC), which decides what Athena shows.
	Timestamps []TimestampColumn `json:"timestamps,omitempty"`

	fixes map[string]string // the table's own generic fixes (tableFixes)
}

// TimestampColumn is how one timestamp column is encoded across the files.
type TimestampColumn struct {
	Column   string `json:"column"`
	Encoding string `json:"encoding"` // e.g. "INT64 TIMESTAMP(MILLIS), isAdjustedToUTC=true"
	Files    int    `json:"files"`
}

func (r *Report) add(v Violation) { r.Violations = append(r.Violations, v) }

func (r *Report) sort() {
	sort.SliceStable(r.Violations, func(i, j int) bool {
		a, b := r.Violations[i], r.Violations[j]
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Key < b.Key
	})
	if r.Violations == nil {
		r.Violations = []Violation{}
	}
}

// OK reports whether the lake has no Error-severity violation and, with
// Strict, no unchecked rule.
func (r *Report) OK() bool { return len(r.Errors()) == 0 && !r.StrictFailure() }

// StrictFailure reports whether the check fails only because of Strict:
// rules that could not be applied (Unchecked).
func (r *Report) StrictFailure() bool { return r.Strict && len(r.Unchecked) > 0 }

// Errors returns the violations that fail the check.
func (r *Report) Errors() []Violation { return r.filter(Error) }

// Warnings returns the violations that only inform.
func (r *Report) Warnings() []Violation { return r.filter(Warning) }

func (r *Report) filter(s Severity) []Violation {
	var out []Violation
	for _, v := range r.Violations {
		if v.Severity == s {
			out = append(out, v)
		}
	}
	return out
}

// Rules returns the distinct rule IDs violated, sorted.
func (r *Report) Rules() []string {
	seen := map[string]bool{}
	var ids []string
	for _, v := range r.Violations {
		if !seen[v.Rule] {
			seen[v.Rule] = true
			ids = append(ids, v.Rule)
		}
	}
	sort.Strings(ids)
	return ids
}

func lakeFormat(files []*file) string {
	seen := map[string]bool{}
	for _, f := range files {
		if f.isData() && f.format != "" {
			seen[formatOf(f)] = true
		}
	}
	switch len(seen) {
	case 0:
		return "unknown"
	case 1:
		for k := range seen {
			return k
		}
	}
	return "mixed"
}

// WriteText prints the human report: violations grouped by rule, the
// predicted Glue table(s), offset coverage and a one-line verdict.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("lake %s, table %s at %s\n", r.Store, r.Table, r.Location)
	if r.Definition != "" {
		ew.printf("table definition: %s\n", r.Definition)
	}
	distinct := count(r.Distinct, "distinct record")
	if !r.RecordsCounted {
		distinct = "distinct records not counted (no kafka_partition/kafka_offset columns)"
	}
	ew.printf("%s (%d data, %s), %s, %s, format %s\n",
		count(r.Objects, "object"), r.DataObjects, count(r.Bytes, "byte"), count(r.Rows, "row"), distinct, r.Format)
	if r.ExpectedRecords >= 0 {
		if r.DeadLetters > 0 {
			ew.printf("expected records: %d (the lake's distinct records + %s read from the dead-letter topic)\n", r.ExpectedRecords, count(r.DeadLetters, "dead letter"))
		} else {
			ew.printf("expected records: %d\n", r.ExpectedRecords)
		}
	}
	if !r.Production {
		ew.printf("production checks (L15 file size, L26 empty projected partitions) off; run tickflow verify --production for a real lake\n")
	}
	if len(r.Violations) > 0 {
		ew.printf("\nVIOLATIONS\n")
		for _, id := range r.Rules() {
			var vs []Violation
			for _, v := range r.Violations {
				if v.Rule == id {
					vs = append(vs, v)
				}
			}
			ew.printf("\n%s %s (%s, %d) — fix: %s\n  source: %s\n", id, vs[0].Name, vs[0].Severity, len(vs), r.ruleFix(id), vs[0].Source)
			tw := tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
			for _, v := range vs {
				fmt.Fprintf(tw, "  %s\t%s\n", v.Key, v.Message)
				if v.Fix != "" && v.Fix != r.ruleFix(id) {
					fmt.Fprintf(tw, "  \t  fix: %s\n", v.Fix)
				}
			}
			tw.Flush()
		}
	}
	ew.printf("\n")
	if r.Crawled {
		if err := WriteTables(ew, r.Tables); err != nil {
			return err
		}
	} else {
		ew.printf("crawler prediction (C01) not made: table %s is not maintained by a Glue crawler (no UPDATED_BY_CRAWLER parameter); verify --crawler predicts it anyway\n", r.Table)
	}
	if len(r.Timestamps) > 0 {
		ew.printf("\nTIMESTAMPS (Parquet encoding; Athena shows isAdjustedToUTC=false values as written, without a zone)\n")
		tw := tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
		for _, ts := range r.Timestamps {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", ts.Column, ts.Encoding, count(ts.Files, "file"))
		}
		tw.Flush()
	}
	if len(r.Partitions) > 0 {
		ew.printf("\nOFFSET COVERAGE\n")
		tw := tabwriter.NewWriter(ew, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "  partition\tobjects\trows\tdistinct\tfirst\tlast\tgaps\tskipped\toverlaps\tduplicates\t\n")
		for _, p := range r.Partitions {
			fmt.Fprintf(tw, "  %d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", p.Partition, p.Objects, p.Rows, p.Distinct,
				p.FirstOffset, p.LastOffset, len(p.Gaps), p.Skipped, p.Overlaps, p.Duplicates)
		}
		tw.Flush()
	}
	if r.Kafka != nil {
		r.writeKafka(ew)
	}
	if len(r.Unchecked) > 0 {
		ew.printf("\nNOT CHECKED")
		if !r.Strict {
			ew.printf(" (--strict makes these fail)")
		}
		ew.printf("\n")
		for _, l := range uncheckedText(r.Unchecked) {
			ew.printf("  %s\n", l)
		}
	}
	errs, warns := len(r.Errors()), len(r.Warnings())
	notChecked := ""
	if len(r.Unchecked) > 0 {
		notChecked = "; not checked: " + strings.Join(r.UncheckedRules(), ", ")
	}
	switch {
	case r.OK():
		ew.printf("\nOK: the lake meets the contract (%s%s)\n", count(warns, "warning"), notChecked)
	case errs == 0:
		ew.printf("\nFAIL (--strict): rules not checked: %s\n", strings.Join(r.UncheckedRules(), ", "))
	default:
		ew.printf("\nFAIL: %s (%s, %s) of rules %s%s\n", count(errs+warns, "violation"), count(errs, "error"), count(warns, "warning"), strings.Join(r.Rules(), ", "), notChecked)
	}
	return ew.err
}

// writeKafka prints the lake against Kafka's offsets, per partition.
func (r *Report) writeKafka(ew *errWriter) {
	k := r.Kafka
	target := "the offsets committed by group " + k.Group
	if k.Target == "end" {
		target = "the end offsets (--expect-drained); group " + k.Group + "'s commits shown"
	}
	ew.printf("\nKAFKA topic %s on %s: the lake must cover each partition from its log start to %s\n", k.Topic, k.Brokers, target)
	if len(k.Partitions) == 0 {
		ew.printf("  not compared: the lake has no offsets\n")
		return
	}
	tw := tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  partition\tlog start\tcommitted\tend\tlake first\tlake last\tmissing\n")
	opt := func(v int64) string {
		if v < 0 {
			return "-"
		}
		return fmt.Sprint(v)
	}
	for _, p := range k.Partitions {
		var miss []string
		for _, m := range p.Missing {
			miss = append(miss, m.Rule+" "+m.OffsetRange.String())
		}
		if len(miss) > 4 {
			miss = append(miss[:4], fmt.Sprintf("… %d more", len(miss)-4))
		}
		status := strings.Join(miss, ", ")
		if status == "" {
			status = "none"
		}
		fmt.Fprintf(tw, "  %d\t%d\t%s\t%d\t%s\t%s\t%s\n", p.Partition, p.LogStart, opt(p.Committed), p.End, opt(p.LakeFirst), opt(p.LakeLast), status)
	}
	tw.Flush()
}

// count returns "1 object" or "2 objects".
func count[N int | int64](n N, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
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
