package tick

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendJSONRow(t *testing.T) {
	ts := time.Date(2024, 1, 5, 10, 2, 3, 45e6, time.UTC)
	cases := []struct {
		name string
		tk   Tick
		want []string // substrings the line must contain
	}{
		{"zeros keep a decimal point", Tick{Symbol: "HSI", TradeDate: "2010-01-11", Volume: 0},
			[]string{`"open":0.0,`, `"close_usd":0.0,`, `"volume":0,`, `"trade_date":"2010-01-11"`, `"event_time":"2024-01-05 10:02:03.045"`}},
		{"integral and fractional doubles", Tick{Symbol: "NYA", TradeDate: "1999-12-31", Open: 21000, Close: 1.25, High: 1e21, Volume: 1234567890123},
			[]string{`"open":21000.0,`, `"close":1.25,`, `"high":1e+21,`, `"volume":1234567890123,`}},
		{"escaped symbol", Tick{Symbol: "A\"B\\\n", TradeDate: "2000-01-01"}, []string{`"symbol":"A\"B\\\u000a"`}},
		{"NULLs are null, zeros stay", Tick{Symbol: "HSI", TradeDate: "2010-01-11", Close: 2.5, Volume: 0, Null: AllValues &^ (NullClose | NullVolume)},
			[]string{`"open":null,"high":null,"low":null,"close":2.5,"adj_close":null,"volume":0,"close_usd":null,`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := RowFrom(tc.tk, ts, 3, 77)
			require.NoError(t, err)
			line := string(AppendJSONRow(nil, r))
			require.True(t, strings.HasSuffix(line, "}\n"))
			assert.Equal(t, 1, strings.Count(line, "\n"), "one object per line")
			for _, w := range tc.want {
				assert.Contains(t, line, w)
			}
			var back map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &back))
			assert.Equal(t, tc.tk.Symbol, back["symbol"])
			assert.Equal(t, tc.tk.Close, back["close"])
			if tc.tk.Null&NullVolume == 0 {
				assert.Equal(t, float64(tc.tk.Volume), back["volume"])
			}
			assert.Equal(t, float64(77), back["kafka_offset"])
			assert.Equal(t, float64(3), back["kafka_partition"])
			var keys []string
			for k := range back {
				keys = append(keys, k)
			}
			assert.Len(t, keys, len(Columns))
			for _, c := range Columns {
				assert.Contains(t, back, c.Name)
			}
		})
	}
}
