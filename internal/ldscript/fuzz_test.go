package ldscript

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: on any input the parser returns regions or one error naming
// the file and a line of it, never panics; the regions it returns are
// consistent and read back the same when written out again. The seed
// corpus is every script in testdata plus the Go fuzzer's finds in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	scripts, _ := filepath.Glob("testdata/*.ld")
	for _, s := range scripts {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"MEMORY { R (rw!x) : o = 0, l = 1K }",
		"A = (1 + 2) * 3 % 4 / 1; MEMORY { R : ORIGIN = A, LENGTH = -(-A) }",
		"MEMORY { R : ORIGIN = 0, LENGTH = 1K } MEMORY { S : ORIGIN = ORIGIN(R) + LENGTH(R), LENGTH = 4M }",
		"SECTIONS { x = 1; } MEMORY { R : ORIGIN = x, LENGTH = 1 }",
		"/* unclosed",
		"MEMORY { \"R\" : ORIGIN = 0 }",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		regions, err := Parse("fuzz.ld", src)
		if err != nil {
			checkError(t, err, src)
			return
		}
		checkRegions(t, regions)
		again, err := Parse("again.ld", format(regions))
		if err != nil {
			t.Fatalf("written back: %v\n%s", err, format(regions))
		}
		if fmt.Sprint(stripLines(again)) != fmt.Sprint(stripLines(regions)) {
			t.Fatalf("written back: %+v, was %+v", again, regions)
		}
	})
}

func checkError(t *testing.T, err error, src []byte) {
	t.Helper()
	var le *Error
	if !errors.As(err, &le) {
		t.Fatalf("error %T %v is not an *Error", err, err)
	}
	lines := bytes.Count(src, []byte("\n")) + 1
	if le.File != "fuzz.ld" || le.Line < 0 || le.Line > lines || le.Problem == "" || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %q (line %d of %d)", err, le.Line, lines)
	}
}

func checkRegions(t *testing.T, regions []Region) {
	t.Helper()
	if len(regions) == 0 {
		t.Fatal("no regions and no error")
	}
	seen := map[string]bool{}
	for _, r := range regions {
		if seen[r.Name] || r.Name == "" || r.End() < r.Origin || r.Line < 1 {
			t.Fatalf("region %+v", r)
		}
		seen[r.Name] = true
		if a, err := ParseAttributes(r.Attributes); err != nil || a != r.Attributes {
			t.Fatalf("region %+v: attributes %v", r, err)
		}
	}
}

// format writes regions as a MEMORY block.
func format(regions []Region) []byte {
	var b bytes.Buffer
	b.WriteString("MEMORY\n{\n")
	for _, r := range regions {
		attrs := ""
		if r.Attributes != "" {
			attrs = " (" + r.Attributes + ")"
		}
		fmt.Fprintf(&b, "  %s%s : ORIGIN = %#x, LENGTH = %#x\n", r.Name, attrs, r.Origin, r.Length)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func stripLines(regions []Region) []Region {
	out := append([]Region(nil), regions...)
	for i := range out {
		out[i].Line = 0
	}
	return out
}
