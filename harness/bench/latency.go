package bench

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// waitGroupStable waits until group has members members and is Stable.
func (b *phaser) waitGroupStable(ctx context.Context, group string, members int) error {
	for {
		gs, err := b.w.w.Coordinator().Groups(ctx)
		if err == nil {
			for _, g := range gs {
				if g.Group == group && g.State == "Stable" && g.Members == members {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("group %s did not become stable with %d members: %w", group, members, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// latencies reads topic back (timestamps) and returns, for every record,
// the milliseconds from its timestamp to the PUT of the object holding it.
func (b *phaser) latencies(ctx context.Context, topic string, ends map[int32]int64, st *putTimes) ([]float64, int, error) {
	objects := 0
	for p := range st.objs {
		slices.SortFunc(st.objs[p], func(a, b putAt) int { return cmp.Compare(a.start, b.start) })
		objects += len(st.objs[p])
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.w.w.KafkaAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return nil, 0, err
	}
	defer cl.Close()
	want := sum(ends)
	lats := make([]float64, 0, want)
	for int64(len(lats)) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, 0, fmt.Errorf("read back %s: %d of %d records: %w", topic, len(lats), want, ctx.Err())
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("read back %s[%d]: %w", t, p, err) })
		if ferr != nil {
			return nil, 0, ferr
		}
		for _, r := range fs.Records() {
			objs := st.objs[r.Partition]
			i, _ := slices.BinarySearchFunc(objs, r.Offset, func(o putAt, off int64) int {
				switch {
				case o.end <= off:
					return -1
				case o.start > off:
					return 1
				}
				return 0
			})
			if i >= len(objs) || objs[i].start > r.Offset || objs[i].end <= r.Offset {
				return nil, 0, fmt.Errorf("record %s[%d]@%d is in no uploaded object", topic, r.Partition, r.Offset)
			}
			lats = append(lats, float64(objs[i].at.Sub(r.Timestamp).Microseconds())/1000)
		}
	}
	return lats, objects, nil
}

// pct is the nearest-rank percentile q of sorted values.
func pct(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
