package analysis

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestNamesOnDemand: with Options.NamesOnDemand (the analyze command's
// text report) and ResultOnly, on a C++ program compiled here, every
// function of the list has its name through DisplayName, the same name
// as without the option, and no Name or Calls;
// and, once Name and Calls are filled in from a run without the option,
// the result model is the same to the byte of its JSON.
func TestNamesOnDemand(t *testing.T) {
	gxx := testutil.RequireTool(t, "g++")
	dir := t.TempDir()
	src := `#include <cstdio>
#include <vector>
namespace shapes {
struct Shape { virtual ~Shape() {} virtual double area() const = 0; };
struct Square : Shape { double s; explicit Square(double s) : s(s) {} double area() const override { return s * s; } };
template <typename T> T total(const std::vector<T> &v) { T t = 0; for (auto x : v) t += x; return t; }
}
extern "C" int plain_c(int x) { char buf[64]; snprintf(buf, sizeof buf, "%d", x); return buf[0]; }
int main(int argc, char **argv) {
	shapes::Square sq(argc);
	const shapes::Shape &s = sq;
	std::vector<double> v{s.area(), 2.0};
	printf("%f %d\n", shapes::total(v), plain_c(argc));
	return 0;
}
`
	if err := os.WriteFile(filepath.Join(dir, "shapes.cc"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, gxx, "-O1", "-o", "shapes", "shapes.cc")
	prog := filepath.Join(dir, "shapes")

	eager, err := Run(prog, Options{ResultOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	lazy, err := Run(prog, Options{ResultOnly: true, NamesOnDemand: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(lazy.Functions) != len(eager.Functions) {
		t.Fatalf("%d functions, %d without NamesOnDemand", len(lazy.Functions), len(eager.Functions))
	}
	cxx := 0
	for i := range lazy.Functions {
		l, e := &lazy.Functions[i], &eager.Functions[i]
		if l.Name != "" || l.Calls != nil {
			t.Errorf("%s: NamesOnDemand left Name %q and Calls %v", e.Name, l.Name, l.Calls)
		}
		if got := l.DisplayName(); got != e.Name || e.DisplayName() != e.Name {
			t.Errorf("function at %#x: DisplayName %q (%q without NamesOnDemand), Name %q", e.Addr, got, e.DisplayName(), e.Name)
		}
		if strings.Contains(e.Name, "::") {
			cxx++
		}
		l.Name, l.Calls = e.Name, e.Calls
	}
	if cxx == 0 {
		t.Fatal("no C++ name among the functions: the test tests nothing")
	}
	want, err := json.Marshal(eager)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(lazy)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("with the names filled in, NamesOnDemand's JSON differs (%d bytes, %d without it)", len(got), len(want))
	}
}
