package sink

import (
	"context"

	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// lakeObject is one object of a partition found in the store.
type lakeObject struct {
	key        string
	start, end int64 // end is -1 until read from metadata
}

// plan is what reconciliation decided for one partition.
type plan struct {
	resume  int64    // next offset to consume; every offset below it is in the lake
	lastKey string   // the object that ends at resume, if the chain passed one
	orphans []string // uncommitted objects off the chain, to delete
}

// listPartitions lists the lake objects of topic grouped by partition,
// keyed by start offset (a key listed twice by a quirky store counts once;
// if two extensions share a start, the lexically last wins and the other is
// an orphan).
func (s *Sink) listPartitions(ctx context.Context) (map[int32]map[int64]*lakeObject, map[int32][]string, error) {
	root := tableRoot(s.cfg.prefix)
	var objs []objstore.Object
	err := s.retry(ctx, "list "+root+" in "+s.store.String(), func(ctx context.Context) error {
		var err error
		objs, err = s.store.List(ctx, root)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	byPart := map[int32]map[int64]*lakeObject{}
	dupes := map[int32][]string{}
	seen := map[string]bool{}
	for _, o := range objs {
		topic, p, start, ok := ParseObjectName(o.Key)
		if !ok || topic != s.cfg.topic || seen[o.Key] {
			continue
		}
		seen[o.Key] = true
		m := byPart[p]
		if m == nil {
			m = map[int64]*lakeObject{}
			byPart[p] = m
		}
		if prev, ok := m[start]; ok {
			// Same start in two hour folders or formats: only one can be on
			// the chain; keep the later key, the other is an orphan.
			if prev.key > o.Key {
				dupes[p] = append(dupes[p], o.Key)
				continue
			}
			dupes[p] = append(dupes[p], prev.key)
		}
		m[start] = &lakeObject{key: o.Key, start: start, end: -1}
	}
	return byPart, dupes, nil
}

// tableRoot is the folder that holds the table's objects: <prefix>/stock_ticks/.
func tableRoot(prefix string) string {
	if p := strings.Trim(prefix, "/"); p != "" {
		return p + "/" + tick.Table + "/"
	}
	return tick.Table + "/"
}

// endOf reads an object's end offset from its metadata.
func (s *Sink) endOf(ctx context.Context, o *lakeObject) (int64, error) {
	if o.end >= 0 {
		return o.end, nil
	}
	h, err := s.head(ctx, o.key)
	if err != nil {
		return 0, err
	}
	if tid, cur := h.Metadata[MetaTopicID], s.currentTopicID(); tid != "" && cur != "" && tid != cur {
		return 0, fmt.Errorf("sink: reconcile: %s: %w (topic ID %s, now %s): the topic was deleted and re-created; move the old objects out of %s (or use another --prefix)",
			o.key, errOtherIncarnation, tid, cur, tableRoot(s.cfg.prefix))
	}
	v, ok := h.Metadata[MetaEndOffset]
	if !ok {
		return 0, fmt.Errorf("sink: reconcile: %w: object %s has no %s metadata: it was not written by the sink, or the store drops user metadata (use S3); move it out of %s/",
			errForeignObject, o.key, MetaEndOffset, tick.Table)
	}
	end, err := strconv.ParseInt(v, 10, 64)
	if err != nil || end <= o.start {
		return 0, fmt.Errorf("sink: reconcile: %w: object %s has bad %s=%q (start %d); delete it so the sink rewrites the range", errForeignObject, o.key, MetaEndOffset, v, o.start)
	}
	if err := checkWhole(o.key, h, o.start, end); err != nil {
		return 0, fmt.Errorf("sink: reconcile: %w", err)
	}
	o.end = end
	return end, nil
}

// reconcile decides where to resume a partition from what is in the lake.
// from is the committed offset, or the partition's log start if nothing is
// committed. The argument is in the package doc.
func (s *Sink) reconcile(ctx context.Context, objs map[int64]*lakeObject, from int64) (plan, error) {
	starts := make([]int64, 0, len(objs))
	for st := range objs {
		starts = append(starts, st)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	pos := from
	// 1. The committed offset may fall inside an object (a writer uploaded a
	// longer range than was committed): that object's records are in the
	// lake, so resume after it.
	if i := sort.Search(len(starts), func(i int) bool { return starts[i] >= from }); i > 0 {
		end, err := s.endOf(ctx, objs[starts[i-1]])
		if err != nil {
			return plan{}, err
		}
		pos = max(pos, end)
	}
	// 2. Follow the chain of uploaded-but-uncommitted objects: a crash
	// between upload and commit leaves exactly such a chain.
	var p plan
	onChain := map[int64]bool{}
	for {
		o, ok := objs[pos]
		if !ok {
			break
		}
		end, err := s.endOf(ctx, o)
		if err != nil {
			return plan{}, err
		}
		onChain[pos] = true
		p.lastKey = o.key
		pos = end
	}
	// 3. Any other object at or after the committed offset is off the chain
	// (a zombie's or a crashed writer's different cut); left alone it would
	// overlap what this owner writes next.
	p.resume = pos
	for _, st := range starts {
		if st >= from && !onChain[st] {
			p.orphans = append(p.orphans, objs[st].key)
		}
	}
	return p, nil
}
