package scenarios

import "github.com/tickflow/tickflow/broker"

// Event tells Config.Watch what a run is doing, e.g. for a live dashboard
// (tickflow scenario run --ui).
type Event struct {
	Scenario   string
	Iteration  int // 0-based
	Iterations int
	// Phase is "started" (World is set: the iteration's fresh world is up),
	// "running" (load and faults), "draining", "verifying", "checked" (Check
	// is set: one invariant was checked), "verified" or "closed" (the world
	// is gone).
	Phase string
	World *broker.World
	Check *CheckResult
}

// CheckResult is one invariant's verdict in an iteration.
type CheckResult struct {
	Name string
	Pass bool
	// Detail is the first failure found (empty when it passed).
	Detail string
}

// Phases reported through Config.Watch.
const (
	PhaseStarted   = "started"
	PhaseRunning   = "running"
	PhaseDraining  = "draining"
	PhaseVerifying = "verifying"
	PhaseChecked   = "checked"
	PhaseVerified  = "verified"
	PhaseClosed    = "closed"
)

// Invariants are the names of the checks an iteration reports, in order.
var Invariants = []string{
	"rows are the records produced",
	"no record lost",
	"no duplicates",
	"offsets tile, commits = last object end",
	"order per key",
	"dead letters = poison injected",
	"lake contract (tickflow verify)",
}

// emit reports an event of this iteration to Config.Watch, if any.
func (e *env) emit(phase string, check *CheckResult) {
	if e.cfg.Watch == nil {
		return
	}
	ev := Event{Scenario: e.name, Iteration: e.iteration, Iterations: e.iterations, Phase: phase, Check: check}
	if phase == PhaseStarted {
		ev.World = e.w
	}
	e.cfg.Watch(ev)
}

// checked reports invariant name (an index into Invariants) as passed when
// no failure was recorded since from (c.nfail before the check).
func (e *env) checked(name int, c *counts, from int) {
	r := &CheckResult{Name: Invariants[name], Pass: c.nfail == from}
	if !r.Pass {
		r.Detail = c.firstSince
	}
	c.firstSince = ""
	e.emit(PhaseChecked, r)
}
