package scenarios

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/produce"
	"github.com/tickflow/tickflow/harness/sink"
	"github.com/tickflow/tickflow/harness/tick"
)

// ErrPrecondition marks a scenario that could not reach the state it needs
// (the world did not start, the fault never fired, the load could not be
// produced): it is reported as an error, never as a pass.
var ErrPrecondition = errors.New("scenario precondition not reached")

func precondition(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPrecondition, fmt.Sprintf(format, args...))
}

// fastKafka makes clients notice leader moves, new partitions and group
// changes in tenths of a second instead of kgo's production defaults.
func fastKafka() []kgo.Opt {
	return []kgo.Opt{
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.MetadataMaxAge(500 * time.Millisecond),
		kgo.RetryBackoffFn(func(n int) time.Duration { return time.Duration(min(n+1, 10)) * 20 * time.Millisecond }),
	}
}

func groupKafka() []kgo.Opt {
	return append(fastKafka(),
		kgo.HeartbeatInterval(100*time.Millisecond),
		kgo.SessionTimeout(3*time.Second),
		kgo.RebalanceTimeout(5*time.Second),
	)
}

// base is the record timestamp of sequence number 0; records are 20 s
// apart so the lake gets a new hour folder every 180 records.
var base = time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)

const recordSpacing = 20 * time.Second

// env is one scenario iteration: a world, the bookkeeping of what was
// produced and injected, and helpers to run producers and sinks in it.
type env struct {
	cfg        Config
	name       string
	iteration  int
	iterations int // of this scenario, for Config.Watch
	rng        *rand.Rand
	w          *broker.World
	coord      *broker.Coordinator
	topic      string
	group      string
	partitions int
	store      objstore.Store // the sink's view of S3 (no SDK retries)
	check      objstore.Store // the checker's view (SDK retries)
	kcl        *kgo.Client
	adm        *kadm.Client
	log        *slog.Logger

	seq atomic.Int64 // next tick sequence number; also "records sent"

	mu       sync.Mutex
	expected map[int64]expectedTick // by sequence number, acknowledged only
	poison   map[partOff]bool       // injected poison records
	notes    []string
	restarts int

	closers []func() // run by close, before the world stops

	// A user's consumer (Config.Consumer) and what sees its writes.
	rec          *recorder // S3 writes and OffsetCommits, when recording
	direct       *s3Proxy  // the recording pass-through proxy consumers write through
	topicID      [16]byte
	emptyFile    string // AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE of consumers
	instances    int    // consumer processes at once in supervised scenarios
	nextInstance int
	procs        []*sinkProc // every consumer process started
	drainNote    string      // how the consumer drain ended
	own          *ownership  // who owned which partition when
	fatal        error       // set by giveUp: the consumer cannot run at all

	// producerCounts is a producer scenario's own judgement (set by its
	// run); the lake is not checked.
	producerCounts *counts
}

// giveUp records why the user's consumer cannot run; the drain ends with it.
func (e *env) giveUp(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fatal == nil {
		e.fatal = err
	}
}

// user reports whether the scenario runs the user's consumer.
func (e *env) user() bool { return e.cfg.Consumer != nil }

// s3Direct is the S3 endpoint a consumer writes to when no fault proxy
// stands in between: the world's, or the recording proxy in front of it.
func (e *env) s3Direct() string {
	if e.direct != nil {
		return e.direct.url()
	}
	return e.w.S3Endpoint()
}

