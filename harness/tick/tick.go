// Package tick defines the stock tick: the Kafka record value the producer
// writes, and the lake row the sink stores. Every other package agrees on
// these column names and types, which follow docs/lake-contract.md.
//
//	t := tick.Tick{Symbol: "HSI", TradeDate: "2010-01-11", Close: 22411.5}
//	b, _ := tick.Marshal(t)                 // the Kafka record value
//	err := tick.Decode(b, &t)               // fast, allocation-free decode of a record value
//	row, err := tick.RowFrom(t, ts, p, off) // the lake row (Parquet, or JSON Lines via AppendJSONRow)
//
// A value a record does not carry (its key is absent, or null) is not an
// invented 0: Decode records it in Tick.Null, RowFrom carries it to Row.Null,
// and the lake stores NULL (an OPTIONAL Parquet column without a value, or
// null in JSON Lines), so avg(open) in Athena skips it. A real 0 (volume 0 is
// common) stays 0.
package tick

import (
	"time"

	"github.com/goccy/go-json"
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

	// Null lists the value fields the record did not carry (key absent or
	// null): they are 0 here and NULL in the lake. Decode and DecodeSeed
	// set it; a Tick built in Go has none unless its author says so.
	// Marshalling a Tick writes every field (Null is not part of the JSON).
	Null Nulls `json:"-"`
	// Unknown counts the record's keys that are not tick fields: Decode
	// ignores them (the sink counts them in Stats.UnknownFields).
	Unknown int `json:"-"`
}

// Nulls is a set of the value fields of a Tick or Row (open, high, low,
// close, adj_close, volume, close_usd) that are NULL. The zero value is the
// empty set: every value present, 0 included.
type Nulls uint8

// The value fields, one bit each.
const (
	NullOpen Nulls = 1 << iota
	NullHigh
	NullLow
	NullClose
	NullAdjClose
	NullVolume
	NullCloseUSD

	// AllValues is every value field: what a record with none of them has.
	AllValues = NullOpen | NullHigh | NullLow | NullClose | NullAdjClose | NullVolume | NullCloseUSD
)

// valueColumns are the lake column names of the Nulls bits, in bit order.
var valueColumns = [...]string{"open", "high", "low", "close", "adj_close", "volume", "close_usd"}

// NullOf returns the bit of the value column named column ("open", …,
// "close_usd"), or 0 for any other column (those are never NULL).
func NullOf(column string) Nulls {
	for i, c := range valueColumns {
		if c == column {
			return 1 << i
		}
	}
	return 0
}

// String lists the set's columns, e.g. "open,volume" ("" when empty).
func (n Nulls) String() string {
	var b []byte
	for i, c := range valueColumns {
		if n&(1<<i) != 0 {
			if len(b) > 0 {
				b = append(b, ',')
			}
			b = append(b, c...)
		}
	}
	return string(b)
}

// Row is one row of the lake table stock_ticks: a Tick plus the Kafka
// coordinates and timestamp. Its parquet tags give the contract's physical
// types: trade_date DATE (INT32 days), event_time INT64 TIMESTAMP(MILLIS, UTC).
// The seven value columns are nullable: Null says which are NULL (their
// fields then hold 0). Lake Parquet files store them OPTIONAL (ParquetSchema);
// write and read them with EncodeParquet and ReadParquet, which keep NULL
// and 0 apart (parquet-go reading into a Row turns NULL into 0).
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
	Null           Nulls   `parquet:"-"` // the value columns that are NULL (here it takes no room: padding)
	KafkaOffset    int64   `parquet:"kafka_offset"`
}

// Column is one column of the lake table as Athena sees it.
type Column struct {
	Name string `json:"name"` // lowercase column name
	Type string `json:"type"` // Athena/Glue type: string, date, double, bigint, timestamp, int
}

// Columns is the contract's data schema, in file order (partition keys
// excluded). Like every Glue/Hive column, each may be NULL; the sink writes
// NULL only in the value columns open … close_usd (see Nulls), and stores
// them as OPTIONAL in Parquet, the others as REQUIRED.
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
// record timestamp ts. t.TradeDate must be a valid ISO date (YYYY-MM-DD).
// The fields in t.Null are NULL in the row (and 0 in its fields, whatever t
// held).
func RowFrom(t Tick, ts time.Time, partition int32, offset int64) (Row, error) {
	d, err := DateToDays(t.TradeDate)
	if err != nil {
		return Row{}, err
	}
	r := Row{
		Symbol: t.Symbol, TradeDate: d,
		Open: t.Open, High: t.High, Low: t.Low, Close: t.Close, AdjClose: t.AdjClose,
		Volume: t.Volume, CloseUSD: t.CloseUSD,
		EventTime:      ts.UnixMilli(),
		KafkaPartition: partition, KafkaOffset: offset,
		Null: t.Null & AllValues,
	}
	if r.Null != 0 {
		r.clearNulls()
	}
	return r, nil
}

// clearNulls sets the fields of r's NULL columns to 0.
func (r *Row) clearNulls() {
	n := r.Null
	if n&NullOpen != 0 {
		r.Open = 0
	}
	if n&NullHigh != 0 {
		r.High = 0
	}
	if n&NullLow != 0 {
		r.Low = 0
	}
	if n&NullClose != 0 {
		r.Close = 0
	}
	if n&NullAdjClose != 0 {
		r.AdjClose = 0
	}
	if n&NullVolume != 0 {
		r.Volume = 0
	}
	if n&NullCloseUSD != 0 {
		r.CloseUSD = 0
	}
}

// PartitionPath returns the Hive partition folder "dt=YYYY-MM-DD/hour=HH" for
// a record timestamp, in UTC.
func PartitionPath(ts time.Time) string {
	u := ts.UTC()
	return "dt=" + u.Format(time.DateOnly) + "/hour=" + u.Format("15")
}

// nullableTick is Tick's JSON with a null for each NULL value field.
type nullableTick struct {
	Symbol    string   `json:"symbol"`
	TradeDate string   `json:"trade_date"`
	Open      *float64 `json:"open"`
	High      *float64 `json:"high"`
	Low       *float64 `json:"low"`
	Close     *float64 `json:"close"`
	AdjClose  *float64 `json:"adj_close"`
	Volume    *int64   `json:"volume"`
	CloseUSD  *float64 `json:"close_usd"`
}

// Marshal returns the Kafka record value for t, what the producer writes:
// t's JSON, with null for the value fields in t.Null, so that Decode gives
// back t (Unknown aside).
func Marshal(t Tick) ([]byte, error) {
	if t.Null == 0 {
		return json.Marshal(t)
	}
	r := Row{Open: t.Open, High: t.High, Low: t.Low, Close: t.Close, AdjClose: t.AdjClose, Volume: t.Volume, CloseUSD: t.CloseUSD, Null: t.Null}
	s := sparseOf(&r)
	return json.Marshal(nullableTick{Symbol: t.Symbol, TradeDate: t.TradeDate, Open: s.Open, High: s.High, Low: s.Low, Close: s.Close,
		AdjClose: s.AdjClose, Volume: s.Volume, CloseUSD: s.CloseUSD})
}
