package lake

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Token kinds of the DDL and type tokenizer.
const (
	tokEOF = iota
	tokIdent
	tokQuotedIdent // `name`
	tokString      // 'text' or "text"
	tokNumber
	tokPunct
)

type token struct {
	kind      int
	text      string // identifier, string content (unescaped), number or punctuation
	line, col int    // 1-based
	off       int    // byte offset
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "the end of the input"
	case tokString:
		return fmt.Sprintf("string '%s'", t.text)
	case tokQuotedIdent:
		return "`" + t.text + "`"
	}
	return fmt.Sprintf("%q", t.text)
}

// is reports whether t is the keyword or punctuation word (case-insensitive).
func (t token) is(word string) bool {
	return (t.kind == tokIdent || t.kind == tokPunct) && strings.EqualFold(t.text, word)
}

// tokenize splits DDL (or a type string) into tokens, skipping whitespace,
// -- line comments and /* block comments */.
func tokenize(src string) ([]token, error) {
	var toks []token
	line, col := 1, 1
	i := 0
	advance := func(n int) {
		for _, r := range src[i : i+n] {
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		i += n
	}
	for i < len(src) {
		c := src[i]
		start := token{line: line, col: col, off: i}
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f':
			advance(1)
		case c == '-' && strings.HasPrefix(src[i:], "--"):
			n := strings.IndexByte(src[i:], '\n')
			if n < 0 {
				n = len(src) - i
			}
			advance(n)
		case c == '/' && strings.HasPrefix(src[i:], "/*"):
			n := strings.Index(src[i+2:], "*/")
			if n < 0 {
				return nil, &posError{tok: start, msg: "unterminated /* comment", fix: "close the comment with */"}
			}
			advance(n + 4)
		case c == '\'' || c == '"' || c == '`':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(src) {
				d := src[j]
				if d == '\\' && c != '`' && j+1 < len(src) {
					b.WriteByte(src[j+1])
					j += 2
					continue
				}
				if d == c {
					if j+1 < len(src) && src[j+1] == c { // doubled quote
						b.WriteByte(c)
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(d)
				j++
			}
			if !closed {
				return nil, &posError{tok: start, msg: fmt.Sprintf("unterminated %c quote", c), fix: fmt.Sprintf("close the quoted text with %c", c)}
			}
			if !utf8.ValidString(b.String()) {
				return nil, &posError{tok: start, msg: "quoted text is not valid UTF-8", fix: "save the file as UTF-8"}
			}
			start.kind, start.text = tokString, b.String()
			if c == '`' {
				start.kind = tokQuotedIdent
			}
			advance(j - i)
			toks = append(toks, start)
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			start.kind, start.text = tokNumber, src[i:j]
			advance(j - i)
			toks = append(toks, start)
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			start.kind, start.text = tokIdent, src[i:j]
			advance(j - i)
			toks = append(toks, start)
		case strings.IndexByte("(),;<>:=.", c) >= 0:
			start.kind, start.text = tokPunct, string(c)
			advance(1)
			toks = append(toks, start)
		default:
			r, n := utf8.DecodeRuneInString(src[i:])
			if r == utf8.RuneError && n <= 1 {
				return nil, &posError{tok: start, msg: "invalid UTF-8", fix: "save the file as UTF-8"}
			}
			return nil, &posError{tok: start, msg: fmt.Sprintf("unexpected character %q", r), fix: definitionFix}
		}
	}
	return toks, nil
}

// tokenizeType splits a Glue type string. Unlike DDL, struct field names
// there are not quoted and may hold any character but the type syntax's
// own (a crawler keeps JSON keys such as "user-agent" as they are).
func tokenizeType(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		start := token{line: 1, col: utf8.RuneCountInString(src[:i]) + 1, off: i}
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case strings.IndexByte("<>,:()", c) >= 0:
			start.kind, start.text = tokPunct, string(c)
			toks = append(toks, start)
			i++
		case c == '`':
			j := strings.IndexByte(src[i+1:], '`')
			if j < 0 {
				return nil, &posError{tok: start, msg: "unterminated ` quote", fix: "close the quoted name with `"}
			}
			start.kind, start.text = tokQuotedIdent, src[i+1:i+1+j]
			toks = append(toks, start)
			i += j + 2
		default:
			j := i
			for j < len(src) && strings.IndexByte("<>,:()` \t\r\n", src[j]) < 0 {
				j++
			}
			start.kind, start.text = tokIdent, src[i:j]
			if strings.Trim(start.text, "0123456789") == "" {
				start.kind = tokNumber
			}
			if !utf8.ValidString(start.text) {
				return nil, &posError{tok: start, msg: "invalid UTF-8", fix: "save the file as UTF-8"}
			}
			toks = append(toks, start)
			i = j
		}
	}
	return toks, nil
}

// lineCol turns a byte offset of src into a 1-based line and column.
func lineCol(src []byte, off int) (int, int) {
	if off > len(src) {
		off = len(src)
	}
	if off < 0 {
		off = 0
	}
	line, col := 1, 1
	for _, r := range string(src[:off]) {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}
