package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tickflow/tickflow"
	"github.com/tickflow/tickflow/harness/produce"
)

func init() { register(newProduceCmd) }

func newProduceCmd() *cobra.Command {
	var (
		brokers, csvPath, topic string
		synthetic               int
		seed                    uint64
		rate, speedup           float64
		strict, asJSON          bool
	)
	cmd := &cobra.Command{
		Use:   "produce --brokers ADDRS [--csv FILE | --synthetic N --seed S] [--rate R | --speedup X] [--topic T] [--strict] [--json]",
		Short: "Produce stock ticks (CSV, the embedded HSI sample, or synthetic) to any Kafka",
		Long: `produce sends ticks to Kafka: idempotent, acks=all, keyed by symbol, JSON values with the lake's
column names. The source is a CSV/TSV file (--csv), N deterministic synthetic ticks (--synthetic),
or by default the embedded Hang Seng sample. Bad rows are reported on stderr with file and line,
skipped and counted; --strict stops at the first one (exit 2).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if brokers == "" {
				return usageError("--brokers is required (e.g. --brokers 127.0.0.1:9092)")
			}
			if csvPath != "" && synthetic > 0 {
				return usageError("--csv and --synthetic are exclusive")
			}
			if rate < 0 || speedup < 0 || synthetic < 0 {
				return usageError("--rate, --speedup and --synthetic must not be negative")
			}
			if rate > 0 && speedup > 0 {
				return usageError("--rate and --speedup are exclusive")
			}
			stderr := cmd.ErrOrStderr()
			var csvOpts []produce.CSVOption
			if strict {
				csvOpts = append(csvOpts, produce.Strict())
			} else {
				csvOpts = append(csvOpts, produce.OnBadRow(func(e *produce.RowError) { fmt.Fprintln(stderr, "skipped:", e) }))
			}
			var src produce.Source
			switch {
			case synthetic > 0:
				src = produce.Synthetic(synthetic, seed)
			default:
				var r io.Reader = bytes.NewReader(tickflow.SampleCSV)
				name := "embedded sample indexProcessed-HSI.csv"
				if csvPath != "" {
					f, err := os.Open(csvPath)
					if err != nil {
						return usageError("--csv: %v", err)
					}
					defer f.Close()
					r, name = f, filepath.Base(csvPath)
				}
				c, err := produce.NewCSV(r, name, csvOpts...)
				if err != nil {
					return usageError("%v", err)
				}
				src = c
			}
			opts := []produce.Option{produce.Topic(topic), produce.Rate(rate), produce.Speedup(speedup)}
			p, err := produce.New(cmd.Context(), strings.Split(brokers, ","), opts...)
			if err != nil {
				return usageError("%v", err)
			}
			defer p.Close()
			res, err := p.Produce(cmd.Context(), src)
			if asJSON {
				_ = json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"topic": topic, "produced": res.Produced, "skipped": res.Skipped})
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "produced %d records to %s, skipped %d bad rows\n", res.Produced, topic, res.Skipped)
			}
			if err != nil {
				if errors.Is(err, produce.ErrBadInput) {
					return usageError("%v (--strict)", err)
				}
				return usageError("%v", err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&brokers, "brokers", "", "Kafka bootstrap servers, comma-separated")
	fl.StringVar(&csvPath, "csv", "", "CSV (or raw TSV) file of ticks; default: the embedded HSI sample")
	fl.IntVar(&synthetic, "synthetic", 0, "produce N deterministic synthetic ticks instead of a CSV")
	fl.Uint64Var(&seed, "seed", 1, "seed of the synthetic generator")
	fl.Float64Var(&rate, "rate", 0, "records per second (default: as fast as possible)")
	fl.Float64Var(&speedup, "speedup", 0, "replay the trading-day timeline X times faster (86400 = a day per second)")
	fl.StringVar(&topic, "topic", "stock-ticks", "topic to produce to")
	fl.BoolVar(&strict, "strict", false, "stop at the first bad row (exit 2)")
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
