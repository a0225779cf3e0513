package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tickflow/tickflow/harness/dashboard"
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
				}
				var list []entry
				for _, s := range all {
					list = append(list, entry{s.Name, s.Description})
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			for _, s := range all {
				fmt.Fprintf(out, "%-28s %s\n", s.Name, s.Description)
			}
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
	)
	cmd := &cobra.Command{
		Use:   "run NAME… | run --all [--seed S] [--json] [--long]",
		Short: "Run scenarios and check the lake they leave; exit 1 if any fails",
		Long: `run starts a fresh embedded world per scenario (iteration), applies its seeded fault schedule
while producing and sinking, drains, and checks by reading the lake back: every record exactly
once, offset ranges tile, committed offsets = end of the last object, order per key, the lake
contract, DLQ count = poison injected. A live line per scenario, then a table. The seed is printed
on every failure: the same --seed replays the same schedule. --long runs the full iteration
counts (minutes). Exit 0: all passed; 1: a scenario failed or could not run; 2: bad usage.`,
		RunE: func(cmd *cobra.Command, names []string) error {
			switch {
			case all && len(names) > 0:
				return usageError("give scenario names or --all, not both")
			case !all && len(names) == 0:
				return usageError("give scenario names or --all; valid names: %s", strings.Join(scenarios.Names(), ", "))
			}
			for _, n := range names {
				if _, err := scenarios.Lookup(n); err != nil {
					return usageError("%v", err)
				}
			}
			if !cmd.Flags().Changed("seed") {
				seed = time.Now().UnixNano() % 1_000_000
			}
			cfg := scenarios.Config{Seed: seed, Long: long}
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
	addUIFlag(cmd.Flags(), &ui, uiOff, "show the run live on the dashboard (the current scenario, its phase, its invariants as they are checked, its world); --ui alone is 127.0.0.1:8080, --ui=ADDR another address")
	return cmd
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
	return failError("%d of %d scenarios failed: %s (seed %d; replay: %s)", len(failed), len(results), strings.Join(failed, ", "), seed, replay)
}
