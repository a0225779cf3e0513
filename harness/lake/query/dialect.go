package query

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Athena (engine 3) is Trino. DuckDB speaks a close dialect, and where the
// two name the same thing differently tickflow bridges them in two layers:
// DuckDB macros (Macros) for functions whose arguments carry over as they
// are, and a token-level rewrite (Translate) for what a macro cannot do:
// Presto/MySQL format strings of date_format/date_parse and Joda patterns
// of format_datetime/parse_datetime (a literal to rewrite), database-qualified table names ("default"."clicks", mydb.clicks)
// and Athena's _col0, _col1… names for unnamed select expressions.

// Macros are the CREATE MACRO statements that give DuckDB Athena's names.
// Functions that already exist in DuckDB with Athena's name and meaning
// (date_trunc, try_cast, regexp_extract, regexp_replace, split, strpos,
// substr, length, arbitrary, count_if, max_by, min_by, …) are not touched.
var Macros = []string{
	// Athena's approx_distinct(x[, e]) is DuckDB's HyperLogLog approx_count_distinct.
	"CREATE MACRO approx_distinct(x) AS approx_count_distinct(x), (x, e) AS approx_count_distinct(x)",
	"CREATE MACRO approx_percentile(x, p) AS approx_quantile(x, p)",
	// from_iso8601_timestamp returns a timestamp with time zone; the session zone is UTC as in Athena.
	"CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)",
	"CREATE MACRO from_iso8601_date(s) AS CAST(s AS DATE)",
	"CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)",
	// DuckDB's own element_at takes only maps and returns a list; Trino's
	// takes an array (1-based, negative from the end, NULL past the end) or
	// a map and returns the element, which is DuckDB's subscript.
	"CREATE MACRO element_at(c, k) AS (c)[k]",
	// DuckDB's cardinality takes only maps; Trino's takes arrays too.
	"CREATE MACRO cardinality(x) AS json_array_length(to_json(x)) + len(json_keys(to_json(x)))",
	"CREATE MACRO from_unixtime(x) AS to_timestamp(x), (x, tz) AS timezone(tz, to_timestamp(x))",
	"CREATE MACRO to_unixtime(x) AS epoch(x)",
	// Trino's date_add(unit, n, x); DuckDB's date_add is (date, interval).
	"CREATE MACRO date_add(u, n, x) AS x + CAST(n AS BIGINT) * CAST('1 ' || u AS INTERVAL)",
	// Trino's date_diff counts whole units elapsed, which is DuckDB's date_sub
	// (DuckDB's date_diff counts unit boundaries crossed).
	"CREATE MACRO date_diff(u, a, b) AS date_sub(u, a, b)",
	"CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)",
	"CREATE MACRO day_of_week(x) AS isodow(x)",
	"CREATE MACRO dow(x) AS isodow(x)",
	"CREATE MACRO day_of_year(x) AS dayofyear(x)",
	"CREATE MACRO doy(x) AS dayofyear(x)",
	"CREATE MACRO week_of_year(x) AS weekofyear(x)",
	"CREATE MACRO year_of_week(x) AS isoyear(x)",
	"CREATE MACRO yow(x) AS isoyear(x)",
	"CREATE MACRO last_day_of_month(x) AS last_day(x)",
	"CREATE MACRO array_join(a, s) AS array_to_string(a, s)",
	"CREATE MACRO regexp_split(s, p) AS regexp_split_to_array(s, p)",
	"CREATE MACRO levenshtein_distance(a, b) AS levenshtein(a, b)",
	"CREATE MACRO hamming_distance(a, b) AS hamming(a, b)",
	"CREATE MACRO codepoint(s) AS unicode(s)",
	"CREATE MACRO is_nan(x) AS isnan(x)",
	"CREATE MACRO nan() AS CAST('NaN' AS DOUBLE)",
	"CREATE MACRO infinity() AS CAST('Infinity' AS DOUBLE)",
	"CREATE MACRO rand() AS random()",
	"CREATE MACRO truncate(x) AS trunc(x)",
	"CREATE MACRO every(x) AS bool_and(x)",
	"CREATE MACRO to_utf8(s) AS encode(s)",
	"CREATE MACRO from_utf8(b) AS decode(b)",
}

