package sink

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/objstore"
)

// Sink consumes ticks from Kafka as a consumer group member and writes them
// exactly once into the lake. Create with New, run with Run.
type Sink struct {
	cfg     config
	store   objstore.Store
	client  *kgo.Client
	brokers []string

	mu          sync.Mutex // guards parts and fetchedMeta; held while processing a poll and in rebalance callbacks
	parts       map[int32]*partState
	fetchedMeta map[int32]fetchedCommit // the commit metadata of the group's last OffsetFetch (onFetched)

	// own orders side effects against ownership changes: a commit holds it
	// for reading from its ownership check until the broker answered;
	// revocation and loss take it for writing before they forget a
	// partition. So no commit names a partition after this member let it go.
	own sync.RWMutex

	ready   chan struct{} // closed once client is set: callbacks may run before New returns
	crashed atomic.Bool   // a Hook returned an error: act dead
	dlqErr  atomic.Pointer[error]

	dlqLimitMu sync.Mutex            // guards dlqMax
	dlqMax     int                   // the dead-letter topic's record batch limit, once read (dlqLimit)
	dlqOneMu   sync.Mutex            // one dead letter at a time when the topic's limit is below kgo's batch limit
	fatal      atomic.Pointer[error] // an error that must end Run (set from callbacks)
	stats      counters
	dials      unreachableLog         // warns while Kafka cannot be reached
	topicID    atomic.Pointer[string] // the topic's ID at the last assignment ("" if the cluster has none)

	commitMu    sync.Mutex
	commits     map[int32]int64
	uncommitted map[int32]span // ranges whose commit failed and was not made later (uncommittedErr)

	// Liveness, for UntilIdle and warnings.
	lastRec     atomic.Int64 // unix nanos of the last record received
	assignedAny atomic.Bool  // ever owned a partition
	emptySince  atomic.Int64 // unix nanos of the first sync that gave this member nothing while it owned nothing (0: none since)
	caughtUp    atomic.Bool  // at the last poll every owned partition was read to its end (partState.caughtUp)
	noneSince   time.Time    // since when it owns no partition after having owned some (Run's goroutine only)

	// UNKNOWN_TOPIC_ID from fetches (Run's goroutine only; checkIncarnation).
	unknownID      bool      // the last poll had it for the topic
	unknownIDSince time.Time // since when fetches answer it without progress
	idCheckedAt    time.Time // the last lookup it caused

	// The upload pipeline: the poll loop hands sealed segments to one
	// flusher goroutine in batches, in order, and keeps polling while
	// fewer than cfg.pipeline batches wait (waitRoom). Shutdown and
	// revocation hand theirs over the same way (one flush path); handing
	// over never blocks.
	handMu      sync.Mutex // guards queue and flusherGone
	queue       []*batch   // handed over, not yet taken by the flusher
	flusherGone bool
	wake        chan struct{}  // capacity 1: a batch was queued, or the queue stopped
	room        chan struct{}  // capacity 1: the flusher took a batch
	inflight    sync.WaitGroup // batches handed over and not yet done
	flushErr    atomic.Pointer[error]
	gens        atomic.Int64 // partState generations

	// Sealed segments are encoded as soon as they are handed over, up to
	// GOMAXPROCS at a time, ahead of the flusher's strictly ordered
	// uploads and commits: encoding touches neither S3 nor Kafka.
	encSem   chan struct{}
	encoding sync.WaitGroup
}

type counters struct {
	consumed, written, objects, dlq, bytes, orphans, retries, adopted, refused, expired, unknown, truncated atomic.Int64
	unknownLogged                                                                                           atomic.Bool
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
	Adopted        int64           // objects another writer had already put at this sink's next key, taken over
	Refused        int64           // side effects refused: commits the group rejected, partitions no longer owned
	Expired        int64           // offsets removed by retention before the sink read them
	Truncated      int64           // log truncations seen: a partition's log ended below what the sink had read (ErrTruncated)
	UnknownFields  int64           // keys of decoded record values that are not lake columns: ignored, not stored (a record read again after a rebalance counts again)
	Committed      map[int32]int64 // last committed offset per partition (exclusive end)
	Partitions     int             // partitions this member owns now
	Lag            int64           // records of the owned partitions not yet committed (end offset as last seen − committed)
}

