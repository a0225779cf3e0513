package demo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/produce"
	"github.com/tickflow/tickflow/harness/sink"
	"github.com/tickflow/tickflow/harness/tick"
)

// Phase names a step of the run, for progress displays.
type Phase string

// The phases, in order.
const (
	PhaseStarting  Phase = "starting"  // world, store, sink consumers
	PhaseJoining   Phase = "joining"   // consumers joining the group
	PhaseProducing Phase = "producing" // producer running
	PhaseDraining  Phase = "draining"  // waiting for the sink to commit everything
	PhaseChecking  Phase = "checking"  // reading the lake back
	PhaseDone      Phase = "done"
)

// Progress is a snapshot for a progress display. Produced comes from the
// producer, Consumed/Rows/Objects from the sink consumers' counters.
type Progress struct {
	Phase    Phase
	Target   int64 // records the source will produce
	Produced int64
	Consumed int64
	Rows     int64 // rows the sink has uploaded
	Objects  int64 // objects the sink has uploaded
	Elapsed  time.Duration
}

// Timing knobs: short, so the demo drains in well under a second after the
// last record.
const (
	flushInterval   = 250 * time.Millisecond
	pollEvery       = 50 * time.Millisecond
	progressEvery   = 100 * time.Millisecond
	joinTimeout     = 20 * time.Second
	stopTimeout     = 30 * time.Second
	closeTimeout    = 15 * time.Second
	kafkaCallBudget = 5 * time.Second
)

// kafkaOpts are the client settings every demo client uses: kfake moves
// fast, so metadata and retries need not wait seconds.
func kafkaOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
	}
}

// Run runs the demo (see the package doc) and returns its summary. The error
// is nil only when the lake is complete, duplicate-free and contract-clean;
// it wraps ErrFailed (with a non-nil summary) when the pipeline ran but the
// lake is not right, ErrInvalid for a bad Config, and is anything else when
// the run could not happen (ctx cancelled, world did not start); a
// Config.Hold error is returned as is (joined to ErrFailed when both). progress,
// if not nil, is called from one goroutine at a time, about every 100ms and
// at each phase change.
func Run(ctx context.Context, cfg Config, progress func(Progress)) (*Summary, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	src, err := newSource(cfg)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	r := &runner{cfg: cfg, src: src, start: time.Now(), progressFn: progress}
	defer r.closeAll()
	return r.run(ctx)
}

type runner struct {
	cfg   Config
	src   *source
	start time.Time

	world *broker.World
	store objstore.Store
	adm   *kadm.Client
	admCl *kgo.Client

	sinks      []*sink.Sink
	sinkErrs   []error
	sinkDone   sync.WaitGroup
	stopSinks  context.CancelFunc
	sinkFailed chan int // consumer index, when its Run returned early

	producer *produce.Producer

	progressFn func(Progress)
	progressMu sync.Mutex
	phase      Phase
}

