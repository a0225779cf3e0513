package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/program"
)

// The consumer phase's clocks.
const (
	// drainPoll is how often the phase reads the group's committed
	// offsets and the S3 counters: the resolution of its drain time.
	drainPoll = 25 * time.Millisecond
	// meterEvery is how often the user's processes' RSS and CPU are read.
	meterEvery = 100 * time.Millisecond
	// defaultLakeAfter is how long after its first Fetch a group may go
	// without committing before the phase also counts the records in its
	// lake (a consumer that does not commit); lakeEvery is how often it
	// then reads the lake.
	defaultLakeAfter = 10 * time.Second
	lakeEvery        = time.Second
)

// Ways a consumer phase ends; ConsumerStat.DrainedBy.
const (
	DrainedByCommits = "commits" // the group's committed offsets reached every partition's end
	DrainedByLake    = "lake"    // every record is in the lake (a consumer that does not commit)
)

// ConsumerStat is the consumer phase: a program of the user's, run as
// Instances OS processes over the same N records the other phases read.
// Its rate is over ConsumeSeconds, from the group's first Fetch of the
// topic to the drain, as the sink phase's is from its first record to its
// last commit; DrainSeconds adds the program's start-up.
type ConsumerStat struct {
	Command   string `json:"command"`
	Instances int    `json:"instances"`
	Group     string `json:"group"`
	Prefix    string `json:"prefix"` // TICKFLOW_PREFIX

	Drained   bool   `json:"drained"`
	DrainedBy string `json:"drained_by,omitempty"` // DrainedByCommits or DrainedByLake
	TimedOut  bool   `json:"timed_out"`
	// DrainTimeout is the bound on the phase, in seconds.
	DrainTimeout float64 `json:"drain_timeout_s"`
	// Records is how many records were done when the phase ended: Total
	// when drained, else the committed (or, counting the lake, stored)
	// ones.
	Records int64 `json:"records"`
	Total   int64 `json:"total_records"` // N, the records in the topic

	StartupSeconds     float64 `json:"startup_s"`      // start → the group's first Fetch of the topic
	FirstObjectSeconds float64 `json:"first_object_s"` // start → first successful S3 write; -1: none
	DrainSeconds       float64 `json:"drain_s"`        // start → drained (start-up included)
	ConsumeSeconds     float64 `json:"consume_s"`      // first Fetch → drained
	Rate               float64 `json:"records_per_s"`  // N / ConsumeSeconds; 0 unless drained

	// Ratios to the best runs of the same run's phases; the Time ones are
	// ConsumeSeconds over the phase's time for the same N records.
	VsCeiling       float64 `json:"vs_ceiling"`
	VsSink          float64 `json:"vs_sink"`
	MedianVsSink    float64 `json:"median_vs_sink"` // over the sink's median rate
	TimeVsCeiling   float64 `json:"time_vs_ceiling"`
	TimeVsSink      float64 `json:"time_vs_sink"`
	SinkInstances   int     `json:"sink_instances"` // tickflow's sinks per run (Consumers)
	Objects         int64   `json:"objects"`        // successful PUTs (and multipart calls) during the phase
	LakeRecords     int64   `json:"lake_records"`   // distinct records counted in the lake; -1: not counted
	UnreadableFiles int     `json:"unreadable_objects"`

	// PeakRSS is the highest sum of the resident memory of every process
	// in the instances' process groups (sampled every 100 ms); CPU is their user+system time
	// until the drain (or the timeout) was seen — for a program drained by
	// its lake, up to the scan that found it complete.
	PeakRSS      uint64  `json:"peak_rss_bytes"`
	CPUSeconds   float64 `json:"cpu_s"`
	CPUPerRecord float64 `json:"cpu_us_per_record"`

	// Exits is how each instance ended after the phase's SIGTERM
	// ("killed by SIGTERM", "0", "killed after 10s").
	Exits []string `json:"exits"`
	Run   Trial    `json:"run"` // records done over time (the plot's series)
}

