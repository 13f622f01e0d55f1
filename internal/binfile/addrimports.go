package binfile

import "debug/elf"

// AddressImports returns the names of the symbols whose address the
// dynamic linker stores in a data word of f other than a PLT slot
// (x86-64 R_X86_64_GLOB_DAT and R_X86_64_64): an imported function whose
// address the file's code or data can hold as a pointer, not only call.
// Read once per call; nil for other architectures, whose callers must
// then assume any import's address may be taken.
func (f *File) AddressImports() (map[string]bool, bool) {
	if f.Arch != ArchX86_64 {
		return nil, false
	}
	dyn, _ := f.DynamicSymbols()
	out := map[string]bool{}
	f.eachRela(func(off uint64, typ elf.R_X86_64, sym int, addend uint64) {
		if typ != elf.R_X86_64_GLOB_DAT && typ != elf.R_X86_64_64 {
			return
		}
		// DynamicSymbols omits the null symbol at index 0.
		if sym >= 1 && sym-1 < len(dyn) {
			out[dyn[sym-1].Name] = true
		}
	})
	return out, true
}
