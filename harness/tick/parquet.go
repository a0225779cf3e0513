package tick

import (
	"fmt"
	"io"
	"unsafe"

	"github.com/parquet-go/parquet-go"
)

// Lake Parquet files store the seven value columns (open … close_usd) as
// OPTIONAL, the others as REQUIRED: a value the record did not carry has no
// value in the file (definition level 0), which every reader returns as
// NULL. The three Go layouts below all write exactly ParquetSchema; the
// encoder picks, per file, the cheapest one that holds its rows exactly:
//
//   - denseRow: no NULL and no 0 in any value column (producers' full
//     ticks): parquet-go's batch path for optional non-pointer fields, which
//     writes a 64-row batch of present values at once; a Row slice is used
//     as is, without a copy. That path takes a 0 field for NULL, so it can
//     hold no 0, and it cannot hold NULLs either: with NULLs and values
//     mixed in a batch, parquet-go v0.32 writes some NULLs as present 0s
//     (its run split in writeRowsFuncOfOptional mistakes a short tail of
//     NULLs for values; TestParquetNullsAndZeros has such a batch; cf.
//     parquet-go/parquet-go#154). Rows without 0s and NULLs are also
//     immune to the zero-is-NULL default that parquet-go has flipped
//     between releases (#480, #523).
//   - volumeRow: the same, except that volume may be 0 or NULL (volume 0 is
//     common in index data: most of the HSI sample): one pointer column.
//   - sparseRow: anything else, one pointer per value column (nil = NULL),
//     which parquet-go writes value by value.

// denseRow has Row's exact layout (a *Row converts to a *denseRow).
type denseRow struct {
	Symbol         string  `parquet:"symbol"`
	TradeDate      int32   `parquet:"trade_date,date"`
	Open           float64 `parquet:"open,optional"`
	High           float64 `parquet:"high,optional"`
	Low            float64 `parquet:"low,optional"`
	Close          float64 `parquet:"close,optional"`
	AdjClose       float64 `parquet:"adj_close,optional"`
	Volume         int64   `parquet:"volume,optional"`
	CloseUSD       float64 `parquet:"close_usd,optional"`
	EventTime      int64   `parquet:"event_time,timestamp(millisecond)"`
	KafkaPartition int32   `parquet:"kafka_partition"`
	Null           Nulls   `parquet:"-"`
	KafkaOffset    int64   `parquet:"kafka_offset"`
}

type volumeRow struct {
	Symbol         string  `parquet:"symbol"`
	TradeDate      int32   `parquet:"trade_date,date"`
	Open           float64 `parquet:"open,optional"`
	High           float64 `parquet:"high,optional"`
	Low            float64 `parquet:"low,optional"`
	Close          float64 `parquet:"close,optional"`
	AdjClose       float64 `parquet:"adj_close,optional"`
	Volume         *int64  `parquet:"volume,optional"`
	CloseUSD       float64 `parquet:"close_usd,optional"`
	EventTime      int64   `parquet:"event_time,timestamp(millisecond)"`
	KafkaPartition int32   `parquet:"kafka_partition"`
	KafkaOffset    int64   `parquet:"kafka_offset"`
}

type sparseRow struct {
	Symbol         string   `parquet:"symbol"`
	TradeDate      int32    `parquet:"trade_date,date"`
	Open           *float64 `parquet:"open,optional"`
	High           *float64 `parquet:"high,optional"`
	Low            *float64 `parquet:"low,optional"`
	Close          *float64 `parquet:"close,optional"`
	AdjClose       *float64 `parquet:"adj_close,optional"`
	Volume         *int64   `parquet:"volume,optional"`
	CloseUSD       *float64 `parquet:"close_usd,optional"`
	EventTime      int64    `parquet:"event_time,timestamp(millisecond)"`
	KafkaPartition int32    `parquet:"kafka_partition"`
	KafkaOffset    int64    `parquet:"kafka_offset"`
}

