package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tickflow/tickflow/harness/dashboard"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/produce"
	"github.com/tickflow/tickflow/scenarios"
)

func init() { register(newScenarioCmd) }

func newScenarioCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scenario list | run NAME… | run --all [--seed S] [--json] [--long]",
		Short: "Run fault scenarios (crashes, broker stops, rebalances, S3 errors, poison records) and prove no loss, no duplicates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError("give a subcommand: list or run (see 'tickflow scenario --help')")
		},
	}
	cmd.AddCommand(newScenarioListCmd(), newScenarioRunCmd())
	return cmd
}

func newScenarioListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the scenarios",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			all := scenarios.All()
			if asJSON {
				type entry struct {
					Name        string `json:"name"`
					Description string `json:"description"`
					Consumer    bool   `json:"consumer"` // runs --consumer
				}
				var list []entry
				for _, s := range all {
					list = append(list, entry{s.Name, s.Description, s.ForConsumer()})
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			for _, s := range all {
				mark := " "
				if !s.ForConsumer() {
					mark = "*"
				}
				fmt.Fprintf(out, "%-28s%s %s\n", s.Name, mark, s.Description)
			}
			fmt.Fprintln(out, "\n* needs tickflow's own sink (crash hooks, log lines), or judges the producer: not available with --consumer")
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}

func newScenarioRunCmd() *cobra.Command {
	var (
		all, asJSON, long bool
		seed              int64
		ui                uiFlag
		consumer          scenarios.Consumer
		compression       string
		table             string
	)
	cmd := &cobra.Command{
		Use:   "run NAME… | run --all [--seed S] [--json] [--long] [--consumer 'CMD' [--instances N] [--out DIR]]",
		Short: "Run scenarios and check the lake they leave; exit 1 if any fails",
		Long: `run starts a fresh embedded world per scenario (iteration), applies its seeded fault schedule
while producing and sinking, drains, and checks by reading the lake back: every record exactly
once, offset ranges tile, committed offsets = end of the last object, order per key, the lake
contract, DLQ count = poison injected. A live line per scenario, then a table. The seed is printed
on every failure: the same --seed replays the same schedule. --long runs the full iteration
counts (minutes).

--consumer 'CMD' runs a program of your own in place of the built-in sink, as OS processes (sh -c,
each in its own process group; --instances at once where the scenario keeps a steady group). It
gets the world in its environment and in {placeholders}: KAFKA_BOOTSTRAP_SERVERS {brokers},
KAFKA_TOPIC {topic}, KAFKA_GROUP_ID {group}, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL {s3},
TICKFLOW_BUCKET {bucket}, TICKFLOW_PREFIX {prefix}, TICKFLOW_INSTANCE {instance}, AWS_REGION
{region}, and S3 credentials of its own per instance. After the drain every object under the
prefix is read (JSON, JSON Lines, CSV with a header, Parquet, gzip; --table FILE reads header-less
delimited text as the table's SerDe splits it, and checks a Parquet or JSON lake against the table)
and matched to the produced records by identity: the verdict counts lost and duplicated records, overwritten objects and
records committed before they were in S3, with examples and the writer of each object.
Guide: docs/your-consumer.md.

Exit 0: all passed; 1: a scenario failed or could not run; 2: bad usage.`,
		RunE: func(cmd *cobra.Command, names []string) error {
			switch {
			case all && len(names) > 0:
				return usageError("give scenario names or --all, not both")
			case !all && len(names) == 0:
				return usageError("give scenario names or --all; valid names: %s", strings.Join(scenarios.Names(), ", "))
			}
			for _, n := range names {
				sc, err := scenarios.Lookup(n)
				if err != nil {
					return usageError("%v", err)
				}
				if consumer.Command != "" && !sc.ForConsumer() {
					need := "needs tickflow's own sink"
					if sc.Producer() {
						need = "judges the producer, runs no consumer,"
					}
					return usageError("%s %s and cannot run --consumer; valid with --consumer: %s", n, need, strings.Join(consumerScenarios(), ", "))
				}
			}
			if consumer.Command == "" {
				for _, f := range []string{"instances", "out", "prefix", "drain-timeout", "stop-timeout", "workdir", "table"} {
					if cmd.Flags().Changed(f) {
						return usageError("--%s applies to --consumer only: give --consumer 'CMD' too", f)
					}
				}
			} else {
				if table != "" {
					b, err := os.ReadFile(table)
					if err != nil {
						return usageError("--table %s: %v; fix: give a CREATE EXTERNAL TABLE statement or the JSON aws glue get-table prints", table, errors.Unwrap(err))
					}
					if consumer.Table, err = lake.ParseTable(table, b, lake.AcceptText()); err != nil {
						return usageError("--table %v", err)
					}
				}
				if err := consumer.Validate(); err != nil {
					return usageError("--consumer: %v", err)
				}
			}
			if !slices.Contains(produce.Codecs, compression) {
				return usageError("--compression %q: want one of %s (none and gzip are readable by every client)", compression, strings.Join(produce.Codecs, ", "))
			}
			if all && consumer.Command != "" {
				names = consumerScenarios()
			}
			if !cmd.Flags().Changed("seed") {
				seed = time.Now().UnixNano() % 1_000_000
			}
			cfg := scenarios.Config{Seed: seed, Long: long, Compression: compression}
			if consumer.Command != "" {
				cfg.Consumer = &consumer
			}
			// sink-kill-9 runs this very binary as `tickflow sink`.
			if exe, err := os.Executable(); err == nil {
				cfg.TickflowBin = exe
			}
			out, live := cmd.OutOrStdout(), cmd.OutOrStdout()
			if asJSON {
				live = cmd.ErrOrStderr()
			}
			ui.explicit = cmd.Flags().Changed("ui") && ui.addr != dashboard.DefaultAddr
			d, uiNote, err := startUI(cmd.Context(), ui, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			started := func(s scenarios.Scenario) { fmt.Fprintf(live, "run   %s …\n", s.Name) }
			done := func(r scenarios.Result) { fmt.Fprintln(live, r.Line()) }
			if d != nil {
				defer d.Close()
				if uiNote != "" {
					uiNote = " (" + uiNote + ")"
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "tickflow scenario: dashboard at %s%s\n", d.URL(), uiNote)
				sui := newScenarioUI(cmd.Context(), d, seed)
				defer sui.close()
				cfg.Watch = sui.watch
				started = func(s scenarios.Scenario) { fmt.Fprintf(live, "run   %s …\n", s.Name); sui.started(s) }
				done = func(r scenarios.Result) { fmt.Fprintln(live, r.Line()); sui.finished(r) }
			}
			fmt.Fprintf(live, "seed %d\n", seed)
			results, err := scenarios.RunAll(cmd.Context(), names, cfg, started, done)
			if errors.Is(err, scenarios.ErrUnknown) {
				return usageError("%v", err)
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if werr := enc.Encode(results); werr != nil {
					return werr
				}
			} else {
				fmt.Fprintln(out)
				if werr := scenarios.WriteTable(out, results); werr != nil {
					return werr
				}
			}
			if err != nil {
				return failError("interrupted after %d scenarios: %v (seed %d)", len(results), err, seed)
			}
			return scenarioFailure(results, seed, long)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "run every scenario")
	cmd.Flags().Int64Var(&seed, "seed", 0, "seed for every random choice (default: derived from the clock and printed)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON (live lines go to stderr)")
	cmd.Flags().BoolVar(&long, "long", false, "full iteration counts and fault durations (minutes instead of seconds)")
	cmd.Flags().StringVar(&consumer.Command, "consumer", "", "run this command (sh -c) in place of the built-in sink and judge it by record identity (see above)")
	cmd.Flags().IntVar(&consumer.Instances, "instances", 0, "consumer processes at once where the scenario keeps a steady group (default: the scenario's own, 2 where two members matter)")
	cmd.Flags().StringVar(&consumer.Out, "out", "", "keep each run's lake, produced records, writes, commits, consumer output and verdict under DIR/<scenario>/<iteration>/")
	cmd.Flags().StringVar(&consumer.Prefix, "prefix", "", "TICKFLOW_PREFIX: where the consumer writes; the verdict reads everything under it (default: the whole bucket)")
	cmd.Flags().DurationVar(&consumer.DrainTimeout, "drain-timeout", 0, "how long to wait for the consumer to commit everything and the lake to stop changing (default 2m, 5m with --long)")
	cmd.Flags().DurationVar(&consumer.StopTimeout, "stop-timeout", 0, "how long a consumer process gets after SIGTERM before SIGKILL (default 20s)")
	cmd.Flags().StringVar(&table, "table", "", "with --consumer: the table the consumer writes (CREATE EXTERNAL TABLE or aws glue get-table JSON): how the verdict reads its objects and the contract it checks")
	cmd.Flags().StringVar(&consumer.Dir, "workdir", "", "the consumer's working directory (default: the current one)")
	cmd.Flags().StringVar(&compression, "compression", produce.DefaultCompression, "the scenario producer's batch codec: "+strings.Join(produce.Codecs, ", "))
	addUIFlag(cmd.Flags(), &ui, uiOff, "show the run live on the dashboard (the current scenario, its phase, its invariants as they are checked, its world); --ui alone is 127.0.0.1:8080, --ui=ADDR another address")
	return cmd
}

// consumerScenarios are the scenarios that can run --consumer.
func consumerScenarios() []string {
	var out []string
	for _, s := range scenarios.All() {
		if s.ForConsumer() {
			out = append(out, s.Name)
		}
	}
	return out
}

// scenarioFailure is the exit-1 error naming the scenarios that did not
// pass, the seed and the command that replays exactly them; nil when all
// passed.
func scenarioFailure(results []scenarios.Result, seed int64, long bool) error {
	var failed []string
	for _, r := range results {
		if !r.Pass {
			failed = append(failed, r.Scenario)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	replay := fmt.Sprintf("tickflow scenario run %s --seed %d", strings.Join(failed, " "), seed)
	if long {
		replay += " --long"
	}
	if len(results) > 0 && results[0].Consumer != "" {
		replay += " --consumer '" + strings.ReplaceAll(results[0].Consumer, "'", `'\''`) + "'"
	}
	return failError("%d of %d scenarios failed: %s (seed %d; replay: %s)", len(failed), len(results), strings.Join(failed, ", "), seed, replay)
}
