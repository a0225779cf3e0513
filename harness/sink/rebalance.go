package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// onAssigned decides where each newly assigned partition resumes, before
// consumption starts, and returns those offsets. A partition whose commit
// carries CommitMeta of this topic incarnation resumes at the commit with
// no S3 call at all: at most one object past it can exist (the previous
// owner's last, possibly still in flight), and it has exactly the key this
// member writes first, so the conditional write finds it (package doc,
// point 4). Only partitions without such metadata (nothing committed yet,
// or committed by an older tickflow) are reconciled from a listing.
func (s *Sink) onAssigned(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	parts := offsets[s.cfg.topic]
	if len(parts) == 0 {
		return offsets, nil
	}
	out, err := s.assign(ctx, parts)
	if err != nil {
		if errors.Is(err, errOtherIncarnation) || errors.Is(err, errForeignObject) || errors.Is(err, ErrLayoutChanged) || errors.Is(err, ErrDuplicateStart) ||
			errors.Is(err, ErrTopicRecreated) || errors.Is(err, ErrTopicID) {
			// Only a person can resolve these: end Run with the error.
			s.setFatal(err)
		}
		if ctx.Err() == nil {
			s.cfg.log.Error("sink: reconcile (the assignment is retried)", "err", err)
		}
		return nil, err
	}
	offsets[s.cfg.topic] = out
	return offsets, nil
}

func (s *Sink) assign(ctx context.Context, parts map[int32]kgo.Offset) (map[int32]kgo.Offset, error) {
	adm := kadm.NewClient(s.client)
	tid, err := s.lookupTopicID(ctx)
	if err != nil {
		return nil, err
	}
	starts, err := s.listStartOffsets(ctx)
	if err != nil {
		return nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, s.cfg.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("sink: list end offsets of %s: %w", s.cfg.topic, err)
	}
	fetched := s.takeFetchedMeta()
	points := map[int32]commitPoint{}
	var legacy []int32
	var changed []string             // partitions committed under another layout
	fromLogStart := map[int32]bool{} // nothing committed: reconciled from the log start
	mine := s.cfg.layout()
	for p, o := range parts {
		c := o.EpochOffset().Offset
		var meta string
		if fo, ok := fetched[p]; ok && fo.at == c {
			meta = fo.meta
		}
		cm, ok := ParseCommitMeta(meta)
		if c >= 0 && ok && cm.TopicID != "" && tid != "" && cm.TopicID != tid {
			s.cfg.log.Warn("sink: committed offset belongs to an earlier incarnation of the topic; starting from the log start",
				"partition", p, "committed", c, "its_topic_id", cm.TopicID, "topic_id", tid)
			c, ok = -1, false
		}
		if c >= 0 && ok && !cm.Layout.IsZero() && cm.Layout != mine {
			changed = append(changed, fmt.Sprintf("partition %d (committed at %d under %s)", p, c, cm.Layout))
			continue
		}
		switch {
		case c < 0:
			lo := starts[p]
			points[p] = commitPoint{off: lo, carryStart: -1}
			legacy = append(legacy, p)
			fromLogStart[p] = true
		case ok && cm.NextStart <= c && int64(cm.DLQ+cm.Expired) <= c-cm.NextStart:
			cp := commitPoint{off: c, carryStart: -1, lastKey: cm.LastKey, epoch: epochOf(o.EpochOffset().Epoch)}
			if cm.NextStart < c {
				cp.carryStart, cp.dlq, cp.expired = cm.NextStart, cm.DLQ, cm.Expired
			}
			points[p] = cp
		default:
			cp := commitPoint{off: c, carryStart: -1, epoch: epochOf(o.EpochOffset().Epoch)}
			if start, dlq, ok := ParseCarryMetadata(meta); ok && start < c && dlq > 0 && int64(dlq) <= c-start {
				cp.carryStart, cp.dlq = start, dlq
			}
			points[p] = cp
			legacy = append(legacy, p)
		}
	}
	if len(changed) > 0 {
		// Refuse before anything is consumed: the committed start offset
		// under this sink's settings is another key than the one the
		// previous owner's objects (one possibly still in flight) have, so
		// the conditional write could not fence the two.
		slices.Sort(changed)
		return nil, fmt.Errorf("sink: %s in group %s: %w: %s; this sink has %s. Resuming would write the same offsets under a second key and both objects would land (Athena counts them twice): run with the committed settings, or write the new layout with a new --group and --prefix",
			s.cfg.topic, s.cfg.group, ErrLayoutChanged, strings.Join(changed, ", "), mine)
	}
	if len(legacy) > 0 {
		if err := s.reconcileListed(ctx, legacy, points, fromLogStart); err != nil {
			return nil, err
		}
	}
	out := make(map[int32]kgo.Offset, len(parts))
	states := map[int32]*partState{}
	for p := range parts {
		cp := points[p]
		gen := s.gens.Add(1)
		cp.gen = gen
		st := &partState{gen: gen, pos: cp.off, last: cp}
		if e, ok := ends.Lookup(s.cfg.topic, p); ok {
			st.hwm = e.Offset
		}
		if cp.carries() {
			// [carryStart, off) holds only dead letters or expired offsets
			// and no object covers it: the next object starts there and
			// counts them.
			st.open = &segment{gen: gen, start: cp.carryStart, end: cp.off, dlq: cp.dlq, expired: cp.expired, epoch: cp.epoch, opened: time.Now()}
		}
		if lo, ok := starts[p]; ok && lo > st.pos {
			s.expire(st, p, lo)
		}
		states[p] = st
		// Resuming at the commit with its leader epoch makes kgo ask the
		// leader (OffsetForLeaderEpoch) whether the log below the commit
		// is still the log that was read; if it was truncated, the fetch
		// reports kgo.ErrDataLoss and Run stops with ErrTruncated instead
		// of skipping the records rewritten at reused offsets as already
		// in the lake. A position moved past the commit (reconciled,
		// expired) has no epoch to check.
		ep := int32(-1)
		if st.pos == cp.off {
			ep = cp.epoch.wire()
		}
		out[p] = kgo.NewOffset().At(st.pos).WithEpoch(ep)
		s.cfg.log.Info("sink: assigned", "partition", p, "committed", cp.off, "resume", st.pos, "next_object", cp.next(), "carried_dlq", cp.dlq)
	}
	s.mu.Lock()
	for p, st := range states {
		s.parts[p] = st
	}
	s.mu.Unlock()
	s.assignedAny.Store(true)
	return out, nil
}

