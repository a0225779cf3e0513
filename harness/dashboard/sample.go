package dashboard

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
)

// target is one watched world and the clients the dashboard uses on it.
type target struct {
	w     *broker.World
	coord *broker.Coordinator
	store objstore.Store
	table *lake.TableDef // Target.Table
	kcl   *kgo.Client
	adm   *kadm.Client

	mu       sync.Mutex // guards the fields below
	lake     *lakeSampler
	prevEnds map[string]map[int32]int64
	prevAt   time.Time
	// What the previous sample saw, to log changes nobody made through the
	// page (a scenario's faults, a Go test's): broker up/down, leaders.
	prevUp      map[int32]bool
	prevLeaders map[string]int32 // "topic/partition" → leader
	expectUp    map[int32]bool   // changes the page's own actions made
	expectMoves bool
	s3Errors    *broker.Fault
	s3Errs      string
	s3Delay     *broker.Fault
	s3Delays    string
	kafkaErrors *broker.Fault
	kafkaErrs   string
	kafkaDelay  *broker.Fault
	kafkaDelays string
	subscribed  map[string][]string // group → topics last seen subscribed or assigned
}

// kafkaOpts keeps the dashboard's own clients quick to notice leader moves
// and quick to give up on a stopped world.
func kafkaOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.MetadataMaxAge(time.Second),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.RetryTimeout(2 * time.Second),
		kgo.DialTimeout(2 * time.Second),
	}
}

func newTarget(ctx context.Context, t Target) (*target, error) {
	w := t.World
	store := t.Store
	if store == nil {
		var err error
		store, err = objstore.NewS3(ctx, objstore.S3Config{
			Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Region: w.Region(),
			AccessKey: broker.AccessKey, SecretKey: broker.SecretKey, MaxAttempts: 1,
		})
		if err != nil {
			return nil, fmt.Errorf("dashboard: S3 client for %s: %w", w.S3Endpoint(), err)
		}
	}
	kcl, err := kgo.NewClient(append(append(kafkaOpts(), kgo.SeedBrokers(w.KafkaAddrs()...)), w.KafkaClientOptions()...)...)
	if err != nil {
		return nil, fmt.Errorf("dashboard: Kafka client for %v: %w", w.KafkaAddrs(), err)
	}
	return &target{
		w: w, coord: w.Coordinator(), store: store, table: t.Table,
		kcl: kcl, adm: kadm.NewClient(kcl), lake: newLakeSampler(store, newLakeLocation(t.Prefix, t.Table)),
	}, nil
}

// close removes the faults the dashboard installed and closes its clients.
func (t *target) close() {
	t.mu.Lock()
	for _, f := range []*broker.Fault{t.s3Errors, t.s3Delay, t.kafkaErrors, t.kafkaDelay} {
		if f != nil {
			f.Remove()
		}
	}
	t.s3Errors, t.s3Delay, t.kafkaErrors, t.kafkaDelay = nil, nil, nil, nil
	t.mu.Unlock()
	t.kcl.Close()
}

// sampleLoop samples every interval (or when woken) until ctx ends.
func (s *Server) sampleLoop(ctx context.Context) {
	defer close(s.done)
	tk := time.NewTicker(s.cfg.interval)
	defer tk.Stop()
	lags := map[string][]LagPoint{}
	for {
		s.sampleOnce(ctx, lags)
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		case <-s.wake:
		}
	}
}

