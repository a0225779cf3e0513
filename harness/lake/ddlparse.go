package lake

import (
	"fmt"
	"strings"
)

// ddlParser reads one Athena CREATE EXTERNAL TABLE statement.
type ddlParser struct {
	typeParser
	text bool // AcceptText
}

const ddlFix = "write CREATE EXTERNAL TABLE name (col type, ...) [PARTITIONED BY (key type, ...)] [ROW FORMAT SERDE '...'] [STORED AS PARQUET] LOCATION 's3://bucket/path/' [TBLPROPERTIES ('k'='v', ...)]"

func (p *ddlParser) keyword(words ...string) error {
	for _, w := range words {
		t := p.next()
		if !t.is(w) {
			return &posError{tok: t, msg: fmt.Sprintf("expected %s, found %s", strings.ToUpper(w), t.describe()), fix: ddlFix}
		}
	}
	return nil
}

func (p *ddlParser) accept(word string) bool {
	if p.peek().is(word) {
		p.next()
		return true
	}
	return false
}

func (p *ddlParser) str(what string) (string, token, error) {
	t := p.next()
	if t.kind != tokString {
		return "", t, &posError{tok: t, msg: fmt.Sprintf("expected %s as a quoted string, found %s", what, t.describe()), fix: ddlFix}
	}
	return t.text, t, nil
}

func (p *ddlParser) ident(what string) (token, error) {
	t := p.next()
	if t.kind != tokIdent && t.kind != tokQuotedIdent {
		return t, &posError{tok: t, msg: fmt.Sprintf("expected %s, found %s", what, t.describe()), fix: ddlFix}
	}
	return t, nil
}

// columns reads "( name type [COMMENT '…'], … )".
func (p *ddlParser) columns(kind string, pos map[string]token) ([]Column, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	var cols []Column
	for {
		nt, err := p.ident("a " + kind + " name")
		if err != nil {
			return nil, err
		}
		ht, err := p.parse(0)
		if err != nil {
			return nil, err
		}
		if p.accept("comment") {
			if _, _, err := p.str("the comment"); err != nil {
				return nil, err
			}
		}
		pos[kind+":"+nt.text] = nt
		pos[kind+"#"+fmt.Sprint(len(cols))] = nt
		cols = append(cols, Column{Name: nt.text, Type: ht.String(), typ: ht})
		t := p.next()
		if t.kind == tokPunct && t.text == ")" {
			return cols, nil
		}
		if t.kind != tokPunct || t.text != "," {
			return nil, &posError{tok: t, msg: fmt.Sprintf("expected \",\" or \")\" after %s %s, found %s", kind, nt.text, t.describe()), fix: ddlFix}
		}
	}
}

// properties reads "( 'k'='v', … )".
func (p *ddlParser) properties(m map[string]string, pos map[string]token, posPrefix string) error {
	if err := p.expect("("); err != nil {
		return err
	}
	if t := p.peek(); t.kind == tokPunct && t.text == ")" {
		p.next()
		return nil
	}
	for {
		k, kt, err := p.str("a property name")
		if err != nil {
			return err
		}
		if err := p.expect("="); err != nil {
			return err
		}
		v, _, err := p.str("the value of " + k)
		if err != nil {
			return err
		}
		m[k] = v
		pos[posPrefix+k] = kt
		t := p.next()
		if t.kind == tokPunct && t.text == ")" {
			return nil
		}
		if t.kind != tokPunct || t.text != "," {
			return &posError{tok: t, msg: fmt.Sprintf("expected \",\" or \")\" after property %s, found %s", k, t.describe()), fix: ddlFix}
		}
	}
}

