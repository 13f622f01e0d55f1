package report

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// table prints aligned columns: numbers right-aligned, text left-aligned,
// two spaces between columns, the last column never padded. tabwriter
// aligns every column the same way, which puts long names far right.
type table struct {
	indent string
	right  []bool // per column: right-aligned
	rows   [][]string
	// Scratch kept when a table is reused (reset): each cell's width in
	// runes, the columns' widths, the line being built. libLLVM-15's
	// report writes 36,687 path tables; counting each cell's runes twice
	// and padding a byte at a time were most of their time.
	counts []int
	width  []int
	line   []byte
}

func newTable(indent string, right ...bool) *table { return &table{indent: indent, right: right} }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

// reset empties the table for its next rows, keeping its scratch.
func (t *table) reset() { t.rows = t.rows[:0] }

func (t *table) write(w io.Writer) {
	counts, width := t.counts[:0], t.width[:0]
	for _, r := range t.rows {
		for i, c := range r {
			if i == len(width) {
				width = append(width, 0)
			}
			n := utf8.RuneCountInString(c)
			counts = append(counts, n)
			if n > width[i] {
				width[i] = n
			}
		}
	}
	// One line at a time in one buffer: libLLVM-15's report has 36,687
	// path tables, and a string per cell and per line was a tenth of
	// the run's allocation.
	line := t.line
	k := 0
	for _, r := range t.rows {
		line = append(line[:0], t.indent...)
		// The empty cells that end a row add only spaces, which the
		// trim below takes off again: left out.
		end := len(r)
		for end > 0 && r[end-1] == "" {
			end--
		}
		for i, c := range r[:end] {
			if i > 0 {
				line = append(line, "  "...)
			}
			pad := width[i] - counts[k+i]
			last := i == len(r)-1
			switch {
			case i < len(t.right) && t.right[i]:
				line = appendSpaces(line, pad)
				line = append(line, c...)
			case last:
				line = append(line, c...)
			default:
				line = append(line, c...)
				line = appendSpaces(line, pad)
			}
		}
		k += len(r)
		line = append(bytes.TrimRight(line, " "), '\n')
		w.Write(line)
	}
	t.counts, t.width, t.line = counts, width, line
}

// spaces is what appendSpaces copies from.
const spaces = "                                                                "

func appendSpaces(b []byte, n int) []byte {
	for n > len(spaces) {
		b = append(b, spaces...)
		n -= len(spaces)
	}
	if n > 0 {
		b = append(b, spaces[:n]...)
	}
	return b
}
