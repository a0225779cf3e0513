package tick_test

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/goccy/go-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow"
	"github.com/tickflow/tickflow/harness/produce"
	"github.com/tickflow/tickflow/harness/tick"
)

// reference is the decoder tick.Decode must agree with: goccy/go-json's
// Unmarshal into a zero Tick, what the sink used before Decode existed.
// panicked reports that goccy panicked (it does on some malformed keys).
func reference(b []byte) (t tick.Tick, err error, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			err, panicked = fmt.Errorf("panic: %v", p), true
		}
	}()
	return t, json.Unmarshal(b, &t), false
}

// requireSame fails unless Decode and the reference agree on b: both fail
// with the same message, or both succeed with the same Tick (bit for bit,
// so -0 and 0 differ). That holds for valid JSON; malformed JSON, which the
// reference sometimes accepts, misreads or panics on, Decode must reject
// with a syntax error.
func requireSame(t *testing.T, b []byte) {
	t.Helper()
	got := tick.Tick{Symbol: "stale", TradeDate: "stale", Open: 9, Volume: 9} // Decode must overwrite everything
	err := tick.Decode(b, &got)
	if !stdjson.Valid(b) {
		require.Error(t, err, "Decode accepts malformed %q as %+v", b, got)
		require.Contains(t, err.Error(), "invalid JSON at byte", "input %q", b)
		return
	}
	want, wantErr, panicked := reference(b)
	require.False(t, panicked, "reference panics on valid JSON %q: %v", b, wantErr)
	if wantErr != nil {
		require.Error(t, err, "reference rejects %q (%v) but Decode accepts it as %+v", b, wantErr, got)
		require.Equal(t, wantErr.Error(), err.Error(), "input %q", b)
		return
	}
	require.NoError(t, err, "reference accepts %q as %+v", b, want)
	wantNull, wantUnknown := referencePresence(t, b)
	require.Equal(t, wantNull.String(), got.Null.String(), "NULL fields of %q", b)
	require.Equal(t, wantUnknown, got.Unknown, "unknown keys of %q", b)
	if wantNull != 0 {
		// The one documented difference: a repeated key last null is NULL
		// (and 0), where goccy keeps the earlier value.
		r, rerr := tick.RowFrom(tick.Tick{TradeDate: "2000-01-01", Open: want.Open, High: want.High, Low: want.Low, Close: want.Close,
			AdjClose: want.AdjClose, Volume: want.Volume, CloseUSD: want.CloseUSD, Null: wantNull}, time.Time{}, 0, 0)
		require.NoError(t, rerr)
		want.Open, want.High, want.Low, want.Close, want.AdjClose, want.Volume, want.CloseUSD = r.Open, r.High, r.Low, r.Close, r.AdjClose, r.Volume, r.CloseUSD
	}
	require.Equal(t, want.Symbol, got.Symbol, "input %q", b)
	require.Equal(t, want.TradeDate, got.TradeDate, "input %q", b)
	require.Equal(t, want.Volume, got.Volume, "input %q", b)
	for _, f := range []struct {
		name     string
		want, gt float64
	}{{"open", want.Open, got.Open}, {"high", want.High, got.High}, {"low", want.Low, got.Low},
		{"close", want.Close, got.Close}, {"adj_close", want.AdjClose, got.AdjClose}, {"close_usd", want.CloseUSD, got.CloseUSD}} {
		require.Equal(t, math.Float64bits(f.want), math.Float64bits(f.gt), "%s of %q: want %v, got %v", f.name, b, f.want, f.gt)
	}
}

// referencePresence is what Null and Unknown must be for b, valid JSON that
// goccy decodes into a Tick, found without the tick package's code: a value
// field is NULL unless the last key that goccy matches to it (ASCII letters
// case-insensitively, escapes decoded) has a non-null value; a key that
// matches no field is unknown.
func referencePresence(t *testing.T, b []byte) (tick.Nulls, int) {
	t.Helper()
	dec := stdjson.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	require.NoError(t, err)
	if tok != stdjson.Delim('{') {
		return tick.AllValues, 0
	}
	values := []string{"open", "high", "low", "close", "adj_close", "volume", "close_usd"}
	null, unknown := tick.AllValues, 0
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		var v stdjson.RawMessage
		require.NoError(t, dec.Decode(&v))
		low := []byte(k.(string))
		for i, c := range low {
			if c >= 'A' && c <= 'Z' {
				low[i] = c + 'a' - 'A'
			}
		}
		name := string(low)
		i := slices.Index(values, name)
		switch {
		case name == "symbol" || name == "trade_date":
		case i < 0:
			unknown++
		case string(v) == "null":
			null |= 1 << i
		default:
			null &^= 1 << i
		}
	}
	return null, unknown
}

