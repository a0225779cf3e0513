package tick

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSONRow appends r as one JSON Lines object (with a trailing '\n')
// in the form Athena's JSON SerDe and a Glue crawler read consistently:
// doubles always carry a decimal point or exponent (LAKE rule L07, so 0 is
// written 0.0 and never flips the inferred type to int), integers stay
// integers, trade_date is "YYYY-MM-DD" and event_time is
// "YYYY-MM-DD HH:MM:SS.mmm" in UTC. The value columns in r.Null are written
// null (every column is always there), as are non-finite doubles (which a
// Tick decoded from JSON cannot hold).
func AppendJSONRow(dst []byte, r Row) []byte {
	dst = append(dst, `{"symbol":`...)
	dst = appendJSONString(dst, r.Symbol)
	dst = append(dst, `,"trade_date":"`...)
	dst = epoch.AddDate(0, 0, int(r.TradeDate)).AppendFormat(dst, time.DateOnly)
	n := r.Null
	dst = append(dst, `","open":`...)
	dst = appendDouble(dst, r.Open, n&NullOpen != 0)
	dst = append(dst, `,"high":`...)
	dst = appendDouble(dst, r.High, n&NullHigh != 0)
	dst = append(dst, `,"low":`...)
	dst = appendDouble(dst, r.Low, n&NullLow != 0)
	dst = append(dst, `,"close":`...)
	dst = appendDouble(dst, r.Close, n&NullClose != 0)
	dst = append(dst, `,"adj_close":`...)
	dst = appendDouble(dst, r.AdjClose, n&NullAdjClose != 0)
	dst = append(dst, `,"volume":`...)
	if n&NullVolume != 0 {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendInt(dst, r.Volume, 10)
	}
	dst = append(dst, `,"close_usd":`...)
	dst = appendDouble(dst, r.CloseUSD, n&NullCloseUSD != 0)
	dst = append(dst, `,"event_time":"`...)
	dst = time.UnixMilli(r.EventTime).UTC().AppendFormat(dst, JSONTimestampLayout)
	dst = append(dst, `","kafka_partition":`...)
	dst = strconv.AppendInt(dst, int64(r.KafkaPartition), 10)
	dst = append(dst, `,"kafka_offset":`...)
	dst = strconv.AppendInt(dst, r.KafkaOffset, 10)
	return append(dst, "}\n"...)
}

// JSONTimestampLayout is the event_time format in JSON Lines files (the
// format Athena's JSON SerDe parses as a timestamp).
const JSONTimestampLayout = "2006-01-02 15:04:05.000"

func appendDouble(dst []byte, v float64, null bool) []byte {
	if null || math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, "null"...)
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, v, 'g', -1, 64)
	for _, c := range dst[n:] {
		if c == '.' || c == 'e' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

const hexDigits = "0123456789abcdef"

func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
			i++
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			i++
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return append(dst, '"')
}