// recording starts the recorder (once): every S3 write through the
// scenario's proxies and every OffsetCommit of the group is seen with its
// time. Consumers then write through the recording proxy (s3Direct).
func (e *env) recording(ctx context.Context) error {
	if e.rec != nil {
		return nil
	}
	e.rec = newRecorder(e.w.Bucket(), func(ctx context.Context, key string) ([]byte, error) {
		b, _, err := e.check.Get(ctx, key)
		return b, err
	})
	tds, err := e.adm.ListTopics(ctx, e.topic)
	if err == nil {
		if td, ok := tds[e.topic]; ok {
			e.topicID = td.ID
		}
	}
	stop := e.coord.WatchKafka(kmsg.OffsetCommit, func(req kmsg.Request) {
		e.rec.watchCommits(req, e.group, e.topic, e.topicID)
	})
	e.closers = append(e.closers, stop)
	px, err := e.startS3Proxy()
	if err != nil {
		return err
	}
	e.direct = px
	return nil
}

type expectedTick struct {
	symbol, date string
}

type partOff struct {
	p int32
	o int64
}

type envOptions struct {
	brokers, partitions int
	topic               string // default tick.DefaultTopic
	// instances is how many consumer processes a supervised scenario runs
	// at once for a user's Consumer (default 2: two members matter).
	instances int
}

func newEnv(ctx context.Context, cfg Config, name string, iteration int, o envOptions) (*env, error) {
	if o.brokers == 0 {
		o.brokers = 3
	}
	if o.partitions == 0 {
		o.partitions = 6
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &env{
		cfg: cfg, name: name, iteration: iteration,
		rng:   rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(iteration)+1)),
		topic: cmp.Or(o.topic, tick.DefaultTopic), group: "scenario-" + name, partitions: o.partitions,
		expected: map[int64]expectedTick{}, poison: map[partOff]bool{}, log: log.With("scenario", name, "iteration", iteration),
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// Kafka's group.min.session.timeout.ms is 6s; scenarios want members
	// that die to be noticed within a couple of seconds.
	bopts := []broker.Option{broker.Brokers(o.brokers), broker.Topic(e.topic, o.partitions), broker.Logger(cfg.Logger),
		broker.GroupMinSessionTimeout(500 * time.Millisecond)}
	if cfg.Consumer != nil {
		// Every consumer instance signs with credentials of its own, so the
		// recorder can tell who wrote what; the fake S3 takes any.
		bopts = append(bopts, broker.S3Auth(false))
		e.instances = cfg.Consumer.instances(cmp.Or(o.instances, 2))
	}
	w, err := broker.Start(sctx, bopts...)
	if err != nil {
		return nil, precondition("start the world: %v", err)
	}
	e.w, e.coord = w, w.Coordinator()
	fail := func(err error) (*env, error) {
		e.close()
		return nil, err
	}
	if err := e.coord.CreateTopic(sctx, e.topic+".dlq", 1); err != nil {
		return fail(precondition("create the dead-letter topic: %v", err))
	}
	s3cfg := objstore.S3Config{Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Region: w.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey, MaxAttempts: 1}
	if e.store, err = objstore.NewS3(sctx, s3cfg); err != nil {
		return fail(precondition("S3 client: %v", err))
	}
	s3cfg.MaxAttempts = 5
	if e.check, err = objstore.NewS3(sctx, s3cfg); err != nil {
		return fail(precondition("S3 client: %v", err))
	}
	if e.kcl, err = kgo.NewClient(append(fastKafka(), kgo.SeedBrokers(w.KafkaAddrs()...), kgo.DialTimeout(5*time.Second))...); err != nil {
		return fail(precondition("kafka client: %v", err))
	}
	e.adm = kadm.NewClient(e.kcl)
	if cfg.Consumer != nil {
		if err := e.recording(sctx); err != nil {
			return fail(err)
		}
		f, err := os.CreateTemp("", "tickflow-empty-aws-config-*")
		if err != nil {
			return fail(precondition("empty AWS config file: %v", err))
		}
		_ = f.Close()
		e.emptyFile = f.Name()
		e.closers = append(e.closers, func() { _ = os.Remove(f.Name()) })
		octx, stop := context.WithCancel(context.Background())
		e.own = e.watchOwnership(octx)
		e.closers = append(e.closers, stop) // closers run last-first: stop, then wait
	}
	return e, nil
}