// realValues returns record values as the producer writes them: synthetic
// ticks and the embedded HSI sample, marshalled with goccy.
func realValues(tb testing.TB, n int) [][]byte {
	tb.Helper()
	var out [][]byte
	src := produce.Synthetic(n, 1)
	for {
		tk, err := src.Next()
		if err == io.EOF {
			break
		}
		require.NoError(tb, err)
		v, err := json.Marshal(tk)
		require.NoError(tb, err)
		out = append(out, v)
	}
	ticks, _, err := produce.ReadAll(bytes.NewReader(tickflow.SampleCSV), "HSI")
	require.NoError(tb, err)
	require.NotEmpty(tb, ticks)
	for _, tk := range ticks[:min(n, len(ticks))] {
		v, err := json.Marshal(tk)
		require.NoError(tb, err)
		out = append(out, v)
	}
	return out
}

const full = `{"symbol":"HSI","trade_date":"2010-01-11","open":21000.12,"high":21100.5,"low":20900.25,"close":21050.75,"adj_close":21050.75,"volume":1234567890,"close_usd":2736.6}`

// nasty are inputs at the edges of the fast path and of goccy's leniency.
var nasty = []string{
	full,
	`{}`, ` { } `, "\t{\"symbol\":\"x\"}\r\n", `{"trade_date":"2010-01-11","symbol":"x"}`,
	`{"symbol" : "x" , "volume" : 1 }`,
	// keys the fast path declines
	`{"SYMBOL":"x"}`, `{"Symbol":"x","symbol":"y"}`, `{"symbol":"x","symbol":"y"}`, `{"s\u0079mbol":"x"}`,
	`{"ſymbol":"x"}`, `{"foo":1}`, `{"foo":[1,{"a":2}],"symbol":"x"}`, `{"symbol":"x","extra":null}`, `{"":287791999022877.899902,"a\\`,
	// unknown keys the fast path skips, and nulls
	`{"symbol":"x","exchange":"HKEX","n":1,"f":-1.5e-3,"b":true,"c":false,"z":null,"close":1}`, `{"x":1e400}`, `{"x":-0}`,
	`{"x":01}`, `{"x":1.}`, `{"x":tru}`, `{"x":nul}`, `{"x":nullx}`, `{"x":"a\"b"}`, `{"x":"é"}`, `{"x":[1]}`, `{"x":{}}`,
	`{"":1}`, `{"x":1,"x":2}`, `{"Close":1,"close":null}`, `{"close":1,"close":null}`, `{"close":null,"close":1}`,
	`{"open":null,"high":null,"low":null,"close":null,"adj_close":null,"volume":null,"close_usd":null}`,
	`{"trade_date":null,"symbol":null}`, `{"open":nul}`, `{"open":nullx}`, `{"CLOSE_USD":2}`, `{"closeusd":2}`,
	`{"symbol":"HSI","trade_date":"2010-01-11","close":22411.5}`,
	// strings
	`{"symbol":null}`, `{"symbol":"a\u00e9"}`, "{\"symbol\":\"a\xff\"}", "{\"symbol\":\"a\x01\"}",
	`{"symbol":"a\"b"}`, `{"symbol":"a\\"}`, `{"symbol":"é"}`, `{"symbol":1}`, `{"symbol":"x`, `{"symbol":"\ud800"}`,
	`{"trade_date":"2010-01-11T00:00:00Z"}`, `{"symbol":"` + string(bytes.Repeat([]byte("A"), 100)) + `"}`,
	// integers
	`{"volume":1.5e3}`, `{"volume":1e3}`, `{"volume":"1"}`, `{"volume":"0.0"}`, `{"volume":1.0}`, `{"volume":-0}`,
	`{"volume":999999999999999999}`, `{"volume":-999999999999999999}`, `{"volume":1000000000000000000}`,
	`{"volume":9223372036854775807}`, `{"volume":9223372036854775808}`, `{"volume":-9223372036854775809}`,
	`{"volume":99999999999999999999}`, `{"volume":01}`, `{"volume":-}`, `{"volume":1e}`, `{"volume":null}`,
	`{"volume":true}`, `{"volume":1x}`, `{"volume":0}`, `{"volume":00}`,
	// floats
	`{"open":01}`, `{"open":1e400}`, `{"open":-1e400}`, `{"open":-}`, `{"open":1.}`, `{"open":.5}`, `{"open":+1}`,
	`{"open":"1"}`, `{"open":true}`, `{"open":1E2}`, `{"open":1e+2}`, `{"open":1e-2}`, `{"open":-0.0}`, `{"open":-0}`,
	`{"open":0.1e-400}`, `{"open":12345678901234567890123}`, `{"open":0.30000000000000004441}`, `{"open":1.e5}`,
	`{"open":1e}`, `{"open":1e+}`, `{"open":null}`, `{"open":NaN}`, `{"open":Infinity}`, `{"open":0x10}`,
	`{"open":1_0}`, `{"open":4.9406564584124654e-324}`, `{"open":1.7976931348623157e308}`,
	// structure
	``, ` `, `null`, `[]`, `{`, `}`, `{"symbol":"x"`, `{"symbol":"x",}`, `{"symbol":"x"}{}`, `{} x`,
	"{}\x00", "{\"symbol\":\"x\"}\x00junk", `{"symbol""x"}`, `{"symbol":}`, `{,}`, `{"symbol":"x",,"volume":1}`,
	`{"symbol":"x" "volume":1}`, `{symbol:"x"}`, `{'symbol':'x'}`, `"x"`, `1`, `{"open":1}}`, `{"open":1]`,
}