// insteadOf says what to use for Athena functions tickflow cannot offer
// offline (DuckDB has no equivalent it could translate to). Trino's
// url_extract_* parse with java.net.URI, whose path, query and fragment
// come back percent-decoded ('+' kept), as DuckDB's url_decode does.
var insteadOf = map[string]string{
	"to_iso8601":             "date_format(x, '%Y-%m-%dT%H:%i:%s')",
	"json_parse":             "CAST(s AS JSON)",
	"json_format":            "CAST(j AS VARCHAR)",
	"json_array_get":         "json_extract(j, '$[i]')",
	"json_size":              "json_array_length(j, path)",
	"map_agg":                "map(list(k), list(v))",
	"url_extract_host":       "regexp_extract(url, '://([^/:]+)', 1)",
	"url_extract_protocol":   "regexp_extract(url, '^([a-zA-Z][a-zA-Z0-9+.-]*):', 1)",
	"url_extract_port":       "TRY_CAST(regexp_extract(url, '://[^/?#:]+:([0-9]+)', 1) AS BIGINT)",
	"url_extract_path":       "url_decode(regexp_extract(url, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*([^?#]*)', 1))",
	"url_extract_query":      "url_decode(regexp_extract(url, '\\?([^#]*)', 1))",
	"url_extract_fragment":   "url_decode(regexp_extract(url, '#(.*)', 1))",
	"url_extract_parameter":  "url_decode(regexp_extract(url, '[?&]NAME=([^&#]*)', 1))",
	"at_timezone":            "timezone(zone, ts)",
	"with_timezone":          "timezone(zone, ts)",
	"human_readable_seconds": "to_seconds(n) (an interval)",
	"approx_set":             "approx_distinct(x)",
	"from_unixtime_nanos":    "make_timestamp_ns(n)",
}

// ErrUnknownFunction is wrapped by the error for a function neither DuckDB
// nor tickflow's translation knows.
var ErrUnknownFunction = errors.New("query: function not available offline")

var didYouMean = regexp.MustCompile(`Did you mean "([^"]+)"`)

var unknownFunction = regexp.MustCompile(`(?:Scalar|Aggregate|Table) Function with name "?([A-Za-z_][A-Za-z0-9_]*)"? does not exist`)

// functionError turns DuckDB's "Function with name f does not exist" into
// an error that names f, says it is neither DuckDB's nor translated, and
// what to use instead; other errors come back unchanged.
func functionError(err error) error {
	m := unknownFunction.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	name := strings.ToLower(m[1])
	if use, ok := insteadOf[name]; ok {
		return fmt.Errorf("%w: %s is an Athena (Trino) function that DuckDB lacks and tickflow does not translate; use %s", ErrUnknownFunction, name, use)
	}
	use := "an equivalent DuckDB function (https://duckdb.org/docs/sql/functions/overview); docs/query.md lists what tickflow translates"
	if dm := didYouMean.FindStringSubmatch(err.Error()); dm != nil {
		// DuckDB's guess is spelled alike, often a different function
		// (url_extract_path → json_extract_path): a name to check, not advice.
		use += fmt.Sprintf(" (DuckDB's closest name, %q, is only spelled alike: check what it does first)", dm[1])
	}
	return fmt.Errorf("%w: %s is neither a DuckDB function nor an Athena (Trino) function tickflow translates; use %s", ErrUnknownFunction, name, use)
}

// TableName is a table Translate may see qualified by a database: the
// qualifier is dropped when it is Database, "default" or (with an empty
// Database) any database, optionally after the catalog awsdatacatalog.
type TableName struct {
	Name, Database string
}

// Translate rewrites Athena-dialect SQL into DuckDB's: date_format and
// date_parse with their format literals translated to strftime/strptime,
// database qualifiers dropped from the given tables, and Athena's names for
// unnamed select expressions (_col0 for the first item, _col1…). It keeps
// everything else, comments and spacing included.
func Translate(sql string, tables ...TableName) (string, error) {
	toks := lexSQL(sql)
	if err := translateFormats(toks); err != nil {
		return "", err
	}
	arrayTypes(toks)
	toks = unqualify(toks, tables)
	nameUnnamed(toks)
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(t.text)
	}
	return b.String(), nil
}

// unnamedPrefix marks an unnamed item in a select list that also holds a
// star: its position is only known in the result (see athenaNames).
const unnamedPrefix = "_tf_unnamed_"