func (s *Server) sampleOnce(ctx context.Context, lags map[string][]LagPoint) {
	t := s.current()
	snap := &Snapshot{Time: time.Now()}
	if t != nil {
		// Bounded so a stopped world cannot stall the page.
		sctx, cancel := context.WithTimeout(ctx, max(2*s.cfg.interval, 3*time.Second))
		wv, errs := t.sample(sctx)
		cancel()
		for _, o := range t.observe(wv) {
			s.logEvent("observed", o, nil)
		}
		snap.World, snap.Errors = wv, errs
		now := snap.Time.UnixMilli()
		cut := now - s.cfg.history.Milliseconds()
		for i := range wv.Groups {
			g := &wv.Groups[i]
			h := lags[g.Group]
			if g.Lag >= 0 {
				h = append(h, LagPoint{T: now, Lag: g.Lag})
			}
			for len(h) > 0 && h[0].T < cut {
				h = h[1:]
			}
			lags[g.Group] = h
			g.History = append([]LagPoint(nil), h...)
			g.Trend = trend(h, now-10_000)
		}
		for name, h := range lags {
			if len(h) == 0 || h[len(h)-1].T < cut {
				delete(lags, name)
			}
		}
	}
	s.mu.Lock()
	s.seq++
	snap.Seq = s.seq
	snap.Run = s.run
	snap.Verify = s.verify
	snap.Events = append([]Event(nil), s.events...)
	s.snap = snap
	s.mu.Unlock()
	s.notify()
}

// trend compares the first point at or after since with the last one.
func trend(h []LagPoint, since int64) string {
	i := sort.Search(len(h), func(i int) bool { return h[i].T >= since })
	if len(h)-i < 2 {
		return ""
	}
	first, last := h[i].Lag, h[len(h)-1].Lag
	switch {
	case last < first:
		return "falling"
	case last > first:
		return "rising"
	}
	return "flat"
}

// sample reads the world once; what it cannot read is in errs and the rest
// of the view is still filled.
func (t *target) sample(ctx context.Context) (*WorldView, []string) {
	start := time.Now()
	var errs []string
	w := t.w
	ls := t.lakeSampler()
	wv := &WorldView{
		Bootstrap: w.KafkaAddrs(), S3Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Prefix: ls.loc.prefix,
		Controller: t.coord.Controller(),
		Brokers:    []BrokerView{}, Topics: []TopicView{}, Groups: []GroupView{}, S3: []S3OpView{}, Faults: []ActiveFault{},
	}
	leaders := map[int32]int{}
	topics, err := t.coord.Topics(ctx)
	if err != nil {
		errs = append(errs, err.Error())
	}
	var names []string
	for _, tp := range topics {
		names = append(names, tp.Name)
		for _, p := range tp.Partitions {
			leaders[p.Leader]++
		}
	}
	for _, b := range t.coord.Brokers() {
		wv.Brokers = append(wv.Brokers, BrokerView{ID: b.ID, Addr: b.Addr, Up: b.Up, Controller: b.ID == wv.Controller, Leaders: leaders[b.ID]})
	}

	starts, ends := map[string]map[int32]int64{}, map[string]map[int32]int64{}
	if len(names) > 0 {
		if so, err := t.adm.ListStartOffsets(ctx, names...); err != nil {
			errs = append(errs, fmt.Sprintf("log start offsets: %v", err))
		} else {
			starts = offsetMap(so)
		}
		if eo, err := t.adm.ListEndOffsets(ctx, names...); err != nil {
			errs = append(errs, fmt.Sprintf("log end offsets: %v", err))
		} else {
			ends = offsetMap(eo)
		}
	}
	t.mu.Lock()
	prev, prevAt := t.prevEnds, t.prevAt
	dt := start.Sub(prevAt).Seconds()
	if len(ends) > 0 {
		t.prevEnds, t.prevAt = ends, start
	}
	t.mu.Unlock()
	for _, tp := range topics {
		tv := TopicView{Name: tp.Name, Partitions: []PartitionView{}}
		for _, p := range tp.Partitions {
			pv := PartitionView{Partition: p.Partition, Leader: p.Leader, Start: starts[tp.Name][p.Partition], End: ends[tp.Name][p.Partition]}
			if pe, ok := prev[tp.Name][p.Partition]; ok && dt > 0 && pv.End >= pe {
				pv.Rate = float64(pv.End-pe) / dt
			}
			tv.Records += pv.End - pv.Start
			tv.Rate += pv.Rate
			tv.Partitions = append(tv.Partitions, pv)
		}
		wv.Topics = append(wv.Topics, tv)
	}

	groups, gerrs := t.sampleGroups(ctx, starts, ends)
	errs = append(errs, gerrs...)
	wv.Groups = groups

	lv, err := ls.sample(ctx)
	if err != nil {
		lv.Error = err.Error()
		errs = append(errs, "lake: "+err.Error())
	}
	wv.Lake = lv

	for _, o := range w.S3Stats() {
		v := S3OpView{Op: o.Op, Requests: o.Requests, Injected: o.Injected, ByStatus: o.Errors}
		for _, n := range o.Errors {
			v.Errors += n
		}
		wv.S3 = append(wv.S3, v)
	}
	wv.Faults = t.activeFaults()
	wv.SampleMS = float64(time.Since(start).Microseconds()) / 1000
	return wv, errs
}