func TestDecodeMatchesReference(t *testing.T) {
	for _, in := range nasty {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) { requireSame(t, []byte(in)) })
	}
	for i, v := range realValues(t, 2000) {
		if !t.Run(fmt.Sprintf("real-%d", i), func(t *testing.T) { requireSame(t, v) }) {
			break
		}
	}
}

// TestDecodeFastPathCoversProducerOutput checks that every value the
// producer writes takes the fast path without allocating: were the fast path
// to decline them, Decode would still be right but no faster.
func TestDecodeFastPathCoversProducerOutput(t *testing.T) {
	vals := realValues(t, 2000)
	for _, v := range vals {
		var tk tick.Tick
		require.True(t, tick.DecodeFast(v, &tk), "fast path declined %s", v)
	}
	var tk tick.Tick
	i := 0
	allocs := testing.AllocsPerRun(len(vals), func() {
		_ = tick.Decode(vals[i%len(vals)], &tk)
		i++
	})
	// Each distinct trade date is allocated once when first interned.
	assert.Less(t, allocs, 0.5, "allocations per decoded tick")
}

// TestDecodePoison is what the sink sends to the dead-letter queue: each
// input is rejected with an error naming the problem.
func TestDecodePoison(t *testing.T) {
	cases := []struct {
		name, in, wantErr string
	}{
		{"empty value", ``, "at byte 0 of 0, after \"\": unexpected end of JSON input"},
		{"not an object", `[1,2]`, "looking for beginning of value"},
		{"truncated", `{"symbol":"HSI","trade_date":"2010-01-11","open":21`, "at byte 51 of 51, after \"\\\":\\\"2010-01-11\\\",\\\"open\\\":21\": unexpected end of JSON input"},
		{"trailing garbage", full + `x`, "invalid character 'x' after top-level value"},
		{"second object", full + `{}`, "invalid character '{' after top-level value"},
		{"trailing comma", `{"symbol":"x",}`, "invalid character '}' looking for beginning of object key string"},
		{"missing colon", `{"symbol" "x"}`, "after object key"},
		{"unterminated string", `{"symbol":"HSI`, "unexpected end of JSON input"},
		{"leading plus", `{"open":+1}`, "invalid character '+' looking for beginning of value"},
		{"leading zero", `{"open":01}`, "invalid character '1' after object key:value pair"},
		{"lone minus volume", `{"volume":-}`, "in numeric literal"},
		{"control byte in string", "{\"symbol\":\"A\x01\"}", "in string literal"},
		{"NUL then junk", "{}\x00junk", "after top-level value"},
		// goccy reads past its buffer on these, and may panic.
		{"key cut off after backslash", `{"":1,"a\`, "unexpected end of JSON input"},
		{"lone backslash key", `{"\`, "unexpected end of JSON input"},
		// Valid JSON of the wrong shape: goccy's errors, as before.
		{"string volume", `{"volume":"1"}`, "Tick.Volume"},
		{"fractional volume", `{"volume":1.5e3}`, "expected comma"},
		{"volume too large", `{"volume":99999999999999999999}`, "Tick.Volume"},
		{"numeric symbol", `{"symbol":1}`, "Tick.Symbol"},
		{"bool price", `{"open":true}`, "float"},
		{"price out of range", `{"open":1e400}`, "out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var tk tick.Tick
			err := tick.Decode([]byte(tc.in), &tk)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			requireSame(t, []byte(tc.in))
		})
	}
}

func FuzzDecodeMatchesReference(f *testing.F) {
	for _, v := range realValues(f, 50) {
		f.Add(v)
	}
	for _, in := range nasty {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, b []byte) { requireSame(t, b) })
}