// athenaNames renames the columns Translate marked: _colN, N the column's
// position in the result.
func athenaNames(cols []string) {
	for i, c := range cols {
		if strings.HasPrefix(c, unnamedPrefix) {
			cols[i] = "_col" + strconv.Itoa(i)
		}
	}
}

type sqlTokKind int

const (
	sqlSpace  sqlTokKind = iota // whitespace and comments
	sqlWord                     // identifier or keyword
	sqlQuoted                   // "identifier"
	sqlText                     // 'text'
	sqlNumber
	sqlPunct
)

type sqlTok struct {
	kind sqlTokKind
	text string
}

func (t sqlTok) is(word string) bool { return t.kind == sqlWord && strings.EqualFold(t.text, word) }

// name is the identifier a word or "quoted" token names.
func (t sqlTok) name() string {
	if t.kind == sqlQuoted {
		return unquote(t.text, '"')
	}
	return t.text
}

// unquote returns the text of a quoted token (unterminated ones too).
func unquote(s string, q byte) string {
	s = strings.TrimPrefix(s, string(q))
	if len(s) > 0 && s[len(s)-1] == q {
		s = s[:len(s)-1]
	}
	return strings.ReplaceAll(s, string([]byte{q, q}), string(q))
}

// lexSQL splits SQL into tokens whose texts concatenate to the input.
func lexSQL(s string) []sqlTok {
	var toks []sqlTok
	for i := 0; i < len(s); {
		c := s[i]
		j := i + 1
		kind := sqlPunct
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			kind = sqlSpace
			for j < len(s) && strings.IndexByte(" \t\n\r\f", s[j]) >= 0 {
				j++
			}
		case c == '-' && j < len(s) && s[j] == '-':
			kind = sqlSpace
			for j < len(s) && s[j] != '\n' {
				j++
			}
		case c == '/' && j < len(s) && s[j] == '*':
			kind = sqlSpace
			if e := strings.Index(s[j+1:], "*/"); e >= 0 {
				j = j + 1 + e + 2
			} else {
				j = len(s)
			}
		case c == '\'' || c == '"':
			kind = sqlText
			if c == '"' {
				kind = sqlQuoted
			}
			for j < len(s) {
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						j += 2
						continue
					}
					j++
					break
				}
				j++
			}
		case c >= '0' && c <= '9' || c == '.' && j < len(s) && s[j] >= '0' && s[j] <= '9':
			kind = sqlNumber
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E') {
				j++
			}
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			kind = sqlWord
			for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] >= 0x80) {
				j++
			}
		case strings.IndexByte("|<>!=:", c) >= 0:
			for j < len(s) && strings.IndexByte("|<>=:", s[j]) >= 0 {
				j++
			}
		}
		toks = append(toks, sqlTok{kind, s[i:j]})
		i = j
	}
	return toks
}

// next returns the index of the first non-space token from i (len if none).
func next(toks []sqlTok, i int) int {
	for i < len(toks) && toks[i].kind == sqlSpace {
		i++
	}
	return i
}

// prev returns the index of the last non-space token before i (-1 if none).
func prev(toks []sqlTok, i int) int {
	i--
	for i >= 0 && toks[i].kind == sqlSpace {
		i--
	}
	return i
}

// callArgs returns, for a call whose "(" is at open, the token ranges
// [start, end) of its arguments and the index of its ")".
func callArgs(toks []sqlTok, open int) (args [][2]int, closing int) {
	depth := 0
	start := open + 1
	for i := open; i < len(toks); i++ {
		switch t := toks[i]; {
		case t.kind == sqlPunct && (t.text == "(" || t.text == "["):
			depth++
		case t.kind == sqlPunct && (t.text == ")" || t.text == "]"):
			depth--
			if depth == 0 {
				return append(args, [2]int{start, i}), i
			}
		case t.kind == sqlPunct && t.text == "," && depth == 1:
			args = append(args, [2]int{start, i})
			start = i + 1
		}
	}
	return append(args, [2]int{start, len(toks)}), len(toks)
}