func (r *runner) run(ctx context.Context) (*Summary, error) {
	r.setPhase(PhaseStarting)
	if err := r.startWorld(ctx); err != nil {
		return nil, err
	}
	if r.cfg.Started != nil {
		r.cfg.Started(ctx, r.live())
	}
	if err := r.startSinks(ctx); err != nil {
		return nil, err
	}

	stopTicker := r.tickProgress()
	defer stopTicker()

	r.setPhase(PhaseJoining)
	if err := r.waitJoined(ctx); err != nil {
		return nil, err
	}

	r.setPhase(PhaseProducing)
	pipelineStart := time.Now()
	res, err := r.produce(ctx)
	if err != nil {
		return nil, err
	}

	r.setPhase(PhaseDraining)
	var problems []string
	ends, drainErr := r.waitDrained(ctx, res.Produced)
	if drainErr != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("demo: waiting for the sink: %w", ctx.Err())
		}
		problems = append(problems, drainErr.Error())
	}
	duration := time.Since(pipelineStart)
	problems = append(problems, r.stopAllSinks()...)

	r.setPhase(PhaseChecking)
	rep, err := lake.Check(ctx, r.store, r.cfg.Prefix, lake.ExpectRecords(res.Produced))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("demo: check the lake: %w", ctx.Err())
		}
		if !errors.Is(err, lake.ErrEmptyLake) {
			return nil, fmt.Errorf("demo: check the lake: %w", err)
		}
		problems = append(problems, err.Error())
		rep = nil
	}
	stopTicker()
	sum := r.summarize(res, rep, ends, duration, problems)
	if r.cfg.Out != "" && rep != nil {
		if _, err := lake.Mirror(ctx, r.store, r.cfg.Prefix, r.cfg.Out); err != nil {
			return nil, fmt.Errorf("demo: copy the lake to %s: %w", r.cfg.Out, err)
		}
		sum.Lake.Local = strings.TrimSuffix(r.cfg.Out, "/") + "/" + tick.Table + "/"
	}
	sum.TotalSeconds = time.Since(r.start).Seconds()
	r.setPhase(PhaseDone)

	var holdErr error
	if r.cfg.Hold != nil {
		holdErr = r.cfg.Hold(ctx, r.live(), sum)
	}
	switch {
	case !sum.OK && holdErr != nil:
		return sum, fmt.Errorf("%w: %s; %w", ErrFailed, strings.Join(sum.Problems, "; "), holdErr)
	case !sum.OK:
		return sum, fmt.Errorf("%w: %s", ErrFailed, strings.Join(sum.Problems, "; "))
	}
	return sum, holdErr
}

func (r *runner) startWorld(ctx context.Context) error {
	w, err := broker.Start(ctx,
		broker.Brokers(broker.DefaultBrokers),
		broker.Topic(tick.DefaultTopic, r.cfg.Partitions),
		broker.Partitions(r.cfg.Partitions),
		broker.Logger(r.cfg.Logger),
	)
	if err != nil {
		return fmt.Errorf("demo: start the embedded world: %w", err)
	}
	r.world = w
	st, err := objstore.NewS3(ctx, objstore.S3Config{
		Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Region: w.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey,
	})
	if err != nil {
		return fmt.Errorf("demo: S3 client for %s: %w", w.S3Endpoint(), err)
	}
	r.store = st
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(w.KafkaAddrs()...)}, kafkaOpts()...)...)
	if err != nil {
		return fmt.Errorf("demo: admin client: %w", err)
	}
	r.admCl, r.adm = cl, kadm.NewClient(cl)
	return nil
}

func (r *runner) startSinks(ctx context.Context) error {
	format := sink.Parquet
	if r.cfg.Format == FormatJSON {
		format = sink.JSON
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.stopSinks = cancel
	r.sinkErrs = make([]error, r.cfg.Consumers)
	r.sinkFailed = make(chan int, r.cfg.Consumers)
	for i := range r.cfg.Consumers {
		s, err := sink.New(ctx, r.world.KafkaAddrs(), r.store,
			sink.Topic(tick.DefaultTopic),
			sink.Group(DefaultGroup),
			sink.Prefix(r.cfg.Prefix),
			sink.WithFormat(format),
			sink.FlushInterval(flushInterval),
			sink.Logger(r.cfg.Logger.With("consumer", i+1)),
			sink.KafkaOptions(append(kafkaOpts(),
				kgo.HeartbeatInterval(200*time.Millisecond),
				kgo.ClientID(fmt.Sprintf("tickflow-demo-sink-%d", i+1)))...),
		)
		if err != nil {
			return fmt.Errorf("demo: sink consumer %d: %w", i+1, err)
		}
		r.sinks = append(r.sinks, s)
		r.sinkDone.Add(1)
		go func() {
			defer r.sinkDone.Done()
			err := s.Run(sctx)
			r.sinkErrs[i] = err
			if sctx.Err() == nil {
				r.sinkFailed <- i
			}
		}()
	}
	return nil
}

// waitJoined waits until every consumer is a member of the group and every
// partition is assigned, so the producer's records are split between them
// from the start. A group that does not settle in time is not fatal (the
// sink handles later rebalances); a cancelled ctx is.
func (r *runner) waitJoined(ctx context.Context) error {
	deadline := time.Now().Add(joinTimeout)
	for time.Now().Before(deadline) {
		cctx, cancel := context.WithTimeout(ctx, kafkaCallBudget)
		gs, err := r.adm.DescribeGroups(cctx, DefaultGroup)
		cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("demo: waiting for the consumers to join: %w", ctx.Err())
		}
		if err == nil && joined(gs[DefaultGroup], r.cfg.Consumers, r.cfg.Partitions) {
			return nil
		}
		if err := sleep(ctx, pollEvery); err != nil {
			return fmt.Errorf("demo: waiting for the consumers to join: %w", err)
		}
	}
	r.cfg.Logger.Warn("demo: consumer group did not settle; producing anyway", "timeout", joinTimeout)
	return nil
}