// fetchedCommit is one partition's committed offset and metadata, as the
// group's own OffsetFetch returned them.
type fetchedCommit struct {
	at   int64
	meta string
}

// onFetched keeps the commit metadata of the OffsetFetch kgo makes before
// every assignment (kgo.OnOffsetsFetched), so onAssigned reads the
// sink's CommitMeta without fetching the group's offsets a second time.
func (s *Sink) onFetched(_ context.Context, _ *kgo.Client, resp *kmsg.OffsetFetchResponse) error {
	m := map[int32]fetchedCommit{}
	add := func(topics []kmsg.OffsetFetchResponseTopic) {
		for _, t := range topics {
			if t.Topic != s.cfg.topic {
				continue
			}
			for _, p := range t.Partitions {
				if p.ErrorCode == 0 && p.Metadata != nil {
					m[p.Partition] = fetchedCommit{at: p.Offset, meta: *p.Metadata}
				}
			}
		}
	}
	add(resp.Topics)
	for _, g := range resp.Groups {
		if g.Group != s.cfg.group || g.ErrorCode != 0 {
			continue
		}
		for _, t := range g.Topics {
			if t.Topic != s.cfg.topic {
				continue
			}
			for _, p := range t.Partitions {
				if p.ErrorCode == 0 && p.Metadata != nil {
					m[p.Partition] = fetchedCommit{at: p.Offset, meta: *p.Metadata}
				}
			}
		}
	}
	s.mu.Lock()
	s.fetchedMeta = m
	s.mu.Unlock()
	return nil
}

// takeFetchedMeta returns (and forgets) what onFetched kept.
func (s *Sink) takeFetchedMeta() map[int32]fetchedCommit {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.fetchedMeta
	s.fetchedMeta = nil
	return m
}

// ErrTopicRecreated is returned (wrapped) by Run when the topic's ID is not
// the one the sink started with: the topic was deleted and re-created. The
// new incarnation restarts at offset 0 under the same object names, and
// kgo never adopts a new topic ID in a running client (its fetches answer
// UNKNOWN_TOPIC_ID), so the sink stops and says what to do.
var ErrTopicRecreated = errors.New("the topic was deleted and re-created")

// ErrTopicID is returned (wrapped) by Run when the sink cannot establish
// which incarnation of the topic it reads: the topic's ID could not be
// read within the budget at an assignment, or fetches kept answering
// UNKNOWN_TOPIC_ID. Without the ID the incarnation checks (commit metadata
// and object metadata against the topic ID) would be off.
var ErrTopicID = errors.New("the topic's ID could not be established")

