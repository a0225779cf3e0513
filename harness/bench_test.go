package harness_test

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness"
)

// BenchmarkWorldStart measures what a test pays for harness.Start(t): the
// default world (3 brokers, 6 partitions, bucket) started, then closed by
// its cleanup, including the goroutine leak check.
func BenchmarkWorldStart(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		r := run(b.Name(), func(t testing.TB) { harness.Start(t) })
		if r.Failed() {
			b.Fatal(r.Messages())
		}
	}
}

// TestManyWorldsInParallel runs 20 worlds at once, each producing, sinking
// and checking its own records, and logs the process's peak memory.
func TestManyWorldsInParallel(t *testing.T) {
	const worlds, records = 20, 300
	var (
		peakHeap atomic.Uint64
		stop     = make(chan struct{})
		sampler  sync.WaitGroup
	)
	sampler.Add(1)
	go func() { // samples heap in use while the worlds run
		defer sampler.Done()
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
	start := time.Now()
	t.Run("group", func(t *testing.T) {
		for i := range worlds {
			t.Run("world"+strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				w := harness.Start(t)
				produced := w.ProduceSynthetic(t, records, uint64(i))
				w.StartSink(t)
				w.WaitCaughtUp(t, harness.SinkGroup, 2*time.Minute)
				w.Lake(t).RequireComplete(produced)
			})
		}
	})
	close(stop)
	sampler.Wait()
	hwm := vmHWM(t)
	t.Logf("%d worlds in parallel (%d records each through the sink): %s; peak heap in use %.1f MiB; process peak RSS (VmHWM) %s",
		worlds, records, time.Since(start).Round(time.Millisecond), float64(peakHeap.Load())/(1<<20), hwm)
	assert.NotZero(t, peakHeap.Load())
}

// vmHWM is the process's peak resident set size from /proc (Linux only).
func vmHWM(t *testing.T) string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "n/a (" + err.Error() + ")"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	require.NoError(t, sc.Err())
	return "n/a"
}
