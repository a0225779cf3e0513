package lake

import (
	"fmt"
	"strconv"
	"strings"
)

// htype is a parsed Glue/Hive column type: a primitive ("bigint",
// "decimal(10,2)"), or array/map/struct of htypes.
type htype struct {
	kind   string // string, char, varchar, tinyint, smallint, int, bigint, float, double, boolean, date, timestamp, binary, decimal, array, map, struct
	p, s   int    // decimal precision and scale; char/varchar length in p
	elem   *htype // array element, map value
	key    *htype // map key
	fields []hfield
}

type hfield struct {
	name string
	t    *htype
}

func (t *htype) String() string {
	switch t.kind {
	case "decimal":
		return fmt.Sprintf("decimal(%d,%d)", t.p, t.s)
	case "char", "varchar":
		return fmt.Sprintf("%s(%d)", t.kind, t.p)
	case "array":
		return "array<" + t.elem.String() + ">"
	case "map":
		return "map<" + t.key.String() + "," + t.elem.String() + ">"
	case "struct":
		parts := make([]string, len(t.fields))
		for i, f := range t.fields {
			name := f.name
			if name == "" || strings.ContainsAny(name, "<>,:()` \t\r\n") {
				name = "`" + name + "`"
			}
			parts[i] = name + ":" + f.t.String()
		}
		return "struct<" + strings.Join(parts, ",") + ">"
	}
	return t.kind
}

// nested reports whether t is array, map or struct.
func (t *htype) nested() bool { return t.kind == "array" || t.kind == "map" || t.kind == "struct" }

// stringish reports whether t holds text.
func (t *htype) stringish() bool {
	return t.kind == "string" || t.kind == "char" || t.kind == "varchar"
}

// integer reports whether t is an integer type, with its bit width.
func (t *htype) integer() (int, bool) {
	switch t.kind {
	case "tinyint":
		return 8, true
	case "smallint":
		return 16, true
	case "int":
		return 32, true
	case "bigint":
		return 64, true
	}
	return 0, false
}

// field returns the struct field called name (case-insensitive, as Athena
// matches them).
func (t *htype) field(name string) (*htype, bool) {
	for _, f := range t.fields {
		if strings.EqualFold(f.name, name) {
			return f.t, true
		}
	}
	return nil, false
}

var primitiveTypes = map[string]string{
	"string": "string", "tinyint": "tinyint", "smallint": "smallint", "int": "int", "integer": "int", "bigint": "bigint",
	"float": "float", "real": "float", "double": "double", "boolean": "boolean", "date": "date", "timestamp": "timestamp",
	"binary": "binary",
}

// maxTypeDepth bounds nesting (array<array<…>>) so a hostile definition
// cannot exhaust the stack.
const maxTypeDepth = 64

// typeParser reads an htype from tokens; errors carry the token they are at.
type typeParser struct {
	toks []token
	i    int
}

func (p *typeParser) peek() token {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	if len(p.toks) == 0 {
		return token{kind: tokEOF}
	}
	last := p.toks[len(p.toks)-1]
	return token{kind: tokEOF, line: last.line, col: last.col + len(last.text), off: last.off + len(last.text)}
}

func (p *typeParser) next() token {
	t := p.peek()
	if p.i < len(p.toks) {
		p.i++
	}
	return t
}

func (p *typeParser) expect(punct string) error {
	t := p.next()
	if t.kind != tokPunct || t.text != punct {
		return &posError{tok: t, msg: fmt.Sprintf("expected %q, found %s", punct, t.describe())}
	}
	return nil
}

func (p *typeParser) number() (int, error) {
	t := p.next()
	if t.kind != tokNumber {
		return 0, &posError{tok: t, msg: "expected a number, found " + t.describe()}
	}
	n, err := strconv.Atoi(t.text)
	if err != nil || n < 0 || n > 1<<20 {
		return 0, &posError{tok: t, msg: fmt.Sprintf("number %s out of range", t.text)}
	}
	return n, nil
}

// posError is an error at one token; callers turn it into a DefinitionError.
type posError struct {
	tok token
	msg string
	fix string
}

func (e *posError) Error() string { return e.msg }

