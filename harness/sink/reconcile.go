package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// lakeObject is one object of a partition found in the store.
type lakeObject struct {
	key        string
	etag       string // as the listing saw it ("" if the store reports none)
	start, end int64  // end is -1 until read from metadata
}

// plan is what reconciliation decided for one partition.
type plan struct {
	resume  int64         // next offset to consume; every offset below it is in the lake
	lastKey string        // the object that ends at resume, if the chain passed one
	orphans []*lakeObject // uncommitted objects off the chain, to delete

	// The last object that starts below from, if it also ends below from:
	// the lake's end before the offset reconciliation started at (-1: no
	// such object). With nothing committed, from is the log start, and
	// [belowEnd, from) is what retention removed before anyone read it.
	belowEnd int64
	belowKey string
}

// listPartitions lists the lake objects of topic grouped by partition,
// keyed by start offset (a key listed twice by a quirky store counts once;
// if two keys share a start, the lexically last is kept and the other is
// returned in dupes: an orphan if the start is at or past the committed
// offset, an error (duplicateStarts) below it).
func (s *Sink) listPartitions(ctx context.Context) (map[int32]map[int64]*lakeObject, map[int32][]*lakeObject, error) {
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
	dupes := map[int32][]*lakeObject{}
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
		lo := &lakeObject{key: o.Key, etag: o.ETag, start: start, end: -1}
		if prev, ok := m[start]; ok {
			// Same start in two hour folders or formats: only one can be on
			// the chain; keep the later key.
			if prev.key > o.Key {
				dupes[p] = append(dupes[p], lo)
				continue
			}
			dupes[p] = append(dupes[p], prev)
		}
		m[start] = lo
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
	p := plan{belowEnd: -1}
	// 1. The committed offset may fall inside an object (a writer uploaded a
	// longer range than was committed): that object's records are in the
	// lake, so resume after it.
	if i := sort.Search(len(starts), func(i int) bool { return starts[i] >= from }); i > 0 {
		o := objs[starts[i-1]]
		end, err := s.endOf(ctx, o)
		if err != nil {
			return plan{}, err
		}
		if end < from {
			p.belowEnd, p.belowKey = end, o.key
		}
		pos = max(pos, end)
	}
	// 2. Follow the chain of uploaded-but-uncommitted objects: a crash
	// between upload and commit leaves exactly such a chain.
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
			p.orphans = append(p.orphans, objs[st])
		}
	}
	return p, nil
}

// sameETag compares two ETags as S3 spells them, quoted or not.
func sameETag(a, b string) bool {
	norm := func(e string) string { return strings.Trim(strings.TrimPrefix(strings.TrimSpace(e), "W/"), `"`) }
	return norm(a) == norm(b)
}

// ErrDuplicateStart is returned (wrapped) by Run when two objects of a
// partition start at the same offset below its committed offset (the log
// start if nothing is committed): both hold records the lake already
// counts, and which one a commit was made for cannot be told from a
// listing, so the sink deletes neither and stops.
var ErrDuplicateStart = errors.New("two lake objects start at the same offset below the committed offset")

