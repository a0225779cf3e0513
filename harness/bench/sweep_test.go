package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A sweep over tiny sizes produces every point, a table with one block per
// axis and a well-formed SVG with one line per axis and measure. Not timed.
func TestSweepTiny(t *testing.T) {
	bin := testTickflow(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := Sweep(ctx, SinkBinary(bin), SweepRecords(1000, 3000), SweepPartitions(2, 4), SweepConsumers(1, 2))
	require.NoError(t, err)

	want := []struct {
		axis       string
		records    int64
		partitions int
		consumers  int
	}{
		{AxisRecords, 1000, 2, 1}, {AxisRecords, 3000, 2, 1},
		{AxisPartitions, 1000, 2, 1}, {AxisPartitions, 1000, 4, 1},
		{AxisConsumers, 1000, 2, 1}, {AxisConsumers, 1000, 2, 2},
	}
	require.Len(t, rep.Points, len(want))
	for i, w := range want {
		p := rep.Points[i]
		assert.Equal(t, w.axis, p.Axis, "point %d", i)
		assert.Equal(t, w.records, p.Records, "point %d", i)
		assert.Equal(t, w.partitions, p.Partitions, "point %d", i)
		assert.Equal(t, w.consumers, p.Processes, "point %d", i)
		assert.Positive(t, p.Rate, "point %d", i)
		assert.Positive(t, p.CPUSeconds, "point %d", i)
		assert.InDelta(t, float64(p.Records)/p.CPUSeconds, p.PerCore, 1e-6*p.PerCore, "point %d", i)
		assert.Greater(t, p.PeakRSS, uint64(8<<20), "point %d", i)
		assert.Less(t, p.PeakRSS, uint64(1<<30), "point %d", i)
		owned := (w.partitions + w.consumers - 1) / w.consumers
		assert.Equal(t, p.PeakRSS/uint64(owned), p.RSSPerPartition, "point %d", i)
	}
	// The shared point (first of every axis) is measured once.
	assert.Equal(t, rep.Points[0].ProcRun, rep.Points[2].ProcRun)
	assert.Equal(t, rep.Points[0].ProcRun, rep.Points[4].ProcRun)
	for _, axis := range []string{AxisRecords, AxisPartitions, AxisConsumers} {
		pts := rep.Axis(axis)
		assert.InDelta(t, 1, pts[0].PerCoreVsFirst, 1e-9, axis)
		assert.InDelta(t, pts[1].PerCore/pts[0].PerCore, pts[1].PerCoreVsFirst, 1e-9, axis)
	}

	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	for _, s := range []string{"by records:", "by partitions:", "by consumers:", "rec/CPU-s", "RSS / owned partition",
		count(int64(rep.Points[1].PerCore)), mib(rep.Points[3].RSSPerPartition)} {
		assert.Contains(t, table.String(), s)
	}

	b, err := json.Marshal(rep)
	require.NoError(t, err)
	var back SweepReport
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, rep.Points, back.Points)

	var svg bytes.Buffer
	require.NoError(t, rep.WriteSVG(&svg))
	cells := parseSweepSVG(t, svg.Bytes())
	require.Len(t, cells, 6, "3 axes × 2 measures")
	for _, c := range cells {
		assert.Equal(t, 1, c.lines, "%s/%s", c.axis, c.measure)
		require.Len(t, c.values, 2, "%s/%s", c.axis, c.measure)
		pts := rep.Axis(c.axis)
		for i, v := range c.values {
			switch c.measure {
			case "per-core":
				assert.Equal(t, pts[i].PerCore, v)
			case "rss-per-partition":
				assert.InDelta(t, float64(pts[i].RSSPerPartition)/(1<<20), v, 1e-6)
			default:
				t.Errorf("unknown measure %q", c.measure)
			}
		}
	}
}

func TestValidateSweep(t *testing.T) {
	t.Setenv("TICKFLOW_BIN", "")
	var ce *ConfigError
	err := ValidateSweep()
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, "sink binary", ce.Option)
	bin := "/bin/sh" // any file: only its existence is checked
	for _, tc := range []struct {
		opt    Option
		option string
	}{
		{SweepRecords(), "sweep-records"}, {SweepRecords(0), "sweep-records"},
		{SweepPartitions(MaxPartitions + 1), "sweep-partitions"}, {SweepConsumers(0), "sweep-consumers"},
	} {
		err := ValidateSweep(SinkBinary(bin), tc.opt)
		require.True(t, errors.As(err, &ce), "%v", err)
		assert.Equal(t, tc.option, ce.Option)
	}
	assert.NoError(t, ValidateSweep(SinkBinary(bin)))
}

type sweepCell struct {
	axis, measure string
	lines         int
	values        []float64
}

// parseSweepSVG checks that doc is well-formed XML and returns its cells.
func parseSweepSVG(t *testing.T, doc []byte) []sweepCell {
	t.Helper()
	attr := func(el xml.StartElement, name string) string {
		for _, a := range el.Attr {
			if a.Name.Local == name {
				return a.Value
			}
		}
		return ""
	}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var cells []sweepCell
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "SVG is not well-formed XML")
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case el.Name.Local == "g" && attr(el, "class") == "cell":
			cells = append(cells, sweepCell{axis: attr(el, "data-axis"), measure: attr(el, "data-measure")})
		case el.Name.Local == "polyline" && strings.Contains(attr(el, "class"), "series") && len(cells) > 0:
			cells[len(cells)-1].lines++
		case el.Name.Local == "circle" && attr(el, "class") == "point" && len(cells) > 0:
			var v float64
			require.NoError(t, json.Unmarshal([]byte(attr(el, "data-value")), &v))
			cells[len(cells)-1].values = append(cells[len(cells)-1].values, v)
		}
	}
	return cells
}
