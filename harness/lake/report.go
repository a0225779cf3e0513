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
	Store           string              `json:"store"`                // e.g. "s3://bucket" or "dir:/tmp/lake"
	Prefix          string              `json:"prefix"`               // the folder that holds the table root
	Location        string              `json:"location"`             // the table root, e.g. prefix + "stock_ticks/"
	Table           string              `json:"table"`                // the table's name
	Definition      string              `json:"definition,omitempty"` // the file the table definition came from ("" for the built-in one)
	Format          string              `json:"format"`               // parquet, json, json+gzip, or mixed
	Production      bool                `json:"production"`
	Objects         int                 `json:"objects"`      // every object under the table root
	DataObjects     int                 `json:"data_objects"` // objects that are not markers
	Bytes           int64               `json:"bytes"`
	Rows            int64               `json:"rows"`       // rows in readable data objects
	Distinct        int64               `json:"distinct"`   // distinct (kafka_partition, kafka_offset)
	Duplicates      int64               `json:"duplicates"` // rows beyond the first per (partition, offset)
	ExpectedRecords int64               `json:"expected_records"`
	Violations      []Violation         `json:"violations"`
	Tables          []Table             `json:"tables"` // the crawler prediction
	Partitions      []PartitionCoverage `json:"partitions"`
	// Timestamps says how each timestamp column is stored in the Parquet
	// files (unit and isAdjustedToUTC), which decides what Athena shows.
	Timestamps []TimestampColumn `json:"timestamps,omitempty"`
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

// OK reports whether the lake has no Error-severity violation.
func (r *Report) OK() bool { return len(r.Errors()) == 0 }

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
	ew.printf("%s (%d data, %s), %s, %s, format %s\n",
		count(r.Objects, "object"), r.DataObjects, count(r.Bytes, "byte"), count(r.Rows, "row"), count(r.Distinct, "distinct record"), r.Format)
	if r.ExpectedRecords >= 0 {
		ew.printf("expected records: %d\n", r.ExpectedRecords)
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
			ew.printf("\n%s %s (%s, %d) — fix: %s\n  source: %s\n", id, vs[0].Name, vs[0].Severity, len(vs), rulesByID[id].Fix, vs[0].Source)
			tw := tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
			for _, v := range vs {
				fmt.Fprintf(tw, "  %s\t%s\n", v.Key, v.Message)
			}
			tw.Flush()
		}
	}
	ew.printf("\n")
	if err := WriteTables(ew, r.Tables); err != nil {
		return err
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
	errs, warns := len(r.Errors()), len(r.Warnings())
	if r.OK() {
		ew.printf("\nOK: the lake meets the contract (%s)\n", count(warns, "warning"))
	} else {
		ew.printf("\nFAIL: %s (%s, %s) of rules %s\n", count(errs+warns, "violation"), count(errs, "error"), count(warns, "warning"), strings.Join(r.Rules(), ", "))
	}
	return ew.err
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
