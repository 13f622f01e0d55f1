package ldscript

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// parser walks the tokens of one script. Only MEMORY blocks and top-level
// assignments are read; everything else (SECTIONS, ENTRY, PROVIDE, ...) is
// skipped by its brackets.
type parser struct {
	file    string
	toks    []token
	pos     int
	symbols map[string]*assignment
	memory  []memRegion
	// includes are the files the script INCLUDEs, named when no MEMORY
	// block is found.
	includes []string
	// noNames: an expression on its own (EvalNumber), where names mean nothing.
	noNames bool
}

// assignment is a top-level `NAME = expr;`. Problem, when set, says why
// its value is not followed (it is an error only if MEMORY refers to it).
type assignment struct {
	line    int
	expr    *node
	problem string
	// value is the value once evaluated; evaluating marks a cycle.
	value      *big.Int
	evaluating bool
}

// memRegion is a region as written, before its expressions are evaluated.
type memRegion struct {
	name           token
	attrs          string
	origin, length *node
}

// node is an expression tree.
type node struct {
	op   string // "num", "sym", "ORIGIN", "LENGTH", "neg", or + - * / %
	num  uint64
	name string
	line int
	a, b *node
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *parser) errorf(line int, format string, args ...any) error {
	return &Error{File: p.file, Line: line, Problem: fmt.Sprintf(format, args...)}
}

// script reads the top level of the script.
func (p *parser) script() error {
	for {
		t := p.next()
		switch {
		case t.kind == tokEOF:
			return nil
		case t.is(tokName, "MEMORY"):
			if err := p.memoryBlock(); err != nil {
				return err
			}
		case t.is(tokName, "INCLUDE"):
			if f := p.peek(); f.kind == tokName || f.kind == tokString {
				p.includes = append(p.includes, f.text)
			}
		case t.kind == tokName && p.peek().is(tokPunct, "="):
			p.next()
			p.assign(t)
		case t.kind == tokName && p.compoundAssignment():
			p.assignOnce(t.text, &assignment{line: t.line, problem: "changed by a compound assignment (" + p.peek().text + "=), which is not followed"})
			p.skipStatement()
		case t.is(tokPunct, "{") || t.is(tokPunct, "("):
			p.skipBlock(t.text)
		}
	}
}

// compoundAssignment: the next tokens are `op=` (+=, -=, <<=, ...).
func (p *parser) compoundAssignment() bool {
	i := p.pos
	for i < len(p.toks) && p.toks[i].kind == tokPunct && strings.Contains("+-*/%&|<>", p.toks[i].text) && i-p.pos < 2 {
		i++
	}
	return i > p.pos && i < len(p.toks) && p.toks[i].is(tokPunct, "=")
}

// assign reads `= expr;` after a name at the top level.
func (p *parser) assign(name token) {
	a := &assignment{line: name.line}
	e, err := p.expr()
	switch {
	case err != nil:
		a.problem = err.(*Error).Problem
	case !p.peek().is(tokPunct, ";"):
		a.problem = fmt.Sprintf("%s after its expression is not understood", p.peek())
	default:
		a.expr = e
	}
	p.assignOnce(name.text, a)
	p.skipStatement()
}

// assignOnce records an assignment; a name assigned twice has no one value
// a MEMORY block can be said to see.
func (p *parser) assignOnce(name string, a *assignment) {
	if prev, ok := p.symbols[name]; ok {
		a = &assignment{line: a.line, problem: fmt.Sprintf("assigned more than once (lines %d and %d), which is not followed", prev.line, a.line)}
	}
	p.symbols[name] = a
}

// skipStatement skips to just after the next ';' outside brackets, or to a
// brace, whichever comes first.
func (p *parser) skipStatement() {
	depth := 0
	for {
		t := p.peek()
		switch {
		case t.kind == tokEOF:
			return
		case depth == 0 && (t.is(tokPunct, "{") || t.is(tokPunct, "}")):
			return
		case t.is(tokPunct, "("):
			depth++
		case t.is(tokPunct, ")") && depth > 0:
			depth--
		case depth == 0 && t.is(tokPunct, ";"):
			p.next()
			return
		}
		p.next()
	}
}

