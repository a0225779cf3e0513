package lake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"sort"
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
	fix string
}

func (ji *jsonIssues) add(rule, path string, line int, fix, format string, args ...any) {
	if ji.m == nil {
		ji.m = map[string]*jsonIssue{}
	}
	k := rule + "\x00" + path
	is := ji.m[k]
	if is == nil {
		is = &jsonIssue{rule: rule, path: path, fix: fix}
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
		if is.rule == "L07" {
			tail = "; the crawler infers the column's type from the first 1 MB"
		}
		f.problem(violation(is.rule, f.key, is.fix, "%s: %s, first at line %d%s", plural(is.count, "line", ""), is.what, is.first, tail))
	}
}

var (
	isoTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$`)
	isoDate      = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	jsonNumber   = regexp.MustCompile(`^-?\d+(\.\d+)?([eE][+-]?\d+)?$`)
)

// checkJSONKeys applies L21 to one object's keys: two keys equal but for
// case are a duplicate key for the SerDe, and upper-case keys are NULL when
// the SerDe matches case-sensitively.
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
	caseSensitive := f.def.SerDe == SerDeHiveJSON || strings.EqualFold(f.def.SerDeParameters["case.insensitive"], "false")
	seen := map[string]string{}
	for _, fl := range fields {
		low := strings.ToLower(fl.name)
		if prev, ok := seen[low]; ok && prev != fl.name && !caseSensitive {
			ji.add("L21", low, line, "write each key once, in lowercase (or set case.insensitive=false with mapping.* SerDe properties)",
				"keys %q and %q differ only by case: the SerDe lowercases keys and fails with HIVE_CURSOR_ERROR: Row is not a valid JSON Object - JSONException: Duplicate key %q", prev, fl.name, low)
		}
		seen[low] = fl.name
		if caseSensitive && low != fl.name {
			if _, declared := f.def.column(fl.name); declared {
				how := "case.insensitive=false"
				if f.def.SerDe == SerDeHiveJSON {
					how = "the Hive JSON SerDe (observed, not documented by AWS)"
				}
				ji.add("L21", low, line, "write keys in lowercase, as Athena's column names are",
					"key %q has upper-case letters and the SerDe matches keys case-sensitively (%s) against the lowercase column %s: the column reads as NULL", fl.name, how, low)
			}
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
	switch want.kind {
	case "tinyint", "smallint", "int", "bigint":
		switch k {
		case "bigint":
			bits, _ := want.integer()
			if !intFits(raw, bits) {
				ji.add("L20", path, line, fmt.Sprintf("declare %s bigint (or a wider type), or keep the values in range", path),
					"%s = %s does not fit %s (%d bits): HIVE_BAD_DATA: Error parsing field value … Numeric value out of range", path, clip(raw), want, bits)
			}
		case "double":
			bad("the crawler infers double and the SerDe fails with HIVE_BAD_DATA on a fraction in an integer column")
		default:
			bad("HIVE_BAD_DATA")
		}
	case "float", "double":
		if k == "bigint" {
			// The SerDe reads 5 as 5.0; only a crawler's inferred type
			// flips between bigint and double.
			if f.def.Crawled {
				bad("the crawler's inferred type flips between bigint and double")
			}
		} else if k != "double" {
			bad("HIVE_BAD_DATA")
		}
	case "boolean":
		if k != "boolean" {
			bad("HIVE_BAD_DATA or NULL")
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
				"%s = %s is %s, not a decimal number: Athena fails with HIVE_BAD_DATA or returns NULL", path, clip(raw), what)
		case k == "bigint" || k == "double":
			if d := significantDigits(string(raw)); d > 15 && (k == "double") {
				ji.add("L17", path, line, "serialise decimals from a decimal type (BigDecimal, decimal.Decimal), not from a float64",
					"%s = %s has %d significant digits: a double keeps only 15–17, so the writer probably went through a float and the digits are not exact", path, clip(raw), d)
			}
		default:
			bad("HIVE_BAD_DATA")
		}
	case "date":
		if str, ok := jsonText(raw); !ok || !isoDate.Match(str) {
			ji.add("L22", path, line, "write dates as \"YYYY-MM-DD\"", "%s = %s is not a \"YYYY-MM-DD\" string: the SerDe cannot read it as a date (HIVE_BAD_DATA or NULL)", path, clip(raw))
		}
	case "timestamp":
		str, ok := jsonText(raw)
		if !ok {
			if k == "bigint" && f.def.SerDe == SerDeOpenXJSON {
				return // OpenX reads epoch milliseconds
			}
			ji.add("L22", path, line, timestampFix, "%s = %s is not a timestamp string: HIVE_BAD_DATA or NULL", path, clip(raw))
			return
		}
		if hiveTimestampText(str) || f.def.SerDeParameters["timestamp.formats"] != "" {
			return
		}
		what := "not in the form yyyy-MM-dd HH:mm:ss[.fff]"
		if isoTimestamp.Match(str) {
			what = "ISO 8601 with T/Z, which the JSON SerDe does not parse by default"
		}
		ji.add("L22", path, line, timestampFix, "%s = %q is %s: Athena returns NULL for it (no error), so the row silently loses its time", path, str, what)
	case "string", "char", "varchar":
		if k == "struct" || k == "array" {
			bad("the SerDe returns the JSON text or fails; declare the nested type")
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

// hiveTimestampText reports whether s is what the JSON SerDes parse as a
// timestamp by default: yyyy-MM-dd HH:mm:ss with up to 9 fraction digits
// (A hive-json-serde, A openx-json-serde). Hand-written: it runs per value.
func hiveTimestampText(s []byte) bool {
	const layout = "dddd-dd-dd dd:dd:dd"
	if len(s) < len(layout) {
		return false
	}
	for i := 0; i < len(layout); i++ {
		if layout[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != layout[i] {
			return false
		}
	}
	frac := s[len(layout):]
	if len(frac) == 0 {
		return true
	}
	if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
		return false
	}
	for _, c := range frac[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
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

const timestampFix = "write timestamps as \"yyyy-MM-dd HH:mm:ss.SSS\" in UTC, or declare the format with the SerDe property timestamp.formats"

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
