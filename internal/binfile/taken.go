package binfile

import (
	"debug/elf"
	"encoding/binary"
	"slices"
)

// AddressTaken returns the functions whose address the file stores as
// data: pointer-sized words in its data sections that equal a function's
// entry, and the targets of R_X86_64_RELATIVE relocations (how a PIE or
// shared object stores function pointers, which are zero in the file).
// Sorted, unique. The words of a Cortex-M vector table do not count (see
// VectorWords). The constructors and destructors of the init and fini
// arrays are not among them: only the runtime calls those (see
// InitArrays). Nor are the words of data inside code (ARM literal pools):
// see PoolWords.
func (f *File) AddressTaken() []uint64 {
	f.takenOnce.Do(f.findAddressTaken)
	return f.taken
}

// PoolWord is a word of data inside code (an ARM literal pool, DataInCode)
// that equals a function's entry (with the Thumb bit).
type PoolWord struct {
	At   uint64 // the word's address
	Func uint64 // the function's entry
}

// PoolWords returns the words of the file's data inside code that hold a
// function's address, in address order. Whether one makes the function
// address-taken depends on the code that reads it: a word that only a
// constant branch loads (ldr r3, =f; bx r3) is a branch target, not an
// escaping pointer (see callgraph).
func (f *File) PoolWords() []PoolWord {
	f.takenOnce.Do(f.findAddressTaken)
	return f.poolWords
}

// InitArrays returns the functions listed in .preinit_array, .init_array,
// .fini_array, .ctors and .dtors: the targets of the runtime's indirect
// calls in __libc_init_array and its kin.
func (f *File) InitArrays() []uint64 {
	f.takenOnce.Do(f.findAddressTaken)
	return f.initArrays
}

// arrayBounds are the symbols the linker defines around the arrays the
// runtime's init and fini loops read (newlib's and picolibc's
// __libc_init_array, glibc's static start): the loops run from each start
// to its end. picolibc's linker script puts the arrays inside another
// output section, so they have no section of their own there.
var arrayBounds = [][2]string{
	{"__preinit_array_start", "__preinit_array_end"},
	{"__init_array_start", "__init_array_end"},
	{"__fini_array_start", "__fini_array_end"},
}

// arrayRanges returns the [start, end) ranges arrayBounds name in f's
// symbols, and whether the init array's pair was among them.
func (f *File) arrayRanges() (ranges [][2]uint64, initFound bool) {
	val := map[string]uint64{}
	for _, s := range f.symbols {
		for _, b := range arrayBounds {
			if s.Name == b[0] || s.Name == b[1] {
				val[s.Name] = s.Value
			}
		}
	}
	for i, b := range arrayBounds {
		lo, ok1 := val[b[0]]
		hi, ok2 := val[b[1]]
		if ok1 && ok2 && lo <= hi {
			ranges = append(ranges, [2]uint64{lo, hi})
			if i == 1 {
				initFound = true
			}
		}
	}
	return ranges, initFound
}

// EmptyInitArrays says whether the runtime's init and fini loops provably
// call nothing: the file has no section of constructors or destructors
// (.init_array, .fini_array, .preinit_array, .ctors, .dtors), and the
// symbols that bound the arrays are there, each pair with its start at its
// end. Without those symbols (a stripped image) it is false.
func (f *File) EmptyInitArrays() bool {
	for _, s := range f.ELF.Sections {
		if isInitArray(s) {
			return false
		}
	}
	ranges, initFound := f.arrayRanges()
	if !initFound {
		return false
	}
	for _, r := range ranges {
		if r[0] != r[1] {
			return false
		}
	}
	return true
}

func isInitArray(s *elf.Section) bool {
	switch s.Type {
	case elf.SHT_INIT_ARRAY, elf.SHT_FINI_ARRAY, elf.SHT_PREINIT_ARRAY:
		return true
	}
	switch s.Name {
	case ".ctors", ".dtors", ".init_array", ".fini_array", ".preinit_array":
		return true
	}
	return false
}

