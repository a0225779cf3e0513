package sink

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// commitPoint is one partition's committed offset. When the range
// [carryStart, off) holds only dead letters (dlq of them) and offsets
// retention removed (expired) that are not in any object yet, the commit's
// metadata says so, so the next object is still named from carryStart and
// counts them.
type commitPoint struct {
	off        int64
	carryStart int64 // -1: no carried range
	dlq        int
	expired    int
	gen        int64  // the partState generation it belongs to
	lastKey    string // the lake object that ends where the next one starts ("" if unknown)
	epoch      leaderEpoch
}

// leaderEpoch is the leader epoch committed with an offset: the epoch of
// the record just below it (or of the record at it), so the next owner's
// client can ask the partition's leader (OffsetForLeaderEpoch, KIP-320)
// whether the log it resumes in is still the log that was read, and report
// a truncation instead of resuming in a log that was rewritten below the
// commit. The zero value is "unknown" (-1 on the wire: no check), so a
// commit point built without one never claims an epoch it did not see: an
// offset committed with a wrong, older epoch would look truncated.
type leaderEpoch struct {
	e     int32
	known bool
}

// epochOf is e as a leaderEpoch (unknown when negative).
func epochOf(e int32) leaderEpoch { return leaderEpoch{e: e, known: e >= 0} }

// wire is the epoch as Kafka carries it: -1 when unknown.
func (l leaderEpoch) wire() int32 {
	if !l.known {
		return -1
	}
	return l.e
}

func (c commitPoint) carries() bool { return c.carryStart >= 0 && c.carryStart < c.off }

// next is the start offset of the next object of the partition: the only
// key this member may write for it before its next successful commit.
func (c commitPoint) next() int64 {
	if c.carries() {
		return c.carryStart
	}
	return c.off
}

// CommitMeta is what the sink stores as a partition's offset-commit
// metadata, so the next owner resumes without listing the lake.
type CommitMeta struct {
	NextStart int64  // the next object's start offset (below the committed offset when a range is carried)
	DLQ       int    // dead-lettered offsets in [NextStart, committed)
	Expired   int    // offsets in [NextStart, committed) that retention removed before they were read
	TopicID   string // the topic incarnation the offsets belong to ("" if the cluster has no topic IDs)
	Layout    Layout // the settings the committed objects' keys were derived from (zero: not recorded, an older tickflow)
	LastKey   string // the lake object that ends at NextStart ("" before the first object)
}

// Layout is everything besides the start offset that an object's key is
// derived from: the key scheme's version, the file format and compression
// (the extension) and the prefix. Two owners of a partition must agree on
// it, or they write the same start offset under two keys, neither gets a
// 412, and both objects land (issue 21, point 2). The hour folder is not
// part of it: it is the hour of the Kafka timestamp of the object's first
// row (docs/exactly-once.md, "The hour folder in the key").
type Layout struct {
	Version     int    // LayoutVersion of the key scheme; 0: not recorded
	Format      Format // parquet | json
	Compression string // snappy (parquet) | gzip | none (json)
	Prefix      string // --prefix, without leading or trailing slashes
}

// LayoutVersion is the version of the key scheme
// (<prefix>/stock_ticks/dt=…/hour=…/<topic>+<partition>+<start %020d>.<ext>,
// the hour of the first row's Kafka timestamp). Bump it whenever a key
// computed for a start offset may change.
const LayoutVersion = 1

// IsZero reports whether no layout was recorded.
func (l Layout) IsZero() bool { return l == Layout{} }

// String says the layout in the words of the flags.
func (l Layout) String() string {
	return fmt.Sprintf("layout %d, --format %s, compression %s, --prefix %q", l.Version, l.Format, l.Compression, l.Prefix)
}

// layout is the Layout this sink writes.
func (c config) layout() Layout {
	l := Layout{Version: LayoutVersion, Format: c.format, Compression: "none", Prefix: strings.Trim(c.prefix, "/")}
	switch {
	case c.format == Parquet:
		l.Compression = "snappy"
	case c.gzip:
		l.Compression = "gzip"
	}
	return l
}

// ErrLayoutChanged is returned (wrapped) by Run when a partition's commit
// was made under another Layout than this sink's: resuming would write the
// committed start offset under a second key, so nothing is written.
var ErrLayoutChanged = errors.New("partition committed under other layout settings")

