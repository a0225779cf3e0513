package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The plot is small multiples: one panel per phase, stacked, each with its
// own time axis (the phases last from tens of milliseconds to seconds, so
// one shared time axis squeezes the fast ones into a sliver). The
// throughput panels share one linear records/s scale so bar heights
// compare across panels; the latency panel has its own scale because it
// runs at a rate chosen by the bench, not at the sink's limit.

// plot geometry, in SVG user units.
const (
	plotW           = 1000
	padL, padR      = 90, 30
	headerH         = 94  // figure title and subtitle
	panelTitleH     = 40  // a panel's title and subtitle
	panelPlotH      = 110 // a panel's plotting area
	panelAxisH      = 40  // a panel's x tick labels and axis label
	panelGap        = 14
	panelH          = panelTitleH + panelPlotH + panelAxisH + panelGap
	footerH         = 10
	insetW, insetH  = 250, 52
	insetBelowShare = 0.05 // a panel whose peak is under this share of the scale gets an inset
)

// plotBins is about how many points a panel gets: enough to show how the
// rate evolved, few enough that the sink's bursts (consume, then upload)
// read as throughput rather than as a comb.
const plotBins = 45

// seriesColors are distinguishable on white and in grey-scale print.
var seriesColors = map[string]string{
	PhaseCeiling: "#1f77b4", PhaseDecode: "#2ca02c", PhaseSink: "#d62728",
	PhaseSeed: "#9467bd", PhaseLatency: "#ff7f0e", PhaseConsumer: "#8c564b",
}

// phaseWhat says in a few words what a phase measures.
var phaseWhat = map[string]string{
	PhaseCeiling:  "raw consumer group, poll and discard",
	PhaseDecode:   "consume + tick JSON decode",
	PhaseSink:     "the real sink: consume, decode, encode, upload, commit",
	PhaseSeed:     "seed project's consumer: one S3 PUT per record",
	PhaseLatency:  "sink consume rate while a producer runs at a fixed rate",
	PhaseConsumer: "your consumer program: records committed (or in its lake) over time",
}

// PlotSeries is one panel's line: records/s over seconds since the
// phase's first record, averaged over equal bins.
type PlotSeries struct {
	Phase   string
	Seconds float64      // the run's duration: the panel's time axis
	Bin     float64      // bin width in seconds
	Points  [][2]float64 // (bin start in seconds, records/s over the bin)
	sampled float64      // typical interval between progress samples
}

// Series returns the plot's panels: the best run of each throughput phase
// and the latency phase's sink.
func (r *Report) Series() []PlotSeries {
	var out []PlotSeries
	add := func(phase string, t Trial) {
		bin, pts := binRates(t.Series, plotBins)
		out = append(out, PlotSeries{Phase: phase, Seconds: seriesEnd(t.Series), Bin: bin, Points: pts, sampled: medianGap(t.Series)})
	}
	for _, p := range r.Phases {
		if len(p.Runs) > 0 {
			add(p.Name, p.Best())
		}
	}
	if r.Latency != nil {
		add(PhaseLatency, r.Latency.Run)
	}
	return out
}

func seriesEnd(s []Sample) float64 {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1].T
}

// binRates turns cumulative samples into the mean rate over about target
// equal bins covering the whole run. A bin is never narrower than the
// typical sampling interval: finer bins would only repeat the
// interpolation between two samples and pretend to a resolution the
// samples do not have. Records between two samples are spread evenly
// between them, so the bins' records add up to the run's.
func binRates(s []Sample, target int) (bin float64, pts [][2]float64) {
	end := seriesEnd(s)
	if len(s) < 2 || end <= 0 || target < 1 {
		return 0, nil
	}
	minBin := math.Max(end/float64(target), medianGap(s))
	n := max(1, int(end/minBin+1e-9))
	bin = end / float64(n)
	at := func(t float64) float64 { // cumulative records at t
		if t <= s[0].T {
			return float64(s[0].Records)
		}
		i, _ := slices.BinarySearchFunc(s, t, func(x Sample, t float64) int {
			if x.T <= t {
				return -1
			}
			return 1
		})
		if i >= len(s) {
			return float64(s[len(s)-1].Records)
		}
		lo, hi := s[i-1], s[i]
		return float64(lo.Records) + float64(hi.Records-lo.Records)*(t-lo.T)/(hi.T-lo.T)
	}
	prev := at(0)
	for i := range n {
		t0, t1 := float64(i)*bin, float64(i+1)*bin
		if i == n-1 {
			t1 = end
		}
		c := at(t1)
		pts = append(pts, [2]float64{t0, math.Max(0, c-prev) / (t1 - t0)})
		prev = c
	}
	return bin, pts
}

