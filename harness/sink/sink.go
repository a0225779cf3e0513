package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// Sink consumes ticks from Kafka as a consumer group member and writes them
// exactly once into the lake. Create with New, run with Run.
type Sink struct {
	cfg     config
	store   objstore.Store
	client  *kgo.Client
	brokers []string

	mu    sync.Mutex // guards parts; held while processing a poll and in rebalance callbacks
	parts map[int32]*partState

	ready    chan struct{} // closed once client is set: callbacks may run before New returns
	crashed  atomic.Bool   // a Hook returned an error: act dead
	dlqErr   atomic.Pointer[error]
	lastRec  atomic.Int64 // unix nanos of the last record received
	stats    counters
	commitMu sync.Mutex
	commits  map[int32]int64

	// The upload pipeline: the poll loop hands sealed segments to one
	// flusher goroutine in batches, in order, and keeps polling.
	batches  chan *batch
	inflight sync.WaitGroup // batches handed over and not yet done
	flushErr atomic.Pointer[error]
	gens     atomic.Int64 // partState generations

	// Sealed segments are encoded as soon as they are handed over, up to
	// GOMAXPROCS at a time, ahead of the flusher's strictly ordered
	// uploads and commits: encoding touches neither S3 nor Kafka.
	encSem   chan struct{}
	encoding sync.WaitGroup
}

// batch is a poll's worth of work for the flusher: sealed segments to
// upload, in offset order per partition, and the commit point of every
// partition it touches (the last segment's end or a carried range).
type batch struct {
	jobs []job
	ends map[int32]commitPoint
}

type job struct {
	p   int32
	seg *segment
}

type counters struct {
	consumed, written, objects, dlq, bytes, orphans, retries atomic.Int64
}

// Stats is a snapshot of what a Sink has done, for progress displays.
type Stats struct {
	Consumed       int64           // records received from Kafka
	Written        int64           // rows uploaded in lake objects
	Objects        int64           // objects uploaded
	Bytes          int64           // bytes uploaded
	DLQ            int64           // poison records sent to the dead-letter topic
	OrphansDeleted int64           // off-chain objects removed by reconciliation
	Retries        int64           // S3 call retries
	Committed      map[int32]int64 // last committed offset per partition (exclusive end)
}

// partState is the sink's view of one assigned partition.
type partState struct {
	gen    int64 // a new generation per assignment or drop: older queued segments are stale
	pos    int64 // next offset to cover; -1 until the first record when nothing is known
	open   *segment
	sealed []*segment
	last   commitPoint // what this member last committed (or found committed) for the partition
	queued int64       // end of the last carried range handed to the flusher
	rewind bool        // dropped by the flusher: the poll loop must SetOffsets(pos) and skip what it holds

	hour     int64  // record hour (Unix ms / 3,600,000) that hourPath is for
	hourPath string // tick.PartitionPath of that hour, cached: formatting per record is costly
}

// commitPoint is one partition's committed offset. When the range
// [carryStart, off) holds only dead letters (dlq of them) that are not in
// any object yet, the commit's metadata says so (CarryMetadata), so the
// next object is still named from carryStart and counts them.
type commitPoint struct {
	off        int64
	carryStart int64 // -1: no carried range
	dlq        int
	gen        int64 // the partState generation it belongs to
}

func (c commitPoint) carries() bool { return c.carryStart >= 0 && c.carryStart < c.off }

