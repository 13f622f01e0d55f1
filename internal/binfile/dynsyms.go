package binfile

import "debug/elf"

// DynamicSymbols is f.ELF.DynamicSymbols(), read once. debug/elf's method
// rewrites the File's symbol-version tables on every call, so analyses
// that share a library (analyze over many files, on every core, through
// libcache) must not call it at once: call this one, and do not change
// the symbols it returns.
func (f *File) DynamicSymbols() ([]elf.Symbol, error) {
	f.dynOnce.Do(func() { f.dynSyms, f.dynErr = f.ELF.DynamicSymbols() })
	return f.dynSyms, f.dynErr
}