// translateFormats rewrites date_format(x, 'fmt') → strftime(x, 'fmt′) and
// date_parse(s, 'fmt') → strptime(s, 'fmt′), the format translated from
// Presto's MySQL-style specifiers to strftime's.
func translateFormats(toks []sqlTok) error {
	for i, t := range toks {
		var to string
		conv := MySQLFormat
		switch {
		case t.is("date_format"):
			to = "strftime"
		case t.is("date_parse"):
			to = "strptime"
		case t.is("format_datetime"):
			to, conv = "strftime", JodaFormat
		case t.is("parse_datetime"):
			to, conv = "strptime", JodaFormat
		default:
			continue
		}
		open := next(toks, i+1)
		if open >= len(toks) || toks[open].text != "(" {
			continue
		}
		if p := prev(toks, i); p >= 0 && toks[p].text == "." {
			continue
		}
		args, _ := callArgs(toks, open)
		if len(args) != 2 {
			return fmt.Errorf("query: %s takes 2 arguments (value, format), found %d", strings.ToLower(t.text), len(args))
		}
		f := next(toks, args[1][0])
		if f >= args[1][1] || toks[f].kind != sqlText || next(toks, f+1) != args[1][1] {
			return fmt.Errorf("query: %s: offline the format must be a string literal such as '%%Y-%%m-%%d %%H:%%i:%%s' (tickflow translates it to DuckDB's %s)", strings.ToLower(t.text), to)
		}
		lit := toks[f].text
		fmtStr := unquote(lit, '\'')
		out, err := conv(fmtStr)
		if err != nil {
			return fmt.Errorf("query: %s: %w", strings.ToLower(t.text), err)
		}
		toks[i].text = to
		toks[f].text = "'" + strings.ReplaceAll(out, "'", "''") + "'"
	}
	return nil
}

// mysqlSpecifiers maps Presto's date_format/date_parse specifiers (MySQL's)
// to strftime's; "" marks the ones Presto does not support either.
var mysqlSpecifiers = map[byte]string{
	'a': "%a", 'b': "%b", 'c': "%-m", 'd': "%d", 'e': "%-d", 'f': "%f", 'H': "%H", 'h': "%I", 'I': "%I",
	'i': "%M", 'j': "%j", 'k': "%-H", 'l': "%-I", 'M': "%B", 'm': "%m", 'p': "%p", 'r': "%I:%M:%S %p",
	'S': "%S", 's': "%S", 'T': "%H:%M:%S", 'v': "%V", 'W': "%A", 'x': "%G", 'Y': "%Y", 'y': "%y", '%': "%%",
	'D': "", 'U': "", 'u': "", 'V': "", 'w': "", 'X': "",
}

// MySQLFormat translates a Presto/MySQL date format ("%Y-%m-%d %H:%i:%s")
// into strftime's ("%Y-%m-%d %H:%M:%S"). Specifiers Presto does not support
// (%D %U %u %V %w %X) are errors, as in Athena.
func MySQLFormat(f string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(f) {
			return "", fmt.Errorf("format %q ends with a lone %%", f)
		}
		i++
		s, ok := mysqlSpecifiers[f[i]]
		switch {
		case ok && s == "":
			return "", fmt.Errorf("format %q: %%%c is not supported by Athena's date_format/date_parse either", f, f[i])
		case !ok:
			b.WriteByte(f[i]) // MySQL: %x for an unknown x is x
		default:
			b.WriteString(s)
		}
	}
	return b.String(), nil
}

// arrayTypes rewrites Trino's type array(T) (in CAST, TRY_CAST) to DuckDB's
// T[]: Trino has no function called array, so every array( is a type.
func arrayTypes(toks []sqlTok) {
	for i := len(toks) - 1; i >= 0; i-- { // innermost first
		if !toks[i].is("array") {
			continue
		}
		open := next(toks, i+1)
		if open >= len(toks) || toks[open].text != "(" {
			continue
		}
		_, closing := callArgs(toks, open)
		if closing >= len(toks) {
			continue
		}
		toks[i].text, toks[open].text, toks[closing].text = "", "", "[]"
	}
}

