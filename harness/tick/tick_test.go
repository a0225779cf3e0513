package tick

import (
	"bytes"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRowParquetSchemaMatchesContract(t *testing.T) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[Row](&buf)
	r, err := RowFrom(Tick{Symbol: "HSI", TradeDate: "2010-01-11", Close: 1, Volume: 7}, time.UnixMilli(1700000000123), 2, 42)
	require.NoError(t, err)
	_, err = w.Write([]Row{r})
	require.NoError(t, err)
	require.NoError(t, w.Close())

	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	fields := f.Schema().Fields()
	require.Len(t, fields, len(Columns))
	for i, c := range Columns {
		assert.Equal(t, c.Name, fields[i].Name())
	}
	lt, _ := f.Schema().Lookup("trade_date")
	assert.Equal(t, "DATE", lt.Node.Type().LogicalType().String())
	ts, _ := f.Schema().Lookup("event_time")
	assert.Contains(t, ts.Node.Type().LogicalType().String(), "TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS)")

	rows, err := parquet.Read[Row](bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	assert.Equal(t, []Row{r}, rows)
	assert.Equal(t, "2010-01-11", DaysToDate(rows[0].TradeDate))
}

func TestPartitionPathUTC(t *testing.T) {
	ts := time.Date(2024, 1, 5, 23, 30, 0, 0, time.FixedZone("x", -3600))
	assert.Equal(t, "dt=2024-01-06/hour=00", PartitionPath(ts))
}

// Marshal writes NULL value fields as null, so Decode gives the Tick back.
func TestMarshalRoundTrip(t *testing.T) {
	for _, tk := range []Tick{
		{Symbol: "HSI", TradeDate: "2010-01-11", Open: 1, High: 2, Low: 0.5, Close: 1.5, AdjClose: 1.5, Volume: 7, CloseUSD: 0.2},
		{Symbol: "HSI", TradeDate: "2010-01-11", Close: 22411.5, Null: AllValues &^ NullClose},
		{Symbol: "HSI", TradeDate: "2010-01-11", Volume: 0, Null: AllValues &^ NullVolume},
		{Symbol: "HSI", TradeDate: "2010-01-11", Null: AllValues},
	} {
		b, err := Marshal(tk)
		require.NoError(t, err)
		var back Tick
		require.NoError(t, Decode(b, &back), "%s", b)
		assert.Equal(t, tk, back, "%s", b)
		assert.Equal(t, tk.Null == 0, !bytes.Contains(b, []byte("null")), "%s", b)
	}
}
