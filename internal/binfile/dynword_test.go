package binfile

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestDynamicWordRELR: a shared object linked with packed relative
// relocations (-z pack-relative-relocs, as glibc links ld.so) keeps its
// pointers to itself in .relr.dyn; DynamicWord says each word readelf
// lists there is relocated, to the function the file's word names, and
// that a word next to them that nothing relocates is not.
func TestDynamicWordRELR(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	readelf := testutil.RequireTool(t, "readelf")
	dir := t.TempDir()
	src := filepath.Join(dir, "relr.c")
	// 9 consecutive pointers (an address, then a bitmap), and 3 spread
	// over 70 words (a second bitmap, 63 words on).
	os.WriteFile(src, []byte(`static int a(int x){return x+1;}
static int b(int x){return x*2;}
static int c(int x){return x-3;}
int (*const table[])(int) = {a, b, c, a, b, c, a, b, c};
int (*table2[70])(int) = {a, [5]=b, [66]=c};
long plain[2] = {1, 2};
`), 0o644)
	so := filepath.Join(dir, "relr.so")
	testutil.Run(t, dir, gcc, "-shared", "-fPIC", "-O2", "-Wl,-z,pack-relative-relocs", "-o", so, src)
	out := testutil.Run(t, dir, readelf, "-r", "-W", so)
	_, relr, ok := strings.Cut(out, "'.relr.dyn'")
	if !ok {
		t.Skip("SKIPPED: this linker does not pack relative relocations (no .relr.dyn)")
	}
	var offsets []uint64
	for _, line := range strings.Split(relr, "\n")[2:] {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "Relocation section") {
			break
		}
		v, err := strconv.ParseUint(line, 16, 64)
		if err != nil {
			t.Fatalf("readelf line %q", line)
		}
		offsets = append(offsets, v)
	}
	f, err := Open(so)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	funcs := map[uint64]string{}
	for _, fn := range f.Functions {
		funcs[fn.Addr] = fn.Name()
	}
	inTables := 0
	for _, off := range offsets {
		v, relocated, known := f.DynamicWord(off)
		if !relocated || !known {
			t.Errorf("word %#x: relocated %v known %v, want both (readelf lists it in .relr.dyn)", off, relocated, known)
			continue
		}
		if name := funcs[v]; name == "a" || name == "b" || name == "c" {
			inTables++
		}
	}
	if inTables != 12 {
		t.Errorf("%d of the RELR words name a, b or c, want the 12 pointers of table and table2", inTables)
	}
	for _, s := range f.Symbols() {
		switch s.Name {
		case "plain":
			if _, relocated, _ := f.DynamicWord(s.Value); relocated {
				t.Errorf("plain[0] at %#x: relocated, want a word no relocation writes", s.Value)
			}
		case "table":
			// 8 bytes astride two pointers: relocated, no one value.
			if _, relocated, known := f.DynamicWord(s.Value + 4); !relocated || known {
				t.Errorf("table+4: relocated %v known %v, want relocated, not known", relocated, known)
			}
		}
	}
}
