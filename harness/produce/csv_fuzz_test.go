package produce

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/tick"
)

// dataLines counts the lines after the header that carry something: the
// rows the reader must either return as ticks or report as bad.
func dataLines(in []byte) int {
	lines := bytes.SplitAfter(in, []byte("\n"))
	n := 0
	for i, l := range lines {
		if i == 0 {
			continue // the header
		}
		if strings.TrimSpace(strings.TrimRight(string(l), "\r\n")) != "" {
			n++
		}
	}
	return n
}

// checkTick asserts that a tick the reader returned is one the lake can hold.
func checkTick(t *testing.T, tk tick.Tick) {
	t.Helper()
	assert.NotEmpty(t, tk.Symbol)
	assert.Equal(t, strings.TrimSpace(tk.Symbol), tk.Symbol)
	assert.True(t, utf8.ValidString(tk.Symbol), "symbol %q is not UTF-8", tk.Symbol)
	assert.NotContains(t, tk.Symbol, `"`, "quotes belong to the CSV, not to the symbol")
	_, err := time.Parse(time.DateOnly, tk.TradeDate)
	assert.NoError(t, err)
	for _, v := range []float64{tk.Open, tk.High, tk.Low, tk.Close, tk.AdjClose, tk.CloseUSD} {
		assert.False(t, math.IsNaN(v) || math.IsInf(v, 0), "non-finite price in %+v", tk)
	}
	assert.GreaterOrEqual(t, tk.Volume, int64(0))
}

// FuzzCSV feeds arbitrary bytes to the CSV/TSV reader: it never panics, every
// row becomes either a valid tick or a RowError naming the file and a line
// that exists, and ticks + skipped rows add up to the data lines.
func FuzzCSV(f *testing.F) {
	for _, p := range []string{"../../testdata/indexProcessed-HSI.csv", "../../testdata/indexData-GSPTSE-raw.tsv", "../../testdata/indexInfo.csv"} {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		if len(b) > 4<<10 {
			b = b[:4<<10] // keep the seeds fast; the cut makes a truncated last line
		}
		f.Add(b)
	}
	f.Add([]byte("\ufeff" + hdr + "HSI,2010-01-04,1,2,0.5,1.5,1.5,10,0.2\r\n"))
	f.Add([]byte(hdr + `"HSI","2010-01-04","1","2","0.5","1.5","1.5","10","0.2"` + "\n"))
	f.Add([]byte("Index\tDate\tOpen\tHigh\tLow\tClose\tAdj Close\tVolume\nGSPTSE\t04/01/2010\t1\t2\t0.5\t1.5\t1.5\t10\n"))
	f.Add([]byte(hdr))
	f.Add([]byte{})
	f.Add([]byte(hdr + "\x00\xff\xfe,2010-01-04,1,2,0.5,1.5,1.5,10,0.2\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		const name = "fuzz.csv"
		lines := bytes.Count(in, []byte("\n")) + 1
		c, err := NewCSV(bytes.NewReader(in), name)
		if err != nil {
			var re *RowError
			require.ErrorAs(t, err, &re, "a header problem is a RowError")
			assert.Equal(t, name, re.File)
			assert.Equal(t, 1, re.Line)
			assert.ErrorIs(t, err, ErrBadInput)
			return
		}
		good := 0
		for {
			tk, err := c.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, "lenient mode returns no row errors")
			checkTick(t, tk)
			good++
			require.LessOrEqual(t, good, lines, "more ticks than lines")
		}
		for _, re := range c.BadRows() {
			assert.Equal(t, name, re.File)
			assert.GreaterOrEqual(t, re.Line, 2, "rows start after the header")
			assert.LessOrEqual(t, re.Line, lines)
			assert.NotEmpty(t, re.Problem)
			assert.NotEmpty(t, re.Fix)
		}
		assert.Equal(t, dataLines(in), good+c.Skipped(), "every data line is a tick or a skipped row")

		// Strict mode stops at the first bad row, the one lenient mode
		// reported first.
		sc, err := NewCSV(bytes.NewReader(in), name, Strict())
		require.NoError(t, err)
		for {
			_, err := sc.Next()
			if errors.Is(err, io.EOF) {
				assert.Zero(t, c.Skipped(), "strict mode read to the end past a bad row")
				break
			}
			if err != nil {
				var re *RowError
				require.ErrorAs(t, err, &re)
				require.NotEmpty(t, c.BadRows())
				assert.Equal(t, c.BadRows()[0].Line, re.Line)
				break
			}
		}
	})
}

