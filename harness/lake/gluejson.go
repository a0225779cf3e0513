package lake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// jnode is a JSON value with the byte offset it starts at, so a definition
// error can name its line and column.
type jnode struct {
	off   int
	kind  byte // '{' object, '[' array, 's' string, 'n' number, 'b' boolean, '0' null
	keys  []string
	vals  []*jnode
	elems []*jnode
	str   string
}

func (n *jnode) get(key string) *jnode {
	if n == nil || n.kind != '{' {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

func (n *jnode) kindName() string {
	switch n.kind {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 's':
		return "a string"
	case 'n':
		return "a number"
	case 'b':
		return "a boolean"
	}
	return "null"
}

func (n *jnode) tok() token { return token{off: n.off} }

const maxJSONDepth = 256

type jparser struct {
	data []byte
	dec  *json.Decoder
}

// start returns the offset of the next value: after whitespace and the
// separators the decoder has not consumed yet.
func (p *jparser) start() int {
	i := int(p.dec.InputOffset())
	for i < len(p.data) && strings.IndexByte(" \t\r\n,:", p.data[i]) >= 0 {
		i++
	}
	return i
}

func (p *jparser) fail(off int, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = int(se.Offset) - 1
	}
	msg := err.Error()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		msg, off = "the JSON ends early (unclosed { or [?)", len(p.data)
	}
	return &posError{tok: token{off: max(off, 0)}, msg: "invalid JSON: " + msg, fix: "save the output of aws glue get-table or tickflow ddl --glue-json unchanged"}
}

func (p *jparser) value(depth int) (*jnode, error) {
	off := p.start()
	if depth > maxJSONDepth {
		return nil, &posError{tok: token{off: off}, msg: "JSON nested too deeply"}
	}
	t, err := p.dec.Token()
	if err != nil {
		return nil, p.fail(off, err)
	}
	n := &jnode{off: off}
	switch v := t.(type) {
	case json.Delim:
		switch v {
		case '{':
			n.kind = '{'
			for p.dec.More() {
				koff := p.start()
				kt, err := p.dec.Token()
				if err != nil {
					return nil, p.fail(koff, err)
				}
				k, _ := kt.(string)
				val, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.keys, n.vals = append(n.keys, k), append(n.vals, val)
			}
		case '[':
			n.kind = '['
			for p.dec.More() {
				e, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, e)
			}
		}
		if _, err := p.dec.Token(); err != nil { // closing delimiter
			return nil, p.fail(p.start(), err)
		}
	case string:
		n.kind, n.str = 's', v
	case json.Number:
		n.kind, n.str = 'n', v.String()
	case bool:
		n.kind, n.str = 'b', fmt.Sprint(v)
	case nil:
		n.kind = '0'
	}
	return n, nil
}

func parseJSONTree(data []byte) (*jnode, error) {
	p := &jparser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	off := p.start()
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &posError{tok: token{off: off}, msg: "more data after the JSON object", fix: "keep one table definition per file"}
	}
	return n, nil
}

// parseGlueJSON reads {"Table": …} (get-table), {"TableInput": …}
// (create-table input) or a bare TableInput.
func parseGlueJSON(data []byte, text bool) (*TableDef, error) {
	root, err := parseJSONTree(data)
	if err != nil {
		return nil, err
	}
	if root.kind != '{' {
		return nil, &posError{tok: root.tok(), msg: "the JSON is " + root.kindName() + ", not an object", fix: glueShapeFix}
	}
	t, db := root.get("Table"), root.get("DatabaseName")
	if t == nil {
		t = root.get("TableInput")
	}
	if t == nil && (root.get("StorageDescriptor") != nil || root.get("Name") != nil) {
		t = root
	}
	if t == nil {
		return nil, &posError{tok: root.tok(), msg: "not a Glue table: no \"Table\", \"TableInput\" or \"StorageDescriptor\" key", fix: glueShapeFix}
	}
	if t.kind != '{' {
		return nil, &posError{tok: t.tok(), msg: "the table is " + t.kindName() + ", not an object", fix: glueShapeFix}
	}
	def := &TableDef{Parameters: map[string]string{}, SerDeParameters: map[string]string{}}
	pos := map[string]token{}
	if def.Name, err = jstring(t, "Name", true); err != nil {
		return nil, err
	}
	if d := t.get("DatabaseName"); d != nil && d.kind == 's' {
		def.Database = d.str
	} else if db != nil && db.kind == 's' {
		def.Database = db.str
	}
	if def.Parameters, err = jmap(t, "Parameters", pos, "param:"); err != nil {
		return nil, err
	}
	if pk := t.get("PartitionKeys"); pk != nil {
		pos["partition keys"] = pk.tok()
		if def.PartitionKeys, err = jcolumns(pk, "partition key", pos); err != nil {
			return nil, err
		}
	}
	sd := t.get("StorageDescriptor")
	if sd == nil {
		return nil, &posError{tok: t.tok(), msg: "the table has no StorageDescriptor (columns, location, format)", fix: glueShapeFix}
	}
	if sd.kind != '{' {
		return nil, &posError{tok: sd.tok(), msg: "StorageDescriptor is " + sd.kindName() + ", not an object", fix: glueShapeFix}
	}
	if cols := sd.get("Columns"); cols != nil {
		pos["columns"] = cols.tok()
		if def.Columns, err = jcolumns(cols, "column", pos); err != nil {
			return nil, err
		}
	} else {
		pos["columns"] = sd.tok()
	}
	if def.Location, err = jstring(sd, "Location", false); err != nil {
		return nil, err
	}
	if l := sd.get("Location"); l != nil {
		pos["location"] = l.tok()
	} else {
		pos["location"] = sd.tok()
	}
	input, err := jstring(sd, "InputFormat", false)
	if err != nil {
		return nil, err
	}
	var lib string
	serdeAt := sd.tok()
	if si := sd.get("SerdeInfo"); si != nil {
		serdeAt = si.tok()
		if si.kind != '{' {
			return nil, &posError{tok: si.tok(), msg: "SerdeInfo is " + si.kindName() + ", not an object", fix: glueShapeFix}
		}
		if lib, err = jstring(si, "SerializationLibrary", false); err != nil {
			return nil, err
		}
		if l := si.get("SerializationLibrary"); l != nil {
			serdeAt = l.tok()
		}
		if def.SerDeParameters, err = jmap(si, "Parameters", pos, "serde:"); err != nil {
			return nil, err
		}
	}
	var ok bool
	def.Format, def.SerDe, ok = resolveFormat(lib, input, "", def.Parameters["classification"])
	if !ok && text {
		def.Format, def.SerDe, ok = resolveText(lib, input, "", def.Parameters["classification"])
	}
	if !ok {
		return nil, &posError{tok: serdeAt, msg: fmt.Sprintf("unsupported format: SerializationLibrary %q, InputFormat %q (classification %q)", lib, input, def.Parameters["classification"]), fix: formatFix}
	}
	def.Crawled = crawledParameters(def.Parameters)
	if err := def.validate(t.tok(), pos); err != nil {
		return nil, err
	}
	return def, nil
}

