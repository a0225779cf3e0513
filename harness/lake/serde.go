package lake

import (
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// How a JSON table's SerDe reads values, as Athena engine 3 (Trino) does
// it: the OpenX SerDe (org.openx.data.jsonserde.JsonSerDe) is Trino's
// lib/trino-hive-formats io.trino.hive.formats.line.openxjson, the Hive JSON
// SerDe (org.apache.hive.hcatalog.data.JsonSerDe) its
// io.trino.hive.formats.line.json. docs/lake-contract.md ("JSON rules follow
// the SerDe") cites the code and Athena's documentation for each behaviour.

// jsonReader is what the JSON rules need to know about a table's SerDe and
// its SERDEPROPERTIES.
type jsonReader struct {
	openx bool   // the OpenX SerDe; false: the Hive JSON SerDe
	name  string // for messages
	// caseInsensitive: keys match columns whatever their case (OpenX
	// case.insensitive, default true; Trino's Hive JSON reader lowercases
	// keys too).
	caseInsensitive bool
	mapped          map[string]bool // OpenX mapping.<column>=<key>: keys matched by name
	ignoreMalformed bool            // ignore.malformed.json=true declared
	nullForInvalid  bool            // OpenX use.null.for.invalid.data=true
	// timestamp.formats: the patterns we can judge; anyFormat when one of
	// them uses a letter we do not model (then any text may match it).
	formats   []*regexp.Regexp
	anyFormat bool
	rawFormat string
}

// jsonReaderFor returns the reader of def's SerDe. The built-in table (no
// SerDe named) is read with OpenX, which `tickflow ddl` declares.
func jsonReaderFor(def *TableDef) *jsonReader {
	p := def.SerDeParameters
	r := &jsonReader{openx: def.SerDe != SerDeHiveJSON && def.SerDe != "org.apache.hadoop.hive.serde2.JsonSerDe"}
	r.name = "the Hive JSON SerDe"
	if r.openx {
		r.name = "the OpenX JSON SerDe"
	}
	r.caseInsensitive = true
	if v, ok := p["case.insensitive"]; ok && r.openx {
		// OpenXJsonOptions: case-insensitive only when the value is "true".
		r.caseInsensitive = strings.EqualFold(strings.TrimSpace(v), "true")
	}
	for k, v := range p {
		if strings.HasPrefix(k, "mapping.") && r.openx {
			if r.mapped == nil {
				r.mapped = map[string]bool{}
			}
			r.mapped[v] = true
		}
	}
	r.ignoreMalformed = strings.EqualFold(p["ignore.malformed.json"], "true")
	r.nullForInvalid = r.openx && strings.EqualFold(p["use.null.for.invalid.data"], "true")
	if f, ok := p["timestamp.formats"]; ok {
		r.rawFormat = f
		for _, pat := range splitFormats(f, !r.openx) {
			if !r.openx && strings.EqualFold(pat, "millis") {
				r.formats = append(r.formats, millisPattern)
				continue
			}
			re, ok := patternRegexp(pat)
			if !ok {
				r.anyFormat = true
				continue
			}
			r.formats = append(r.formats, re)
		}
	}
	return r
}

var millisPattern = regexp.MustCompile(`^-?\d+(\.\d+)?$`)

// splitFormats splits timestamp.formats at commas: OpenX has no escape,
// the Hive JSON SerDe takes \, and \\ (HiveFormatUtils).
func splitFormats(s string, escapes bool) []string {
	var out []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escapes && c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == ',':
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// patternRegexp turns a java.time / Joda-Time pattern into a regexp that
// accepts (at least) what the pattern parses, leniently: numeric fields
// take any number of digits. ok is false for a letter it does not model.
func patternRegexp(pat string) (*regexp.Regexp, bool) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pat); {
		c := pat[i]
		if c == '\'' {
			j := i + 1
			if j < len(pat) && pat[j] == '\'' {
				b.WriteString("'")
				i += 2
				continue
			}
			end := strings.IndexByte(pat[j:], '\'')
			if end < 0 {
				return nil, false
			}
			b.WriteString(regexp.QuoteMeta(pat[j : j+end]))
			i = j + end + 1
			continue
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b.WriteString(regexp.QuoteMeta(string(c)))
			i++
			continue
		}
		n := 1
		for i+n < len(pat) && pat[i+n] == c {
			n++
		}
		switch c {
		case 'y', 'u', 'Y':
			b.WriteString(`[+-]?\d+`)
		case 'M', 'L':
			if n >= 3 {
				b.WriteString(`[A-Za-z]+\.?`)
			} else {
				b.WriteString(`\d+`)
			}
		case 'd', 'D', 'H', 'h', 'k', 'K', 'm', 's', 'S', 'w':
			b.WriteString(`\d+`)
		case 'a':
			b.WriteString(`[AaPp][Mm]`)
		case 'E':
			b.WriteString(`[A-Za-z]+`)
		case 'Z', 'X', 'x':
			b.WriteString(`(?:[Zz]|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)`)
		case 'z', 'V':
			b.WriteString(`[A-Za-z0-9/_+:-]+`)
		default:
			return nil, false
		}
		i += n
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	return re, err == nil
}

var (
	// hiveDefaultTimestamp is HiveFormatUtils' default parser: y-M-d with
	// an optional " H:m:s[.fraction]" (lenient field widths).
	hiveDefaultTimestamp = regexp.MustCompile(`^[+-]?\d{1,10}-\d{1,2}-\d{1,2}( \d{1,2}:\d{1,2}:\d{1,2}(\.\d{0,9})?)?$`)
	// isoLocalTimestamp is ISO_LOCAL_DATE_TIME (case-insensitive T), no zone.
	isoLocalTimestamp = regexp.MustCompile(`^[+-]?\d{4,10}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d{0,9})?)?$`)
	// isoZonedTimestamp is ISO_LOCAL_DATE_TIME with Z or an offset ±HHMM / ±HH:MM.
	isoZonedTimestamp = regexp.MustCompile(`^[+-]?\d{4,10}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d{0,9})?)?([Zz]|[+-]\d{2}:?\d{2})$`)
	hasZone           = regexp.MustCompile(`(?:[Zz]|[+-]\d{2}:?\d{2})$`)
	// hiveDate is parseHiveDate: y-M-d, anything after the first space ignored.
	hiveDate = regexp.MustCompile(`^[+-]?\d{1,10}-\d{1,2}-\d{1,2}$`)
)

// timestampVerdict is how the SerDe reads one timestamp text.
type timestampVerdict int

const (
	tsRead      timestampVerdict = iota // read as the right instant
	tsUncertain                         // Trino reads it; other engine versions may not
	tsFails                             // the value cannot be read
)

// timestamp judges a timestamp value: s is the text of a JSON string or
// the literal of a JSON number (the readers see both as text).
func (r *jsonReader) timestamp(s string) timestampVerdict {
	if r.anyFormat {
		return tsRead
	}
	for _, re := range r.formats {
		if re.MatchString(strings.TrimSpace(s)) {
			return tsRead
		}
	}
	if r.openx {
		// OpenXJsonDeserializer.TimestampDecoder.parseTimestamp: with a ':'
		// ISO 8601 with a zone, or Hive's default / ISO without a zone;
		// without one, epoch seconds (≤12 digits), millis (13+) or
		// seconds.fraction.
		if strings.IndexByte(s, ':') > 0 {
			if hasZone.MatchString(s) && isoZonedTimestamp.MatchString(s) {
				return tsRead
			}
			t := strings.TrimSpace(s)
			if hiveDefaultTimestamp.MatchString(t) || isoLocalTimestamp.MatchString(t) {
				return tsRead
			}
			return tsFails
		}
		if strings.Trim(s, "-+.0123456789") != "" || s == "" {
			return tsFails
		}
		if strings.IndexByte(s, '.') >= 0 {
			if _, ok := new(big.Float).SetString(s); ok {
				return tsRead
			}
			return tsFails
		}
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return tsRead
		}
		return tsFails
	}
	// JsonDeserializer (Hive JSON SerDe): timestamp.formats, then
	// HiveFormatUtils' default parser, then ISO_LOCAL_DATE_TIME.
	t := strings.TrimSpace(s)
	switch {
	case hiveDefaultTimestamp.MatchString(t) && strings.IndexByte(t, ':') > 0:
		return tsRead
	case hiveDefaultTimestamp.MatchString(t), isoLocalTimestamp.MatchString(t):
		// A bare date: the default parser's time part is optional, but a
		// LocalDateTime needs one. ISO without a zone: a Trino fallback
		// Hive's own SerDe does not have.
		return tsUncertain
	}
	return tsFails
}

