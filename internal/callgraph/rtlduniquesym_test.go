package callgraph

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestFieldFedFrom: the shape check of do_lookup_x's tab->free call
// (rtlduniquesym.go), on functions GCC compiles here in the shape of
// glibc's (call the field, then store a word's value into it): accepted
// when every store into the field is a load of the word (freeWord),
// refused when a store writes a parameter (freeParam), another word
// (freeOther), or when the field is written by a wider store the check
// cannot read as a word's load (a struct copy, freeCopy). The call site
// of each is the one `call *off(%reg)` objdump shows in it.
func TestFieldFedFrom(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	src := filepath.Join(dir, "tab.c")
	os.WriteFile(src, []byte(`
struct tab { void *entries; long size, n; void (*free)(void *); };
void (*word)(void *);
void (*other)(void *);
__attribute__((noinline)) void freeWord(struct tab *t, void *p) { t->free(t->entries); t->entries = p; t->free = word; }
__attribute__((noinline)) void freeParam(struct tab *t, void *p, void (*f)(void *)) { t->free(t->entries); t->entries = p; t->free = f; }
__attribute__((noinline)) void freeOther(struct tab *t, void *p) { t->free(t->entries); t->entries = p; t->free = word; if (p == 0) t->free = other; }
__attribute__((noinline)) void freeCopy(struct tab *t, const struct tab *from) { t->free(t->entries); *t = *from; }
int main(void) { return 0; }
`), 0o644)
	prog := filepath.Join(dir, "tab")
	testutil.Run(t, dir, gcc, "-O2", "-o", prog, src)
	f, err := binfile.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	g := Build(f, x86.Decoder{}, Options{StackAlign: 16})
	m := g.Modules[0]
	var word uint64
	for _, s := range f.Symbols() {
		if s.Name == "word" {
			word = s.Value
		}
	}
	if word == 0 {
		t.Fatal("no symbol word")
	}
	callRE := regexp.MustCompile(`(?m)^\s*([0-9a-f]+):\s+call\s+\*(0x[0-9a-f]+)\(%r[a-z0-9]+\)\s*$`)
	for _, c := range []struct {
		name string
		want bool
	}{{"freeWord", true}, {"freeParam", false}, {"freeOther", false}, {"freeCopy", false}} {
		fn, ok := f.Lookup(c.name)
		if !ok {
			t.Fatalf("no function %s", c.name)
		}
		fi, _ := f.FunctionIndex(fn.Addr)
		n := g.Nodes[g.nodeFor(m, fi)]
		out := testutil.Run(t, dir, objdump, "-d", "--no-show-raw-insn", "--start-address="+strconv.FormatUint(fn.Addr, 10),
			"--stop-address="+strconv.FormatUint(fn.Addr+fn.Size, 10), prog)
		calls := callRE.FindAllStringSubmatch(out, -1)
		if len(calls) != 1 {
			t.Fatalf("%s: objdump shows %d calls through a field, want 1:\n%s", c.name, len(calls), out)
		}
		site, _ := strconv.ParseUint(calls[0][1], 16, 64)
		off, _ := strconv.ParseInt(calls[0][2], 0, 64)
		gotOff, stores, ok := g.fieldFedFrom(n, site, word)
		if ok != c.want || ok && gotOff != off {
			t.Errorf("%s: fieldFedFrom = +%#x, %d stores, %v; want %v at +%#x (objdump):\n%s", c.name, gotOff, stores, ok, c.want, off, out)
		}
	}
}
