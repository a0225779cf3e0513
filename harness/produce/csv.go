package produce

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tickflow/tickflow/harness/tick"
)

// RowError is one bad input row: where it is, what is wrong and how to fix
// it. In lenient mode the CSV source skips the row and keeps it (see
// CSV.BadRows); in strict mode Next returns it.
type RowError struct {
	File    string // input name as given to NewCSV
	Line    int    // 1-based line number
	Problem string
	Fix     string
}

func (e *RowError) Error() string {
	return fmt.Sprintf("%s:%d: %s; fix: %s", e.File, e.Line, e.Problem, e.Fix)
}

// ErrBadInput is wrapped by every error about malformed input (header or
// row), so callers can tell bad input from I/O and broker errors.
var ErrBadInput = errors.New("bad input")

// Is lets errors.Is(err, ErrBadInput) match a *RowError.
func (e *RowError) Is(target error) bool { return target == ErrBadInput }

// maxKeptBadRows bounds the memory a very dirty file can take: every bad row
// is counted, the first maxKeptBadRows are kept for the report.
const maxKeptBadRows = 1000

// CSV reads ticks from the seed project's CSV
// (Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD, ISO dates) or
// from the raw TSV variant (tab-separated, dd/mm/yyyy dates, no CloseUSD;
// close_usd is then derived with the fixed per-currency rate in Rates).
// The delimiter and date format are detected from the header and first row.
type CSV struct {
	name     string
	r        *bufio.Reader
	strict   bool
	onBad    func(*RowError)
	line     int
	delim    byte
	cols     int  // 9 with CloseUSD, 8 without
	dmy      bool // dd/mm/yyyy dates
	dateSeen bool
	bad      []*RowError
	skipped  int
	done     bool
}

// CSVOption configures NewCSV.
type CSVOption func(*CSV)

// Strict makes the first bad row fatal: Next returns its *RowError instead of
// skipping it. Default: lenient (skip, report, count).
func Strict() CSVOption { return func(c *CSV) { c.strict = true } }

// OnBadRow calls fn for every bad row as it is found (e.g. to print it).
func OnBadRow(fn func(*RowError)) CSVOption { return func(c *CSV) { c.onBad = fn } }

var (
	headerWithUSD = []string{"Index", "Date", "Open", "High", "Low", "Close", "Adj Close", "Volume", "CloseUSD"}
	headerRaw     = headerWithUSD[:8]
)

// NewCSV reads and checks the header of r; name is used in messages (usually
// the file name). A wrong header is an error wrapping ErrBadInput.
func NewCSV(r io.Reader, name string, opts ...CSVOption) (*CSV, error) {
	c := &CSV{name: name, r: bufio.NewReaderSize(r, 64<<10)}
	for _, o := range opts {
		o(c)
	}
	line, _, err := c.readLine()
	if err == io.EOF && line == "" {
		return nil, &RowError{File: name, Line: 1, Problem: "file is empty, expected a header",
			Fix: "give a CSV starting with " + strings.Join(headerWithUSD, ",")}
	}
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	line = strings.TrimPrefix(line, "\ufeff")
	switch {
	case strings.Count(line, "\t") >= strings.Count(line, ","):
		c.delim = '\t'
	default:
		c.delim = ','
	}
	got := strings.Split(line, string(c.delim))
	for i := range got {
		got[i] = unquote(strings.TrimSpace(got[i]))
	}
	switch {
	case equalFold(got, headerWithUSD):
		c.cols = 9
	case equalFold(got, headerRaw):
		c.cols = 8
	default:
		return nil, &RowError{File: name, Line: 1,
			Problem: fmt.Sprintf("unexpected header %s", clip(line)),
			Fix:     "the header must be " + strings.Join(headerWithUSD, ",") + " (CloseUSD optional), comma- or tab-separated"}
	}
	return c, nil
}

func equalFold(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}

// readLine returns the next line without its terminator and whether it had
// one (a last line without a newline is how a cut-off export looks).
func (c *CSV) readLine() (string, bool, error) {
	s, err := c.r.ReadString('\n')
	c.line++
	terminated := strings.HasSuffix(s, "\n")
	s = strings.TrimRight(s, "\r\n")
	return s, terminated, err
}

// Next returns the next good tick, or io.EOF after the last line. Bad rows
// are skipped and recorded (lenient) or returned as *RowError (Strict).
func (c *CSV) Next() (tick.Tick, error) {
	for !c.done {
		line, terminated, err := c.readLine()
		if err != nil && err != io.EOF {
			return tick.Tick{}, fmt.Errorf("read %s line %d: %w", c.name, c.line, err)
		}
		if err == io.EOF {
			c.done = true
			if line == "" {
				break
			}
		}
		if strings.TrimSpace(line) == "" {
			continue // blank lines carry no row
		}
		t, problem, fix := c.parse(line)
		if problem == "" && !terminated {
			// A final line without a newline cannot be told apart from one
			// cut mid-number ("2913." parses): refuse to guess.
			problem = "last line has no line terminator: the file was probably cut off mid-row"
			fix = "re-export the file, or end the last line with a newline if it is complete"
		}
		if problem != "" {
			re := &RowError{File: c.name, Line: c.line, Problem: problem, Fix: fix}
			if c.strict {
				return tick.Tick{}, re
			}
			c.skipped++
			if len(c.bad) < maxKeptBadRows {
				c.bad = append(c.bad, re)
			}
			if c.onBad != nil {
				c.onBad(re)
			}
			continue
		}
		return t, nil
	}
	return tick.Tick{}, io.EOF
}