const glueShapeFix = `give the output of 'aws glue get-table' ({"Table": {...}}), of 'tickflow ddl --glue-json' ({"TableInput": {...}}), or a TableInput object`

func jstring(obj *jnode, key string, required bool) (string, error) {
	v := obj.get(key)
	if v == nil {
		if required {
			return "", &posError{tok: obj.tok(), msg: fmt.Sprintf("missing %q", key), fix: glueShapeFix}
		}
		return "", nil
	}
	if v.kind != 's' {
		return "", &posError{tok: v.tok(), msg: fmt.Sprintf("%q is %s, want a string", key, v.kindName()), fix: glueShapeFix}
	}
	return v.str, nil
}

func jmap(obj *jnode, key string, pos map[string]token, posPrefix string) (map[string]string, error) {
	m := map[string]string{}
	v := obj.get(key)
	if v == nil {
		return m, nil
	}
	if v.kind != '{' {
		return nil, &posError{tok: v.tok(), msg: fmt.Sprintf("%q is %s, want an object of strings", key, v.kindName()), fix: glueShapeFix}
	}
	pos[strings.TrimSuffix(posPrefix, ":")+"s"] = v.tok()
	for i, k := range v.keys {
		e := v.vals[i]
		if e.kind != 's' {
			return nil, &posError{tok: e.tok(), msg: fmt.Sprintf("%s %q is %s, want a string", key, k, e.kindName()), fix: "quote the value: Glue parameters are strings"}
		}
		m[k] = e.str
		pos[posPrefix+k] = e.tok()
	}
	if posPrefix == "param:" {
		pos["tblproperties"] = v.tok()
	}
	return m, nil
}

func jcolumns(arr *jnode, kind string, pos map[string]token) ([]Column, error) {
	if arr.kind != '[' {
		return nil, &posError{tok: arr.tok(), msg: fmt.Sprintf("the %ss are %s, want an array of {\"Name\", \"Type\"}", kind, arr.kindName()), fix: glueShapeFix}
	}
	var cols []Column
	for i, e := range arr.elems {
		if e.kind != '{' {
			return nil, &posError{tok: e.tok(), msg: fmt.Sprintf("%s %d is %s, want {\"Name\": …, \"Type\": …}", kind, i+1, e.kindName()), fix: glueShapeFix}
		}
		name, err := jstring(e, "Name", true)
		if err != nil {
			return nil, err
		}
		typ, err := jstring(e, "Type", true)
		if err != nil {
			return nil, err
		}
		tn := e.get("Type")
		ht, err := parseTypeString(typ)
		if err != nil {
			var pe *posError
			if errors.As(err, &pe) {
				// Point into the string: its opening quote, then the offset.
				return nil, &posError{tok: token{off: tn.off + 1 + pe.tok.off}, msg: fmt.Sprintf("%s %s: type %q: %s", kind, name, typ, pe.msg), fix: pe.fix}
			}
			return nil, err
		}
		cols = append(cols, Column{Name: name, Type: ht.String(), typ: ht})
		pos[kind+":"+name] = e.tok()
		pos[kind+"#"+fmt.Sprint(i)] = e.tok()
	}
	return cols, nil
}