func ExampleDecode() {
	var t tick.Tick
	err := tick.Decode([]byte(`{"symbol":"HSI","trade_date":"2010-01-11","close":22411.5,"volume":1200}`), &t)
	fmt.Println(t.Symbol, t.TradeDate, t.Close, t.Volume, err)
	err = tick.Decode([]byte(`{"symbol":"HSI","volume":1.5}`), &t)
	fmt.Println(err != nil)
	// Output:
	// HSI 2010-01-11 22411.5 1200 <nil>
	// true
}

func benchmarkDecode(b *testing.B, decode func([]byte, *tick.Tick) error) {
	vals := realValues(b, 1000)
	var size int
	for _, v := range vals {
		size += len(v)
	}
	b.SetBytes(int64(size / len(vals)))
	b.ReportAllocs()
	var t tick.Tick
	i := 0
	for b.Loop() {
		if err := decode(vals[i%len(vals)], &t); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkDecode(b *testing.B) { benchmarkDecode(b, tick.Decode) }

func BenchmarkDecodeReference(b *testing.B) {
	benchmarkDecode(b, func(v []byte, t *tick.Tick) error {
		*t = tick.Tick{}
		return json.Unmarshal(v, t)
	})
}

// TestDecodeNumbersMatchReference compares Decode's number parsing with the
// reference on many generated numbers around the fast path's limits (digit
// counts near 15 and 18, long fractions, exponents, signs, zeros).
func TestDecodeNumbersMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	digits := func(n int) string {
		d := make([]byte, n)
		for i := range d {
			d[i] = byte('0' + rng.IntN(10))
		}
		return string(d)
	}
	for range 20_000 {
		num := ""
		if rng.IntN(4) == 0 {
			num = "-"
		}
		num += digits(1 + rng.IntN(20))
		if rng.IntN(2) == 0 {
			num += "." + digits(1+rng.IntN(25))
		}
		if rng.IntN(5) == 0 {
			num += "e" + []string{"", "+", "-"}[rng.IntN(3)] + digits(1+rng.IntN(3))
		}
		requireSame(t, []byte(`{"open":`+num+`,"volume":`+num+`}`))
		requireSame(t, []byte(`{"close_usd":`+num+`}`))
		requireSame(t, []byte(`{"volume":`+num+`}`))
	}
}

// referenceDateToDays is DateToDays without its fast path.
func referenceDateToDays(s string) (int32, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, err
	}
	return int32(t.Unix() / 86400), nil
}