func (e *env) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	if e.kcl != nil {
		e.kcl.Close()
	}
	if e.w != nil {
		_ = e.w.Close()
	}
}

func (e *env) notef(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.notes = append(e.notes, fmt.Sprintf(format, args...))
}

// intn returns a seeded random int in [lo, hi].
func (e *env) intn(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + e.rng.IntN(hi-lo+1)
}

// seqSource numbers the producer's synthetic ticks: the volume column
// becomes a sequence number unique in the whole run, which lets the checker
// find every record in the lake and see its order per key.
type seqSource struct {
	e   *env
	src *produce.SyntheticSource
}

func (s *seqSource) Next() (tick.Tick, error) {
	t, err := s.src.Next()
	if err != nil {
		return t, err
	}
	t.Volume = s.e.seq.Add(1) - 1
	s.e.mu.Lock()
	s.e.expected[t.Volume] = expectedTick{t.Symbol, t.TradeDate}
	s.e.mu.Unlock()
	return t, nil
}

type loadOptions struct {
	rate float64 // records/s; 0 unpaced
	// notIdempotent turns the producer's idempotence off (acks stay all):
	// retries of appended batches then duplicate them.
	notIdempotent bool
}

// produce sends n seeded synthetic ticks and records them as expected in
// the lake. An error (records not acknowledged) is a precondition failure:
// the scenario's load did not happen.
func (e *env) produce(ctx context.Context, n int, o loadOptions) error {
	opts := []produce.Option{
		produce.KafkaOptions(fastKafka()...),
		produce.Topic(e.topic),
		produce.RecordTimestamps(func(_ int64, t tick.Tick) time.Time {
			return base.Add(time.Duration(t.Volume) * recordSpacing)
		}),
	}
	if o.rate > 0 {
		opts = append(opts, produce.Rate(o.rate))
	}
	if o.notIdempotent {
		opts = append(opts, produce.Idempotent(false))
	}
	if e.cfg.Compression != "" {
		opts = append(opts, produce.Compression(e.cfg.Compression))
	}
	p, err := produce.New(ctx, e.w.KafkaAddrs(), opts...)
	if err != nil {
		return precondition("producer: %v", err)
	}
	defer p.Close()
	src := &seqSource{e: e, src: produce.Synthetic(n, uint64(e.cfg.Seed)+uint64(e.seq.Load()))}
	res, err := p.Produce(ctx, src)
	if err != nil {
		return precondition("produce %d records (%d acknowledged): %v", n, res.Produced, err)
	}
	if res.Produced != int64(n) {
		return precondition("produce: %d of %d records acknowledged", res.Produced, n)
	}
	return nil
}

// loadRun is a produce running in the background.
type loadRun struct {
	done chan struct{}
	err  error
}

// produceAsync runs produce in the background.
func (e *env) produceAsync(ctx context.Context, n int, o loadOptions) *loadRun {
	l := &loadRun{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.err = e.produce(ctx, n, o)
	}()
	return l
}

// wait blocks until the load is produced and returns its error.
func (l *loadRun) wait() error {
	<-l.done
	return l.err
}

// finished reports whether the load has ended.
func (l *loadRun) finished() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// waitSent blocks until at least n records have been handed to the producer.
func (e *env) waitSent(ctx context.Context, n int64) error {
	return poll(ctx, func() bool { return e.seq.Load() >= n })
}

