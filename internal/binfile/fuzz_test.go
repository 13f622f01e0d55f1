package binfile

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to Open and to everything a caller then
// reads from the file, names demangled included: no input may panic.
// Seeds: the example firmware's header and corrupted variants, a small
// x86-64 PIE with GLOB_DAT relocations (testdata/fuzz/FuzzOpen). TestMain
// (main_test.go) bounds the fuzzer's minimizing of each new input.
func FuzzOpen(f *testing.F) {
	if data, err := os.ReadFile("../../examples/firmware/firmware.elf"); err == nil {
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "input.elf")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Skip(err)
		}
		file, err := Open(path)
		if err != nil {
			if _, ok := err.(*InputError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		defer file.Close()
		for i := range file.Functions {
			fn := &file.Functions[i]
			file.Code(fn.Addr, fn.Size)
			file.CodeEnd(fn.Addr)
			fn.Name() // demangled on demand: a crafted name must not hang the demangler
			fn.CName()
		}
		file.VectorTable()
		file.UsesFloatingPoint()
		file.Lookup("main")
		file.Lookup("ns::f(int)") // a C++ name: every name demangled (firstDemangledAs)
		file.AddressImports()
		file.AddressImportSlots()
		file.PointersTo(0, 1<<20)
		for _, s := range file.ELF.Sections {
			file.DynamicWord(s.Addr) // and the packed relocations (.relr.dyn) it reads
		}
	})
}
