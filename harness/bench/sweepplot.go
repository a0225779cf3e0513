package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// The sweep's plot is a grid: one column per axis (records, partitions,
// consumers), one row per measure (records/s per core, peak RSS per owned
// partition), each cell a line over the axis's values, evenly spaced.
const (
	sweepCellW, sweepCellH = 280, 170
	sweepPadL, sweepPadT   = 80, 100
	sweepGapX, sweepGapY   = 40, 70
)

// sweepMeasure is one row of the sweep's plot.
type sweepMeasure struct {
	class, title, unit string
	value              func(SweepPoint) float64
	format             func(float64) string
}

var sweepMeasures = []sweepMeasure{
	{"per-core", "records/s per core (records per CPU-second of the sink processes)", "rec/CPU-s",
		func(p SweepPoint) float64 { return p.PerCore }, si},
	{"rss-per-partition", "peak RSS per owned partition (largest process ÷ partitions it owns)", "MiB",
		func(p SweepPoint) float64 { return float64(p.RSSPerPartition) / (1 << 20) }, trimFloat1},
}

func trimFloat1(v float64) string { return trimFloat(math.Round(v*10) / 10) }

// axisValue is the value a point has on its axis.
func axisValue(p SweepPoint) string {
	switch p.Axis {
	case AxisRecords:
		return si(float64(p.Records))
	case AxisPartitions:
		return fmt.Sprint(p.Partitions)
	}
	return fmt.Sprint(p.Processes)
}

// WriteSVG draws the sweep as a self-contained SVG.
func (s *SweepReport) WriteSVG(w io.Writer) error {
	axes := []string{AxisRecords, AxisPartitions, AxisConsumers}
	width := sweepPadL + len(axes)*(sweepCellW+sweepGapX)
	height := sweepPadT + len(sweepMeasures)*(sweepCellH+sweepGapY) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">
<rect width="100%%" height="100%%" fill="white"/>
`, width, height, width, height)
	text(&b, 20, 28, `class="title" font-size="17" font-weight="bold"`, "tickflow bench --sweep: how the sink's cost grows")
	text(&b, 20, 48, `class="setup" fill="#222" font-size="13"`, fmt.Sprintf("`tickflow sink` as OS processes · %s · GOMAXPROCS %d · %d CPUs · %s",
		s.Format, s.GOMAXPROCS, s.NumCPU, s.GoVersion))
	text(&b, 20, 66, `fill="#555" font-size="11"`, fmt.Sprintf("Each column varies one axis; the others stay at %s records, %s, %s.",
		firstOr(s.Records, si), firstOr(s.Partitions, func(v float64) string { return nouns(int(v), "partition") }),
		firstOr(s.Consumers, func(v float64) string { return nouns(int(v), "consumer") })))
	for row, m := range sweepMeasures {
		top := float64(sweepPadT + row*(sweepCellH+sweepGapY))
		text(&b, 20, top-22, `class="row-title" font-size="14" font-weight="bold"`, m.title)
		for col, axis := range axes {
			left := float64(sweepPadL + col*(sweepCellW+sweepGapX))
			drawSweepCell(&b, s.Axis(axis), axis, m, left, top)
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func firstOr(v []int, f func(float64) string) string {
	if len(v) == 0 {
		return "?"
	}
	return f(float64(v[0]))
}

// drawSweepCell draws one axis's points for one measure, the cell's top
// left corner at (left, top), on a linear scale from 0.
func drawSweepCell(b *strings.Builder, pts []SweepPoint, axis string, m sweepMeasure, left, top float64) {
	fmt.Fprintf(b, `<g class="cell" data-axis="%s" data-measure="%s">`+"\n", axis, m.class)
	w, h := float64(sweepCellW), float64(sweepCellH)
	fmt.Fprintf(b, `<rect class="frame" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`+"\n", left, top, w, h)
	text(b, left+w/2, top+h+32, `text-anchor="middle" fill="#333" font-size="11"`, axis)
	if len(pts) == 0 {
		text(b, left+w/2, top+h/2, `text-anchor="middle" fill="#555"`, "not measured")
		b.WriteString("</g>\n")
		return
	}
	ymax := 0.0
	for _, p := range pts {
		ymax = math.Max(ymax, m.value(p))
	}
	step := niceStep(math.Max(ymax, 1e-9) / 4)
	ymax = math.Max(step, math.Ceil(ymax*1.05/step-1e-9)*step)
	x := func(i int) float64 {
		if len(pts) == 1 {
			return left + w/2
		}
		return left + 20 + float64(i)*(w-40)/float64(len(pts)-1)
	}
	y := func(v float64) float64 { return top + h - v/ymax*h }
	b.WriteString(`<g class="grid" stroke="#e4e4e4">` + "\n")
	for i := 0; float64(i)*step <= ymax*(1+1e-9); i++ {
		v := float64(i) * step
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", left, y(v), left+w, y(v))
		text(b, left-6, y(v)+4, `text-anchor="end" stroke="none" fill="#333" font-size="10"`, m.format(v))
	}
	b.WriteString("</g>\n")
	var line strings.Builder
	for i, p := range pts {
		fmt.Fprintf(&line, "%.1f,%.1f ", x(i), y(m.value(p)))
		text(b, x(i), top+h+15, `text-anchor="middle" fill="#333" font-size="10"`, axisValue(p))
	}
	fmt.Fprintf(b, `<polyline class="series" fill="none" stroke="#d62728" stroke-width="1.8" points="%s"/>`+"\n", strings.TrimSpace(line.String()))
	for i, p := range pts {
		v := m.value(p)
		fmt.Fprintf(b, `<circle class="point" data-x="%s" data-value="%g" cx="%.1f" cy="%.1f" r="3" fill="#d62728"/>`+"\n",
			axisValue(p), v, x(i), y(v))
		text(b, x(i), y(v)-7, `text-anchor="middle" fill="#111" font-size="10"`, m.format(v))
	}
	b.WriteString("</g>\n")
}