// poll checks cond every 10ms until it holds or ctx ends.
func poll(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sinkOptions are the options of every in-process sink in a scenario:
// small objects (many uploads, many crash points), short flush interval,
// fast retries, plus Config.SinkOptions.
func (e *env) sinkOptions(extra ...sink.Option) []sink.Option {
	opts := []sink.Option{
		sink.Topic(e.topic), sink.Group(e.group),
		sink.FlushRecords(150), sink.FlushInterval(200 * time.Millisecond),
		sink.Retry(6, 20*time.Millisecond, 400*time.Millisecond),
		sink.CallTimeout(2 * time.Second),
		sink.KafkaOptions(groupKafka()...),
		sink.Logger(e.log),
	}
	opts = append(opts, e.cfg.SinkOptions...)
	return append(opts, extra...)
}

// sinkRun is one sink started in the background.
type sinkRun struct {
	s      *sink.Sink
	proc   *sinkProc // a user's consumer process (nil: an in-process sink)
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// startSink creates and runs a sink over store (nil: the env's store).
func (e *env) startSink(ctx context.Context, store objstore.Store, extra ...sink.Option) (*sinkRun, error) {
	if e.user() {
		return e.consumerRun(ctx)
	}
	if store == nil {
		store = e.store
	}
	s, err := sink.New(ctx, e.w.KafkaAddrs(), store, e.sinkOptions(extra...)...)
	if err != nil {
		return nil, precondition("start a sink: %v", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &sinkRun{s: s, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = s.Run(rctx)
	}()
	return r, nil
}

// stop cancels the sink (a clean shutdown: flush, commit, leave) and
// returns Run's error.
func (r *sinkRun) stop() error {
	r.cancel()
	t := time.NewTimer(90 * time.Second)
	defer t.Stop()
	select {
	case <-r.done:
		return r.err
	case <-t.C:
		return errors.New("sink did not stop within 90s of cancellation")
	}
}

// exited reports whether Run returned.
func (r *sinkRun) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// supervisor keeps one sink running, restarting it whenever Run returns an
// error (as systemd or Kubernetes would), until stop.
type supervisor struct {
	e      *env
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	err error
}

func (e *env) supervise(ctx context.Context, store objstore.Store, extra ...sink.Option) *supervisor {
	sctx, cancel := context.WithCancel(ctx)
	sv := &supervisor{e: e, cancel: cancel, done: make(chan struct{})}
	slots := 1
	if e.user() {
		slots = e.instances
	}
	var wg sync.WaitGroup
	for range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sv.slot(sctx, store, extra...)
		}()
	}
	go func() {
		wg.Wait()
		close(sv.done)
	}()
	return sv
}

// slot keeps one sink (or consumer process) running until sctx ends.
func (sv *supervisor) slot(sctx context.Context, store objstore.Store, extra ...sink.Option) {
	e := sv.e
	backoff := 50 * time.Millisecond
	quick := 0
	for sctx.Err() == nil {
		r, err := e.startSink(sctx, store, extra...)
		if err != nil {
			if sctx.Err() != nil {
				return // stopped while a sink was starting: nothing to report
			}
			sv.mu.Lock()
			sv.err = err
			sv.mu.Unlock()
			_ = sleep(sctx, 200*time.Millisecond)
			continue
		}
		started := time.Now()
		<-r.done
		if sctx.Err() != nil {
			sv.mu.Lock()
			sv.err = r.err
			sv.mu.Unlock()
			return
		}
		if r.err != nil {
			e.mu.Lock()
			e.restarts++
			e.mu.Unlock()
			e.log.Info("scenario: sink died, restarting", "err", r.err)
		}
		if e.user() && r.err != nil && time.Since(started) < 2*time.Second && e.rec.lastWrite().IsZero() {
			// A program that fails at once, again and again, before it ever
			// wrote: a wrong command, a missing module. Say so now rather
			// than after the drain timeout.
			quick++
			if quick == 3 {
				e.giveUp(precondition("the consumer exits at once (3 times in a row, never wrote to S3): %v", r.err))
				return
			}
		} else {
			quick = 0
		}
		// A clean exit while we still want a sink: start another. A
		// program that dies at once is restarted ever more slowly (up to
		// 2s), as systemd would, instead of in a tight loop.
		if time.Since(started) < time.Second {
			backoff = min(2*backoff, 2*time.Second)
		} else {
			backoff = 50 * time.Millisecond
		}
		_ = sleep(sctx, backoff)
	}
}

// stop cancels the supervised sink (clean shutdown) and returns the last
// sink's error.
func (sv *supervisor) stop() error {
	sv.cancel()
	t := time.NewTimer(90 * time.Second)
	defer t.Stop()
	select {
	case <-sv.done:
	case <-t.C:
		return errors.New("supervised sink did not stop within 90s")
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.err
}

// drain waits until the group has committed every partition's end offset
// (every record produced so far is in the lake or dead-lettered), bounded
// by timeout.
func (e *env) drain(ctx context.Context, timeout time.Duration) error {
	e.emit(PhaseDraining, nil)
	if e.user() {
		return e.drainConsumer(ctx)
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		behind, err := e.behind(dctx)
		switch {
		case err == nil && behind == "":
			return nil
		case err == nil:
			last = behind
		case dctx.Err() == nil:
			// Keep the last state seen, not the error the deadline
			// itself caused.
			last = err.Error()
		}
		select {
		case <-dctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("drain did not finish within %s: %s", timeout, last)
		case <-t.C:
		}
	}
}

// behind describes the first partition whose committed offset is short of
// its end, or "" when the group is caught up.
func (e *env) behind(ctx context.Context) (string, error) {
	ends, err := e.adm.ListEndOffsets(ctx, e.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return "", err
	}
	comm, err := e.adm.FetchOffsets(ctx, e.group)
	if err != nil {
		return "", err
	}
	var msg string
	ends.Each(func(o kadm.ListedOffset) {
		if msg != "" || o.Offset == 0 {
			return
		}
		c, ok := comm.Lookup(e.topic, o.Partition)
		if !ok || c.At < o.Offset {
			at := int64(-1)
			if ok {
				at = c.At
			}
			msg = fmt.Sprintf("partition %d committed %d of %d", o.Partition, at, o.Offset)
		}
	})
	return msg, nil
}

// lag is the group's total lag (end − committed over all partitions).
func (e *env) lag(ctx context.Context) (int64, error) {
	ends, err := e.adm.ListEndOffsets(ctx, e.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, err
	}
	comm, err := e.adm.FetchOffsets(ctx, e.group)
	if err != nil {
		return 0, err
	}
	var lag int64
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := comm.Lookup(e.topic, o.Partition)
		at := int64(0)
		if ok && c.At > 0 {
			at = c.At
		}
		lag += o.Offset - at
	})
	return lag, nil
}

// poisonValues are records the sink cannot turn into a row: not JSON, no
// symbol, a trade_date that is not a date.
var poisonValues = [][]byte{
	[]byte("not json at all"),
	[]byte(`{"trade_date":"2024-03-04","close":1.5}`),
	[]byte(`{"symbol":"HSI","trade_date":"04/03/2024","close":1.5}`),
	[]byte(`{"symbol":"N225","trade_date":`),
}

// injectPoison produces n poison records keyed like real ticks (so they land
// between good records of the same partitions) and remembers where they went.
func (e *env) injectPoison(ctx context.Context, n int) error {
	ixs := produce.Indexes()
	for i := 0; i < n; i++ {
		// Poison records sit on the synthetic timeline like the ticks
		// around them (years in the past): the sink must dead-letter records
		// older than its producer's delivery timeout.
		r := &kgo.Record{Topic: e.topic, Key: []byte(ixs[e.rng.IntN(len(ixs))].Symbol),
			Value:     poisonValues[e.rng.IntN(len(poisonValues))],
			Timestamp: base.Add(time.Duration(e.seq.Load()) * recordSpacing)}
		pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		res := e.kcl.ProduceSync(pctx, r)
		cancel()
		if err := res.FirstErr(); err != nil {
			return precondition("inject poison record %d: %v", i, err)
		}
		e.mu.Lock()
		e.poison[partOff{r.Partition, r.Offset}] = true
		e.mu.Unlock()
	}
	return nil
}