// ConsumerError is a consumer program that failed the bench: it exited
// before the group drained, or consumed nothing within the start timeout.
type ConsumerError struct {
	Command string
	Reason  string
	// Outputs is the tail of each instance's output, labelled.
	Outputs []string
}

func (e *ConsumerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bench: consumer command `%s` %s", e.Command, e.Reason)
	for _, o := range e.Outputs {
		b.WriteString("\n" + o)
	}
	return b.String()
}

// outputTail is how much of each instance's output a ConsumerError shows.
const outputTail = 2000

// consumer runs the user's program over the main topic until its group
// drained it (committed offsets at every partition's end, or every record
// in its lake), the drain timeout passed, or the program failed.
func (b *phaser) consumer(ctx context.Context, ends map[int32]int64) (*ConsumerStat, error) {
	cfg, w := b.cfg, b.w
	want := sum(ends)
	stamp := time.Now().UnixNano()
	st := &ConsumerStat{Command: cfg.consumerCmd, Instances: cfg.consumerInstances(), SinkInstances: cfg.consumers,
		Group: fmt.Sprintf("bench-consumer-%d", stamp), Prefix: fmt.Sprintf("bench/consumer-%d/", stamp),
		DrainTimeout: cfg.drainTimeout.Seconds(), FirstObjectSeconds: -1, LakeRecords: -1, Total: want}
	co := program.Coordinates{Brokers: w.w.KafkaAddrs(), Topic: mainTopic, Group: st.Group,
		S3Endpoint: w.w.S3Endpoint(), Bucket: w.w.Bucket(), Prefix: st.Prefix, Region: w.w.Region()}

	// The group's first Fetch of the topic starts the clock, as the first
	// record does for the other phases. Only the user's processes fetch
	// during this phase.
	tds, err := w.admin.ListTopics(ctx, mainTopic)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", mainTopic, err)
	}
	topicID := tds[mainTopic].ID
	var firstFetch atomic.Int64
	stopWatch := w.w.Coordinator().WatchKafka(kmsg.Fetch, func(req kmsg.Request) {
		f, ok := req.(*kmsg.FetchRequest)
		if !ok || firstFetch.Load() != 0 {
			return
		}
		for _, t := range f.Topics {
			if t.Topic == mainTopic || (t.TopicID != [16]byte{} && t.TopicID == topicID) {
				firstFetch.CompareAndSwap(0, time.Now().UnixNano())
				return
			}
		}
	})
	defer stopWatch()
	writes0 := s3Writes(w.w.S3Stats())

	cfg.progress(fmt.Sprintf("consumer: starting %s of `%s` (group %s, prefix %s); drained when its committed offsets reach the end of every partition, or every record is in its lake; at most %s",
		nouns(st.Instances, "instance"), cfg.consumerCmd, st.Group, st.Prefix, cfg.drainTimeout))
	start := time.Now()
	procs := make([]*program.Process, 0, st.Instances)
	meter := program.NewMeter()
	defer func() { st.Exits = stopAll(procs, cfg.stopGrace) }()
	for i := range st.Instances {
		p, err := program.Start(co.Expand(cfg.consumerCmd, i), cfg.consumerDir, co.Env(os.Environ(), i, ""))
		if err != nil {
			return nil, &ConsumerError{Command: cfg.consumerCmd, Reason: fmt.Sprintf("could not start instance %d: %v", i, err)}
		}
		procs = append(procs, p)
		meter.Add(p.Pid())
	}
	outputs := func() []string {
		var out []string
		for i, p := range procs {
			status := "running"
			if p.Exited() {
				status = "exit " + program.ExitText(p.Err())
			}
			out = append(out, fmt.Sprintf("--- instance %d (%s), output:\n%s", i, status, p.Tail(outputTail)))
		}
		return out
	}

	// Memory and CPU, every meterEvery until the phase ends.
	meterCtx, stopMeter := context.WithCancel(ctx)
	var meterWG sync.WaitGroup
	meterWG.Go(func() {
		tk := time.NewTicker(meterEvery)
		defer tk.Stop()
		for {
			_, _, _, _ = meter.Sample()
			select {
			case <-meterCtx.Done():
				return
			case <-tk.C:
			}
		}
	})
	finishMeter := sync.OnceFunc(func() {
		stopMeter()
		meterWG.Wait()
		_, _, _, _ = meter.Sample()
		st.CPUSeconds = meter.CPU().Seconds()
		st.PeakRSS = meter.PeakRSS()
	})
	defer finishMeter()

	// The lake count, for a group that does not commit: started lakeAfter
	// its first Fetch, read every lakeEvery in the background.
	lake := newLakeCount(w.store, st.Prefix, want)
	var (
		lakeMu      sync.Mutex
		lakeRecords int64     = -1
		lakeListed  time.Time // when the scan that counted lakeRecords listed the objects
	)
	var lakeOnce sync.Once
	lakeCtx, stopLake := context.WithCancel(ctx)
	var lakeWG sync.WaitGroup
	defer func() { stopLake(); lakeWG.Wait() }()
	startLake := func() {
		lakeOnce.Do(func() {
			cfg.progress(fmt.Sprintf("consumer: no offset committed %s after the first fetch: also counting the records in the lake under %s", cfg.lakeAfter, st.Prefix))
			lakeWG.Go(func() {
				for {
					listed := time.Now()
					if n, err := lake.scan(lakeCtx); err == nil {
						lakeMu.Lock()
						lakeRecords, lakeListed = n, listed
						lakeMu.Unlock()
					}
					select {
					case <-lakeCtx.Done():
						return
					case <-time.After(lakeEvery):
					}
				}
			})
		})
	}

	type sample struct {
		at time.Time
		n  int64
	}
	var samples []sample
	deadline := start.Add(cfg.drainTimeout)
	startBy := start.Add(min(cfg.startTimeout, cfg.drainTimeout))
	var (
		end        time.Time
		done       int64
		firstWrite time.Time
		allExited  bool
		// wroteAt is when each poll saw the S3 write count grow: a lake
		// found complete was complete at the last of them before the
		// scan listed it.
		wroteAt   []time.Time
		lastWrite int64
	)
	tk := time.NewTicker(drainPoll)
	defer tk.Stop()
	for {
		committed, drained, err := w.committed(ctx, st.Group, ends)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The answer's time: a drain it shows happened before it (and
		// after the previous answer).
		now := time.Now()
		done = committed
		if drained {
			st.DrainedBy = DrainedByCommits
		}
		writes := s3Writes(w.w.S3Stats()) - writes0
		st.Objects = writes
		if writes > 0 && firstWrite.IsZero() {
			firstWrite = now
		}
		if writes > lastWrite {
			lastWrite = writes
			wroteAt = append(wroteAt, now)
		}
		lakeMu.Lock()
		n, listed := lakeRecords, lakeListed
		lakeMu.Unlock()
		if n >= 0 {
			st.LakeRecords = n
			if n > done {
				done = n
			}
			if !drained && n >= want {
				drained, st.DrainedBy = true, DrainedByLake
				// The scans run every second, from lakeAfter on: the
				// lake was complete by its last write before the scan.
				now = listed
				if i, _ := slices.BinarySearchFunc(wroteAt, listed, time.Time.Compare); i > 0 {
					now = wroteAt[i-1]
				}
			}
		}
		if len(samples) == 0 || samples[len(samples)-1].n != done {
			samples = append(samples, sample{now, done})
		}
		if ff := firstFetch.Load(); ff != 0 && committed == 0 && now.Sub(time.Unix(0, ff)) >= cfg.lakeAfter {
			startLake()
		}
		if drained {
			end = now
			break
		}
		if allExited {
			return nil, &ConsumerError{Command: cfg.consumerCmd, Outputs: outputs(),
				Reason: fmt.Sprintf("exited before its group drained the topic (%s of %s records done)", count(done), count(want))}
		}
		// A failure shows at once; an instance that exits 0 may have
		// finished its share, so the phase waits for the others, and
		// fails once every instance is gone without a drain (after this
		// poll's final look at the commits).
		exited := 0
		for i, p := range procs {
			if !p.Exited() {
				continue
			}
			exited++
			if p.Err() != nil {
				return nil, &ConsumerError{Command: cfg.consumerCmd, Outputs: outputs(),
					Reason: fmt.Sprintf("instance %d exited with %s before its group drained the topic (%s of %s records done)",
						i, program.ExitText(p.Err()), count(done), count(want))}
			}
		}
		allExited = exited == len(procs)
		if done == 0 && writes == 0 && now.After(startBy) {
			hint := ""
			if firstFetch.Load() != 0 {
				hint = "; it fetched from the topic: does it read from the earliest offset when its group has none (auto.offset.reset=earliest)? The topic was filled before it started"
			}
			return nil, &ConsumerError{Command: cfg.consumerCmd, Outputs: outputs(),
				Reason: fmt.Sprintf("neither committed an offset nor wrote to S3 within %s of its start%s", startBy.Sub(start).Round(time.Second), hint)}
		}
		if now.After(deadline) {
			st.TimedOut = true
			end = now
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tk.C:
		}
	}
	finishMeter()
	// Not wait4's ru_maxrss: Go starts the instances with vfork, so it
	// includes the bench's own resident memory at their start (see
	// program.Process.Rusage).
	st.Records = done
	if !firstWrite.IsZero() {
		st.FirstObjectSeconds = firstWrite.Sub(start).Seconds()
	}
	first := start
	if ff := firstFetch.Load(); ff != 0 {
		first = time.Unix(0, ff)
		st.StartupSeconds = first.Sub(start).Seconds()
	}
	st.DrainSeconds = end.Sub(start).Seconds()
	st.ConsumeSeconds = end.Sub(first).Seconds()
	st.CPUPerRecord = ratio(st.CPUSeconds*1e6, float64(done))
	run := Trial{Records: done, Seconds: st.ConsumeSeconds, Series: []Sample{{T: 0, Records: 0}}}
	for _, s := range samples {
		if s.at.Before(first) || s.n == 0 || s.at.After(end) {
			continue
		}
		run.Series = append(run.Series, Sample{T: s.at.Sub(first).Seconds(), Records: s.n})
	}
	if last := run.Series[len(run.Series)-1]; last.T < run.Seconds {
		run.Series = append(run.Series, Sample{T: run.Seconds, Records: done})
	}
	st.Run = run
	if st.Drained = !st.TimedOut; st.Drained {
		st.Records = want
		st.Run.Records = want
		st.Run.finish()
		st.Rate = st.Run.Rate
	}
	st.UnreadableFiles = len(lake.unreadable)
	return st, nil
}

