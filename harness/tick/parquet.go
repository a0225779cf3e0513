package tick

import (
	"fmt"
	"io"
	"math"
	"unsafe"

	"github.com/parquet-go/parquet-go"
)

// Lake Parquet files store the seven value columns (open … close_usd) as
// OPTIONAL, the others as REQUIRED: a value the record did not carry has no
// value in the file (definition level 0), which every reader returns as
// NULL. The three Go layouts below all write exactly ParquetSchema; the
// encoder picks, per file, the cheapest one that holds its rows exactly:
//
//   - denseRow: no real 0 in any value column: parquet-go's batch path for
//     optional non-pointer fields, which writes a 64-row batch at once and
//     takes a field of 0 for NULL (so it can hold no real 0; a NULL's field
//     is 0, which RowFrom ensures); a Row slice is used as is, without a
//     copy. Producers' full ticks take it, and partial ticks when rows with
//     the same NULLs come in runs (see plan).
//   - volumeRow: the same, except that volume may also be a real 0 (common
//     in index data: most of the HSI sample): one pointer column.
//   - sparseRow: anything else (a price of 0, NULLs scattered row by row),
//     one pointer per value column (nil = NULL), which parquet-go writes
//     value by value.
//
// Why runs: with NULLs and values mixed in one batch, parquet-go v0.32
// writes some NULLs as present 0s (its run split in writeRowsFuncOfOptional
// mistakes a short tail of NULLs for values; cf. parquet-go/parquet-go#154;
// TestParquetNullsAndZeros has such a batch). A batch in which each column
// is all NULL or all values is written right, and so is the layout's
// choice immune to the zero-is-NULL default that parquet-go has flipped
// between releases (#480, #523): no real 0 ever reaches that path.

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

// plan is how Encode writes one file.
type plan struct {
	layout layout
	// runs: some batch-written column has NULLs, so each run of rows with
	// the same NULLs in those columns (Null&mask) gets a Write of its own,
	// and every batch parquet-go cuts from it is all NULL or all values
	// per column.
	runs bool
	mask Nulls
}

// minRun is the shortest average run of rows with the same NULLs for which
// writing run by run beats the pointer layout: a Write costs about as much
// as a few dozen rows of pointers.
const minRun = 64

// planOf returns the cheapest plan that writes the rows exactly.
func planOf(chunks [][]Row) plan {
	volPtr := false               // volume needs its pointer: a real 0 (or a NULL with a value)
	var nullsAll, nullsNoVol bool // NULLs in the batch-written columns, with and without volume
	runsAll, runsNoVol, rows := 0, 0, 0
	for _, c := range chunks {
		for i := range c {
			r := &c[i]
			n := r.Null
			if !batchable(r.Open, n&NullOpen != 0) || !batchable(r.High, n&NullHigh != 0) || !batchable(r.Low, n&NullLow != 0) ||
				!batchable(r.Close, n&NullClose != 0) || !batchable(r.AdjClose, n&NullAdjClose != 0) || !batchable(r.CloseUSD, n&NullCloseUSD != 0) {
				return plan{layout: sparse}
			}
			if (r.Volume == 0) != (n&NullVolume != 0) {
				volPtr = true
			}
			nullsAll = nullsAll || n != 0
			nullsNoVol = nullsNoVol || n&^NullVolume != 0
			if i == 0 || n != c[i-1].Null {
				runsAll++
			}
			if i == 0 || n&^NullVolume != c[i-1].Null&^NullVolume {
				runsNoVol++
			}
		}
		rows += len(c)
	}
	p := plan{layout: dense, runs: nullsAll, mask: AllValues}
	runs := runsAll
	if volPtr {
		p = plan{layout: volume, runs: nullsNoVol, mask: AllValues &^ NullVolume}
		runs = runsNoVol
	}
	if p.runs && rows < minRun*runs {
		return plan{layout: sparse}
	}
	return p
}

// batchable reports whether the batch path writes a price v, NULL when
// null, right: a value must not be 0 or -0 (parquet-go takes a 0 for NULL,
// comparing bits on amd64 and values elsewhere), a NULL's field must be +0.
func batchable(v float64, null bool) bool {
	if null {
		return math.Float64bits(v) == 0
	}
	return v != 0
}

// forRuns calls write for the rows [i, j) to write: all at once, or with
// p.runs each run of rows with the same NULLs (Null&p.mask).
func forRuns(rows []Row, p plan, write func(i, j int) error) error {
	if len(rows) == 0 {
		return nil
	}
	if !p.runs {
		return write(0, len(rows))
	}
	start := 0
	for i := 1; i <= len(rows); i++ {
		if i == len(rows) || rows[i].Null&p.mask != rows[start].Null&p.mask {
			if err := write(start, i); err != nil {
				return err
			}
			start = i
		}
	}
	return nil
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
	p := planOf(chunks)
	var err error
	switch p.layout {
	case dense:
		if e.dense == nil {
			e.dense = parquet.NewGenericWriter[denseRow](nil, e.opts...)
		}
		err = writeRows(e.dense, out, chunks, func(rows []Row) error {
			return forRuns(rows, p, func(i, j int) error {
				// Same layout, no copy: the writer reads the rows in place.
				_, err := e.dense.Write(unsafe.Slice((*denseRow)(&rows[i]), j-i))
				return err
			})
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
				if err := forRuns(rows[:n], p, func(i, j int) error {
					_, err := e.volume.Write(buf[i:j])
					return err
				}); err != nil {
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
