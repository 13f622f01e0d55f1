// Package ldscript reads the memory regions of a GNU ld linker script: its
// MEMORY blocks, and the top-level symbol assignments their ORIGIN and
// LENGTH expressions refer to. What it does not understand is an error
// that names the file and line; it never guesses.
package ldscript

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Region is one memory region of a MEMORY block:
//
//	NAME (attributes) : ORIGIN = expr, LENGTH = expr
type Region struct {
	Name   string `json:"name"`
	Origin uint64 `json:"origin"`
	Length uint64 `json:"length"`
	// Attributes as written, in lower case ("rwx", "!rx"); "" when none.
	Attributes string `json:"attributes"`
	// Line is where the region is declared (0 when it comes from elsewhere).
	Line int `json:"line,omitempty"`
}

// End is the first address after the region.
func (r Region) End() uint64 { return r.Origin + r.Length }

// Writability says whether a region may hold writable sections, by its
// attributes.
type Writability int

const (
	// WritableUnknown: no attributes, or none that say.
	WritableUnknown Writability = iota
	// Writable: the attributes name writable sections (w).
	Writable
	// NotWritable: the attributes admit only read-only or code sections (rx).
	NotWritable
)

// Writable reads the attributes as GNU ld uses them to place the sections
// a script does not place: a 'w' (not after '!') makes the region
// writable; attributes that admit only read-only or code sections (r, x)
// make it not writable; no attributes, a/i/l (which admit any section) or
// negations alone say nothing. The attributes are the script's statement
// of what the memory holds, not a hardware fact.
func (r Region) Writable() Writability {
	negated := false
	readOnly, any := false, false
	for _, c := range r.Attributes {
		switch {
		case c == '!':
			negated = true
		case negated:
			// A negated letter only narrows what the region takes.
		case c == 'w':
			return Writable
		case c == 'r' || c == 'x':
			readOnly = true
		case c == 'a' || c == 'i' || c == 'l':
			any = true
		}
	}
	if readOnly && !any {
		return NotWritable
	}
	return WritableUnknown
}

// Error is a problem with a linker script or an expression: one line that
// names the file and, when known, the line.
type Error struct {
	File    string
	Line    int
	Problem string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Problem)
	}
	return e.File + ": " + e.Problem
}

// ParseFile reads the linker script at path and returns its memory regions.
func ParseFile(path string) ([]Region, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &Error{File: path, Problem: "no such file"}
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &Error{File: path, Problem: err.Error()}
	}
	return Parse(path, data)
}

// Parse returns the memory regions of a linker script, in the order they
// are declared; file names it in errors. A script without a MEMORY block
// is an error (its regions may be in a file it INCLUDEs).
func Parse(file string, src []byte) ([]Region, error) {
	toks, err := lex(file, src)
	if err != nil {
		return nil, err
	}
	p := &parser{file: file, toks: toks, symbols: map[string]*assignment{}}
	if err := p.script(); err != nil {
		return nil, err
	}
	if len(p.memory) == 0 {
		return nil, p.noMemory()
	}
	regions := map[string]*Region{}
	var out []Region
	for _, m := range p.memory {
		r, err := p.evalRegion(m, regions)
		if err != nil {
			return nil, err
		}
		regions[r.Name] = &r
		out = append(out, r)
	}
	return out, nil
}

// ParseAttributes checks a region's attributes as written between the
// parentheses ("rwx", "!rx") and returns them in lower case.
func ParseAttributes(s string) (string, error) {
	s = strings.ToLower(strings.Join(strings.Fields(s), ""))
	for _, c := range s {
		if !strings.ContainsRune("rwxail!", c) {
			return "", fmt.Errorf("attribute %q not understood (GNU ld attributes are r, w, x, a, i, l and !)", c)
		}
	}
	if strings.HasSuffix(s, "!") {
		return "", fmt.Errorf("attributes %q end with '!', which negates nothing", s)
	}
	return s, nil
}

// EvalNumber evaluates one expression on its own ("4M", "0x20000000",
// "256K - 8K"): numbers and + - * / % and parentheses, nothing named. Its
// errors are the problem alone, for the caller to place.
func EvalNumber(expr string) (uint64, error) {
	v, err := evalNumber(expr)
	var le *Error
	if errors.As(err, &le) {
		return 0, errors.New(le.Problem)
	}
	return v, err
}

func evalNumber(expr string) (uint64, error) {
	toks, err := lex("", []byte(expr))
	if err != nil {
		return 0, err
	}
	p := &parser{toks: toks, symbols: map[string]*assignment{}, noNames: true}
	e, err := p.expr()
	if err != nil {
		return 0, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return 0, p.errorf(t.line, "%s after the expression is not understood", t)
	}
	return p.eval(e, nil, 0)
}
