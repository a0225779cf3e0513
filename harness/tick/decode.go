package tick

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/goccy/go-json"
)

// Decode parses a Kafka record value (tick JSON) into t, overwriting all of
// t: a key absent from b leaves its field zero, whatever t held before.
// A value field whose key is absent or null is also listed in t.Null (it is
// NULL in the lake, not 0), and t.Unknown counts the keys that are not tick
// fields (they are ignored).
//
// For every well-formed JSON value (RFC 8259) it accepts and rejects exactly
// what github.com/goccy/go-json's Unmarshal into a zero Tick does, with the
// same error and the same values (one exception: a value field whose key is
// repeated and last null is NULL and 0, where goccy keeps the earlier value).
// It handles the shape producers write itself — one object of known,
// exactly spelled, non-repeated keys with plain ASCII strings, JSON-grammar
// numbers and nulls, plus unknown keys with such scalar values — and hands
// every other value to goccy. That common shape decodes without allocating
// (symbols and dates are interned) and several times faster than goccy's
// reflection path.
//
// Malformed JSON is always rejected, with an error giving the byte offset
// and what is wrong, before goccy sees it: goccy leniently accepts some of
// it ({"volume":-} as 0, control bytes in strings, anything after a NUL),
// and on some truncated values reads past its buffer or panics, which would
// make a poison record crash its consumer or decode to garbage.
func Decode(b []byte, t *Tick) error {
	if decodeFast(b, t) {
		return nil
	}
	*t = Tick{}
	if !stdjson.Valid(b) {
		return syntaxError(b)
	}
	if err := decodeReference(b, t); err != nil {
		return err
	}
	t.Null, t.Unknown = presence(b)
	if t.Null != 0 {
		t.clearNulls()
	}
	return nil
}

// clearNulls sets the fields of t's NULL values to 0.
func (t *Tick) clearNulls() {
	r := Row{Open: t.Open, High: t.High, Low: t.Low, Close: t.Close, AdjClose: t.AdjClose, Volume: t.Volume, CloseUSD: t.CloseUSD, Null: t.Null}
	r.clearNulls()
	t.Open, t.High, t.Low, t.Close, t.AdjClose, t.Volume, t.CloseUSD = r.Open, r.High, r.Low, r.Close, r.AdjClose, r.Volume, r.CloseUSD
}

// presentTick has a pointer per value field: decoded by goccy, a nil field
// is a key that was absent or (last) null.
type presentTick struct {
	Open     *float64 `json:"open"`
	High     *float64 `json:"high"`
	Low      *float64 `json:"low"`
	Close    *float64 `json:"close"`
	AdjClose *float64 `json:"adj_close"`
	Volume   *int64   `json:"volume"`
	CloseUSD *float64 `json:"close_usd"`
}

// presence is the slow path's Null and Unknown for b, valid JSON that goccy
// decoded into a Tick: the value fields goccy left unset (it matches keys
// case-insensitively), and the number of keys of the object that match no
// field the way goccy matches them.
func presence(b []byte) (null Nulls, unknown int) {
	defer func() {
		if recover() != nil { // not expected: goccy already decoded b
			null, unknown = 0, 0
		}
	}()
	var p presentTick
	if json.Unmarshal(b, &p) != nil {
		return 0, 0 // not expected either: keep the values as decoded
	}
	for i, isNull := range [...]bool{p.Open == nil, p.High == nil, p.Low == nil, p.Close == nil, p.AdjClose == nil, p.Volume == nil, p.CloseUSD == nil} {
		if isNull {
			null |= 1 << i
		}
	}
	dec := stdjson.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != stdjson.Delim('{') {
		return null, 0
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if k, ok := tok.(string); ok && fieldOf([]byte(asciiLower(k))) == 0 {
			unknown++
		}
		var skip stdjson.RawMessage
		if dec.Decode(&skip) != nil {
			break
		}
	}
	return null, unknown
}

