package lake

import "strings"

// FormatCSV is the format of delimited text tables (LazySimpleSerDe,
// OpenCSVSerde). Only ParseTable with AcceptText returns it: Check reads
// Parquet and JSON Lines, tickflow query reads CSV too.
const FormatCSV = "csv"

// The text SerDes a definition can name (with AcceptText).
const (
	SerDeLazySimple = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
	SerDeOpenCSV    = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
)

// ParseOption configures ParseTable.
type ParseOption func(*parseConfig)

type parseConfig struct {
	text bool
}

// AcceptText makes ParseTable accept delimited text tables too: ROW FORMAT
// DELIMITED, LazySimpleSerDe, OpenCSVSerde, STORED AS TEXTFILE without a
// JSON SerDe, classification csv. Their Format is FormatCSV and the
// delimiters are in SerDeParameters under Hive's names (field.delim,
// escape.delim, collection.delim, mapkey.delim, line.delim,
// serialization.null.format; separatorChar, quoteChar, escapeChar for
// OpenCSVSerde), written as in the definition ('\t', '\001'). Default off:
// Check cannot read text objects, so verify refuses such tables.
func AcceptText() ParseOption { return func(c *parseConfig) { c.text = true } }

// LocationPath returns the path of the table's Location without the bucket,
// with a trailing slash ("" for a bucket root): where the table's objects
// are under a folder that mirrors the bucket.
func (d *TableDef) LocationPath() string { return d.locationPath() }

// resolveText decides a text format, when resolveFormat found none.
func resolveText(serde, input, stored, classification string) (format, lib string, ok bool) {
	switch {
	case serde == SerDeLazySimple || serde == SerDeOpenCSV:
		return FormatCSV, serde, true
	case serde == "" && (stored == "TEXTFILE" || strings.Contains(strings.ToLower(input), "textinputformat")):
		return FormatCSV, SerDeLazySimple, true
	case serde == "" && input == "" && stored == "" && (strings.EqualFold(classification, "csv") || strings.EqualFold(classification, "tsv")):
		return FormatCSV, SerDeLazySimple, true
	}
	return "", "", false
}

// delimited reads the clauses after ROW FORMAT DELIMITED into Hive's SerDe
// parameter names. src is the statement, to keep the backslashes of '\t'.
func (p *ddlParser) delimited(src string, params map[string]string) error {
	read := func(key string) error {
		t := p.next()
		if t.kind != tokString {
			return &posError{tok: t, msg: "expected a quoted delimiter, found " + t.describe(), fix: ddlFix}
		}
		params[key] = rawQuoted(src, t.off)
		return nil
	}
	for {
		switch t := p.peek(); {
		case t.is("fields"):
			p.next()
			if err := p.keyword("terminated", "by"); err != nil {
				return err
			}
			if err := read("field.delim"); err != nil {
				return err
			}
			if p.accept("escaped") {
				if err := p.keyword("by"); err != nil {
					return err
				}
				if err := read("escape.delim"); err != nil {
					return err
				}
			}
		case t.is("collection"):
			p.next()
			if err := p.keyword("items", "terminated", "by"); err != nil {
				return err
			}
			if err := read("collection.delim"); err != nil {
				return err
			}
		case t.is("map"):
			p.next()
			if err := p.keyword("keys", "terminated", "by"); err != nil {
				return err
			}
			if err := read("mapkey.delim"); err != nil {
				return err
			}
		case t.is("lines"):
			p.next()
			if err := p.keyword("terminated", "by"); err != nil {
				return err
			}
			if err := read("line.delim"); err != nil {
				return err
			}
		case t.is("null"):
			p.next()
			if err := p.keyword("defined", "as"); err != nil {
				return err
			}
			if err := read("serialization.null.format"); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// rawQuoted returns the text of the quoted string starting at off as
// written, backslash escapes kept ('\t' stays `\t`).
func rawQuoted(src string, off int) string {
	if off >= len(src) {
		return ""
	}
	q := src[off]
	var b strings.Builder
	for j := off + 1; j < len(src); j++ {
		c := src[j]
		if c == '\\' && j+1 < len(src) {
			b.WriteByte(c)
			b.WriteByte(src[j+1])
			j++
			continue
		}
		if c == q {
			if j+1 < len(src) && src[j+1] == q {
				b.WriteByte(q)
				j++
				continue
			}
			break
		}
		b.WriteByte(c)
	}
	return b.String()
}

// textFormatError is the error for a delimited table when AcceptText is off.
func textFormatError(t token) error {
	return &posError{tok: t, msg: "ROW FORMAT DELIMITED (CSV/text) tables are not supported: only Parquet and JSON Lines", fix: formatFix}
}
