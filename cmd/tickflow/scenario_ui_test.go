package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/dashboard"
	"github.com/tickflow/tickflow/scenarios"
)

// TestScenarioUI runs a real scenario with the dashboard adapter: the page's
// run panel ends with every invariant passed and the scenario listed as
// finished, and the event log followed its phases.
func TestScenarioUI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, err := dashboard.Start(ctx, dashboard.Addr("127.0.0.1:0"), dashboard.SampleInterval(50*time.Millisecond))
	require.NoError(t, err)
	defer d.Close()
	sui := newScenarioUI(ctx, d, 7)
	cfg := scenarios.Config{Seed: 7, Watch: sui.watch}
	results, err := scenarios.RunAll(ctx, []string{"happy-path"}, cfg, sui.started, sui.finished)
	sui.close()
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.True(t, results[0].Pass, "%v", results[0].Failures)

	s := d.Snapshot()
	require.NotNil(t, s.Run)
	assert.Equal(t, "scenario", s.Run.Kind)
	assert.Equal(t, "happy-path", s.Run.Name)
	assert.Equal(t, int64(7), s.Run.Seed)
	assert.Equal(t, "pass", s.Run.Phase)
	assert.Equal(t, []dashboard.RunDone{{Name: "happy-path", Status: "pass"}}, s.Run.Finished)
	require.Len(t, s.Run.Checks, len(scenarios.Invariants))
	for _, c := range s.Run.Checks {
		assert.Equal(t, "pass", c.State, c.Name)
	}
	var phases []string
	for _, e := range s.Events {
		if e.Action == "scenario" {
			phases = append(phases, e.Detail)
		}
	}
	assert.Equal(t, []string{"happy-path: starting", "happy-path: started", "happy-path: running", "happy-path: draining",
		"happy-path: verifying", "happy-path: verified", "happy-path: closed", "happy-path: pass"}, phases)
	assert.Nil(t, s.World, "the scenario's world is closed: the page shows none")
}