const typeFix = "use a Glue/Hive type: string, tinyint, smallint, int, bigint, float, double, boolean, date, timestamp, binary, decimal(p,s), char(n), varchar(n), array<T>, map<K,V>, struct<name:T,...>"

func (p *typeParser) parse(depth int) (*htype, error) {
	t := p.next()
	if depth > maxTypeDepth {
		return nil, &posError{tok: t, msg: "type nested too deeply", fix: typeFix}
	}
	if t.kind != tokIdent {
		return nil, &posError{tok: t, msg: "expected a type, found " + t.describe(), fix: typeFix}
	}
	name := strings.ToLower(t.text)
	if k, ok := primitiveTypes[name]; ok {
		return &htype{kind: k}, nil
	}
	switch name {
	case "decimal", "numeric":
		ht := &htype{kind: "decimal", p: 10, s: 0} // Hive's default for a bare decimal
		if n := p.peek(); n.kind == tokPunct && n.text == "(" {
			p.next()
			prec, err := p.number()
			if err != nil {
				return nil, err
			}
			ht.p = prec
			if n := p.peek(); n.kind == tokPunct && n.text == "," {
				p.next()
				if ht.s, err = p.number(); err != nil {
					return nil, err
				}
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			if ht.p < 1 || ht.p > 38 || ht.s > ht.p {
				return nil, &posError{tok: t, msg: fmt.Sprintf("decimal(%d,%d): precision must be 1–38 and scale ≤ precision", ht.p, ht.s),
					fix: "declare decimal(p,s) with 1 ≤ p ≤ 38 and 0 ≤ s ≤ p (Athena's limit)"}
			}
		}
		return ht, nil
	case "char", "varchar":
		ht := &htype{kind: name}
		if err := p.expect("("); err != nil {
			return nil, err
		}
		n, err := p.number()
		if err != nil {
			return nil, err
		}
		ht.p = n
		return ht, p.expect(")")
	case "array":
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		e, err := p.parse(depth + 1)
		if err != nil {
			return nil, err
		}
		return &htype{kind: "array", elem: e}, p.expect(">")
	case "map":
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		kt := p.peek()
		k, err := p.parse(depth + 1)
		if err != nil {
			return nil, err
		}
		if k.nested() {
			return nil, &posError{tok: kt, msg: "a map key must be a primitive type, not " + k.String(), fix: "use map<string,T> or another primitive key"}
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		v, err := p.parse(depth + 1)
		if err != nil {
			return nil, err
		}
		return &htype{kind: "map", key: k, elem: v}, p.expect(">")
	case "struct":
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		ht := &htype{kind: "struct"}
		seen := map[string]bool{}
		for {
			ft := p.next()
			if ft.kind != tokIdent && ft.kind != tokQuotedIdent {
				return nil, &posError{tok: ft, msg: "expected a struct field name, found " + ft.describe(), fix: "write struct<name:type,...>"}
			}
			fname := strings.ToLower(ft.text)
			if seen[fname] {
				return nil, &posError{tok: ft, msg: fmt.Sprintf("struct field %q appears twice (names are case-insensitive)", ft.text), fix: "give every struct field its own name"}
			}
			seen[fname] = true
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			f, err := p.parse(depth + 1)
			if err != nil {
				return nil, err
			}
			ht.fields = append(ht.fields, hfield{fname, f})
			n := p.next()
			if n.kind == tokPunct && n.text == ">" {
				return ht, nil
			}
			if n.kind != tokPunct || n.text != "," {
				return nil, &posError{tok: n, msg: fmt.Sprintf("expected \",\" or \">\" in struct, found %s", n.describe())}
			}
		}
	}
	return nil, &posError{tok: t, msg: fmt.Sprintf("unknown type %q", t.text), fix: typeFix}
}

// parseTypeString parses a type written as text (a Glue column's Type).
func parseTypeString(s string) (*htype, error) {
	toks, err := tokenizeType(s)
	if err != nil {
		return nil, err
	}
	p := &typeParser{toks: toks}
	t, err := p.parse(0)
	if err != nil {
		return nil, err
	}
	if rest := p.peek(); rest.kind != tokEOF {
		return nil, &posError{tok: rest, msg: "unexpected " + rest.describe() + " after the type", fix: typeFix}
	}
	return t, nil
}