// New creates a Sink that reads from brokers and writes to store. It checks
// within 10s that a broker answers and that the store's bucket exists; it
// does not join the group until Run.
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
	case cfg.callTimeout <= 0:
		return nil, errors.New("sink: the S3 call timeout must be positive")
	}
	s := &Sink{cfg: cfg, store: store, brokers: brokers, parts: map[int32]*partState{}, commits: map[int32]int64{}, uncommitted: map[int32]span{},
		ready: make(chan struct{}), wake: make(chan struct{}, 1), room: make(chan struct{}, 1),
		encSem: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))}
	// Before the Kafka client exists: it joins the group at once, and a
	// member must not take partitions it would then refuse to write.
	if cfg.unsafeNoCond {
		cfg.log.Warn("sink: UNSAFE: conditional writes switched off (--unsafe-no-conditional-writes): objects are written with plain PUTs, so a late PUT of a member that lost its partition can overwrite or duplicate a range in the lake; exactly-once is not guaranteed",
			"store", store.String())
	} else if cfg.proveFence {
		if err := s.proveFence(ctx); err != nil {
			return nil, err
		}
	}
	kopts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(cfg.group),
		kgo.ConsumeTopics(cfg.topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		// Every assigned partition gets an explicit start offset from
		// onAssigned; an out-of-range one means retention removed records
		// this sink never read, which it must count, not skip silently.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers too (process skips them): without them the
		// position stops before a transaction's last marker and never
		// reaches the end offset, so UntilIdle never saw the sink caught up.
		kgo.KeepControlRecords(),
		kgo.OnOffsetsFetched(s.onFetched),
		kgo.AdjustFetchOffsetsFn(s.onAssigned),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsAssigned(s.onSynced),
		kgo.OnPartitionsLost(s.onLost),
		kgo.AllowAutoTopicCreation(), // for the DLQ topic where the cluster allows it
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(2 * time.Minute),
		kgo.DialTimeout(5 * time.Second),
		kgo.WithHooks(&s.dials),
		// Short (DefaultRebalanceTimeout): the coordinator waits this long
		// for a member killed mid join/sync. A revocation waits at most
		// revokeBudget for its uploads, then lets the partitions go (the
		// conditional write fences what is still on its way).
		kgo.RebalanceTimeout(cfg.rebalanceTimeout()),
		// A member learns of a rebalance at its next heartbeat and must
		// rejoin within the rebalance timeout: kgo's 3s default would not
		// leave a short one room (HeartbeatInterval / KafkaOptions override).
		kgo.HeartbeatInterval(cfg.heartbeat()),
	}
	cl, err := kgo.NewClient(append(kopts, cfg.kgoOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("sink: kafka client for %v: %w", brokers, err)
	}
	s.client = cl
	// The group uses the client's rebalance timeout, which a
	// kgo.RebalanceTimeout in KafkaOptions overrides: budget for that one
	// (revokeBudget, commitAttemptTimeout), not for the option's.
	if d, ok := cl.OptValue(kgo.RebalanceTimeout).(time.Duration); ok && d > 0 {
		s.cfg.rebalance = d
	}
	if hb, ok := cl.OptValue(kgo.HeartbeatInterval).(time.Duration); ok && hb+s.cfg.commitAttemptTimeout() >= s.cfg.rebalanceTimeout() {
		cfg.log.Warn("sink: the heartbeat interval plus one commit attempt does not fit the rebalance timeout: a rebalance can evict this member before it rejoins (its partitions then move with a delay of one rebalance timeout); shorten the heartbeat interval or lengthen the rebalance timeout",
			"heartbeat_interval", hb, "commit_attempt", s.cfg.commitAttemptTimeout(), "rebalance_timeout", s.cfg.rebalanceTimeout())
	}
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

// ErrNoConditionalWrites is returned (wrapped) by New when the store does
// not refuse a second PutObject with If-None-Match: * to the same key:
// exactly-once depends on that refusal (package doc, point 4).
var ErrNoConditionalWrites = errors.New("the object store does not honour conditional writes (If-None-Match: *)")

// FenceProbePrefix starts the key (below --prefix, beside the table folder
// stock_ticks/) of the object New writes twice to prove the store's
// conditional writes; it is deleted right after. Outside the table, a probe
// left behind by a sink that died mid-probe is never read by Athena, a
// crawler or the lake checker.
const FenceProbePrefix = "_tickflow/fence-probe-"

// proveFence writes a probe object twice with If-None-Match: * and
// requires the second write to be refused (412; 409 is retried by the
// store until it becomes 412). Some S3-compatible stores and gateways
// ignore the header: then every PUT is last-writer-wins and a late PUT
// loses or duplicates a range. The probe is deleted afterwards.
func (s *Sink) proveFence(ctx context.Context) error {
	var rnd [8]byte
	_, _ = crand.Read(rnd[:])
	key := FenceProbePrefix + hex.EncodeToString(rnd[:])
	if p := strings.Trim(s.cfg.prefix, "/"); p != "" {
		key = p + "/" + key
	}
	body := []byte("tickflow checks that this store refuses a second write with If-None-Match: *; safe to delete\n")
	defer func() {
		if err := s.store.Delete(context.WithoutCancel(ctx), key); err != nil && !errors.Is(err, objstore.ErrNotFound) {
			s.cfg.log.Warn("sink: could not delete the conditional-write probe object; delete it by hand", "key", key, "err", err)
		}
	}()
	put := func(ctx context.Context) error { return s.store.PutIfAbsent(ctx, key, body, nil) }
	// Retried like an upload: a slow store or proxy may time an attempt
	// out and land it later. The key is new, so a 412 on the first write
	// can only be an earlier attempt of it that landed.
	if err := s.retry(ctx, "conditional-write probe "+key, put); ctx.Err() != nil {
		return fmt.Errorf("sink: conditional-write probe of %s interrupted: %w", s.store, ctx.Err())
	} else if err != nil && !errors.Is(err, objstore.ErrPreconditionFailed) {
		return fmt.Errorf("sink: object store %s: a PutObject with If-None-Match: * to %s failed: %w (exactly-once needs conditional writes; check the store and the credentials' s3:PutObject and s3:DeleteObject permissions on %s*)",
			s.store, key, err, strings.TrimSuffix(key, path.Base(key)))
	}
	// The first write is acknowledged: the object exists, so a store that
	// honours the header must refuse this one.
	err := s.retry(ctx, "conditional-write probe "+key, put)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("sink: conditional-write probe of %s interrupted: %w", s.store, ctx.Err())
	case errors.Is(err, objstore.ErrPreconditionFailed):
		return nil
	case err == nil:
		return fmt.Errorf("sink: object store %s: %w: a second PutObject with If-None-Match: * to %s succeeded instead of answering 412 PreconditionFailed, so a late PUT would silently overwrite the next owner's object",
			s.store, ErrNoConditionalWrites, key)
	default:
		return fmt.Errorf("sink: object store %s: %w: a second PutObject with If-None-Match: * to %s answered %v instead of 412 PreconditionFailed",
			s.store, ErrNoConditionalWrites, key, err)
	}
}