// asciiLower lowercases the ASCII letters of k, as goccy folds keys; a key
// with other bytes is returned as is (it names no field either way).
func asciiLower(k string) string {
	b := []byte(k)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// syntaxError explains why b, which is not valid JSON, is not: where, what,
// and the bytes just before, so a dead-letter header is enough to see it.
func syntaxError(b []byte) error {
	var v struct{}
	err := stdjson.Unmarshal(b, &v) // checks the whole value before decoding
	var se *stdjson.SyntaxError
	if !errors.As(err, &se) {
		return fmt.Errorf("invalid JSON: %v", err) // not expected: b is not Valid
	}
	off := int(min(max(se.Offset, 0), int64(len(b))))
	msg := se.Error()
	// At the end of input the scanner reports a space it made up.
	if off == len(b) && strings.Contains(msg, "invalid character ' '") && (off == 0 || b[off-1] != ' ') {
		msg = "unexpected end of JSON input (value truncated?)"
	}
	return fmt.Errorf("invalid JSON at byte %d of %d, after %q: %s", off, len(b), b[max(0, off-24):off], msg)
}

// decodeReference is goccy's Unmarshal, with a panic (none is known on
// valid JSON) turned into an error.
func decodeReference(b []byte, t *Tick) (err error) {
	defer func() {
		if p := recover(); p != nil {
			*t = Tick{}
			err = fmt.Errorf("tick JSON decoder failed: %v", p)
		}
	}()
	return json.Unmarshal(b, t)
}

// Bits of the fields decodeFast has seen, to hand repeated keys to goccy.
// The value fields' bits are their Nulls bits.
const (
	fOpen      = int(NullOpen)
	fHigh      = int(NullHigh)
	fLow       = int(NullLow)
	fClose     = int(NullClose)
	fAdjClose  = int(NullAdjClose)
	fVolume    = int(NullVolume)
	fCloseUSD  = int(NullCloseUSD)
	fSymbol    = 1 << 7
	fTradeDate = 1 << 8
)

// decodeFast decodes the common shape of b into t and reports whether it
// did; when it returns false t holds garbage and b must go to the reference
// decoder. It never decides that b is invalid: anything unusual (escapes,
// non-ASCII or control bytes in strings, differently cased or repeated
// keys, objects or arrays as values, numbers outside the JSON grammar or
// outside what int64/float64 hold exactly the way goccy reads them,
// trailing bytes) returns false, so errors and goccy's leniencies come from
// goccy alone. Unknown keys with scalar values are skipped and counted; a
// null leaves its field zero, as in goccy, and a null value field NULL.
func decodeFast(b []byte, t *Tick) bool {
	var out Tick
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i >= len(b) {
		return false
	}
	seen := 0
	nulls := 0 // fields whose value is null
	if b[i] == '}' {
		i++
	} else {
		for {
			// Key.
			if b[i] != '"' {
				return false
			}
			ks, ke, ok := scanString(b, i+1)
			if !ok {
				return false
			}
			f := fieldOf(b[ks:ke])
			if seen&f != 0 {
				return false
			}
			seen |= f
			i = skipWS(b, ke+1)
			if i >= len(b) || b[i] != ':' {
				return false
			}
			i = skipWS(b, i+1)
			if i >= len(b) {
				return false
			}
			// Value.
			switch {
			case f == 0:
				if foldsToField(b[ks:ke]) {
					return false // goccy matches keys case-insensitively
				}
				n, ok := skipScalar(b[i:])
				if !ok {
					return false
				}
				out.Unknown++
				i += n
			case b[i] == 'n':
				if len(b)-i < 4 || string(b[i:i+4]) != "null" {
					return false
				}
				i += 4 // the field stays zero; a value field is NULL
				nulls |= f
			case f == fSymbol || f == fTradeDate:
				if b[i] != '"' {
					return false
				}
				vs, ve, ok := scanString(b, i+1)
				if !ok {
					return false
				}
				s := intern(b[vs:ve])
				if f == fSymbol {
					out.Symbol = s
				} else {
					out.TradeDate = s
				}
				i = ve + 1
			case f == fVolume:
				v, n, ok := parseInt64(b[i:])
				if !ok {
					return false
				}
				out.Volume = v
				i += n
			default:
				v, n, ok := parseFloat64(b[i:])
				if !ok {
					return false
				}
				switch f {
				case fOpen:
					out.Open = v
				case fHigh:
					out.High = v
				case fLow:
					out.Low = v
				case fClose:
					out.Close = v
				case fAdjClose:
					out.AdjClose = v
				default:
					out.CloseUSD = v
				}
				i += n
			}
			// Separator.
			i = skipWS(b, i)
			if i >= len(b) {
				return false
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return false
			}
			i = skipWS(b, i+1)
			if i >= len(b) {
				return false
			}
		}
	}
	if skipWS(b, i) != len(b) {
		return false
	}
	out.Null = AllValues&^Nulls(seen) | Nulls(nulls)&AllValues
	*t = out
	return true
}

// foldsToField reports whether the ASCII key k, which is not exactly a
// field name, names one in another case ("Open", "TRADE_DATE"): goccy
// assigns those, so the fast path must not skip them as unknown.
func foldsToField(k []byte) bool {
	const longest = len("trade_date")
	if len(k) > longest {
		return false
	}
	var low [longest]byte
	upper := false
	for i, c := range k {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
			upper = true
		}
		low[i] = c
	}
	return upper && fieldOf(low[:len(k)]) != 0
}

