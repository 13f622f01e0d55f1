package binfile

import "debug/elf"

// DynamicSymbols is f.ELF.DynamicSymbols(), read once, without the
// symbols' versions (Version, Library, HasVersion, VersionIndex are
// zero): no reader here looks at them, and the names, read from the
// mapped file as the symbol table is (symtabSymbols), are half the CPU
// (node: 67,000 exported functions). A file that reader does not take
// is read by debug/elf, with the versions. debug/elf's method rewrites
// the File's symbol-version tables on every call, so analyses that
// share a library (analyze over many files, on every core, through
// libcache) must not call it at once: call this one, and do not change
// the symbols it returns.
func (f *File) DynamicSymbols() ([]elf.Symbol, error) {
	f.dynOnce.Do(func() {
		if syms, ok := f.mappedSymbols(elf.SHT_DYNSYM); ok {
			f.dynSyms = syms
			return
		}
		f.dynSyms, f.dynErr = f.ELF.DynamicSymbols()
	})
	return f.dynSyms, f.dynErr
}
