package lake_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
)

// listHook runs fn once, just before the first List: what a running sink
// does between verify reading Kafka and listing the lake.
type listHook struct {
	objstore.Store
	once sync.Once
	fn   func()
}

func (h *listHook) List(ctx context.Context, prefix string) ([]objstore.Object, error) {
	h.once.Do(h.fn)
	return h.Store.List(ctx, prefix)
}

// TestWithKafkaSourceWhileTheSinkRuns: records produced and uploaded after
// Kafka's offsets were read but before the lake is listed are not offsets
// "Kafka never wrote": WithKafkaSource reads the end offsets again after the
// lake. Offsets read once before (WithKafka) show why that matters.
func TestWithKafkaSourceWhileTheSinkRuns(t *testing.T) {
	w := harness.Start(t, harness.Partitions(2))
	w.ProduceSynthetic(t, 200, 1)
	s := w.StartSink(t)
	w.WaitCaughtUp(t, harness.SinkGroup, time.Minute)
	require.NoError(t, s.Stop())

	more := func() {
		w.ProduceSynthetic(t, 100, 2)
		s := w.StartSink(t)
		w.WaitCaughtUp(t, harness.SinkGroup, time.Minute)
		require.NoError(t, s.Stop())
	}
	ctx := context.Background()
	src := lake.KafkaSource{Brokers: w.KafkaAddrs(), Topic: w.Topic(), Group: harness.SinkGroup, Options: w.KafkaOptions()}

	t.Run("offsets read before the lake only", func(t *testing.T) {
		k, err := lake.ReadKafkaOffsets(ctx, src.Brokers, src.Topic, src.Group, src.Options...)
		require.NoError(t, err)
		rep, err := lake.Check(ctx, &listHook{Store: w.Store(), fn: more}, "", lake.WithKafka(k))
		require.NoError(t, err)
		assert.Equal(t, []string{"K02"}, rep.Rules(), "the new objects look like offsets Kafka never wrote")
	})
	t.Run("WithKafkaSource", func(t *testing.T) {
		rep, err := lake.Check(ctx, &listHook{Store: w.Store(), fn: more}, "", lake.WithKafkaSource(src), lake.ExpectRecords(400))
		require.NoError(t, err)
		assert.Empty(t, rep.Violations)
		assert.True(t, rep.OK())
		require.NotNil(t, rep.Kafka)
		assert.Equal(t, harness.SinkGroup, rep.Kafka.Group)
	})
	t.Run("a topic Kafka does not have is a KafkaError", func(t *testing.T) {
		bad := src
		bad.Topic = "no-such-topic"
		_, err := lake.Check(ctx, w.Store(), "", lake.WithKafkaSource(bad))
		var ke *lake.KafkaError
		require.True(t, errors.As(err, &ke), "%v", err)
		assert.Contains(t, err.Error(), "no-such-topic")
		assert.Contains(t, err.Error(), "does not exist")
	})
}