const (
	commitMetaVersion   = "tickflow/3" // with the layout
	commitMetaVersionV2 = "tickflow/2" // without it: still read
)

// maxCommitMeta keeps the metadata under Kafka's offset.metadata.max.bytes
// (4096 by default).
const maxCommitMeta = 3000

// String encodes m (Kafka keeps up to offset.metadata.max.bytes, 4 KiB by
// default, which a lake key fits in). The prefix is query-escaped: it may
// hold ';' or '='.
func (m CommitMeta) String() string {
	var b strings.Builder
	if m.Layout.IsZero() {
		b.WriteString(commitMetaVersionV2)
		fmt.Fprintf(&b, ";next-start=%d;dlq=%d;expired=%d;topic-id=%s;last=%s", m.NextStart, m.DLQ, m.Expired, m.TopicID, m.LastKey)
		return b.String()
	}
	b.WriteString(commitMetaVersion)
	fmt.Fprintf(&b, ";next-start=%d;dlq=%d;expired=%d;topic-id=%s;layout=%d;format=%s;compression=%s;prefix=%s;last=%s",
		m.NextStart, m.DLQ, m.Expired, m.TopicID, m.Layout.Version, m.Layout.Format, m.Layout.Compression,
		url.QueryEscape(m.Layout.Prefix), m.LastKey)
	return b.String()
}

// ParseCommitMeta reads CommitMeta, as this tickflow writes it (tickflow/3,
// with the layout) or as the previous one did (tickflow/2, Layout zero);
// ok is false for any other metadata (kgo's default is the member ID; an
// older tickflow wrote CarryMetadata).
func ParseCommitMeta(s string) (m CommitMeta, ok bool) {
	want := 4
	rest, found := strings.CutPrefix(s, commitMetaVersion+";")
	if found {
		want = 8
	} else if rest, found = strings.CutPrefix(s, commitMetaVersionV2+";"); !found {
		return CommitMeta{}, false
	}
	// last= comes last and may itself contain ';' in a prefix.
	head, last, found := strings.Cut(rest, ";last=")
	if !found {
		return CommitMeta{}, false
	}
	m.LastKey = last
	seen := 0
	for _, kv := range strings.Split(head, ";") {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch {
		case k == "next-start":
			m.NextStart, err = strconv.ParseInt(v, 10, 64)
		case k == "dlq":
			m.DLQ, err = strconv.Atoi(v)
		case k == "expired":
			m.Expired, err = strconv.Atoi(v)
		case k == "topic-id":
			m.TopicID = v
		case k == "layout" && want == 8:
			m.Layout.Version, err = strconv.Atoi(v)
			if err == nil && m.Layout.Version <= 0 {
				err = errors.New("bad layout version")
			}
		case k == "format" && want == 8:
			m.Layout.Format = Format(v)
		case k == "compression" && want == 8:
			m.Layout.Compression = v
		case k == "prefix" && want == 8:
			m.Layout.Prefix, err = url.QueryUnescape(v)
		default:
			return CommitMeta{}, false
		}
		if err != nil {
			return CommitMeta{}, false
		}
		seen++
	}
	if seen != want || m.NextStart < 0 || m.DLQ < 0 || m.Expired < 0 {
		return CommitMeta{}, false
	}
	return m, true
}

// CarryMetadata is the offset-commit metadata an older tickflow wrote for
// a partition whose committed offset is ahead of its last lake object: the
// dlq offsets from start up to the committed offset were dead-lettered and
// belong to the next object, which is named from start. The sink still
// reads it (ParseCarryMetadata); it now writes CommitMeta.
func CarryMetadata(start int64, dlq int) string {
	return "tickflow-next-start=" + strconv.FormatInt(start, 10) + ";tickflow-dlq=" + strconv.Itoa(dlq)
}

