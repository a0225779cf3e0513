package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/tickflow/tickflow/harness/tick"
)

// partState is the sink's view of one assigned partition.
type partState struct {
	gen    int64 // a new generation per assignment or drop: older queued segments are stale
	pos    int64 // next offset to cover
	hwm    int64 // the partition's end offset as last seen (assignment or fetch)
	open   *segment
	sealed []*segment
	last   commitPoint // what this member last committed (or found committed) for the partition
	queued int64       // end of the last carried range handed to the flusher
	rewind bool        // dropped by the flusher: the poll loop must SetOffsets(pos) and skip what it holds

	// Transactions: read_committed reads end at the last stable offset
	// while a transaction is open, and never return the markers.
	lso      int64 // the last stable offset as last fetched (if lsoKnown)
	lsoKnown bool
	seen     int64 // the offset after the last record fetched, markers included (pos stays before a marker no object is open for)

	hour     int64  // record hour (Unix ms / 3,600,000) that hourPath is for
	hourPath string // tick.PartitionPath of that hour, cached: formatting per record is costly
}

// segment is a run of offsets [start, end) of one partition that becomes one
// object: all its rows share one dt/hour folder.
type segment struct {
	gen        int64
	start, end int64
	n          int          // rows
	chunks     [][]tick.Row // the rows, in chunks of chunkRows
	dlq        int
	expired    int         // offsets retention removed before they were read
	epoch      leaderEpoch // the leader epoch that goes with end (see leaderEpoch)
	bytes      int
	partPath   string // "" until the first row
	opened     time.Time

	// Set by encode once the segment is sealed and handed over; the rows
	// go back to the pool once they are encoded.
	enc *encoded
}

// encoded is a segment's object body, ready once done is closed.
type encoded struct {
	done chan struct{}
	buf  *bytes.Buffer
	rows int
	err  error
}

// process appends a poll's records to their partitions' segments, sealing
// segments at the deterministic boundaries (hour change, record and byte
// thresholds) and at the wall-clock FlushInterval. Partitions are
// independent, so they are decoded in parallel. Called with s.mu held.
func (s *Sink) process(ctx context.Context, fs kgo.Fetches) error {
	// A partition the flusher dropped rewinds first: what this poll holds
	// of it was fetched from the old position.
	skip := map[*partState]bool{}
	for p, st := range s.parts {
		if st.rewind {
			st.rewind = false
			s.client.SetOffsets(map[string]map[int32]kgo.EpochOffset{s.cfg.topic: {p: {Epoch: -1, Offset: st.pos}}})
			skip[st] = true
		}
	}
	type work struct {
		st   *partState
		recs []*kgo.Record
	}
	var ws []work
	idx := map[*partState]int{}
	n := 0
	fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
		for _, r := range ftp.Records {
			if !r.Attrs.IsControl() {
				n++
			}
		}
		st := s.parts[ftp.Partition]
		if ftp.Topic != s.cfg.topic || st == nil || skip[st] {
			return // not ours (any more)
		}
		if ftp.HighWatermark > st.hwm {
			st.hwm = ftp.HighWatermark
		}
		if ftp.Err == nil && ftp.LastStableOffset >= 0 && (!st.lsoKnown || ftp.LastStableOffset > st.lso) {
			st.lso, st.lsoKnown = ftp.LastStableOffset, true
		}
		if len(ftp.Records) == 0 {
			return
		}
		if i, ok := idx[st]; ok {
			ws[i].recs = append(ws[i].recs, ftp.Records...)
			return
		}
		idx[st] = len(ws)
		ws = append(ws, work{st, ftp.Records})
	})
	run := func(w work) {
		st := w.st
		for _, r := range w.recs {
			if r.Offset < st.pos {
				continue // already in the lake (reconciled or adopted past it)
			}
			if r.Attrs.IsControl() {
				skipMarker(st, r.Offset, r.LeaderEpoch)
				continue
			}
			s.add(ctx, st, r)
		}
	}
	var g errgroup.Group
	g.SetLimit(max(1, s.cfg.decoders))
	for _, w := range ws {
		g.Go(func() error { run(w); return nil })
	}
	_ = g.Wait() // run returns no errors: dead-letter failures surface through dlqErr
	if n > 0 {
		s.stats.consumed.Add(int64(n))
		s.lastRec.Store(time.Now().UnixNano())
	}
	now := time.Now()
	caught := true
	for _, st := range s.parts {
		if st.open != nil && st.open.n > 0 && now.Sub(st.open.opened) >= s.cfg.flushInterval {
			s.seal(st, st.pos)
		}
		if !st.caughtUp() {
			caught = false
		}
	}
	s.caughtUp.Store(caught)
	if e := s.dlqErr.Load(); e != nil {
		return *e
	}
	return nil
}