func joined(g kadm.DescribedGroup, members, partitions int) bool {
	if g.Err != nil || g.State != "Stable" || len(g.Members) != members {
		return false
	}
	assigned := 0
	for _, m := range g.Members {
		ca, ok := m.Assigned.AsConsumer()
		if !ok {
			return false
		}
		own := 0
		for _, t := range ca.Topics {
			own += len(t.Partitions)
		}
		if own == 0 && members <= partitions {
			return false // cooperative rebalancing has a second round to come
		}
		assigned += own
	}
	return assigned == partitions
}

func (r *runner) produce(ctx context.Context) (produce.Result, error) {
	opts := []produce.Option{produce.Topic(tick.DefaultTopic), produce.KafkaOptions(kafkaOpts()...)}
	if r.cfg.Rate > 0 {
		opts = append(opts, produce.Rate(r.cfg.Rate))
	}
	p, err := produce.New(ctx, r.world.KafkaAddrs(), opts...)
	if err != nil {
		return produce.Result{}, fmt.Errorf("demo: producer: %w", err)
	}
	r.progressMu.Lock()
	r.producer = p
	r.progressMu.Unlock()
	s, closer, err := r.src.open()
	if err != nil {
		return produce.Result{}, fmt.Errorf("demo: open source: %w", err)
	}
	defer closer.Close()
	res, err := p.Produce(ctx, s)
	if err != nil {
		return res, fmt.Errorf("demo: %w", err)
	}
	if res.Produced != r.src.total {
		return res, fmt.Errorf("demo: produced %d records but the source had %d good rows (did %s change while the demo ran?)",
			res.Produced, r.src.total, r.src.desc)
	}
	return res, nil
}

// waitDrained waits until the group's committed offset equals the end
// offset on every partition and the end offsets add up to produced: by the
// sink's commit-after-upload rule every record is then in S3. It returns
// the end offsets per partition. The lake itself is checked afterwards.
func (r *runner) waitDrained(ctx context.Context, produced int64) (map[int32]int64, error) {
	timeout := r.cfg.drainTimeout(produced)
	deadline := time.Now().Add(timeout)
	var (
		ends      map[int32]int64
		committed int64
		lastErr   error
	)
	for {
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("timed out after %s waiting for the sink: %d of %d records committed to S3", timeout, committed, produced)
			if lastErr != nil {
				msg += fmt.Sprintf(" (last error: %v)", lastErr)
			}
			return ends, errors.New(msg)
		}
		var done bool
		ends, committed, done, lastErr = r.drained(ctx, produced)
		if done {
			return ends, nil
		}
		select {
		case <-ctx.Done():
			return ends, ctx.Err()
		case i := <-r.sinkFailed:
			// A consumer died: its partitions will not drain (the others
			// would take them over only after its session times out).
			return ends, fmt.Errorf("sink consumer %d stopped while %d of %d records were committed to S3", i+1, committed, produced)
		case <-time.After(pollEvery):
		}
	}
}

// drained reads end and committed offsets once.
func (r *runner) drained(ctx context.Context, produced int64) (map[int32]int64, int64, bool, error) {
	cctx, cancel := context.WithTimeout(ctx, kafkaCallBudget)
	defer cancel()
	listed, err := r.adm.ListEndOffsets(cctx, tick.DefaultTopic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("end offsets of %s: %w", tick.DefaultTopic, err)
	}
	commits, err := r.adm.FetchOffsets(cctx, DefaultGroup)
	if err == nil {
		err = commits.Error()
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("committed offsets of group %s: %w", DefaultGroup, err)
	}
	ends := map[int32]int64{}
	var total, committed int64
	done := true
	listed.Each(func(o kadm.ListedOffset) {
		ends[o.Partition] = o.Offset
		total += o.Offset
		c := int64(0)
		if cr, ok := commits.Lookup(o.Topic, o.Partition); ok && cr.Err == nil && cr.At > 0 {
			c = cr.At
		}
		committed += min(c, o.Offset)
		if c < o.Offset {
			done = false
		}
	})
	return ends, committed, done && total == produced, nil
}

