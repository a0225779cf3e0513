package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// plot geometry, in SVG user units.
const (
	plotW, plotH               = 980, 520
	padL, padR, padT, padB     = 80, 270, 50, 60
	minPlotRate, minSegSeconds = 1.0, 0.005
)

// seriesColors are distinguishable on white and in grey-scale print.
var seriesColors = map[string]string{
	PhaseCeiling: "#1f77b4", PhaseDecode: "#2ca02c", PhaseSink: "#d62728",
	PhaseSeed: "#9467bd", PhaseLatency: "#ff7f0e",
}

// PlotSeries is one line of the plot: records/s over seconds since the
// run's first record.
type PlotSeries struct {
	Phase  string
	Points [][2]float64 // (seconds, records/s)
}

// Series returns the plot's lines: the best run of each throughput phase
// and the latency phase's sink, as rates between progress samples.
func (r *Report) Series() []PlotSeries {
	var out []PlotSeries
	for _, p := range r.Phases {
		if len(p.Runs) > 0 {
			out = append(out, PlotSeries{Phase: p.Name, Points: rates(p.Best().Series)})
		}
	}
	if r.Latency != nil {
		out = append(out, PlotSeries{Phase: PhaseLatency, Points: rates(r.Latency.Run.Series)})
	}
	return out
}

// plotPoints is about how many points a series gets: the sink works in
// bursts (consume, then upload), and rates over the 10ms samples would draw
// that as a comb rather than a throughput.
const plotPoints = 40

// rates turns cumulative samples into (end of window, rate) points over
// windows of about 1/plotPoints of the run (at least minSegSeconds).
func rates(s []Sample) [][2]float64 {
	var pts [][2]float64
	if len(s) == 0 {
		return pts
	}
	win := math.Max(minSegSeconds, (s[len(s)-1].T-s[0].T)/plotPoints)
	prev := s[0]
	for i, c := range s[1:] {
		dt := c.T - prev.T
		if dt < win && i < len(s)-2 {
			continue
		}
		if dt <= 0 {
			continue
		}
		pts = append(pts, [2]float64{c.T, float64(c.Records-prev.Records) / dt})
		prev = c
	}
	return pts
}

// WriteSVG draws throughput over time per phase as a self-contained SVG:
// a log-scale records/s axis (phases differ by three orders of
// magnitude), seconds since each run's first record, one line per phase
// and a legend with each phase's best rate.
func (r *Report) WriteSVG(w io.Writer) error {
	series := r.Series()
	maxT, maxR := 0.0, minPlotRate*10
	for _, s := range series {
		for _, p := range s.Points {
			maxT, maxR = math.Max(maxT, p[0]), math.Max(maxR, p[1])
		}
	}
	if maxT <= 0 {
		maxT = 1
	}
	// The floor is a decade below the slowest phase's best rate (and at
	// most 100 records/s); stalls (rate 0) are drawn on it.
	loDec := 2.0
	for _, p := range r.Phases {
		if p.BestRate > 0 {
			loDec = math.Min(loDec, math.Floor(math.Log10(p.BestRate))-1)
		}
	}
	hiDec := math.Ceil(math.Log10(maxR))
	if hiDec <= loDec {
		hiDec = loDec + 1
	}
	tStep := niceStep(maxT / 8)
	maxT = math.Ceil(maxT/tStep) * tStep
	iw, ih := float64(plotW-padL-padR), float64(plotH-padT-padB)
	x := func(t float64) float64 { return padL + t/maxT*iw }
	y := func(rate float64) float64 {
		l := math.Log10(math.Max(rate, math.Pow(10, loDec)))
		return padT + ih - (l-loDec)/(hiDec-loDec)*ih
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">
<rect width="100%%" height="100%%" fill="white"/>
<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>
`, plotW, plotH, plotW, plotH, padL, html.EscapeString(fmt.Sprintf("tickflow bench: throughput over time (%s records, %d partitions, %s)",
		count(int64(r.Records)), r.Partitions, r.Format)))
	// Grid and y axis: one line per decade.
	b.WriteString(`<g class="axis y" stroke="#ddd">` + "\n")
	for d := loDec; d <= hiDec; d++ {
		yy := y(math.Pow(10, d))
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", padL, yy, padL+iw, yy)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" stroke="none" fill="#333">%s</text>`+"\n", padL-6, yy+4, decade(d))
	}
	b.WriteString("</g>\n")
	b.WriteString(`<g class="axis x" stroke="#ddd">` + "\n")
	for t := 0.0; t <= maxT+tStep/2; t += tStep {
		xx := x(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f"/>`+"\n", xx, padT, xx, padT+ih)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" stroke="none" fill="#333">%s</text>`+"\n", xx, padT+ih+18, trimFloat(t))
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", padL, padT, iw, ih)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">seconds since the run's first record</text>`+"\n", padL+iw/2, plotH-15)
	fmt.Fprintf(&b, `<text transform="translate(20 %.1f) rotate(-90)" text-anchor="middle">records/s (log scale)</text>`+"\n", padT+ih/2)
	// Series and legend.
	for i, s := range series {
		color := seriesColors[s.Phase]
		fmt.Fprintf(&b, `<g class="series" data-phase="%s" stroke="%s" fill="%s">`+"\n", s.Phase, color, color)
		if len(s.Points) > 0 {
			b.WriteString(`<polyline fill="none" stroke-width="2" points="`)
			for j, p := range s.Points {
				if j > 0 {
					b.WriteByte(' ')
				}
				fmt.Fprintf(&b, "%.1f,%.1f", x(p[0]), y(p[1]))
			}
			b.WriteString(`"/>` + "\n")
			for _, p := range s.Points {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" stroke="none"/>`+"\n", x(p[0]), y(p[1]))
			}
		}
		ly := float64(padT + 10 + i*36)
		lx := float64(plotW - padR + 16)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke-width="3"/>`+"\n", lx, ly, lx+24, ly)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" stroke="none" fill="#000">%s</text>`+"\n", lx+30, ly+4, s.Phase)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" stroke="none" fill="#555" font-size="11">%s</text>`+"\n", lx+30, ly+18,
			html.EscapeString(r.legendNote(s.Phase)))
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// legendNote is the figure under a phase's name in the legend.
func (r *Report) legendNote(phase string) string {
	if phase == PhaseLatency && r.Latency != nil {
		return fmt.Sprintf("sink at %s rec/s, p99 %.0f ms", count(int64(r.Latency.AchievedRate)), r.Latency.P99)
	}
	if p := r.Phase(phase); p != nil {
		return fmt.Sprintf("best %s rec/s", count(int64(p.BestRate)))
	}
	return ""
}

// niceStep rounds a raw axis step up to 1, 2 or 5 × 10^k.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func decade(d float64) string {
	v := math.Pow(10, d)
	switch {
	case v >= 1e9:
		return trimFloat(v/1e9) + "G"
	case v >= 1e6:
		return trimFloat(v/1e6) + "M"
	case v >= 1e3:
		return trimFloat(v/1e3) + "k"
	}
	return trimFloat(v)
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}
