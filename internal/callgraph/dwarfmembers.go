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
	wanted := map[string]bool{}
	for _, m := range members {
		wanted[m] = true
	}
	out, conflict := map[string]int64{}, map[string]bool{}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType || e.Val(dwarf.AttrName) != name || !e.Children {
			if e.Tag != dwarf.TagCompileUnit && e.Children {
				r.SkipChildren()
			}
			continue
		}
		for {
			c, err := r.Next()
			if err != nil || c == nil || c.Tag == 0 {
				break
			}
			if c.Children {
				r.SkipChildren()
			}
			member, _ := c.Val(dwarf.AttrName).(string)
			if c.Tag != dwarf.TagMember || !wanted[member] {
				continue
			}
			off, ok := c.Val(dwarf.AttrDataMemberLoc).(int64)
			if !ok || off < 0 {
				conflict[member] = true
				continue
			}
			if old, seen := out[member]; seen && old != off {
				conflict[member] = true
			}
			out[member] = off
		}
	}
	for m := range conflict {
		delete(out, m)
	}
	return out
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