// stopAllSinks stops the consumers (each flushes and commits what it holds
// and leaves the group) and reports any that failed or did not stop.
func (r *runner) stopAllSinks() []string {
	if r.stopSinks == nil {
		return nil
	}
	r.stopSinks()
	r.stopSinks = nil
	done := make(chan struct{})
	go func() { r.sinkDone.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		return []string{fmt.Sprintf("sink consumers did not stop within %s", stopTimeout)}
	}
	var problems []string
	for i, err := range r.sinkErrs {
		if err != nil {
			problems = append(problems, fmt.Sprintf("sink consumer %d failed: %v", i+1, err))
		}
	}
	return problems
}

func (r *runner) summarize(res produce.Result, rep *lake.Report, ends map[int32]int64, d time.Duration, problems []string) *Summary {
	w := r.world
	loc := strings.TrimSuffix(r.cfg.Prefix, "/")
	if loc != "" {
		loc += "/"
	}
	s := &Summary{
		Source: r.src.desc, Format: r.cfg.Format, Brokers: broker.DefaultBrokers, Topic: tick.DefaultTopic,
		Partitions: r.cfg.Partitions, Consumers: r.cfg.Consumers,
		Produced: res.Produced, SkippedBadRows: r.src.skipped, BadRows: r.src.bad,
		Lake: Location{
			URL:      "s3://" + w.Bucket() + "/" + loc + tick.Table + "/",
			Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Prefix: r.cfg.Prefix,
		},
		Duration: d, DurationSeconds: d.Seconds(),
		GlueTables: []string{}, ViolationDetails: nil,
	}
	if d > 0 {
		s.RecordsPerSecond = float64(res.Produced) / d.Seconds()
	}
	for i, sk := range r.sinks {
		st := sk.Stats()
		s.Consumed += st.Consumed
		s.DLQ += st.DLQ
		s.PerConsumer = append(s.PerConsumer, ConsumerStats{Consumer: i + 1, Consumed: st.Consumed, Rows: st.Written, Objects: st.Objects, DLQ: st.DLQ})
	}
	for _, e := range ends {
		if e > 0 {
			s.PartitionsUsed++
		}
	}
	if rep != nil {
		s.LandedRows, s.Distinct, s.Objects, s.Bytes, s.Duplicates = rep.Rows, rep.Distinct, rep.DataObjects, rep.Bytes, rep.Duplicates
		s.Violations, s.Warnings = len(rep.Errors()), len(rep.Warnings())
		s.ViolationDetails = rep.Violations
		for _, t := range rep.Tables {
			s.GlueTables = append(s.GlueTables, fmt.Sprintf("%s (%s, %d columns, partitioned by %s)",
				t.Name, t.Format, len(t.Columns), partitionKeys(t)))
		}
		var tiling []string
		s.Gaps, s.Overlaps, tiling = coverage(rep, ends)
		problems = append(problems, tiling...)
	} else {
		s.Gaps = res.Produced
	}
	if s.LandedRows != s.Produced {
		problems = append(problems, fmt.Sprintf("produced %d records but the lake holds %d rows", s.Produced, s.LandedRows))
	}
	if s.Duplicates > 0 {
		problems = append(problems, fmt.Sprintf("%d duplicate rows (same kafka_partition, kafka_offset)", s.Duplicates))
	}
	if s.Violations > 0 && rep != nil {
		problems = append(problems, fmt.Sprintf("%d contract violations (rules %s)", s.Violations, strings.Join(rep.Rules(), ", ")))
	}
	if s.DLQ > 0 {
		problems = append(problems, fmt.Sprintf("%d records were dead-lettered, but every produced tick is valid", s.DLQ))
	}
	if s.Problems = problems; s.Problems == nil {
		s.Problems = []string{}
	}
	s.OK = len(s.Problems) == 0
	return s
}