func parseDDL(src string, text bool) (*TableDef, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	p := &ddlParser{typeParser: typeParser{toks: toks}, text: text}
	first := p.peek()
	if first.kind == tokEOF {
		return nil, &posError{tok: first, msg: "the file is empty", fix: ddlFix}
	}
	if t := p.peek(); !t.is("create") {
		return nil, &posError{tok: t, msg: "not a table definition: expected CREATE, found " + t.describe(), fix: definitionFix}
	}
	p.next()
	p.accept("external")
	if err := p.keyword("table"); err != nil {
		return nil, err
	}
	if p.accept("if") {
		if err := p.keyword("not", "exists"); err != nil {
			return nil, err
		}
	}
	def := &TableDef{Parameters: map[string]string{}, SerDeParameters: map[string]string{}}
	pos := map[string]token{}
	nameTok, err := p.ident("the table name")
	if err != nil {
		return nil, err
	}
	def.Name = nameTok.text
	if t := p.peek(); t.kind == tokPunct && t.text == "." {
		p.next()
		t2, err := p.ident("the table name after the database")
		if err != nil {
			return nil, err
		}
		def.Database, def.Name = def.Name, t2.text
	}
	pos["columns"] = p.peek()
	if def.Columns, err = p.columns("column", pos); err != nil {
		return nil, err
	}
	var serde, input, stored string
	var serdeAt token = nameTok
	seen := map[string]token{}
	clause := func(name string, t token) error {
		if prev, dup := seen[name]; dup {
			return &posError{tok: t, msg: fmt.Sprintf("%s appears twice (first at line %d)", name, prev.line), fix: "keep one " + name + " clause"}
		}
		seen[name] = t
		return nil
	}
	for {
		t := p.peek()
		if t.kind == tokEOF || (t.kind == tokPunct && t.text == ";") {
			break
		}
		switch {
		case t.is("comment"):
			p.next()
			if _, _, err := p.str("the table comment"); err != nil {
				return nil, err
			}
		case t.is("partitioned"):
			p.next()
			if err := clause("PARTITIONED BY", t); err != nil {
				return nil, err
			}
			if err := p.keyword("by"); err != nil {
				return nil, err
			}
			if def.PartitionKeys, err = p.columns("partition key", pos); err != nil {
				return nil, err
			}
		case t.is("row"):
			p.next()
			if err := clause("ROW FORMAT", t); err != nil {
				return nil, err
			}
			if err := p.keyword("format"); err != nil {
				return nil, err
			}
			if d := p.peek(); d.is("delimited") {
				if !p.text {
					return nil, textFormatError(d)
				}
				p.next()
				if err := p.delimited(src, def.SerDeParameters); err != nil {
					return nil, err
				}
				serde, serdeAt = SerDeLazySimple, d
				break
			}
			if err := p.keyword("serde"); err != nil {
				return nil, err
			}
			if serde, serdeAt, err = p.str("the SerDe class"); err != nil {
				return nil, err
			}
			if p.accept("with") {
				if err := p.keyword("serdeproperties"); err != nil {
					return nil, err
				}
				if err := p.properties(def.SerDeParameters, pos, "serde:"); err != nil {
					return nil, err
				}
			}
		case t.is("stored"):
			p.next()
			if err := clause("STORED AS", t); err != nil {
				return nil, err
			}
			if err := p.keyword("as"); err != nil {
				return nil, err
			}
			if p.accept("inputformat") {
				if input, _, err = p.str("the input format class"); err != nil {
					return nil, err
				}
				if err := p.keyword("outputformat"); err != nil {
					return nil, err
				}
				if _, _, err = p.str("the output format class"); err != nil {
					return nil, err
				}
				break
			}
			st, err := p.ident("a file format")
			if err != nil {
				return nil, err
			}
			if !st.is("parquet") && !st.is("textfile") {
				return nil, &posError{tok: st, msg: fmt.Sprintf("STORED AS %s is not supported: only Parquet and JSON Lines", st.text), fix: formatFix}
			}
			stored, serdeAt = strings.ToUpper(st.text), st
		case t.is("location"):
			p.next()
			if err := clause("LOCATION", t); err != nil {
				return nil, err
			}
			var lt token
			if def.Location, lt, err = p.str("the location"); err != nil {
				return nil, err
			}
			pos["location"] = lt
		case t.is("tblproperties"):
			p.next()
			if err := clause("TBLPROPERTIES", t); err != nil {
				return nil, err
			}
			pos["tblproperties"] = t
			if err := p.properties(def.Parameters, pos, "param:"); err != nil {
				return nil, err
			}
		case t.is("clustered") || t.is("sorted") || t.is("skewed"):
			return nil, &posError{tok: t, msg: fmt.Sprintf("%s BY (bucketing) is not supported by the checker", strings.ToUpper(t.text)), fix: "drop the bucketing clause for the check"}
		default:
			return nil, &posError{tok: t, msg: "unexpected " + t.describe() + " after the columns", fix: ddlFix}
		}
	}
	if t := p.peek(); t.kind == tokPunct && t.text == ";" {
		p.next()
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, &posError{tok: t, msg: "more after the CREATE TABLE statement: " + t.describe(), fix: "keep one statement per file"}
	}
	var ok bool
	def.Format, def.SerDe, ok = resolveFormat(serde, input, stored, def.Parameters["classification"])
	if !ok && p.text {
		def.Format, def.SerDe, ok = resolveText(serde, input, stored, def.Parameters["classification"])
	}
	if !ok {
		what := "no ROW FORMAT SERDE or STORED AS"
		if serde != "" || input != "" || stored != "" {
			what = fmt.Sprintf("SerDe %q, input format %q, STORED AS %q", serde, input, stored)
		}
		return nil, &posError{tok: serdeAt, msg: "unsupported format: " + what, fix: formatFix}
	}
	def.Crawled = crawledParameters(def.Parameters)
	if err := def.validate(first, pos); err != nil {
		return nil, err
	}
	return def, nil
}
