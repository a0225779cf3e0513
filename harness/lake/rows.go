package lake

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// jsonRow is a JSON Lines row as the sink writes it; a value column may be
// null (NULL).
type jsonRow struct {
	Symbol         string   `json:"symbol"`
	TradeDate      string   `json:"trade_date"`
	Open           *float64 `json:"open"`
	High           *float64 `json:"high"`
	Low            *float64 `json:"low"`
	Close          *float64 `json:"close"`
	AdjClose       *float64 `json:"adj_close"`
	Volume         *int64   `json:"volume"`
	CloseUSD       *float64 `json:"close_usd"`
	EventTime      string   `json:"event_time"`
	KafkaPartition int32    `json:"kafka_partition"`
	KafkaOffset    int64    `json:"kafka_offset"`
}

// row converts jr (trade date and event time already parsed) to a Row,
// null and absent values as NULL.
func (jr *jsonRow) row(tradeDate int32, eventMillis int64) tick.Row {
	r := tick.Row{Symbol: jr.Symbol, TradeDate: tradeDate, EventTime: eventMillis, KafkaPartition: jr.KafkaPartition, KafkaOffset: jr.KafkaOffset}
	for _, f := range [...]struct {
		v   *float64
		dst *float64
		bit tick.Nulls
	}{{jr.Open, &r.Open, tick.NullOpen}, {jr.High, &r.High, tick.NullHigh}, {jr.Low, &r.Low, tick.NullLow}, {jr.Close, &r.Close, tick.NullClose},
		{jr.AdjClose, &r.AdjClose, tick.NullAdjClose}, {jr.CloseUSD, &r.CloseUSD, tick.NullCloseUSD}} {
		if f.v == nil {
			r.Null |= f.bit
		} else {
			*f.dst = *f.v
		}
	}
	if jr.Volume == nil {
		r.Null |= tick.NullVolume
	} else {
		r.Volume = *jr.Volume
	}
	return r
}

// ReadRows returns every row of the table under prefix (the folder that
// holds stock_ticks/), Parquet and JSON Lines alike, sorted by
// (kafka_partition, kafka_offset). Marker objects (L03) are skipped; any
// object that cannot be decoded into tick.Row is an error naming it. Use
// Check first to know whether the lake is contract-clean. A value column
// without a value (Parquet) or null (JSON) is NULL in the row (Row.Null).
func ReadRows(ctx context.Context, st objstore.Store, prefix string) ([]tick.Row, error) {
	prefix = strings.TrimPrefix(prefix, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	root := prefix + tick.Table + "/"
	objs, err := st.List(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("lake: list %s %s: %w", st, root, err)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("%w %s in %s", ErrEmptyLake, root, st)
	}
	var rows []tick.Row
	for _, o := range objs {
		f := newFile(root, o)
		if !f.isData() {
			continue
		}
		body, _, err := st.Get(ctx, o.Key)
		if err != nil {
			return nil, fmt.Errorf("lake: read %s: %w", o.Key, err)
		}
		rs, err := decodeRows(f, body)
		if err != nil {
			return nil, fmt.Errorf("lake: decode %s: %w", o.Key, err)
		}
		rows = append(rows, rs...)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].KafkaPartition != rows[j].KafkaPartition {
			return rows[i].KafkaPartition < rows[j].KafkaPartition
		}
		return rows[i].KafkaOffset < rows[j].KafkaOffset
	})
	return rows, nil
}

func decodeRows(f *file, body []byte) (rows []tick.Row, err error) {
	switch f.format {
	case "parquet":
		return tick.ReadParquet(bytes.NewReader(body), int64(len(body)))
	case "json":
		var r io.Reader = bytes.NewReader(body)
		if f.compression == "gzip" {
			zr, err := gzip.NewReader(r)
			if err != nil {
				return nil, err
			}
			r = io.LimitReader(zr, maxJSONBytes)
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for n := 1; sc.Scan(); n++ {
			var jr jsonRow
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&jr); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			d, err := tick.DateToDays(jr.TradeDate)
			if err != nil {
				return nil, fmt.Errorf("line %d: trade_date: %w", n, err)
			}
			ts, err := time.Parse(EventTimeLayout, jr.EventTime)
			if err != nil {
				return nil, fmt.Errorf("line %d: event_time: %w", n, err)
			}
			rows = append(rows, jr.row(d, ts.UnixMilli()))
		}
		return rows, sc.Err()
	}
	return nil, fmt.Errorf("unknown format (extension of %s)", f.name)
}

// Mirror copies every object of the table under prefix into the local folder
// dst (dst/stock_ticks/…), e.g. so DuckDB can read an S3 lake. It returns the
// number of objects copied.
func Mirror(ctx context.Context, st objstore.Store, prefix, dst string) (int, error) {
	prefix = strings.TrimPrefix(prefix, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	root := prefix + tick.Table + "/"
	objs, err := st.List(ctx, root)
	if err != nil {
		return 0, fmt.Errorf("lake: list %s %s: %w", st, root, err)
	}
	if len(objs) == 0 {
		return 0, fmt.Errorf("%w %s in %s", ErrEmptyLake, root, st)
	}
	for _, o := range objs {
		rel := strings.TrimPrefix(o.Key, prefix)
		p := filepath.Join(dst, filepath.FromSlash(rel))
		if !strings.HasPrefix(p, filepath.Clean(dst)+string(filepath.Separator)) {
			return 0, fmt.Errorf("lake: mirror: key %q escapes %s", o.Key, dst)
		}
		if strings.HasSuffix(o.Key, "/") {
			continue // folder placeholder
		}
		body, _, err := st.Get(ctx, o.Key)
		if err != nil {
			return 0, fmt.Errorf("lake: mirror %s: %w", o.Key, err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, fmt.Errorf("lake: mirror: %w", err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			return 0, fmt.Errorf("lake: mirror: %w", err)
		}
	}
	return len(objs), nil
}
