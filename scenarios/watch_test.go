package scenarios

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// watched collects what Config.Watch is told.
type watched struct {
	mu     sync.Mutex
	phases []string
	checks []CheckResult
	worlds int
}

func (w *watched) watch(ev Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.phases = append(w.phases, ev.Phase)
	if ev.World != nil {
		w.worlds++
	}
	if ev.Check != nil {
		w.checks = append(w.checks, *ev.Check)
	}
}

func TestWatchSeesPhasesAndInvariants(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var w watched
	cfg := testConfig(t)
	cfg.Watch = w.watch
	res := Run(ctx, "happy-path", cfg)
	require.True(t, res.Pass, "%s %v", res.Error, res.Failures)
	checked := make([]string, len(Invariants))
	for i := range checked {
		checked[i] = PhaseChecked
	}
	want := append(append([]string{PhaseStarted, PhaseRunning, PhaseDraining, PhaseVerifying}, checked...), PhaseVerified, PhaseClosed)
	assert.Equal(t, want, w.phases)
	assert.Equal(t, 1, w.worlds, "the world comes with the started event")
	require.Len(t, w.checks, len(Invariants))
	for i, c := range w.checks {
		assert.Equal(t, Invariants[i], c.Name)
		assert.True(t, c.Pass, "%s: %s", c.Name, c.Detail)
	}
}

// A failed invariant reaches Watch with its first failure; the next
// invariant starts clean.
func TestWatchSeesFailedInvariants(t *testing.T) {
	var w watched
	e := &env{cfg: Config{Watch: w.watch}, name: "x", iterations: 1}
	var c counts
	mark := c.nfail
	c.failf("%d produced records are not in the lake", 3)
	c.failf("a second problem")
	e.checked(1, &c, mark)
	mark = c.nfail
	e.checked(2, &c, mark)
	require.Len(t, w.checks, 2)
	assert.Equal(t, CheckResult{Name: "no record lost", Pass: false, Detail: "3 produced records are not in the lake"}, w.checks[0])
	assert.Equal(t, CheckResult{Name: "no duplicates", Pass: true}, w.checks[1])
}
