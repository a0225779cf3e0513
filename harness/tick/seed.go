package tick

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// DecodeSeed decodes a record value in the seed project's format: a CSV row
// of indexProcessed.csv sent as a JSON object keyed by the CSV header, as
// its producer did with pandas (`df.sample(1).to_dict(orient="records")[0]`):
//
//	{"Index":"HSI","Date":"2010-01-11","Open":22524.1,"High":…,"Low":…,"Close":…,
//	 "Adj Close":…,"Volume":1744637600.0,"CloseUSD":2913.3}
//
// so a pipeline that still runs the seed's producer can move to the tickflow
// sink unchanged. Volume must be a whole number (pandas writes it as a
// float). The "Index" key is required: it is what tells this format apart
// from Tick's own. t is fully overwritten on success; as with Decode, a
// value key that is absent or null is listed in t.Null (NULL in the lake),
// and t.Unknown counts the keys that are none of the above.
func DecodeSeed(b []byte, t *Tick) error {
	var v struct {
		Index    *string      `json:"Index"`
		Date     string       `json:"Date"`
		Open     *float64     `json:"Open"`
		High     *float64     `json:"High"`
		Low      *float64     `json:"Low"`
		Close    *float64     `json:"Close"`
		AdjClose *float64     `json:"Adj Close"`
		Volume   *json.Number `json:"Volume"`
		CloseUSD *float64     `json:"CloseUSD"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("seed format: %w", err)
	}
	if dec.More() {
		return errors.New("seed format: data after the JSON object")
	}
	if v.Index == nil || *v.Index == "" {
		return errors.New(`seed format: no "Index" (the index symbol)`)
	}
	if v.Date == "" {
		return errors.New(`seed format: no "Date"`)
	}
	out := Tick{Symbol: *v.Index, TradeDate: v.Date, Unknown: seedUnknown(b)}
	if v.Volume != nil {
		f, err := v.Volume.Float64()
		if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return fmt.Errorf("seed format: Volume %s is not a whole number of shares", *v.Volume)
		}
		out.Volume = int64(f)
	} else {
		out.Null |= NullVolume
	}
	for _, f := range [...]struct {
		v   *float64
		dst *float64
		bit Nulls
	}{{v.Open, &out.Open, NullOpen}, {v.High, &out.High, NullHigh}, {v.Low, &out.Low, NullLow}, {v.Close, &out.Close, NullClose},
		{v.AdjClose, &out.AdjClose, NullAdjClose}, {v.CloseUSD, &out.CloseUSD, NullCloseUSD}} {
		if f.v != nil {
			*f.dst = *f.v
		} else {
			out.Null |= f.bit
		}
	}
	*t = out
	return nil
}

// seedKeys are the seed format's keys (the CSV header).
var seedKeys = [...]string{"Index", "Date", "Open", "High", "Low", "Close", "Adj Close", "Volume", "CloseUSD"}

// seedUnknown counts the keys of the object b (valid JSON) that are not
// seed keys, matched as encoding/json matches them (case-insensitively).
func seedUnknown(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0
	}
	n := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		k, _ := tok.(string)
		known := false
		for _, s := range seedKeys {
			known = known || strings.EqualFold(k, s)
		}
		if !known {
			n++
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			break
		}
	}
	return n
}