// medianGap is the median time between consecutive samples (0 if none).
func medianGap(s []Sample) float64 {
	var gaps []float64
	for i := 1; i < len(s); i++ {
		if d := s[i].T - s[i-1].T; d > 0 {
			gaps = append(gaps, d)
		}
	}
	if len(gaps) == 0 {
		return 0
	}
	slices.Sort(gaps)
	return gaps[len(gaps)/2]
}

// refLine is a labelled horizontal reference line in a panel.
type refLine struct {
	class, label string
	rate         float64
	dash         string
}

// panel is everything drawn for one phase.
type panel struct {
	s               PlotSeries
	title, subtitle string
	refs            []refLine
	own             bool   // own y-scale (the latency panel)
	note            string // drawn in the plot's top-left corner
}

// WriteSVG draws the report as a self-contained SVG of stacked panels, one
// per phase: records/s over time since the phase's first record (each
// panel its own time axis and bin width), a shared linear records/s scale
// across the throughput panels, a dashed line at each phase's best rate
// (and a dotted one at its median when there were several runs), and the
// ratio to the ceiling in each panel's title.
func (r *Report) WriteSVG(w io.Writer) error {
	panels := r.panels()
	height := headerH + len(panels)*panelH + footerH
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">
<rect width="100%%" height="100%%" fill="white"/>
`, plotW, height, plotW, height)
	text(&b, padL-70, 26, `class="title" font-size="17" font-weight="bold"`, "tickflow bench: records/s over time, one panel per phase")
	text(&b, padL-70, 46, `class="setup" fill="#222" font-size="13"`, fmt.Sprintf(
		"%s records · %s · %s · %s · best of %s per phase · GOMAXPROCS %d",
		count(int64(r.Records)), nouns(r.Partitions, "partition"), nouns(r.Consumers, "consumer"), r.Format, nouns(r.Runs, "run"), r.GOMAXPROCS))
	text(&b, padL-70, 64, `fill="#555" font-size="11"`, "Each panel has its own time axis (since the phase's first record) and bins sized to its duration. "+
		"The throughput panels share one linear scale,")
	text(&b, padL-70, 78, `fill="#555" font-size="11"`, "so heights compare across them. Dashed: the phase's best rate (the plotted run); dotted: the median of its runs.")
	if len(panels) == 0 {
		text(&b, padL, headerH+20, `fill="#555"`, "no phase was measured")
	}
	// The shared scale covers every throughput bin and reference line.
	shared := 0.0
	for _, p := range panels {
		if !p.own {
			shared = math.Max(shared, peak(p))
		}
	}
	for i, p := range panels {
		top := float64(headerH + i*panelH)
		ymax := shared
		if p.own {
			ymax = peak(p)
		}
		r.drawPanel(&b, p, top, ymax)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// panels builds each phase's panel: its series, titles and reference lines.
func (r *Report) panels() []panel {
	var out []panel
	ceil := r.Phase(PhaseCeiling)
	for _, s := range r.Series() {
		p := panel{s: s}
		if s.Phase == PhaseLatency {
			l := r.Latency
			p.own = true
			p.title = fmt.Sprintf("latency — record → object in S3: p50 %s ms · p95 %s ms · p99 %s ms · max %s ms",
				count(int64(math.Round(l.P50))), count(int64(math.Round(l.P95))), count(int64(math.Round(l.P99))), count(int64(math.Round(l.Max))))
			p.subtitle = fmt.Sprintf("%s; producer asked for %.2g× the sink's median rate; %s records, %d objects, flush interval %s s; own y-scale",
				phaseWhat[s.Phase], l.Fraction, count(int64(l.Records)), l.Objects, trimFloat(l.FlushInterval))
			p.refs = []refLine{
				{"target", "producer asked " + count(int64(l.TargetRate)) + " rec/s", l.TargetRate, "7 4"},
				{"achieved", "producer achieved " + count(int64(l.AchievedRate)) + " rec/s", l.AchievedRate, "2 3"},
			}
			out = append(out, p)
			continue
		}
		ph := r.Phase(s.Phase)
		vs := "= the ceiling"
		if s.Phase != PhaseCeiling {
			vs = ratioText(ph.VsCeiling) + "× ceiling"
			if ceil == nil {
				vs = "no ceiling measured"
			}
		}
		p.title = fmt.Sprintf("%s — best %s rec/s (%s), %.1f MB/s", s.Phase, count(int64(ph.BestRate)), vs, ph.BestMBps)
		switch s.Phase {
		case PhaseSink:
			if r.Phase(PhaseDecode) != nil {
				p.title += fmt.Sprintf(", %s× decode", ratioText(ph.VsDecode))
			}
			if r.SinkVsSeed > 0 {
				p.title += fmt.Sprintf(", %s× seed", count(int64(math.Round(r.SinkVsSeed))))
			}
		}
		best := ph.Best()
		p.subtitle = fmt.Sprintf("%s; plotted: the best of %s, %s records in %s", phaseWhat[s.Phase], nouns(len(ph.Runs), "run"),
			count(best.Records), duration(best.Seconds))
		if c := r.Consumer; s.Phase == PhaseConsumer && c != nil {
			if r.Phase(PhaseSink) != nil {
				p.title += fmt.Sprintf(", %s× sink", ratioText(c.VsSink))
			}
			p.subtitle = fmt.Sprintf("%s; `%s`, %s; %s records in %s from its first fetch, %s from its start",
				phaseWhat[s.Phase], clip(c.Command, 60), nouns(c.Instances, "instance"), count(best.Records), duration(best.Seconds), duration(c.DrainSeconds))
		}
		if len(ph.Runs) > 1 {
			p.subtitle += fmt.Sprintf("; median %s rec/s", count(int64(ph.MedianRate)))
		}
		if s.Phase == PhaseSeed {
			p.subtitle += "; rate from a sample, extrapolated"
		}
		p.refs = []refLine{{"best", "best " + count(int64(ph.BestRate)) + " rec/s", ph.BestRate, "7 4"}}
		if len(ph.Runs) > 1 {
			p.refs = append(p.refs, refLine{"median", "median " + count(int64(ph.MedianRate)) + " rec/s", ph.MedianRate, "2 3"})
		}
		out = append(out, p)
	}
	return out
}

// peak is the highest rate a panel draws (at least 1, so scales never
// divide by zero).
func peak(p panel) float64 {
	m := 1.0
	for _, pt := range p.s.Points {
		m = math.Max(m, pt[1])
	}
	for _, rl := range p.refs {
		m = math.Max(m, rl.rate)
	}
	return m
}

// drawPanel writes one panel whose top edge is at top, on a linear scale
// from 0 to (a nice value above) ymax records/s.
func (r *Report) drawPanel(b *strings.Builder, p panel, top, ymax float64) {
	s := p.s
	color := seriesColors[s.Phase]
	fmt.Fprintf(b, `<g class="panel" data-phase="%s">`+"\n", s.Phase)
	text(b, padL-70, top+14, `class="panel-title" font-size="14" font-weight="bold"`, p.title)
	text(b, padL-70, top+30, `class="panel-subtitle" fill="#555" font-size="11"`, p.subtitle)

	px, py := float64(padL), top+panelTitleH
	pw, ph := float64(plotW-padL-padR), float64(panelPlotH)
	yStep := niceStep(ymax / 5)
	ymax = math.Ceil(ymax/yStep-1e-9) * yStep
	end := s.Seconds
	if end <= 0 {
		end = 1
	}
	unit, scale := "s", 1.0
	if end < 2 {
		unit, scale = "ms", 1000
	}
	tStep := niceStep(end * scale / 10)
	x := func(t float64) float64 { return px + t/end*pw }
	y := func(rate float64) float64 { return py + ph - rate/ymax*ph }

	// Grid, axes and frame.
	b.WriteString(`<g class="grid" stroke="#e4e4e4">` + "\n")
	for i := 0; float64(i)*yStep <= ymax*(1+1e-9); i++ {
		v := float64(i) * yStep
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", px, y(v), px+pw, y(v))
		text(b, px-6, y(v)+4, `text-anchor="end" stroke="none" fill="#333" font-size="11"`, si(v))
	}
	for i := 0; float64(i)*tStep <= end*scale*(1+1e-9); i++ {
		t := float64(i) * tStep
		xx := x(t / scale)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", xx, py, xx, py+ph)
		text(b, xx, py+ph+14, `text-anchor="middle" stroke="none" fill="#333" font-size="11"`, trimFloat(t))
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(b, `<rect class="frame" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`+"\n", px, py, pw, ph)
	fmt.Fprintf(b, `<text transform="translate(%.1f %.1f) rotate(-90)" text-anchor="middle" fill="#333" font-size="11">records/s</text>`+"\n",
		float64(padL-52), py+ph/2)
	axis := fmt.Sprintf("%s since the phase's first record", unit)
	if len(s.Points) > 0 {
		axis += fmt.Sprintf(" · %d bins of %s", len(s.Points), duration(s.Bin))
		if s.Bin*plotBins > s.Seconds*1.01 {
			axis += " (no finer: progress is sampled every ~" + duration(s.sampled) + ")"
		}
	}
	text(b, px+pw/2, py+ph+30, `text-anchor="middle" fill="#333" font-size="11"`, axis)

	// The series: a step line (each bin's mean rate held over the bin) over
	// a light area.
	fmt.Fprintf(b, `<g class="series" data-phase="%s" stroke="%s" fill="%s">`+"\n", s.Phase, color, color)
	if len(s.Points) > 0 {
		var line strings.Builder
		for i, pt := range s.Points {
			t1 := end
			if i+1 < len(s.Points) {
				t1 = s.Points[i+1][0]
			}
			fmt.Fprintf(&line, "%.1f,%.1f %.1f,%.1f ", x(pt[0]), y(pt[1]), x(t1), y(pt[1]))
		}
		pts := strings.TrimSpace(line.String())
		fmt.Fprintf(b, `<polygon stroke="none" fill-opacity="0.15" points="%.1f,%.1f %s %.1f,%.1f"/>`+"\n", x(0), y(0), pts, x(end), y(0))
		fmt.Fprintf(b, `<polyline fill="none" stroke-width="1.8" stroke-linejoin="round" points="%s"/>`+"\n", pts)
	} else {
		text(b, px+pw/2, py+ph/2, `text-anchor="middle" stroke="none" fill="#555"`, "no progress samples")
	}
	b.WriteString("</g>\n")

	// Reference lines, each labelled at the right end just above it;
	// labels that would overlap are stacked downwards, and the stack is
	// kept inside the plotting area (clear of the time axis labels).
	refs := slices.Clone(p.refs)
	slices.SortStableFunc(refs, func(a, b refLine) int { return cmpFloat(b.rate, a.rate) })
	const lineH = 13
	ly := make([]float64, len(refs))
	for i, rl := range refs {
		ly[i] = y(rl.rate) - 4
		if ly[i] < py+lineH-2 { // no room above: below the line
			ly[i] = y(rl.rate) + lineH
		}
		if i > 0 && ly[i] < ly[i-1]+lineH {
			ly[i] = ly[i-1] + lineH
		}
	}
	if n := len(ly); n > 0 && ly[n-1] > py+ph-4 {
		shift := ly[n-1] - (py + ph - 4)
		for i := range ly {
			ly[i] -= shift
		}
	}
	// Lines first, then labels, so no line strikes through a label.
	for _, rl := range refs {
		yy := y(rl.rate)
		fmt.Fprintf(b, `<line class="ref %s" data-rate="%g" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222" stroke-width="1.2" stroke-dasharray="%s"/>`+"\n",
			rl.class, rl.rate, px, yy, px+pw, yy, rl.dash)
	}
	for i, rl := range refs {
		// A white backing (sized from a generous average glyph width)
		// keeps the label legible over the lines and the series.
		w := 6.4*float64(utf8.RuneCountInString(rl.label)) + 6
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="14" fill="white" fill-opacity="0.85"/>`+"\n", px+pw-3-w, ly[i]-11, w)
		text(b, px+pw-6, ly[i], `class="ref-label" text-anchor="end" fill="#111" font-size="11"`, rl.label)
	}

	// A phase too slow to see on the shared scale gets its value spelled
	// out and an inset on its own scale, so its course over time still
	// shows.
	if !p.own && len(s.Points) > 0 && peak(p) < insetBelowShare*ymax {
		phase := r.Phase(s.Phase)
		note := fmt.Sprintf("%s rec/s is %s× the ceiling: a flat line at the bottom of the shared scale", count(int64(phase.BestRate)), ratioText(phase.VsCeiling))
		text(b, px+8, py+16, `class="note" fill="#111" font-size="12"`, note)
		r.drawInset(b, s, px+pw-insetW-8, py+30, end, color)
	}
	b.WriteString("</g>\n")
}

// drawInset draws s small, on its own linear scale, in a box at (x0, y0).
func (r *Report) drawInset(b *strings.Builder, s PlotSeries, x0, y0, end float64, color string) {
	m := 0.0
	for _, pt := range s.Points {
		m = math.Max(m, pt[1])
	}
	step := niceStep(m / 2)
	m = math.Max(step, math.Ceil(m*1.1/step-1e-9)*step) // headroom: the line never touches the box
	x := func(t float64) float64 { return x0 + t/end*insetW }
	y := func(rate float64) float64 { return y0 + insetH - rate/m*insetH }
	b.WriteString(`<g class="inset">` + "\n")
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%d" height="%d" fill="white" stroke="#aaa"/>`+"\n", x0, y0, insetW, insetH)
	var pts strings.Builder
	for i, pt := range s.Points {
		t1 := end
		if i+1 < len(s.Points) {
			t1 = s.Points[i+1][0]
		}
		fmt.Fprintf(&pts, "%.1f,%.1f %.1f,%.1f ", x(pt[0]), y(pt[1]), x(t1), y(pt[1]))
	}
	fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", color, strings.TrimSpace(pts.String()))
	text(b, x0, y0-4, `fill="#333" font-size="10"`, "inset, own scale: 0 – "+si(m)+" rec/s")
	b.WriteString("</g>\n")
}

// text writes an escaped <text> element at (x, y) with extra attributes.
func text(b *strings.Builder, x, y float64, attrs, s string) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" %s>%s</text>`+"\n", x, y, attrs, html.EscapeString(s))
}

// ratioText prints a ratio with two decimals (0.15, 3.20) and small ones
// with two significant digits (0.00092).
func ratioText(v float64) string {
	if v >= 0.1 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

// duration prints seconds as ms below a second.
func duration(sec float64) string {
	if sec < 1 {
		return trimFloat(math.Round(sec*1e4)/10) + " ms"
	}
	return trimFloat(math.Round(sec*100)/100) + " s"
}

// niceStep rounds a raw axis step up to 1, 2 or 5 × 10^k.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// si prints an axis value with a k/M/G suffix.
func si(v float64) string {
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

// clip shortens s to n runes with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
