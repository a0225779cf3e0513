package lake

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tickflow/tickflow/harness/tick"
)

// SampleBytes is how much of each JSON file a Glue crawler reads to infer
// its schema (the first megabyte).
const SampleBytes = 1 << 20

// EventTimeLayout is event_time's text form in JSON Lines (UTC, milliseconds),
// which the OpenX JSON SerDe reads as an Athena timestamp.
const EventTimeLayout = "2006-01-02 15:04:05.000"

// maxJSONBytes bounds a decompressed .json.gz object (a gzip bomb guard).
const maxJSONBytes = 4 << 30

func (f *file) analyseJSON(body []byte) {
	if f.compression == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			f.unreadable = fmt.Sprintf("it is named .json.gz but is not gzip (%v)", err)
			return
		}
		body, err = io.ReadAll(io.LimitReader(zr, maxJSONBytes))
		if err != nil {
			f.unreadable = fmt.Sprintf("its gzip stream is corrupt or truncated (%v)", err)
			return
		}
	}
	if bytes.HasPrefix(body, utf8BOM) {
		// Reported once here; the rest of the file is checked as if it
		// were not there, so the BOM is not also a "line 1 is not JSON".
		f.problem(violation("L06", f.key, "", "the file starts with a UTF-8 byte order mark (EF BB BF): DuckDB rejects it and Athena's JSON SerDe is not documented to skip it"))
		body = body[len(utf8BOM):]
	}
	sample := body
	if len(sample) > SampleBytes {
		sample = sample[:SampleBytes]
	}
	f.schema, f.jsonArray = inferJSONSchema(sample)
	first := bytes.IndexByte(body, '\n')
	if first < 0 {
		first = len(body)
	}
	if !f.jsonArray && first > SampleBytes && f.def.Crawled {
		f.problem(violation("C01", f.key, "", "the crawler infers a JSON file's columns from its first 1 MB, but this file's first line is %d bytes long, so the sample holds no complete object and the crawler cannot infer any column from it", first))
	}
	f.checkJSONLines(body)
}

var utf8BOM = []byte("\xef\xbb\xbf")

// jsonKind classifies one raw JSON value the way Glue's JSON classifier
// types it. Integers are predicted bigint (see ExpectedColumns).
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "" // null tells nothing
	case '{':
		return "struct"
	case '[':
		return "array"
	}
	if bytes.ContainsAny(raw, ".eE") {
		return "double"
	}
	return "bigint"
}

// mergeKind widens a column type the way the crawler does when sampled values
// disagree: bigint+double → double, anything else incompatible → string.
func mergeKind(a, b string) string {
	switch {
	case a == "" || a == b:
		return b
	case b == "":
		return a
	case (a == "bigint" && b == "double") || (a == "double" && b == "bigint"):
		return "double"
	}
	return "string"
}

type jsonField struct {
	name string
	raw  json.RawMessage
}

// decodeObject reads one JSON object from dec, keeping key order and each
// value's literal text.
func decodeObject(dec *json.Decoder) ([]jsonField, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("value is %v, not a JSON object", describeToken(tok))
	}
	var fields []jsonField
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, ok := kt.(string)
		if !ok {
			return nil, fmt.Errorf("object key is %v", describeToken(kt))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		fields = append(fields, jsonField{k, raw})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	return fields, nil
}

func describeToken(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return string(v)
	case string:
		return "a string"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", t)
}

// inferJSONSchema predicts the crawler's columns from the first megabyte of a
// JSON file. A multi-line (pretty-printed) object still parses here: the
// crawler reads it, Athena does not (that is L06's business).
func inferJSONSchema(sample []byte) (cols []tick.Column, array bool) {
	trimmed := bytes.TrimLeft(sample, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		// The built-in classifier makes one column named "array" (G custom-classifier).
		return []tick.Column{{Name: "array", Type: "array"}}, true
	}
	dec := json.NewDecoder(bytes.NewReader(sample))
	index := map[string]int{}
	for {
		fields, err := decodeObject(dec)
		if err != nil {
			break // end of sample, a cut object at the 1 MB boundary, or garbage
		}
		for _, fl := range fields {
			k := jsonKind(fl.raw)
			if i, ok := index[fl.name]; ok {
				cols[i].Type = mergeKind(cols[i].Type, k)
				continue
			}
			index[fl.name] = len(cols)
			cols = append(cols, tick.Column{Name: fl.name, Type: k})
		}
	}
	for i := range cols {
		if cols[i].Type == "" {
			cols[i].Type = "string" // only nulls sampled
		}
	}
	return cols, false
}

// lineIssue counts one kind of bad line and remembers the first.
type lineIssue struct {
	count int
	first int
	what  string
}

