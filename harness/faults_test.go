package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness"
)

// Faults().FailProduceAfterAppend: a producer without idempotence, told its
// appended record failed, retries it into a duplicate; the fault is removed
// at cleanup and counts its hits.
func TestFaultsFailProduceAfterAppend(t *testing.T) {
	t.Parallel()
	w := harness.Start(t, harness.Partitions(1))
	cl := w.KafkaClient(t, kgo.DefaultProduceTopic(w.Topic()), kgo.DisableIdempotentWrite(),
		kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := w.Faults().FailProduceAfterAppend(kerr.RequestTimedOut, 1)
	require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("once")).FirstErr())
	assert.Equal(t, 1, f.Hits())
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, w.Topic())
	require.NoError(t, err)
	o, ok := ends.Lookup(w.Topic(), 0)
	require.True(t, ok)
	assert.Equal(t, int64(2), o.Offset, "the record and its retry are both in the log")
}