// jodaFields maps Joda-Time pattern letters, by run length, to strftime's
// (format_datetime, parse_datetime); a run longer than listed takes the
// longest form.
var jodaFields = map[byte][]string{
	'y': {"%Y", "%y", "%Y", "%Y"}, 'Y': {"%Y", "%y", "%Y", "%Y"}, 'x': {"%G", "%G", "%G", "%G"},
	'M': {"%-m", "%m", "%b", "%B"}, 'd': {"%-d", "%d"}, 'D': {"%-j", "%-j", "%j"},
	'H': {"%-H", "%H"}, 'h': {"%-I", "%I"}, 'm': {"%-M", "%M"}, 's': {"%-S", "%S"},
	'S': {"%g", "%g", "%g", "%f", "%f", "%f"}, 'a': {"%p"}, 'E': {"%a", "%a", "%a", "%A"},
	'Z': {"%z"}, 'z': {"%Z"}, 'w': {"%V", "%V"},
}

// JodaFormat translates a Joda-Time pattern (format_datetime,
// parse_datetime: "yyyy-MM-dd HH:mm:ss") into strftime's; quoted text
// ('T') is literal. A letter it cannot translate is an error.
func JodaFormat(f string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(f); {
		c := f[i]
		switch {
		case c == '\'':
			j := i + 1
			if j < len(f) && f[j] == '\'' { // '' is a quote
				b.WriteByte('\'')
				i += 2
				continue
			}
			for j < len(f) && (f[j] != '\'' || j+1 < len(f) && f[j+1] == '\'') {
				if f[j] == '\'' { // '' inside quoted text
					j++
				}
				if f[j] == '%' {
					b.WriteByte('%')
				}
				b.WriteByte(f[j])
				j++
			}
			i = j + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(f) && f[j] == c {
				j++
			}
			forms, ok := jodaFields[c]
			if !ok {
				return "", fmt.Errorf("pattern %q: letter %c is not translated offline (use date_format with MySQL-style specifiers)", f, c)
			}
			b.WriteString(forms[min(j-i, len(forms))-1])
			i = j
		case c == '%':
			b.WriteString("%%")
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// unqualify drops a database (and awsdatacatalog) qualifier before the
// names of the given tables: DuckDB has no such database, and "default" is
// a reserved word in DuckDB.
func unqualify(toks []sqlTok, tables []TableName) []sqlTok {
	out := make([]sqlTok, 0, len(toks))
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind != sqlWord && t.kind != sqlQuoted {
			out = append(out, t)
			continue
		}
		if p := prev(toks, i); p >= 0 && toks[p].text == "." {
			out = append(out, t)
			continue
		}
		// [catalog .] db . table, with no dot after and no call.
		parts := []int{i}
		j := i
		for len(parts) < 3 {
			d := next(toks, j+1)
			if d >= len(toks) || toks[d].text != "." {
				break
			}
			n := next(toks, d+1)
			if n >= len(toks) || toks[n].kind != sqlWord && toks[n].kind != sqlQuoted {
				break
			}
			parts = append(parts, n)
			j = n
		}
		if len(parts) < 2 || strings.EqualFold(toks[parts[0]].name(), "awsdatacatalog") != (len(parts) == 3) {
			out = append(out, t)
			continue
		}
		if after := next(toks, j+1); after < len(toks) && (toks[after].text == "." || toks[after].text == "(") {
			out = append(out, t)
			continue
		}
		db, table := toks[parts[len(parts)-2]].name(), toks[j].name()
		dropped := false
		for _, tn := range tables {
			if strings.EqualFold(table, tn.Name) && (tn.Database == "" || strings.EqualFold(db, tn.Database) || strings.EqualFold(db, "default")) {
				out = append(out, toks[j])
				i = j
				dropped = true
				break
			}
		}
		if !dropped {
			out = append(out, t)
		}
	}
	return out
}

// selectEnd are the keywords that end a select list at its own depth.
var selectEnd = map[string]bool{
	"from": true, "where": true, "group": true, "having": true, "order": true, "limit": true, "union": true,
	"except": true, "intersect": true, "window": true, "qualify": true, "offset": true, "fetch": true, "into": true,
}

// notAlias are words that end an expression without being an alias.
var notAlias = map[string]bool{
	"end": true, "null": true, "true": true, "false": true, "asc": true, "desc": true, "over": true,
	"and": true, "or": true, "not": true, "is": true, "in": true, "like": true, "between": true, "then": true,
	"else": true, "when": true, "case": true, "distinct": true, "all": true, "select": true, "as": true,
}

// units end an INTERVAL literal (INTERVAL '1' DAY): after a literal they are
// not an alias.
var units = map[string]bool{
	"year": true, "quarter": true, "month": true, "week": true, "day": true, "hour": true, "minute": true,
	"second": true, "millisecond": true,
}

// niladic are functions called without parentheses: Athena does not name
// them after themselves.
var niladic = map[string]bool{
	"current_date": true, "current_time": true, "current_timestamp": true, "localtime": true,
	"localtimestamp": true, "current_user": true, "current_timezone": true,
}

// nameUnnamed gives every unnamed item of every select list Athena's name:
// _colN for the Nth item (from 0), or, in a list with a star whose width is
// unknown here, a marker athenaNames turns into _colN by result position.
func nameUnnamed(toks []sqlTok) {
	for i, t := range toks {
		if !t.is("select") {
			continue
		}
		start := next(toks, i+1)
		for start < len(toks) && (toks[start].is("distinct") || toks[start].is("all")) {
			start = next(toks, start+1)
		}
		items := selectItems(toks, start)
		star := false
		for _, it := range items {
			if k, _ := itemKind(toks, it); k == itemStar {
				star = true
			}
		}
		for n, it := range items {
			k, last := itemKind(toks, it)
			if k == itemField {
				toks[last].text += " AS " + quoteIdent(toks[last].name())
			}
			if k == itemUnnamed {
				name := fmt.Sprintf(`"_col%d"`, n)
				if star {
					name = fmt.Sprintf(`"%s%d"`, unnamedPrefix, n)
				}
				toks[last].text += " AS " + name
			}
		}
	}
}

// selectItems returns the token ranges of a select list's items.
func selectItems(toks []sqlTok, start int) [][2]int {
	var items [][2]int
	depth := 0
	from := start
	for i := start; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == sqlPunct && (t.text == "(" || t.text == "["):
			depth++
		case t.kind == sqlPunct && (t.text == ")" || t.text == "]"):
			if depth == 0 {
				return append(items, [2]int{from, i})
			}
			depth--
		case depth == 0 && t.kind == sqlPunct && t.text == ",":
			items = append(items, [2]int{from, i})
			from = i + 1
		case depth == 0 && (t.kind == sqlPunct && t.text == ";" || t.kind == sqlWord && selectEnd[strings.ToLower(t.text)]):
			return append(items, [2]int{from, i})
		}
	}
	return append(items, [2]int{from, len(toks)})
}

