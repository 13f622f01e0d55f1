package report

import (
	"fmt"
	"io"
	"strings"
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
	width := map[int]int{}
	for _, r := range t.rows {
		for i, c := range r {
			if n := utf8.RuneCountInString(c); n > width[i] {
				width[i] = n
			}
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		b.WriteString(t.indent)
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := width[i] - utf8.RuneCountInString(c)
			last := i == len(r)-1
			switch {
			case i < len(t.right) && t.right[i]:
				b.WriteString(strings.Repeat(" ", pad) + c)
			case last:
				b.WriteString(c)
			default:
				b.WriteString(c + strings.Repeat(" ", pad))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
