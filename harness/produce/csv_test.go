package produce

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow"
	"github.com/tickflow/tickflow/harness/tick"
)

const hdr = "Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD\n"

func TestCSVGoodRows(t *testing.T) {
	in := hdr + "HSI,2010-01-04,1.5,2,1,1.75,1.75,1200.0,0.2275\n" + "\n" + "NYA,2010-01-05,10,11,9,10.5,10.5,7,10.5\r\n"
	ticks, c, err := ReadAll(strings.NewReader(in), "good.csv")
	require.NoError(t, err)
	assert.Equal(t, 0, c.Skipped())
	assert.Equal(t, []tick.Tick{
		{Symbol: "HSI", TradeDate: "2010-01-04", Open: 1.5, High: 2, Low: 1, Close: 1.75, AdjClose: 1.75, Volume: 1200, CloseUSD: 0.2275},
		{Symbol: "NYA", TradeDate: "2010-01-05", Open: 10, High: 11, Low: 9, Close: 10.5, AdjClose: 10.5, Volume: 7, CloseUSD: 10.5},
	}, ticks)
}

func TestCSVBadRows(t *testing.T) {
	good := "HSI,2010-01-04,1,2,0.5,1.5,1.5,0.0,0.2\n"
	cases := []struct {
		name, row, want string
	}{
		{"too few columns", "HSI,2010-01-05,1,2,0.5,1.5\n", "6 columns, want 9"},
		{"too many columns", "HSI,2010-01-05,1,2,0.5,1.5,1.5,0,0.2,9\n", "10 columns, want 9"},
		{"bad number", "HSI,2010-01-05,1,x2,0.5,1.5,1.5,0,0.2\n", `column High "x2" is not a number`},
		{"NaN", "HSI,2010-01-05,1,NaN,0.5,1.5,1.5,0,0.2\n", `column High "NaN" is not a number`},
		{"bad date", "HSI,2010-13-05,1,2,0.5,1.5,1.5,0,0.2\n", `column Date "2010-13-05" is not a date`},
		{"null", "HSI,2010-01-05,null,null,null,null,null,null,null\n", `column Open is "null"`},
		{"empty field", "HSI,2010-01-05,1,2,,1.5,1.5,0,0.2\n", `column Low is ""`},
		{"fractional volume", "HSI,2010-01-05,1,2,0.5,1.5,1.5,1.5,0.2\n", `column Volume "1.5" is not a whole`},
		{"negative volume", "HSI,2010-01-05,1,2,0.5,1.5,1.5,-3,0.2\n", `column Volume "-3"`},
		{"bad closeusd", "HSI,2010-01-05,1,2,0.5,1.5,1.5,0,abc\n", `column CloseUSD "abc"`},
		{"truncated last line", "HSI,2010-01-05,1,2,0.5,1.5,1.5,0,2913.", "no line terminator"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := hdr + good + tc.row
			if strings.HasSuffix(tc.row, "\n") {
				in += good
			}
			var seen []*RowError
			ticks, c, err := ReadAll(strings.NewReader(in), "in.csv", OnBadRow(func(e *RowError) { seen = append(seen, e) }))
			require.NoError(t, err)
			assert.Equal(t, 1, c.Skipped())
			assert.Len(t, ticks, strings.Count(in, good))
			require.Len(t, c.BadRows(), 1)
			re := c.BadRows()[0]
			assert.Equal(t, "in.csv", re.File)
			assert.Equal(t, 3, re.Line)
			assert.Contains(t, re.Problem, tc.want)
			assert.NotEmpty(t, re.Fix)
			assert.Contains(t, re.Error(), "in.csv:3: ")
			assert.Equal(t, []*RowError{re}, seen)

			_, _, err = ReadAll(strings.NewReader(in), "in.csv", Strict())
			var se *RowError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, 3, se.Line)
			assert.ErrorIs(t, err, ErrBadInput)
		})
	}
}

func TestCSVBadHeader(t *testing.T) {
	cases := map[string]string{
		"empty":          "",
		"renamed column": "Index,Day,Open,High,Low,Close,Adj Close,Volume,CloseUSD\nHSI,2010-01-04,1,2,0.5,1.5,1.5,0,0.2\n",
		"no header":      "HSI,2010-01-04,1,2,0.5,1.5,1.5,0,0.2\n",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewCSV(strings.NewReader(in), "h.csv")
			var re *RowError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, 1, re.Line)
			assert.True(t, errors.Is(err, ErrBadInput))
			assert.Contains(t, err.Error(), "h.csv:1:")
		})
	}
}

