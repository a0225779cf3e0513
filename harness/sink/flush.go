package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tickflow/tickflow/harness/objstore"
)

// batch is work for the flusher: sealed segments to upload, in offset order
// per partition, and carried ranges of dead letters to commit after them.
type batch struct {
	jobs  []job
	carry map[int32]commitPoint
}

type job struct {
	p   int32
	seg *segment
}

// carryDue reports whether st's open segment holds only dead letters or
// expired offsets past what is committed (or queued to be), and should be
// committed as a carried range now: after FlushInterval, or at once when
// force (shutdown, revocation).
func (s *Sink) carryDue(st *partState, now time.Time, force bool) bool {
	seg := st.open
	return seg != nil && seg.n == 0 && (seg.dlq > 0 || seg.expired > 0) && seg.end > max(st.last.off, st.queued) &&
		(force || now.Sub(seg.opened) >= s.cfg.flushInterval)
}

// takeBatch moves every sealed segment (of only the partitions in `only` if
// set) into a batch, plus the carried ranges that are due. It returns nil
// when there is nothing to do. Called with s.mu held.
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
			b = &batch{carry: map[int32]commitPoint{}}
		}
		for _, seg := range st.sealed {
			b.jobs = append(b.jobs, job{p, seg})
		}
		st.sealed = nil
		if carry {
			o := st.open
			b.carry[p] = commitPoint{off: o.end, carryStart: o.start, dlq: o.dlq, expired: o.expired, gen: st.gen, epoch: o.epoch}
			st.queued = o.end
		}
	}
	return b
}

// handOver queues b for the flusher (encoding its segments meanwhile). It
// never waits for the flusher: it is called while a rebalance waits for it
// (the poll loop before AllowRebalance, a revocation), and a flusher stuck
// on S3 must not keep this member from rejoining the group in time (issue
// 21, point 8). Backpressure is waitRoom's, before the poll loop polls.
// Once Run has stopped the flusher, it flushes b itself.
func (s *Sink) handOver(b *batch) {
	s.encode(b)
	s.handMu.Lock()
	if s.flusherGone {
		s.handMu.Unlock()
		if err := s.flushBatch(context.Background(), b); err != nil {
			s.cfg.log.Error("sink: flush after stop", "err", err)
		}
		return
	}
	s.inflight.Add(1)
	s.queue = append(s.queue, b)
	s.handMu.Unlock()
	notify(s.wake)
}

