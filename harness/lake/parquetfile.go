package lake

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/tickflow/tickflow/harness/tick"
)

// parquetMagic starts and ends every Parquet file.
var parquetMagic = []byte("PAR1")

func (f *file) analyseParquet(body []byte) {
	if len(body) < 12 || !bytes.HasPrefix(body, parquetMagic) {
		f.unreadable = "it is not a Parquet file (no PAR1 magic at the start)"
		return
	}
	if !bytes.HasSuffix(body, parquetMagic) {
		f.unreadable = "it is not a complete Parquet file (no PAR1 magic at the end: truncated upload?)"
		return
	}
	pf, err := openParquet(body)
	if err != nil {
		f.unreadable = fmt.Sprintf("its Parquet footer cannot be read (%v)", err)
		return
	}
	f.rows = pf.NumRows()
	leaves := map[string]int{}
	kinds := map[string]parquet.Type{}
	for _, fld := range pf.Schema().Fields() {
		ft := parquetFileType(fld, false, 0)
		f.schema = append(f.schema, tick.Column{Name: fld.Name(), Type: glueType(fld)})
		f.parquetCols = append(f.parquetCols, parquetColumn{fld.Name(), ft})
		if fld.Leaf() {
			kinds[fld.Name()] = fld.Type()
		}
	}
	for i, p := range pf.Schema().Columns() {
		if len(p) == 1 {
			leaves[p[0]] = i
		}
	}
	f.checkParquetTypes()

	evIdx, okE := leaves["event_time"]
	partIdx, okP := leaves["kafka_partition"]
	offIdx, okO := leaves["kafka_offset"]
	f.hasEvent, f.hasOffsets = okE, okP && okO
	if !f.hasEvent && !f.hasOffsets {
		return
	}
	evConv := timestampToMillis(kinds["event_time"])
	// NumRows comes from the footer, which may lie: do not trust it for an
	// allocation.
	f.recs = make([]record, 0, min(f.rows, int64(len(body)), 1<<16))
	var nullEvent, nullKey int64
	err = readParquetRows(pf, func(row parquet.Row) {
		var r record
		gotP, gotO := !okP, !okO
		for _, v := range row {
			switch c := v.Column(); {
			case okE && c == evIdx && !v.IsNull():
				r.event, r.eventOK = evConv(v)
			case okP && c == partIdx && !v.IsNull():
				r.partition, gotP = int32(intValue(v)), true
			case okO && c == offIdx && !v.IsNull():
				r.offset, gotO = intValue(v), true
			}
		}
		if okE && !r.eventOK {
			nullEvent++
		}
		if !gotP || !gotO {
			// A row without its Kafka coordinates proves nothing about
			// coverage; counting it as offset 0 would invent a duplicate.
			nullKey++
			return
		}
		f.recs = append(f.recs, r)
	})
	if err != nil {
		f.unreadable = fmt.Sprintf("its Parquet pages cannot be read (%v)", err)
		f.recs = nil
		return
	}
	if nullKey > 0 {
		f.problem(violation("L12", f.key, "", "%s with a null kafka_partition or kafka_offset cannot be reconciled", plural(nullKey, "row", "")))
	}
	if nullEvent > 0 {
		f.problem(violation("L10", f.key, "", "%s with a null or unreadable event_time: their partition cannot be checked", plural(nullEvent, "row", "")))
	}
}

// hasField reports whether the schema has a top-level field called name.
func hasField(s *parquet.Schema, name string) bool {
	for _, fld := range s.Fields() {
		if fld.Name() == name {
			return true
		}
	}
	return false
}

// openParquet opens a Parquet file from memory, turning a library panic on a
// corrupt footer into an error.
func openParquet(body []byte) (pf *parquet.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt file: %v", p)
		}
	}()
	return parquet.OpenFile(bytes.NewReader(body), int64(len(body)), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
}

func readParquetRows(pf *parquet.File, fn func(parquet.Row)) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt pages: %v", p)
		}
	}()
	buf := make([]parquet.Row, 256)
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, r := range buf[:n] {
				fn(r)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
	}
	return nil
}

// logical returns the logical type's text ("DATE", "TIMESTAMP(...)", "STRING")
// falling back to the legacy converted type.
func logical(t parquet.Type) string {
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		return lt.String()
	}
	if ct := t.ConvertedType(); ct != nil {
		switch *ct {
		case deprecated.UTF8:
			return "STRING"
		case deprecated.Date:
			return "DATE"
		case deprecated.TimestampMillis:
			return "TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS)"
		case deprecated.TimestampMicros:
			return "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)"
		}
	}
	return ""
}

// glueType maps a Parquet field to the type a Glue crawler gives the column:
// full nested types (array<double>, struct<a:int>), decimal(p,s).
func glueType(fld parquet.Field) string {
	ft := parquetFileType(fld, false, 0)
	if ft.h.kind == "timestamp" {
		return "timestamp" // INT96 included: Glue maps legacy INT96 to timestamp
	}
	return ft.h.String()
}

// checkParquetTypes applies L11, L17 and L18: every column the table
// declares must be stored with a compatible physical and logical type, and
// undeclared timestamp columns must still be milliseconds.
func (f *file) checkParquetTypes() {
	f.timestamps = map[string]string{}
	for _, pc := range f.parquetCols {
		if pc.t.h.kind == "timestamp" {
			enc := pc.t.phys
			if pc.t.unit != "INT96" {
				enc += fmt.Sprintf(" TIMESTAMP(%s), isAdjustedToUTC=%t", pc.t.unit, pc.t.utc)
			} else {
				enc += " (legacy, no time zone semantics)"
			}
			f.timestamps[pc.name] = enc
		}
		var issues []typeIssue
		if col, ok := f.def.column(pc.name); ok {
			issues = compareTypes(col.Name, col.htype(), pc.t, false)
		} else if pc.t.h.kind == "timestamp" {
			issues = timestampIssues(pc.name, "L11", pc.t)
		}
		for _, is := range issues {
			f.problem(violation(is.rule, f.key, is.fix, "%s", is.msg))
		}
	}
}

// timestampToMillis converts event_time values of whatever physical type the
// file uses to ms since the epoch, so L10 can still check mis-typed files.
func timestampToMillis(t parquet.Type) func(parquet.Value) (int64, bool) {
	if t == nil {
		return func(parquet.Value) (int64, bool) { return 0, false }
	}
	lt := logical(t)
	switch {
	case t.Kind() == parquet.Int96:
		return func(v parquet.Value) (int64, bool) {
			i := v.Int96()
			nanosOfDay := int64(i[1])<<32 | int64(i[0])
			julian := int64(i[2])
			return (julian-2440588)*86_400_000 + nanosOfDay/1_000_000, true
		}
	case t.Kind() == parquet.Int64 && strings.Contains(lt, "NANOS"):
		return func(v parquet.Value) (int64, bool) { return v.Int64() / 1_000_000, true }
	case t.Kind() == parquet.Int64 && strings.Contains(lt, "MICROS"):
		return func(v parquet.Value) (int64, bool) { return v.Int64() / 1_000, true }
	case t.Kind() == parquet.Int64:
		return func(v parquet.Value) (int64, bool) { return v.Int64(), true }
	}
	return func(parquet.Value) (int64, bool) { return 0, false }
}

// intValue reads an integer column whatever its width.
func intValue(v parquet.Value) int64 {
	switch v.Kind() {
	case parquet.Int32:
		return int64(v.Int32())
	case parquet.Int64:
		return v.Int64()
	case parquet.Double:
		return int64(v.Double())
	}
	return 0
}