// skipMarker passes over a transaction marker (a control record, which
// kgo.KeepControlRecords delivers; a read_committed consumer gets neither
// the aborted records nor the markers otherwise, so its position stopped
// before the last marker and never reached the end offset). An open object
// takes the marker's offset into its range, like the aborted records
// before it, so its commit reaches the end offset; with no object open the
// next object's range starts before it.
// The marker's leader epoch goes with the new end (see leaderEpoch): the
// epoch of the last data record before it could be older, and a commit at
// the marker's end with that epoch would look truncated.
func skipMarker(st *partState, off int64, epoch int32) {
	st.seen = max(st.seen, off+1)
	if st.open != nil {
		st.open.end, st.open.epoch = off+1, epochOf(epoch)
		st.pos = off + 1
	}
}

// readableEnd is where reading the partition ends for now: its end offset,
// or its last stable offset while a transaction is open (read_committed
// gets nothing past it until the transaction ends).
func (st *partState) readableEnd() int64 {
	if st.lsoKnown && st.lso < st.hwm {
		return st.lso
	}
	return st.hwm
}

// caughtUp reports whether everything readable of the partition was fetched.
func (st *partState) caughtUp() bool { return max(st.pos, st.seen) >= st.readableEnd() }

// newSegment opens a segment of st at its position.
func (s *Sink) newSegment(st *partState) *segment {
	return &segment{gen: st.gen, start: st.pos, end: st.pos, opened: time.Now()}
}

// A segment keeps its rows in fixed-size chunks rather than one slice:
// growing a slice to FlushRecords rows copied and cleared every row
// several times (about a third of the sink's allocation), and the chunks
// are recycled once their segment is encoded.
const chunkRows = 4096

var chunkPool = sync.Pool{New: func() any { c := make([]tick.Row, 0, chunkRows); return &c }}

func getChunk() []tick.Row { return (*chunkPool.Get().(*[]tick.Row))[:0] }

func putChunk(c []tick.Row) {
	if cap(c) == chunkRows {
		c = c[:0]
		chunkPool.Put(&c)
	}
}

const hourMillis = 3_600_000

func (s *Sink) add(ctx context.Context, st *partState, r *kgo.Record) {
	var t tick.Tick
	row, err := decode(r, &t)
	if err != nil {
		if st.open == nil {
			st.open = s.newSegment(st)
		}
		s.deadLetter(ctx, r, err)
		st.open.dlq++
		st.open.end, st.open.epoch = r.Offset+1, epochOf(r.LeaderEpoch)
		st.pos = r.Offset + 1
		if st.open.dlq+st.open.n >= s.cfg.flushRecords && st.open.n > 0 {
			s.seal(st, st.pos)
		}
		return
	}
	if t.Unknown > 0 {
		s.countUnknown(r, t.Unknown)
	}
	// The hour folder changes rarely: format it only when the hour does.
	ms := r.Timestamp.UnixMilli()
	h := ms / hourMillis
	if ms < 0 && ms%hourMillis != 0 {
		h--
	}
	if h != st.hour || st.hourPath == "" {
		st.hour, st.hourPath = h, tick.PartitionPath(r.Timestamp)
	}
	pp := st.hourPath
	if st.open != nil && st.open.partPath != "" && st.open.partPath != pp {
		st.open.epoch = epochOf(r.LeaderEpoch) // the epoch of the record at the new end
		s.seal(st, r.Offset)                   // hour boundary: the next object starts at this record
	}
	if st.open == nil {
		st.open = s.newSegment(st)
	}
	seg := st.open
	if k := len(seg.chunks); k == 0 || len(seg.chunks[k-1]) == chunkRows {
		seg.chunks = append(seg.chunks, getChunk())
	}
	seg.partPath = pp
	last := &seg.chunks[len(seg.chunks)-1]
	*last = append(*last, row)
	seg.n++
	seg.bytes += len(r.Value)
	seg.end, seg.epoch = r.Offset+1, epochOf(r.LeaderEpoch)
	st.pos = r.Offset + 1
	if seg.n+seg.dlq >= s.cfg.flushRecords || seg.bytes >= s.cfg.flushBytes {
		s.seal(st, st.pos)
	}
}