// Stats returns a snapshot of the counters; safe from any goroutine.
func (s *Sink) Stats() Stats {
	s.commitMu.Lock()
	c := make(map[int32]int64, len(s.commits))
	for k, v := range s.commits {
		c[k] = v
	}
	s.commitMu.Unlock()
	s.mu.Lock()
	owned, lag := len(s.parts), int64(0)
	for _, st := range s.parts {
		lag += max(0, max(st.hwm, st.pos)-st.last.off)
	}
	s.mu.Unlock()
	return Stats{Partitions: owned, Lag: lag,
		Consumed: s.stats.consumed.Load(), Written: s.stats.written.Load(), Objects: s.stats.objects.Load(),
		Bytes: s.stats.bytes.Load(), DLQ: s.stats.dlq.Load(), OrphansDeleted: s.stats.orphans.Load(),
		Retries: s.stats.retries.Load(), Adopted: s.stats.adopted.Load(), Refused: s.stats.refused.Load(),
		Expired: s.stats.expired.Load(), Truncated: s.stats.truncated.Load(), UnknownFields: s.stats.unknown.Load(), Committed: c,
	}
}

// ErrNeverAssigned is returned (wrapped) by Run with UntilIdle when the
// sink was never given a partition to consume.
var ErrNeverAssigned = errors.New("never assigned a partition")