func TestCSVSharedSamples(t *testing.T) {
	t.Run("embedded HSI sample", func(t *testing.T) {
		ticks, c, err := ReadAll(bytes.NewReader(tickflow.SampleCSV), "indexProcessed-HSI.csv")
		require.NoError(t, err)
		lines := bytes.Count(tickflow.SampleCSV, []byte("\n")) // header + complete rows
		assert.Len(t, ticks, lines-1)
		require.Equal(t, 1, c.Skipped(), "the cut-off last line")
		assert.Equal(t, lines+1, c.BadRows()[0].Line)
		assert.Equal(t, "HSI", ticks[0].Symbol)
		assert.Equal(t, "1986-12-31", ticks[0].TradeDate)
		assert.Equal(t, int64(0), ticks[0].Volume)
	})
	t.Run("raw GSPTSE tsv", func(t *testing.T) {
		f, err := os.Open("../../testdata/indexData-GSPTSE-raw.tsv")
		require.NoError(t, err)
		defer f.Close()
		raw, err := io.ReadAll(f)
		require.NoError(t, err)
		nulls := bytes.Count(raw, []byte("\tnull"))
		ticks, c, err := ReadAll(bytes.NewReader(raw), "indexData-GSPTSE-raw.tsv")
		require.NoError(t, err)
		rows := bytes.Count(raw, []byte("\n")) - 1
		nullRows := 0
		for _, l := range bytes.Split(raw, []byte("\n")) {
			if bytes.Contains(l, []byte("null")) {
				nullRows++
			}
		}
		require.Positive(t, nulls)
		assert.Equal(t, nullRows, c.Skipped())
		assert.Len(t, ticks, rows-nullRows)
		assert.Equal(t, "1979-06-29", ticks[0].TradeDate, "dd/mm/yyyy converted to ISO")
		assert.InDelta(t, ticks[0].Close*Rates["CAD"], ticks[0].CloseUSD, 1e-9)
		for _, b := range c.BadRows() {
			assert.Contains(t, b.Problem, "null")
		}
	})
}

func TestSyntheticDeterministic(t *testing.T) {
	take := func(n int, seed uint64) []tick.Tick {
		var out []tick.Tick
		s := Synthetic(n, seed)
		for {
			tk, err := s.Next()
			if err == io.EOF {
				return out
			}
			require.NoError(t, err)
			out = append(out, tk)
		}
	}
	a, b, c := take(500, 7), take(500, 7), take(500, 8)
	require.Len(t, a, 500)
	assert.Equal(t, a, b, "same seed, same sequence")
	assert.NotEqual(t, a, c, "different seed, different sequence")

	syms := map[string]int{}
	for i, tk := range a {
		syms[tk.Symbol]++
		assert.GreaterOrEqual(t, tk.High, tk.Open, i)
		assert.GreaterOrEqual(t, tk.High, tk.Close, i)
		assert.LessOrEqual(t, tk.Low, tk.Open, i)
		assert.LessOrEqual(t, tk.Low, tk.Close, i)
		assert.Positive(t, tk.Volume)
		_, err := tick.DateToDays(tk.TradeDate)
		assert.NoError(t, err)
		r, ok := RateFor(tk.Symbol)
		require.True(t, ok, tk.Symbol)
		assert.InDelta(t, tk.Close*r, tk.CloseUSD, 0.01)
	}
	assert.Len(t, syms, 14)
	assert.Equal(t, a[0].TradeDate, a[13].TradeDate, "one tick per index per day")
	assert.NotEqual(t, a[13].TradeDate, a[14].TradeDate)
}

// Large synthetic runs keep trade dates on plausible trading days: 200k
// ticks would otherwise reach 2054.
func TestSyntheticDatesStayPlausible(t *testing.T) {
	s := Synthetic(200_000, 1)
	first, last := SyntheticFirstDay.Format(time.DateOnly), SyntheticLastDay.Format(time.DateOnly)
	days := map[string]bool{}
	for {
		tk, err := s.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.GreaterOrEqual(t, tk.TradeDate, first)
		require.LessOrEqual(t, tk.TradeDate, last)
		d, err := time.Parse(time.DateOnly, tk.TradeDate)
		require.NoError(t, err)
		require.NotContains(t, []time.Weekday{time.Saturday, time.Sunday}, d.Weekday(), tk.TradeDate)
		days[tk.TradeDate] = true
	}
	assert.Greater(t, len(days), 6000, "the calendar is used, not a few days")
}