// TestCSVRobust covers inputs nobody writes on purpose but everybody gets.
func TestCSVRobust(t *testing.T) {
	row := "HSI,2010-01-04,1,2,0.5,1.5,1.5,10,0.2\n"
	want := tick.Tick{Symbol: "HSI", TradeDate: "2010-01-04", Open: 1, High: 2, Low: 0.5, Close: 1.5, AdjClose: 1.5, Volume: 10, CloseUSD: 0.2}
	cases := []struct {
		name      string
		in        string
		ticks     int
		badLine   int    // line of the first bad row, 0: none
		problem   string // in the first bad row's (or the header error's) problem
		headerErr bool
	}{
		{name: "BOM", in: "\ufeff" + hdr + row, ticks: 1},
		{name: "CRLF", in: strings.ReplaceAll(hdr+row+row, "\n", "\r\n"), ticks: 2},
		{name: "quoted fields", in: hdr + `"HSI","2010-01-04","1","2","0.5","1.5","1.5","10","0.2"` + "\n", ticks: 1},
		{name: "quoted header", in: `"Index","Date","Open","High","Low","Close","Adj Close","Volume","CloseUSD"` + "\n" + row, ticks: 1},
		{name: "quoted field with the delimiter", in: hdr + `HSI,2010-01-04,"1,5",2,0.5,1.5,1.5,10,0.2` + "\n" + row, ticks: 1, badLine: 2, problem: "10 columns"},
		{name: "extra spaces", in: " Index , Date ,Open,High,Low,Close, Adj Close ,Volume,CloseUSD\n" + "  HSI , 2010-01-04 , 1 ,2,0.5,1.5,1.5, 10 ,0.2 \n", ticks: 1},
		{name: "empty file", in: "", headerErr: true, problem: "file is empty"},
		{name: "header only", in: hdr, ticks: 0},
		{name: "header only without newline", in: strings.TrimSuffix(hdr, "\n"), ticks: 0},
		{name: "binary garbage", in: "\x00\x01\x02\xff\xfe\x89PNG\r\n\x1a\n", headerErr: true, problem: "unexpected header"},
		{name: "binary garbage row", in: hdr + "\xff\xfe\x00,2010-01-04,1,2,0.5,1.5,1.5,10,0.2\n" + row, ticks: 1, badLine: 2, problem: "UTF-8"},
		{name: "1 MB line", in: hdr + strings.Repeat("9", 1<<20) + "\n" + row, ticks: 1, badLine: 2, problem: "1 columns"},
		{name: "1 MB symbol", in: hdr + strings.Repeat("H", 1<<20) + ",2010-01-04,1,2,0.5,1.5,1.5,10,0.2\n" + row, ticks: 1, badLine: 2, problem: "Index"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ticks, c, err := ReadAll(strings.NewReader(tc.in), "in.csv")
			if tc.headerErr {
				var re *RowError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, "in.csv", re.File)
				assert.Equal(t, 1, re.Line)
				assert.Contains(t, re.Problem, tc.problem)
				return
			}
			require.NoError(t, err)
			require.Len(t, ticks, tc.ticks)
			for _, tk := range ticks {
				assert.Equal(t, want, tk)
			}
			if tc.badLine == 0 {
				assert.Zero(t, c.Skipped(), "bad rows: %v", c.BadRows())
				return
			}
			require.NotEmpty(t, c.BadRows())
			re := c.BadRows()[0]
			assert.Equal(t, "in.csv", re.File)
			assert.Equal(t, tc.badLine, re.Line)
			assert.Contains(t, re.Problem, tc.problem)
			assert.Less(t, len(re.Error()), 1000, "a huge bad row must not be quoted whole in the message")
		})
	}
}

// TestCSVFolder: a folder given as the CSV file is an I/O error naming it,
// not bad input. (A missing file never gets here: the CLI's os.Open names it.)
func TestCSVFolder(t *testing.T) {
	dir := t.TempDir()
	fh, err := os.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { fh.Close() })
	_, err = NewCSV(fh, "ticks-folder")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ticks-folder")
	assert.Contains(t, err.Error(), "is a directory")
	assert.NotErrorIs(t, err, ErrBadInput, "an unreadable file is not bad input")
}
