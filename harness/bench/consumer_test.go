package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/tick"
)

var (
	consumerOnce sync.Once
	consumerBin  string
	consumerErr  error
)

// testConsumer builds testdata/consumer, a small Go consumer program of the
// kind a user brings (commit after PUT, one object per polled batch), once
// per test binary.
func testConsumer(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the test consumer")
	}
	consumerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tickflow-bench-consumer-")
		if err != nil {
			consumerErr = err
			return
		}
		consumerBin = filepath.Join(dir, "consumer")
		out, err := exec.Command(goBin, "build", "-o", consumerBin, "./testdata/consumer").CombinedOutput()
		if err != nil {
			consumerErr = errors.New(string(out))
		}
	})
	require.NoError(t, consumerErr, "build testdata/consumer")
	return consumerBin
}

// tinyRun is the smallest whole bench: every phase but memory.
func tinyRun(n int, opts ...Option) []Option {
	return append([]Option{Records(n), Runs(1), SeedSample(100), SkipMemory(), Latency(0.5, 200*time.Millisecond),
		LatencyFlushInterval(100 * time.Millisecond)}, opts...)
}

func TestRunConsumer(t *testing.T) {
	bin := testConsumer(t)
	const n = 3000
	cases := []struct {
		name      string
		command   string
		instances int
		opts      []Option
		drainedBy string
	}{
		{"commits", "exec " + bin, 2, nil, DrainedByCommits},
		// A program that never commits is drained when its lake holds
		// every record.
		{"lake", "exec " + bin + " -nocommit", 1, []Option{func(c *config) { c.lakeAfter = 300 * time.Millisecond }}, DrainedByLake},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var progress strings.Builder
			rep, err := Run(ctx, tinyRun(n, append(tc.opts, Consumer(tc.command), Instances(tc.instances),
				Progress(func(m string) { progress.WriteString(m + "\n") }))...)...)
			require.NoError(t, err, progress.String())
			c := rep.Consumer
			require.NotNil(t, c)
			assert.True(t, c.Drained)
			assert.False(t, c.TimedOut)
			assert.Equal(t, tc.drainedBy, c.DrainedBy)
			assert.Equal(t, tc.instances, c.Instances)
			assert.Equal(t, int64(n), c.Records)
			if tc.drainedBy == DrainedByLake {
				assert.Equal(t, int64(n), c.LakeRecords)
				assert.Zero(t, c.UnreadableFiles)
			}
			for name, v := range map[string]float64{"rate": c.Rate, "× ceiling": c.VsCeiling, "× sink": c.VsSink,
				"× sink median": c.MedianVsSink, "time × ceiling": c.TimeVsCeiling, "time × sink": c.TimeVsSink,
				"consume s": c.ConsumeSeconds, "drain s": c.DrainSeconds} {
				assert.Positive(t, v, name)
			}
			ceil, snk := rep.Phase(PhaseCeiling), rep.Phase(PhaseSink)
			assert.InDelta(t, c.Rate/ceil.BestRate, c.VsCeiling, 1e-9)
			assert.InDelta(t, c.Rate/snk.BestRate, c.VsSink, 1e-9)
			assert.InDelta(t, 1/c.VsSink, c.TimeVsSink, 1e-6*c.TimeVsSink)
			assert.GreaterOrEqual(t, c.DrainSeconds, c.ConsumeSeconds)
			assert.GreaterOrEqual(t, c.FirstObjectSeconds, 0.0, "its first PUT was seen")
			assert.Positive(t, c.Objects)
			assert.Positive(t, c.PeakRSS)
			assert.Equal(t, []string{"0", "0"}[:tc.instances], c.Exits, "it stops cleanly on SIGTERM")

			// The phase is in the table and the plot like the others.
			p := rep.Phase(PhaseConsumer)
			require.NotNil(t, p)
			assert.Equal(t, c.Rate, p.BestRate)
			assert.InDelta(t, c.VsCeiling, p.VsCeiling, 1e-9)
			series := p.Runs[0].Series
			require.NotEmpty(t, series)
			assert.Equal(t, int64(n), series[len(series)-1].Records)
			var table, svg bytes.Buffer
			require.NoError(t, rep.WriteTable(&table))
			assert.Contains(t, table.String(), "your consumer `"+tc.command+"`")
			assert.Contains(t, table.String(), "× tickflow's sink")
			assert.Contains(t, table.String(), "exit status per instance: 0")
			require.NoError(t, rep.WriteSVG(&svg))
			assert.Contains(t, svg.String(), `data-phase="consumer"`)
			assert.Contains(t, progress.String(), "consumer: drained by its "+tc.drainedBy)
		})
	}
}

// A program that cannot make progress is reported as a timeout, with no
// throughput.
func TestRunConsumerTimeout(t *testing.T) {
	bin := testConsumer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// It writes but never commits, and the lake is never counted.
	rep, err := Run(ctx, tinyRun(500, Consumer(bin+" -nocommit"), DrainTimeout(6*time.Second),
		func(c *config) { c.lakeAfter = time.Hour })...)
	require.NoError(t, err)
	c := rep.Consumer
	require.NotNil(t, c)
	assert.True(t, c.TimedOut)
	assert.False(t, c.Drained)
	assert.Zero(t, c.Rate)
	assert.Nil(t, rep.Phase(PhaseConsumer), "a timeout is not a throughput")
	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	assert.Contains(t, table.String(), "TIMED OUT after 6s with 0 of 500 records done")
}

// A program that fails at once fails the bench with its command and output.
func TestRunConsumerFails(t *testing.T) {
	cases := []struct {
		name, command string
		want          []string
	}{
		{"exits non-zero", `echo "cannot reach $KAFKA_BOOTSTRAP_SERVERS" >&2; exit 3`,
			[]string{"exited with 3 before its group drained", "cannot reach 127.0.0.1:"}},
		{"consumes nothing", `echo "waiting for new records"; sleep 30`,
			[]string{"neither committed an offset nor wrote to S3 within 1s", "waiting for new records", "instance 0 (running)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			_, err := Run(ctx, tinyRun(200, Consumer(tc.command), StartTimeout(time.Second), StopGrace(time.Second))...)
			var ce *ConsumerError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.command, ce.Command)
			assert.Contains(t, err.Error(), tc.command)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestEachVolume(t *testing.T) {
	// The sink's own Parquet, and gzip around anything.
	var pq bytes.Buffer
	require.NoError(t, tick.EncodeParquet(&pq, []tick.Row{{Symbol: "HSI", Volume: 7}, {Symbol: "N225", Volume: 8}}))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write([]byte("{\"volume\":9}\n{\"volume\":10}\n"))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	cases := []struct {
		name string
		body string
		want []int64
	}{
		{"json document", `{"symbol":"HSI","volume":100000007}`, []int64{100000007}},
		{"json lines", "{\"volume\":1}\n{\"Volume\":2}\n", []int64{1, 2}},
		{"json array", `[{"volume":3},{"volume":4.0}]`, []int64{3, 4}},
		{"csv", "symbol,Volume\nHSI,5\nN225,6\n", []int64{5, 6}},
		{"parquet", pq.String(), []int64{7, 8}},
		{"gzip json lines", gz.String(), []int64{9, 10}},
		{"no volume", "a,b\n1,2\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []int64
			err := eachVolume([]byte(tc.body), func(v int64) { got = append(got, v) })
			if tc.want == nil {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.ElementsMatch(t, tc.want, got)
		})
	}
}
