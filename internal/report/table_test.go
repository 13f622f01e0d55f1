package report

import (
	"bytes"
	"io"
	"testing"
	"unicode/utf8"
)

// referenceTableWrite is table.write as it was before its scratch and
// its skipping of a row's trailing empty cells: every cell padded, each
// line trimmed.
func referenceTableWrite(t *table, w io.Writer) {
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
	for _, r := range t.rows {
		line := []byte(t.indent)
		for i, c := range r {
			if i > 0 {
				line = append(line, "  "...)
			}
			pad := width[i] - utf8.RuneCountInString(c)
			switch {
			case i < len(t.right) && t.right[i]:
				line = append(line, bytes.Repeat([]byte{' '}, pad)...)
				line = append(line, c...)
			case i == len(r)-1:
				line = append(line, c...)
			default:
				line = append(line, c...)
				line = append(line, bytes.Repeat([]byte{' '}, pad)...)
			}
		}
		w.Write(append(bytes.TrimRight(line, " "), '\n'))
	}
}

// TestTableIsReference: a table, new or reused, writes what every cell
// padded and each line trimmed writes: rows of different lengths, empty
// cells last, in the middle and right-aligned, names with spaces at
// their end, runes of several bytes and pads longer than one copy of
// the spaces.
func TestTableIsReference(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), 150))
	tables := [][][]string{
		{{"FRAME", "DEPTH", "FUNCTION", "SOURCE"}, {"16 B", "16 B", "main", ""}, {"dynamic", "1.2 KiB", "f (tail call)", "a.c:3"}, {"8 B", "", "g ", ""}},
		{{"", "", "", ""}, {"≥ 1 B", "", "", "x"}, {"2 B", "3 B"}, {long, "1", "", ""}, {"é", "", "ü  ", ""}},
		{{"a"}, {"", "b"}, {"", "", "c", " "}, {"1", long + "é", "", ""}},
	}
	reused := newTable("    ", true, true, false, false)
	for i, rows := range tables {
		fresh := newTable("  ", true, true, false, false)
		ref := newTable("  ", true, true, false, false)
		reused.reset()
		reused.indent = "  "
		for _, r := range rows {
			fresh.row(r...)
			ref.row(r...)
			reused.row(r...)
		}
		var want, got, again bytes.Buffer
		referenceTableWrite(ref, &want)
		fresh.write(&got)
		reused.write(&again)
		if got.String() != want.String() {
			t.Errorf("table %d:\n%q\nwant\n%q", i, got.String(), want.String())
		}
		if again.String() != want.String() {
			t.Errorf("table %d, reused:\n%q\nwant\n%q", i, again.String(), want.String())
		}
	}
}
