package harness

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/broker"
)

// WaitCaughtUp waits until consumer group has committed, for every
// partition of every topic it consumes, the partition's end offset, or
// fails t after timeout listing each lagging partition with its committed
// and end offsets. A group that does not exist yet is waited for too. It
// polls the brokers' committed offsets; it never sleeps a fixed time.
//
// "Caught up" is measured against the end offsets at each poll, so stop
// producing first. For the tickflow sink, caught up means every record is
// in the lake: the sink commits only what it has uploaded.
func (w *World) WaitCaughtUp(t testing.TB, group string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		// Each poll gets its own bound, so the failure message comes from
		// a complete look at the group, not from a poll cut short.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		done, why := w.caughtUp(ctx, group)
		cancel()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("harness: WaitCaughtUp(%q): not caught up after %s: %s", group, timeout, why)
			return
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}

// caughtUp reports whether group has no lag, and if not, why.
func (w *World) caughtUp(ctx context.Context, group string) (bool, string) {
	groups, err := w.Coordinator().Groups(ctx)
	if err != nil {
		return false, err.Error()
	}
	var g *broker.GroupInfo
	for i := range groups {
		if groups[i].Group == group {
			g = &groups[i]
		}
	}
	if g == nil {
		names := make([]string, len(groups))
		for i, o := range groups {
			names[i] = o.Group
		}
		return false, fmt.Sprintf("no group %q (no member joined, nothing committed); groups: %v", group, names)
	}
	if len(g.Offsets) == 0 {
		return false, fmt.Sprintf("group %q (%s, %d members) has no partitions assigned or committed yet", group, g.State, g.Members)
	}
	// The group reports only partitions assigned or committed to; a
	// partition nobody has committed yet (an Empty group, a rebalance)
	// counts with committed -1 against the topic's end offsets.
	cl, err := w.client()
	if err != nil {
		return false, err.Error()
	}
	seen := map[string]map[int32]bool{}
	var lagging []string
	for _, o := range g.Offsets {
		if seen[o.Topic] == nil {
			seen[o.Topic] = map[int32]bool{}
		}
		seen[o.Topic][o.Partition] = true
		if o.End > 0 && o.Committed < o.End {
			lagging = append(lagging, fmt.Sprintf("%s/%d committed %d end %d", o.Topic, o.Partition, o.Committed, o.End))
		}
	}
	for _, topic := range sortedKeys(seen) {
		ends, err := listEnds(ctx, cl, topic)
		if err != nil {
			return false, fmt.Sprintf("end offsets of %s: %v", topic, err)
		}
		for _, p := range sortedKeys(ends) {
			if !seen[topic][p] && ends[p] > 0 {
				lagging = append(lagging, fmt.Sprintf("%s/%d committed -1 end %d", topic, p, ends[p]))
			}
		}
	}
	if len(lagging) > 0 {
		return false, fmt.Sprintf("group %q (%s, %d members) lags on %d partitions: %s",
			group, g.State, g.Members, len(lagging), strings.Join(lagging, "; "))
	}
	return true, ""
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// listEnds returns topic's end offset per partition.
func listEnds(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	offs, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	if err := offs.Error(); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	if len(out) == 0 {
		return nil, fmt.Errorf("topic %q has no partitions (does it exist?)", topic)
	}
	return out, nil
}