// ParquetSchema is the schema of the lake's Parquet files: Columns in
// order, the value columns open … close_usd OPTIONAL, the others REQUIRED.
var ParquetSchema = parquet.NewSchema(Table, parquet.SchemaOf(sparseRow{}))

type layout int

const (
	dense layout = iota
	volume
	sparse
)

// layoutOf returns the cheapest layout that holds rows exactly. A price of
// 0 or -0 needs the pointer layout: the batch path would write it as NULL
// (parquet-go compares the bits on amd64, the value elsewhere).
func layoutOf(rows []Row) layout {
	l := dense
	for i := range rows {
		r := &rows[i]
		if r.Null&^NullVolume != 0 || r.Open == 0 || r.High == 0 || r.Low == 0 || r.Close == 0 || r.AdjClose == 0 || r.CloseUSD == 0 {
			return sparse
		}
		if r.Null != 0 || r.Volume == 0 {
			l = volume
		}
	}
	return l
}

// ParquetEncoder writes rows as lake Parquet files (ParquetSchema), NULL
// where Row.Null says so and 0 where a value is 0. It keeps its buffers
// from one file to the next; it is not safe for concurrent use.
type ParquetEncoder struct {
	opts   []parquet.WriterOption
	dense  *parquet.GenericWriter[denseRow]
	volume *parquet.GenericWriter[volumeRow]
	sparse *parquet.GenericWriter[sparseRow]
	vrows  []volumeRow
	srows  []sparseRow
}

// NewParquetEncoder returns an encoder whose files are written with opts
// (compression, created-by, page sizes; the schema is always ParquetSchema).
func NewParquetEncoder(opts ...parquet.WriterOption) *ParquetEncoder {
	return &ParquetEncoder{opts: append([]parquet.WriterOption{ParquetSchema}, opts...)}
}

// convertRows is how many rows a pointer layout converts at a time.
const convertRows = 4096

// Encode writes the rows of all chunks, in order, as one Parquet file to out.
func (e *ParquetEncoder) Encode(out io.Writer, chunks ...[]Row) error {
	l := dense
	for _, rows := range chunks {
		l = max(l, layoutOf(rows))
	}
	var err error
	switch l {
	case dense:
		if e.dense == nil {
			e.dense = parquet.NewGenericWriter[denseRow](nil, e.opts...)
		}
		err = writeRows(e.dense, out, chunks, func(rows []Row) error {
			if len(rows) == 0 {
				return nil
			}
			// Same layout, no copy: the writer reads the rows in place.
			_, err := e.dense.Write(unsafe.Slice((*denseRow)(&rows[0]), len(rows)))
			return err
		})
	case volume:
		if e.volume == nil {
			e.volume = parquet.NewGenericWriter[volumeRow](nil, e.opts...)
			e.vrows = make([]volumeRow, convertRows)
		}
		err = writeRows(e.volume, out, chunks, func(rows []Row) error {
			for len(rows) > 0 {
				n := min(len(rows), convertRows)
				buf := e.vrows[:n]
				for i := range buf {
					r := &rows[i]
					var vol *int64
					if r.Null&NullVolume == 0 {
						vol = &r.Volume
					}
					buf[i] = volumeRow{r.Symbol, r.TradeDate, r.Open, r.High, r.Low, r.Close, r.AdjClose, vol, r.CloseUSD,
						r.EventTime, r.KafkaPartition, r.KafkaOffset}
				}
				if _, err := e.volume.Write(buf); err != nil {
					return err
				}
				rows = rows[n:]
			}
			return nil
		})
		clear(e.vrows) // drop the pointers into the rows
	default:
		if e.sparse == nil {
			e.sparse = parquet.NewGenericWriter[sparseRow](nil, e.opts...)
			e.srows = make([]sparseRow, convertRows)
		}
		err = writeRows(e.sparse, out, chunks, func(rows []Row) error {
			for len(rows) > 0 {
				n := min(len(rows), convertRows)
				buf := e.srows[:n]
				for i := range buf {
					buf[i] = sparseOf(&rows[i])
				}
				if _, err := e.sparse.Write(buf); err != nil {
					return err
				}
				rows = rows[n:]
			}
			return nil
		})
		clear(e.srows)
	}
	if err != nil {
		return fmt.Errorf("encode parquet: %w", err)
	}
	return nil
}