// recreatedErr is the ErrTopicRecreated for a topic ID that changed from
// old to now.
func (s *Sink) recreatedErr(old, now string) error {
	return fmt.Errorf("sink: topic %s: %w while the sink ran (topic ID %s, now %s). The group's committed offsets and the objects in %s belong to the old incarnation, and the new one restarts at offset 0 under the same object names: move the old incarnation's objects out of %s (or use another --prefix), then start the sink again; it reads the new topic from its log start",
		s.cfg.topic, ErrTopicRecreated, old, now, tableRoot(s.cfg.prefix), tableRoot(s.cfg.prefix))
}

// fetchTopicID asks the brokers for the topic's ID with a Metadata request
// of its own (not kgo's metadata cache, which may still hold an earlier
// incarnation's answer). It returns "" with no error only when the cluster
// has no topic IDs at all (Metadata before v10, Kafka before 2.8).
func (s *Sink) fetchTopicID(ctx context.Context) (string, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(s.cfg.topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = false // a lookup never creates the topic
	resp, err := req.RequestWith(ctx, s.client)
	if err != nil {
		return "", err
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != s.cfg.topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return "", err
		}
		if t.TopicID == ([16]byte{}) {
			if resp.GetVersion() < 10 {
				return "", nil
			}
			return "", errors.New("the brokers described the topic without a topic ID")
		}
		return kadm.TopicID(t.TopicID).String(), nil
	}
	return "", errors.New("the brokers did not describe the topic")
}

// lookupTopicID returns the topic's ID, asking the brokers again within
// topicIDBudget while the lookup fails: a failed lookup is an ErrTopicID,
// never an empty ID that would switch the incarnation checks off. An ID
// other than the one an earlier assignment saw is an ErrTopicRecreated.
// Only a cluster without topic IDs (Kafka before 2.8) gives "" and no
// error, and that is logged at every assignment.
func (s *Sink) lookupTopicID(ctx context.Context) (string, error) {
	deadline := time.Now().Add(s.cfg.topicIDBudget)
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, min(s.cfg.callTimeout, 10*time.Second))
		id, err := s.fetchTopicID(actx)
		cancel()
		switch {
		case err == nil && id == "":
			s.cfg.log.Warn("sink: the cluster does not report topic IDs (Kafka before 2.8): a topic deleted and re-created is not told apart from the old one; delete the lake's objects with the topic",
				"topic", s.cfg.topic)
			return "", nil
		case err == nil:
			if old := s.currentTopicID(); old != "" && old != id {
				return "", s.recreatedErr(old, id)
			}
			s.topicID.Store(&id)
			return id, nil
		case ctx.Err() != nil:
			return "", ctx.Err()
		case !time.Now().Before(deadline):
			return "", fmt.Errorf("sink: topic %s: %w within %s (%d attempts, last: %v): the sink tells the topic's incarnations apart by it; check that the topic exists and that the credentials may describe it",
				s.cfg.topic, ErrTopicID, s.cfg.topicIDBudget, attempt, err)
		}
		wait := min(50*time.Millisecond<<min(attempt-1, 5), time.Second, time.Until(deadline))
		s.cfg.log.Warn("sink: topic ID lookup failed; retrying", "topic", s.cfg.topic, "attempt", attempt, "wait", wait.Round(time.Millisecond), "err", err)
		t := time.NewTimer(max(wait, 0))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// listStartOffsets returns each partition's log start offset.
func (s *Sink) listStartOffsets(ctx context.Context) (map[int32]int64, error) {
	starts, err := kadm.NewClient(s.client).ListStartOffsets(ctx, s.cfg.topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("sink: list start offsets of %s: %w", s.cfg.topic, err)
	}
	out := map[int32]int64{}
	starts.Each(func(o kadm.ListedOffset) {
		if o.Topic == s.cfg.topic {
			out[o.Partition] = o.Offset
		}
	})
	return out, nil
}