// countUnknown counts the n keys of r's value that are not lake columns,
// and says once per sink where to find such a record: a producer that
// renamed a field (its values silently NULL from now on) shows up here.
func (s *Sink) countUnknown(r *kgo.Record, n int) {
	s.stats.unknown.Add(int64(n))
	if s.stats.unknownLogged.CompareAndSwap(false, true) {
		s.cfg.log.Warn("sink: record values have keys that are not lake columns; they are ignored and counted (Stats.UnknownFields, unknown_fields in --json)",
			"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "unknown_keys", n, "columns", columnNames())
	}
}

func columnNames() string {
	names := make([]string, 0, 9)
	for _, c := range tick.Columns[:9] { // the record's part of the row
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}

// seal closes the open segment at end (exclusive). A segment without rows
// (only dead-lettered or expired records so far) stays open: a row-less
// object would be an empty file, so its offsets ride along with the next
// object.
func (s *Sink) seal(st *partState, end int64) {
	seg := st.open
	if seg == nil || seg.n == 0 {
		return
	}
	seg.end = end
	st.sealed = append(st.sealed, seg)
	st.open = nil
}

func decode(r *kgo.Record, t *tick.Tick) (tick.Row, error) {
	if err := decodeTick(r.Value, t); err != nil {
		return tick.Row{}, err
	}
	row, err := tick.RowFrom(*t, r.Timestamp, r.Partition, r.Offset)
	if err != nil {
		return tick.Row{}, fmt.Errorf("trade_date %q is not YYYY-MM-DD: %w", t.TradeDate, err)
	}
	return row, nil
}

// decodeTick accepts tickflow's tick JSON and, off the hot path, the seed
// project's CSV-row JSON (tick.DecodeSeed), so a pipeline still running the
// seed's producer can switch to this sink. The error is the tick format's.
func decodeTick(b []byte, t *tick.Tick) error {
	err := tick.Decode(b, t)
	if err == nil && t.Symbol != "" {
		return nil
	}
	if tick.DecodeSeed(b, t) == nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("value is not tick JSON: %w", err)
	}
	return errors.New("tick has no symbol")
}

// skipExpired handles partitions whose fetch answered OFFSET_OUT_OF_RANGE.
// Below the log start (retention removed records before this sink read
// them) it moves them to the log start. The skipped offsets are counted in
// the next object's MetaExpired, so the lake still tiles and a checker
// reports them as expired, not as delivered; they are logged and counted
// in Stats.Expired. Above the end offset the log was truncated below what
// the sink had read (or its committed offset was reset past the end): that
// is an ErrTruncated, returned to end Run, never a silent retry.
func (s *Sink) skipExpired(ctx context.Context, parts map[int32]bool) error {
	starts, err := s.listStartOffsets(ctx)
	if err != nil {
		s.cfg.log.Warn("sink: offsets out of range, and the log start offsets are unknown (retrying)", "err", err)
		return nil
	}
	s.mu.Lock()
	above := map[int32]int64{} // partition → position, at or above the log start
	for p := range parts {
		st := s.parts[p]
		lo, ok := starts[p]
		if st == nil || !ok {
			continue
		}
		if lo <= st.pos {
			above[p] = st.pos
			continue
		}
		s.expire(st, p, lo)
		s.client.SetOffsets(map[string]map[int32]kgo.EpochOffset{s.cfg.topic: {p: {Epoch: -1, Offset: st.pos}}})
	}
	s.mu.Unlock()
	if len(above) == 0 {
		return nil
	}
	ends, err := kadm.NewClient(s.client).ListEndOffsets(ctx, s.cfg.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		s.cfg.log.Warn("sink: offsets out of range above the log start, and the end offsets are unknown (retrying)", "partitions", len(above), "err", err)
		return nil
	}
	for _, p := range slices.Sorted(maps.Keys(above)) {
		pos := above[p]
		e, ok := ends.Lookup(s.cfg.topic, p)
		if !ok {
			continue
		}
		if pos > e.Offset {
			return s.truncated(p, pos, e.Offset, fmt.Sprintf("its end offset is %d (fetching offset %d answers OFFSET_OUT_OF_RANGE)", e.Offset, pos))
		}
		// Within [log start, end]: a replica behind the leader, or the log
		// moved between the fetch and the listing. Said, and retried.
		s.cfg.log.Warn("sink: offset out of range though within the log (retrying)", "topic", s.cfg.topic, "partition", p,
			"offset", pos, "log_start", starts[p], "end", e.Offset)
	}
	return nil
}

// expire records that the offsets [st.pos, lo) are gone from the log.
// Called with s.mu held (or before st is shared).
func (s *Sink) expire(st *partState, p int32, lo int64) {
	n := lo - st.pos
	if st.open == nil {
		st.open = s.newSegment(st)
	}
	st.open.expired += int(n)
	st.open.end, st.open.epoch = lo, leaderEpoch{} // no record read just below lo
	s.cfg.log.Warn("sink: records expired by retention before the sink read them", "topic", s.cfg.topic,
		"partition", p, "from", st.pos, "to", lo, "records", n)
	s.stats.expired.Add(n)
	st.pos = lo
}
