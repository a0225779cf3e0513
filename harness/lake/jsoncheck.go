package lake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// jsonIssues aggregates per (rule, path) problems found line by line, so a
// million bad lines make one violation with a count and the first line.
type jsonIssues struct {
	m     map[string]*jsonIssue
	order []string
}

type jsonIssue struct {
	rule, path string
	lineIssue
	fix  string
	warn bool
}

func (ji *jsonIssues) add(rule, path string, line int, fix, format string, args ...any) {
	ji.record(false, rule, path, line, fix, format, args...)
}

// warn records a finding where Athena's behaviour is uncertain (engine
// versions differ): reported, never failing the check.
func (ji *jsonIssues) warn(rule, path string, line int, fix, format string, args ...any) {
	ji.record(true, rule, path, line, fix, format, args...)
}

func (ji *jsonIssues) record(warn bool, rule, path string, line int, fix, format string, args ...any) {
	if ji.m == nil {
		ji.m = map[string]*jsonIssue{}
	}
	k := rule + "\x00" + path
	if warn {
		k += "\x00w"
	}
	is := ji.m[k]
	if is == nil {
		is = &jsonIssue{rule: rule, path: path, fix: fix, warn: warn}
		ji.m[k] = is
		ji.order = append(ji.order, k)
	}
	is.add(line, fmt.Sprintf(format, args...))
}

func (ji *jsonIssues) report(f *file) {
	sort.Strings(ji.order)
	for _, k := range ji.order {
		is := ji.m[k]
		tail := ""
		if is.rule == "L07" && f.def.Crawled {
			tail = "; the crawler infers the column's type from the first 1 MB"
		}
		v := violation(is.rule, f.key, is.fix, "%s: %s, first at line %d%s", plural(is.count, "line", ""), is.what, is.first, tail)
		if is.warn {
			v.Severity = Warning
			v.Message += " (uncertain: engine versions differ, so a warning)"
		}
		f.problem(v)
	}
}

var (
	jsonNumber  = regexp.MustCompile(`^-?\d+(\.\d+)?([eE][+-]?\d+)?$`)
	jsonInteger = regexp.MustCompile(`^-?\d+$`)
)

// checkJSONKeys applies L21 to one object's keys: two keys equal but for
// case are a duplicate key for a case-insensitive SerDe, and upper-case keys
// are NULL when the SerDe matches case-sensitively (OpenX with
// case.insensitive=false and no mapping.* property for the key).
func (f *file) checkJSONKeys(fields []jsonField, line int, ji *jsonIssues) {
	upper := false
	for _, fl := range fields {
		if strings.ToLower(fl.name) != fl.name {
			upper = true
			break
		}
	}
	if !upper {
		return // keys that are all lowercase cannot clash by case
	}
	r := f.def.json
	seen := map[string]string{}
	for _, fl := range fields {
		low := strings.ToLower(fl.name)
		if prev, ok := seen[low]; ok && prev != fl.name && r.caseInsensitive {
			ji.add("L21", low, line, "write each key once, in lowercase (or, with the OpenX SerDe, set case.insensitive=false with mapping.* SerDe properties)",
				"keys %q and %q differ only by case, and %s matches keys case-insensitively: Athena documents duplicate keys as not allowed (HIVE_CURSOR_ERROR: Row is not a valid JSON Object - JSONException: Duplicate key %q), and Trino's reader silently keeps only the last one", prev, fl.name, r.name, low)
		}
		seen[low] = fl.name
		if low == fl.name {
			continue
		}
		if _, declared := f.def.column(fl.name); !declared || r.mapped[fl.name] {
			continue
		}
		switch {
		case !r.caseInsensitive:
			ji.add("L21", low, line, "write keys in lowercase, as Athena's column names are, or map the key with the SerDe property mapping."+low+"="+fl.name,
				"key %q has upper-case letters and the OpenX SerDe matches keys case-sensitively (case.insensitive=false) against the lowercase column %s: the column reads as NULL", fl.name, low)
		case !r.openx:
			ji.warn("L21", low, line, "write keys in lowercase, as Athena's column names are",
				"key %q has upper-case letters: Trino's Hive JSON reader (Athena engine 3) lowercases keys before matching, so it reads as column %s, but Hive's own JsonSerDe (and Athena engine 2, observed) matches case-sensitively and returns NULL", fl.name, low)
		}
	}
}