// ParseCarryMetadata reads the carried range of a commit's metadata, in
// either format (CommitMeta or the older CarryMetadata); ok is false when
// the metadata carries nothing the sink understands.
func ParseCarryMetadata(m string) (start int64, dlq int, ok bool) {
	if cm, ok := ParseCommitMeta(m); ok {
		return cm.NextStart, cm.DLQ, true
	}
	a, b, found := strings.Cut(m, ";")
	if !found {
		return 0, 0, false
	}
	sv, ok1 := strings.CutPrefix(a, "tickflow-next-start=")
	dv, ok2 := strings.CutPrefix(b, "tickflow-dlq=")
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(sv, 10, 64)
	d, err2 := strconv.Atoi(dv)
	if err1 != nil || err2 != nil || start < 0 || d < 0 {
		return 0, 0, false
	}
	return start, d, true
}

// errNotOwned marks a commit that was not sent because the member no
// longer owns the partition in the generation the data came from.
var errNotOwned = errors.New("partition no longer owned by this member")

// commit synchronously commits offs, each only if this member still owns
// its partition in the generation the point belongs to, and returns the
// partitions whose commit was not made (not owned any more, or refused by
// the group: this member was evicted). Ownership cannot change while an
// attempt is on its way: revocation and loss wait for s.own. Errors Kafka
// calls retriable (REBALANCE_IN_PROGRESS, a coordinator moving or loading,
// a request or attempt timing out) are retried within commitBudget, each
// attempt checking ownership again. A commit that is finally not made for
// any reason but errNotOwned is remembered as uncommitted (see
// uncommittedErr) until a later commit of the partition covers it.
func (s *Sink) commit(ctx context.Context, offs map[int32]commitPoint) map[int32]error {
	if len(offs) == 0 {
		return nil
	}
	from := map[int32]int64{} // what this member had committed of each partition before
	s.mu.Lock()
	for p, o := range offs {
		if st := s.parts[p]; st != nil && st.gen == o.gen {
			from[p] = st.last.off
		}
	}
	s.mu.Unlock()
	deadline := time.Now().Add(s.cfg.commitBudget())
	pending := offs
	failed := map[int32]error{}
	for attempt := 1; ; attempt++ {
		retry := map[int32]commitPoint{}
		var lastErr error
		for p, err := range s.commitOnce(ctx, pending) {
			if retriableCommit(err) && ctx.Err() == nil && time.Now().Before(deadline) {
				retry[p], lastErr = pending[p], err
				continue
			}
			failed[p] = err
		}
		if len(retry) == 0 {
			break
		}
		wait := min(50*time.Millisecond<<min(attempt-1, 5), time.Second, time.Until(deadline))
		s.cfg.log.Warn("sink: commit refused for now; retrying", "partitions", len(retry), "attempt", attempt, "wait", wait.Round(time.Millisecond),
			"err", lastErr)
		s.stats.retries.Add(1)
		t := time.NewTimer(max(wait, 0))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		pending = retry
	}
	s.commitMu.Lock()
	for p, err := range failed {
		if !errors.Is(err, errNotOwned) {
			s.noteUncommitted(p, from[p], offs[p].off, err)
		}
	}
	s.commitMu.Unlock()
	for p, err := range failed {
		s.stats.refused.Add(1)
		s.cfg.log.Warn("sink: commit not made", "partition", p, "offset", offs[p].off, "err", err)
		if isPermanent(err) {
			s.setFatal(fmt.Errorf("sink: commit %s[%d]@%d: %w (not retriable: check the group's ACLs and credentials)", s.cfg.topic, p, offs[p].off, err))
		}
	}
	return failed
}

// retriableCommit reports whether a failed commit may succeed if sent
// again: what Kafka marks retriable, plus a rebalance in progress (the
// member's generation is current again once it has synced) and an attempt
// that timed out (e.g. waiting for the member's own join and sync).
func retriableCommit(err error) bool {
	switch {
	case err == nil, errors.Is(err, errNotOwned):
		return false
	case errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.CoordinatorNotAvailable),
		errors.Is(err, kerr.NotCoordinator), errors.Is(err, kerr.RequestTimedOut),
		errors.Is(err, kerr.CoordinatorLoadInProgress), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return kerr.IsRetriable(err)
}