// skipBlock skips to the bracket that closes open (already read).
func (p *parser) skipBlock(open string) {
	depth := 1
	for depth > 0 {
		t := p.next()
		switch {
		case t.kind == tokEOF:
			return
		case t.is(tokPunct, "{") || t.is(tokPunct, "("):
			depth++
		case t.is(tokPunct, "}") || t.is(tokPunct, ")"):
			depth--
		}
	}
}

// memoryBlock reads `{ region... }` after MEMORY.
func (p *parser) memoryBlock() error {
	if t := p.next(); !t.is(tokPunct, "{") {
		return p.errorf(t.line, "MEMORY must be followed by {, not %s", t)
	}
	for {
		t := p.peek()
		switch {
		case t.is(tokPunct, "}"):
			p.next()
			return nil
		case t.is(tokPunct, ","):
			p.next()
		case t.is(tokName, "INCLUDE"):
			return p.errorf(t.line, "INCLUDE inside MEMORY is not followed: give the included file's regions")
		case t.kind == tokName:
			if err := p.region(); err != nil {
				return err
			}
		case t.kind == tokEOF:
			return p.errorf(t.line, "the MEMORY block is not closed with }")
		default:
			return p.errorf(t.line, "%s not understood in MEMORY: a region is NAME (attributes) : ORIGIN = expression, LENGTH = expression", t)
		}
	}
}

var (
	originWords = map[string]bool{"ORIGIN": true, "org": true, "o": true}
	lengthWords = map[string]bool{"LENGTH": true, "len": true, "l": true}
)

// region reads `NAME (attributes) : ORIGIN = expr, LENGTH = expr`.
func (p *parser) region() error {
	m := memRegion{name: p.next()}
	if p.peek().is(tokPunct, "(") {
		attrs, err := p.attributes()
		if err != nil {
			return err
		}
		m.attrs = attrs
	}
	if t := p.next(); !t.is(tokPunct, ":") {
		return p.errorf(t.line, "region %s: %s where a ':' belongs (NAME (attributes) : ORIGIN = ..., LENGTH = ...)", m.name.text, t)
	}
	var err error
	if m.origin, err = p.regionValue(m.name.text, "ORIGIN", originWords); err != nil {
		return err
	}
	if p.peek().is(tokPunct, ",") {
		p.next()
	}
	if m.length, err = p.regionValue(m.name.text, "LENGTH", lengthWords); err != nil {
		return err
	}
	if t := p.peek(); !t.is(tokPunct, ",") && !t.is(tokPunct, "}") && t.kind != tokName && t.kind != tokEOF {
		return p.errorf(t.line, "region %s: %s after the LENGTH expression is not understood", m.name.text, t)
	}
	p.memory = append(p.memory, m)
	return nil
}

// attributes reads `( letters )` with '!' negations.
func (p *parser) attributes() (string, error) {
	open := p.next()
	var b strings.Builder
	for {
		t := p.next()
		switch {
		case t.is(tokPunct, ")"):
			s, err := ParseAttributes(b.String())
			if err != nil {
				return "", p.errorf(open.line, "%v", err)
			}
			return s, nil
		case t.kind == tokName || t.is(tokPunct, "!"):
			b.WriteString(t.text)
		case t.kind == tokEOF:
			return "", p.errorf(open.line, "the attributes ( are not closed with )")
		default:
			return "", p.errorf(t.line, "%s not understood in a region's attributes (r, w, x, a, i, l and !)", t)
		}
	}
}

// regionValue reads `ORIGIN = expr` (or LENGTH, and their abbreviations).
func (p *parser) regionValue(region, what string, words map[string]bool) (*node, error) {
	kw := p.next()
	if kw.kind != tokName || !words[kw.text] {
		return nil, p.errorf(kw.line, "region %s: %s where %s belongs", region, kw, what)
	}
	if t := p.next(); !t.is(tokPunct, "=") {
		return nil, p.errorf(t.line, "region %s: %s where '=' belongs after %s", region, t, kw.text)
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tokPunct && !t.is(tokPunct, ",") && !t.is(tokPunct, "}") {
		return nil, p.errorf(t.line, "region %s: %s in the %s expression is not understood (only + - * / %% and parentheses)", region, t, what)
	}
	return e, nil
}

// expr := term (('+'|'-') term)*
func (p *parser) expr() (*node, error) {
	return p.binary(p.term, "+-")
}

// term := unary (('*'|'/'|'%') unary)*
func (p *parser) term() (*node, error) {
	return p.binary(p.unary, "*/%")
}

func (p *parser) binary(operand func() (*node, error), ops string) (*node, error) {
	left, err := operand()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tokPunct || !strings.Contains(ops, t.text) || p.toks[p.pos+1].is(tokPunct, "=") {
			return left, nil
		}
		p.next()
		right, err := operand()
		if err != nil {
			return nil, err
		}
		left = &node{op: t.text, line: t.line, a: left, b: right}
	}
}

