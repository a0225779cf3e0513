package dashboard_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/dashboard"
	"github.com/tickflow/tickflow/harness/tick"
)

func groupOf(s *dashboard.Snapshot, name string) *dashboard.GroupView {
	if s.World == nil {
		return nil
	}
	for i := range s.World.Groups {
		if s.World.Groups[i].Group == name {
			return &s.World.Groups[i]
		}
	}
	return nil
}

// TestLagOfAGroupThatCommittedNothing: a group that joined, read nothing
// and committed nothing has every record waiting: lag = end − log start per
// partition, marked "nothing committed", while it has a member and after it
// left (Empty), in /api/state and /metrics.
func TestLagOfAGroupThatCommittedNothing(t *testing.T) {
	f := start(t)
	const group = "idle"
	p := produceTicks(t, f.w, 600)

	cl, err := kgo.NewClient(append(kafkaOpts(f.w), kgo.ConsumerGroup(group), kgo.ConsumeTopics(tick.DefaultTopic),
		kgo.DisableAutoCommit(), kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(100*time.Millisecond))...)
	require.NoError(t, err)
	defer cl.Close()
	// Join the group; the records fetched are never committed.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for fs := cl.PollFetches(ctx); fs.NumRecords() == 0; fs = cl.PollFetches(ctx) {
		require.NoError(t, ctx.Err())
	}

	check := func(what string, members int) {
		t.Helper()
		eventually(t, 30*time.Second, what, func() (bool, string) {
			g := groupOf(f.state(t), group)
			if g == nil {
				return false, "no group"
			}
			return g.Members == members && g.Lag == p.total && g.Uncommitted == 6, fmt.Sprintf("%+v", *g)
		})
		g := groupOf(f.state(t), group)
		require.Len(t, g.Offsets, 6)
		for _, o := range g.Offsets {
			assert.Equal(t, tick.DefaultTopic, o.Topic)
			assert.True(t, o.NothingCommitted, "partition %d", o.Partition)
			assert.Equal(t, int64(-1), o.Committed)
			assert.Equal(t, p.perPartition[o.Partition], o.Lag, "partition %d", o.Partition)
			assert.Equal(t, o.End-o.Start, o.Lag)
		}
		fams := f.scrape(t)
		lag := values(fams, "tickflow_consumer_group_lag")
		unc := values(fams, "tickflow_consumer_group_uncommitted_partitions")
		var sum float64
		for part := range int32(6) {
			k := fmt.Sprintf("group=%s,partition=%d,topic=%s", group, part, tick.DefaultTopic)
			v, ok := lag[k]
			assert.True(t, ok, "no lag series %s", k)
			sum += v
		}
		assert.Equal(t, float64(p.total), sum)
		assert.Equal(t, float64(6), unc["group="+group+",topic="+tick.DefaultTopic], "%v", unc)
	}
	check("a member, nothing committed: lag = every record", 1)

	cl.Close() // leaves the group: Empty, still nothing committed
	check("no member, nothing committed: lag = every record", 0)
	g := groupOf(f.state(t), group)
	assert.Equal(t, "Empty", g.State)
	assert.NotContains(t, strings.ToLower(g.Trend), "falling")
	assert.Contains(t, g.Note, "no member")

	// A dashboard that never saw the group with a member cannot know its
	// topics: it says so (lag -1, a note), never "lag 0".
	ctx2 := context.Background()
	d2, err := dashboard.Start(ctx2, dashboard.Addr("127.0.0.1:0"), dashboard.SampleInterval(100*time.Millisecond))
	require.NoError(t, err)
	defer d2.Close()
	require.NoError(t, d2.Watch(ctx2, dashboard.Target{World: f.w}))
	g = groupOf(d2.Snapshot(), group)
	require.NotNil(t, g)
	assert.Equal(t, int64(-1), g.Lag)
	assert.Empty(t, g.Offsets)
	assert.Contains(t, g.Note, "lag is unknown")
}
