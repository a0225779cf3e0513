package lake

import (
	"fmt"
	"strconv"
	"strings"
)

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

// TextFormat is how a delimited text table's SerDe splits its files, with
// the delimiters decoded from the definition ('\t' → a tab, '\001' → 0x01).
type TextFormat struct {
	// OpenCSV: OpenCSVSerde (quoting on); otherwise LazySimpleSerDe, which
	// splits on Delim with no quoting.
	OpenCSV bool
	Delim   string // field delimiter: LazySimpleSerDe's default \001, OpenCSVSerde's ,
	Quote   string // OpenCSVSerde's quoteChar (default "); "" for LazySimpleSerDe
	Escape  string // escape.delim / escapeChar; "" for none
	Null    string // LazySimpleSerDe's serialization.null.format (default \N)
	// SkipHeader is the table's skip.header.line.count.
	SkipHeader int
}

// Text returns how the table's text SerDe reads its files (a definition
// parsed with AcceptText whose Format is FormatCSV). The error names the
// table and the parameter that cannot be read.
func (d *TableDef) Text() (TextFormat, error) {
	var f TextFormat
	if d.Format != FormatCSV {
		return f, fmt.Errorf("lake: table %s is not delimited text (format %q)", d.Name, d.Format)
	}
	get := func(def string, keys ...string) (string, error) {
		for _, k := range keys {
			if v, ok := d.SerDeParameters[k]; ok {
				u, err := unescapeDelim(v)
				if err != nil {
					return "", fmt.Errorf("lake: table %s: SerDe parameter %s: %w", d.Name, k, err)
				}
				return u, nil
			}
		}
		return def, nil
	}
	var err error
	if d.SerDe == SerDeOpenCSV {
		f.OpenCSV = true
		if f.Delim, err = get(",", "separatorChar"); err != nil {
			return f, err
		}
		if f.Quote, err = get(`"`, "quoteChar"); err != nil {
			return f, err
		}
		if f.Escape, err = get(`\`, "escapeChar"); err != nil {
			return f, err
		}
	} else {
		if f.Delim, err = get("\x01", "field.delim", "serialization.format"); err != nil {
			return f, err
		}
		if f.Escape, err = get("", "escape.delim"); err != nil {
			return f, err
		}
		if f.Null, err = get(`\N`, "serialization.null.format"); err != nil {
			return f, err
		}
	}
	if f.Delim == "" {
		return f, fmt.Errorf("lake: table %s: empty field delimiter: set field.delim (or separatorChar for OpenCSVSerde)", d.Name)
	}
	if v := d.Parameters["skip.header.line.count"]; v != "" {
		if f.SkipHeader, err = strconv.Atoi(v); err != nil || f.SkipHeader < 0 {
			return f, fmt.Errorf("lake: table %s: skip.header.line.count %q is not a count", d.Name, v)
		}
	}
	return f, nil
}

// unescapeDelim reads a delimiter as written in a definition: '\t', '\001'
// (octal), '\u0001', a character, or Hive's decimal byte ("1" for \001).
func unescapeDelim(s string) (string, error) {
	if len(s) > 1 && strings.Trim(s, "0123456789") == "" {
		if n, err := strconv.Atoi(s); err == nil && n < 128 {
			return string(rune(n)), nil
		}
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; {
		case e == 't':
			b.WriteByte('\t')
		case e == 'n':
			b.WriteByte('\n')
		case e == 'r':
			b.WriteByte('\r')
		case e == 'u' && i+4 < len(s):
			n, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil {
				return "", fmt.Errorf("delimiter %q: %w", s, err)
			}
			b.WriteRune(rune(n))
			i += 4
		case e >= '0' && e <= '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			n, _ := strconv.ParseUint(s[i:j], 8, 8)
			b.WriteByte(byte(n))
			i = j - 1
		default:
			b.WriteByte(e)
		}
	}
	return b.String(), nil
}