// Run consumes until ctx is cancelled (or UntilIdle elapses), then flushes
// and commits what it holds and leaves the group. It returns nil after a
// clean shutdown, or the first error that stopped it (an object that could
// not be uploaded after all retries, a failed DLQ produce, offsets it read
// and could not commit (ErrUncommitted, naming the partitions and ranges),
// a permanent Kafka error, a Hook error).
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
		s.stopFlusher()
		<-flusherDone
		s.client.Close()  // may flush revoked partitions
		s.encoding.Wait() // encoders of batches an error cut short
	}()
	s.lastRec.Store(time.Now().UnixNano())
	for {
		if ctx.Err() != nil {
			return s.shutdown(work)
		}
		if s.idle() {
			if !s.assignedAny.Load() {
				if s.emptySince.Load() != 0 {
					return fmt.Errorf("sink: %w of %s in group %s within %s: the group gave this member none (its other members hold every partition; see them with kcat or kadm)",
						ErrNeverAssigned, s.cfg.topic, s.cfg.group, s.emptyWait())
				}
				return fmt.Errorf("sink: %w of %s in group %s within %s (other members may hold every partition; check the group with kcat or kadm)",
					ErrNeverAssigned, s.cfg.topic, s.cfg.group, max(s.cfg.untilIdle, neverAssigned))
			}
			if s.noneSince.IsZero() {
				s.logIdle()
			} else {
				s.cfg.log.Warn("sink: idle: owned no partition for the idle time (the group's other members hold them); stopping",
					"idle", s.cfg.untilIdle, "group", s.cfg.group)
			}
			return s.shutdown(work)
		}
		if !s.waitRoom(ctx, s.pollWait()) {
			continue // the flusher is behind: poll later (rebalances are not blocked meanwhile)
		}
		pctx, cancel := context.WithTimeout(ctx, s.pollWait())
		fs := s.client.PollRecords(pctx, s.cfg.pollRecords)
		cancel()
		if fs.IsClientClosed() {
			return errors.New("sink: kafka client closed")
		}
		s.unknownID = false
		expired, ferr := s.fetchErrors(fs)
		if ferr == nil {
			ferr = s.checkIncarnation(work, fs)
		}
		if ferr != nil {
			// Fatal first, so a revocation the poll held back does not
			// flush; then let it run: leaving the group on the way out
			// waits for it.
			s.setFatal(ferr)
			s.client.AllowRebalance()
			return ferr
		}
		s.dials.check(s)
		s.mu.Lock()
		err := s.process(work, fs)
		var b *batch
		if err == nil {
			b = s.takeBatch(nil, false)
		}
		s.mu.Unlock()
		if b != nil {
			s.handOver(b) // before allowing a rebalance, so a revocation waits for it
		}
		if len(expired) > 0 {
			if terr := s.skipExpired(work, expired); terr != nil {
				s.setFatal(terr) // a revocation must not flush
				if err == nil {
					err = terr
				}
			}
		}
		s.client.AllowRebalance()
		if err == nil {
			err = s.runErr()
		}
		if err != nil {
			return err
		}
	}
}

