package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Phase names, in the order Run measures them.
const (
	PhaseCeiling = "ceiling" // raw consumer group: poll and discard
	PhaseDecode  = "decode"  // consume + tick JSON decode (the sink's decoder)
	PhaseSink    = "sink"    // the real sink: decode, encode, upload, commit
	PhaseSeed    = "seed"    // the seed project's strategy: one S3 PUT per record
	// PhaseConsumer is a program of the user's (Consumer option), when it drained.
	PhaseConsumer = "consumer"
	PhaseLatency  = "latency" // the sink under a fixed produce rate (plot only)
)

// Report is what Run measured. Ratios and target verdicts are computed from
// the measured numbers by Run (see Compute); nothing is hard-coded.
type Report struct {
	Records     int     `json:"records"`
	Partitions  int     `json:"partitions"`
	Consumers   int     `json:"consumers"`
	Format      string  `json:"format"`
	Runs        int     `json:"runs"`
	RecordBytes float64 `json:"record_bytes"` // mean key+value size; MB/s figures are records/s × this
	GOMAXPROCS  int     `json:"gomaxprocs"`
	GoVersion   string  `json:"go_version"`

	Produce Trial    `json:"produce"` // producing the N records once (not a consumer phase)
	Phases  []*Phase `json:"phases"`  // ceiling, decode, sink, seed, and consumer when it drained
	// Consumer is the user's program (the Consumer option), also when it
	// timed out.
	Consumer *ConsumerStat `json:"consumer,omitempty"`
	Latency  *LatencyStat  `json:"latency,omitempty"`
	Memory   *MemoryStat   `json:"memory,omitempty"`

	// SinkVsSeed is the sink's best rate over the seed baseline's best rate.
	SinkVsSeed float64  `json:"sink_vs_seed"`
	Targets    []Target `json:"targets"`
	Seconds    float64  `json:"seconds"` // wall time of the whole bench
}

// Phase is one throughput phase over R runs.
type Phase struct {
	Name            string  `json:"name"`
	Runs            []Trial `json:"runs"`
	BestRate        float64 `json:"best_records_per_s"`
	MedianRate      float64 `json:"median_records_per_s"`
	BestMBps        float64 `json:"best_mb_per_s"`
	MedianMBps      float64 `json:"median_mb_per_s"`
	VsCeiling       float64 `json:"vs_ceiling"`        // best / ceiling best
	VsDecode        float64 `json:"vs_decode"`         // best / decode best
	MedianVsCeiling float64 `json:"median_vs_ceiling"` // median / ceiling median
	MedianVsDecode  float64 `json:"median_vs_decode"`  // median / decode median
	bestRun, medRun int
}

