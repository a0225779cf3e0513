// Package tick defines the stock tick: the Kafka record value the producer
// writes, and the lake row the sink stores. Every other package agrees on
// these column names and types, which follow docs/lake-contract.md.
//
//	t := tick.Tick{Symbol: "HSI", TradeDate: "2010-01-11", Close: 22411.5}
//	b, _ := json.Marshal(t)                 // the Kafka record value
//	err := tick.Decode(b, &t)               // fast, allocation-free decode of a record value
//	row, err := tick.RowFrom(t, ts, p, off) // the lake row (Parquet, or JSON Lines via AppendJSONRow)
package tick

import (
	"time"
)

// Tick is one daily bar of a stock index, as carried in a Kafka record value
// (JSON with the lake's column names). TradeDate is ISO YYYY-MM-DD.
type Tick struct {
	Symbol    string  `json:"symbol"`
	TradeDate string  `json:"trade_date"`
	Open      float64 `json:"open"`
	High      float64 `json:"high"`
	Low       float64 `json:"low"`
	Close     float64 `json:"close"`
	AdjClose  float64 `json:"adj_close"`
	Volume    int64   `json:"volume"`
	CloseUSD  float64 `json:"close_usd"`
}

// Row is one row of the lake table stock_ticks: a Tick plus the Kafka
// coordinates and timestamp. Its parquet tags give the contract's physical
// types: trade_date DATE (INT32 days), event_time INT64 TIMESTAMP(MILLIS, UTC).
type Row struct {
	Symbol         string  `parquet:"symbol"`
	TradeDate      int32   `parquet:"trade_date,date"`
	Open           float64 `parquet:"open"`
	High           float64 `parquet:"high"`
	Low            float64 `parquet:"low"`
	Close          float64 `parquet:"close"`
	AdjClose       float64 `parquet:"adj_close"`
	Volume         int64   `parquet:"volume"`
	CloseUSD       float64 `parquet:"close_usd"`
	EventTime      int64   `parquet:"event_time,timestamp(millisecond)"`
	KafkaPartition int32   `parquet:"kafka_partition"`
	KafkaOffset    int64   `parquet:"kafka_offset"`
}

// Column is one column of the lake table as Athena sees it.
type Column struct {
	Name string `json:"name"` // lowercase column name
	Type string `json:"type"` // Athena/Glue type: string, date, double, bigint, timestamp, int
}

// Columns is the contract's data schema, in file order (partition keys excluded).
var Columns = []Column{
	{"symbol", "string"},
	{"trade_date", "date"},
	{"open", "double"},
	{"high", "double"},
	{"low", "double"},
	{"close", "double"},
	{"adj_close", "double"},
	{"volume", "bigint"},
	{"close_usd", "double"},
	{"event_time", "timestamp"},
	{"kafka_partition", "int"},
	{"kafka_offset", "bigint"},
}

// PartitionKeys are the table's Hive partition keys, both typed string.
var PartitionKeys = []string{"dt", "hour"}

// Table is the lake table's name and root folder under the prefix.
const Table = "stock_ticks"

// DefaultTopic is the Kafka topic ticks are produced to.
const DefaultTopic = "stock-ticks"

var epoch = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// DateToDays converts an ISO date (YYYY-MM-DD) to days since the Unix epoch.
func DateToDays(s string) (int32, error) {
	if d, ok := dateToDays(s); ok { // the sink's hot path: no time.Parse
		return d, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, err
	}
	// Unix seconds, not t.Sub: a Duration overflows ±292 years from 1970.
	return int32(t.Unix() / 86400), nil
}

// DaysToDate converts days since the Unix epoch to an ISO date.
func DaysToDate(d int32) string {
	return epoch.AddDate(0, 0, int(d)).Format(time.DateOnly)
}

// RowFrom builds the lake row for t, stored in Kafka at partition/offset with
// record timestamp ts. t.TradeDate must be a valid ISO date (see Validate).
func RowFrom(t Tick, ts time.Time, partition int32, offset int64) (Row, error) {
	d, err := DateToDays(t.TradeDate)
	if err != nil {
		return Row{}, err
	}
	return Row{
		Symbol: t.Symbol, TradeDate: d,
		Open: t.Open, High: t.High, Low: t.Low, Close: t.Close, AdjClose: t.AdjClose,
		Volume: t.Volume, CloseUSD: t.CloseUSD,
		EventTime:      ts.UnixMilli(),
		KafkaPartition: partition, KafkaOffset: offset,
	}, nil
}

// PartitionPath returns the Hive partition folder "dt=YYYY-MM-DD/hour=HH" for
// a record timestamp, in UTC.
func PartitionPath(ts time.Time) string {
	u := ts.UTC()
	return "dt=" + u.Format(time.DateOnly) + "/hour=" + u.Format("15")
}