// idle reports whether UntilIdle says stop: the sink owns partitions, is
// caught up with their end offsets, and nothing new arrived for UntilIdle;
// or it never got a partition in that time.
func (s *Sink) idle() bool {
	d := s.cfg.untilIdle
	quiet := time.Since(time.Unix(0, s.lastRec.Load()))
	if d <= 0 || quiet < d {
		return false
	}
	if !s.assignedAny.Load() {
		if at := s.emptySince.Load(); at != 0 {
			// It joined and the group gave it nothing: the other members
			// hold every partition.
			return time.Since(time.Unix(0, at)) >= s.emptyWait()
		}
		// Joining can take a while (a dead member's session must expire
		// first): give up on ever being assigned only after neverAssigned.
		return quiet >= max(d, neverAssigned)
	}
	s.mu.Lock()
	n := len(s.parts)
	s.mu.Unlock()
	if n == 0 {
		// It owned partitions and owns none now: the group's other
		// members hold them. Waiting for records it will never get would
		// never end.
		if s.noneSince.IsZero() {
			s.noneSince = time.Now()
		}
		return time.Since(s.noneSince) >= d
	}
	s.noneSince = time.Time{}
	return s.caughtUp.Load()
}

// logIdle says that UntilIdle stops with every owned partition caught up,
// and what it leaves unread: records of a transaction still open (past the
// partition's last stable offset: read_committed gets them once the
// producer commits), a warning; offsets after the last object that hold
// only transaction markers or aborted records, for the record.
func (s *Sink) logIdle() {
	var open, markers []string
	s.mu.Lock()
	ps := make([]int32, 0, len(s.parts))
	for p := range s.parts {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	for _, p := range ps {
		switch st := s.parts[p]; {
		case st.lsoKnown && st.lso < st.hwm:
			open = append(open, fmt.Sprintf("%d:%d-%d", p, st.lso, st.hwm))
		case st.pos < st.hwm:
			markers = append(markers, fmt.Sprintf("%d:%d-%d", p, st.pos, st.hwm))
		}
	}
	s.mu.Unlock()
	if len(open) > 0 {
		s.cfg.log.Warn("sink: idle: caught up to the last stable offset; records of an open transaction are not readable yet and stay unread (a later run reads them once the producer ends the transaction)",
			"idle", s.cfg.untilIdle, "topic", s.cfg.topic, "open_transaction", strings.Join(open, ","))
	}
	attrs := []any{"idle", s.cfg.untilIdle}
	if len(markers) > 0 {
		attrs = append(attrs, "markers_after_last_object", strings.Join(markers, ","))
	}
	s.cfg.log.Info("sink: idle: caught up and no record for the idle time; stopping", attrs...)
}

// onSynced notes a sync that gave this member nothing while it owns
// nothing, and forgets it once a partition comes (kgo calls it after every
// sync, with the partitions newly assigned, possibly none).
func (s *Sink) onSynced(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	if len(assigned[s.cfg.topic]) > 0 {
		s.emptySince.Store(0)
		return
	}
	s.mu.Lock()
	n := len(s.parts)
	s.mu.Unlock()
	if n == 0 {
		s.emptySince.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// emptyWait is how long UntilIdle waits after a sync that gave this member
// nothing: the idle time, and at least the rebalance timeout, because with
// the cooperative protocol a partition moves in a second rebalance, after
// its owner's revocation (bounded by revokeBudget).
func (s *Sink) emptyWait() time.Duration {
	return max(s.cfg.untilIdle, s.cfg.rebalanceTimeout())
}

// neverAssigned is how long UntilIdle waits for a first assignment.
var neverAssigned = 30 * time.Second // a variable for tests

// runErr is the first error that must end Run.
func (s *Sink) runErr() error {
	if e := s.flushErr.Load(); e != nil {
		return *e
	}
	if e := s.fatal.Load(); e != nil {
		return *e
	}
	return nil
}

func (s *Sink) setFatal(err error) { s.fatal.CompareAndSwap(nil, &err) }

// ErrTruncated is returned (wrapped) by Run when a partition's log ends
// below an offset the sink had already read: the log was truncated (an
// unclean leader election, a broker restored from an older disk, a
// committed offset reset past the end). The records the sink read there
// are in the lake but no longer in Kafka, and records produced since get
// the same offsets again; resuming would skip them as already in the lake.
// Only a person can decide what the lake should hold, so the sink stops
// (Stats.Truncated counts it).
var ErrTruncated = errors.New("the partition's log was truncated below offsets the sink had read")

// truncated counts and logs a truncation of partition p: the sink had read
// up to read (exclusive) and the log now ends at end. It returns the error
// that ends Run.
func (s *Sink) truncated(p int32, read, end int64, how string) error {
	s.stats.truncated.Add(1)
	err := fmt.Errorf("sink: %s[%d]: %w: %s, below offset %d that the sink had read. Offsets %d–%d as the sink read them are in the lake and no longer in Kafka, and records produced since get those offsets again: the sink stops instead of skipping them as already in the lake (nothing past offset %d was written by this run). If a replica still holds the lost records, bring it back; otherwise move the partition's objects that reach past offset %d out of %s, reset group %s's offset of partition %d to the first moved object's start offset, and start the sink again",
		s.cfg.topic, p, ErrTruncated, how, read, end, read-1, end, end, tableRoot(s.cfg.prefix), s.cfg.group, p)
	s.cfg.log.Error("sink: log truncated", "topic", s.cfg.topic, "partition", p, "read_to", read, "log_end", end, "err", err)
	return err
}

// fetchErrors sorts a poll's errors: partitions whose offset fell below the
// log start (retention removed records before the sink read them) are
// returned to be skipped and counted; a truncation (kgo.ErrDataLoss: the
// leader's log for the epoch the sink read ends below its position) and a
// permanent error (authorization, an unknown topic that stays unknown) end
// Run; transient ones are logged.
func (s *Sink) fetchErrors(fs kgo.Fetches) (expired map[int32]bool, err error) {
	fs.EachError(func(t string, p int32, e error) {
		var loss *kgo.ErrDataLoss
		switch {
		case errors.Is(e, context.DeadlineExceeded) || errors.Is(e, context.Canceled):
		case errors.As(e, &loss) && t == s.cfg.topic:
			// kgo found the truncation (OffsetForLeaderEpoch, at the resume
			// with the committed epoch or at a leader change) and moved its
			// cursor to the truncation point: whatever it fetches from
			// there is at offsets the lake already covers.
			terr := s.truncated(p, loss.ConsumedTo, loss.ResetTo,
				fmt.Sprintf("the leader's log for leader epoch %d ends at offset %d (kgo: %v)", loss.ConsumedToEpoch, loss.ResetTo, loss))
			if err == nil {
				err = terr
			}
		case errors.Is(e, kerr.UnknownTopicID) && t == s.cfg.topic:
			s.unknownID = true // checkIncarnation decides: re-created, gone, or a moment's lag
		case errors.Is(e, kerr.OffsetOutOfRange) && t == s.cfg.topic:
			if expired == nil {
				expired = map[int32]bool{}
			}
			expired[p] = true
		case isPermanent(e):
			if err == nil {
				err = fmt.Errorf("sink: fetch %s[%d]: %w (not retriable: check the topic, ACLs and credentials)", t, p, e)
			}
		default:
			s.cfg.log.Warn("sink: fetch error (retrying)", "topic", t, "partition", p, "err", e)
		}
	})
	return expired, err
}

// checkIncarnation follows fetches of the topic that answer
// UNKNOWN_TOPIC_ID: the topic was deleted (and maybe re-created: kgo never
// adopts a new topic ID in a running client), or a broker has not caught
// up with a topic just created. It asks the brokers for the topic's ID (at
// most once a second): an ID other than the sink's is an
// ErrTopicRecreated at once; an UNKNOWN_TOPIC_ID that persists for
// topicIDBudget without a record of the topic arriving is an ErrTopicID.
// Until then it warns. Never a retriable warning for ever.
func (s *Sink) checkIncarnation(ctx context.Context, fs kgo.Fetches) error {
	progress := false
	fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
		if ftp.Topic == s.cfg.topic && len(ftp.Records) > 0 {
			progress = true
		}
	})
	if progress || !s.unknownID {
		if progress {
			s.unknownIDSince = time.Time{}
		}
		return nil
	}
	now := time.Now()
	if s.unknownIDSince.IsZero() {
		s.unknownIDSince = now
	}
	if now.Sub(s.idCheckedAt) < time.Second {
		return nil
	}
	s.idCheckedAt = now
	old := s.currentTopicID()
	lctx, cancel := context.WithTimeout(ctx, min(s.cfg.callTimeout, 10*time.Second))
	id, err := s.fetchTopicID(lctx)
	cancel()
	if err == nil && id != "" && old != "" && id != old {
		return s.recreatedErr(old, id)
	}
	since := now.Sub(s.unknownIDSince)
	if since < s.cfg.topicIDBudget {
		s.cfg.log.Warn("sink: fetches answer UNKNOWN_TOPIC_ID (the topic was deleted or re-created, or a broker lags behind a new topic); checking",
			"topic", s.cfg.topic, "topic_id", old, "brokers_say", id, "lookup_err", err, "for", since.Round(time.Second))
		return nil
	}
	now2 := id
	if err != nil {
		now2 = err.Error()
	}
	return fmt.Errorf("sink: topic %s: %w: fetches have answered UNKNOWN_TOPIC_ID for %s (the sink reads topic ID %s; the brokers' metadata now says: %s). If the topic was deleted, the sink has nothing to read: stop it; if it was re-created, move the old incarnation's objects out of %s (or use another --prefix) and start the sink again",
		s.cfg.topic, ErrTopicID, since.Round(time.Second), old, now2, tableRoot(s.cfg.prefix))
}

// isPermanent reports whether a Kafka error will not go away by retrying.
func isPermanent(err error) bool {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return false
	}
	switch ke {
	case kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed,
		kerr.SaslAuthenticationFailed, kerr.InvalidGroupID, kerr.UnsupportedVersion:
		return true
	}
	return false
}