// date judges a date value (parseHiveDate; OpenX also reads a number of
// days since 1970-01-01).
func (r *jsonReader) date(s string) bool {
	t := strings.TrimSpace(s)
	if i := strings.IndexByte(t, ' '); i >= 0 {
		t = t[:i]
	}
	if hiveDate.MatchString(t) {
		return true
	}
	if r.openx {
		_, ok := openxLong(s)
		return ok && !strings.ContainsAny(s, ".eE")
	}
	return false
}

// openxLong parses an integer as OpenX's parseLong does: decimal, 0x hex,
// 0 octal, or any decimal number (truncated). frac reports a fraction that
// the truncation drops.
func openxLong(s string) (frac bool, ok bool) {
	switch {
	case len(s) >= 3 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		_, err := strconv.ParseUint(s[2:], 16, 63)
		return false, err == nil
	case len(s) >= 2 && s[0] == '0' && s[1] >= '0' && s[1] <= '7':
		_, err := strconv.ParseUint(s[1:], 8, 63)
		return false, err == nil
	}
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return false, true
	}
	if !jsonNumber.MatchString(strings.TrimPrefix(s, "+")) {
		return false, false
	}
	f, _, err := big.ParseFloat(s, 10, 256, big.ToZero)
	if err != nil {
		return false, false
	}
	i, acc := f.Int(nil)
	if !i.IsInt64() {
		return false, false
	}
	return acc != big.Exact, true
}

// invalid says what Athena does with a value the SerDe cannot convert.
func (r *jsonReader) invalid() string {
	if !r.openx {
		return "the query fails (HIVE_BAD_DATA / HIVE_CURSOR_ERROR)"
	}
	if r.nullForInvalid {
		return "Athena returns NULL for it (use.null.for.invalid.data=true), so the row silently loses the value"
	}
	return "the query fails with HIVE_BAD_DATA (older engine versions, and use.null.for.invalid.data=true, return NULL instead)"
}

// jsonDateTimeFix is L22's fix for def's SerDe.
func jsonDateTimeFix(def *TableDef) string {
	r := jsonReaderFor(def)
	if r.openx {
		return "write dates as \"YYYY-MM-DD\" and timestamps as \"yyyy-MM-dd HH:mm:ss.SSS\", ISO 8601 (\"2024-03-01T09:00:00Z\") or epoch milliseconds, or declare the format with the SerDe property timestamp.formats"
	}
	return "write dates as \"YYYY-MM-DD\" and timestamps as \"yyyy-MM-dd HH:mm:ss.SSS\" (UTC, no T and no zone), or declare the format with the SerDe property timestamp.formats (Joda patterns; millis for epoch milliseconds)"
}