type itemKindT int

const (
	itemNamed itemKindT = iota
	itemUnnamed
	itemStar
	itemField // expr.field: Athena names it after the field
)

// itemKind classifies a select item and returns its last token's index.
func itemKind(toks []sqlTok, r [2]int) (itemKindT, int) {
	var idx []int
	for i := r[0]; i < r[1]; i++ {
		if toks[i].kind != sqlSpace {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return itemNamed, r[0]
	}
	last := idx[len(idx)-1]
	lt := toks[last]
	if lt.text == "*" && (len(idx) == 1 || toks[idx[len(idx)-2]].text == ".") {
		return itemStar, last
	}
	// A column reference: name or a.b.name.
	ref := !(len(idx) == 1 && lt.kind == sqlWord && niladic[strings.ToLower(lt.text)])
	for k, i := range idx {
		t := toks[i]
		if k%2 == 0 && t.kind != sqlWord && t.kind != sqlQuoted || k%2 == 1 && t.text != "." || t.kind == sqlWord && notAlias[strings.ToLower(t.text)] {
			ref = false
			break
		}
	}
	if ref && len(idx)%2 == 1 {
		return itemNamed, last
	}
	if len(idx) >= 2 && (lt.kind == sqlQuoted || lt.kind == sqlWord && !notAlias[strings.ToLower(lt.text)]) {
		p := toks[idx[len(idx)-2]]
		switch {
		case p.is("as"):
			return itemNamed, last
		case p.text == "." && len(idx) >= 3 && toks[idx[len(idx)-3]].text == ")":
			return itemField, last
		case p.kind == sqlWord && notAlias[strings.ToLower(p.text)]:
		case (p.kind == sqlText || p.kind == sqlNumber) && lt.kind == sqlWord && units[strings.ToLower(lt.text)]:
		case p.kind == sqlPunct && p.text != ")" && p.text != "]":
		default:
			return itemNamed, last // an alias without AS
		}
	}
	return itemUnnamed, last
}