func (f *File) findAddressTaken() {
	// The entries found are marked by function index (every one is a
	// function's entry), not kept in a map: on node the map's growth and
	// the sort of its keys were 5 ms of the 30 ms this takes (profiles).
	found := make([]bool, len(f.Functions))
	inits := make([]bool, len(f.Functions))
	into := found
	// entry says whether v is a function pointer: a function's entry
	// (with the Thumb bit on ARM), the index of that function.
	//
	// Every word of every data section is asked (millions in a large
	// program), and most are small numbers or data addresses: a word
	// outside the span of the function entries is not looked up.
	lowest, highest := ^uint64(0), uint64(0)
	for i := range f.Functions {
		a := f.Functions[i].Addr
		lowest, highest = min(lowest, a), max(highest, a)
	}
	entry := func(v uint64) (uint64, int, bool) {
		if f.Arch == ArchThumb {
			if v&1 == 0 {
				return 0, 0, false
			}
			v &^= 1
		}
		if v < lowest || v > highest {
			return 0, 0, false
		}
		i, ok := f.byAddr.get(v)
		return v, i, ok
	}
	check := func(v uint64) {
		if _, i, ok := entry(v); ok {
			into[i] = true
		}
	}
	word := 8
	if f.Arch == ArchThumb || f.Arch == ArchRISCV32 {
		word = 4
	}
	vectors := f.VectorWords()
	littleEndian64 := word == 8 && f.ELF.ByteOrder == binary.LittleEndian
	scan := func(data []byte, addr uint64) {
		if littleEndian64 && (vectors.End <= addr || vectors.Begin >= addr+uint64(len(data))) {
			// (x86-64, AArch64: the byte order's method called through
			// its interface and the vector table's test were most of
			// the 12 million words' instructions on node.)
			// The span's test here, not only in entry: few words
			// pass it (node: 135,000 of .rodata's 5.9 million).
			for i := 0; i+8 <= len(data); i += 8 {
				if v := binary.LittleEndian.Uint64(data[i:]); v-lowest <= highest-lowest {
					check(v)
				}
			}
			return
		}
		for i := 0; i+word <= len(data); i += word {
			if a := addr + uint64(i); a >= vectors.Begin && a < vectors.End {
				continue
			}
			if word == 8 {
				check(f.ELF.ByteOrder.Uint64(data[i:]))
			} else {
				check(uint64(f.ELF.ByteOrder.Uint32(data[i:])))
			}
		}
	}
	for _, s := range f.ELF.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_EXECINSTR != 0 {
			continue
		}
		if s.Type == elf.SHT_RELA || s.Type == elf.SHT_REL || s.Type == elf.SHT_DYNSYM || s.Type == elf.SHT_STRTAB ||
			s.Type == elf.SHT_HASH || s.Type == elf.SHT_GNU_HASH || s.Type == elf.SHT_NOTE || s.Name == ".eh_frame" || s.Name == ".eh_frame_hdr" {
			continue
		}
		into = found
		if isInitArray(s) {
			into = inits
		}
		if data, err := f.Code(s.Addr, s.Size); err == nil {
			scan(data, s.Addr)
		}
	}
	// Arrays known only by their bounding symbols (picolibc merges them
	// into another output section): their words are constructors too.
	if ranges, _ := f.arrayRanges(); len(ranges) > 0 {
		into = inits
		for _, r := range ranges {
			if r[1] > r[0] {
				if data, err := f.Code(r[0], r[1]-r[0]); err == nil {
					scan(data, r[0])
				}
			}
		}
		into = found
	}
	for _, r := range f.DataInCode {
		data, err := f.Code(r.Begin, r.End-r.Begin)
		if err != nil {
			continue
		}
		for i := 0; i+word <= len(data); i += word {
			at := r.Begin + uint64(i)
			if at >= vectors.Begin && at < vectors.End {
				continue
			}
			v := uint64(f.ELF.ByteOrder.Uint32(data[i:]))
			if word == 8 {
				v = f.ELF.ByteOrder.Uint64(data[i:])
			}
			if fn, _, ok := entry(v); ok {
				f.poolWords = append(f.poolWords, PoolWord{At: at, Func: fn})
			}
		}
	}
	if f.Arch == ArchX86_64 {
		dyn, _ := f.DynamicSymbols()
		f.eachRela(func(off uint64, typ elf.R_X86_64, sym int, addend uint64) {
			into = found
			if s := f.sectionAt(off); s != nil && isInitArray(s) {
				into = inits
			}
			switch typ {
			case elf.R_X86_64_RELATIVE:
				check(addend)
			case elf.R_X86_64_64, elf.R_X86_64_GLOB_DAT:
				// A pointer to a function of this module that may be
				// interposed (vtables and function pointers in a
				// shared object) goes through its symbol.
				if sym-1 >= 0 && sym-1 < len(dyn) && dyn[sym-1].Section != elf.SHN_UNDEF {
					check(dyn[sym-1].Value)
				}
			}
		})
	}
	f.taken, f.initArrays = f.markedEntries(found), f.markedEntries(inits)
}

// markedEntries are the entries of the functions marked, sorted (as
// f.Functions is), unique (byAddr gives one index an address).
func (f *File) markedEntries(marked []bool) []uint64 {
	n := 0
	for _, m := range marked {
		if m {
			n++
		}
	}
	out := make([]uint64, 0, n)
	for i, m := range marked {
		if m {
			out = append(out, f.Functions[i].Addr)
		}
	}
	if !slices.IsSorted(out) {
		slices.Sort(out)
	}
	return out
}

// VectorWords is the range of a Cortex-M firmware's vector table, up to
// its last handler: the hardware calls those handlers, no indirect call
// of the code does, so its words do not make them address-taken. (A
// handler whose address the code also stores, in a RAM vector table or a
// table of function pointers, is address-taken by that word.)
func (f *File) VectorWords() Range {
	vt := f.VectorTable()
	if vt == nil || len(vt.Vectors) == 0 {
		return Range{}
	}
	last := vt.Vectors[len(vt.Vectors)-1].Index
	return Range{Begin: vt.Addr, End: vt.Addr + 4*uint64(last+1)}
}

// sectionAt returns the allocated section holding addr.
func (f *File) sectionAt(addr uint64) *elf.Section {
	for _, s := range f.ELF.Sections {
		if s.Flags&elf.SHF_ALLOC != 0 && addr >= s.Addr && addr < s.Addr+s.Size {
			return s
		}
	}
	return nil
}