// Dates far from 1970 (where a time.Duration would overflow) still convert
// exactly and round-trip through DaysToDate.
func TestDateToDaysFarDates(t *testing.T) {
	for _, s := range []string{"0001-01-01", "1600-02-29", "1677-09-21", "2262-04-12", "2500-12-31", "9999-12-31"} {
		d, err := tick.DateToDays(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := tick.DaysToDate(d); got != s {
			t.Errorf("DateToDays(%s) = %d, which is %s", s, d, got)
		}
	}
}

func TestDateToDaysMatchesReference(t *testing.T) {
	// Every day of the fast path's range and a margin either side.
	for d := time.Date(1690, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2210; d = d.AddDate(0, 0, 1) {
		s := d.Format(time.DateOnly)
		want, err := referenceDateToDays(s)
		require.NoError(t, err)
		got, err := tick.DateToDays(s)
		require.NoError(t, err)
		require.Equal(t, want, got, s)
	}
	for _, s := range []string{"", "2010-02-29", "2012-02-29", "1900-02-29", "2000-02-29", "2100-02-29", "2010-04-31",
		"2010-13-01", "2010-00-10", "2010-01-00", "2010-01-32", "2010/01/11", " 2010-01-11", "2010-01-11 ",
		"+010-01-11", "2010-1-11", "2010-01-1x", "1500-01-01", "9999-12-31", "0000-01-01", "1970-01-01", "1969-12-31"} {
		want, wantErr := referenceDateToDays(s)
		got, err := tick.DateToDays(s)
		if wantErr != nil {
			require.Error(t, err, s)
			assert.Equal(t, wantErr.Error(), err.Error(), s)
			continue
		}
		require.NoError(t, err, s)
		assert.Equal(t, want, got, s)
	}
}

func FuzzDateToDaysMatchesReference(f *testing.F) {
	for _, s := range []string{"2010-01-11", "2012-02-29", "2010-02-29", "1700-01-01", "2200-12-31", "1699-12-31", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, wantErr := referenceDateToDays(s)
		got, err := tick.DateToDays(s)
		if wantErr != nil {
			require.Error(t, err)
			require.Equal(t, wantErr.Error(), err.Error())
			return
		}
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}

// TestDecodeNullsAndUnknownKeys: a value the record does not carry is NULL,
// not 0, whether its key is absent or null; a real 0 is a value; unknown
// keys are counted. Partial ticks and extra keys with scalar values stay on
// the fast path.
func TestDecodeNullsAndUnknownKeys(t *testing.T) {
	cases := []struct {
		name, in string
		fast     bool
		null     tick.Nulls
		unknown  int
	}{
		{"full tick", full, true, 0, 0},
		{"what serve's examples send", `{"symbol":"HSI","trade_date":"2010-01-11","close":22411.5}`, true, tick.AllValues &^ tick.NullClose, 0},
		{"explicit nulls, as Python's None", `{"symbol":"HSI","trade_date":"2010-01-11","open":null,"close":1.5,"volume":null}`, true,
			tick.AllValues &^ tick.NullClose, 0},
		{"zeros are values", `{"symbol":"HSI","trade_date":"2010-01-11","open":0,"high":0.0,"low":-0,"close":0,"adj_close":0,"volume":0,"close_usd":0e0}`, true, 0, 0},
		{"unknown scalar keys", `{"symbol":"HSI","exchange":"HKEX","trade_date":"2010-01-11","seq":12,"ok":true,"note":null,"close":1}`, true,
			tick.AllValues &^ tick.NullClose, 4},
		{"unknown nested key", `{"symbol":"HSI","trade_date":"2010-01-11","meta":{"src":"x"},"close":1}`, false, tick.AllValues &^ tick.NullClose, 1},
		{"differently cased key is a field", `{"symbol":"HSI","trade_date":"2010-01-11","Close":1}`, false, tick.AllValues &^ tick.NullClose, 0},
		{"repeated key last null", `{"symbol":"HSI","trade_date":"2010-01-11","close":1,"close":null}`, false, tick.AllValues, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var fast tick.Tick
			assert.Equal(t, tc.fast, tick.DecodeFast([]byte(tc.in), &fast), "fast path")
			got := tick.Tick{Open: 9, Null: tick.NullHigh, Unknown: 7} // Decode overwrites everything
			require.NoError(t, tick.Decode([]byte(tc.in), &got))
			assert.Equal(t, tc.null.String(), got.Null.String())
			assert.Equal(t, tc.unknown, got.Unknown)
			if tc.null&tick.NullOpen != 0 {
				assert.Zero(t, got.Open)
			}
			if tc.null&tick.NullClose != 0 {
				assert.Zero(t, got.Close, "a NULL value is 0 in the Tick")
			}
			requireSame(t, []byte(tc.in))
		})
	}
}

// A value the record does not carry is NULL (Tick.Null), not an invented 0;
// keys that are not tick fields are counted.
func ExampleDecode_missingValues() {
	var t tick.Tick
	_ = tick.Decode([]byte(`{"symbol":"HSI","trade_date":"2010-01-11","close":22411.5,"volume":0,"exchange":"HKEX"}`), &t)
	fmt.Println(t.Close, t.Volume, t.Null, t.Unknown)
	// Output:
	// 22411.5 0 open,high,low,adj_close,close_usd 1
}
