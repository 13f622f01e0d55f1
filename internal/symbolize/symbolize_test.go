package symbolize

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

const src = `
struct pt { int x, y; };
__attribute__((noinline)) int work(int n) {
	char name[16];
	float samples[10];
	struct pt pts[3];
	int scalar = n;
	for (int i = 0; i < 10; i++) samples[i] = (float)(i * n);
	name[0] = (char)n;
	pts[1].x = n;
	return (int)samples[n % 10] + name[0] + pts[1].x + scalar;
}
int main(int argc, char **argv) { (void)argv; return work(argc); }
`

func TestSymbolsLinesArrays(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	c := filepath.Join(dir, "prog.c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, gcc, "-O0", "-g", "-o", "prog", "prog.c")
	f, err := Open(filepath.Join(dir, "prog"))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := f.FindSymbol("work")
	if !ok || s.Size == 0 {
		t.Fatalf("work: %+v %v", s, ok)
	}
	got, ok := f.Lookup(s.Value + s.Size/2)
	if !ok || got.Name != "work" {
		t.Errorf("Lookup inside work: %+v %v", got, ok)
	}
	if got, ok := f.Lookup(s.Value + s.Size); ok && got.Name == "work" {
		t.Errorf("Lookup past the end of work still says work")
	}
	file, line, ok := f.Line(s.Value + s.Size/2)
	if !ok || file != "prog.c" || line < 3 || line > 12 {
		t.Errorf("Line: %s:%d %v", file, line, ok)
	}
	fn, arrays := f.LocalArrays(s.Value + 4)
	if fn != "work" {
		t.Errorf("function %q", fn)
	}
	var names []string
	for _, a := range arrays {
		names = append(names, a.Type+" "+a.Name)
	}
	joined := strings.Join(names, ", ")
	for _, want := range []string{"char[16] name", "float[10] samples", "struct pt[3] pts"} {
		if !strings.Contains(joined, want) {
			t.Errorf("arrays %q lack %q", joined, want)
		}
	}
	if strings.Contains(joined, "scalar") {
		t.Errorf("a scalar listed as an array: %q", joined)
	}
}

func TestDemangle(t *testing.T) {
	for in, want := range map[string]string{
		"_ZN3geo6Walker4stepEi":                  "geo::Walker::step",
		"_ZN4core3fmt5write17h0123456789abcdefE": "core::fmt::write",
		"main":                                   "main",
		"_RNvCs1234_7mycrate3foo":                "mycrate::foo",
	} {
		if got := Demangle(in); got != want {
			t.Errorf("Demangle(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenBadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(p, []byte("\x7fELF\x02\x01\x01junkjunkjunk"), 0o644)
	if _, err := Open(p); err == nil {
		t.Errorf("Open of a truncated ELF succeeded")
	}
}
