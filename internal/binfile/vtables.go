package binfile

import (
	"debug/elf"
	"slices"
	"sort"
	"strings"
)

// Vtable is one C++ virtual table (a _ZTV or construction _ZTC symbol) and
// the virtual functions at each of its address points: a vtable group
// holds one table per base with its own vptr, each laid out as
// offset-to-top, typeinfo, then the slots; an object's vptr points to the
// first slot (the address point).
type Vtable struct {
	// Name is the symbol's, mangled (_ZTV...): demangled here, the 3,169
	// names of node's vtables were 18 of the 23 ms of reading them, on
	// the resolution's goroutine when its first virtual call came before
	// the indexing goroutine had started (a profile); no caller reads it.
	Name  string
	Addr  uint64
	Size  uint64
	Slots [][]uint64 // per address point, the function in each slot (0: not a function)
}

// Vtables returns the file's vtables, read once.
func (f *File) Vtables() []Vtable {
	f.vtablesOnce.Do(f.readVtables)
	return f.vtables
}

// VtableSlot returns the functions found at byte offset off from any
// address point of the file's vtables: every overrider a virtual call
// through that slot can reach, whatever the object's class. Sorted,
// unique; shared by every caller, which must not change it.
func (f *File) VtableSlot(off int64) []uint64 {
	word := int64(f.wordSize())
	if off < 0 || off%word != 0 {
		return nil
	}
	columns := f.vtableColumns()
	if k := off / word; k < int64(len(columns)) {
		return columns[k]
	}
	return nil
}

// vtableColumns returns, for each slot index, VtableSlot's answer, made
// once for all slots. Made again for each slot and module asked, a scan
// of every vtable and a set of its column was, with the vtables' reading,
// 0.013-0.027 s of node's resolution (CPU profiles), on the analysis'
// goroutine; the whole index is one such scan and a sort per column
// (node: 3,169 vtables, 136 slots, 0.7 ms), made for the program on the
// goroutine that indexes it while the edges are resolved
// (IndexVtableSlots).
func (f *File) vtableColumns() [][]uint64 {
	f.vtableColumnsOnce.Do(func() {
		var columns [][]uint64
		for _, vt := range f.Vtables() {
			for _, slots := range vt.Slots {
				for k, fn := range slots {
					if fn == 0 {
						continue
					}
					for len(columns) <= k {
						columns = append(columns, nil)
					}
					columns[k] = append(columns[k], fn)
				}
			}
		}
		for k, c := range columns {
			slices.Sort(c)
			columns[k] = slices.Clip(slices.Compact(c))
		}
		f.vtableColumnsIndex = columns
	})
	return f.vtableColumnsIndex
}

// IndexVtableSlots makes the index VtableSlot answers from, so that a
// goroutine can make it before the first question.
func (f *File) IndexVtableSlots() { f.vtableColumns() }

func (f *File) wordSize() int {
	if f.Arch == ArchThumb {
		return 4
	}
	return 8
}

// readVtables finds the vtable symbols and their address points. An
// address point is a word after a typeinfo word (a pointer to a _ZTI
// symbol, or 0 without RTTI) that follows an offset-to-top word (a small
// integer that is no pointer); its slots run while the words are
// functions (or are zero: a slot whose function the linker dropped).
func (f *File) readVtables() {
	word := uint64(f.wordSize())
	words := f.relocatedWords()
	typeinfo := map[uint64]bool{}
	for _, s := range f.symbols {
		if strings.HasPrefix(s.Name, "_ZTI") && s.Value != 0 {
			typeinfo[s.Value] = true
		}
	}
	for _, s := range f.symbols {
		if !(strings.HasPrefix(s.Name, "_ZTV") || strings.HasPrefix(s.Name, "_ZTC")) || s.Size < 3*word || s.Section == elf.SHN_UNDEF ||
			elf.ST_TYPE(s.Info) != elf.STT_OBJECT {
			continue
		}
		data, err := f.Code(s.Value, s.Size)
		if err != nil {
			continue
		}
		n := int(s.Size / word)
		at := func(i int) (uint64, relocKind) {
			a := s.Value + uint64(i)*word
			if w, ok := words[a]; ok {
				return w.value, w.kind
			}
			var v uint64
			if word == 8 {
				v = f.ELF.ByteOrder.Uint64(data[uint64(i)*word:])
			} else {
				v = uint64(f.ELF.ByteOrder.Uint32(data[uint64(i)*word:]))
			}
			return v, relocNone
		}
		function := func(v uint64) (uint64, bool) {
			if f.Arch == ArchThumb {
				if v&1 == 0 {
					return 0, false
				}
				v &^= 1
			}
			ok := f.byAddr.has(v)
			return v, ok
		}
		vt := Vtable{Name: s.Name, Addr: s.Value, Size: s.Size}
		// A group built with RTTI has a typeinfo at every address point:
		// then two zero words are not one (they are pure virtual slots).
		first, firstKind := at(1)
		rtti := typeinfo[first] || firstKind == relocExternal
		for i := 2; i < n; i++ {
			top, topKind := at(i - 2)
			ti, tiKind := at(i - 1)
			if topKind != relocNone || int64(top) > 0 || int64(top) < -(1<<32) {
				continue
			}
			if _, isFn := function(ti); isFn || !(ti == 0 && tiKind == relocNone && !rtti || typeinfo[ti] || tiKind == relocExternal) {
				continue
			}
			var slots []uint64
			for j := i; j < n; j++ {
				v, kind := at(j)
				if fn, ok := function(v); ok {
					slots = append(slots, fn)
					continue
				}
				if v == 0 && kind == relocExternal {
					// __cxa_pure_virtual or a function of another
					// library: a slot, not a function of this file.
					slots = append(slots, 0)
					continue
				}
				break
			}
			if len(slots) > 0 {
				vt.Slots = append(vt.Slots, slots)
			}
		}
		if len(vt.Slots) > 0 {
			f.vtables = append(f.vtables, vt)
		}
	}
	sort.Slice(f.vtables, func(i, j int) bool { return f.vtables[i].Addr < f.vtables[j].Addr })
}

type relocKind uint8

const (
	relocNone     relocKind = iota
	relocLocal              // the dynamic linker stores an address of this file
	relocExternal           // it stores another module's symbol
)

type relocatedWord struct {
	value uint64
	kind  relocKind
}

// relocatedWords returns the words the dynamic linker fills in (a PIE or
// shared object stores its pointers as relocations, zero in the file).
func (f *File) relocatedWords() map[uint64]relocatedWord {
	out := map[uint64]relocatedWord{}
	if f.Arch != ArchX86_64 {
		return out
	}
	dyn, _ := f.DynamicSymbols()
	f.eachRela(func(off uint64, typ elf.R_X86_64, sym int, addend uint64) {
		switch typ {
		case elf.R_X86_64_RELATIVE:
			out[off] = relocatedWord{addend, relocLocal}
		case elf.R_X86_64_64:
			if sym-1 >= 0 && sym-1 < len(dyn) && dyn[sym-1].Section != elf.SHN_UNDEF {
				out[off] = relocatedWord{dyn[sym-1].Value + addend, relocLocal}
			} else {
				out[off] = relocatedWord{0, relocExternal}
			}
		}
	})
	return out
}
