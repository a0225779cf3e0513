package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tickflow/tickflow/broker"
)

// The sweep's axes, in the order Sweep runs them.
const (
	AxisRecords    = "records"
	AxisPartitions = "partitions"
	AxisConsumers  = "consumers"
)

// Default sweep axes (SweepRecords, SweepPartitions, SweepConsumers).
var (
	DefaultSweepRecords    = []int{1_000_000, 2_000_000, 4_000_000, 8_000_000, 16_000_000}
	DefaultSweepPartitions = []int{6, 12, 24, 48, 96}
	DefaultSweepConsumers  = []int{1, 2, 3, 4}
)

// SweepRecords is the records axis of Sweep. Default 1M, 2M, 4M, 8M, 16M.
func SweepRecords(n ...int) Option { return func(c *config) { c.sweepRecords = n } }

// SweepPartitions is the partitions axis of Sweep. Default 6 → 96, doubling.
func SweepPartitions(n ...int) Option { return func(c *config) { c.sweepPartitions = n } }

// SweepConsumers is the consumers axis of Sweep (sink processes in one
// group). Default 1 → 4.
func SweepConsumers(n ...int) Option { return func(c *config) { c.sweepConsumers = n } }

// SweepPoint is one sink run of the sweep.
type SweepPoint struct {
	Axis string `json:"axis"` // which axis this point varies
	ProcRun
	// PerCoreVsFirst is PerCore over that of the axis's first point: how
	// the cost per record grows along the axis (1 = flat).
	PerCoreVsFirst float64 `json:"per_core_vs_first"`
	// RSSVsFirst is PeakRSS over that of the axis's first point.
	RSSVsFirst float64 `json:"rss_vs_first"`
}