// commitOnce is one commit attempt (see commit).
func (s *Sink) commitOnce(ctx context.Context, offs map[int32]commitPoint) map[int32]error {
	s.own.RLock()
	defer s.own.RUnlock()
	failed := map[int32]error{}
	eo := map[int32]kgo.EpochOffset{}
	meta := map[int32]string{}
	tid := s.currentTopicID()
	s.mu.Lock()
	for p, o := range offs {
		if st := s.parts[p]; st == nil || st.gen != o.gen {
			failed[p] = errNotOwned
			continue
		}
		eo[p] = kgo.EpochOffset{Epoch: o.epoch.wire(), Offset: o.off}
		cm := CommitMeta{NextStart: o.next(), DLQ: o.dlq, Expired: o.expired, TopicID: tid, Layout: s.cfg.layout(), LastKey: o.lastKey}
		if m := cm.String(); len(m) > maxCommitMeta {
			cm.LastKey = "" // informational only; a broker would refuse the whole commit (OFFSET_METADATA_TOO_LARGE)
		}
		meta[p] = cm.String()
	}
	s.mu.Unlock()
	if len(eo) > 0 {
		// Bounded: a commit that cannot reach the group coordinator fails
		// (and is retried) instead of holding the flusher, and a
		// revocation waiting for s.own, for longer than one attempt.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.commitAttemptTimeout())
		defer cancel()
		ctx = kgo.PreCommitFnContext(ctx, func(req *kmsg.OffsetCommitRequest) error {
			for i := range req.Topics {
				t := &req.Topics[i]
				if t.Topic != s.cfg.topic {
					continue
				}
				for j := range t.Partitions {
					if m, ok := meta[t.Partitions[j].Partition]; ok {
						t.Partitions[j].Metadata = &m
					}
				}
			}
			return nil
		})
		s.client.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{s.cfg.topic: eo},
			func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
				if err != nil {
					for p := range eo {
						failed[p] = err
					}
					return
				}
				for _, t := range resp.Topics {
					for _, rp := range t.Partitions {
						if e := kerr.ErrorForCode(rp.ErrorCode); e != nil {
							failed[rp.Partition] = e
						}
					}
				}
			})
	}
	s.commitMu.Lock()
	for p := range eo {
		if failed[p] == nil {
			s.commits[p] = offs[p].off
			if u, ok := s.uncommitted[p]; ok && offs[p].off >= u.to {
				delete(s.uncommitted, p) // read again and committed after all
			}
		}
	}
	s.commitMu.Unlock()
	s.mu.Lock()
	for p := range eo {
		if st := s.parts[p]; st != nil && st.gen == offs[p].gen && failed[p] == nil {
			st.last = offs[p]
		}
	}
	s.mu.Unlock()
	return failed
}

// span is a range of a partition's offsets [from, to) this member read,
// uploaded or not, and could not commit, with the last reason.
type span struct {
	from, to int64
	err      error
}

// noteUncommitted records [from, to) of p as uncommitted. Called with
// s.commitMu held.
func (s *Sink) noteUncommitted(p int32, from, to int64, err error) {
	if u, ok := s.uncommitted[p]; ok {
		from, to = min(from, u.from), max(to, u.to)
	}
	if s.uncommitted == nil {
		s.uncommitted = map[int32]span{}
	}
	s.uncommitted[p] = span{from: from, to: to, err: err}
}

// ErrUncommitted is returned (wrapped) by Run when it stopped (SIGTERM,
// UntilIdle) with offsets it read and could not commit: the next owner
// reads them again (or adopts their objects), but this run did not finish
// its job, so it must not look like a clean stop.
var ErrUncommitted = errors.New("offsets left uncommitted")

// uncommittedErr names every partition and offset range this member could
// not commit and did not commit later, or returns nil.
func (s *Sink) uncommittedErr() error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if len(s.uncommitted) == 0 {
		return nil
	}
	ps := make([]int32, 0, len(s.uncommitted))
	for p := range s.uncommitted {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	parts := make([]string, len(ps))
	var last error
	for i, p := range ps {
		u := s.uncommitted[p]
		parts[i] = fmt.Sprintf("%s[%d] %d-%d", s.cfg.topic, p, u.from, u.to)
		last = u.err
	}
	return fmt.Errorf("sink: %w: %s (last refusal: %v); their objects are in S3 or their records still in Kafka: the partitions' next owner adopts or reads them again",
		ErrUncommitted, strings.Join(parts, ", "), last)
}
