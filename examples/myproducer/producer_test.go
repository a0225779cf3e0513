package myproducer_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/examples/myproducer"
	"github.com/tickflow/tickflow/harness"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/tick"
)

func TestPublishLosesNothingUnderFaults(t *testing.T) {
	cases := []struct {
		name  string
		fault func(w *harness.World) (check func(t *testing.T))
	}{
		{"NOT_LEADER_FOR_PARTITION x5", func(w *harness.World) func(*testing.T) {
			f := w.Faults().FailKafka(kmsg.Produce, kerr.NotLeaderForPartition, 5)
			return func(t *testing.T) { assert.Equal(t, 5, f.Hits(), "every injected error was met and retried") }
		}},
		{"leaders move", func(w *harness.World) func(*testing.T) {
			w.Faults().ShuffleLeaders()
			return func(*testing.T) {}
		}},
		{"produce is slow", func(w *harness.World) func(*testing.T) {
			f := w.Faults().DelayKafka(kmsg.Produce, 20*time.Millisecond)
			return func(t *testing.T) { assert.Positive(t, f.Hits()) }
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := harness.Start(t)
			ticks := harness.SyntheticTicks(t, 3000, 11)
			// Your producer gets its own client; KafkaClient adds the
			// harness's fast timings and closes it at cleanup.
			cl := w.KafkaClient(t, kgo.RequiredAcks(kgo.AllISRAcks()))

			require.NoError(t, myproducer.Publish(context.Background(), cl, w.Topic(), ticks[:1000]))
			check := tc.fault(w)
			require.NoError(t, myproducer.Publish(context.Background(), cl, w.Topic(), ticks[1000:]))
			check(t)

			// Nothing lost, nothing duplicated: the topic holds exactly the ticks.
			got := w.ReadTopic(t)
			gotTicks := make([]tick.Tick, len(got))
			for i, r := range got {
				gotTicks[i] = r.Tick
				assert.Equal(t, r.Tick.Symbol, r.Key, "keyed by symbol")
			}
			require.ElementsMatch(t, ticks, gotTicks)

			// And the records make a complete, contract-clean lake.
			w.StartSink(t)
			w.WaitCaughtUp(t, harness.SinkGroup, time.Minute)
			w.Lake(t).RequireComplete(got)
			w.Lake(t).RequireContractClean(lake.ExpectRecords(int64(len(ticks))))
		})
	}
}
