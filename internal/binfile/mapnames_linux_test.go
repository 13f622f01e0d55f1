package binfile

import (
	"bufio"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/stackscope/stackscope/internal/cfi"
)

// mappingOf is the file /proc/self/maps names for the mapping that
// holds addr ("" when none does or the mapping is anonymous).
func mappingOf(t *testing.T, addr uintptr) string {
	t.Helper()
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	defer maps.Close()
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		var lo, hi uintptr
		if _, err := fmt.Sscanf(sc.Text(), "%x-%x", &lo, &hi); err != nil || addr < lo || addr >= hi {
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			return ""
		}
		return fields[5]
	}
	return ""
}

// openMapped opens path (skipping the test when it is missing) and
// returns it with the file its mappings name (path, symbolic links
// followed). The caller closes it.
func openMapped(t *testing.T, path string) (*File, string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skip(err)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return f, real
}

// TestSymbolNamesMappedPastClose: the names of .symtab and .dynsym are
// pieces of a mapping of the file (not copies on the heap), one that
// Close leaves: every name reads the same after Close unmapped the
// file's own mapping. (A name in that mapping would fault here.)
func TestSymbolNamesMappedPastClose(t *testing.T) {
	for _, path := range []string{"/usr/bin/node", "/usr/lib/x86_64-linux-gnu/libc.so.6"} {
		t.Run(path, func(t *testing.T) {
			f, real := openMapped(t, path)
			dyn, err := f.DynamicSymbols()
			if err != nil {
				t.Fatal(err)
			}
			var names []elf.Symbol
			if f.DebugSymbols == "" { // (libc's come from libc6-dbg's file)
				names = append(names, f.symbols...)
			}
			names = append(names, dyn...)
			copies := make([]string, len(names))
			mapped := 0
			for i, s := range names {
				copies[i] = strings.Clone(s.Name)
				if s.Name != "" && mapped < 3 {
					if m := mappingOf(t, uintptr(unsafe.Pointer(unsafe.StringData(s.Name)))); m != real {
						t.Fatalf("name %q is in mapping %q, not in one of %s", s.Name, m, real)
					}
					mapped++
				}
			}
			if mapped == 0 {
				t.Fatal("no named symbol")
			}
			f.Close()
			for i, s := range names {
				if s.Name != copies[i] {
					t.Fatalf("symbol %d after Close: %q, was %q", i, s.Name, copies[i])
				}
			}
		})
	}
}

// TestCFIMappedPastClose: the CFI table Open reads from a lasting
// mapping of .eh_frame (lastingData) answers as one read from a copy
// (cfi.Load), before and after Close, at each function's first bytes;
// its entries lie in a mapping of the file, not on the heap.
func TestCFIMappedPastClose(t *testing.T) {
	for _, path := range []string{"/usr/bin/node", "/usr/lib/x86_64-linux-gnu/libc.so.6"} {
		t.Run(path, func(t *testing.T) {
			f, real := openMapped(t, path)
			eh := f.ELF.Section(".eh_frame")
			if eh == nil {
				t.Skip("no .eh_frame")
			}
			b, ok := f.lastingSection(eh)
			if !ok {
				t.Fatal(".eh_frame not mapped")
			}
			if m := mappingOf(t, uintptr(unsafe.Pointer(unsafe.SliceData(b)))); m != real {
				t.Fatalf(".eh_frame read in mapping %q, not in one of %s", m, real)
			}
			want, err := cfi.Load(f.ELF)
			if err != nil || want.Len() != f.CFI.Len() || want.Len() == 0 {
				t.Fatalf("cfi.Load: %d entries, %v; Open's table: %d", want.Len(), err, f.CFI.Len())
			}
			var pcs []uint64
			for _, fn := range f.Functions {
				pcs = append(pcs, fn.Addr, fn.Addr+1, fn.Addr+4)
			}
			f.Close()
			for _, pc := range pcs {
				n, ok := f.CFI.CFAOffset(pc)
				wn, wok := want.CFAOffset(pc)
				if n != wn || ok != wok {
					t.Fatalf("CFA offset at %#x after Close: %d, %v; cfi.Load's: %d, %v", pc, n, ok, wn, wok)
				}
			}
		})
	}
}

// TestLastingMapsBounded: past maxLastingMaps mappings in the process,
// Open copies the names instead of mapping them (a process has a bounded
// number of mappings, and Go's heap needs its own), and they are the
// same names.
func TestLastingMapsBounded(t *testing.T) {
	const path = "/usr/lib/x86_64-linux-gnu/libc.so.6"
	if _, err := os.Stat(path); err != nil {
		t.Skip(err)
	}
	was := lastingMaps.Swap(maxLastingMaps)
	defer lastingMaps.Store(was)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dyn, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	want, err := f.ELF.DynamicSymbols()
	if err != nil || len(want) != len(dyn) {
		t.Fatalf("debug/elf: %d symbols (%v), Open's %d", len(want), err, len(dyn))
	}
	checked := 0
	for i, s := range dyn {
		if s.Name != want[i].Name {
			t.Fatalf("symbol %d: %q, debug/elf's %q", i, s.Name, want[i].Name)
		}
		if s.Name != "" && checked < 3 {
			if m := mappingOf(t, uintptr(unsafe.Pointer(unsafe.StringData(s.Name)))); strings.HasPrefix(m, "/") {
				t.Fatalf("name %q is in a mapping of %s past the bound", s.Name, m)
			}
			checked++
		}
	}
}
