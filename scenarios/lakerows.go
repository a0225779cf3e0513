package scenarios

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

// A user's lake is read as Athena would read it, whatever the layout: one
// JSON document per object, JSON Lines (or any stream of JSON values), a
// JSON array, CSV with a header, Parquet, each optionally gzipped. Each row
// is matched to a produced record by the tick's sequence number (its
// volume field, unique in a scenario), found at the top level or one object
// deep (a consumer that wraps the value, e.g. {"value": {...}}).

// lakeRow is what identifies one row.
type lakeRow struct {
	seq    int64
	ok     bool // seq was found
	symbol string
}

// maxObject bounds what one object may expand to (gzip) before it is
// called unreadable, so a corrupt object cannot exhaust memory.
const maxObject = 1 << 30

// readLakeRows parses one object's body into rows.
func readLakeRows(body []byte) ([]lakeRow, error) {
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
		return readLakeRows(plain)
	case bytes.HasPrefix(body, []byte("PAR1")):
		return parquetRows(body)
	}
	t := bytes.TrimLeft(body, " \t\r\n\ufeff")
	if len(t) == 0 {
		return nil, nil
	}
	if t[0] == '{' || t[0] == '[' {
		return jsonRows(t)
	}
	return csvRows(body)
}

func jsonRows(body []byte) ([]lakeRow, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var out []lakeRow
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
					out = append(out, lakeRow{})
				}
			}
		case map[string]any:
			out = append(out, rowOf(x))
		default:
			out = append(out, lakeRow{})
		}
	}
}

// rowOf finds volume and symbol in a JSON object, or in an object one level
// down.
func rowOf(m map[string]any) lakeRow {
	if r := fieldsOf(m); r.ok {
		return r
	}
	for _, v := range m {
		if sub, ok := v.(map[string]any); ok {
			if r := fieldsOf(sub); r.ok {
				return r
			}
		}
		if s, ok := v.(string); ok && strings.HasPrefix(strings.TrimSpace(s), "{") {
			// The value kept as a JSON string.
			var sub map[string]any
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			if dec.Decode(&sub) == nil {
				if r := fieldsOf(sub); r.ok {
					return r
				}
			}
		}
	}
	return lakeRow{}
}

func fieldsOf(m map[string]any) lakeRow {
	var r lakeRow
	for k, v := range m {
		switch {
		case strings.EqualFold(k, "volume"):
			r.seq, r.ok = seqOf(v)
		case strings.EqualFold(k, "symbol"):
			r.symbol, _ = v.(string)
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

func csvRows(body []byte) ([]lakeRow, error) {
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
	var out []lakeRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("CSV after %d rows: %w", len(out), err)
		}
		var lr lakeRow
		if vol < len(rec) {
			lr.seq, lr.ok = seqText(strings.TrimSpace(rec[vol]))
		}
		if sym >= 0 && sym < len(rec) {
			lr.symbol = rec[sym]
		}
		out = append(out, lr)
	}
}

func parquetRows(body []byte) (rows []lakeRow, err error) {
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
				var lr lakeRow
				for _, v := range row {
					switch c := v.Column(); {
					case c == vol && !v.IsNull():
						switch v.Kind() {
						case parquet.Int64:
							lr.seq, lr.ok = v.Int64(), true
						case parquet.Int32:
							lr.seq, lr.ok = int64(v.Int32()), true
						case parquet.Double:
							lr.seq, lr.ok = wholeFloat(v.Double())
						case parquet.Float:
							lr.seq, lr.ok = wholeFloat(float64(v.Float()))
						case parquet.ByteArray:
							lr.seq, lr.ok = seqText(string(v.ByteArray()))
						}
					case c == sym && !v.IsNull() && v.Kind() == parquet.ByteArray:
						lr.symbol = string(v.ByteArray())
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