// lakeSampler returns the Lake panel's sampler (SetLakePrefix replaces it).
func (t *target) lakeSampler() *lakeSampler {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lake
}

func (t *target) setLake(l *lakeSampler) {
	t.mu.Lock()
	t.lake = l
	t.mu.Unlock()
}

func offsetMap(lo kadm.ListedOffsets) map[string]map[int32]int64 {
	out := map[string]map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			return
		}
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.Offset
	})
	return out
}

func (t *target) activeFaults() []ActiveFault {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []ActiveFault{}
	if t.s3Errors != nil {
		out = append(out, ActiveFault{Kind: "s3-errors", Desc: t.s3Errs, Hits: t.s3Errors.Hits()})
	}
	if t.s3Delay != nil {
		out = append(out, ActiveFault{Kind: "s3-latency", Desc: t.s3Delays, Hits: t.s3Delay.Hits()})
	}
	if t.kafkaErrors != nil {
		out = append(out, ActiveFault{Kind: "kafka-errors", Desc: t.kafkaErrs, Hits: t.kafkaErrors.Hits()})
	}
	if t.kafkaDelay != nil {
		out = append(out, ActiveFault{Kind: "kafka-latency", Desc: t.kafkaDelays, Hits: t.kafkaDelay.Hits()})
	}
	return out
}

// observe compares a sample with the previous one and describes what
// changed without an action from the page.
func (t *target) observe(wv *WorldView) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	up := map[int32]bool{}
	for _, b := range wv.Brokers {
		up[b.ID] = b.Up
		was, seen := t.prevUp[b.ID]
		if !seen || was == b.Up {
			continue
		}
		if want, ok := t.expectUp[b.ID]; ok && want == b.Up {
			delete(t.expectUp, b.ID)
			continue
		}
		if b.Up {
			out = append(out, fmt.Sprintf("broker %d is up again", b.ID))
		} else {
			out = append(out, fmt.Sprintf("broker %d went down", b.ID))
		}
	}
	t.prevUp = up
	if len(wv.Topics) == 0 {
		return out // the metadata could not be read: keep the last leaders
	}
	leaders := map[string]int32{}
	moved := 0
	for _, tp := range wv.Topics {
		for _, p := range tp.Partitions {
			k := fmt.Sprintf("%s/%d", tp.Name, p.Partition)
			leaders[k] = p.Leader
			if was, ok := t.prevLeaders[k]; ok && was != p.Leader {
				moved++
			}
		}
	}
	switch {
	case moved > 0 && t.expectMoves:
		t.expectMoves = false
	case moved == 1:
		out = append(out, "the leader of 1 partition moved")
	case moved > 1:
		out = append(out, fmt.Sprintf("the leaders of %d partitions moved", moved))
	}
	t.prevLeaders = leaders
	return out
}

// expect notes (on) or withdraws (!on) the changes an action of the page
// makes, so observe does not report them a second time.
func (t *target) expect(a Action, on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.expectUp == nil {
		t.expectUp = map[int32]bool{}
	}
	switch a.Action {
	case "stop-broker", "restart-broker":
		if a.Broker == nil {
			return
		}
		if on {
			t.expectUp[*a.Broker] = a.Action == "restart-broker"
		} else {
			delete(t.expectUp, *a.Broker)
		}
		t.expectMoves = on
	case "move-leader", "shuffle-leaders":
		t.expectMoves = on
	}
}