// committed is how many of the records up to ends the group has committed
// and whether every partition is committed to its end.
func (w *world) committed(ctx context.Context, group string, ends map[int32]int64) (int64, bool, error) {
	offs, err := w.admin.FetchOffsets(ctx, group)
	if err != nil {
		return 0, false, err
	}
	var n int64
	drained := true
	for p, e := range ends {
		o, ok := offs.Lookup(mainTopic, p)
		at := int64(0)
		if ok && o.Err == nil && o.At > 0 {
			at = min(o.At, e)
		}
		n += at
		drained = drained && at >= e
	}
	return n, drained, nil
}

// s3Writes is the fake S3's successful writes so far: PUTs (objects and
// copies) and multipart calls.
func s3Writes(stats []broker.S3OpStats) int64 {
	var n int64
	for _, s := range stats {
		if s.Op != "PUT" && s.Op != "MULTIPART" {
			continue
		}
		n += s.Requests
		for _, e := range s.Errors {
			n -= e
		}
	}
	return n
}

// stopAll sends SIGTERM to every process at once, SIGKILL after grace,
// and says how each ended.
func stopAll(procs []*program.Process, grace time.Duration) []string {
	exits := make([]string, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() {
			if !p.Exited() && errors.Is(p.Terminate(grace), program.ErrStopTimeout) {
				exits[i] = fmt.Sprintf("killed %s after SIGTERM", grace)
				return
			}
			exits[i] = program.ExitText(p.Err())
		})
	}
	wg.Wait()
	return exits
}
