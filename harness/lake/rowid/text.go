package rowid

import (
	"bytes"
	"fmt"
	"strings"
)

// Text is how a delimited text table (Hive's LazySimpleSerDe or
// OpenCSVSerde) reads its objects: one row per line, fields split on Delim,
// named by Columns in order (files carry no header; Skip lines are skipped
// per object, as skip.header.line.count does). lake.TableDef.Text decodes
// these from a table definition.
type Text struct {
	Columns []string // the table's columns, in order
	Delim   string   // field delimiter, e.g. "," or "\x01"
	Quote   string   // quote character (OpenCSVSerde), "" for none
	Escape  string   // escape character, "" for none
	Null    string   // the NULL marker (LazySimpleSerDe's \N), "" for none
	Skip    int      // header lines to skip in every object
}

// Validate reports a layout the verdict cannot identify records with.
func (t *Text) Validate() error {
	if t.Delim == "" {
		return fmt.Errorf("rowid: empty field delimiter")
	}
	if t.column("volume") < 0 {
		return fmt.Errorf("rowid: no volume column among %s: records are identified by the tick's volume field (its sequence number); name that column volume", strings.Join(t.Columns, ", "))
	}
	return nil
}

func (t *Text) column(name string) int {
	for i, c := range t.Columns {
		if strings.EqualFold(strings.TrimSpace(c), name) {
			return i
		}
	}
	return -1
}

// rows splits body as the table's SerDe does. Hive's text input splits on
// \n (a \r before it is dropped); an empty line is a row too (of NULLs), only
// the final newline ends the last row without starting another.
func (t *Text) rows(body []byte) ([]Row, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	vol, sym := t.column("volume"), t.column("symbol")
	body = bytes.TrimSuffix(body, []byte("\n"))
	if len(body) == 0 {
		return nil, nil
	}
	var out []Row
	for i, line := range bytes.Split(body, []byte("\n")) {
		if i < t.Skip {
			continue
		}
		f := t.split(string(bytes.TrimSuffix(line, []byte("\r"))))
		var r Row
		if vol < len(f) && f[vol] != t.Null {
			r.Seq, r.OK = seqText(strings.TrimSpace(f[vol]))
		}
		if sym >= 0 && sym < len(f) && f[sym] != t.Null {
			r.Symbol = f[sym]
		}
		out = append(out, r)
	}
	return out, nil
}

// split cuts one line into fields: Escape takes the next character
// literally, Quote (when set) turns delimiters off until the closing quote.
func (t *Text) split(line string) []string {
	var fields []string
	var b strings.Builder
	quoted := false
	for i := 0; i < len(line); {
		switch {
		case t.Escape != "" && strings.HasPrefix(line[i:], t.Escape) && i+len(t.Escape) < len(line):
			i += len(t.Escape)
			b.WriteByte(line[i])
			i++
		case t.Quote != "" && strings.HasPrefix(line[i:], t.Quote):
			quoted = !quoted
			i += len(t.Quote)
		case !quoted && strings.HasPrefix(line[i:], t.Delim):
			fields = append(fields, b.String())
			b.Reset()
			i += len(t.Delim)
		default:
			b.WriteByte(line[i])
			i++
		}
	}
	return append(fields, b.String())
}
