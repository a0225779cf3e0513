package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goccy/go-json"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/produce"
	"github.com/tickflow/tickflow/harness/sink"
	"github.com/tickflow/tickflow/harness/tick"
)

// phaser runs the phases of one world.
type phaser struct {
	cfg *config
	w   *world
}

// sampleEvery is the progress sampling period of the plot's series.
const sampleEvery = 10 * time.Millisecond

// tracker counts a run's progress and remembers when its first record came.
type tracker struct {
	records, bytes atomic.Int64
	first          atomic.Int64 // unix nanos; 0 until the first record
	mu             sync.Mutex
	samples        []struct {
		at time.Time
		n  int64
	}
}

func (t *tracker) add(n, bytes int64) {
	if n == 0 {
		return
	}
	t.first.CompareAndSwap(0, time.Now().UnixNano())
	t.records.Add(n)
	t.bytes.Add(bytes)
}

// sample records progress every sampleEvery until ctx is done; count
// overrides the tracker's own counter (the sink counts itself).
func (t *tracker) sample(ctx context.Context, count func() int64) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(sampleEvery)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tk.C:
				n := count()
				if n > 0 { // a phase that does not call add starts here
					t.first.CompareAndSwap(0, now.UnixNano())
				}
				t.mu.Lock()
				t.samples = append(t.samples, struct {
					at time.Time
					n  int64
				}{now, n})
				t.mu.Unlock()
			}
		}
	}()
	return func() { <-done }
}

// run turns the tracker into a Run that ended at end.
func (t *tracker) run(end time.Time) Trial {
	first := time.Unix(0, t.first.Load())
	r := Trial{Records: t.records.Load(), Bytes: t.bytes.Load(), Seconds: end.Sub(first).Seconds()}
	t.mu.Lock()
	defer t.mu.Unlock()
	r.Series = append(r.Series, Sample{T: 0, Records: 0})
	for _, s := range t.samples {
		if s.at.Before(first) || s.n == 0 {
			continue
		}
		if s.at.After(end) {
			break
		}
		r.Series = append(r.Series, Sample{T: s.at.Sub(first).Seconds(), Records: s.n})
	}
	r.Series = append(r.Series, Sample{T: r.Seconds, Records: r.Records})
	return r
}

// setup sets r's SetupSeconds: from began to the run's first record.
func (t *tracker) setup(began time.Time, r Trial) Trial {
	if f := t.first.Load(); f != 0 {
		r.SetupSeconds = max(0, time.Unix(0, f).Sub(began).Seconds())
	}
	return r
}

// consumerOpts are the fetch settings every raw consumer shares with the
// sink (read-committed, from the start), so the ceiling is comparable.
func (b *phaser) consumerOpts(topic, group string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(b.w.w.KafkaAddrs()...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.DialTimeout(5 * time.Second),
	}
}

