package produce

import (
	"bytes"
	"encoding/csv"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tickflow/tickflow"
	"github.com/tickflow/tickflow/harness/tick"
)

// Rates are the fixed USD conversion rates per currency the synthetic
// generator and the raw TSV reader use for close_usd. They are round
// figures, not market data: close_usd only has to be plausible and
// deterministic.
var Rates = map[string]float64{
	"USD": 1, "HKD": 0.13, "CNY": 0.14, "JPY": 0.0067, "EUR": 1.08, "CAD": 0.74,
	"INR": 0.012, "KRW": 0.00075, "CHF": 1.1, "TWD": 0.031, "ZAR": 0.054,
}

// Index is one of the 14 indexes of tickflow.IndexInfoCSV.
type Index struct {
	Symbol   string
	Currency string
}

// Indexes returns the 14 indexes of tickflow.IndexInfoCSV in file order.
func Indexes() []Index { return append([]Index(nil), indexes()...) }

var indexes = sync.OnceValue(func() []Index {
	rows, err := csv.NewReader(bytes.NewReader(tickflow.IndexInfoCSV)).ReadAll()
	if err != nil {
		panic("tickflow.IndexInfoCSV is malformed: " + err.Error()) // embedded, checked by tests
	}
	out := make([]Index, 0, len(rows))
	for _, r := range rows[1:] {
		out = append(out, Index{Symbol: r[2], Currency: r[3]})
	}
	return out
})

// RateFor returns the USD rate for an index symbol's currency.
func RateFor(symbol string) (float64, bool) {
	for _, ix := range indexes() {
		if ix.Symbol == symbol {
			r, ok := Rates[ix.Currency]
			return r, ok
		}
	}
	return 0, false
}

// SyntheticSource is a deterministic random walk over the 14 indexes: one
// tick per index per trading day (Monday–Friday from 2000-01-03), so the
// same (n, seed) always yields the same sequence. Trade dates stay within
// SyntheticFirstDay..SyntheticLastDay: after the last day the calendar
// starts again at the first (about 95,000 ticks per pass), so large runs do
// not reach dates decades in the future.
type SyntheticSource struct {
	n, i    int
	rng     *rand.Rand
	indexes []Index
	rates   []float64
	close   []float64
	day     time.Time
}

// The synthetic calendar: trade dates run over these days (both trading
// days) and wrap.
var (
	SyntheticFirstDay = time.Date(2000, 1, 3, 0, 0, 0, 0, time.UTC)
	SyntheticLastDay  = time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
)

// Synthetic returns a source of n synthetic ticks for seed.
func Synthetic(n int, seed uint64) *SyntheticSource {
	s := &SyntheticSource{n: n, rng: rand.New(rand.NewPCG(seed, 0x7469636b666c6f77)), indexes: Indexes(),
		day: SyntheticFirstDay}
	for _, ix := range s.indexes {
		s.rates = append(s.rates, Rates[ix.Currency])
		// Start prices spread over the magnitudes real indexes have.
		s.close = append(s.close, math.Round(1000*math.Pow(10, s.rng.Float64()*1.5))/1)
	}
	return s
}

// Next returns the next tick or io.EOF after n ticks.
func (s *SyntheticSource) Next() (tick.Tick, error) {
	if s.i >= s.n {
		return tick.Tick{}, io.EOF
	}
	k := s.i % len(s.indexes)
	if k == 0 && s.i > 0 {
		s.day = s.day.AddDate(0, 0, 1)
		for s.day.Weekday() == time.Saturday || s.day.Weekday() == time.Sunday {
			s.day = s.day.AddDate(0, 0, 1)
		}
		if s.day.After(SyntheticLastDay) {
			s.day = SyntheticFirstDay
		}
	}
	s.i++
	prev := s.close[k]
	open := prev * (1 + s.rng.NormFloat64()*0.002)
	cl := open * math.Exp(s.rng.NormFloat64()*0.012)
	high := math.Max(open, cl) * (1 + math.Abs(s.rng.NormFloat64())*0.004)
	low := math.Min(open, cl) * (1 - math.Abs(s.rng.NormFloat64())*0.004)
	s.close[k] = cl
	return tick.Tick{
		Symbol:    s.indexes[k].Symbol,
		TradeDate: s.day.Format(time.DateOnly),
		Open:      round2(open), High: round2(high), Low: round2(low),
		Close: round2(cl), AdjClose: round2(cl),
		Volume:   int64(1e6 + s.rng.Float64()*9e8),
		CloseUSD: round2(cl * s.rates[k]),
	}, nil
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