func (li *lineIssue) add(line int, what string) {
	if li.count == 0 {
		li.first, li.what = line, what
	}
	li.count++
}

// checkJSONLines reads every line (L06, L07) and collects the rows' Kafka
// coordinates and event times.
func (f *file) checkJSONLines(body []byte) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		f.problem(violation("L06", f.key, "", "the file is a top-level JSON array; a crawler makes it one column named \"array\" and Athena cannot read it"))
		return
	}
	lines := bytes.Split(body, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // the final newline ends the last line
	}
	var badUTF8, blank, notObject, scalarLine lineIssue
	var ji jsonIssues
	f.jsonKinds = map[string]map[string]int{}
	for i, line := range lines {
		n := i + 1
		if !utf8.Valid(line) {
			badUTF8.add(n, "")
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			blank.add(n, "")
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		fields, err := decodeObject(dec)
		if err == nil {
			if _, err2 := dec.Token(); !errors.Is(err2, io.EOF) {
				err = errors.New("more data after the object")
			}
		}
		if err != nil {
			if t := bytes.TrimSpace(line); f.def.json.openx && t[0] != '{' && t[0] != '[' {
				// OpenXJsonDeserializer reads only object and array lines;
				// any other line is a row of NULLs, without an error.
				scalarLine.add(n, err.Error())
				continue
			}
			notObject.add(n, err.Error())
			continue
		}
		f.rows++
		var r record
		var hasP, hasO bool
		f.checkJSONKeys(fields, n, &ji)
		for _, fl := range fields {
			k := jsonKind(fl.raw)
			if col, ok := f.def.column(fl.name); ok {
				f.checkJSONValue(col.Name, col.htype(), fl.raw, n, &ji, 0)
			} else if k != "" {
				m := f.jsonKinds[fl.name]
				if m == nil {
					m = map[string]int{}
					f.jsonKinds[fl.name] = m
				}
				m[k]++
			}
			switch fl.name {
			case "kafka_partition":
				if v, ok := jsonInt(fl.raw); ok {
					r.partition, hasP = int32(v), true
				}
			case "kafka_offset":
				if v, ok := jsonInt(fl.raw); ok {
					r.offset, hasO = v, true
				}
			case "event_time":
				f.hasEvent = true
				var s string
				if json.Unmarshal(fl.raw, &s) == nil {
					if t, err := time.Parse(EventTimeLayout, s); err == nil {
						r.event, r.eventOK = t.UnixMilli(), true
					}
				}
				if !r.eventOK {
					r.eventRaw = string(fl.raw)
				}
			}
		}
		if hasP && hasO {
			f.hasOffsets = true
			f.recs = append(f.recs, r)
		}
	}
	if badUTF8.count > 0 {
		f.problem(violation("L06", f.key, "", "%s not valid UTF-8, first at line %d", plural(badUTF8.count, "line", ""), badUTF8.first))
	}
	if blank.count > 0 {
		f.problem(violation("L06", f.key, "", "%s, first at line %d", plural(blank.count, "blank line", ""), blank.first))
	}
	if notObject.count > 0 {
		athena := "Athena fails with HIVE_CURSOR_ERROR"
		switch r := f.def.json; {
		case r.openx && r.ignoreMalformed:
			athena = "the query does not fail (ignore.malformed.json=true), but each such line becomes a row whose columns are all NULL, not a skipped line"
		case !r.openx && r.ignoreMalformed:
			athena = "Athena fails with HIVE_CURSOR_ERROR: ignore.malformed.json is an OpenX SerDe property, the Hive JSON SerDe ignores it"
		}
		f.problem(violation("L06", f.key, "",
			"%s not one complete JSON object (pretty-printed or multi-line JSON?), first at line %d: %s; %s",
			plural(notObject.count, "line", ""), notObject.first, notObject.what, athena))
	}
	if scalarLine.count > 0 {
		f.problem(violation("L06", f.key, "",
			"%s not a JSON object, first at line %d: %s; the OpenX SerDe reads such a line as a row whose columns are all NULL, without an error",
			plural(scalarLine.count, "line", ""), scalarLine.first, scalarLine.what))
	}
	if f.rows == 0 && badUTF8.count+blank.count+notObject.count+scalarLine.count == 0 {
		f.problem(violation("L06", f.key, "", "the file holds no JSON rows"))
	}
	ji.report(f)
}

// jsonInt reads an integer literal (also "3.0", so coverage still works on
// files that break L07).
func jsonInt(raw []byte) (int64, bool) {
	s := string(bytes.TrimSpace(raw))
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, true
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil && v == float64(int64(v)) {
		return int64(v), true
	}
	return 0, false
}
