package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/tickflow/tickflow/broker"
)

// memTopic4N holds the 4×N records of the memory phase.
const memTopic4N = "bench-ticks-4n"

// memory runs the sink over N and then 4×N records in a world that keeps
// Kafka segments and S3 objects on disk (a temporary DataDir), so the
// process's heap is the clients' working set, not the stored data.
func memory(ctx context.Context, cfg *config) (*MemoryStat, error) {
	dir, err := os.MkdirTemp("", "tickflow-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: memory phase: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg.progress("memory: starting a world with its data on disk")
	w, err := startWorld(ctx, cfg, broker.DataDir(dir))
	if err != nil {
		return nil, err
	}
	defer w.Close()
	if err := w.createTopic(ctx, memTopic4N, cfg.partitions); err != nil {
		return nil, err
	}
	m := &MemoryStat{}
	bin := cfg.sinkBinary()
	if bin != "" {
		m.Process = &ProcessMemory{Binary: bin}
	} else {
		m.ProcessNote = "not measured: no tickflow binary (bench.SinkBinary or $TICKFLOW_BIN)"
	}
	for _, c := range []struct {
		topic string
		n     int
		out   *MemoryRun
		proc  func() *ProcRun
	}{{mainTopic, cfg.records, &m.AtN, func() *ProcRun { return &m.Process.AtN }},
		{memTopic4N, 4 * cfg.records, &m.At4N, func() *ProcRun { return &m.Process.At4N }}} {
		cfg.progress(fmt.Sprintf("memory: producing %s ticks", count(int64(c.n))))
		if _, err := w.produce(ctx, c.topic, c.n, cfg.seed); err != nil {
			return nil, err
		}
		ends, err := w.endOffsets(ctx, c.topic)
		if err != nil {
			return nil, err
		}
		ph := &phaser{cfg: cfg, w: w}
		group := fmt.Sprintf("bench-mem-%s-%d", c.topic, time.Now().UnixNano())
		mr, err := measure(func() (Trial, error) {
			return runSinks(ctx, cfg, w, w.store, c.topic, group, ends, ph.sinkOpts(c.topic, group, "bench/"+group))
		})
		if err != nil {
			return nil, fmt.Errorf("bench: memory phase, %d records: %w", c.n, err)
		}
		*c.out = mr
		cfg.progress(fmt.Sprintf("memory: %s records: peak heap %s above baseline, peak RSS %s",
			count(mr.Records), mib(mr.PeakHeap), mib(mr.PeakRSS)))
		if m.Process == nil {
			continue
		}
		pr, err := runSinkProcs(ctx, cfg, w, bin, c.topic, 1, ends)
		if err != nil {
			return nil, fmt.Errorf("bench: memory phase, the sink as its own process, %d records: %w", c.n, err)
		}
		*c.proc() = pr
		cfg.progress(fmt.Sprintf("memory: %s records, `tickflow sink` as its own process: peak RSS %s, CPU %s",
			count(pr.Records), mib(pr.PeakRSS), duration(pr.CPUSeconds)))
	}
	return m, nil
}

// measure runs fn and samples the heap every 2ms meanwhile.
func measure(fn func() (Trial, error)) (MemoryRun, error) {
	runtime.GC()
	debug.FreeOSMemory()
	// "5" resets VmHWM to the current RSS (Linux ≥ 4.0), so the peak we
	// read afterwards is this run's, not the process's lifetime peak.
	reset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/allocs:objects"}}
	metrics.Read(samples)
	baseHeap, allocB0, allocO0 := samples[0].Value.Uint64(), samples[1].Value.Uint64(), samples[2].Value.Uint64()
	mr := MemoryRun{BaselineHeap: baseHeap, BaselineRSS: procStatus("VmRSS"), RSSReset: reset}
	var peak atomic.Uint64
	peak.Store(baseHeap)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				metrics.Read(s)
				if v := s[0].Value.Uint64(); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	run, err := fn()
	close(stop)
	<-done
	if err != nil {
		return MemoryRun{}, err
	}
	metrics.Read(samples)
	mr.Records, mr.Seconds = run.Records, run.Seconds
	mr.PeakHeap = peak.Load() - baseHeap
	mr.PeakRSS = procStatus("VmHWM")
	mr.AllocBytesPer = float64(samples[1].Value.Uint64()-allocB0) / float64(run.Records)
	mr.AllocObjectsPer = float64(samples[2].Value.Uint64()-allocO0) / float64(run.Records)
	return mr, nil
}
