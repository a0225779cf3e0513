package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/program"
)

// ProcRun is `tickflow sink` run as Processes OS processes (one group)
// over a topic of Records records in Partitions partitions: the sink's
// own CPU and memory, without the embedded brokers and S3 that serve it
// (those stay in the bench's process).
type ProcRun struct {
	Records    int64 `json:"records"`
	Partitions int   `json:"partitions"`
	Processes  int   `json:"processes"`
	// StartupSeconds is from starting the processes to the group's first
	// Fetch of the topic (process start, S3 check, group join).
	StartupSeconds float64 `json:"startup_s"`
	// Seconds is from the first Fetch to the moment the last process
	// exited after its final upload and commit (the processes get SIGTERM
	// once the group has fetched every partition to its end).
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"records_per_s"` // Records / Seconds
	// CPUSeconds is the user+system time of the sink processes (wait4),
	// start-up included; PerCore is Records / CPUSeconds: records/s per
	// fully used core, which a busy shared machine changes much less than
	// Rate.
	CPUSeconds float64 `json:"cpu_s"`
	PerCore    float64 `json:"records_per_cpu_s"`
	// PeakRSS is the largest peak resident memory of one process: the
	// kernel's high-water mark (VmHWM) the process reads of itself at its
	// exit (`tickflow sink --json`), or else the highest VmHWM sampled
	// every 100 ms. (wait4's ru_maxrss would include the bench's own
	// memory: Go starts a child with vfork, and its exec records the
	// shared memory's high-water mark.) PeakRSSSum is the highest sum over
	// the processes seen by a 100 ms sample.
	PeakRSS    uint64 `json:"peak_rss_bytes"`
	PeakRSSSum uint64 `json:"peak_rss_sum_bytes"`
	// RSSPerPartition is PeakRSS over the partitions one process owns
	// (Partitions / Processes, rounded up).
	RSSPerPartition uint64 `json:"peak_rss_per_owned_partition_bytes"`
}

// sinkBinary is the tickflow binary the process runs start: SinkBinary,
// else $TICKFLOW_BIN; "" when neither is set.
func (c *config) sinkBinary() string {
	if c.sinkBin != "" {
		return c.sinkBin
	}
	return os.Getenv("TICKFLOW_BIN")
}

// procSinkJSON is what `tickflow sink --json` prints at its end.
type procSinkJSON struct {
	Consumed int64  `json:"consumed"`
	Written  int64  `json:"written"`
	PeakRSS  uint64 `json:"peak_rss_bytes"` // its VmHWM at exit
}

// runSinkProcs runs procs `tickflow sink` processes (bin) in one new group
// over topic until the group has fetched every partition to its end, then
// stops them with SIGTERM (a clean shutdown: final flush, upload, commit)
// and checks that every partition is committed to its end and every record
// was written once. The lake goes under a prefix of its own, deleted after.
func runSinkProcs(ctx context.Context, cfg *config, w *world, bin, topic string, procs int, ends map[int32]int64) (ProcRun, error) {
	want := sum(ends)
	run := ProcRun{Records: want, Partitions: len(ends), Processes: procs}
	ctx, cancel := context.WithTimeout(ctx, runTimeout(want)+30*time.Second)
	defer cancel()
	stamp := time.Now().UnixNano()
	group := fmt.Sprintf("bench-proc-%s-%d", topic, stamp)
	prefix := fmt.Sprintf("bench/proc-%d", stamp)

	// The group's Fetch requests say how far it has read: the sink fetches
	// offset o of a partition only once it has polled everything before o
	// (kgo fetches again only when the buffered records were taken).
	tds, err := w.admin.ListTopics(ctx, topic)
	if err != nil {
		return run, fmt.Errorf("describe %s: %w", topic, err)
	}
	topicID := tds[topic].ID
	var (
		mu        sync.Mutex
		fetched   = map[int32]int64{}
		reached   int
		firstF    atomic.Int64
		allRead   = make(chan struct{})
		closeOnce sync.Once
	)
	for _, e := range ends {
		if e == 0 {
			reached++
		}
	}
	if reached == len(ends) {
		closeOnce.Do(func() { close(allRead) })
	}
	stopWatch := w.w.Coordinator().WatchKafka(kmsg.Fetch, func(req kmsg.Request) {
		f, ok := req.(*kmsg.FetchRequest)
		if !ok {
			return
		}
		for _, t := range f.Topics {
			if t.Topic != topic && (t.TopicID == [16]byte{} || t.TopicID != topicID) {
				continue
			}
			firstF.CompareAndSwap(0, time.Now().UnixNano())
			mu.Lock()
			for _, p := range t.Partitions {
				e, ok := ends[p.Partition]
				if !ok {
					continue
				}
				if old := fetched[p.Partition]; p.FetchOffset > old {
					fetched[p.Partition] = p.FetchOffset
					if old < e && p.FetchOffset >= e && e > 0 {
						reached++
					}
				}
			}
			if reached == len(ends) {
				closeOnce.Do(func() { close(allRead) })
			}
			mu.Unlock()
		}
	})
	defer stopWatch()

	args := []string{"sink", "--brokers", strings.Join(w.w.KafkaAddrs(), ","),
		"--s3-endpoint", w.w.S3Endpoint(), "--bucket", w.w.Bucket(), "--region", w.w.Region(),
		"--access-key", broker.AccessKey, "--secret-key", broker.SecretKey,
		"--topic", topic, "--group", group, "--prefix", prefix, "--format", string(cfg.format), "--json"}
	start := time.Now()
	ps := make([]*program.Process, 0, procs)
	defer func() {
		for _, p := range ps {
			if !p.Exited() {
				p.Kill()
			}
		}
	}()
	meter := program.NewMeter()
	hwm := make([]uint64, procs) // VmHWM sampled, per process
	sample := func() {
		_, _, _, _ = meter.Sample()
		for i, p := range ps {
			hwm[i] = max(hwm[i], program.StatusField(p.Pid(), "VmHWM"))
		}
	}
	for i := range procs {
		p, err := program.StartCmd(exec.Command(bin, args...), "", nil)
		if err != nil {
			return run, fmt.Errorf("start sink process %d: %w", i, err)
		}
		ps = append(ps, p)
		meter.Add(p.Pid())
	}
	outputs := func() string {
		var b strings.Builder
		for i, p := range ps {
			status := "running"
			if p.Exited() {
				status = "exit " + program.ExitText(p.Err())
			}
			fmt.Fprintf(&b, "\n--- tickflow sink process %d (%s), output:\n%s", i, status, p.Tail(outputTail))
		}
		return b.String()
	}
	tk := time.NewTicker(meterEvery)
	defer tk.Stop()
wait:
	for {
		sample()
		select {
		case <-allRead:
			break wait
		case <-ctx.Done():
			return run, fmt.Errorf("sink processes fetched %s only partly (%v of ends %v): %w%s", topic, fetchedCopy(&mu, fetched), ends, errStalled, outputs())
		case <-tk.C:
		}
		for i, p := range ps {
			if p.Exited() {
				return run, fmt.Errorf("sink process %d exited (%s) before its group read %s%s", i, program.ExitText(p.Err()), topic, outputs())
			}
		}
	}
	// Every process must be a member before the stop (a process still
	// starting could die of the SIGTERM before it handles it): with tiny
	// topics one member can read everything before the others joined.
	if err := (&phaser{cfg: cfg, w: w}).waitGroupStable(ctx, group, procs); err != nil {
		return run, fmt.Errorf("%w%s", err, outputs())
	}
	// Stop them all at once; the last exit (after its final commit) ends
	// the run.
	var wg sync.WaitGroup
	errs := make([]error, len(ps))
	for i, p := range ps {
		wg.Go(func() {
			if err := p.Terminate(time.Minute); err != nil {
				errs[i] = fmt.Errorf("sink process %d: %w", i, err)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
sampling:
	for {
		sample()
		select {
		case <-done:
			break sampling
		case <-tk.C:
		}
	}
	end := time.Now()
	if err := errors.Join(errs...); err != nil {
		return run, err
	}
	first := time.Unix(0, firstF.Load())
	run.StartupSeconds = first.Sub(start).Seconds()
	run.Seconds = end.Sub(first).Seconds()
	run.Rate = ratio(float64(want), run.Seconds)
	var written int64
	for i, p := range ps {
		cpu, _, ok := p.Rusage()
		if !ok {
			return run, fmt.Errorf("sink process %d: no resource usage after its exit", i)
		}
		run.CPUSeconds += cpu.Seconds()
		st, err := parseSinkJSON(p.Output())
		if err != nil {
			return run, fmt.Errorf("sink process %d: %w%s", i, err, outputs())
		}
		written += st.Written
		rss := st.PeakRSS
		if rss == 0 { // a tickflow binary that does not report it
			rss = hwm[i]
		}
		run.PeakRSS = max(run.PeakRSS, rss)
	}
	run.PeakRSSSum = max(meter.PeakRSS(), run.PeakRSS)
	run.PerCore = ratio(float64(want), run.CPUSeconds)
	owned := (len(ends) + procs - 1) / procs
	run.RSSPerPartition = run.PeakRSS / uint64(max(1, owned))
	if written != want {
		return run, fmt.Errorf("sink processes wrote %d rows, want %d%s", written, want, outputs())
	}
	offs, err := w.admin.FetchOffsets(ctx, group)
	if err != nil {
		return run, fmt.Errorf("committed offsets of %s: %w", group, err)
	}
	for p, e := range ends {
		o, ok := offs.Lookup(topic, p)
		if e > 0 && (!ok || o.Err != nil || o.At != e) {
			return run, fmt.Errorf("group %s: partition %d committed at %d, want its end %d", group, p, o.At, e)
		}
	}
	// Free the fake S3 for the next runs (untimed).
	objs, err := w.store.List(ctx, prefix+"/")
	if err != nil {
		return run, fmt.Errorf("list %s: %w", prefix, err)
	}
	for _, o := range objs {
		if err := w.store.Delete(ctx, o.Key); err != nil {
			return run, fmt.Errorf("delete %s: %w", o.Key, err)
		}
	}
	return run, nil
}

func fetchedCopy(mu *sync.Mutex, m map[int32]int64) map[int32]int64 {
	mu.Lock()
	defer mu.Unlock()
	out := make(map[int32]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// parseSinkJSON finds `tickflow sink --json`'s final document in its
// output (stdout and stderr interleaved).
func parseSinkJSON(out string) (procSinkJSON, error) {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, `{"consumed"`) {
			continue
		}
		var st procSinkJSON
		if err := json.Unmarshal([]byte(l), &st); err != nil {
			return st, fmt.Errorf("its --json stats %q: %w", l, err)
		}
		return st, nil
	}
	return procSinkJSON{}, errors.New("no --json stats in its output")
}
