package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/sink"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		opt    Option
		option string // "" = valid
	}{
		{"defaults", func(*config) {}, ""},
		{"one record", Records(1), ""},
		{"max records", Records(MaxRecords), ""},
		{"zero records", Records(0), "records"},
		{"negative records", Records(-3), "records"},
		{"absurd records", Records(MaxRecords + 1), "records"},
		{"zero partitions", Partitions(0), "partitions"},
		{"absurd partitions", Partitions(MaxPartitions + 1), "partitions"},
		{"zero consumers", Consumers(0), "consumers"},
		{"absurd consumers", Consumers(1000), "consumers"},
		{"zero runs", Runs(0), "runs"},
		{"absurd runs", Runs(MaxRuns + 1), "runs"},
		{"bad format", WithFormat(sink.Format("csv")), "format"},
		{"json format", WithFormat(sink.JSON), ""},
		{"zero seed sample", SeedSample(0), "seed-sample"},
		{"latency fraction 0", Latency(0, time.Second), "latency fraction"},
		{"latency fraction > 1", Latency(1.5, time.Second), "latency fraction"},
		{"latency duration 0", Latency(0.5, 0), "latency duration"},
		{"latency flush 0", LatencyFlushInterval(0), "latency flush interval"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.opt)
			if tc.option == "" {
				assert.NoError(t, err)
				return
			}
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "want a *ConfigError, got %v", err)
			assert.Equal(t, tc.option, ce.Option)
			assert.Contains(t, err.Error(), tc.option)
			// Run refuses the same options before starting anything.
			_, err = Run(context.Background(), tc.opt)
			assert.True(t, errors.As(err, &ce))
		})
	}
}

// TestRunTiny runs the whole bench on 2,000 records and checks that the
// report is complete and that every derived figure follows from the
// measured ones.
func TestRunTiny(t *testing.T) {
	const n = 2000
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Records(n), Runs(1), SeedSample(200), Latency(0.5, 300*time.Millisecond),
		LatencyFlushInterval(100*time.Millisecond))
	require.NoError(t, err)

	names := []string{PhaseCeiling, PhaseDecode, PhaseSink, PhaseSeed}
	require.Len(t, rep.Phases, len(names))
	for i, p := range rep.Phases {
		assert.Equal(t, names[i], p.Name)
		require.Len(t, p.Runs, 1, p.Name)
		r := p.Runs[0]
		want := int64(n)
		if p.Name == PhaseSeed {
			want = 200
		}
		assert.Equal(t, want, r.Records, p.Name)
		assert.Positive(t, r.Seconds, p.Name)
		assert.Positive(t, r.SetupSeconds, "%s: time from its start to its first record", p.Name)
		if p.Name == PhaseSink {
			assert.Positive(t, r.TailSeconds, "the sink's final flush and commit")
			assert.Less(t, r.TailSeconds, r.Seconds, "inside its timed run")
		}
		assert.InDelta(t, float64(r.Records)/r.Seconds, r.Rate, 1e-6*r.Rate, p.Name)
		assert.InDelta(t, float64(r.Bytes)/r.Seconds/1e6, r.MBps, 1e-6*r.MBps+1e-9, p.Name)
		assert.Equal(t, r.Rate, p.BestRate, p.Name)
		assert.Equal(t, r.Rate, p.MedianRate, p.Name)
		require.NotEmpty(t, r.Series, p.Name)
		last := r.Series[len(r.Series)-1]
		assert.Equal(t, r.Records, last.Records, p.Name)
		for j := 1; j < len(r.Series); j++ {
			assert.GreaterOrEqual(t, r.Series[j].T, r.Series[j-1].T, "%s series time goes forward", p.Name)
			assert.GreaterOrEqual(t, r.Series[j].Records, r.Series[j-1].Records, "%s series is cumulative", p.Name)
		}
	}
	ceil, dec, snk, seed := rep.Phases[0], rep.Phases[1], rep.Phases[2], rep.Phases[3]
	assert.InDelta(t, float64(ceil.Runs[0].Bytes)/float64(n), rep.RecordBytes, 1e-9)
	assert.Greater(t, rep.RecordBytes, 50.0, "a tick's JSON is well over 50 bytes")
	for _, p := range rep.Phases {
		assert.InDelta(t, p.BestRate/ceil.BestRate, p.VsCeiling, 1e-9, p.Name)
		assert.InDelta(t, p.BestRate/dec.BestRate, p.VsDecode, 1e-9, p.Name)
		assert.InDelta(t, p.MedianRate/ceil.MedianRate, p.MedianVsCeiling, 1e-9, p.Name)
	}
	assert.InDelta(t, snk.BestRate/seed.BestRate, rep.SinkVsSeed, 1e-9)

	l := rep.Latency
	require.NotNil(t, l)
	assert.Positive(t, l.Records)
	assert.Positive(t, l.Objects)
	assert.InDelta(t, snk.MedianRate*0.5, l.TargetRate, 1e-6*l.TargetRate)
	assert.Equal(t, 0.1, l.FlushInterval)
	assert.LessOrEqual(t, l.P50, l.P95)
	assert.LessOrEqual(t, l.P95, l.P99)
	assert.LessOrEqual(t, l.P99, l.Max)
	assert.Positive(t, l.P50)

	m := rep.Memory
	require.NotNil(t, m)
	assert.Equal(t, int64(n), m.AtN.Records)
	assert.Equal(t, int64(4*n), m.At4N.Records)
	assert.Positive(t, m.AtN.PeakHeap)
	assert.Positive(t, m.AtN.AllocBytesPer)
	assert.InDelta(t, float64(m.At4N.PeakHeap)/float64(m.AtN.PeakHeap), m.HeapRatio, 1e-9)

	wantTargets := map[string]float64{"sink / decode": snk.VsDecode, "sink / ceiling": snk.VsCeiling,
		"sink / seed baseline": rep.SinkVsSeed, "peak heap 4N / N": m.HeapRatio}
	if pm := m.Process; pm != nil { // $TICKFLOW_BIN is set: the sink also ran as its own process
		wantTargets["sink process RSS at N"] = float64(pm.AtN.PeakRSS) / (1 << 20)
		wantTargets["sink process RSS 4N / N"] = pm.RSSRatio
	}
	require.Len(t, rep.Targets, len(wantTargets))
	for _, tg := range rep.Targets {
		got, ok := wantTargets[tg.Name]
		require.True(t, ok, tg.Name)
		assert.Equal(t, got, tg.Got, tg.Name)
	}

	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	for _, name := range names {
		assert.Contains(t, table.String(), name)
	}
	// 2,000 records are far too few for a stable ratio: the throughput
	// targets say so, with their fixed costs, instead of ✓/✗.
	unstable := 0
	for _, tg := range rep.Targets {
		if tg.Unstable {
			unstable++
			assert.Positive(t, tg.FixedMs, tg.Name)
			assert.Contains(t, table.String(), tg.Note(), tg.Name)
		}
	}
	assert.Positive(t, unstable, "sink / ceiling at 2,000 records")
	assert.Equal(t, len(rep.Targets)-unstable, strings.Count(table.String(), "✓")+strings.Count(table.String(), "✗"))
	assert.Equal(t, unstable, strings.Count(table.String(), "N too small for a stable ratio (fixed costs "))

	// The JSON form carries the same figures.
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, rep.SinkVsSeed, back.SinkVsSeed)
	assert.Equal(t, snk.BestRate, back.Phase(PhaseSink).BestRate)
	assert.Equal(t, rep.Targets, back.Targets)

	var svg bytes.Buffer
	require.NoError(t, rep.WriteSVG(&svg))
	panels := parseSVG(t, svg.Bytes())
	var got []string
	for _, p := range panels {
		got = append(got, p.phase)
		assert.Equal(t, 1, p.lines, "panel %s has one series line", p.phase)
	}
	assert.Equal(t, []string{PhaseCeiling, PhaseDecode, PhaseSink, PhaseSeed, PhaseLatency}, got)
	for i, p := range rep.Phases {
		assert.Contains(t, panels[i].text, count(int64(p.BestRate))+" rec/s", p.Name)
		if p.Name != PhaseCeiling {
			assert.Contains(t, panels[i].text, ratioText(p.VsCeiling)+"× ceiling", p.Name)
		}
	}
	assert.Contains(t, panels[4].text, "p99 "+count(int64(math.Round(l.P99)))+" ms")
}