// segment is a run of offsets [start, end) of one partition that becomes one
// object: all its rows share one dt/hour folder.
type segment struct {
	gen        int64
	start, end int64
	n          int          // rows
	chunks     [][]tick.Row // the rows, in chunks of chunkRows
	dlq        int
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

// New creates a Sink that reads from brokers and writes to store. It checks
// within 10s that a broker answers; it does not join the group until Run.
func New(ctx context.Context, brokers []string, store objstore.Store, opts ...Option) (*Sink, error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case len(brokers) == 0:
		return nil, errors.New("sink: no brokers given")
	case store == nil:
		return nil, errors.New("sink: no object store given")
	case cfg.format != Parquet && cfg.format != JSON:
		return nil, fmt.Errorf("sink: unknown format %q (use parquet or json)", cfg.format)
	case cfg.flushRecords <= 0 || cfg.flushBytes <= 0 || cfg.flushInterval <= 0:
		return nil, errors.New("sink: flush thresholds must be positive")
	case cfg.retryAttempts < 1:
		return nil, errors.New("sink: retry attempts must be at least 1")
	}
	s := &Sink{cfg: cfg, store: store, brokers: brokers, parts: map[int32]*partState{}, commits: map[int32]int64{},
		ready: make(chan struct{}), batches: make(chan *batch, cfg.pipeline),
		encSem: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))}
	kopts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(cfg.group),
		kgo.ConsumeTopics(cfg.topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.AdjustFetchOffsetsFn(s.onAssigned),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onLost),
		kgo.AllowAutoTopicCreation(), // for the DLQ topic where the cluster allows it
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(2 * time.Minute),
		kgo.DialTimeout(5 * time.Second),
	}
	cl, err := kgo.NewClient(append(kopts, cfg.kgoOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("sink: kafka client for %v: %w", brokers, err)
	}
	s.client = cl
	close(s.ready)
	pctx, cancel := context.WithTimeout(ctx, cfg.pingTimeout)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("sink: no Kafka broker reachable at %s within %s (check --brokers and that Kafka is up): %w",
			strings.Join(brokers, ","), cfg.pingTimeout, err)
	}
	// Probe the store with a Head of a key that never exists: not-found
	// proves the bucket answers; anything else (no endpoint, no bucket, bad
	// credentials) is worth failing for now rather than at the first flush.
	probe := ObjectKey(cfg.prefix, "dt=1970-01-01/hour=00", cfg.topic, 0, 0, "probe")
	if _, err := store.Head(pctx, probe); err != nil && !errors.Is(err, objstore.ErrNotFound) {
		cl.Close()
		return nil, fmt.Errorf("sink: object store %s not usable within %s (check the endpoint, bucket and credentials): %w", store, cfg.pingTimeout, err)
	}
	return s, nil
}

// Stats returns a snapshot of the counters; safe from any goroutine.
func (s *Sink) Stats() Stats {
	s.commitMu.Lock()
	c := make(map[int32]int64, len(s.commits))
	for k, v := range s.commits {
		c[k] = v
	}
	s.commitMu.Unlock()
	return Stats{
		Consumed: s.stats.consumed.Load(), Written: s.stats.written.Load(), Objects: s.stats.objects.Load(),
		Bytes: s.stats.bytes.Load(), DLQ: s.stats.dlq.Load(), OrphansDeleted: s.stats.orphans.Load(),
		Retries: s.stats.retries.Load(), Committed: c,
	}
}