func partitionKeys(t lake.Table) string {
	keys := make([]string, len(t.PartitionKeys))
	for i, k := range t.PartitionKeys {
		keys[i] = k.Name
	}
	if len(keys) == 0 {
		return "nothing"
	}
	return strings.Join(keys, ", ")
}

// coverage checks that the lake's offsets tile each partition from 0 to its
// end offset: it counts missing offsets (inside the lake's range, which
// lake.Check reports as gaps, and before the first or after the last offset,
// which only the end offsets reveal) and overlapping objects.
func coverage(rep *lake.Report, ends map[int32]int64) (gaps int64, overlaps int, problems []string) {
	byPart := map[int32]lake.PartitionCoverage{}
	for _, p := range rep.Partitions {
		byPart[p.Partition] = p
		overlaps += p.Overlaps
		if _, ok := ends[p.Partition]; !ok && ends != nil {
			problems = append(problems, fmt.Sprintf("the lake has rows for partition %d, which the topic does not have", p.Partition))
		}
	}
	parts := make([]int32, 0, len(ends))
	for p := range ends {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		end := ends[p]
		c, ok := byPart[p]
		switch {
		case end == 0 && !ok:
			continue
		case !ok:
			gaps += end
			problems = append(problems, fmt.Sprintf("partition %d: offsets 0–%d are not in the lake", p, end-1))
			continue
		}
		missing := end - c.Distinct - c.Skipped
		if missing > 0 {
			gaps += missing
		}
		switch {
		case c.FirstOffset != 0:
			problems = append(problems, fmt.Sprintf("partition %d: the lake starts at offset %d, not 0", p, c.FirstOffset))
		case c.LastOffset != end-1:
			problems = append(problems, fmt.Sprintf("partition %d: the lake ends at offset %d, the partition at %d", p, c.LastOffset, end-1))
		case len(c.Gaps) > 0:
			problems = append(problems, fmt.Sprintf("partition %d: offsets missing from the lake: %v", p, c.Gaps))
		}
	}
	if overlaps > 0 {
		problems = append(problems, fmt.Sprintf("%d objects overlap another object's offsets", overlaps))
	}
	return gaps, overlaps, problems
}

func (r *runner) live() *Live {
	w := r.world
	return &Live{
		Bootstrap: w.KafkaAddrs(), Topic: tick.DefaultTopic, Group: DefaultGroup,
		S3Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Prefix: r.cfg.Prefix, Region: w.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey, Store: r.store, World: w,
	}
}

// closeAll releases everything the run started, in reverse order, with a
// bound on the world's shutdown.
func (r *runner) closeAll() {
	r.stopAllSinks()
	if r.producer != nil {
		r.producer.Close()
	}
	if r.admCl != nil {
		r.admCl.Close()
	}
	if r.world != nil {
		done := make(chan error, 1)
		go func() { done <- r.world.Close() }()
		select {
		case err := <-done:
			if err != nil {
				r.cfg.Logger.Warn("demo: close the world", "err", err)
			}
		case <-time.After(closeTimeout):
			r.cfg.Logger.Warn("demo: the world did not close in time", "timeout", closeTimeout)
		}
	}
}

func (r *runner) setPhase(p Phase) {
	r.progressMu.Lock()
	r.phase = p
	r.progressMu.Unlock()
	r.report()
}

// report sends one snapshot; the mutex keeps callbacks from overlapping.
func (r *runner) report() {
	if r.progressFn == nil {
		return
	}
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	pr := Progress{Phase: r.phase, Target: r.src.total, Elapsed: time.Since(r.start)}
	if r.producer != nil {
		pr.Produced = r.producer.Produced()
	}
	for _, s := range r.sinks {
		st := s.Stats()
		pr.Consumed += st.Consumed
		pr.Rows += st.Written
		pr.Objects += st.Objects
	}
	r.progressFn(pr)
}

// tickProgress reports every progressEvery until the returned func is called
// (idempotent).
func (r *runner) tickProgress() func() {
	if r.progressFn == nil {
		return func() {}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r.report()
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(stop); <-done }) }
}

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
