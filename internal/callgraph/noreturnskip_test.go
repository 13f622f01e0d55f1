package callgraph

import (
	"debug/elf"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestReadNoReturnSkipping: readNoReturnSkipping finds exactly the
// addresses ReadNoReturn finds, in a program built at test time from two
// units (one declares a _Noreturn function, the other has none), as
// DWARF 4 and 5, and in /usr/bin/node when it is there (111 units). The
// program's noreturn function is found (its address from the symbol
// table), and in DWARF 4 most entries are passed by.
func TestReadNoReturnSkipping(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	a := "#include <stdlib.h>\n_Noreturn void die(int c) { exit(c); }\nint f(int x) { if (x) die(x); return 1; }\n"
	b := "int f(int);\nstatic int g(int x) { return x * 2; }\nint main(int argc, char **argv) { (void)argv; return f(argc) + g(argc); }\n"
	for name, src := range map[string]string{"a.c": a, "b.c": b} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var paths []string
	for _, v := range []string{"-gdwarf-4", "-gdwarf-5"} {
		bin := filepath.Join(dir, "p"+v)
		testutil.Run(t, dir, gcc, "-O1", v, "-fno-inline", "-o", bin, "a.c", "b.c")
		paths = append(paths, bin)
	}
	if _, err := os.Stat("/usr/bin/node"); err == nil {
		paths = append(paths, "/usr/bin/node")
	}
	for i, path := range paths {
		f, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		d, err := f.DWARF()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		want, got := map[uint64]bool{}, map[uint64]bool{}
		ReadNoReturn(d, want)
		sc := noReturnScanner(f)
		if sc == nil {
			t.Fatalf("%s: no scanner", path)
		}
		decoded := readNoReturnSkipping(d, sc, got)
		if !maps.Equal(got, want) {
			t.Errorf("%s: skipping read %v, ReadNoReturn %v", path, got, want)
		}
		entries := 0
		for r := d.Reader(); ; entries++ {
			if e, err := r.Next(); err != nil || e == nil {
				break
			}
		}
		t.Logf("%s: %d of %d entries decoded, %d units, %d noreturn", path, decoded, entries, len(sc.units), len(want))
		if i == 0 {
			// DWARF 4: the units' first entries and die's decoded, and
			// at most a few more.
			if decoded < 0 || decoded > entries/2 {
				t.Errorf("%s: %d of %d entries decoded", path, decoded, entries)
			}
			syms, _ := f.Symbols()
			found := false
			for _, s := range syms {
				if s.Name == "die" {
					found = want[s.Value]
				}
			}
			if !found {
				t.Errorf("%s: die's DW_AT_noreturn not read", path)
			}
		}
	}
}
