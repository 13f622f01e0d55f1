package callgraph

import (
	"debug/dwarf"
	"debug/elf"

	"github.com/stackscope/stackscope/internal/binfile"
)

// memberOffsets reads, from the DWARF d, the offsets of the named members
// of struct name: each member's offset where every definition of the
// struct (one per compile unit that uses it) agrees on it; a member whose
// definitions disagree, or whose offset is not a constant, is left out.
func memberOffsets(d *dwarf.Data, name string, members ...string) map[string]int64 {
	a := newMemberAgreement(name, members...)
	walkTopLevel(d, a) // (an error ends the walk: what was read stands)
	return a.offsets()
}

// withDebugDWARF runs use on the DWARF of file's debug file (libc6-dbg's
// for glibc), false when there is none or it does not read.
func withDebugDWARF(file *binfile.File, use func(*dwarf.Data)) bool {
	if file.DebugSymbols == "" {
		return false
	}
	f, err := elf.Open(file.DebugSymbols)
	if err != nil {
		return false
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		return false
	}
	use(d)
	return true
}