// skipScalar returns the length of the scalar JSON value at the start of b:
// a plain ASCII string (see scanString), a number in the JSON grammar, true,
// false or null. Anything else (objects, arrays, escapes) is left to goccy.
func skipScalar(b []byte) (int, bool) {
	switch c := b[0]; {
	case c == '"':
		_, e, ok := scanString(b, 1)
		return e + 1, ok
	case c == '-' || isDigit(c):
		return skipNumber(b)
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(b) >= len(lit) && string(b[:len(lit)]) == lit {
			return len(lit), true
		}
	}
	return 0, false
}

// skipNumber returns the length of the JSON number (RFC 8259 grammar) at the
// start of b, which must be followed by whitespace, ',' or '}'.
func skipNumber(b []byte) (int, bool) {
	n := 0
	if b[n] == '-' {
		n++
	}
	switch {
	case n < len(b) && b[n] == '0':
		n++
	case n < len(b) && b[n] >= '1' && b[n] <= '9':
		for n < len(b) && isDigit(b[n]) {
			n++
		}
	default:
		return 0, false
	}
	if n < len(b) && b[n] == '.' {
		n++
		if n >= len(b) || !isDigit(b[n]) {
			return 0, false
		}
		for n < len(b) && isDigit(b[n]) {
			n++
		}
	}
	if n < len(b) && (b[n] == 'e' || b[n] == 'E') {
		n++
		if n < len(b) && (b[n] == '+' || b[n] == '-') {
			n++
		}
		if n >= len(b) || !isDigit(b[n]) {
			return 0, false
		}
		for n < len(b) && isDigit(b[n]) {
			n++
		}
	}
	if n < len(b) && !endsNumber(b[n]) {
		return 0, false
	}
	return n, true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the bounds of the string body starting at i (just past
// the opening quote) and the index of its closing quote. It declines
// escapes, control characters and non-ASCII bytes, whose decoding (and, for
// invalid UTF-8, repair) is goccy's.
func scanString(b []byte, i int) (start, end int, ok bool) {
	for j := i; j < len(b); j++ {
		c := b[j]
		if c == '"' {
			return i, j, true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return 0, 0, false
		}
	}
	return 0, 0, false
}

func fieldOf(k []byte) int {
	switch string(k) { // no allocation: the compiler compares in place
	case "symbol":
		return fSymbol
	case "trade_date":
		return fTradeDate
	case "open":
		return fOpen
	case "high":
		return fHigh
	case "low":
		return fLow
	case "close":
		return fClose
	case "adj_close":
		return fAdjClose
	case "volume":
		return fVolume
	case "close_usd":
		return fCloseUSD
	}
	return 0
}

// parseFloat64 parses the JSON number (RFC 8259 grammar) at the start of b
// and returns its value and length. It declines numbers not followed by
// whitespace, ',' or '}' (goccy reads looser forms such as 01, 1. or a lone
// - its own way) and numbers out of float64's range (goccy reports those).
func parseFloat64(b []byte) (v float64, n int, ok bool) {
	// One pass: check the grammar and collect up to 19 significant digits
	// and the decimal exponent for the exact fast path below.
	var mant uint64
	digits, exp := 0, 0
	neg := false
	if n < len(b) && b[n] == '-' {
		neg = true
		n++
	}
	switch {
	case n < len(b) && b[n] == '0':
		n++
	case n < len(b) && b[n] >= '1' && b[n] <= '9':
		for ; n < len(b) && isDigit(b[n]); n++ {
			if digits < 19 {
				mant = mant*10 + uint64(b[n]-'0')
			} else {
				exp++
			}
			digits++
		}
	default:
		return 0, 0, false
	}
	if n < len(b) && b[n] == '.' {
		n++
		if n >= len(b) || !isDigit(b[n]) {
			return 0, 0, false
		}
		for ; n < len(b) && isDigit(b[n]); n++ {
			if mant == 0 && b[n] == '0' {
				exp-- // leading zeros of 0.000x are not significant
				continue
			}
			if digits < 19 {
				mant = mant*10 + uint64(b[n]-'0')
				exp--
			}
			digits++
		}
	}
	exact := true
	if n < len(b) && (b[n] == 'e' || b[n] == 'E') {
		exact = false // rare in tick values: leave it to strconv
		n++
		if n < len(b) && (b[n] == '+' || b[n] == '-') {
			n++
		}
		if n >= len(b) || !isDigit(b[n]) {
			return 0, 0, false
		}
		for n < len(b) && isDigit(b[n]) {
			n++
		}
	}
	if n < len(b) && !endsNumber(b[n]) {
		return 0, 0, false
	}
	// Clinger's fast path, as strconv takes it: a mantissa below 2^53 and a
	// power of ten up to 1e22 are exact float64s, so one IEEE multiply or
	// divide gives the correctly rounded value ParseFloat would.
	if exact && digits <= 15 && exp >= -22 && exp <= 22 {
		v = float64(mant)
		if exp < 0 {
			v /= pow10[-exp]
		} else {
			v *= pow10[exp]
		}
		if neg {
			v = -v
		}
		return v, n, true
	}
	// string(...) does not allocate: ParseFloat does not keep its argument.
	v, err := strconv.ParseFloat(string(b[:n]), 64)
	if err != nil {
		return 0, 0, false
	}
	return v, n, true
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseInt64 parses the JSON integer at the start of b (no fraction or
// exponent) with at most 18 digits, which int64 holds exactly; longer ones
// go to goccy, which wraps or rejects them its own way.
func parseInt64(b []byte) (v int64, n int, ok bool) {
	neg := false
	if n < len(b) && b[n] == '-' {
		neg = true
		n++
	}
	start := n
	for n < len(b) && isDigit(b[n]) {
		v = v*10 + int64(b[n]-'0')
		n++
	}
	digits := n - start
	if digits == 0 || digits > 18 || (digits > 1 && b[start] == '0') {
		return 0, 0, false
	}
	if n < len(b) && !endsNumber(b[n]) {
		return 0, 0, false
	}
	if neg {
		v = -v
	}
	return v, n, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func endsNumber(c byte) bool {
	return c == ',' || c == '}' || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// internTable remembers recently decoded short strings so that the symbols
// and trade dates repeated across millions of ticks are allocated once. It is
// direct-mapped and lock-free: a collision only costs an allocation.
var (
	internSeed  = maphash.MakeSeed()
	internTable [1 << 12]atomic.Pointer[string]
)

const internMaxLen = 32 // longer strings are not worth keeping alive

func intern(b []byte) string {
	if len(b) > internMaxLen {
		return string(b)
	}
	slot := &internTable[maphash.Bytes(internSeed, b)&(uint64(len(internTable))-1)]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	slot.Store(&s)
	return s
}

// dateToDays is DateToDays' fast path for the one layout time.DateOnly
// accepts, from 1700 to 2200; ok is false for anything else (including
// invalid dates), which DateToDays then leaves to time.Parse for its error.
// The year bounds keep it where time.Parse's path is exact: it measures the
// distance with a time.Duration, which saturates outside 1678–2262.
func dateToDays(s string) (days int32, ok bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	var n [8]int
	for i, p := range [8]int{0, 1, 2, 3, 5, 6, 8, 9} {
		c := s[p]
		if !isDigit(c) {
			return 0, false
		}
		n[i] = int(c - '0')
	}
	y := n[0]*1000 + n[1]*100 + n[2]*10 + n[3]
	m := n[4]*10 + n[5]
	d := n[6]*10 + n[7]
	if y < 1700 || y > 2200 || m < 1 || m > 12 || d < 1 || d > daysIn(m, y) {
		return 0, false
	}
	// Days from the civil calendar (H. Hinnant's algorithm); y > 0 here.
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int32(era*146097 + doe - 719468), true
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