// unreachableLog warns every few seconds while no broker can be dialled,
// so a sink whose Kafka went away is never silent. It is a kgo hook: dial
// failures do not surface as fetch errors (kgo keeps retrying).
type unreachableLog struct {
	mu          sync.Mutex
	failingFrom time.Time // first failed dial since the last successful one
	lastErr     error
	warned      time.Time
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (u *unreachableLog) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err == nil {
		u.failingFrom, u.lastErr = time.Time{}, nil
		return
	}
	if u.failingFrom.IsZero() {
		u.failingFrom = time.Now()
	}
	u.lastErr = err
}

// failing returns how long dials have been failing and the last error
// (nil while Kafka is reachable).
func (u *unreachableLog) failing() (time.Duration, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.failingFrom.IsZero() {
		return 0, nil
	}
	return time.Since(u.failingFrom), u.lastErr
}

// check logs a warning every 5s while dials keep failing, and one line
// when they succeed again.
func (u *unreachableLog) check(s *Sink) {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := time.Now()
	switch {
	case u.failingFrom.IsZero() && !u.warned.IsZero():
		s.cfg.log.Info("sink: Kafka reachable again")
		u.warned = time.Time{}
	case !u.failingFrom.IsZero() && now.Sub(u.failingFrom) >= time.Second && now.Sub(u.warned) >= 5*time.Second:
		u.warned = now
		s.cfg.log.Warn("sink: Kafka brokers unreachable", "brokers", strings.Join(s.brokers, ","),
			"for", now.Sub(u.failingFrom).Round(time.Second), "err", u.lastErr)
	}
}