// ceiling is a raw consumer group of K members over the main topic, which
// polls and discards (decode=false) or decodes every value the way the sink
// does (tick.Decode, then tick.RowFrom).
func (b *phaser) ceiling(ctx context.Context, run int, decode bool) (Trial, error) {
	name := PhaseCeiling
	if decode {
		name = PhaseDecode
	}
	group := fmt.Sprintf("bench-%s-%d-%d", name, run, time.Now().UnixNano())
	want := int64(b.cfg.records)
	ctx, cancel := context.WithTimeout(ctx, runTimeout(want))
	defer cancel()
	var tr tracker
	began := time.Now()
	wait := tr.sample(ctx, tr.records.Load)
	defer wait()
	defer cancel()
	var (
		endOnce sync.Once
		end     time.Time
		errMu   sync.Mutex
		firstE  error
		wg      sync.WaitGroup
		sink    atomic.Int64 // keeps the decode from being optimised away
	)
	fail := func(err error) {
		errMu.Lock()
		if firstE == nil {
			firstE = err
		}
		errMu.Unlock()
		cancel()
	}
	for range b.cfg.consumers {
		cl, err := kgo.NewClient(b.consumerOpts(mainTopic, group)...)
		if err != nil {
			return Trial{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Close()
			var t tick.Tick
			var acc int64
			for ctx.Err() == nil {
				fs := cl.PollRecords(ctx, 10_000)
				if fs.IsClientClosed() {
					return
				}
				fs.EachError(func(topic string, p int32, err error) {
					if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
						fail(fmt.Errorf("fetch %s[%d]: %w", topic, p, err))
					}
				})
				var n, by int64
				fs.EachRecord(func(r *kgo.Record) {
					n++
					by += int64(len(r.Key) + len(r.Value))
					if decode {
						if err := tick.Decode(r.Value, &t); err != nil {
							fail(fmt.Errorf("decode %s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err))
							return
						}
						row, err := tick.RowFrom(t, r.Timestamp, r.Partition, r.Offset)
						if err != nil {
							fail(fmt.Errorf("row %s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err))
							return
						}
						acc += row.Volume
					}
				})
				tr.add(n, by)
				if tr.records.Load() >= want {
					endOnce.Do(func() { end = time.Now() })
					cancel()
				}
			}
			sink.Add(acc)
		}()
	}
	wg.Wait()
	if firstE != nil {
		return Trial{}, firstE
	}
	if got := tr.records.Load(); got < want {
		return Trial{}, fmt.Errorf("consumed %d of %d records: %w", got, want, errStalled)
	}
	return tr.setup(began, tr.run(end)), nil
}

// sinkOpts are the settings every sink in the bench uses on top of the
// sink's defaults.
func (b *phaser) sinkOpts(topic, group, prefix string) []sink.Option {
	return []sink.Option{
		sink.Topic(topic), sink.Group(group), sink.Prefix(prefix), sink.WithFormat(b.cfg.format),
		sink.KafkaOptions(kgo.MetadataMinAge(100 * time.Millisecond)), sink.Logger(b.cfg.log),
	}
}

// sinkRun runs K sinks over the main topic until they have consumed every
// record, then stops them (which flushes and commits) and checks that the
// group's committed offsets reached the end of every partition.
func (b *phaser) sinkRun(ctx context.Context, run int, ends map[int32]int64) (Trial, error) {
	prefix := fmt.Sprintf("bench/sink-%d-%d", run, time.Now().UnixNano())
	r, err := runSinks(ctx, b.cfg, b.w, b.w.store, mainTopic, "bench-"+prefix, ends,
		b.sinkOpts(mainTopic, "bench-"+prefix, prefix))
	if err != nil {
		return Trial{}, err
	}
	// Free the fake S3's memory for the next runs (untimed).
	objs, err := b.w.store.List(ctx, prefix+"/")
	if err != nil {
		return Trial{}, fmt.Errorf("list %s: %w", prefix, err)
	}
	for _, o := range objs {
		if err := b.w.store.Delete(ctx, o.Key); err != nil {
			return Trial{}, fmt.Errorf("delete %s: %w", o.Key, err)
		}
	}
	return r, nil
}

// runSinks runs cfg.consumers sinks in one group until they consumed the
// records up to ends, stops them, and checks that every partition is
// committed to its end and every record was written. The Run's time is from
// the first record consumed to the moment the last sink returned (after its
// final upload and commit).
func runSinks(ctx context.Context, cfg *config, w *world, store objstore.Store, topic, group string,
	ends map[int32]int64, opts []sink.Option, extra ...sink.Option) (Trial, error) {
	want := sum(ends)
	ctx, cancel := context.WithTimeout(ctx, runTimeout(want))
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	began := time.Now()
	sinks := make([]*sink.Sink, 0, cfg.consumers)
	for range cfg.consumers {
		s, err := sink.New(ctx, w.w.KafkaAddrs(), store, append(opts, extra...)...)
		if err != nil {
			return Trial{}, err
		}
		sinks = append(sinks, s)
	}
	consumed := func() int64 {
		var n int64
		for _, s := range sinks {
			n += s.Stats().Consumed
		}
		return n
	}
	var tr tracker
	sctx, sdone := context.WithCancel(ctx)
	wait := tr.sample(sctx, consumed)
	errs := make([]error, len(sinks))
	var wg sync.WaitGroup
	for i, s := range sinks {
		wg.Go(func() { errs[i] = s.Run(runCtx) })
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	// Watch at a finer grain than the plot's samples: the first record
	// starts the clock, the last one stops the sinks.
	tk := time.NewTicker(time.Millisecond)
	var stopped bool
	var lastAt time.Time
watch:
	for {
		select {
		case <-finished:
			break watch
		case <-ctx.Done():
			stop()
			<-finished
			break watch
		case <-tk.C:
			n := consumed()
			if n > 0 {
				tr.first.CompareAndSwap(0, time.Now().UnixNano())
			}
			if !stopped && n >= want {
				stopped, lastAt = true, time.Now()
				stop()
			}
		}
	}
	tk.Stop()
	end := time.Now()
	sdone()
	wait()
	if err := errors.Join(errs...); err != nil {
		return Trial{}, fmt.Errorf("sink: %w", err)
	}
	if !stopped {
		return Trial{}, fmt.Errorf("sinks consumed %d of %d records: %w", consumed(), want, errStalled)
	}
	committed := map[int32]int64{}
	var written int64
	for _, s := range sinks {
		st := s.Stats()
		written += st.Written
		for p, o := range st.Committed {
			committed[p] = max(committed[p], o)
		}
	}
	for p, e := range ends {
		if committed[p] != e {
			return Trial{}, fmt.Errorf("partition %d committed at %d, want its end %d", p, committed[p], e)
		}
	}
	if written != want {
		return Trial{}, fmt.Errorf("sinks wrote %d rows, want %d", written, want)
	}
	tr.records.Store(want)
	r := tr.setup(began, tr.run(end))
	r.TailSeconds = end.Sub(lastAt).Seconds()
	return r, nil
}

// seed is the seed project's consumer: for each record, decode the JSON and
// PUT it as its own object stock_market_{count}.json, one at a time. It
// runs over a bounded sample and its rate is extrapolated from it.
func (b *phaser) seed(ctx context.Context, run int) (Trial, error) {
	n := int64(min(b.cfg.seedSample, b.cfg.records))
	prefix := fmt.Sprintf("bench/seed-%d-%d", run, time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(ctx, runTimeout(n*100))
	defer cancel()
	began := time.Now()
	cl, err := kgo.NewClient(b.consumerOpts(mainTopic, "bench-"+prefix)...)
	if err != nil {
		return Trial{}, err
	}
	defer cl.Close()
	var tr tracker
	wait := tr.sample(ctx, tr.records.Load)
	defer wait()
	defer cancel()
	var count int64
	for count < n {
		fs := cl.PollRecords(ctx, int(min(n-count, 100)))
		if ctx.Err() != nil {
			return Trial{}, fmt.Errorf("seed baseline wrote %d of %d objects: %w", count, n, errStalled)
		}
		var ferr error
		fs.EachError(func(topic string, p int32, err error) { ferr = fmt.Errorf("fetch %s[%d]: %w", topic, p, err) })
		if ferr != nil {
			return Trial{}, ferr
		}
		for _, r := range fs.Records() {
			if count >= n {
				break
			}
			var t tick.Tick
			if err := json.Unmarshal(r.Value, &t); err != nil {
				return Trial{}, fmt.Errorf("decode %s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			body, err := json.Marshal(t)
			if err != nil {
				return Trial{}, err
			}
			key := fmt.Sprintf("%s/stock_market_%d.json", prefix, count)
			if err := b.w.store.Put(ctx, key, body, nil); err != nil {
				return Trial{}, fmt.Errorf("put %s: %w", key, err)
			}
			count++
			tr.add(1, int64(len(r.Key)+len(r.Value)))
		}
	}
	return tr.setup(began, tr.run(time.Now())), nil
}

// putTimes is an objstore.Store that remembers when each sink object's PUT
// returned, keyed by the partition and offset range in its metadata.
type putTimes struct {
	objstore.Store
	mu   sync.Mutex
	objs map[int32][]putAt
}

type putAt struct {
	start, end int64
	at         time.Time
}

func (p *putTimes) Put(ctx context.Context, key string, body []byte, meta map[string]string) error {
	if err := p.Store.Put(ctx, key, body, meta); err != nil {
		return err
	}
	p.record(meta)
	return nil
}

func (p *putTimes) PutIfAbsent(ctx context.Context, key string, body []byte, meta map[string]string) error {
	if err := p.Store.PutIfAbsent(ctx, key, body, meta); err != nil {
		return err
	}
	p.record(meta)
	return nil
}

// record notes when the object described by meta landed.
func (p *putTimes) record(meta map[string]string) {
	at := time.Now()
	var part int32
	var start, end int64
	if _, err := fmt.Sscan(meta[sink.MetaPartition], &part); err != nil {
		return // not a sink object
	}
	fmt.Sscan(meta[sink.MetaStartOffset], &start)
	fmt.Sscan(meta[sink.MetaEndOffset], &end)
	p.mu.Lock()
	p.objs[part] = append(p.objs[part], putAt{start, end, at})
	p.mu.Unlock()
}

// latency produces at fraction × sinkRate for the configured duration into
// a fresh topic while K sinks (FlushInterval = the latency flush interval)
// consume it, then measures, for every record, the time from its Kafka
// timestamp to the return of the PUT of the object that holds it.
func (b *phaser) latency(ctx context.Context, sinkRate float64) (*LatencyStat, error) {
	cfg := b.cfg
	rate := sinkRate * cfg.latencyFraction
	n := int(rate * cfg.latencyDuration.Seconds())
	if rate <= 0 || n < 1 {
		return nil, fmt.Errorf("sink rate %.0f records/s is too low to pace a latency run", sinkRate)
	}
	topic := fmt.Sprintf("bench-latency-%d", time.Now().UnixNano())
	if err := b.w.createTopic(ctx, topic, cfg.partitions); err != nil {
		return nil, err
	}
	cfg.progress(fmt.Sprintf("latency: %s of production at %.0f%% of the sink's median rate = %s records at %s records/s (sized by the rate, not by the record count)",
		cfg.latencyDuration, cfg.latencyFraction*100, count(int64(n)), count(int64(rate))))
	group := "bench-" + topic
	ctx, cancel := context.WithTimeout(ctx, runTimeout(int64(n))+2*cfg.latencyDuration)
	defer cancel()
	store := &putTimes{Store: b.w.store, objs: map[int32][]putAt{}}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var sinks []*sink.Sink
	for range cfg.consumers {
		s, err := sink.New(ctx, b.w.w.KafkaAddrs(), store,
			append(b.sinkOpts(topic, group, "bench/"+topic), sink.FlushInterval(cfg.latencyFlush))...)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, s)
	}
	errs := make([]error, len(sinks))
	var wg sync.WaitGroup
	for i, s := range sinks {
		wg.Go(func() { errs[i] = s.Run(runCtx) })
	}
	defer wg.Wait()
	defer stop()
	// Produce only once the group is stable, so the join is not counted as
	// latency.
	if err := b.waitGroupStable(ctx, group, cfg.consumers); err != nil {
		return nil, err
	}
	var tr tracker
	sctx, sdone := context.WithCancel(ctx)
	waitSample := tr.sample(sctx, func() int64 {
		var c int64
		for _, s := range sinks {
			c += s.Stats().Consumed
		}
		return c
	})
	prun, err := b.w.produce(ctx, topic, n, cfg.seed+1, produce.Rate(rate))
	if err != nil {
		sdone()
		return nil, err
	}
	ends, err := b.w.endOffsets(ctx, topic)
	if err != nil {
		sdone()
		return nil, err
	}
	// Wait until every partition is committed to its end.
	for {
		committed := map[int32]int64{}
		for _, s := range sinks {
			for p, o := range s.Stats().Committed {
				committed[p] = max(committed[p], o)
			}
		}
		done := true
		for p, e := range ends {
			done = done && committed[p] >= e
		}
		if done {
			break
		}
		select {
		case <-ctx.Done():
			sdone()
			return nil, fmt.Errorf("sinks did not commit the latency topic to its end: %w", errStalled)
		case <-time.After(5 * time.Millisecond):
		}
	}
	end := time.Now()
	sdone()
	waitSample()
	stop()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	lats, objects, err := b.latencies(ctx, topic, ends, store)
	if err != nil {
		return nil, err
	}
	slices.Sort(lats)
	tr.records.Store(sum(ends))
	st := &LatencyStat{Fraction: cfg.latencyFraction, TargetRate: rate, AchievedRate: ratio(float64(prun.Records), prun.Seconds),
		Records: len(lats), Objects: objects, FlushInterval: cfg.latencyFlush.Seconds(),
		P50: pct(lats, 0.50), P95: pct(lats, 0.95), P99: pct(lats, 0.99), Max: lats[len(lats)-1], Run: tr.run(end)}
	st.Run.finish()
	return st, nil
}
