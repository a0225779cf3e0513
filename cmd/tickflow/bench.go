package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tickflow/tickflow/harness/bench"
	"github.com/tickflow/tickflow/harness/sink"
)

func init() { register(newBenchCmd) }

type benchFlags struct {
	records, partitions, consumers, runs int
	format, plot                         string
	json                                 bool
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench [--records N] [--partitions P] [--consumers K] [--format parquet|json] [--runs R] [--json] [--plot FILE.svg]",
		Short: "Measure sink throughput against the raw consume ceiling of the same run, latency and memory",
		Long: `bench starts the embedded world, produces N synthetic ticks once and measures, over that data:
the raw consumer ceiling, consume + JSON decode, the real sink end to end, and the seed project's
one-PUT-per-record consumer (on a sample); then end-to-end latency: 3 s of production at half the
sink's median rate into a fresh topic, so its record count follows the measured rate, not --records
(≈1M records at 700k records/s; the progress line and the report state it); and the sink's peak
memory at N and 4×N records. Each throughput phase runs R times (best and median).
Targets are reported with ✓/✗, never enforced: the exit code is 0 whenever the bench ran.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			progress := func(msg string) { fmt.Fprintln(cmd.ErrOrStderr(), "bench:", msg) }
			opts := []bench.Option{bench.Records(f.records), bench.Partitions(f.partitions),
				bench.Consumers(f.consumers), bench.Runs(f.runs), bench.WithFormat(sink.Format(f.format)),
				bench.Progress(progress)}
			var ce *bench.ConfigError
			if err := bench.Validate(opts...); errors.As(err, &ce) {
				return usageError("--%s %v: want %s", ce.Option, ce.Value, ce.Want)
			} else if err != nil {
				return usageError("%v", err)
			}
			// Open the plot before the long run, so a bad path fails now.
			var plot *os.File
			if f.plot != "" {
				var err error
				if plot, err = os.Create(f.plot); err != nil {
					return usageError("--plot %s: cannot write the plot: %v", f.plot, err)
				}
				defer plot.Close()
			}
			rep, err := bench.Run(cmd.Context(), opts...)
			if err != nil {
				if plot != nil {
					os.Remove(f.plot) // an empty plot would only mislead
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
	return cmd
}
