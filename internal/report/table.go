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
}

func newTable(indent string, right ...bool) *table { return &table{indent: indent, right: right} }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	var width []int
	for _, r := range t.rows {
		for i, c := range r {
			if i == len(width) {
				width = append(width, 0)
			}
			if n := utf8.RuneCountInString(c); n > width[i] {
				width[i] = n
			}
		}
	}
	// One line at a time in one buffer: libLLVM-15's report has 36,687
	// path tables, and a string per cell and per line was a tenth of
	// the run's allocation.
	var line []byte
	for _, r := range t.rows {
		line = append(line[:0], t.indent...)
		for i, c := range r {
			if i > 0 {
				line = append(line, "  "...)
			}
			pad := width[i] - utf8.RuneCountInString(c)
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
		line = append(bytes.TrimRight(line, " "), '\n')
		w.Write(line)
	}
}

func appendSpaces(b []byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, ' ')
	}
	return b
}
