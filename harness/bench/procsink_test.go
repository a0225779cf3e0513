package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	tickflowOnce sync.Once
	tickflowBin  string
	tickflowErr  error
)

// testTickflow is $TICKFLOW_BIN, or cmd/tickflow built once per test binary
// without cgo (the sink needs no DuckDB, and the build is much faster).
func testTickflow(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("TICKFLOW_BIN"); bin != "" {
		return bin
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build tickflow and no $TICKFLOW_BIN")
	}
	tickflowOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tickflow-bench-bin-")
		if err != nil {
			tickflowErr = err
			return
		}
		tickflowBin = filepath.Join(dir, "tickflow")
		cmd := exec.Command(goBin, "build", "-o", tickflowBin, "../../cmd/tickflow")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			tickflowErr = errors.New(string(out))
		}
	})
	require.NoError(t, tickflowErr, "build cmd/tickflow")
	return tickflowBin
}

// The memory phase runs `tickflow sink` as its own process over N and 4×N
// records and reports its peak RSS and the ratio, in the table and in
// JSON. Not timed: the figures must exist and be plausible.
func TestMemorySinkProcess(t *testing.T) {
	bin := testTickflow(t)
	const n = 3000
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := defaults()
	cfg.records, cfg.sinkBin = n, bin
	m, err := memory(ctx, &cfg)
	require.NoError(t, err)
	pm := m.Process
	require.NotNil(t, pm, m.ProcessNote)
	assert.Equal(t, bin, pm.Binary)
	for _, c := range []struct {
		pr   ProcRun
		want int64
	}{{pm.AtN, n}, {pm.At4N, 4 * n}} {
		pr := c.pr
		assert.Equal(t, c.want, pr.Records)
		assert.Equal(t, DefaultPartitions, pr.Partitions)
		assert.Equal(t, 1, pr.Processes)
		// A Go program with Kafka and S3 clients: more than 8 MiB, and a
		// few thousand records need far less than 1 GiB.
		assert.Greater(t, pr.PeakRSS, uint64(8<<20), "peak RSS of %d records", pr.Records)
		assert.Less(t, pr.PeakRSS, uint64(1<<30), "peak RSS of %d records", pr.Records)
		assert.GreaterOrEqual(t, pr.PeakRSSSum, pr.PeakRSS)
		assert.Equal(t, pr.PeakRSS/uint64(DefaultPartitions), pr.RSSPerPartition, "one process owns every partition")
		assert.Positive(t, pr.CPUSeconds)
		assert.InDelta(t, float64(pr.Records)/pr.CPUSeconds, pr.PerCore, 1e-6*pr.PerCore)
		assert.Positive(t, pr.Seconds)
		assert.Positive(t, pr.StartupSeconds)
	}

	rep := &Report{Records: n, Memory: m, RecordBytes: 100}
	rep.Compute()
	assert.InDelta(t, float64(pm.At4N.PeakRSS)/float64(pm.AtN.PeakRSS), pm.RSSRatio, 1e-9)
	names := map[string]float64{}
	for _, tg := range rep.Targets {
		names[tg.Name] = tg.Got
	}
	assert.InDelta(t, float64(pm.AtN.PeakRSS)/(1<<20), names["sink process RSS at N"], 1e-9)
	assert.InDelta(t, pm.RSSRatio, names["sink process RSS 4N / N"], 1e-9)

	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	assert.Contains(t, table.String(), "the sink as its own process")
	assert.Contains(t, table.String(), mib(pm.AtN.PeakRSS))
	assert.Contains(t, table.String(), mib(pm.At4N.PeakRSS))

	b, err := json.Marshal(rep)
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(b, &back))
	require.NotNil(t, back.Memory.Process)
	assert.Equal(t, pm.AtN.PeakRSS, back.Memory.Process.AtN.PeakRSS)
	assert.Equal(t, pm.At4N.PeakRSS, back.Memory.Process.At4N.PeakRSS)
	assert.Equal(t, pm.RSSRatio, back.Memory.Process.RSSRatio)
}

func TestParseSinkJSON(t *testing.T) {
	out := "tickflow sink: warming up\n{\"consumed\":12,\"written\":12,\"objects\":1}\ntime=… level=WARN msg=bye\n"
	st, err := parseSinkJSON(out)
	require.NoError(t, err)
	assert.Equal(t, procSinkJSON{Consumed: 12, Written: 12}, st)
	_, err = parseSinkJSON("consumed 12 records\n")
	assert.Error(t, err)
}