// SweepReport is what Sweep measured.
type SweepReport struct {
	Format     string `json:"format"`
	Records    []int  `json:"records_axis"`
	Partitions []int  `json:"partitions_axis"`
	Consumers  []int  `json:"consumers_axis"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	NumCPU     int    `json:"num_cpu"`
	GoVersion  string `json:"go_version"`
	Binary     string `json:"binary"`
	// Points, axis by axis. The records axis runs at the first partition
	// count and consumer count, the partitions axis at the first record
	// count and consumer count, the consumers axis at the first record
	// count and partition count; the point all three share is measured
	// once and listed under each.
	Points  []SweepPoint `json:"points"`
	Seconds float64      `json:"seconds"`
}

// Axis returns the points of one axis, in order.
func (s *SweepReport) Axis(axis string) []SweepPoint {
	var out []SweepPoint
	for _, p := range s.Points {
		if p.Axis == axis {
			out = append(out, p)
		}
	}
	return out
}

func (c *config) validateSweep() error {
	for _, ax := range []struct {
		name string
		v    []int
		lo   int
		hi   int
	}{{"sweep-records", c.sweepRecords, 1, MaxRecords}, {"sweep-partitions", c.sweepPartitions, 1, MaxPartitions},
		{"sweep-consumers", c.sweepConsumers, 1, MaxConsumers}} {
		if len(ax.v) == 0 {
			return &ConfigError{ax.name, "[]", "at least one value"}
		}
		for _, v := range ax.v {
			if v < ax.lo || v > ax.hi {
				return &ConfigError{ax.name, v, fmt.Sprintf("values in %d..%d", ax.lo, ax.hi)}
			}
		}
	}
	if c.sinkBinary() == "" {
		return &ConfigError{"sink binary", `""`, "the tickflow binary (bench.SinkBinary or $TICKFLOW_BIN): the sweep runs `tickflow sink` processes"}
	}
	return nil
}

// ValidateSweep checks Sweep's options without running anything.
func ValidateSweep(opts ...Option) error {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	return cfg.validateSweep()
}

// Sweep runs the sink as OS processes (`tickflow sink`, SinkBinary) across
// each axis in turn — records, partitions, consumers — with the other two
// at their axis's first value, in one embedded world that keeps its data on
// disk, and reports for each point the records per second, the records
// per CPU-second of the sink processes (records/s per core), their peak
// RSS and the peak RSS per owned partition. Each point is one run of a
// fresh group over a topic of its own. Nothing is enforced.
//
//	rep, err := bench.Sweep(ctx, bench.SinkBinary("bin/tickflow"), bench.SweepRecords(1e6, 4e6))
//	rep.WriteTable(os.Stdout) // or json.Marshal(rep), rep.WriteSVG(f)
func Sweep(ctx context.Context, opts ...Option) (*SweepReport, error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := cfg.validateSweep(); err != nil {
		return nil, err
	}
	began := time.Now()
	rep := &SweepReport{Format: string(cfg.format), Records: cfg.sweepRecords, Partitions: cfg.sweepPartitions,
		Consumers: cfg.sweepConsumers, GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		GoVersion: runtime.Version(), Binary: cfg.sinkBinary()}
	dir, err := os.MkdirTemp("", "tickflow-sweep-")
	if err != nil {
		return nil, fmt.Errorf("bench: sweep: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg.progress("sweep: starting a world with its data on disk")
	w, err := startWorld(ctx, &cfg, broker.DataDir(dir))
	if err != nil {
		return nil, err
	}
	defer w.Close()

	r0, p0, c0 := cfg.sweepRecords[0], cfg.sweepPartitions[0], cfg.sweepConsumers[0]
	type key struct{ r, p, c int }
	var order []SweepPoint
	for _, r := range cfg.sweepRecords {
		order = append(order, SweepPoint{Axis: AxisRecords, ProcRun: ProcRun{Records: int64(r), Partitions: p0, Processes: c0}})
	}
	for _, p := range cfg.sweepPartitions {
		order = append(order, SweepPoint{Axis: AxisPartitions, ProcRun: ProcRun{Records: int64(r0), Partitions: p, Processes: c0}})
	}
	for _, c := range cfg.sweepConsumers {
		order = append(order, SweepPoint{Axis: AxisConsumers, ProcRun: ProcRun{Records: int64(r0), Partitions: p0, Processes: c}})
	}
	// Topics by (records, partitions), produced once and kept while a
	// later point still reads them.
	type topicKey struct{ r, p int }
	topics := map[topicKey]map[int32]int64{}
	lastUse := map[topicKey]int{}
	for i, pt := range order {
		lastUse[topicKey{int(pt.Records), pt.Partitions}] = i
	}
	done := map[key]ProcRun{}
	for i, pt := range order {
		k := key{int(pt.Records), pt.Partitions, pt.Processes}
		tk := topicKey{k.r, k.p}
		run, ok := done[k]
		if !ok {
			ends, ok := topics[tk]
			name := fmt.Sprintf("sweep-%d-%d", k.r, k.p)
			if !ok {
				if err := w.createTopic(ctx, name, k.p); err != nil {
					return nil, err
				}
				cfg.progress(fmt.Sprintf("sweep: producing %s ticks into %s", count(int64(k.r)), nouns(k.p, "partition")))
				if _, err := w.produce(ctx, name, k.r, cfg.seed); err != nil {
					return nil, err
				}
				if ends, err = w.endOffsets(ctx, name); err != nil {
					return nil, err
				}
				topics[tk] = ends
			}
			if run, err = runSinkProcs(ctx, &cfg, w, rep.Binary, name, k.c, ends); err != nil {
				return nil, fmt.Errorf("bench: sweep, %s records, %s, %s: %w", count(int64(k.r)),
					nouns(k.p, "partition"), nouns(k.c, "consumer"), err)
			}
			done[k] = run
			cfg.progress(fmt.Sprintf("sweep: %s records, %s, %s: %s rec/s, %s rec/CPU-s, peak RSS %s (%s per owned partition)",
				count(run.Records), nouns(run.Partitions, "partition"), nouns(run.Processes, "consumer"),
				count(int64(run.Rate)), count(int64(run.PerCore)), mib(run.PeakRSS), mib(run.RSSPerPartition)))
		}
		if _, ok := topics[tk]; ok && lastUse[tk] == i {
			w.deleteTopic(ctx, fmt.Sprintf("sweep-%d-%d", k.r, k.p))
			delete(topics, tk)
		}
		pt.ProcRun = run
		rep.Points = append(rep.Points, pt)
	}
	rep.Compute()
	rep.Seconds = time.Since(began).Seconds()
	return rep, nil
}

// Compute fills each point's ratios to its axis's first point.
func (s *SweepReport) Compute() {
	first := map[string]ProcRun{}
	for i := range s.Points {
		p := &s.Points[i]
		f, ok := first[p.Axis]
		if !ok {
			f = p.ProcRun
			first[p.Axis] = f
		}
		p.PerCoreVsFirst = ratio(p.PerCore, f.PerCore)
		p.RSSVsFirst = ratio(float64(p.PeakRSS), float64(f.PeakRSS))
	}
}

// deleteTopic frees a topic's records (best effort: the sweep's disk).
func (w *world) deleteTopic(ctx context.Context, topic string) {
	_, _ = w.admin.DeleteTopics(ctx, topic)
}

// WriteTable writes the sweep as a table, one block per axis.
func (s *SweepReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "tickflow bench --sweep: `tickflow sink` as OS processes, %s, GOMAXPROCS=%d, %d CPUs, %s\n",
		s.Format, s.GOMAXPROCS, s.NumCPU, s.GoVersion)
	b.WriteString("rec/s: records / (first fetch → last process exited after its final commit); rec/CPU-s (= rec/s per core):\n" +
		"records / the sink processes' user+system CPU time; RSS: the largest process's peak (VmHWM); per owned\n" +
		"partition: that / (partitions / consumers); × first: against the axis's first row.\n")
	for _, axis := range []string{AxisRecords, AxisPartitions, AxisConsumers} {
		pts := s.Axis(axis)
		if len(pts) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nby %s:\n", axis)
		tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "records\tpartitions\tconsumers\trec/s\trec/CPU-s\t× first\tpeak RSS\t× first\tRSS / owned partition\tstart-up\t")
		for _, p := range pts {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%.2f\t%s\t%.2f\t%s\t%s\t\n", count(p.Records), p.Partitions, p.Processes,
				count(int64(p.Rate)), count(int64(p.PerCore)), p.PerCoreVsFirst, mib(p.PeakRSS), p.RSSVsFirst,
				mib(p.RSSPerPartition), duration(p.StartupSeconds))
		}
		tw.Flush()
	}
	fmt.Fprintf(&b, "\ntotal %.1fs\n", s.Seconds)
	_, err := io.WriteString(w, b.String())
	return err
}
