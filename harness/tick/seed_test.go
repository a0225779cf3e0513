package tick_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/tick"
)

func TestDecodeSeed(t *testing.T) {
	// What the seed project's producer sent for the last full HSI row.
	seed := `{"Index": "HSI", "Date": "2010-01-08", "Open": 22282.75, "High": 22443.2207, "Low": 22206.16016, "Close": 22296.75, "Adj Close": 22296.75, "Volume": 1626022600.0, "CloseUSD": 2898.5775}`
	var got tick.Tick
	require.NoError(t, tick.DecodeSeed([]byte(seed), &got))
	assert.Equal(t, tick.Tick{Symbol: "HSI", TradeDate: "2010-01-08", Open: 22282.75, High: 22443.2207, Low: 22206.16016,
		Close: 22296.75, AdjClose: 22296.75, Volume: 1626022600, CloseUSD: 2898.5775}, got)

	// Like Decode: an absent or null value is NULL, not 0; unknown keys are counted.
	require.NoError(t, tick.DecodeSeed([]byte(`{"Index":"HSI","Date":"2010-01-08","Close":1.5,"Volume":null,"Open":0.0,"Exchange":"HKEX"}`), &got))
	assert.Equal(t, tick.Tick{Symbol: "HSI", TradeDate: "2010-01-08", Close: 1.5,
		Null: tick.AllValues &^ (tick.NullClose | tick.NullOpen), Unknown: 1}, got)

	for _, tc := range []struct{ name, value, errHas string }{
		{"tick format is not seed format", `{"symbol":"HSI","trade_date":"2010-01-08","close":1.0}`, `no "Index"`},
		{"empty index", `{"Index":"","Date":"2010-01-08"}`, `no "Index"`},
		{"no date", `{"Index":"HSI","Volume":1.0}`, `no "Date"`},
		{"fractional volume", `{"Index":"HSI","Date":"2010-01-08","Volume":1.5}`, "Volume 1.5"},
		{"huge volume", `{"Index":"HSI","Date":"2010-01-08","Volume":1e300}`, "Volume 1e300"},
		{"not JSON", `{"Index":"HSI",`, "seed format"},
		{"NaN as pandas writes it", `{"Index":"HSI","Date":"2010-01-08","Open":NaN}`, "seed format"},
		{"trailing data", `{"Index":"HSI","Date":"2010-01-08"} {}`, "after the JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tk tick.Tick
			err := tick.DecodeSeed([]byte(tc.value), &tk)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.errHas)
		})
	}
}