func (s *Sink) pollWait() time.Duration {
	d := s.cfg.flushInterval / 4
	if s.cfg.untilIdle > 0 {
		d = min(d, s.cfg.untilIdle/4)
	}
	return max(d, 10*time.Millisecond)
}

// shutdown seals every partition it owns, hands the last batch to the
// flusher like any other, waits for everything to land and be committed,
// then forgets the partitions so the client's leave has nothing to do.
func (s *Sink) shutdown(ctx context.Context) error {
	s.mu.Lock()
	for _, st := range s.parts {
		s.seal(st, st.pos)
	}
	b := s.takeBatch(nil, true)
	s.mu.Unlock()
	if b != nil {
		s.handOver(b)
	}
	s.inflight.Wait()
	if err := s.runErr(); err != nil {
		return err
	}
	if since, err := s.dials.failing(); err != nil {
		// The group may have taken the partitions (onLost dropped what was
		// buffered): nothing could be committed, so this is no clean stop.
		return fmt.Errorf("sink: stopped while Kafka was unreachable for %s (%v): records read since the last commit are not committed and will be read again by the next owner",
			since.Round(time.Second), err)
	}
	s.own.Lock()
	s.mu.Lock()
	s.parts = map[int32]*partState{}
	s.mu.Unlock()
	s.own.Unlock()
	// A batch whose commit failed (now or earlier, and not made later)
	// means this run did not finish its job: never a clean stop.
	return s.uncommittedErr()
}