// unary := ('-'|'+') unary | primary
func (p *parser) unary() (*node, error) {
	t := p.peek()
	switch {
	case t.is(tokPunct, "-"):
		p.next()
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &node{op: "neg", line: t.line, a: e}, nil
	case t.is(tokPunct, "+"):
		p.next()
		return p.unary()
	}
	return p.primary()
}

// primary := number | '(' expr ')' | ORIGIN(region) | LENGTH(region) | symbol
func (p *parser) primary() (*node, error) {
	t := p.next()
	switch {
	case t.kind == tokNumber:
		v, err := number(t.text)
		if err != nil {
			return nil, p.errorf(t.line, "%v", err)
		}
		return &node{op: "num", num: v, line: t.line}, nil
	case t.is(tokPunct, "("):
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); !c.is(tokPunct, ")") {
			return nil, p.errorf(c.line, "%s where ')' belongs", c)
		}
		return e, nil
	case t.kind == tokName && (t.text == "ORIGIN" || t.text == "LENGTH") && p.peek().is(tokPunct, "("):
		p.next()
		r := p.next()
		if r.kind != tokName {
			return nil, p.errorf(r.line, "%s(%s): a region name belongs there", t.text, r.text)
		}
		if c := p.next(); !c.is(tokPunct, ")") {
			return nil, p.errorf(c.line, "%s where ')' belongs after %s(%s", c, t.text, r.text)
		}
		return &node{op: t.text, name: r.text, line: t.line}, nil
	case t.kind == tokName && p.peek().is(tokPunct, "("):
		return nil, p.errorf(t.line, "%s(...) is not understood in an expression (only ORIGIN and LENGTH)", t.text)
	case t.kind == tokName && !p.noNames:
		return &node{op: "sym", name: t.text, line: t.line}, nil
	case t.kind == tokName:
		return nil, p.errorf(t.line, "%q is not a number", t.text)
	case t.kind == tokEOF:
		return nil, p.errorf(t.line, "the expression is cut short by %s", t)
	}
	return nil, p.errorf(t.line, "%s not understood in an expression (numbers, + - * / %%, parentheses, ORIGIN(r), LENGTH(r), symbols)", t)
}

// number reads a GNU ld number: 0x hex, a leading 0 octal, else decimal,
// with an optional K (x1024) or M (x1024x1024) suffix.
func number(s string) (uint64, error) {
	digits, mult := s, uint64(1)
	switch s[len(s)-1] {
	case 'K', 'k':
		digits, mult = s[:len(s)-1], 1<<10
	case 'M', 'm':
		digits, mult = s[:len(s)-1], 1<<20
	}
	base := 10
	switch {
	case strings.HasPrefix(digits, "0x") || strings.HasPrefix(digits, "0X"):
		digits, base = digits[2:], 16
	case len(digits) > 1 && digits[0] == '0':
		digits, base = digits[1:], 8
	}
	v, err := strconv.ParseUint(digits, base, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("number %s does not fit in 64 bits", s)
		}
		return 0, fmt.Errorf("number %s not understood (hex 0x.., octal 0.., decimal, with K or M)", s)
	}
	if v > ^uint64(0)/mult {
		return 0, fmt.Errorf("number %s does not fit in 64 bits", s)
	}
	return v * mult, nil
}