// Run consumes until ctx is cancelled (or UntilIdle elapses), then flushes
// and commits what it holds and leaves the group. It returns nil after a
// clean shutdown, or the first error that stopped it (an object that could
// not be uploaded after all retries, a failed DLQ produce, a Hook error).
// A Sink runs once.
func (s *Sink) Run(ctx context.Context) (err error) {
	// Work (uploads, commits) uses a context that outlives ctx, so a
	// shutdown can still flush; it is bounded by the retry policy.
	work := context.WithoutCancel(ctx)
	flusherDone := make(chan struct{})
	go func() {
		defer close(flusherDone)
		s.flusher(work)
	}()
	defer func() {
		if err != nil {
			s.crashed.Store(true) // the client's Close must not commit anything
		}
		close(s.batches)
		<-flusherDone
		s.client.Close()  // may flush revoked partitions
		s.encoding.Wait() // encoders of batches an error cut short
	}()
	s.lastRec.Store(time.Now().UnixNano())
	for {
		if ctx.Err() != nil {
			return s.shutdown(work)
		}
		if d := s.cfg.untilIdle; d > 0 && time.Since(time.Unix(0, s.lastRec.Load())) >= d {
			return s.shutdown(work)
		}
		pctx, cancel := context.WithTimeout(ctx, s.pollWait())
		fs := s.client.PollRecords(pctx, s.cfg.pollRecords)
		cancel()
		if fs.IsClientClosed() {
			return errors.New("sink: kafka client closed")
		}
		var fetchErr error
		fs.EachError(func(t string, p int32, e error) {
			if !errors.Is(e, context.DeadlineExceeded) && !errors.Is(e, context.Canceled) && fetchErr == nil {
				fetchErr = fmt.Errorf("sink: fetch %s[%d]: %w", t, p, e)
			}
		})
		if fetchErr != nil {
			s.cfg.log.Warn("sink: fetch error (retrying)", "err", fetchErr)
		}
		s.mu.Lock()
		err := s.process(work, fs)
		var b *batch
		if err == nil {
			b = s.takeBatch(nil, false)
		}
		s.mu.Unlock()
		if b != nil {
			// Hand over before allowing a rebalance, so a revocation waits
			// for it; a full queue blocks here (backpressure).
			s.encode(b)
			s.inflight.Add(1)
			s.batches <- b
		}
		s.client.AllowRebalance()
		if err == nil {
			err = s.pipelineErr()
		}
		if err != nil {
			return err
		}
	}
}

func (s *Sink) pipelineErr() error {
	if e := s.flushErr.Load(); e != nil {
		return *e
	}
	return nil
}

// flusher uploads and commits the batches in the order they were handed
// over, one batch at a time (its objects in parallel): so when a batch is
// fenced, every earlier batch is committed, exactly as in a sequential
// sink. After an error it only drains the queue.
func (s *Sink) flusher(ctx context.Context) {
	for b := range s.batches {
		if s.flushErr.Load() == nil {
			if err := s.flushBatch(ctx, b); err != nil {
				s.flushErr.CompareAndSwap(nil, &err)
			}
		}
		s.inflight.Done()
	}
}

func (s *Sink) pollWait() time.Duration {
	d := s.cfg.flushInterval / 4
	if s.cfg.untilIdle > 0 {
		d = min(d, s.cfg.untilIdle/4)
	}
	return max(d, 10*time.Millisecond)
}

// shutdown flushes and commits every partition it owns, then leaves.
func (s *Sink) shutdown(ctx context.Context) error {
	s.inflight.Wait()
	if err := s.pipelineErr(); err != nil {
		return err
	}
	s.mu.Lock()
	for _, st := range s.parts {
		s.seal(st, st.pos)
	}
	b := s.takeBatch(nil, true)
	s.mu.Unlock()
	var err error
	if b != nil {
		err = s.flushBatch(ctx, b)
	}
	s.mu.Lock()
	s.parts = map[int32]*partState{} // revoke on Close has nothing left to do
	s.mu.Unlock()
	return err
}

