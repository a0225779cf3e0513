package bench

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// steadyRun is a run of records at rate, sampled every 10ms.
func steadyRun(records int64, rate float64) Trial {
	sec := float64(records) / rate
	tr := Trial{Records: records, Bytes: records * 100, Seconds: sec, Series: []Sample{{}}}
	for t := 0.01; t < sec; t += 0.01 {
		tr.Series = append(tr.Series, Sample{T: t, Records: int64(t * rate)})
	}
	tr.Series = append(tr.Series, Sample{T: sec, Records: records})
	return tr
}

// syntheticReport has the four throughput phases at the given rates, each
// over runs runs (the k-th run at rate × (1 - k/10)), and a latency phase.
func syntheticReport(format string, runs int, latency bool, rates ...float64) *Report {
	r := &Report{Records: 100_000, Partitions: 6, Consumers: 1, Format: format, Runs: runs, RecordBytes: 100}
	for i, name := range []string{PhaseCeiling, PhaseDecode, PhaseSink, PhaseSeed} {
		p := &Phase{Name: name}
		n := int64(100_000)
		if name == PhaseSeed {
			n = 2_000
		}
		for k := range runs {
			p.Runs = append(p.Runs, steadyRun(n, rates[i]*(1-float64(k)/10)))
		}
		r.Phases = append(r.Phases, p)
	}
	if latency {
		r.Latency = &LatencyStat{Fraction: 0.5, TargetRate: rates[2] / 2, AchievedRate: rates[2] / 2.5, Records: 200_000,
			Objects: 12, FlushInterval: 1, P50: 900, P95: 1500, P99: 2012.4, Max: 2300, Run: steadyRun(200_000, rates[2]/2.5)}
		r.Latency.Run.finish()
	}
	r.Compute()
	return r
}

func TestWriteSVG(t *testing.T) {
	cases := []struct {
		name    string
		rep     *Report
		phases  []string
		insets  map[string]int // phase → inset count; others must have none
		medians bool
	}{
		{"one run each, with latency", syntheticReport("parquet", 1, true, 4e6, 1.5e6, 7e5, 4e3),
			[]string{PhaseCeiling, PhaseDecode, PhaseSink, PhaseSeed, PhaseLatency}, map[string]int{PhaseSeed: 1}, false},
		{"three runs draw medians", syntheticReport("json", 3, true, 4e6, 1.5e6, 7e5, 4e3),
			[]string{PhaseCeiling, PhaseDecode, PhaseSink, PhaseSeed, PhaseLatency}, map[string]int{PhaseSeed: 1}, true},
		{"no latency; a seed visible on the shared scale needs no inset", syntheticReport("parquet", 1, false, 1e5, 9e4, 8e4, 2e4),
			[]string{PhaseCeiling, PhaseDecode, PhaseSink, PhaseSeed}, nil, false},
		{"markup in a field is escaped", syntheticReport(`<json & "x">`, 1, false, 4e6, 1.5e6, 7e5, 4e3),
			[]string{PhaseCeiling, PhaseDecode, PhaseSink, PhaseSeed}, map[string]int{PhaseSeed: 1}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, tc.rep.WriteSVG(&buf))
			panels := parseSVG(t, buf.Bytes())
			require.Len(t, panels, len(tc.phases))
			var scale float64 // records/s per unit of height, shared by the throughput panels
			for i, p := range panels {
				assert.Equal(t, tc.phases[i], p.phase)
				assert.Equal(t, 1, p.lines, "%s: one series line", p.phase)
				assert.Equal(t, tc.insets[p.phase], p.insets, "%s: insets", p.phase)
				require.Positive(t, p.frameH, p.phase)
				if p.phase == PhaseLatency {
					l := tc.rep.Latency
					assert.Contains(t, p.text, "p99 2,012 ms")
					assert.Contains(t, p.text, count(int64(l.TargetRate))+" rec/s")
					assert.Equal(t, l.TargetRate, p.refs["target"].rate)
					assert.Equal(t, l.AchievedRate, p.refs["achieved"].rate)
					continue
				}
				ph := tc.rep.Phase(p.phase)
				require.NotNil(t, ph)
				assert.Contains(t, p.text, "best "+count(int64(ph.BestRate))+" rec/s")
				if p.phase != PhaseCeiling {
					assert.Contains(t, p.text, ratioText(ph.VsCeiling)+"× ceiling")
				}
				best, ok := p.refs["best"]
				require.True(t, ok, "%s has a best line", p.phase)
				assert.Equal(t, ph.BestRate, best.rate)
				// One linear scale: a line's height above the panel's
				// baseline is its rate times the same factor in every
				// throughput panel (to within the 0.1 unit rounding of
				// the coordinates).
				height := func(r svgRef) float64 { return p.frameY + p.frameH - r.y }
				if scale == 0 {
					scale = height(best) / best.rate
				}
				assert.InDelta(t, best.rate*scale, height(best), 0.15, "%s best is on the shared scale", p.phase)
				med, ok := p.refs["median"]
				assert.Equal(t, tc.medians, ok, "%s has a median line only over several runs", p.phase)
				if ok {
					assert.Equal(t, ph.MedianRate, med.rate)
					assert.Contains(t, p.text, "median "+count(int64(ph.MedianRate))+" rec/s")
					assert.InDelta(t, med.rate*scale, height(med), 0.15, "%s median is on the shared scale", p.phase)
				}
			}
			if snk := tc.rep.Phase(PhaseSink); tc.rep.SinkVsSeed > 0 {
				assert.Contains(t, panels[2].text, count(int64(math.Round(tc.rep.SinkVsSeed)))+"× seed", snk.Name)
			}
		})
	}
}

// A report with nothing measured, or a run without progress samples,
// still gives a well-formed SVG that says so.
func TestWriteSVGEmpty(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, (&Report{}).WriteSVG(&buf))
	assert.Empty(t, parseSVG(t, buf.Bytes()))
	assert.Contains(t, buf.String(), "no phase was measured")

	r := &Report{Phases: []*Phase{{Name: PhaseCeiling, Runs: []Trial{{Records: 10, Seconds: 1}}}}}
	r.Compute()
	buf.Reset()
	require.NoError(t, r.WriteSVG(&buf))
	panels := parseSVG(t, buf.Bytes())
	require.Len(t, panels, 1)
	assert.Equal(t, 0, panels[0].lines)
	assert.Contains(t, panels[0].text, "no progress samples")
}