// evalRegion evaluates a region's ORIGIN and LENGTH; regions are the ones
// declared before it.
func (p *parser) evalRegion(m memRegion, regions map[string]*Region) (Region, error) {
	if prev, ok := regions[m.name.text]; ok {
		return Region{}, p.errorf(m.name.line, "region %s is declared twice (first at line %d)", m.name.text, prev.Line)
	}
	origin, err := p.eval(m.origin, regions, 0)
	if err != nil {
		return Region{}, err
	}
	length, err := p.eval(m.length, regions, 0)
	if err != nil {
		return Region{}, err
	}
	if origin+length < origin {
		return Region{}, p.errorf(m.name.line, "region %s: ORIGIN %#x + LENGTH %#x is past the end of a 64-bit address space", m.name.text, origin, length)
	}
	return Region{Name: m.name.text, Origin: origin, Length: length, Attributes: m.attrs, Line: m.name.line}, nil
}

// maxBits bounds the values inside an expression: far above any address,
// far below anything slow.
const maxBits = 128

// eval evaluates an expression exactly; its value must fit in 64 bits and
// not be negative (GNU ld computes in unsigned 64 bits: a value that is
// negative or wraps around is not followed).
func (p *parser) eval(n *node, regions map[string]*Region, depth int) (uint64, error) {
	v, err := p.evalBig(n, regions, depth)
	if err != nil {
		return 0, err
	}
	if v.Sign() < 0 || v.BitLen() > 64 {
		return 0, p.errorf(n.line, "the value %s is outside 0 to 2^64-1", v)
	}
	return v.Uint64(), nil
}

func (p *parser) evalBig(n *node, regions map[string]*Region, depth int) (*big.Int, error) {
	switch n.op {
	case "num":
		return new(big.Int).SetUint64(n.num), nil
	case "ORIGIN", "LENGTH":
		r, ok := regions[n.name]
		if !ok {
			return nil, p.errorf(n.line, "%s(%s): no region %s is declared before this point", n.op, n.name, n.name)
		}
		if n.op == "ORIGIN" {
			return new(big.Int).SetUint64(r.Origin), nil
		}
		return new(big.Int).SetUint64(r.Length), nil
	case "sym":
		return p.symbol(n, regions, depth)
	case "neg":
		a, err := p.evalBig(n.a, regions, depth)
		if err != nil {
			return nil, err
		}
		return a.Neg(a), nil
	}
	a, err := p.evalBig(n.a, regions, depth)
	if err != nil {
		return nil, err
	}
	b, err := p.evalBig(n.b, regions, depth)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "+":
		a.Add(a, b)
	case "-":
		a.Sub(a, b)
	case "*":
		a.Mul(a, b)
	case "/", "%":
		if b.Sign() == 0 {
			return nil, p.errorf(n.line, "division by zero")
		}
		if a.Sign() < 0 || b.Sign() < 0 {
			return nil, p.errorf(n.line, "%s of a negative value: GNU ld divides unsigned 64-bit values, which is not followed", n.op)
		}
		if n.op == "/" {
			a.Quo(a, b)
		} else {
			a.Rem(a, b)
		}
	}
	if a.BitLen() > maxBits {
		return nil, p.errorf(n.line, "a value in the expression is larger than %d bits", maxBits)
	}
	return a, nil
}

// symbol evaluates a top-level symbol the MEMORY block refers to, once
// (a chain of symbols that each use the next twice stays linear).
func (p *parser) symbol(n *node, regions map[string]*Region, depth int) (*big.Int, error) {
	a, ok := p.symbols[n.name]
	switch {
	case !ok:
		return nil, p.errorf(n.line, "symbol %s is not assigned at the top level of this script (--defsym, PROVIDE and INCLUDEd files are not followed)", n.name)
	case a.problem != "":
		return nil, p.errorf(n.line, "symbol %s (line %d) is not followed: %s", n.name, a.line, a.problem)
	case a.value != nil:
		return new(big.Int).Set(a.value), nil
	case a.evaluating:
		return nil, p.errorf(n.line, "symbol %s: its assignment refers back to itself", n.name)
	}
	a.evaluating = true
	v, err := p.evalBig(a.expr, regions, depth+1)
	a.evaluating = false
	if err != nil {
		return nil, err
	}
	a.value = new(big.Int).Set(v)
	return v, nil
}

// noMemory is the error for a script without a MEMORY block.
func (p *parser) noMemory() error {
	why := "no MEMORY block"
	if len(p.includes) > 0 {
		why += " (it INCLUDEs " + strings.Join(p.includes, ", ") + ", which is not followed: give the file with the MEMORY block)"
	}
	return &Error{File: p.file, Problem: why}
}
