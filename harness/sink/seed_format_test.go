package sink

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/tick"
)

// The seed project's producer sent CSV rows keyed by the CSV header; the
// sink lands them as ordinary rows instead of dead-lettering them.
func TestDecodeAcceptsSeedFormat(t *testing.T) {
	ts := time.UnixMilli(1700000000000)
	rec := func(v string) *kgo.Record {
		return &kgo.Record{Value: []byte(v), Timestamp: ts, Partition: 3, Offset: 7}
	}
	var tk tick.Tick
	row, err := decode(rec(`{"Index": "HSI", "Date": "2010-01-08", "Open": 22282.75, "High": 22443.2207, "Low": 22206.16016, "Close": 22296.75, "Adj Close": 22296.75, "Volume": 1626022600.0, "CloseUSD": 2898.5775}`), &tk)
	require.NoError(t, err)
	want, err := tick.RowFrom(tick.Tick{Symbol: "HSI", TradeDate: "2010-01-08", Open: 22282.75, High: 22443.2207, Low: 22206.16016,
		Close: 22296.75, AdjClose: 22296.75, Volume: 1626022600, CloseUSD: 2898.5775}, ts, 3, 7)
	require.NoError(t, err)
	assert.Equal(t, want, row)

	// Still poison: neither format, and the error is the tick format's.
	for v, errHas := range map[string]string{
		`not json`:                            "value is not tick JSON",
		`{"close": 1.0}`:                      "tick has no symbol",
		`{"Index":"HSI","Volume":1.5}`:        "value is not tick JSON",
		`{"Index":"HSI","Date":"08/01/2010"}`: "trade_date",
	} {
		_, err := decode(rec(v), &tk)
		require.Error(t, err, v)
		assert.Contains(t, err.Error(), errHas, v)
	}
}
