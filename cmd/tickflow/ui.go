package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/dashboard"
	"github.com/tickflow/tickflow/scenarios"
)

// uiFlag is the --ui flag shared by serve, demo and scenario run: an
// address, or "off".
type uiFlag struct {
	addr     string
	explicit bool // given on the command line (a taken port is then an error)
}

const uiOff = "off"

// addUIFlag registers --ui with def as its default ("off" or an address).
func addUIFlag(fl *pflag.FlagSet, f *uiFlag, def, what string) {
	fl.StringVar(&f.addr, "ui", def, what+` (ADDR like 127.0.0.1:8080, port 0 for a free port, or "off")`)
	if def == uiOff {
		fl.Lookup("ui").NoOptDefVal = dashboard.DefaultAddr // plain --ui means the default address
	}
}

// startUI starts the dashboard unless --ui is off; nil means off. When the
// address came from the default (not typed) and its port is taken, the page
// moves to a free port and note says so, instead of failing the command:
// the default must not stop a second serve from starting. A typed address
// that is taken is a usage error.
func startUI(ctx context.Context, f uiFlag, log *slog.Logger) (d *dashboard.Server, note string, err error) {
	if strings.EqualFold(f.addr, uiOff) || f.addr == "" {
		return nil, "", nil
	}
	d, err = dashboard.Start(ctx, dashboard.Addr(f.addr), dashboard.Logger(log))
	if err != nil && !f.explicit && errors.Is(err, syscall.EADDRINUSE) {
		d, err = dashboard.Start(ctx, dashboard.Addr("127.0.0.1:0"), dashboard.Logger(log))
		note = fmt.Sprintf("%s was in use; --ui ADDR picks the address", f.addr)
		log.Info("dashboard: default address in use, serving on a free port", "addr", f.addr)
	}
	var ae *dashboard.AddrError
	switch {
	case errors.As(err, &ae):
		return nil, "", usageError("--ui %s: %s", f.addr, ae.Reason)
	case err != nil:
		return nil, "", usageError("--ui %s: %s", f.addr, cliText(err))
	}
	return d, note, nil
}

// uiArgs is cobra.NoArgs with a hint for `--ui ADDR` on commands where --ui
// alone means the default address: there the address needs "=".
func uiArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if _, _, err := net.SplitHostPort(args[0]); err == nil && cmd.Flags().Changed("ui") {
		return usageError("--ui takes its address with '=': --ui=%s (--ui alone is %s)", args[0], dashboard.DefaultAddr)
	}
	return usageError("unexpected argument %q (see '%s --help')", args[0], cmd.CommandPath())
}

// scenarioUI shows a scenario run on the dashboard: each iteration's world
// (attached by one goroutine, in order, so the scenario never waits for the
// page), the phase, and the invariants as they are checked.
type scenarioUI struct {
	ui     *dashboard.Server
	seed   int64
	worlds chan *broker.World // nil: detach
	done   chan struct{}

	mu  sync.Mutex
	run dashboard.RunStatus
}

func newScenarioUI(ctx context.Context, ui *dashboard.Server, seed int64) *scenarioUI {
	s := &scenarioUI{ui: ui, seed: seed, worlds: make(chan *broker.World, 64), done: make(chan struct{}),
		run: dashboard.RunStatus{Kind: "scenario", Seed: seed}}
	go func() {
		defer close(s.done)
		for w := range s.worlds {
			_ = ui.Watch(ctx, dashboard.Target{World: w})
		}
	}()
	return s
}

// close stops attaching worlds and waits for the last one.
func (s *scenarioUI) close() {
	close(s.worlds)
	<-s.done
}

func (s *scenarioUI) started(sc scenarios.Scenario) {
	s.mu.Lock()
	s.run.Name, s.run.Iteration, s.run.Iterations, s.run.Phase, s.run.Checks = sc.Name, 0, 0, "starting", nil
	r := s.run
	s.mu.Unlock()
	s.ui.SetRun(&r)
}

func (s *scenarioUI) finished(r scenarios.Result) {
	s.mu.Lock()
	d := dashboard.RunDone{Name: r.Scenario, Status: r.Status(), Detail: r.Error}
	if d.Detail == "" && len(r.Failures) > 0 {
		d.Detail = r.Failures[0]
	}
	s.run.Finished = append(s.run.Finished, d)
	s.run.Phase = r.Status()
	run := s.run
	s.mu.Unlock()
	s.ui.SetRun(&run)
}

func (s *scenarioUI) watch(ev scenarios.Event) {
	switch ev.Phase {
	case scenarios.PhaseStarted:
		s.worlds <- ev.World
	case scenarios.PhaseClosed:
		s.worlds <- nil
	}
	s.mu.Lock()
	s.run.Name, s.run.Iteration, s.run.Iterations = ev.Scenario, ev.Iteration, ev.Iterations
	switch ev.Phase {
	case scenarios.PhaseStarted:
		s.run.Checks = nil
	case scenarios.PhaseVerifying:
		s.run.Checks = make([]dashboard.Check, len(scenarios.Invariants))
		for i, name := range scenarios.Invariants {
			s.run.Checks[i] = dashboard.Check{Name: name, State: "pending"}
		}
	case scenarios.PhaseChecked:
		for i := range s.run.Checks {
			if s.run.Checks[i].Name == ev.Check.Name {
				s.run.Checks[i].State, s.run.Checks[i].Detail = "fail", ev.Check.Detail
				if ev.Check.Pass {
					s.run.Checks[i].State = "pass"
				}
			}
		}
	}
	if ev.Phase != scenarios.PhaseChecked {
		s.run.Phase = ev.Phase
	}
	r := s.run
	s.mu.Unlock()
	s.ui.SetRun(&r)
}
