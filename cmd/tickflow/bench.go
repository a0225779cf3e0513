package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tickflow/tickflow/harness/bench"
	"github.com/tickflow/tickflow/harness/sink"
)

func init() { register(newBenchCmd) }

type benchFlags struct {
	records, partitions, consumers, runs int
	format, plot                         string
	json                                 bool
	consumer, workdir                    string
	instances                            int
	drainTimeout                         time.Duration
	sweep                                bool
	sweepRecords, sweepPartitions        string
	sweepConsumers                       string
}

// benchSinkBinary is the tickflow binary whose `tickflow sink` bench runs
// as processes of their own: this one ("" falls back to $TICKFLOW_BIN; the
// tests' binary is no tickflow and says so).
var benchSinkBinary = func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return exe
}

// intList parses "1e6,4e6,16000000" into integers.
func intList(flag, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v != math.Trunc(v) || v < 1 || v > math.MaxInt32 {
			return nil, usageError("--%s %q: want positive whole numbers separated by commas, e.g. 1e6,4e6", flag, s)
		}
		out = append(out, int(v))
	}
	return out, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// runSweep is bench --sweep.
func runSweep(cmd *cobra.Command, f *benchFlags) error {
	for _, name := range []string{"records", "partitions", "consumers", "runs", "consumer", "instances", "drain-timeout", "workdir"} {
		if cmd.Flags().Changed(name) {
			return usageError("--%s does not apply to --sweep: give the axes with --sweep-records, --sweep-partitions, --sweep-consumers", name)
		}
	}
	var axes [3][]int
	for i, fl := range []struct{ name, val string }{{"sweep-records", f.sweepRecords}, {"sweep-partitions", f.sweepPartitions},
		{"sweep-consumers", f.sweepConsumers}} {
		v, err := intList(fl.name, fl.val)
		if err != nil {
			return err
		}
		axes[i] = v
	}
	progress := func(msg string) { fmt.Fprintln(cmd.ErrOrStderr(), "bench:", msg) }
	opts := []bench.Option{bench.WithFormat(sink.Format(f.format)), bench.Progress(progress),
		bench.SweepRecords(axes[0]...), bench.SweepPartitions(axes[1]...), bench.SweepConsumers(axes[2]...)}
	opts = append(opts, bench.SinkBinary(benchSinkBinary()))
	if err := benchConfigError(bench.ValidateSweep(opts...)); err != nil {
		return err
	}
	plot, err := openPlot(f.plot)
	if err != nil {
		return err
	}
	if plot != nil {
		defer plot.Close()
	}
	rep, err := bench.Sweep(cmd.Context(), opts...)
	if err != nil {
		if plot != nil {
			os.Remove(f.plot)
		}
		return err
	}
	if plot != nil {
		if err := rep.WriteSVG(plot); err != nil {
			return fmt.Errorf("--plot %s: %w", f.plot, err)
		}
		if err := plot.Close(); err != nil {
			return fmt.Errorf("--plot %s: %w", f.plot, err)
		}
	}
	out := cmd.OutOrStdout()
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteTable(out)
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench [--sweep [--sweep-records 1e6,4e6,...] [--sweep-partitions 6,...] [--sweep-consumers 1,...]] [--records N] [--partitions P] [--consumers K] [--format parquet|json] [--runs R] [--json] [--plot FILE.svg] [--consumer 'CMD' [--instances K] [--drain-timeout D] [--workdir DIR]]",
		Short: "Measure sink throughput against the raw consume ceiling of the same run, latency and memory",
		Long: `bench starts the embedded world, produces N synthetic ticks once and measures, over that data:
the raw consumer ceiling, consume + JSON decode, the real sink end to end, and the seed project's
one-PUT-per-record consumer (on a sample); then end-to-end latency: 3 s of production at half the
sink's median rate into a fresh topic, so its record count follows the measured rate, not --records
(≈1M records at 700k records/s; the progress line and the report state it); and the sink's peak
memory at N and 4×N records, in the bench's process and as its own process (this binary's
` + "`tickflow sink`" + `: its peak RSS without the embedded brokers and S3, and its CPU time). Each throughput phase runs R times (best and median).
Targets are reported with ✓/✗, never enforced; a ratio whose phases ran less than 10× their fixed
costs (setup: start → first record) says "N too small for a stable ratio (fixed costs X ms)" instead: the exit code is 0 whenever the bench ran (for
--consumer, see below).

--consumer 'CMD' benchmarks a consumer program of your own, in any language, against tickflow's:
after the throughput phases, CMD runs with sh -c as K OS processes (--instances, default
--consumers), each in its own process group, over the same N records in the same world. It finds
the world in its environment (KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC, KAFKA_GROUP_ID,
AWS_ENDPOINT_URL_S3, TICKFLOW_BUCKET, TICKFLOW_PREFIX, TICKFLOW_INSTANCE, AWS_REGION and
credentials of its own per instance; also as {brokers} {topic} {group} {s3} {bucket} {prefix}
{instance} in CMD) and must read the topic from the earliest offset. It is drained when its
group's committed offsets reach the end of every partition, or, if it never commits, when every
record is in its objects under the prefix. Reported: its records/s and time to drain as ratios to
the ceiling and to tickflow's sink of the same run, time to first object, its progress in the
plot, and the peak RSS and CPU time of its processes. Then SIGTERM (SIGKILL after 10 s).
Exit 1 if it exits non-zero before the drain, does nothing within a minute (its output is shown),
or does not drain within --drain-timeout (the report says so; no throughput is given). The records
are uncompressed; the fake S3 checks no signatures in such a run, for the sink phases too. The
contract and how each figure is measured: docs/testing.md, "Benchmark your consumer".

--sweep runs, instead of the phases, this binary's ` + "`tickflow sink`" + ` as OS processes across records
(--sweep-records, default 1e6,2e6,4e6,8e6,16e6), partitions (--sweep-partitions, 6 → 96) and
consumers (--sweep-consumers, 1 → 4), one axis at a time with the others at their first value, in
a world that keeps its data on disk, and prints per point records/s, records/s per core (records
per CPU-second of the sink processes), peak RSS and peak RSS per owned partition; --plot FILE.svg
draws them, --json prints them. How to read it: docs/performance.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.sweep {
				return runSweep(cmd, &f)
			}
			for _, name := range []string{"sweep-records", "sweep-partitions", "sweep-consumers"} {
				if cmd.Flags().Changed(name) {
					return usageError("--%s applies to --sweep only: give --sweep too", name)
				}
			}
			progress := func(msg string) { fmt.Fprintln(cmd.ErrOrStderr(), "bench:", msg) }
			opts := []bench.Option{bench.Records(f.records), bench.Partitions(f.partitions),
				bench.Consumers(f.consumers), bench.Runs(f.runs), bench.WithFormat(sink.Format(f.format)),
				bench.Progress(progress)}
			// The memory phase runs this very binary's `tickflow sink` as a
			// process of its own.
			opts = append(opts, bench.SinkBinary(benchSinkBinary()))
			if cmd.Flags().Changed("consumer") {
				if strings.TrimSpace(f.consumer) == "" {
					return usageError("--consumer '': give the command that runs your consumer, e.g. --consumer 'python3 consumer.py'")
				}
				opts = append(opts, bench.Consumer(f.consumer), bench.Instances(f.instances),
					bench.DrainTimeout(f.drainTimeout), bench.ConsumerDir(f.workdir))
			} else {
				for _, name := range []string{"instances", "drain-timeout", "workdir"} {
					if cmd.Flags().Changed(name) {
						return usageError("--%s applies to --consumer only: give --consumer 'CMD' too", name)
					}
				}
			}
			if err := benchConfigError(bench.Validate(opts...)); err != nil {
				return err
			}
			plot, err := openPlot(f.plot)
			if err != nil {
				return err
			}
			if plot != nil {
				defer plot.Close()
			}
			rep, err := bench.Run(cmd.Context(), opts...)
			if err != nil {
				if plot != nil {
					os.Remove(f.plot) // an empty plot would only mislead
				}
				if ce := (*bench.ConsumerError)(nil); errors.As(err, &ce) {
					return failError("%v", err)
				}
				return err
			}
			// A consumer that did not drain still gets its report (what it
			// did, no throughput), then exit 1.
			var timedOut error
			if c := rep.Consumer; c != nil && c.TimedOut {
				timedOut = failError("bench: consumer command `%s` did not drain the topic within --drain-timeout %s: %d of %d records done",
					c.Command, f.drainTimeout, c.Records, c.Total)
			}
			if plot != nil {
				if err := rep.WriteSVG(plot); err != nil {
					return fmt.Errorf("--plot %s: %w", f.plot, err)
				}
				if err := plot.Close(); err != nil {
					return fmt.Errorf("--plot %s: %w", f.plot, err)
				}
			}
			out := cmd.OutOrStdout()
			if f.json {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else if err := rep.WriteTable(out); err != nil {
				return err
			}
			return timedOut
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&f.records, "records", bench.DefaultRecords, fmt.Sprintf("synthetic ticks produced once and read by every phase (1..%d; the memory phase also runs 4×N)", bench.MaxRecords))
	fs.IntVar(&f.partitions, "partitions", bench.DefaultPartitions, "partitions of the bench topic")
	fs.IntVar(&f.consumers, "consumers", bench.DefaultConsumers, "consumer group members (raw consumers or sinks) per phase")
	fs.StringVar(&f.format, "format", string(sink.Parquet), "sink lake format: parquet or json")
	fs.IntVar(&f.runs, "runs", bench.DefaultRuns, "runs per throughput phase (best and median are reported)")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON")
	fs.StringVar(&f.plot, "plot", "", "write throughput over time per phase as an SVG to this file")
	fs.StringVar(&f.consumer, "consumer", "", "also benchmark this consumer program of yours (run with sh -c; see above)")
	fs.IntVar(&f.instances, "instances", 0, "processes of --consumer at once (default: --consumers)")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", bench.DefaultDrainTimeout, "how long --consumer may take to drain the topic before the bench reports a timeout")
	fs.StringVar(&f.workdir, "workdir", "", "--consumer's working directory (default: the current one)")
	fs.BoolVar(&f.sweep, "sweep", false, "instead of the phases: run `tickflow sink` processes across records, partitions and consumers (see above)")
	fs.StringVar(&f.sweepRecords, "sweep-records", joinInts(bench.DefaultSweepRecords), "--sweep's records axis, e.g. 1e6,4e6")
	fs.StringVar(&f.sweepPartitions, "sweep-partitions", joinInts(bench.DefaultSweepPartitions), "--sweep's partitions axis")
	fs.StringVar(&f.sweepConsumers, "sweep-consumers", joinInts(bench.DefaultSweepConsumers), "--sweep's consumers axis (sink processes in one group)")
	return cmd
}

// benchConfigError turns bench's validation error into a usage error
// naming the flag (nil stays nil).
func benchConfigError(err error) error {
	var ce *bench.ConfigError
	switch {
	case errors.As(err, &ce):
		return usageError("--%s %v: want %s", ce.Option, ce.Value, ce.Want)
	case err != nil:
		return usageError("%v", err)
	}
	return nil
}

// openPlot creates the --plot file before the long run, so a bad path
// fails at once (nil without --plot).
func openPlot(path string) (*os.File, error) {
	if path == "" {
		return nil, nil
	}
	plot, err := os.Create(path)
	if err != nil {
		return nil, usageError("--plot %s: cannot write the plot: %v", path, err)
	}
	return plot, nil
}
