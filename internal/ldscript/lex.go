package ldscript

import (
	"fmt"
	"strings"
)

// tokKind is the class of a token.
type tokKind int

const (
	tokEOF    tokKind = iota
	tokName           // a symbol, region or keyword name
	tokNumber         // digits and letters starting with a digit, checked when used
	tokString         // "a quoted file name"
	tokPunct          // one punctuation character
)

type token struct {
	kind tokKind
	text string
	line int
}

func (t token) is(kind tokKind, text string) bool { return t.kind == kind && t.text == text }

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "the end of the file"
	case tokString:
		return fmt.Sprintf("%q", t.text)
	}
	return "\"" + t.text + "\""
}

// lex splits a linker script into tokens. Comments (/* */) are dropped.
// Characters it has no use for become one-character punctuation tokens:
// only the MEMORY block and the expressions it refers to are parsed, the
// rest is skipped by brackets.
func lex(file string, src []byte) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(string(src[i+2:]), "*/")
			if end < 0 {
				return nil, &Error{File: file, Line: line, Problem: "comment /* is never closed"}
			}
			line += strings.Count(string(src[i:i+2+end]), "\n")
			i += 2 + end + 2
		case c == '"':
			end := strings.IndexAny(string(src[i+1:]), "\"\n")
			if end < 0 || src[i+1+end] != '"' {
				return nil, &Error{File: file, Line: line, Problem: "string \" is not closed on its line"}
			}
			toks = append(toks, token{tokString, string(src[i+1 : i+1+end]), line})
			i += end + 2
		case isDigit(c):
			j := i
			for j < len(src) && (isDigit(src[j]) || isLetter(src[j])) {
				j++
			}
			toks = append(toks, token{tokNumber, string(src[i:j]), line})
			i = j
		case isLetter(c) || c == '_' || c == '.':
			j := i
			for j < len(src) && isNameChar(src[j]) {
				j++
			}
			toks = append(toks, token{tokName, string(src[i:j]), line})
			i = j
		default:
			toks = append(toks, token{tokPunct, string(c), line})
			i++
		}
	}
	return append(toks, token{tokEOF, "", line}), nil
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isNameChar: names of symbols and regions ([A-Za-z_.][A-Za-z0-9_.$]*).
func isNameChar(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' || c == '.' || c == '$' }