// checkJSONValue checks one value against its declared type (L07, L17, L18,
// L20, L22). raw is the literal.
func (f *file) checkJSONValue(path string, want *htype, raw []byte, line int, ji *jsonIssues, depth int) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == 'n' || depth > maxTypeDepth {
		return // null is fine in any column
	}
	k := jsonKind(raw)
	typeFix := fmt.Sprintf("write %s as a JSON %s in every line", path, jsonWant(want))
	bad := func(symptom string) {
		ji.add("L07", path, line, typeFix, "%s is written as %s (a %s) but the table declares %s: %s", path, clip(raw), k, want, symptom)
	}
	r := f.def.json
	text := func() string { // the value as the SerDe sees it: a string's text, else the literal
		if t, ok := jsonText(raw); ok {
			return string(t)
		}
		return string(raw)
	}
	switch want.kind {
	case "tinyint", "smallint", "int", "bigint":
		bits, _ := want.integer()
		switch k {
		case "bigint":
			if !intFits(raw, bits) {
				ji.add("L20", path, line, fmt.Sprintf("declare %s bigint (or a wider type), or keep the values in range", path),
					"%s = %s does not fit %s (%d bits): HIVE_BAD_DATA: Error parsing field value … Numeric value out of range", path, clip(raw), want, bits)
			}
		case "double":
			switch {
			case f.def.Crawled:
				bad("the crawler infers double and the SerDe fails with HIVE_BAD_DATA on a fraction in an integer column")
			case fractional(raw):
				ji.warn("L07", path, line, typeFix,
					"%s is written as %s (a fraction) but the table declares %s: Trino's readers (Athena engine 3) truncate it to an integer without an error, Hive's SerDes fail with HIVE_BAD_DATA", path, clip(raw), want)
			}
		case "string":
			if !r.openx {
				ji.add("L07", path, line, typeFix+" (the Hive JSON SerDe reads no quoted numbers; the OpenX SerDe does)",
					"%s is written as %s (a string) but the table declares %s: the Hive JSON SerDe reads integers only from JSON numbers, so %s", path, clip(raw), want, r.invalid())
				return
			}
			frac, ok := openxLong(text())
			switch {
			case f.def.Crawled:
				bad("a crawler types the column string; the OpenX SerDe itself would parse the quoted number")
			case !ok:
				ji.add("L07", path, line, typeFix, "%s is written as %s, which the OpenX SerDe cannot parse as %s: %s", path, clip(raw), want, r.invalid())
			case frac:
				ji.warn("L07", path, line, typeFix,
					"%s is written as %s (a fraction) but the table declares %s: Trino's OpenX reader truncates it to an integer without an error, the original OpenX SerDe fails", path, clip(raw), want)
			case jsonInteger.MatchString(text()) && !intFits([]byte(text()), bits):
				ji.add("L20", path, line, fmt.Sprintf("declare %s bigint (or a wider type), or keep the values in range", path),
					"%s = %s does not fit %s (%d bits): %s", path, clip(raw), want, bits, r.invalid())
			}
		default:
			bad(r.invalid())
		}
	case "float", "double":
		switch k {
		case "bigint":
			// The SerDe reads 5 as 5.0; only a crawler's inferred type
			// flips between bigint and double.
			if f.def.Crawled {
				bad("the crawler's inferred type flips between bigint and double")
			}
		case "double":
		case "string":
			if _, err := strconv.ParseFloat(text(), 64); err == nil && r.openx && !f.def.Crawled {
				return // OpenX parses quoted numbers (Double.parseDouble)
			}
			if r.openx && !f.def.Crawled {
				ji.add("L07", path, line, typeFix, "%s is written as %s, which the OpenX SerDe cannot parse as %s: %s", path, clip(raw), want, r.invalid())
				return
			}
			what := r.invalid()
			if f.def.Crawled {
				what = "a crawler types the column string"
			}
			bad(what)
		default:
			bad(r.invalid())
		}
	case "boolean":
		switch t := strings.ToLower(text()); {
		case k == "boolean":
		case k == "string" && (t == "true" || t == "false"):
			// Both SerDes read the text with Boolean.parseBoolean.
		case k == "struct" || k == "array":
			bad(r.invalid())
		default:
			bad("both JSON SerDes read any text other than true as false, without an error, so the row silently gets a wrong value")
		}
	case "decimal":
		switch {
		case k == "string":
			var s string
			_ = json.Unmarshal(raw, &s)
			if jsonNumber.MatchString(s) {
				return // a decimal as a quoted number is parsed
			}
			what := "a string that is not a number"
			if _, err := base64.StdEncoding.DecodeString(s); err == nil {
				what = "base64 (the binary Avro/Parquet decimal encoding)"
			}
			ji.add("L17", path, line, "write decimals as plain JSON numbers with the declared scale (e.g. 12.30)",
				"%s = %s is %s, not a decimal number: %s", path, clip(raw), what, r.invalid())
		case k == "bigint" || k == "double":
			if d := significantDigits(string(raw)); d > 15 && (k == "double") {
				ji.add("L17", path, line, "serialise decimals from a decimal type (BigDecimal, decimal.Decimal), not from a float64",
					"%s = %s has %d significant digits: a double keeps only 15–17, so the writer probably went through a float and the digits are not exact", path, clip(raw), d)
			}
		default:
			bad(r.invalid())
		}
	case "date":
		if (k != "string" && k != "bigint") || !r.date(text()) {
			ji.add("L22", path, line, "write dates as \"YYYY-MM-DD\"", "%s = %s is not a date %s reads (\"YYYY-MM-DD\"%s): %s",
				path, clip(raw), r.name, map[bool]string{true: " or a number of days since 1970-01-01", false: ""}[r.openx], r.invalid())
		}
	case "timestamp":
		if k != "string" && k != "bigint" && k != "double" {
			ji.add("L22", path, line, jsonDateTimeFix(f.def), "%s = %s is not a timestamp: %s", path, clip(raw), r.invalid())
			return
		}
		str := text()
		switch r.timestamp(str) {
		case tsRead:
			return
		case tsUncertain:
			if strings.IndexByte(str, ':') < 0 {
				ji.warn("L22", path, line, jsonDateTimeFix(f.def),
					"%s = %q is a date without a time of day: Trino's Hive JSON reader parses it with an optional time part but needs one to build a timestamp, and Hive's own JsonSerDe (Timestamp.valueOf) refuses it", path, str)
				return
			}
			ji.warn("L22", path, line, jsonDateTimeFix(f.def),
				"%s = %q is ISO 8601 without a zone: Trino's Hive JSON reader (Athena engine 3) falls back to ISO_LOCAL_DATE_TIME and reads it, Hive's own JsonSerDe (Timestamp.valueOf) does not", path, str)
			return
		}
		what := "not a form " + r.name + " reads"
		switch {
		case isoZonedTimestamp.MatchString(str) && !r.openx:
			what = "ISO 8601 with a zone (T…Z/±hh:mm), which the Hive JSON SerDe does not parse (its default is yyyy-MM-dd HH:mm:ss[.fff], and ISO 8601 only without a zone)"
		case k != "string" && !r.openx:
			what = "a number, which the Hive JSON SerDe reads as a timestamp only with timestamp.formats=millis"
		case r.openx && strings.IndexByte(str, ':') < 0:
			what = "neither a date-time with a time of day nor an epoch number (the OpenX SerDe reads yyyy-MM-dd HH:mm:ss[.fff], ISO 8601 with or without a zone, and epoch seconds or milliseconds)"
		}
		if r.rawFormat != "" {
			what += fmt.Sprintf(", and it matches none of timestamp.formats %q", r.rawFormat)
		}
		ji.add("L22", path, line, jsonDateTimeFix(f.def), "%s = %q is %s: %s", path, str, what, r.invalid())
	case "string", "char", "varchar":
		switch {
		case (k == "struct" || k == "array") && r.openx && !f.def.Crawled:
			ji.warn("L07", path, line, "declare "+path+" with its nested type (struct<…>, array<…>), or write it as a JSON string",
				"%s is written as %s (a %s) but the table declares %s: Trino's OpenX reader returns the value's JSON text, other engine versions fail", path, clip(raw), k, want)
		case k == "struct" || k == "array":
			bad("the Hive JSON SerDe reads strings only from scalar values, so " + r.invalid() + "; declare the nested type")
		}
	case "array":
		if k != "array" {
			ji.add("L18", path, line, "write "+path+" as a JSON array, or declare its real type", "%s is written as %s (a %s) but the table declares %s: HIVE_BAD_DATA", path, clip(raw), k, want)
			return
		}
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) == nil {
			for _, e := range elems {
				f.checkJSONValue(path+"[]", want.elem, e, line, ji, depth+1)
			}
		}
	case "map", "struct":
		if k != "struct" {
			ji.add("L18", path, line, "write "+path+" as a JSON object, or declare its real type", "%s is written as %s (a %s) but the table declares %s: HIVE_BAD_DATA", path, clip(raw), k, want)
			return
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		fields, err := decodeObject(dec)
		if err != nil {
			return
		}
		for _, fl := range fields {
			if want.kind == "map" {
				f.checkJSONValue(path+"[\""+fl.name+"\"]", want.elem, fl.raw, line, ji, depth+1)
				continue
			}
			if ft, ok := want.field(fl.name); ok {
				f.checkJSONValue(path+"."+strings.ToLower(fl.name), ft, fl.raw, line, ji, depth+1)
			}
		}
	}
}

