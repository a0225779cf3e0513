package harness_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness"
)

func TestStartDefaults(t *testing.T) {
	t.Parallel()
	w := harness.Start(t)
	assert.Len(t, w.KafkaAddrs(), 3)
	assert.Equal(t, "stock-ticks", w.Topic())
	assert.Equal(t, "tickflow-lake", w.Bucket())
	topics, err := w.Coordinator().Topics(t.Context())
	require.NoError(t, err)
	require.Len(t, topics, 1)
	assert.Len(t, topics[0].Partitions, 6)
}