// notify wakes whoever waits on c (a channel of capacity 1) without blocking.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// waitRoom waits until the flusher's queue holds fewer than pipeline
// batches, for at most d, and reports whether it does: the poll loop's
// backpressure. It is called before polling, when a rebalance is not
// blocked, so a slow S3 slows consumption without holding the group.
func (s *Sink) waitRoom(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		s.handMu.Lock()
		n := len(s.queue)
		s.handMu.Unlock()
		if n < max(1, s.cfg.pipeline) {
			return true
		}
		select {
		case <-s.room:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// stopFlusher ends the queue once nothing can be handed over any more: the
// flusher finishes what is queued, then returns.
func (s *Sink) stopFlusher() {
	s.handMu.Lock()
	s.flusherGone = true
	s.handMu.Unlock()
	notify(s.wake)
}

// next takes the oldest queued batch, waiting for one; false once the
// queue is stopped and empty.
func (s *Sink) next() (*batch, bool) {
	for {
		s.handMu.Lock()
		if len(s.queue) > 0 {
			b := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.handMu.Unlock()
			notify(s.room)
			return b, true
		}
		gone := s.flusherGone
		s.handMu.Unlock()
		if gone {
			return nil, false
		}
		<-s.wake
	}
}

// flusher uploads and commits the batches in the order they were handed
// over, one batch at a time. After an error it only drains the queue.
func (s *Sink) flusher(ctx context.Context) {
	for {
		b, ok := s.next()
		if !ok {
			return
		}
		if s.flushErr.Load() == nil {
			if err := s.flushBatch(ctx, b); err != nil {
				s.flushErr.CompareAndSwap(nil, &err)
			}
		}
		s.inflight.Done()
	}
}

// owns reports whether this member still owns partition p in generation gen.
func (s *Sink) owns(p int32, gen int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.parts[p]
	return st != nil && st.gen == gen
}

// flushBatch writes a batch in waves: wave k uploads the k-th segment of
// every partition (partitions in parallel), then commits each partition's
// new end. A partition therefore never has more than one object that is in
// S3 but not committed, and that object's start is exactly the committed
// offset: the key the next owner writes first (package doc, point 5).
func (s *Sink) flushBatch(ctx context.Context, b *batch) error {
	if s.crashed.Load() {
		return errCrashed
	}
	s.encode(b) // a no-op for a batch that was handed over
	// Dead letters of a range must be durable before the range is committed.
	if err := s.client.Flush(ctx); err != nil {
		return fmt.Errorf("sink: flush dead letters: %w", err)
	}
	if e := s.dlqErr.Load(); e != nil {
		return *e
	}
	queues := map[int32][]*segment{}
	var order []int32
	for _, j := range b.jobs {
		if _, ok := queues[j.p]; !ok {
			order = append(order, j.p)
		}
		queues[j.p] = append(queues[j.p], j.seg)
	}
	if s.cfg.unsafeCommitFirst {
		return s.flushUnsafe(ctx, b, queues)
	}
	lastKey := map[int32]string{}
	dropped := map[int32]bool{} // partitions whose rest of the batch will be read again (or are not ours)
	for round := 0; ; round++ {
		var wave []job
		for _, p := range order {
			if q := queues[p]; round < len(q) {
				wave = append(wave, job{p, q[round]})
			}
		}
		if len(wave) == 0 {
			break
		}
		results := make([]putResult, len(wave))
		var g errgroup.Group
		g.SetLimit(16)
		for i, j := range wave {
			g.Go(func() (err error) {
				results[i], err = s.upload(ctx, j.p, j.seg)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		commits := map[int32]commitPoint{}
		for i, j := range wave {
			if r := results[i]; r.key != "" {
				cp := commitPoint{off: r.end, carryStart: -1, gen: j.seg.gen, lastKey: r.key}
				if !r.adopted && r.end == j.seg.end {
					cp.epoch = j.seg.epoch // an adopted object's end is another writer's: no epoch known
				}
				commits[j.p] = cp
			} else {
				delete(queues, j.p) // not owned any more
				dropped[j.p] = true
			}
		}
		failed := s.commit(ctx, commits)
		for i, j := range wave {
			cp, ok := commits[j.p]
			if !ok {
				continue
			}
			if err := failed[j.p]; err != nil {
				// In S3 but not committed (commit noted it, see
				// uncommittedErr): whoever owns the partition next writes
				// this key first and adopts the object.
				s.drop(j.p, cp.gen)
				delete(queues, j.p)
				dropped[j.p] = true
				continue
			}
			lastKey[j.p] = cp.lastKey
			if err := s.callHook(HookEvent{Point: AfterCommit, Partition: j.p, End: cp.off}); err != nil {
				return err
			}
			if results[i].adopted {
				s.drop(j.p, cp.gen) // re-read from the adopted object's end
				delete(queues, j.p)
				dropped[j.p] = true
			}
		}
	}
	// Carried ranges of dead letters go last, once everything before them
	// of the same partition is committed.
	carries := map[int32]commitPoint{}
	for p, c := range b.carry {
		if dropped[p] {
			continue // the range will be read again
		}
		c.lastKey = lastKey[p]
		if c.lastKey == "" {
			c.lastKey = s.lastKeyOf(p)
		}
		carries[p] = c
	}
	failed := s.commit(ctx, carries)
	for p := range failed {
		s.drop(p, carries[p].gen)
	}
	for p, c := range carries {
		if failed[p] == nil {
			if err := s.callHook(HookEvent{Point: AfterCommit, Partition: p, End: c.off}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Sink) lastKeyOf(p int32) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.parts[p]; st != nil {
		return st.last.lastKey
	}
	return ""
}

// flushUnsafe is UnsafeCommitBeforeUpload: the final offsets first, then
// the uploads. It exists only so tests can show the invariants catch it.
func (s *Sink) flushUnsafe(ctx context.Context, b *batch, queues map[int32][]*segment) error {
	ends := map[int32]commitPoint{}
	for p, q := range queues {
		last := q[len(q)-1]
		ends[p] = commitPoint{off: last.end, carryStart: -1, gen: last.gen, epoch: last.epoch}
	}
	for p, c := range b.carry {
		ends[p] = c
	}
	s.commit(ctx, ends)
	for _, j := range b.jobs {
		if _, err := s.upload(ctx, j.p, j.seg); err != nil {
			return err
		}
	}
	return nil
}

// drop forgets a partition's buffered records and rewinds it to what this
// member last committed, so if it still owns the partition it reads them
// again; if not, the new owner has them.
func (s *Sink) drop(p int32, gen int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.parts[p]
	if st == nil || st.gen != gen {
		return
	}
	from := st.last
	ns := &partState{gen: s.gens.Add(1), pos: from.off, hwm: st.hwm, lso: st.lso, lsoKnown: st.lsoKnown, last: from, rewind: true}
	ns.last.gen = ns.gen
	if from.carries() {
		ns.open = &segment{gen: ns.gen, start: from.carryStart, end: from.off, dlq: from.dlq, expired: from.expired, epoch: from.epoch, opened: time.Now()}
	}
	s.parts[p] = ns
}

var errCrashed = errors.New("sink: crashed by hook")

func (s *Sink) callHook(ev HookEvent) error {
	if s.crashed.Load() {
		return errCrashed
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

// putResult is where a partition stands after one object: its key and end.
// adopted means another writer's object already had the key (a zombie's
// late PUT, or this member's own earlier attempt with another cut), and the
// partition continues from that object's end. An empty key means the
// partition was not owned any more, so nothing was written.
type putResult struct {
	key     string
	end     int64
	adopted bool
}

// errOtherIncarnation marks a lake object written for an earlier topic of
// the same name (deleted and re-created): its offsets are not this topic's.
var errOtherIncarnation = errors.New("object belongs to another incarnation of the topic")

// errForeignObject marks a lake object the sink cannot account for (no or
// bad offset metadata): only a person can decide what to do with it.
var errForeignObject = errors.New("foreign object in the lake")

func (s *Sink) upload(ctx context.Context, p int32, seg *segment) (putResult, error) {
	if !s.owns(p, seg.gen) {
		s.stats.refused.Add(1)
		return putResult{}, nil
	}
	ext := Extension(s.cfg.format, s.cfg.gzip)
	key := ObjectKey(s.cfg.prefix, seg.partPath, s.cfg.topic, p, seg.start, ext)
	if err := s.callHook(HookEvent{Point: BeforeUpload, Partition: p, Key: key, Start: seg.start, End: seg.end}); err != nil {
		return putResult{}, err
	}
	enc := seg.enc
	<-enc.done
	if enc.err != nil {
		return putResult{}, fmt.Errorf("sink: %s: %w", key, enc.err)
	}
	buf := enc.buf
	defer bufPool.Put(buf) // only after the upload: it is the request body
	meta := map[string]string{
		MetaTopic: s.cfg.topic, MetaPartition: strconv.Itoa(int(p)),
		MetaStartOffset: strconv.FormatInt(seg.start, 10), MetaEndOffset: strconv.FormatInt(seg.end, 10),
		MetaRecords: strconv.Itoa(enc.rows), MetaDLQ: strconv.Itoa(seg.dlq), MetaFormat: ext,
		MetaBytes: strconv.Itoa(buf.Len()),
	}
	if seg.expired > 0 {
		meta[MetaExpired] = strconv.Itoa(seg.expired)
	}
	if tid := s.currentTopicID(); tid != "" {
		meta[MetaTopicID] = tid
	}
	err := s.retry(ctx, "upload "+key+" to "+s.store.String(), func(ctx context.Context) error {
		if s.cfg.unsafePlainPut {
			return s.store.Put(ctx, key, buf.Bytes(), meta)
		}
		return s.store.PutIfAbsent(ctx, key, buf.Bytes(), meta)
	})
	res := putResult{key: key, end: seg.end}
	switch {
	case errors.Is(err, objstore.ErrPreconditionFailed):
		if res, err = s.settle(ctx, key, seg); err != nil {
			return putResult{}, err
		}
	case err != nil:
		return putResult{}, err
	default:
		s.stats.objects.Add(1)
		s.stats.written.Add(int64(enc.rows))
		s.stats.bytes.Add(int64(buf.Len()))
		s.cfg.log.Debug("sink: uploaded", "key", key, "records", enc.rows, "end", seg.end)
	}
	return res, s.callHook(HookEvent{Point: AfterUpload, Partition: p, Key: key, Start: seg.start, End: res.end})
}

// settle decides what a 412 on key means: the object there covers the same
// range (an earlier attempt of this upload landed, or another writer cut
// the same way) — done; or it covers [start, other end) — this member lost
// the race to it and continues from its end.
func (s *Sink) settle(ctx context.Context, key string, seg *segment) (putResult, error) {
	h, err := s.head(ctx, key)
	if err != nil {
		return putResult{}, err
	}
	if tid, cur := h.Metadata[MetaTopicID], s.currentTopicID(); tid != "" && cur != "" && tid != cur {
		return putResult{}, fmt.Errorf("sink: %s: %w (topic ID %s, now %s): the topic was deleted and re-created; move the old objects out of %s/ (or use another --prefix) so the new offsets do not collide with them",
			key, errOtherIncarnation, tid, cur, tableRoot(s.cfg.prefix))
	}
	start, err1 := strconv.ParseInt(h.Metadata[MetaStartOffset], 10, 64)
	end, err2 := strconv.ParseInt(h.Metadata[MetaEndOffset], 10, 64)
	if err1 != nil || err2 != nil || start != seg.start || end <= start {
		return putResult{}, fmt.Errorf("sink: %w: %s already exists and was not written by a tickflow sink (metadata %s=%q %s=%q); move it away so the sink can write the range",
			errForeignObject, key, MetaStartOffset, h.Metadata[MetaStartOffset], MetaEndOffset, h.Metadata[MetaEndOffset])
	}
	if err := checkWhole(key, h, start, end); err != nil {
		return putResult{}, err
	}
	if end == seg.end {
		s.cfg.log.Debug("sink: object already there with the same range", "key", key, "end", end)
		return putResult{key: key, end: end}, nil
	}
	s.stats.adopted.Add(1)
	s.cfg.log.Info("sink: another writer's object holds this key; continuing from its end", "key", key,
		"its_end", end, "my_end", seg.end)
	return putResult{key: key, end: end, adopted: true}, nil
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