// process appends a poll's records to their partitions' segments, sealing
// segments at the deterministic boundaries (hour change, record and byte
// thresholds) and at the wall-clock FlushInterval. Partitions are
// independent, so they are decoded in parallel.
func (s *Sink) process(ctx context.Context, fs kgo.Fetches) error {
	// A partition the flusher dropped (refused fence) rewinds first: what
	// this poll holds of it was fetched from the old position.
	for p, st := range s.parts {
		if st.rewind {
			st.rewind = false
			s.client.SetOffsets(map[string]map[int32]kgo.EpochOffset{s.cfg.topic: {p: {Epoch: -1, Offset: st.pos}}})
			st.gen = -st.gen // skip this poll's records of it (restored below)
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
		n += len(ftp.Records)
		st := s.parts[ftp.Partition]
		if ftp.Topic != s.cfg.topic || len(ftp.Records) == 0 || st == nil || st.gen < 0 {
			return // not ours (any more)
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
			if st.pos < 0 {
				st.pos = r.Offset
			}
			if r.Offset < st.pos {
				continue // already in the lake (reconciled past it)
			}
			s.add(ctx, st, r)
		}
	}
	if len(ws) == 1 || s.cfg.decoders <= 1 {
		for _, w := range ws {
			run(w)
		}
	} else {
		sem := make(chan struct{}, s.cfg.decoders)
		var wg sync.WaitGroup
		for _, w := range ws {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				run(w)
			}()
		}
		wg.Wait()
	}
	for _, st := range s.parts {
		if st.gen < 0 {
			st.gen = -st.gen
		}
	}
	if n > 0 {
		s.stats.consumed.Add(int64(n))
		s.lastRec.Store(time.Now().UnixNano())
	}
	now := time.Now()
	for _, st := range s.parts {
		if st.open != nil && st.open.n > 0 && now.Sub(st.open.opened) >= s.cfg.flushInterval {
			s.seal(st, st.pos)
		}
	}
	if e := s.dlqErr.Load(); e != nil {
		return *e
	}
	return nil
}

// newSegment opens a segment of st at its position.
func (s *Sink) newSegment(st *partState) *segment {
	return &segment{gen: st.gen, start: st.pos, opened: time.Now()}
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
		st.open.end = r.Offset + 1
		st.pos = r.Offset + 1
		if st.open.dlq+st.open.n >= s.cfg.flushRecords && st.open.n > 0 {
			s.seal(st, st.pos)
		}
		return
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
		s.seal(st, r.Offset) // hour boundary: the next object starts at this record
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
	seg.end = r.Offset + 1
	st.pos = r.Offset + 1
	if seg.n+seg.dlq >= s.cfg.flushRecords || seg.bytes >= s.cfg.flushBytes {
		s.seal(st, st.pos)
	}
}

// seal closes the open segment at end (exclusive). A segment without rows
// (only dead-lettered records so far) stays open: a row-less object would be
// an empty file, so its offsets ride along with the next object.
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

// DLQ record headers.
const (
	HeaderError     = "tickflow-error"
	HeaderTopic     = "tickflow-source-topic"
	HeaderPartition = "tickflow-source-partition"
	HeaderOffset    = "tickflow-source-offset"
	HeaderTimestamp = "tickflow-source-timestamp" // source record timestamp, Unix ms
)