// sparseOf points at r's values, nil for its NULLs.
func sparseOf(r *Row) sparseRow {
	s := sparseRow{Symbol: r.Symbol, TradeDate: r.TradeDate, EventTime: r.EventTime, KafkaPartition: r.KafkaPartition, KafkaOffset: r.KafkaOffset}
	n := r.Null
	if n&NullOpen == 0 {
		s.Open = &r.Open
	}
	if n&NullHigh == 0 {
		s.High = &r.High
	}
	if n&NullLow == 0 {
		s.Low = &r.Low
	}
	if n&NullClose == 0 {
		s.Close = &r.Close
	}
	if n&NullAdjClose == 0 {
		s.AdjClose = &r.AdjClose
	}
	if n&NullVolume == 0 {
		s.Volume = &r.Volume
	}
	if n&NullCloseUSD == 0 {
		s.CloseUSD = &r.CloseUSD
	}
	return s
}

// fileWriter is the part of parquet.GenericWriter that writeRows needs.
type fileWriter interface {
	Reset(io.Writer)
	Close() error
}

func writeRows(w fileWriter, out io.Writer, chunks [][]Row, write func([]Row) error) error {
	w.Reset(out)
	for _, rows := range chunks {
		if err := write(rows); err != nil {
			w.Reset(nil)
			return err
		}
	}
	return w.Close()
}

// EncodeParquet writes rows as one lake Parquet file to out (see
// ParquetEncoder, which reuses its buffers across files).
func EncodeParquet(out io.Writer, rows []Row, opts ...parquet.WriterOption) error {
	return NewParquetEncoder(opts...).Encode(out, rows)
}

// ReadParquet reads a Parquet file whose columns are Columns (the sink's
// files, or any with these names and types, REQUIRED or OPTIONAL) into
// rows, a missing value of a value column as NULL (Row.Null) rather than 0.
func ReadParquet(r io.ReaderAt, size int64) (rows []Row, err error) {
	defer func() {
		if p := recover(); p != nil {
			rows, err = nil, fmt.Errorf("corrupt Parquet: %v", p)
		}
	}()
	srs, err := parquet.Read[sparseRow](r, size)
	if err != nil {
		return nil, err
	}
	rows = make([]Row, len(srs))
	for i, s := range srs {
		row := Row{Symbol: s.Symbol, TradeDate: s.TradeDate, EventTime: s.EventTime, KafkaPartition: s.KafkaPartition, KafkaOffset: s.KafkaOffset}
		for j, p := range [...]*float64{s.Open, s.High, s.Low, s.Close, s.AdjClose, nil, s.CloseUSD} {
			bit := Nulls(1) << j
			if bit == NullVolume {
				continue
			}
			if p == nil {
				row.Null |= bit
				continue
			}
			*row.valuePtr(bit) = *p
		}
		if s.Volume == nil {
			row.Null |= NullVolume
		} else {
			row.Volume = *s.Volume
		}
		rows[i] = row
	}
	return rows, nil
}

// valuePtr returns the float field of the value column bit (not volume).
func (r *Row) valuePtr(bit Nulls) *float64 {
	switch bit {
	case NullOpen:
		return &r.Open
	case NullHigh:
		return &r.High
	case NullLow:
		return &r.Low
	case NullClose:
		return &r.Close
	case NullAdjClose:
		return &r.AdjClose
	}
	return &r.CloseUSD
}