// jsonText returns a JSON string literal's text (without copying when it
// has no escapes); ok is false for anything but a string.
func jsonText(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

// intFits reports whether the integer literal raw fits a signed integer of
// bits bits.
func intFits(raw []byte, bits int) bool {
	digits := bytes.TrimPrefix(raw, []byte("-"))
	if len(digits) <= 18 {
		var v int64
		for _, c := range digits {
			v = v*10 + int64(c-'0')
		}
		if raw[0] == '-' {
			v = -v
		}
		return bits >= 64 || (v >= -(1<<(bits-1)) && v < 1<<(bits-1))
	}
	v, ok := new(big.Int).SetString(string(raw), 10)
	lim := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	return !ok || (v.Cmp(lim) < 0 && v.Cmp(new(big.Int).Neg(lim)) >= 0)
}

func jsonWant(t *htype) string {
	switch t.kind {
	case "tinyint", "smallint", "int", "bigint":
		return "integer (no decimal point)"
	case "float", "double":
		return "number with a decimal point or exponent (1.0)"
	case "boolean":
		return "true/false"
	case "array":
		return "array"
	case "map", "struct":
		return "object"
	}
	return "string"
}

// significantDigits counts the significant digits of a number literal.
func significantDigits(s string) int {
	mant, _, _ := strings.Cut(strings.ToLower(s), "e")
	mant = strings.TrimLeft(strings.TrimPrefix(mant, "-"), "0.")
	return len(strings.ReplaceAll(mant, ".", ""))
}

func clip(raw []byte) string {
	if len(raw) > 40 {
		return string(raw[:37]) + "…"
	}
	return string(raw)
}

// fractional reports whether a JSON number literal has a fraction that an
// integer column would lose (5.5, 1.25e1; not 5.0 or 1e3).
func fractional(raw []byte) bool {
	f, _, err := big.ParseFloat(string(raw), 10, 256, big.ToZero)
	return err == nil && !f.IsInt()
}