// GroupLag is the consumer group's lag on the topic, as Kafka sees it:
// what every member together still has to commit, not only this one.
type GroupLag struct {
	Lag        int64   // Σ over the topic's partitions of end offset − committed offset (the log start where nothing is committed)
	Partitions int     // partitions of the topic
	NotOwned   []int32 // partitions of the topic this member does not own now, in order
}

// GroupLag asks Kafka for the group's committed offsets and the topic's
// end offsets. A progress line built from it never says lag 0 while
// records wait in partitions another member (or nobody) holds.
func (s *Sink) GroupLag(ctx context.Context) (GroupLag, error) {
	adm := kadm.NewClient(s.client)
	ends, err := adm.ListEndOffsets(ctx, s.cfg.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return GroupLag{}, fmt.Errorf("sink: end offsets of %s: %w", s.cfg.topic, err)
	}
	starts, err := s.listStartOffsets(ctx)
	if err != nil {
		return GroupLag{}, err
	}
	committed, err := adm.FetchOffsetsForTopics(ctx, s.cfg.group, s.cfg.topic)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return GroupLag{}, fmt.Errorf("sink: committed offsets of group %s: %w", s.cfg.group, err)
	}
	s.mu.Lock()
	owned := make(map[int32]bool, len(s.parts))
	for p := range s.parts {
		owned[p] = true
	}
	s.mu.Unlock()
	var gl GroupLag
	ends.Each(func(e kadm.ListedOffset) {
		if e.Topic != s.cfg.topic {
			return
		}
		gl.Partitions++
		from := starts[e.Partition]
		if c, ok := committed.Lookup(s.cfg.topic, e.Partition); ok && c.At >= 0 {
			from = max(from, c.At)
		}
		gl.Lag += max(0, e.Offset-from)
		if !owned[e.Partition] {
			gl.NotOwned = append(gl.NotOwned, e.Partition)
		}
	})
	slices.Sort(gl.NotOwned)
	return gl, nil
}
