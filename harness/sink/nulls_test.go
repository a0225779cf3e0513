package sink

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/tick"
)

// TestMissingValuesLandAsNull: a record without some value fields (what
// `tickflow serve` prints for clients: symbol, trade_date and close only)
// lands with those columns NULL, not 0, in every format; a real 0 stays 0;
// unknown keys are counted in Stats.UnknownFields and not stored.
func TestMissingValuesLandAsNull(t *testing.T) {
	values := []struct {
		value   string
		null    tick.Nulls
		unknown int
	}{
		{`{"symbol":"HSI","trade_date":"2010-01-04","open":1,"high":2,"low":0.5,"close":1.5,"adj_close":1.5,"volume":3,"close_usd":0.2}`, 0, 0},
		{`{"symbol":"HSI","trade_date":"2010-01-11","close":22411.5}`, tick.AllValues &^ tick.NullClose, 0},
		{`{"symbol":"HSI","trade_date":"2010-01-04","open":null,"close":1.5,"volume":0,"exchange":"HKEX","seq":7}`,
			tick.AllValues &^ (tick.NullClose | tick.NullVolume), 2},
		{`{"symbol":"HSI","trade_date":"2010-01-04","open":0,"high":0,"low":0,"close":0,"adj_close":0,"volume":0,"close_usd":0}`, 0, 0},
		{`{"symbol":"HSI","trade_date":"2010-01-04","Close":3,"meta":{"src":"x"}}`, tick.AllValues &^ tick.NullClose, 1}, // goccy's path
		{`{"Index":"HSI","Date":"2010-01-04","Close":3.5,"Extra":1}`, tick.AllValues &^ tick.NullClose, 1},               // the seed format
	}
	for _, tc := range []struct {
		name   string
		format Format
		gz     bool
	}{{"parquet", Parquet, false}, {"json", JSON, false}, {"json.gz", JSON, true}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 1)
			ctx := context.Background()
			cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.DefaultProduceTopic(tick.DefaultTopic))
			require.NoError(t, err)
			defer cl.Close()
			for i, v := range values {
				r := &kgo.Record{Value: []byte(v.value), Timestamp: base.Add(time.Duration(i) * time.Second)}
				require.NoError(t, cl.ProduceSync(ctx, r).FirstErr())
			}
			opts := []Option{WithFormat(tc.format)}
			if tc.gz {
				opts = append(opts, Gzip())
			}
			s, stop := runSink(t, w, opts...)
			waitWritten(t, int64(len(values)), s)
			require.NoError(t, stop())
			assert.Zero(t, s.Stats().DLQ)
			wantUnknown := 0
			for _, v := range values {
				wantUnknown += v.unknown
			}
			assert.EqualValues(t, wantUnknown, s.Stats().UnknownFields)

			objs := readLake(t, w.store)
			requireExactlyOnce(t, objs, int64(len(values)))
			byOffset := map[int64]tick.Row{}
			for _, o := range objs {
				for _, r := range o.rows {
					byOffset[r.KafkaOffset] = r
				}
			}
			for i, v := range values {
				r := byOffset[int64(i)]
				assert.Equal(t, v.null.String(), r.Null.String(), "NULL columns of offset %d (%s)", i, v.value)
			}
			assert.Equal(t, 22411.5, byOffset[1].Close)
			assert.Equal(t, tick.Row{Symbol: "HSI", TradeDate: 14613, EventTime: base.Add(3 * time.Second).UnixMilli(), KafkaOffset: 3}, byOffset[3],
				"zeros are values, not NULL")
			assert.Equal(t, 3.5, byOffset[5].Close)
		})
	}
}
