package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestComputeBestAndMedian(t *testing.T) {
	cases := []struct {
		name       string
		seconds    []float64 // per run, each over 1,000 records
		best, med  float64
		bestRunIdx int
	}{
		{"one run", []float64{2}, 500, 500, 0},
		{"odd", []float64{4, 1, 2}, 1000, 500, 1},
		{"even takes the mean of the middle two", []float64{1, 2, 4, 5}, 1000, (500 + 250) / 2.0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &Phase{Name: PhaseSink}
			for _, s := range tc.seconds {
				p.Runs = append(p.Runs, Trial{Records: 1000, Bytes: 100_000, Seconds: s})
			}
			p.compute()
			assert.InDelta(t, tc.best, p.BestRate, 1e-9)
			assert.InDelta(t, tc.med, p.MedianRate, 1e-9)
			assert.Equal(t, tc.seconds[tc.bestRunIdx], p.Best().Seconds)
			assert.InDelta(t, tc.best*100/1e6, p.BestMBps, 1e-9)
		})
	}
}

func TestComputeRatiosAndTargets(t *testing.T) {
	phase := func(name string, rate float64) *Phase {
		return &Phase{Name: name, Runs: []Trial{{Records: int64(rate), Seconds: 1}}}
	}
	cases := []struct {
		name                  string
		ceil, dec, sink, seed float64
		heapN, heap4N         uint64
		wantOK                map[string]bool
	}{
		{"all met", 1000, 500, 400, 2, 100, 110,
			map[string]bool{"sink / decode": true, "sink / ceiling": true, "sink / seed baseline": true, "peak heap 4N / N": true}},
		{"all missed", 1000, 500, 200, 10, 100, 200,
			map[string]bool{"sink / decode": false, "sink / ceiling": false, "sink / seed baseline": false, "peak heap 4N / N": false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Format: "parquet", RecordBytes: 10, Phases: []*Phase{
				phase(PhaseCeiling, tc.ceil), phase(PhaseDecode, tc.dec), phase(PhaseSink, tc.sink), phase(PhaseSeed, tc.seed)},
				Memory: &MemoryStat{AtN: MemoryRun{PeakHeap: tc.heapN}, At4N: MemoryRun{PeakHeap: tc.heap4N}}}
			r.Compute()
			snk := r.Phase(PhaseSink)
			assert.InDelta(t, tc.sink/tc.ceil, snk.VsCeiling, 1e-9)
			assert.InDelta(t, tc.sink/tc.dec, snk.VsDecode, 1e-9)
			assert.InDelta(t, tc.sink/tc.seed, r.SinkVsSeed, 1e-9)
			assert.InDelta(t, float64(tc.heap4N)/float64(tc.heapN), r.Memory.HeapRatio, 1e-9)
			assert.InDelta(t, tc.sink*10/1e6, snk.BestMBps, 1e-9, "bytes filled from the record size")
			require.Len(t, r.Targets, len(tc.wantOK))
			for _, tg := range r.Targets {
				assert.Equal(t, tc.wantOK[tg.Name], tg.OK, tg.Name)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	vals := []float64{}
	for i := 1; i <= 200; i++ {
		vals = append(vals, float64(i))
	}
	cases := []struct {
		q    float64
		want float64
	}{{0.5, 100}, {0.95, 190}, {0.99, 198}, {1, 200}, {0, 1}}
	for _, tc := range cases {
		assert.Equal(t, tc.want, pct(vals, tc.q), "q=%v", tc.q)
	}
	assert.Equal(t, 0.0, pct(nil, 0.5))
}

func TestBinRates(t *testing.T) {
	// steady: 100 records every 10ms for 1s, a constant 10,000 records/s.
	steady := func(n int, dt float64, per int64) []Sample {
		s := []Sample{{}}
		for i := 1; i <= n; i++ {
			s = append(s, Sample{T: float64(i) * dt, Records: int64(i) * per})
		}
		return s
	}
	// burst: 1,000 records in the first 100ms, then nothing until 1s.
	burst := append(steady(10, 0.01, 100), Sample{T: 1, Records: 1000})
	cases := []struct {
		name       string
		s          []Sample
		target     int
		wantBins   int
		wantMinBin float64
		rate       func(t float64) float64 // the rate expected in the bin starting at t
	}{
		{"steady, bins of 1/target of the run", steady(100, 0.01, 100), 20, 20, 0.05,
			func(float64) float64 { return 10_000 }},
		{"never finer than the sampling interval", steady(4, 0.01, 100), 45, 4, 0.01,
			func(float64) float64 { return 10_000 }},
		{"a burst then idle", burst, 10, 10, 0.1,
			func(t float64) float64 {
				if t < 0.05 {
					return 10_000
				}
				return 0
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bin, pts := binRates(tc.s, tc.target)
			require.Len(t, pts, tc.wantBins)
			assert.GreaterOrEqual(t, bin, tc.wantMinBin-1e-12)
			end := tc.s[len(tc.s)-1].T
			var total float64
			for i, p := range pts {
				assert.InDelta(t, float64(i)*bin, p[0], 1e-9, "bins are equal and start at 0")
				assert.InDelta(t, tc.rate(p[0]), p[1], 1e-6, "bin at %v", p[0])
				total += p[1] * bin
			}
			assert.InDelta(t, end, float64(len(pts))*bin, 1e-9, "bins cover the run")
			assert.InDelta(t, float64(tc.s[len(tc.s)-1].Records), total, 1e-6, "bins add up to the run's records")
		})
	}
	for _, s := range [][]Sample{nil, {{}}, {{}, {T: 0, Records: 5}}} {
		_, pts := binRates(s, 10)
		assert.Empty(t, pts, "%v has no time span", s)
	}
}

func TestNiceStep(t *testing.T) {
	cases := []struct{ raw, want float64 }{{0.03, 0.05}, {0.1, 0.1}, {0.15, 0.2}, {3, 5}, {7, 10}, {0, 1}}
	for _, tc := range cases {
		assert.InDelta(t, tc.want, niceStep(tc.raw), 1e-12, "raw %v", tc.raw)
	}
}

// Ratios of runs too short against their fixed costs are reported as
// unstable, with the fixed costs measured, instead of ✓ or ✗.
func TestTargetsTooSmallForAStableRatio(t *testing.T) {
	// phase is one run of n records at rate after setup seconds.
	phase := func(name string, n int64, rate, setup float64) *Phase {
		return &Phase{Name: name, Runs: []Trial{{Records: n, Seconds: float64(n) / rate, SetupSeconds: setup}}}
	}
	report := func(n int64, setup float64) *Report {
		r := &Report{Records: int(n), Format: "parquet", RecordBytes: 100, Phases: []*Phase{
			phase(PhaseCeiling, n, 3e6, setup), phase(PhaseDecode, n, 1.5e6, setup),
			phase(PhaseSink, n, 1e6, setup), phase(PhaseSeed, 2000, 2e3, setup)}}
		r.Compute()
		return r
	}
	targets := func(r *Report) map[string]Target {
		m := map[string]Target{}
		for _, tg := range r.Targets {
			m[tg.Name] = tg
		}
		return m
	}

	// 50,000 records: the ceiling reads them in 16.7 ms, the decode phase
	// in 33 ms, against 20 ms of fixed costs per run.
	small := report(50_000, 0.020)
	tg := targets(small)
	for _, name := range []string{"sink / decode", "sink / ceiling"} {
		got := tg[name]
		assert.True(t, got.Unstable, name)
		assert.InDelta(t, 20, got.FixedMs, 1e-9, name)
		assert.Contains(t, got.Note(), "N too small for a stable ratio (fixed costs 20 ms", name)
	}
	// The ceiling is the shortest: 10 × 20 ms at 3 M/s is 600,000 records.
	assert.InDelta(t, 16.67, tg["sink / ceiling"].ShortestMs, 0.01)
	assert.InDelta(t, 600_000, tg["sink / ceiling"].NeedRecords, 1)
	assert.InDelta(t, 300_000, tg["sink / decode"].NeedRecords, 1, "the decode phase at 1.5 M/s")
	// The seed's sample (1 s) runs long enough, the sink (50 ms) does not.
	assert.True(t, tg["sink / seed baseline"].Unstable)
	assert.InDelta(t, 200_000, tg["sink / seed baseline"].NeedRecords, 1, "scaled by the sink, not the seed's fixed sample")

	var table bytes.Buffer
	require.NoError(t, small.WriteTable(&table))
	assert.Equal(t, 3, strings.Count(table.String(), "N too small for a stable ratio (fixed costs 20 ms"), table.String())
	assert.NotContains(t, table.String(), "✗ sink /")
	assert.NotContains(t, table.String(), "✓ sink /")
	assert.Contains(t, table.String(), "about --records 600,000")

	// The same rates over 1,000,000 records: every run lasts ≥ 10× its
	// fixed costs, so the targets get their ✓ and ✗.
	big := report(1_000_000, 0.020)
	for _, got := range big.Targets {
		assert.False(t, got.Unstable, got.Name)
		assert.Empty(t, got.Note(), got.Name)
		assert.Zero(t, got.NeedRecords, got.Name)
	}
	table.Reset()
	require.NoError(t, big.WriteTable(&table))
	assert.NotContains(t, table.String(), "too small")
	assert.Equal(t, len(big.Targets), strings.Count(table.String(), "✓")+strings.Count(table.String(), "✗"))

	// JSON carries the verdict and the measured fixed costs.
	b, err := json.Marshal(small)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"unstable":true`)
	assert.Contains(t, string(b), `"fixed_costs_ms":20`)
}
