package binfile

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// withoutVersions is what mappedSymbols reads of .dynsym: debug/elf's
// DynamicSymbols also fills the version fields from the version tables.
func withoutVersions(syms []elf.Symbol) []elf.Symbol {
	out := make([]elf.Symbol, len(syms))
	for i, s := range syms {
		out[i] = elf.Symbol{Name: s.Name, Info: s.Info, Other: s.Other, Section: s.Section, Value: s.Value, Size: s.Size}
	}
	return out
}

// sameSymbolsAsDebugELF checks that the symbols mappedSymbols reads from
// f are what debug/elf reads (.symtab: all of each symbol; .dynsym: all
// but the version), and returns which of the two it read itself.
func sameSymbolsAsDebugELF(t *testing.T, f *File) (symtab, dynsym bool) {
	t.Helper()
	syms, symtab := f.mappedSymbols(elf.SHT_SYMTAB)
	if symtab {
		want, err := f.ELF.Symbols()
		if err != nil {
			t.Fatalf(".symtab: read %d symbols, debug/elf: %v", len(syms), err)
		}
		if !reflect.DeepEqual(syms, want) {
			t.Fatalf(".symtab: %d symbols differ from debug/elf's %d", len(syms), len(want))
		}
	}
	dyn, dynsym := f.mappedSymbols(elf.SHT_DYNSYM)
	if dynsym {
		want, err := f.ELF.DynamicSymbols()
		if err == nil && !reflect.DeepEqual(dyn, withoutVersions(want)) {
			t.Fatalf(".dynsym: %d symbols differ from debug/elf's %d", len(dyn), len(want))
		}
	}
	return symtab, dynsym
}

// TestMappedSymbolsMatchDebugELF: on real files, the symbols read from
// the mapped file are debug/elf's, name for name; node's .symtab (110,000
// symbols) and the libraries' .dynsym are read from the mapping, a file
// without .symtab (stripped) and a 32-bit one are left to debug/elf, and
// Open's functions come from the same symbols either way.
func TestMappedSymbolsMatchDebugELF(t *testing.T) {
	for _, c := range []struct {
		path           string
		symtab, dynsym bool // read from the mapping
	}{
		{"/usr/bin/node", true, true},
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", false, true},
		{"/usr/lib/x86_64-linux-gnu/libstdc++.so.6", false, true},
		{"/usr/bin/true", false, true}, // stripped
		{"../../examples/firmware/firmware.elf", false, false},
	} {
		t.Run(c.path, func(t *testing.T) {
			if _, err := os.Stat(c.path); err != nil {
				t.Skip(err)
			}
			checkMappedSymbols(t, c.path, c.symtab, c.dynsym)
		})
	}
}

// checkMappedSymbols opens path and checks that the symbols read from the
// mapping are debug/elf's, that .symtab and .dynsym were (or were not)
// read from the mapping as wanted, and that Open kept those symbols with
// their '@' marks right. It returns the symbols symtabSymbols read.
func checkMappedSymbols(t *testing.T, path string, wantSymtab, wantDynsym bool) []elf.Symbol {
	t.Helper()
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	symtab, dynsym := sameSymbolsAsDebugELF(t, f)
	if symtab != wantSymtab || dynsym != wantDynsym {
		t.Errorf("read from the mapping: .symtab %v, .dynsym %v; want %v, %v", symtab, dynsym, wantSymtab, wantDynsym)
	}
	got, versioned, err := f.symtabSymbols()
	if !reflect.DeepEqual(got, f.symbols) && err == nil && f.DebugSymbols == "" {
		t.Errorf("Open kept other symbols than symtabSymbols reads")
	}
	if (versioned != nil) != wantSymtab {
		t.Errorf("names with an '@' known: %v; want %v", versioned != nil, wantSymtab)
	}
	for i, v := range versioned {
		if v != strings.Contains(got[i].Name, "@") {
			t.Fatalf("symbol %d, %q: has an '@': %v", i, got[i].Name, v)
		}
	}
	return got
}

// TestMappedSymbolsOfBuiltLibrary: the .symtab path on a file built here
// (node, the real file above, is not on every machine): a shared object
// with versioned definitions, whose .symtab names carry '@' and '@@'.
// Its symbols are debug/elf's, the '@' marks are right, and Open folds
// the two versions of f to the link name f with the versioned names as
// aliases, as it did through debug/elf.
func TestMappedSymbolsOfBuiltLibrary(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "lib.c"), []byte(`int old_f(void) { return 1; }
int new_f(void) { return 2; }
int plain(int x) { return x * 3; }
__asm__(".symver old_f,f@V1");
__asm__(".symver new_f,f@@V2");
`), 0o644)
	os.WriteFile(filepath.Join(dir, "lib.map"), []byte("V1 { global: f; plain; local: *; };\nV2 { global: f; } V1;\n"), 0o644)
	testutil.Run(t, dir, gcc, "-O2", "-shared", "-fPIC", "-Wl,--version-script=lib.map", "-o", "lib.so", "lib.c")
	path := filepath.Join(dir, "lib.so")
	syms := checkMappedSymbols(t, path, true, true)
	at := 0
	for _, s := range syms {
		if strings.Contains(s.Name, "@") {
			at++
		}
	}
	if at < 2 {
		t.Fatalf("%d names with an '@' in the built library's .symtab, want f@V1 and f@@V2", at)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, name := range []string{"f@V1", "f@@V2"} {
		found := false
		for _, fn := range f.Functions {
			if slices.Contains(fn.Aliases, name) {
				found = fn.LinkName == "f"
			}
		}
		if !found {
			t.Errorf("no function with link name f and alias %q", name)
		}
	}
}

// TestMappedSymbolsLeftToDebugELF: a file not mapped is read by debug/elf.
func TestMappedSymbolsLeftToDebugELF(t *testing.T) {
	path := "/usr/bin/node"
	ef, err := elf.Open(path)
	if err != nil {
		t.Skip(err)
	}
	defer ef.Close()
	f := &File{ELF: ef} // not mapped
	if _, ok := f.mappedSymbols(elf.SHT_SYMTAB); ok {
		t.Fatal("read the symbols of a file that is not mapped")
	}
	got, versioned, err := f.symtabSymbols()
	want, werr := ef.Symbols()
	if err != nil || werr != nil || !reflect.DeepEqual(got, want) || versioned != nil {
		t.Fatalf("symtabSymbols without a mapping: %d symbols (%v), debug/elf %d (%v)", len(got), err, len(want), werr)
	}
}

// FuzzMappedSymbols: on mutated ELF64 files, whatever mappedSymbols
// reads is what debug/elf reads (seeds in testdata/fuzz/FuzzMappedSymbols:
// a small static program with .symtab and .dynsym).
func FuzzMappedSymbols(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		ef, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			return
		}
		defer func() {
			if p := recover(); p != nil {
				t.Skipf("debug/elf panicked: %v", p) // (Open turns that into an InputError)
			}
		}()
		sameSymbolsAsDebugELF(t, &File{ELF: ef, mapped: data})
	})
}
