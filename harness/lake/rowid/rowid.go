// Package rowid reads the rows of any object a consumer may write to a lake
// — one JSON document, JSON Lines (any stream of JSON values), a JSON array,
// CSV with a header, Parquet, each optionally gzipped — and finds in each
// row the identity of the record it came from: the tick's volume field,
// which tickflow's scenarios and bench number uniquely, at the top level or
// one object down (a consumer that wraps the value); with a Text layout,
// header-less delimited text too. The scenarios' verdict
// and the bench's drain count both read lakes through it.
//
//	rows, err := rowid.Read(body)
//	for _, r := range rows {
//		if r.OK { seen[r.Seq]++ }
//	}
package rowid

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// Row is what identifies one row.
type Row struct {
	Seq    int64  // the volume field: the record's sequence number
	OK     bool   // Seq was found
	Symbol string // the symbol field, "" when absent
}

// maxObject bounds what one object may expand to (gzip) before it is
// called unreadable, so a corrupt object cannot exhaust memory.
const maxObject = 1 << 30

// Read parses one object's body into rows. An error names what is wrong
// with the object; the rows read before it are returned too.
func Read(body []byte) ([]Row, error) { return ReadAs(body, nil) }

// ReadAs is Read for the objects of a table: with t (a delimited text
// table, header-less as Hive writes them) every object, gzipped or not, is
// split into fields the way the table's SerDe splits it, whatever it looks
// like; with t nil it is Read.
func ReadAs(body []byte, t *Text) ([]Row, error) {
	switch {
	case len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b:
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		zr.Multistream(true)
		plain, err := io.ReadAll(io.LimitReader(zr, maxObject+1))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		if len(plain) > maxObject {
			return nil, fmt.Errorf("gzip: expands to more than %d bytes", maxObject)
		}
		return ReadAs(plain, t)
	case t != nil:
		return t.rows(body)
	case bytes.HasPrefix(body, []byte("PAR1")):
		return parquetRows(body)
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n\ufeff")
	if len(trimmed) == 0 {
		return nil, nil
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		return JSON(trimmed)
	}
	return csvRows(body)
}

// JSON reads a stream of JSON values (one document, JSON Lines, arrays).
func JSON(body []byte) ([]Row, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var out []Row
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("JSON after %d rows: %w", len(out), err)
		}
		switch x := v.(type) {
		case []any:
			for _, el := range x {
				if m, ok := el.(map[string]any); ok {
					out = append(out, rowOf(m))
				} else {
					out = append(out, Row{})
				}
			}
		case map[string]any:
			out = append(out, rowOf(x))
		default:
			out = append(out, Row{})
		}
	}
}

// rowOf finds volume and symbol in a JSON object, or in an object one level
// down.
func rowOf(m map[string]any) Row {
	if r := fieldsOf(m); r.OK {
		return r
	}
	for _, v := range m {
		if sub, ok := v.(map[string]any); ok {
			if r := fieldsOf(sub); r.OK {
				return r
			}
		}
		if s, ok := v.(string); ok && strings.HasPrefix(strings.TrimSpace(s), "{") {
			// The value kept as a JSON string.
			var sub map[string]any
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			if dec.Decode(&sub) == nil {
				if r := fieldsOf(sub); r.OK {
					return r
				}
			}
		}
	}
	return Row{}
}

func fieldsOf(m map[string]any) Row {
	var r Row
	for k, v := range m {
		switch {
		case strings.EqualFold(k, "volume"):
			r.Seq, r.OK = seqOf(v)
		case strings.EqualFold(k, "symbol"):
			r.Symbol, _ = v.(string)
		}
	}
	return r
}

// seqOf reads a sequence number written as a number or a quoted number.
func seqOf(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		return seqText(string(x))
	case string:
		return seqText(strings.TrimSpace(x))
	case float64:
		return wholeFloat(x)
	case int64:
		return x, true
	case int32:
		return int64(x), true
	}
	return 0, false
}

func seqText(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return wholeFloat(f)
	}
	return 0, false
}

func wholeFloat(f float64) (int64, bool) {
	if f != math.Trunc(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

func csvRows(body []byte) ([]Row, error) {
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("neither JSON nor Parquet, and not CSV: %w", err)
	}
	vol, sym := -1, -1
	for i, h := range head {
		h = strings.Trim(strings.TrimSpace(h), "\ufeff")
		switch {
		case strings.EqualFold(h, "volume"):
			vol = i
		case strings.EqualFold(h, "symbol"):
			sym = i
		}
	}
	if vol < 0 {
		return nil, fmt.Errorf("neither JSON nor Parquet, and no CSV header naming a volume column (first line %q): write a header line, or JSON", strings.Join(head, ","))
	}
	var out []Row
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("CSV after %d rows: %w", len(out), err)
		}
		var lr Row
		if vol < len(rec) {
			lr.Seq, lr.OK = seqText(strings.TrimSpace(rec[vol]))
		}
		if sym >= 0 && sym < len(rec) {
			lr.Symbol = rec[sym]
		}
		out = append(out, lr)
	}
}

func parquetRows(body []byte) (rows []Row, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt Parquet: %v", p)
		}
	}()
	pf, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body)), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("Parquet: %w", err)
	}
	vol, sym := -1, -1
	for i, path := range pf.Schema().Columns() {
		switch name := path[len(path)-1]; {
		case strings.EqualFold(name, "volume") && vol < 0:
			vol = i
		case strings.EqualFold(name, "symbol") && sym < 0:
			sym = i
		}
	}
	if vol < 0 {
		return nil, errors.New("Parquet file without a volume column")
	}
	buf := make([]parquet.Row, 256)
	for _, rg := range pf.RowGroups() {
		rr := rg.Rows()
		for {
			n, rerr := rr.ReadRows(buf)
			for _, row := range buf[:n] {
				var lr Row
				for _, v := range row {
					switch c := v.Column(); {
					case c == vol && !v.IsNull():
						switch v.Kind() {
						case parquet.Int64:
							lr.Seq, lr.OK = v.Int64(), true
						case parquet.Int32:
							lr.Seq, lr.OK = int64(v.Int32()), true
						case parquet.Double:
							lr.Seq, lr.OK = wholeFloat(v.Double())
						case parquet.Float:
							lr.Seq, lr.OK = wholeFloat(float64(v.Float()))
						case parquet.ByteArray:
							lr.Seq, lr.OK = seqText(string(v.ByteArray()))
						}
					case c == sym && !v.IsNull() && v.Kind() == parquet.ByteArray:
						lr.Symbol = string(v.ByteArray())
					}
				}
				rows = append(rows, lr)
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				rr.Close()
				return rows, fmt.Errorf("Parquet rows: %w", rerr)
			}
		}
		rr.Close()
	}
	return rows, nil
}

// Hidden reports a key Athena skips: a path segment below prefix that
// starts with _ or . (Hive's hidden-file rule).
func Hidden(prefix, key string) bool {
	for _, seg := range strings.Split(strings.TrimPrefix(key, prefix), "/") {
		if strings.HasPrefix(seg, "_") || strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}