func (s *Sink) deadLetter(ctx context.Context, r *kgo.Record, cause error) {
	s.stats.dlq.Add(1)
	dr := &kgo.Record{
		// The DLQ record's own timestamp is now, never the source's: kgo
		// fails a record whose timestamp is older than its delivery timeout,
		// so a sink catching up on an old backlog could not dead-letter
		// anything. The source timestamp goes in a header.
		Topic: s.cfg.topic + ".dlq", Key: r.Key, Value: r.Value, Timestamp: time.Now(),
		Headers: append([]kgo.RecordHeader{
			{Key: HeaderError, Value: []byte(cause.Error())},
			{Key: HeaderTopic, Value: []byte(r.Topic)},
			{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
			{Key: HeaderOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
			{Key: HeaderTimestamp, Value: []byte(strconv.FormatInt(r.Timestamp.UnixMilli(), 10))},
		}, r.Headers...),
	}
	s.cfg.log.Warn("sink: poison record to DLQ", "partition", r.Partition, "offset", r.Offset, "err", cause)
	s.client.Produce(ctx, dr, func(_ *kgo.Record, err error) {
		if err != nil {
			e := fmt.Errorf("sink: dead-letter %s[%d]@%d to %s: %w", r.Topic, r.Partition, r.Offset, dr.Topic, err)
			s.dlqErr.CompareAndSwap(nil, &e)
		}
	})
}

// carryDue reports whether st's open segment holds only dead letters past
// what is committed (or queued to be), and should be committed as a
// carried range now: after FlushInterval, or at once when force (shutdown,
// revocation).
func (s *Sink) carryDue(st *partState, now time.Time, force bool) bool {
	seg := st.open
	return seg != nil && seg.n == 0 && seg.dlq > 0 && seg.end > max(st.last.off, st.queued) &&
		(force || now.Sub(seg.opened) >= s.cfg.flushInterval)
}

// takeBatch moves every sealed segment (of only the partitions in `only` if
// set) into a batch for flushBatch, plus the carried ranges of dead letters
// that are due. It returns nil when there is nothing to do. Called with
// s.mu held.
func (s *Sink) takeBatch(only map[int32]bool, force bool) *batch {
	var b *batch
	now := time.Now()
	for p, st := range s.parts {
		if only != nil && !only[p] {
			continue
		}
		sealed, carry := len(st.sealed) > 0, s.carryDue(st, now, force)
		if !sealed && !carry {
			continue
		}
		if b == nil {
			b = &batch{ends: map[int32]commitPoint{}}
		}
		if sealed {
			for _, seg := range st.sealed {
				b.jobs = append(b.jobs, job{p, seg})
			}
			b.ends[p] = commitPoint{off: st.sealed[len(st.sealed)-1].end, carryStart: -1, gen: st.gen}
			st.sealed = nil
		}
		if carry {
			b.ends[p] = commitPoint{off: st.open.end, carryStart: st.open.start, dlq: st.open.dlq, gen: st.gen}
			st.queued = st.open.end
		}
	}
	return b
}

// flushBatch uploads a batch's segments and commits each partition's
// offset once all its objects are in the store (and its dead letters are
// acknowledged). Segments of partitions revoked, lost or dropped since the
// batch was taken are skipped. It takes s.mu only briefly, so the poll
// loop keeps decoding while it uploads.
func (s *Sink) flushBatch(ctx context.Context, b *batch) error {
	if s.crashed.Load() {
		return errors.New("sink: crashed by hook")
	}
	starts := map[int32]commitPoint{}
	s.mu.Lock()
	for p, end := range b.ends {
		if st := s.parts[p]; st == nil || abs(st.gen) != end.gen {
			delete(b.ends, p)
		}
	}
	for _, j := range b.jobs {
		if _, ok := b.ends[j.p]; ok {
			if _, seen := starts[j.p]; !seen {
				starts[j.p] = fencePoint(s.parts[j.p].last, j.seg.start)
			}
		}
	}
	s.mu.Unlock()
	if len(b.ends) == 0 {
		return nil
	}
	s.encode(b) // a no-op for a batch the poll loop handed over
	// Dead letters of the range must be durable before the range is
	// committed.
	if err := s.client.Flush(ctx); err != nil {
		return fmt.Errorf("sink: flush dead letters: %w", err)
	}
	if e := s.dlqErr.Load(); e != nil {
		return *e
	}
	if s.cfg.unsafeCommitFirst {
		s.commit(ctx, b.ends)
	} else if len(starts) > 0 {
		// Fence: a commit of the offsets we resume from fails if this member
		// was evicted from the group, so a zombie stops before it uploads.
		// It re-commits what is committed (carried range included), a no-op
		// for the lake.
		if refused := s.commit(ctx, starts); len(refused) > 0 {
			s.mu.Lock()
			for p := range refused {
				s.dropPartition(p, b.ends[p].gen, starts[p])
				delete(b.ends, p)
			}
			s.mu.Unlock()
		}
	}
	sem := make(chan struct{}, 16)
	errs := make([]error, len(b.jobs))
	var wg sync.WaitGroup
	for i, j := range b.jobs {
		if _, ok := b.ends[j.p]; !ok {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = s.upload(ctx, j.p, j.seg)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if !s.cfg.unsafeCommitFirst {
		s.commit(ctx, b.ends)
	}
	for p, end := range b.ends {
		if err := s.callHook(HookEvent{Point: AfterCommit, Partition: p, End: end.off}); err != nil {
			return err
		}
	}
	return nil
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// fencePoint is what a fence commit for st's next upload commits: the
// offset its first sealed segment starts from — or, when that segment
// begins with a carried range, the carried commit itself, so a fence never
// moves the committed offset back.
func fencePoint(last commitPoint, start int64) commitPoint {
	if last.carries() && last.carryStart == start {
		return last
	}
	return commitPoint{off: start, carryStart: -1, gen: last.gen}
}

func (s *Sink) callHook(ev HookEvent) error {
	if s.crashed.Load() {
		return errors.New("sink: crashed by hook")
	}
	if s.cfg.hook == nil {
		return nil
	}
	if err := s.cfg.hook(ev); err != nil {
		s.crashed.Store(true)
		return fmt.Errorf("sink: stopped by hook at %s of partition %d: %w", ev.Point, ev.Partition, err)
	}
	return nil
}

func (s *Sink) upload(ctx context.Context, p int32, seg *segment) error {
	ext := Extension(s.cfg.format, s.cfg.gzip)
	key := ObjectKey(s.cfg.prefix, seg.partPath, s.cfg.topic, p, seg.start, ext)
	if err := s.callHook(HookEvent{Point: BeforeUpload, Partition: p, Key: key, Start: seg.start, End: seg.end}); err != nil {
		return err
	}
	enc := seg.enc
	<-enc.done
	if enc.err != nil {
		return fmt.Errorf("sink: %s: %w", key, enc.err)
	}
	buf := enc.buf
	defer bufPool.Put(buf) // only after the upload: it is the request body
	meta := map[string]string{
		MetaTopic: s.cfg.topic, MetaPartition: strconv.Itoa(int(p)),
		MetaStartOffset: strconv.FormatInt(seg.start, 10), MetaEndOffset: strconv.FormatInt(seg.end, 10),
		MetaRecords: strconv.Itoa(enc.rows), MetaDLQ: strconv.Itoa(seg.dlq), MetaFormat: ext,
	}
	if err := s.put(ctx, key, buf.Bytes(), meta); err != nil {
		return err
	}
	s.stats.objects.Add(1)
	s.stats.written.Add(int64(enc.rows))
	s.stats.bytes.Add(int64(buf.Len()))
	s.cfg.log.Debug("sink: uploaded", "key", key, "records", enc.rows, "end", seg.end)
	return s.callHook(HookEvent{Point: AfterUpload, Partition: p, Key: key, Start: seg.start, End: seg.end})
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// encode starts encoding the batch's segments that are not encoding yet,
// each in its own goroutine, at most GOMAXPROCS at a time. It only reads
// the rows of sealed segments, which nothing else touches any more, and
// returns them to the pool when done. Called by the goroutine that owns
// the batch (the poll loop before it hands it over, or flushBatch).
func (s *Sink) encode(b *batch) {
	for _, j := range b.jobs {
		seg := j.seg
		if seg.enc != nil {
			continue
		}
		enc := &encoded{done: make(chan struct{}), rows: seg.n}
		seg.enc = enc
		chunks := seg.chunks
		seg.chunks = nil
		s.encoding.Add(1)
		go func() {
			defer s.encoding.Done()
			defer close(enc.done)
			s.encSem <- struct{}{}
			defer func() { <-s.encSem }()
			buf := bufPool.Get().(*bytes.Buffer)
			buf.Reset()
			enc.err = encodeChunks(buf, s.cfg.format, s.cfg.gzip, chunks...)
			for _, c := range chunks {
				putChunk(c)
			}
			if enc.err != nil {
				bufPool.Put(buf)
				return
			}
			enc.buf = buf
		}()
	}
}

// commit synchronously commits exactly offs and returns the partitions whose
// commit the group refused (this member no longer owns them). A carried
// range goes in the commit's metadata (CarryMetadata).
func (s *Sink) commit(ctx context.Context, offs map[int32]commitPoint) map[int32]error {
	if len(offs) == 0 {
		return nil
	}
	eo := map[int32]kgo.EpochOffset{}
	meta := map[int32]string{}
	for p, o := range offs {
		eo[p] = kgo.EpochOffset{Epoch: -1, Offset: o.off}
		if o.carries() {
			meta[p] = CarryMetadata(o.carryStart, o.dlq)
		}
	}
	if len(meta) > 0 {
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
	}
	failed := map[int32]error{}
	s.client.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{s.cfg.topic: eo},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				for p := range offs {
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
	s.commitMu.Lock()
	for p, o := range offs {
		if failed[p] == nil {
			s.commits[p] = o.off
		}
	}
	s.commitMu.Unlock()
	s.mu.Lock()
	for p, o := range offs {
		if st := s.parts[p]; st != nil && abs(st.gen) == o.gen && failed[p] == nil {
			st.last = o
		}
	}
	s.mu.Unlock()
	for p, err := range failed {
		s.cfg.log.Warn("sink: commit refused", "partition", p, "offset", offs[p], "err", err)
	}
	return failed
}

// dropPartition forgets a partition's buffered records after a refused
// fence commit and rewinds the fetch position, so if this member still owns
// the partition it re-reads them; if not, the new owner has them.
// Called with s.mu held; the poll loop does the SetOffsets (kgo wants it
// there) and skips what it already holds of the partition.
func (s *Sink) dropPartition(p int32, gen int64, from commitPoint) {
	st := s.parts[p]
	if st == nil || abs(st.gen) != gen {
		return
	}
	ns := &partState{gen: s.gens.Add(1), pos: from.off, last: st.last, rewind: true}
	ns.last.gen = ns.gen
	if from.carries() {
		ns.open = &segment{gen: ns.gen, start: from.carryStart, end: from.off, dlq: from.dlq, opened: time.Now()}
	}
	s.parts[p] = ns
}

// onAssigned reconciles newly assigned partitions with the lake before
// consumption starts, and returns the offsets to start from.
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
	var uncommitted []int32
	from := map[int32]int64{}
	for p, o := range parts {
		if c := o.EpochOffset().Offset; c >= 0 {
			from[p] = c
		} else {
			uncommitted = append(uncommitted, p)
		}
	}
	if len(uncommitted) > 0 {
		starts, err := kadm.NewClient(s.client).ListStartOffsets(ctx, s.cfg.topic)
		if err == nil {
			err = starts.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("sink: list start offsets of %s: %w", s.cfg.topic, err)
		}
		for _, p := range uncommitted {
			if lo, ok := starts.Lookup(s.cfg.topic, p); ok {
				from[p] = lo.Offset
			}
		}
	}
	carried, err := s.carriedRanges(ctx, from)
	if err != nil {
		s.cfg.log.Error("sink: reconcile", "err", err)
		return nil, err
	}
	objs, dupes, err := s.listPartitions(ctx)
	if err != nil {
		s.cfg.log.Error("sink: reconcile", "err", err)
		return nil, err
	}
	states := map[int32]*partState{}
	for p := range parts {
		f, ok := from[p]
		if !ok {
			states[p] = &partState{gen: s.gens.Add(1), pos: -1}
			continue
		}
		pl, err := s.reconcile(ctx, objs[p], f)
		if err != nil {
			s.cfg.log.Error("sink: reconcile", "partition", p, "err", err)
			return nil, err
		}
		for _, k := range append(pl.orphans, dupes[p]...) {
			if err := s.retry(ctx, "delete orphan "+k, func(ctx context.Context) error { return s.store.Delete(ctx, k) }); err != nil {
				return nil, err
			}
			s.stats.orphans.Add(1)
			s.cfg.log.Info("sink: deleted off-chain object", "key", k, "partition", p)
		}
		gen := s.gens.Add(1)
		st := &partState{gen: gen, pos: pl.resume, last: commitPoint{off: f, carryStart: -1, gen: gen}}
		if c, ok := carried[p]; ok && pl.resume == f {
			// [carryStart, f) holds only dead letters and no object
			// covers it: the next object starts there and counts them.
			c.gen = gen
			st.last = c
			st.open = &segment{gen: gen, start: c.carryStart, end: f, dlq: c.dlq, opened: time.Now()}
		}
		states[p] = st
		parts[p] = kgo.NewOffset().At(pl.resume).WithEpoch(-1)
		s.cfg.log.Info("sink: assigned", "partition", p, "committed", f, "resume", pl.resume, "carried", carried[p].dlq)
	}
	s.mu.Lock()
	for p, st := range states {
		s.parts[p] = st
	}
	s.mu.Unlock()
	return offsets, nil
}

// carriedRanges reads the group's commit metadata for the partitions in
// committed (partition → committed offset) and returns those whose commit
// carries a range of dead letters.
func (s *Sink) carriedRanges(ctx context.Context, committed map[int32]int64) (map[int32]commitPoint, error) {
	out := map[int32]commitPoint{}
	if len(committed) == 0 {
		return out, nil
	}
	resp, err := kadm.NewClient(s.client).FetchOffsets(ctx, s.cfg.group)
	if err != nil {
		return nil, fmt.Errorf("sink: fetch the committed offsets of group %s: %w", s.cfg.group, err)
	}
	for p, c := range committed {
		o, ok := resp.Lookup(s.cfg.topic, p)
		if !ok || o.Err != nil || o.At != c {
			continue
		}
		if start, dlq, ok := ParseCarryMetadata(o.Metadata); ok && start < c && dlq > 0 && int64(dlq) <= c-start {
			out[p] = commitPoint{off: c, carryStart: start, dlq: dlq}
		}
	}
	return out, nil
}

// CarryMetadata is the offset-commit metadata of a partition whose
// committed offset is ahead of its last lake object: the dlq offsets from
// start up to the committed offset were dead-lettered and belong to the
// next object, which is named from start.
func CarryMetadata(start int64, dlq int) string {
	return "tickflow-next-start=" + strconv.FormatInt(start, 10) + ";tickflow-dlq=" + strconv.Itoa(dlq)
}

// ParseCarryMetadata reads CarryMetadata; ok is false for any other
// metadata (kgo's default is the member ID).
func ParseCarryMetadata(m string) (start int64, dlq int, ok bool) {
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

// onRevoked flushes and commits revoked partitions before they move on.
func (s *Sink) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	// What was handed to the flusher lands and is committed first.
	s.inflight.Wait()
	if s.crashed.Load() || s.flushErr.Load() != nil {
		return
	}
	s.mu.Lock()
	only := map[int32]bool{}
	for _, p := range revoked[s.cfg.topic] {
		if st := s.parts[p]; st != nil {
			s.seal(st, st.pos)
			only[p] = true
		}
	}
	b := s.takeBatch(only, true)
	s.mu.Unlock()
	if b != nil {
		if err := s.flushBatch(context.WithoutCancel(ctx), b); err != nil {
			s.cfg.log.Error("sink: flush on revoke", "err", err)
		}
	}
	s.mu.Lock()
	for p := range only {
		delete(s.parts, p)
	}
	s.mu.Unlock()
}

// onLost forgets partitions this member lost without a clean revoke: the
// group already gave them to someone else, so nothing may be committed.
func (s *Sink) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range lost[s.cfg.topic] {
		delete(s.parts, p)
	}
}