// duplicateStarts reports dupes (listPartitions) that start below from,
// naming both keys of each pair.
func duplicateStarts(p int32, objs map[int64]*lakeObject, dupes []*lakeObject, from int64, root string) error {
	var pairs []string
	for _, d := range dupes {
		if d.start < from {
			pairs = append(pairs, fmt.Sprintf("%s and %s (start %d)", d.key, objs[d.start].key, d.start))
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	slices.Sort(pairs)
	return fmt.Errorf("sink: reconcile: partition %d: %w %d: %s. Both hold committed records, so Athena counts them twice, and the sink cannot tell which one the commit was made for: it deletes neither. Keep the one written under the group's settings (its hour folder and extension; `tickflow verify` names the duplicated offsets), move the other out of %s, and start the sink again",
		p, ErrDuplicateStart, from, strings.Join(pairs, "; "), root)
}

// listingFence names the group session (member and generation) of a
// reconcileListed pass, taken at its first DELETE: kgo starts no new
// session while an assignment's offsets are being adjusted, so it is the
// session that listed. A listing-path DELETE is sent only while it still
// owns the partition (stillOwns).
type listingFence struct {
	member string
	gen    int32
	taken  bool
}

// committedOffsets asks the coordinator for the group's committed offsets
// of ps (-1: none).
func (s *Sink) committedOffsets(ctx context.Context, ps []int32) (map[int32]int64, error) {
	offs, err := kadm.NewClient(s.client).FetchOffsets(ctx, s.cfg.group)
	if err != nil {
		return nil, fmt.Errorf("sink: committed offsets of group %s: %w", s.cfg.group, err)
	}
	out := make(map[int32]int64, len(ps))
	for _, p := range ps {
		out[p] = -1
		if o, ok := offs.Lookup(s.cfg.topic, p); ok {
			if o.Err != nil {
				return nil, fmt.Errorf("sink: committed offset of %s[%d] in group %s: %w", s.cfg.topic, p, s.cfg.group, o.Err)
			}
			out[p] = o.At
		}
	}
	return out, nil
}

// stillOwns asks the group coordinator whether this member still owns
// partition p in the session that listed (f): the client has not rejoined
// since, the group is stable with p in this member's assignment, and
// nobody has committed p past from (the committed offset the listing was
// reconciled against). It returns an error wrapping errNotOwned when the
// answer is no, another error when the coordinator could not be asked
// (then nothing is deleted either; the caller retries). Kafka's
// coordinator checks membership only on commits, so this is asked before
// every listing-path DELETE: a member frozen past its session (or whose
// DELETE was held up) must not remove what the partition's next owner
// wrote and committed under the same key.
func (s *Sink) stillOwns(ctx context.Context, f *listingFence, p int32, from int64) error {
	m, g := s.client.GroupMetadata()
	if !f.taken {
		f.member, f.gen, f.taken = m, g, true
	}
	if m != f.member || g != f.gen {
		return fmt.Errorf("%w: the member rejoined the group since the listing (member %q generation %d, now %q generation %d)",
			errNotOwned, f.member, f.gen, m, g)
	}
	gs, err := kadm.NewClient(s.client).DescribeGroups(ctx, s.cfg.group)
	if err != nil {
		return fmt.Errorf("sink: describe group %s: %w", s.cfg.group, err)
	}
	desc, ok := gs[s.cfg.group]
	switch {
	case !ok:
		return fmt.Errorf("sink: describe group %s: no answer for the group", s.cfg.group)
	case errors.Is(desc.Err, kerr.GroupIDNotFound):
		return fmt.Errorf("%w: group %s does not exist any more", errNotOwned, s.cfg.group)
	case desc.Err != nil:
		return fmt.Errorf("sink: describe group %s: %w", s.cfg.group, desc.Err)
	case desc.State != "Stable":
		// Assignments are final only in a stable group; in a rebalance
		// kgo is about to revoke or re-assign anyway.
		return fmt.Errorf("%w: group %s is %s, not Stable", errNotOwned, s.cfg.group, desc.State)
	}
	assigned := false
	for _, mem := range desc.Members {
		if mem.MemberID != f.member {
			continue
		}
		if ca, ok := mem.Assigned.AsConsumer(); ok {
			for _, t := range ca.Topics {
				assigned = assigned || t.Topic == s.cfg.topic && slices.Contains(t.Partitions, p)
			}
		}
	}
	if !assigned {
		return fmt.Errorf("%w: group %s does not assign %s[%d] to member %q (evicted or revoked since the listing)",
			errNotOwned, s.cfg.group, s.cfg.topic, p, f.member)
	}
	c, err := s.committedOffsets(ctx, []int32{p})
	if err != nil {
		return err
	}
	if c[p] > from {
		return fmt.Errorf("%w: %s[%d] was committed at %d since the listing (which reconciled from %d)", errNotOwned, s.cfg.topic, p, c[p], from)
	}
	return nil
}

// deleteOrphan deletes an uncommitted object the listing found off the
// chain, and only that object, only while this member owns p (stillOwns,
// asked before every attempt; once the answer is no, it stops retrying).
// The DELETE is conditional on the ETag the listing saw (If-Match); a HEAD
// just before compares the ETag too, for stores that ignore If-Match on
// DELETE. An object below from (the committed offset) is never deleted.
func (s *Sink) deleteOrphan(ctx context.Context, f *listingFence, p int32, from int64, o *lakeObject) error {
	if o.start < from {
		return fmt.Errorf("sink: reconcile: partition %d: refusing to delete %s: it starts at %d, below the committed offset %d", p, o.key, o.start, from)
	}
	var changed string
	err := s.retry(ctx, "delete off-chain object "+o.key, func(ctx context.Context) error {
		if err := s.stillOwns(ctx, f, p, from); err != nil {
			return err
		}
		h, err := s.store.Head(ctx, o.key)
		if errors.Is(err, objstore.ErrNotFound) {
			return nil // gone already (another reconciling member deleted it)
		}
		if err != nil {
			return err
		}
		if o.etag == "" {
			o.etag = h.ETag // the store lists no ETags: compare from here on
		}
		if !sameETag(h.ETag, o.etag) {
			changed = h.ETag
			return fmt.Errorf("%w: ETag %s, listed as %s", objstore.ErrPreconditionFailed, h.ETag, o.etag)
		}
		if o.etag == "" {
			return s.store.Delete(ctx, o.key) // the store reports no ETags at all
		}
		return s.store.DeleteIfMatch(ctx, o.key, o.etag)
	})
	switch {
	case errors.Is(err, errNotOwned):
		return fmt.Errorf("sink: reconcile: partition %d: not deleting off-chain object %s: %w", p, o.key, err)
	case errors.Is(err, objstore.ErrPreconditionFailed):
		if changed == "" {
			changed = "another"
		}
		return fmt.Errorf("sink: reconcile: partition %d: off-chain object %s was replaced since the listing (ETag %s, listed %s): another member owns the partition now; not deleted: %w",
			p, o.key, changed, o.etag, err)
	}
	return err
}