// reconcileListed reconciles partitions that have no CommitMeta from a
// listing of the table: it follows uploaded-but-uncommitted chains and
// deletes off-chain objects an older writer left (package doc, point 4),
// each only while this member still owns the partition and only the
// object the listing saw (deleteOrphan).
//
// A partition in fromLogStart has nothing committed and is reconciled from
// its log start. If the lake's last object below the log start ends before
// it, retention removed the offsets between before anyone read them: the
// partition resumes at the lake's end, and assign counts the gap as
// expired in the next object (issue 21, point 5), so the lake still tiles
// and the lake checker reports K01 instead of a hole between objects (L12).
func (s *Sink) reconcileListed(ctx context.Context, ps []int32, points map[int32]commitPoint, fromLogStart map[int32]bool) error {
	objs, dupes, err := s.listPartitions(ctx)
	if err != nil {
		return err
	}
	var fence listingFence
	for _, p := range ps {
		cp := points[p]
		if err := duplicateStarts(p, objs[p], dupes[p], cp.off, tableRoot(s.cfg.prefix)); err != nil {
			return err
		}
		pl, err := s.reconcile(ctx, objs[p], cp.off)
		if err != nil {
			return fmt.Errorf("partition %d: %w", p, err)
		}
		for _, o := range append(pl.orphans, dupes[p]...) {
			if err := s.deleteOrphan(ctx, &fence, p, cp.off, o); err != nil {
				return err
			}
			s.stats.orphans.Add(1)
			s.cfg.log.Info("sink: deleted off-chain object", "key", o.key, "partition", p)
		}
		switch {
		case pl.resume != cp.off:
			// Objects past the commit: their range is in the lake.
			cp = commitPoint{off: pl.resume, carryStart: -1, lastKey: pl.lastKey}
		case fromLogStart[p] && pl.belowEnd >= 0:
			// The lake ends below the log start: resume at the lake's end;
			// the offsets up to the log start are counted as expired.
			cp = commitPoint{off: pl.belowEnd, carryStart: -1, lastKey: pl.belowKey}
		}
		points[p] = cp
	}
	return nil
}

// onRevoked hands the revoked partitions' data to the flusher like any
// other batch and waits until everything handed over has landed and been
// committed, for at most revokeBudget; then it lets the partitions go
// anyway. The group's rebalance timeout is short (a member killed mid
// join/sync stalls the whole group for that long), so revocation must fit
// it; letting go with an upload on its way is safe: the upload's key is
// the committed offset's, the next owner's first key, and the conditional
// write decides which object stays (package doc, point 4). What did not
// commit in time is read again by the next owner.
func (s *Sink) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	only := map[int32]bool{}
	s.mu.Lock()
	for _, p := range revoked[s.cfg.topic] {
		if s.parts[p] != nil {
			only[p] = true
		}
	}
	s.mu.Unlock()
	if len(only) == 0 {
		return // kgo also calls this with nothing of ours revoked: nothing to wait for
	}
	if !s.crashed.Load() && s.runErr() == nil {
		s.mu.Lock()
		for p := range only {
			if st := s.parts[p]; st != nil {
				s.seal(st, st.pos)
			}
		}
		b := s.takeBatch(only, true)
		s.mu.Unlock()
		if b != nil {
			s.handOver(b)
		}
		if budget := s.cfg.revokeBudget(); !waitTimeout(&s.inflight, budget) {
			s.cfg.log.Warn("sink: revoked partitions still uploading or committing; letting them go (the next owner's conditional write decides, it reads the uncommitted records again)",
				"partitions", sortedParts(only), "waited", budget)
		}
	}
	s.forget(only)
}

// waitTimeout waits for wg for at most d and reports whether it finished.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// sortedParts lists a set of partitions in order.
func sortedParts(ps map[int32]bool) []int32 {
	out := make([]int32, 0, len(ps))
	for p := range ps {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// onLost forgets partitions this member lost without a clean revoke: the
// group already gave them to someone else, so nothing more may be
// committed for them. Commits on their way finish first (s.own); queued
// segments become stale; an upload in flight may still land, but only
// under the one key the next owner writes first, so its conditional
// write decides which of the two objects stays.
func (s *Sink) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	only := map[int32]bool{}
	for _, p := range lost[s.cfg.topic] {
		only[p] = true
	}
	if len(only) > 0 {
		s.cfg.log.Warn("sink: partitions lost (session expired or fenced); dropping their buffers", "partitions", len(only))
	}
	s.forget(only)
}

func (s *Sink) forget(ps map[int32]bool) {
	s.own.Lock()
	defer s.own.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range ps {
		delete(s.parts, p)
	}
}

// currentTopicID is the topic ID seen at the last assignment ("" if none).
func (s *Sink) currentTopicID() string {
	if p := s.topicID.Load(); p != nil {
		return *p
	}
	return ""
}
