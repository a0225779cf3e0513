package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	LastKey   string // the lake object that ends at NextStart ("" before the first object)
}

const commitMetaVersion = "tickflow/2"

// maxCommitMeta keeps the metadata under Kafka's offset.metadata.max.bytes
// (4096 by default).
const maxCommitMeta = 3000

// String encodes m (Kafka keeps up to offset.metadata.max.bytes, 4 KiB by
// default, which a lake key fits in).
func (m CommitMeta) String() string {
	var b strings.Builder
	b.WriteString(commitMetaVersion)
	fmt.Fprintf(&b, ";next-start=%d;dlq=%d;expired=%d;topic-id=%s;last=%s", m.NextStart, m.DLQ, m.Expired, m.TopicID, m.LastKey)
	return b.String()
}

// ParseCommitMeta reads CommitMeta; ok is false for any other metadata
// (kgo's default is the member ID; an older tickflow wrote CarryMetadata).
func ParseCommitMeta(s string) (m CommitMeta, ok bool) {
	rest, found := strings.CutPrefix(s, commitMetaVersion+";")
	if !found {
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
		switch k {
		case "next-start":
			m.NextStart, err = strconv.ParseInt(v, 10, 64)
		case "dlq":
			m.DLQ, err = strconv.Atoi(v)
		case "expired":
			m.Expired, err = strconv.Atoi(v)
		case "topic-id":
			m.TopicID = v
		default:
			return CommitMeta{}, false
		}
		if err != nil {
			return CommitMeta{}, false
		}
		seen++
	}
	if seen != 4 || m.NextStart < 0 || m.DLQ < 0 || m.Expired < 0 {
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
// the group: this member was evicted). Ownership cannot change while the
// commit is on its way: revocation and loss wait for s.own.
func (s *Sink) commit(ctx context.Context, offs map[int32]commitPoint) map[int32]error {
	if len(offs) == 0 {
		return nil
	}
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
		eo[p] = kgo.EpochOffset{Epoch: -1, Offset: o.off}
		cm := CommitMeta{NextStart: o.next(), DLQ: o.dlq, Expired: o.expired, TopicID: tid, LastKey: o.lastKey}
		if m := cm.String(); len(m) > maxCommitMeta {
			cm.LastKey = "" // informational only; a broker would refuse the whole commit (OFFSET_METADATA_TOO_LARGE)
		}
		meta[p] = cm.String()
	}
	s.mu.Unlock()
	if len(eo) > 0 {
		// Bounded like an S3 call: a commit that cannot reach the group
		// coordinator fails instead of holding the flusher forever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.callTimeout)
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
	for p, err := range failed {
		s.stats.refused.Add(1)
		s.cfg.log.Warn("sink: commit not made", "partition", p, "offset", offs[p].off, "err", err)
		if isPermanent(err) {
			s.setFatal(fmt.Errorf("sink: commit %s[%d]@%d: %w (not retriable: check the group's ACLs and credentials)", s.cfg.topic, p, offs[p].off, err))
		}
	}
	return failed
}
