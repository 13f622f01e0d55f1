package threads

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
)

// TestKnownNamesAreShort: nodeNames leaves out names longer than
// maxKnownName, so every name its callers look for must be shorter: the
// tables' keys and every string a case of this package's code compares
// with.
func TestKnownNamesAreShort(t *testing.T) {
	var names []string
	for k := range creatorKind {
		names = append(names, k)
	}
	for k := range allocators {
		names = append(names, k)
	}
	for k := range attrPreserving {
		names = append(names, k)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	cases := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if c, ok := n.(*ast.CaseClause); ok {
				for _, e := range c.List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						names = append(names, s)
						cases++
					}
				}
			}
			return true
		})
	}
	if cases < 8 {
		t.Fatalf("%d case strings found: the pthread_attr functions' cases are not seen", cases)
	}
	for _, n := range names {
		if len(n) > maxKnownName {
			t.Errorf("%q is longer than maxKnownName (%d): nodeNames would never give it", n, maxKnownName)
		}
		if (&binfile.Function{LinkName: n}).LinkMangled() {
			t.Errorf("%q is a mangled name: nodeNames passes over mangled link names", n)
		}
	}
}

// TestKnownBaseIsBaseName: knownBase is baseName wherever that is short
// enough, and says no wherever it is not, with the '@' anywhere, first,
// at the limit, past it, or nowhere.
func TestKnownBaseIsBaseName(t *testing.T) {
	long := strings.Repeat("x", maxKnownName)
	for _, n := range []string{
		"", "@", "@x", "pthread_create", "pthread_create@GLIBC_2.34", "pthread_create@@GLIBC_2.34",
		long, long + "x", long[1:] + "@v", long + "@v", long[1:] + "x@v", long + "x@v", "@" + long, "@" + long[1:],
		"malloc@plt@x", "v8::base::Thread::Start()@x", strings.Repeat("y", 3*maxKnownName) + "@z",
	} {
		want := baseName(n)
		got, ok := knownBase(n)
		if len(want) <= maxKnownName {
			if !ok || got != want {
				t.Errorf("knownBase(%q) = %q, %v; want %q, true", n, got, ok, want)
			}
		} else if ok {
			t.Errorf("knownBase(%q) = %q, true; want false (baseName %d bytes)", n, got, len(want))
		}
	}
}
