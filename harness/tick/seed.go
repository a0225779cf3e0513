package tick

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
// from Tick's own. t is fully overwritten on success.
func DecodeSeed(b []byte, t *Tick) error {
	var v struct {
		Index    *string     `json:"Index"`
		Date     string      `json:"Date"`
		Open     float64     `json:"Open"`
		High     float64     `json:"High"`
		Low      float64     `json:"Low"`
		Close    float64     `json:"Close"`
		AdjClose float64     `json:"Adj Close"`
		Volume   json.Number `json:"Volume"`
		CloseUSD float64     `json:"CloseUSD"`
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
	var vol int64
	if v.Volume != "" {
		f, err := v.Volume.Float64()
		if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return fmt.Errorf("seed format: Volume %s is not a whole number of shares", v.Volume)
		}
		vol = int64(f)
	}
	*t = Tick{
		Symbol: *v.Index, TradeDate: v.Date,
		Open: v.Open, High: v.High, Low: v.Low, Close: v.Close, AdjClose: v.AdjClose,
		Volume: vol, CloseUSD: v.CloseUSD,
	}
	return nil
}