// Skipped is the number of bad rows skipped so far.
func (c *CSV) Skipped() int { return c.skipped }

// BadRows returns the bad rows skipped so far (the first 1000).
func (c *CSV) BadRows() []*RowError { return c.bad }

// maxSymbolBytes bounds the Index column: it becomes the Kafka record key
// and the lake's symbol column, and real index symbols are a few characters.
const maxSymbolBytes = 64

// clip quotes s for a message, cut to a readable length: a bad row can be a
// megabyte of garbage.
func clip(s string) string {
	const n = 60
	if len(s) <= n {
		return strconv.Quote(s)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// unquote removes the double quotes a spreadsheet export puts around a field
// ("HSI" → HSI, "a""b" → a"b). A quoted field cannot hold the delimiter:
// rows are split on it first.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.TrimSpace(strings.ReplaceAll(s[1:len(s)-1], `""`, `"`))
	}
	return s
}

func (c *CSV) parse(line string) (t tick.Tick, problem, fix string) {
	if !utf8.ValidString(line) {
		return t, "row is not valid UTF-8 text (binary data or a legacy encoding?)",
			"convert the file to UTF-8, or remove the binary data"
	}
	f := strings.Split(line, string(c.delim))
	if len(f) != c.cols {
		return t, fmt.Sprintf("%d columns, want %d", len(f), c.cols),
			"every row needs exactly the header's columns; check for a cut-off line, a stray delimiter, or a quoted field that contains the delimiter"
	}
	for i := range f {
		f[i] = unquote(strings.TrimSpace(f[i]))
		if strings.EqualFold(f[i], "null") || f[i] == "" {
			return t, fmt.Sprintf("column %s is %q", headerWithUSD[i], f[i]),
				"drop rows without values (e.g. market holidays) or fill them in before producing"
		}
	}
	if len(f[0]) > maxSymbolBytes || strings.ContainsFunc(f[0], func(r rune) bool { return unicode.IsControl(r) || r == '"' }) {
		return t, fmt.Sprintf("column Index %s is not an index symbol", clip(f[0])),
			fmt.Sprintf("write the index symbol (e.g. HSI): at most %d bytes, no quotes or control characters", maxSymbolBytes)
	}
	t.Symbol = f[0]
	date, err := c.parseDate(f[1])
	if err != nil {
		return t, fmt.Sprintf("column Date %s is not a date", clip(f[1])), "use YYYY-MM-DD (or dd/mm/yyyy in the raw TSV format)"
	}
	t.TradeDate = date
	nums := []*float64{&t.Open, &t.High, &t.Low, &t.Close, &t.AdjClose}
	for i, p := range nums {
		v, err := parseFinite(f[2+i])
		if err != nil {
			return t, fmt.Sprintf("column %s %s is not a number", headerWithUSD[2+i], clip(f[2+i])), "write prices as decimal numbers"
		}
		*p = v
	}
	vol, err := parseFinite(f[7])
	if err != nil || vol < 0 || vol != math.Trunc(vol) || vol > math.MaxInt64/2 {
		return t, fmt.Sprintf("column Volume %s is not a whole non-negative number", clip(f[7])), "write Volume as an integer (e.g. 1200 or 1200.0)"
	}
	t.Volume = int64(vol)
	if c.cols == 9 {
		v, err := parseFinite(f[8])
		if err != nil {
			return t, fmt.Sprintf("column CloseUSD %s is not a number", clip(f[8])), "write CloseUSD as a decimal number"
		}
		t.CloseUSD = v
	} else {
		rate, ok := RateFor(t.Symbol)
		if !ok {
			return t, fmt.Sprintf("unknown index %s and no CloseUSD column", clip(t.Symbol)),
				"add a CloseUSD column, or use one of the 14 indexes of indexInfo.csv"
		}
		t.CloseUSD = t.Close * rate
	}
	return t, "", ""
}

func parseFinite(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, errors.New("not finite")
	}
	return v, nil
}

func (c *CSV) parseDate(s string) (string, error) {
	if !c.dateSeen {
		// Detect the format from the first row that has a date.
		c.dmy = strings.Contains(s, "/")
		c.dateSeen = true
	}
	layout := time.DateOnly
	if c.dmy {
		layout = "02/01/2006"
	}
	d, err := time.Parse(layout, s)
	if err != nil {
		return "", err
	}
	return d.Format(time.DateOnly), nil
}

// ReadAll reads every good tick of a CSV in memory (small inputs and tests).
func ReadAll(r io.Reader, name string, opts ...CSVOption) ([]tick.Tick, *CSV, error) {
	c, err := NewCSV(r, name, opts...)
	if err != nil {
		return nil, nil, err
	}
	var out []tick.Tick
	for {
		t, err := c.Next()
		if err == io.EOF {
			return out, c, nil
		}
		if err != nil {
			return out, c, err
		}
		out = append(out, t)
	}
}