// svgPanel is what a test reads back from one panel of the plot.
type svgPanel struct {
	phase          string
	text           string            // all the panel's text, joined by newlines
	lines          int               // polylines in the panel's series group
	insets         int               // inset groups (own-scale mini plots)
	frameY, frameH float64           // the plotting area
	refs           map[string]svgRef // reference lines by class (best, median, target, achieved)
}

type svgRef struct{ rate, y float64 }

// parseSVG checks that doc is well-formed XML and returns its panels.
func parseSVG(t *testing.T, doc []byte) []svgPanel {
	t.Helper()
	attr := func(el xml.StartElement, name string) string {
		for _, a := range el.Attr {
			if a.Name.Local == name {
				return a.Value
			}
		}
		return ""
	}
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		return v
	}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var panels []svgPanel
	var stack []string // class of each open <g>
	var cur *svgPanel
	var text strings.Builder
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "SVG is not well-formed XML")
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "g":
				class := attr(el, "class")
				stack = append(stack, class)
				switch {
				case class == "panel":
					panels = append(panels, svgPanel{phase: attr(el, "data-phase"), refs: map[string]svgRef{}})
					cur = &panels[len(panels)-1]
				case class == "inset" && cur != nil:
					cur.insets++
				}
			case "polyline":
				if cur != nil && len(stack) > 0 && stack[len(stack)-1] == "series" {
					cur.lines++
				}
			case "rect":
				if cur != nil && attr(el, "class") == "frame" {
					cur.frameY, cur.frameH = num(attr(el, "y")), num(attr(el, "height"))
				}
			case "line":
				if class := attr(el, "class"); cur != nil && strings.HasPrefix(class, "ref ") {
					cur.refs[strings.TrimPrefix(class, "ref ")] = svgRef{rate: num(attr(el, "data-rate")), y: num(attr(el, "y1"))}
				}
			case "text":
				inText = true
			}
		case xml.CharData:
			if inText && cur != nil {
				text.Write(el)
			}
		case xml.EndElement:
			switch el.Name.Local {
			case "g":
				if stack[len(stack)-1] == "panel" {
					cur.text = text.String()
					text.Reset()
					cur = nil
				}
				stack = stack[:len(stack)-1]
			case "text":
				inText = false
				text.WriteByte('\n')
			}
		}
	}
	return panels
}
