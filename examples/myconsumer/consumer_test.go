package myconsumer_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/examples/myconsumer"
	"github.com/tickflow/tickflow/harness"
)

// expectedHighs computes the answer from what was produced.
func expectedHighs(ps []harness.Produced) map[string]float64 {
	out := map[string]float64{}
	for _, p := range ps {
		if c, ok := out[p.Tick.Symbol]; !ok || p.Tick.Close > c {
			out[p.Tick.Symbol] = p.Tick.Close
		}
	}
	return out
}

// startHighs runs the consumer under test against w until cleanup.
func startHighs(t *testing.T, w *harness.World, group string) *myconsumer.Highs {
	t.Helper()
	h, err := myconsumer.New(w.KafkaAddrs(), w.Topic(), group, w.KafkaOptions()...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	return h
}

func TestHighsSurviveBrokerFaults(t *testing.T) {
	cases := []struct {
		name  string
		fault func(w *harness.World)
	}{
		{"broker stops", func(w *harness.World) { w.Faults().StopBroker(0) }},
		{"broker stops and comes back", func(w *harness.World) {
			w.Faults().StopBroker(1)
			w.Faults().RestartBroker(1)
		}},
		{"leaders move", func(w *harness.World) {
			for p := range int32(w.Partitions()) {
				w.Faults().MoveLeader(w.Topic(), p, p%2)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := harness.Start(t)
			h := startHighs(t, w, "highs")

			first := w.ProduceSynthetic(t, 2000, 1)
			require.Eventually(t, func() bool { return h.Seen() > 0 }, 30*time.Second, 10*time.Millisecond,
				"the consumer is consuming before the fault")
			tc.fault(w)
			second := w.ProduceSynthetic(t, 1000, 2)
			all := append(first, second...)

			require.Eventually(t, func() bool { return h.Seen() == len(all) }, 60*time.Second, 20*time.Millisecond,
				"every record processed once the cluster recovers")
			w.WaitCaughtUp(t, "highs", 30*time.Second) // and committed
			assert.Equal(t, expectedHighs(all), h.High())
		})
	}
}