// Trial is one run of a phase.
type Trial struct {
	Records int64   `json:"records"`
	Bytes   int64   `json:"bytes"` // key+value bytes consumed (or produced)
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"records_per_s"`
	MBps    float64 `json:"mb_per_s"`
	// SetupSeconds is the run's fixed cost before its clock starts: from
	// creating its clients (or sinks) to its first record — joining the
	// group, fetching offsets, the first fetch. It is the same at any N.
	SetupSeconds float64 `json:"setup_s,omitempty"`
	// TailSeconds (sink runs) is the part of Seconds after the last record
	// was consumed: the final flush, upload and commit.
	TailSeconds float64 `json:"tail_s,omitempty"`
	// Series is progress over time: cumulative records at elapsed seconds
	// since the run's first record, sampled every ~10ms.
	Series []Sample `json:"series,omitempty"`
}

// Sample is one progress observation.
type Sample struct {
	T       float64 `json:"t"`       // seconds since the run's first record
	Records int64   `json:"records"` // cumulative records done
}

// LatencyStat is the latency phase: produce at a fixed rate, time from a
// record's Kafka timestamp to the moment the S3 PUT of its object returned.
type LatencyStat struct {
	Fraction      float64 `json:"fraction"`       // of the sink's median rate
	TargetRate    float64 `json:"target_rate"`    // records/s asked of the producer
	AchievedRate  float64 `json:"achieved_rate"`  // records/s actually produced
	Records       int     `json:"records"`        // records measured
	Objects       int     `json:"objects"`        // objects the sink wrote
	FlushInterval float64 `json:"flush_interval"` // seconds, the sink's FlushInterval
	P50           float64 `json:"p50_ms"`
	P95           float64 `json:"p95_ms"`
	P99           float64 `json:"p99_ms"`
	Max           float64 `json:"max_ms"`
	Run           Trial   `json:"run"` // the sink's progress (plot)
}

// MemoryStat compares the sink's memory at N and 4×N records.
type MemoryStat struct {
	AtN  MemoryRun `json:"at_n"`
	At4N MemoryRun `json:"at_4n"`
	// HeapRatio is At4N.PeakHeap / AtN.PeakHeap (target ≤ 1.2).
	HeapRatio float64 `json:"heap_ratio"`
	// RSSRatio is At4N.PeakRSS / AtN.PeakRSS.
	RSSRatio float64 `json:"rss_ratio"`
	// Process is the sink as its own OS process (`tickflow sink`, one
	// process) over the same N and 4×N records: its peak RSS is the
	// sink's alone, not the brokers' and S3's that share the bench's
	// process. Nil when no tickflow binary was given (ProcessNote says so).
	Process     *ProcessMemory `json:"process,omitempty"`
	ProcessNote string         `json:"process_note,omitempty"`
}

// ProcessMemory is the sink process's peak RSS at N and 4×N records.
type ProcessMemory struct {
	Binary string  `json:"binary"`
	AtN    ProcRun `json:"at_n"`
	At4N   ProcRun `json:"at_4n"`
	// RSSRatio is At4N.PeakRSS / AtN.PeakRSS (target ≤ 1.10: memory bounded
	// by the flush settings and the partitions owned, not by volume).
	RSSRatio float64 `json:"rss_ratio"`
}

// Memory targets of the sink process.
const (
	TargetProcessRSS      = 256 << 20 // peak RSS at 1 M records
	TargetProcessRSSRatio = 1.10      // peak RSS at 4N over N
)

// MemoryRun is one sink run's memory. Heap figures are Go heap object bytes
// above the baseline taken after a GC just before the run (the embedded
// world keeps its data on disk in this phase, so the baseline is small and
// the same for N and 4×N). RSS is process-wide (VmHWM after resetting it),
// and allocations are process-wide too, so they include the embedded
// brokers and S3 serving the sink.
type MemoryRun struct {
	Records         int64   `json:"records"`
	Seconds         float64 `json:"seconds"`
	BaselineHeap    uint64  `json:"baseline_heap_bytes"`
	PeakHeap        uint64  `json:"peak_heap_bytes"` // peak heap objects above the baseline
	BaselineRSS     uint64  `json:"baseline_rss_bytes"`
	PeakRSS         uint64  `json:"peak_rss_bytes"` // VmHWM (process peak) during the run
	RSSReset        bool    `json:"rss_reset"`      // false if /proc/self/clear_refs could not reset VmHWM
	AllocBytesPer   float64 `json:"alloc_bytes_per_record"`
	AllocObjectsPer float64 `json:"allocs_per_record"`
}

// Target is one goal and whether this run met it. Targets are reported,
// never enforced: a shared machine's numbers vary.
type Target struct {
	Name string  `json:"name"`
	Want string  `json:"want"`
	Got  float64 `json:"got"`
	OK   bool    `json:"ok"`
	// Unstable is set when the run was too short for the ratio to mean
	// anything (see StableMultiple): OK is then only the comparison of Got,
	// and the report says "N too small for a stable ratio" instead of ✓/✗.
	Unstable bool `json:"unstable,omitempty"`
	// FixedMs is the fixed cost the stability check measured (the median
	// setup time of the runs of the phases in the ratio), in milliseconds.
	FixedMs float64 `json:"fixed_costs_ms,omitempty"`
	// ShortestMs is the shortest best timed run of those phases.
	ShortestMs float64 `json:"shortest_run_ms,omitempty"`
	// NeedRecords is about the N at which the ratio would be stable
	// (0 when it is).
	NeedRecords int64 `json:"need_records,omitempty"`
}

// StableMultiple is how many times its fixed costs every phase of a ratio
// must run for the ratio to be reported as met or missed. A phase's fixed
// costs are what each of its runs pays whatever N: creating clients,
// joining the group, fetching offsets, the first fetch (measured as the
// time from the run's start to its first record, Trial.SetupSeconds),
// and, of the same order, the sink's last upload and commit inside its
// timed run. Below 10× (about 300,000 records on a quiet 2-core machine,
// where setups take 5–30 ms and the ceiling reads 3 M records/s) the
// ratios swing by 2× between runs and the sink can even look faster than
// the ceiling, so the report says "N too small for a stable ratio (fixed
// costs X ms)" instead of ✓ or ✗.
const StableMultiple = 10

// stability checks the ratio target t between phases: X is the median
// setup time over all their runs, and every phase's best run must last at
// least StableMultiple × X.
func (r *Report) stability(t *Target, phases ...*Phase) {
	var setups []float64
	shortest := math.Inf(1)
	for _, p := range phases {
		if p == nil || len(p.Runs) == 0 {
			return
		}
		for _, run := range p.Runs {
			setups = append(setups, run.SetupSeconds)
		}
		shortest = min(shortest, p.Best().Seconds)
	}
	slices.Sort(setups)
	fixed := setups[len(setups)/2]
	if fixed <= 0 {
		return // not measured (an old report): nothing to say
	}
	t.FixedMs, t.ShortestMs = fixed*1000, shortest*1000
	if shortest >= StableMultiple*fixed {
		return
	}
	t.Unstable = true
	// A phase's time grows about linearly with its records: the N at
	// which each phase that reads all N records would last
	// StableMultiple × the fixed costs (the seed's sample is not N).
	for _, p := range phases {
		b := p.Best()
		if b.Records == int64(r.Records) && b.Seconds > 0 && b.Seconds < StableMultiple*fixed {
			t.NeedRecords = max(t.NeedRecords, int64(math.Ceil(float64(r.Records)*StableMultiple*fixed/b.Seconds)))
		}
	}
}

// Note is what the report says of an unstable target.
func (t Target) Note() string {
	if !t.Unstable {
		return ""
	}
	s := fmt.Sprintf("N too small for a stable ratio (fixed costs %.0f ms; the shortest phase ran %.0f ms, want ≥ %d×",
		t.FixedMs, t.ShortestMs, StableMultiple)
	if t.NeedRecords > 0 {
		s += fmt.Sprintf(": about --records %s", count(roundUp(t.NeedRecords)))
	}
	return s + ")"
}

// roundUp rounds n up to two significant digits.
func roundUp(n int64) int64 {
	p := int64(1)
	for n/p >= 100 {
		p *= 10
	}
	return (n + p - 1) / p * p
}

// Phase returns the named phase or nil.
func (r *Report) Phase(name string) *Phase {
	for _, p := range r.Phases {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Compute fills every derived figure (rates, best/median, ratios, targets)
// from the runs' measured records, bytes and seconds.
func (r *Report) Compute() {
	// The sink does not report input bytes: every phase reads the same
	// records, so its bytes are its records × the mean record size.
	fill := func(t *Trial) {
		if t.Bytes == 0 && t.Records > 0 {
			t.Bytes = int64(math.Round(float64(t.Records) * r.RecordBytes))
		}
	}
	fill(&r.Produce)
	r.Produce.finish()
	for _, p := range r.Phases {
		for i := range p.Runs {
			fill(&p.Runs[i])
		}
		p.compute()
	}
	if r.Latency != nil {
		fill(&r.Latency.Run)
		r.Latency.Run.finish()
	}
	ceil, dec, snk, seed := r.Phase(PhaseCeiling), r.Phase(PhaseDecode), r.Phase(PhaseSink), r.Phase(PhaseSeed)
	for _, p := range r.Phases {
		if ceil != nil {
			p.VsCeiling, p.MedianVsCeiling = ratio(p.BestRate, ceil.BestRate), ratio(p.MedianRate, ceil.MedianRate)
		}
		if dec != nil {
			p.VsDecode, p.MedianVsDecode = ratio(p.BestRate, dec.BestRate), ratio(p.MedianRate, dec.MedianRate)
		}
	}
	if c := r.Consumer; c != nil && c.Drained {
		if ceil != nil {
			c.VsCeiling, c.TimeVsCeiling = ratio(c.Rate, ceil.BestRate), ratio(c.ConsumeSeconds, ceil.Best().Seconds)
		}
		if snk != nil {
			c.VsSink, c.MedianVsSink = ratio(c.Rate, snk.BestRate), ratio(c.Rate, snk.MedianRate)
			c.TimeVsSink = ratio(c.ConsumeSeconds, snk.Best().Seconds)
		}
	}
	r.Targets = nil
	if snk != nil && seed != nil {
		r.SinkVsSeed = ratio(snk.BestRate, seed.BestRate)
	}
	if snk != nil && dec != nil {
		t := Target{Name: "sink / decode", Want: "≥ 0.60", Got: snk.VsDecode, OK: snk.VsDecode >= 0.6}
		r.stability(&t, snk, dec)
		r.Targets = append(r.Targets, t)
	}
	if snk != nil && ceil != nil {
		want := "≥ 0.30"
		if r.Format != "parquet" {
			want += " (set for parquet)"
		}
		t := Target{Name: "sink / ceiling", Want: want, Got: snk.VsCeiling, OK: snk.VsCeiling >= 0.3}
		r.stability(&t, snk, ceil)
		r.Targets = append(r.Targets, t)
	}
	if snk != nil && seed != nil {
		t := Target{Name: "sink / seed baseline", Want: "≥ 100", Got: r.SinkVsSeed, OK: r.SinkVsSeed >= 100}
		r.stability(&t, snk, seed)
		r.Targets = append(r.Targets, t)
	}
	if m := r.Memory; m != nil {
		m.HeapRatio = ratio(float64(m.At4N.PeakHeap), float64(m.AtN.PeakHeap))
		m.RSSRatio = ratio(float64(m.At4N.PeakRSS), float64(m.AtN.PeakRSS))
		r.Targets = append(r.Targets, Target{Name: "peak heap 4N / N", Want: "≤ 1.20", Got: m.HeapRatio, OK: m.HeapRatio > 0 && m.HeapRatio <= 1.2})
		if pm := m.Process; pm != nil {
			pm.RSSRatio = ratio(float64(pm.At4N.PeakRSS), float64(pm.AtN.PeakRSS))
			want := "≤ 256 MiB"
			if r.Records != 1_000_000 {
				want += " (set for N = 1,000,000)"
			}
			rss := float64(pm.AtN.PeakRSS) / (1 << 20)
			r.Targets = append(r.Targets,
				Target{Name: "sink process RSS at N", Want: want, Got: rss, OK: pm.AtN.PeakRSS > 0 && pm.AtN.PeakRSS <= TargetProcessRSS},
				Target{Name: "sink process RSS 4N / N", Want: "≤ 1.10", Got: pm.RSSRatio, OK: pm.RSSRatio > 0 && pm.RSSRatio <= TargetProcessRSSRatio})
		}
	}
}

func (run *Trial) finish() {
	run.Rate = ratio(float64(run.Records), run.Seconds)
	run.MBps = ratio(float64(run.Bytes), run.Seconds) / 1e6
}

func (p *Phase) compute() {
	if len(p.Runs) == 0 {
		return
	}
	idx := make([]int, len(p.Runs))
	for i := range p.Runs {
		p.Runs[i].finish()
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmpFloat(p.Runs[b].Rate, p.Runs[a].Rate) })
	p.bestRun = idx[0]
	p.BestRate, p.BestMBps = p.Runs[idx[0]].Rate, p.Runs[idx[0]].MBps
	n := len(idx)
	if n%2 == 1 {
		p.medRun = idx[n/2]
		p.MedianRate, p.MedianMBps = p.Runs[p.medRun].Rate, p.Runs[p.medRun].MBps
	} else {
		a, b := p.Runs[idx[n/2-1]], p.Runs[idx[n/2]]
		p.medRun = idx[n/2]
		p.MedianRate, p.MedianMBps = (a.Rate+b.Rate)/2, (a.MBps+b.MBps)/2
	}
}

// Best returns the fastest run.
func (p *Phase) Best() Trial { return p.Runs[p.bestRun] }

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func ratio(a, b float64) float64 {
	if b <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return 0
	}
	return a / b
}

// WriteTable writes the report as a human-readable table.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "tickflow bench: %s records × %.0f B, %s, %s, %s, %s per phase, GOMAXPROCS=%d, %s\n",
		count(int64(r.Records)), r.RecordBytes, nouns(r.Partitions, "partition"), nouns(r.Consumers, "consumer"), r.Format,
		nouns(r.Runs, "run"), r.GOMAXPROCS, r.GoVersion)
	fmt.Fprintf(&b, "produce (once): %s records/s, %.1f MB/s\n\n", count(int64(r.Produce.Rate)), r.Produce.MBps)
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tbest rec/s\tmedian rec/s\tbest MB/s\tmedian MB/s\t× ceiling\t× decode\t")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%.1f\t%s\t%s\t\n", p.Name, count(int64(p.BestRate)), count(int64(p.MedianRate)),
			p.BestMBps, p.MedianMBps, ratioCol(p.VsCeiling), ratioCol(p.VsDecode))
	}
	tw.Flush()
	b.WriteString("ratios use each phase's best run; medians in --json. The seed baseline's rate is extrapolated from its sample.\n")
	if r.SinkVsSeed > 0 {
		fmt.Fprintf(&b, "sink vs seed baseline (one PUT per record): %.0f×\n", r.SinkVsSeed)
	}
	if c := r.Consumer; c != nil {
		c.writeText(&b)
	}
	if l := r.Latency; l != nil {
		fmt.Fprintf(&b, "\nlatency (record timestamp → object PUT done), %s records at %s rec/s (%.0f%% of sink median, asked %s), flush interval %s, %d objects:\n",
			count(int64(l.Records)), count(int64(l.AchievedRate)), l.Fraction*100, count(int64(l.TargetRate)),
			time.Duration(l.FlushInterval*float64(time.Second)), l.Objects)
		fmt.Fprintf(&b, "  p50 %.0f ms   p95 %.0f ms   p99 %.0f ms   max %.0f ms\n", l.P50, l.P95, l.P99, l.Max)
	}
	if m := r.Memory; m != nil {
		b.WriteString("\nmemory (sink runs; heap = Go heap above the pre-run baseline, RSS = process peak VmHWM):\n")
		tw = tabwriter.NewWriter(&b, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "records\tpeak heap\tpeak RSS\tbaseline RSS\talloc B/rec\tallocs/rec\t")
		for _, mr := range []MemoryRun{m.AtN, m.At4N} {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f\t%.1f\t\n", count(mr.Records), mib(mr.PeakHeap), mib(mr.PeakRSS),
				mib(mr.BaselineRSS), mr.AllocBytesPer, mr.AllocObjectsPer)
		}
		tw.Flush()
		fmt.Fprintf(&b, "heap 4N/N %.2f, RSS 4N/N %.2f (the bench's process: the sink and the embedded brokers and S3 serving it)\n", m.HeapRatio, m.RSSRatio)
		if pm := m.Process; pm != nil {
			b.WriteString("\nthe sink as its own process (`tickflow sink`, 1 process; RSS = its peak VmHWM, CPU = its user+system time):\n")
			tw = tabwriter.NewWriter(&b, 2, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "records\tpeak RSS\tRSS / partition\tCPU\trec/CPU-s\trec/s\tstart-up\t")
			for _, pr := range []ProcRun{pm.AtN, pm.At4N} {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", count(pr.Records), mib(pr.PeakRSS), mib(pr.RSSPerPartition),
					duration(pr.CPUSeconds), count(int64(pr.PerCore)), count(int64(pr.Rate)), duration(pr.StartupSeconds))
			}
			tw.Flush()
			fmt.Fprintf(&b, "sink process peak RSS 4N/N %.2f\n", pm.RSSRatio)
		} else if m.ProcessNote != "" {
			fmt.Fprintf(&b, "the sink as its own process: %s\n", m.ProcessNote)
		}
	}
	b.WriteString("\ntargets (reported, not enforced):\n")
	for _, t := range r.Targets {
		mark := "✗"
		if t.OK {
			mark = "✓"
		}
		if t.Unstable {
			fmt.Fprintf(&b, "  · %-22s %8.2f  want %s: %s\n", t.Name, t.Got, t.Want, t.Note())
			continue
		}
		fmt.Fprintf(&b, "  %s %-22s %8.2f  want %s\n", mark, t.Name, t.Got, t.Want)
	}
	fmt.Fprintf(&b, "\ntotal %.1fs\n", r.Seconds)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeText writes the consumer phase's lines of the report.
func (c *ConsumerStat) writeText(b *strings.Builder) {
	fmt.Fprintf(b, "\nyour consumer `%s`, %s (tickflow's sink: %s)", c.Command, nouns(c.Instances, "instance"), nouns(c.SinkInstances, "instance"))
	if !c.Drained {
		fmt.Fprintf(b, ": TIMED OUT after %s with %s of %s records done — no throughput reported\n",
			time.Duration(c.DrainTimeout*float64(time.Second)), count(c.Records), count(c.Total))
		fmt.Fprintf(b, "  %s\n", c.progressLine())
		return
	}
	how := "its committed offsets reached the end of every partition"
	if c.DrainedBy == DrainedByLake {
		how = "every record is in its lake (it commits no offsets)"
	}
	fmt.Fprintf(b, ", drained: %s\n", how)
	fmt.Fprintf(b, "  %s rec/s = %s× the ceiling, %s× tickflow's sink (best runs of this run; %s× the sink's median)\n",
		count(int64(c.Rate)), ratioText(c.VsCeiling), ratioText(c.VsSink), ratioText(c.MedianVsSink))
	fmt.Fprintf(b, "  consuming took %s = %s× the ceiling's time and %s× the sink's for the same %s records\n",
		duration(c.ConsumeSeconds), ratioText(c.TimeVsCeiling), ratioText(c.TimeVsSink), count(c.Records))
	fmt.Fprintf(b, "  %s\n", c.progressLine())
	if len(c.Exits) > 0 {
		fmt.Fprintf(b, "  stopped with SIGTERM at the end; exit status per instance: %s\n", strings.Join(c.Exits, ", "))
	}
	b.WriteString("  S3 signature checks were off in this run (every instance signs with credentials of its own)\n")
}

// progressLine is the consumer phase's times, writes and resources.
func (c *ConsumerStat) progressLine() string {
	first := "no object written"
	if c.FirstObjectSeconds >= 0 {
		first = "first object after " + duration(c.FirstObjectSeconds)
	}
	end := "drained"
	if !c.Drained {
		end = "stopped"
	}
	s := fmt.Sprintf("%s %s after its start (first fetch after %s, %s, %s S3 writes); peak RSS %s, CPU %s (%.1f µs/record), summed over its process groups",
		end, duration(c.DrainSeconds), duration(c.StartupSeconds), first, count(c.Objects), mib(c.PeakRSS), duration(c.CPUSeconds), c.CPUPerRecord)
	if c.LakeRecords >= 0 {
		s += fmt.Sprintf("; %s distinct records counted in its lake", count(c.LakeRecords))
		if c.UnreadableFiles > 0 {
			s += fmt.Sprintf(" (%d objects unreadable)", c.UnreadableFiles)
		}
	}
	return s
}

// ratioCol prints a table's ratio with three decimals, and one below
// 0.001 (a user's slow consumer) with two significant digits rather than
// as 0.000.
func ratioCol(v float64) string {
	if v > 0 && v < 0.001 {
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// count formats n with thousands separators.
// nouns returns "1 run" or "3 runs".
func nouns(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
