// Package binfile opens an ELF file for stack analysis: its functions (from
// .symtab, else .dynsym, else the FDE ranges of .eh_frame), code bytes,
// ARM mapping symbols, the GOT slots behind PLT calls, DT_NEEDED, and the
// Cortex-M vector table. It knows nothing of instructions.
package binfile

import (
	"cmp"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/stackscope/stackscope/internal/beside"
	"github.com/stackscope/stackscope/internal/cfi"
	"github.com/stackscope/stackscope/internal/permute"
)

// Arch is an instruction set the analysis supports.
type Arch int

const (
	ArchX86_64 Arch = iota + 1
	ArchThumb
	ArchARM64
	// ArchRISCV32 and ArchRISCV64: RV32 and RV64 (with or without the C
	// extension), firmware and Linux programs.
	ArchRISCV32
	ArchRISCV64
)

func (a Arch) String() string {
	switch a {
	case ArchX86_64:
		return "x86-64"
	case ArchThumb:
		return "thumb"
	case ArchARM64:
		return "arm64"
	case ArchRISCV32:
		return "riscv32"
	case ArchRISCV64:
		return "riscv64"
	}
	return "unknown"
}

// IsRISCV says whether a is RV32 or RV64.
func (a Arch) IsRISCV() bool { return a == ArchRISCV32 || a == ArchRISCV64 }

// Function is one function found in the file.
type Function struct {
	// name holds the demangled name once a reader asked for it (Name):
	// nil when the link name is its own demangled form (a C name),
	// else a slot of the File's (File.demangled). Demangling every
	// name when the file was opened was a tenth of a C++ program's
	// analysis, and a text report prints a few hundred of its names.
	name     *nameSlot
	LinkName string // the symbol as written in the file
	Addr     uint64 // entry address (Thumb bit cleared)
	Size     uint64
	// Source says where the function was found: "symtab", "dynsym", "fde"
	// or "asm-label" (an untyped global label of RISC-V assembly).
	Source string
	// Global is true for a global or weak symbol; Exported for one that
	// .dynsym defines (the entry points of a shared object).
	Global   bool
	Exported bool
	// IFunc marks a GNU indirect function: Addr is its resolver, not the
	// implementation callers reach.
	IFunc bool
	// weak and renamed are with the other one-byte fields: a function is
	// 112 bytes, not 120 (a large library has 150,000 of them).
	weak bool
	// renamed: SetName gave the function a name of its own, which its
	// link name does not determine.
	renamed bool
	// Aliases are other symbols (link names) at the same address.
	Aliases []string
	// Parts are the function's code elsewhere: GCC's .cold parts, which
	// run on the function's own frame.
	Parts []Range
}

// Range is a half-open address range.
type Range struct{ Begin, End uint64 }

// File is an opened ELF file.
type File struct {
	Path string
	Arch Arch
	ELF  *elf.File
	// PIE or shared object (ET_DYN) versus fixed-address executable.
	Type elf.Type
	// Shared is true for a shared library (ET_DYN without an interpreter or
	// with exported functions and no main).
	Shared bool
	Entry  uint64

	Functions []Function // sorted by Addr, no duplicates
	// DataInCode are ranges of data in code sections ($d mapping symbols on ARM).
	DataInCode []Range
	// Slots maps a GOT slot address to the symbol whose address the dynamic
	// linker stores there (JUMP_SLOT and GLOB_DAT relocations).
	Slots map[uint64]string
	// IRelative maps a GOT slot filled by an R_X86_64_IRELATIVE relocation
	// to the ifunc resolver whose result the dynamic linker stores there.
	IRelative map[uint64]uint64
	// LazySlots are the GOT slots the dynamic linker fills on first use
	// (JUMP_SLOT relocations of a file not linked with -z now): the first
	// call through one runs ld.so's lazy-binding resolver on the caller's
	// stack.
	LazySlots map[uint64]bool
	// BindNow: DT_BIND_NOW, DF_BIND_NOW or DF_1_NOW; every slot is filled
	// at load time.
	BindNow bool
	// PLT are the address ranges of .plt, .plt.sec and .plt.got.
	PLT []Range
	// Needed lists DT_NEEDED libraries, and RunPath DT_RUNPATH/DT_RPATH.
	Needed  []string
	RunPath []string
	// DebugSymbols is the separate debug file (found by build ID) whose
	// .symtab named the functions of this stripped file, "" when none.
	DebugSymbols string
	// CFI from .eh_frame/.debug_frame; never nil, maybe empty.
	CFI *cfi.Table
	// CFIError is set when call-frame information was present but could not
	// be parsed; analysis goes on without it.
	CFIError error

	symbols     []elf.Symbol
	mappings    []mapping
	exported    map[string]int
	exportOnce  sync.Once // analyses sharing a library look up exports at once
	names       map[string]int
	namesOnce   sync.Once
	taken       []uint64
	initArrays  []uint64
	poolWords   []PoolWord
	takenOnce   sync.Once
	vtables     []Vtable
	vtablesOnce sync.Once
	// vtableColumnsIndex is VtableSlot's index (vtables.go).
	vtableColumnsIndex [][]uint64
	vtableColumnsOnce  sync.Once
	r                  io.ReaderAt
	mapped             []byte // the whole file, when it could be mapped
	sections           []*loadedSection
	byAddr             addrIndex
	// dynamic symbols, read once (dynsyms.go)
	dynOnce sync.Once
	dynSyms []elf.Symbol
	// results derived from the file's bytes alone (derived.go)
	derived sync.Map
	dynErr  error

	// demangled are the slots of the functions whose link names are
	// mangled (Function.name); mangled, plainDemangled and demangledAll
	// serve Lookup (names.go).
	demangled      []nameSlot
	mangled        []int
	demangledAll   map[string]int
	demangleMu     sync.Mutex
	plainDemangled map[string]int
}

type loadedSection struct {
	sec  *elf.Section
	once sync.Once // frames are computed in parallel
	data []byte    // loaded on first use
	err  error
}

// InputError is a problem with the input file: one line naming the file.
type InputError struct {
	Path    string
	Problem string
}

func (e *InputError) Error() string { return e.Path + ": " + e.Problem }

// Open reads path. Every failure is an *InputError that says what is wrong in
// one line; Open never panics, even on a corrupted file.
func Open(path string) (f *File, err error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &InputError{path, "no such file"}
	case errors.Is(err, fs.ErrPermission):
		return nil, &InputError{path, "permission denied"}
	case err != nil:
		return nil, &InputError{path, err.Error()}
	case st.IsDir():
		return nil, &InputError{path, "is a directory, not an ELF file"}
	}
	r, err := os.Open(path)
	if err != nil {
		return nil, &InputError{path, strings.TrimPrefix(err.Error(), "open "+path+": ")}
	}
	defer func() {
		if p := recover(); p != nil {
			// debug/elf is robust, but a corrupted file must never crash the
			// tool. STACKSCOPE_PANIC=1 lets it, for a bug report's trace.
			if os.Getenv("STACKSCOPE_PANIC") == "1" {
				panic(p)
			}
			if f != nil {
				unmapFile(f.mapped) // (a panic in load: f is made)
			}
			r.Close()
			f, err = nil, &InputError{path, fmt.Sprintf("corrupted ELF file (%v)", p)}
		}
	}()
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil || string(magic[:]) != elf.ELFMAG {
		r.Close()
		return nil, &InputError{path, "not an ELF file"}
	}
	ef, err := elf.NewFile(r)
	if err != nil {
		r.Close()
		return nil, &InputError{path, "corrupted or truncated ELF file: " + err.Error()}
	}
	f = &File{Path: path, ELF: ef, Type: ef.Type, Entry: ef.Entry, r: r}
	switch {
	case ef.Machine == elf.EM_X86_64 && ef.Class == elf.ELFCLASS64:
		f.Arch = ArchX86_64
	case ef.Machine == elf.EM_ARM && ef.Class == elf.ELFCLASS32:
		f.Arch = ArchThumb
		f.Entry &^= 1
	case ef.Machine == elf.EM_AARCH64 && ef.Class == elf.ELFCLASS64:
		f.Arch = ArchARM64
	case ef.Machine == elf.EM_RISCV && ef.Class == elf.ELFCLASS32:
		f.Arch = ArchRISCV32
	case ef.Machine == elf.EM_RISCV && ef.Class == elf.ELFCLASS64:
		f.Arch = ArchRISCV64
	default:
		r.Close()
		return nil, &InputError{path, fmt.Sprintf("ELF for %s (%v) is not supported yet; stackscope analyses x86-64, AArch64, ARM Cortex-M (Thumb) and RISC-V", machineName(ef.Machine), ef.Class)}
	}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		r.Close()
		return nil, &InputError{path, fmt.Sprintf("is an ELF %s, not an executable or shared object (link it first)", strings.ToLower(strings.TrimPrefix(ef.Type.String(), "ET_")))}
	}
	// Mapped once the file is one stackscope reads; a file rejected
	// after this is unmapped again.
	f.mapped = mapFile(r)
	if err := f.load(st.Size()); err != nil {
		unmapFile(f.mapped)
		r.Close()
		return nil, &InputError{path, err.Error()}
	}
	return f, nil
}

// allocatedCompressed rejects a section that is both loaded into memory
// and compressed: the ELF gABI forbids SHF_COMPRESSED with SHF_ALLOC (the
// loader maps a section's bytes as they are), so no linker makes one, and
// only a corrupted file has it. Reading such a section would inflate it to
// the size its compression header claims, at every read: debug/elf
// allocates up to 10 MB of it before it reads a byte, and reads .dynamic
// again for each DynString and DynValue (a fuzzed 4 KB file whose
// .dynamic claimed 2.4e18 bytes took 20 ms to open instead of 1).
func allocatedCompressed(s *elf.Section) error {
	if s.Flags&elf.SHF_ALLOC != 0 && s.Flags&elf.SHF_COMPRESSED != 0 {
		return fmt.Errorf("corrupted ELF file: section %s is both loaded (SHF_ALLOC) and compressed (SHF_COMPRESSED)", s.Name)
	}
	return nil
}

func machineName(m elf.Machine) string {
	s := m.String()
	return strings.TrimPrefix(s, "EM_")
}

func (f *File) load(fileSize int64) error {
	for _, s := range f.ELF.Sections {
		if s.Flags&elf.SHF_ALLOC != 0 && s.Type != elf.SHT_NOBITS {
			f.sections = append(f.sections, &loadedSection{sec: s})
		}
		// A section that claims to lie beyond the end of the file is the
		// mark of a truncated file.
		// (Offset and FileSize, not ReadAt: a compressed section, such as
		// a Go program's DWARF, has no ReaderAt.)
		if s.Type != elf.SHT_NOBITS && s.FileSize > 0 && (s.Offset > uint64(fileSize) || s.FileSize > uint64(fileSize)-s.Offset) {
			return fmt.Errorf("truncated ELF file: section %s ends beyond the end of the file", s.Name)
		}
		if err := allocatedCompressed(s); err != nil {
			return err
		}
	}
	sort.Slice(f.sections, func(i, j int) bool { return f.sections[i].sec.Addr < f.sections[j].sec.Addr })

	// The exported names (.dynsym) are read on another core while this
	// one reads the symbol table, and the dynamic section and the CFI
	// beside both: on /usr/bin/node, 9 and 20-30 ms that came after
	// the symbols, with a core idle. (Names are demangled when a reader
	// asks for them: Function.Name.)
	dynamicAndCFI := beside.Start(f.readDynamicAndCFI)
	exported := f.startExportedNames()
	syms := f.readSymbolFunctions()
	f.markExported(exported)
	dynamicAndCFI.Wait()
	f.readSlots()
	for _, name := range []string{".plt", ".plt.sec", ".plt.got", ".iplt"} {
		if s := f.ELF.Section(name); s != nil && s.Size > 0 {
			f.PLT = append(f.PLT, Range{s.Addr, s.Addr + s.Size})
		}
	}
	f.completeFunctions(syms)
	f.Shared = f.Type == elf.ET_DYN && (f.ELF.Section(".interp") == nil || f.runnableLibrary())
	return nil
}

// runnableLibrary reports a shared library that also has an interpreter
// and an entry point, as glibc's libc.so.6 does (run, it prints its
// version): it has a DT_SONAME and no main. A PIE program has a main and,
// usually, no SONAME.
func (f *File) runnableLibrary() bool {
	soname, err := f.dynString(elf.DT_SONAME)
	if err != nil || len(soname) == 0 {
		return false
	}
	_, hasMain := f.Lookup("main")
	return !hasMain
}

// readDynamicAndCFI reads the dynamic section (readDynamic) and the
// call-frame information into f, on a goroutine of its own: Open's reads
// neither before it waits for them.
func (f *File) readDynamicAndCFI() struct{} {
	f.readDynamic()
	// (Its entries keep pieces of .eh_frame to the end of the run: read
	// from a lasting mapping, not a heap copy, node's 2.7 MB of it are
	// not in the live heap the collector's goal is made from.)
	f.CFI, f.CFIError = cfi.LoadFrom(f.ELF, f.lastingData)
	if f.CFI == nil {
		f.CFI = &cfi.Table{}
	}
	return struct{}{}
}

func (f *File) readDynamic() {
	if libs, err := f.dynString(elf.DT_NEEDED); err == nil { // (ImportedLibraries)
		f.Needed = libs
	}
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		if vals, err := f.dynString(tag); err == nil {
			for _, v := range vals {
				f.RunPath = append(f.RunPath, strings.Split(v, ":")...)
			}
		}
	}
	const dfBindNow, df1Now = 0x8, 0x1
	if v, err := f.ELF.DynValue(elf.DT_BIND_NOW); err == nil && len(v) > 0 {
		f.BindNow = true
	}
	if v, err := f.ELF.DynValue(elf.DT_FLAGS); err == nil && len(v) > 0 && v[0]&dfBindNow != 0 {
		f.BindNow = true
	}
	if v, err := f.ELF.DynValue(elf.DT_FLAGS_1); err == nil && len(v) > 0 && v[0]&df1Now != 0 {
		f.BindNow = true
	}
}

// readSlots maps GOT slots to symbol names from the dynamic relocations.
func (f *File) readSlots() {
	f.Slots = map[uint64]string{}
	f.IRelative = map[uint64]uint64{}
	f.LazySlots = map[uint64]bool{}
	if f.Arch == ArchARM64 {
		f.readSlotsARM64()
		return
	}
	if f.Arch == ArchRISCV64 {
		f.readSlotsRISCV()
		return
	}
	if f.Arch != ArchX86_64 {
		return
	}
	dyn, _ := f.DynamicSymbols()
	f.eachRela(func(off uint64, typ elf.R_X86_64, sym int, addend uint64) {
		switch typ {
		case elf.R_X86_64_IRELATIVE:
			f.IRelative[off] = addend
		case elf.R_X86_64_JMP_SLOT, elf.R_X86_64_GLOB_DAT:
			// DynamicSymbols omits the null symbol at index 0.
			if sym >= 1 && sym-1 < len(dyn) {
				f.Slots[off] = dyn[sym-1].Name
			}
			if typ == elf.R_X86_64_JMP_SLOT && !f.BindNow {
				f.LazySlots[off] = true
			}
		}
	})
}

// readSymbolFunctions makes f.Functions from the symbol table (.symtab, a
// debug file's, or .dynsym), sorted by address, one per address: the
// symbols of one address are folded in symbol order (the first one's
// function, then each next one either its alias or, if better, the
// function with the others as aliases).
// Exported is left false: markExported sets it.
//
// The symbols are sorted by address first, then folded: a map from each
// address to its function while the symbols were read, then a sort of
// the functions, were a fifth of opening /usr/bin/node (77,000
// functions; about 10 ms the map, 14 ms the sort).
func (f *File) readSymbolFunctions() []elf.Symbol {
	syms, versioned, err := f.symtabSymbols()
	source := "symtab"
	if err != nil || !hasFunctions(syms) {
		versioned = nil
		if dsyms, path := f.debugSymbols(); path != "" {
			syms, err, f.DebugSymbols = dsyms, nil, path
		} else {
			syms, err = f.DynamicSymbols()
			source = "dynsym"
		}
	}
	if err == nil {
		f.symbols = syms
	}
	order := f.functionSymbolsByAddr(syms)
	if len(order) > 0 {
		f.Functions = make([]Function, 0, len(order))
	}
	for _, s := range order {
		t := elf.ST_TYPE(s.info)
		bind := elf.ST_BIND(s.info)
		// A versioned definition in .symtab (glibc's, in its debug file:
		// "__libc_start_main@@GLIBC_2.34") is the name .dynsym exports
		// and callers import without the version: that is its link name.
		link := s.name
		if versioned == nil || versioned[s.at] {
			link = baseName(s.name)
		}
		fn := Function{
			LinkName: link, Addr: s.addr, Size: s.size, Source: source,
			Global: bind == elf.STB_GLOBAL || bind == elf.STB_WEAK,
			IFunc:  t == elf.STT_GNU_IFUNC, weak: bind == elf.STB_WEAK,
		}
		if link != s.name {
			fn.Aliases = []string{s.name}
		}
		if n := len(f.Functions); n > 0 && f.Functions[n-1].Addr == s.addr {
			// Aliases: prefer a global, strong, non-underscored name.
			old := &f.Functions[n-1]
			if better(fn, *old) {
				fn.Aliases = append(append(fn.Aliases, old.Aliases...), old.LinkName)
				if fn.Size < old.Size {
					fn.Size = old.Size
				}
				*old = fn
			} else {
				old.Aliases = append(append(old.Aliases, fn.LinkName), fn.Aliases...)
				if old.Size < fn.Size {
					old.Size = fn.Size
				}
			}
			continue
		}
		f.Functions = append(f.Functions, fn)
	}
	return syms
}

// symbolAt is a function symbol's address (the Thumb bit cleared), its
// index in the symbol table, and what readSymbolFunctions reads of it:
// the fold then reads the keys in order, not the symbols in address
// order (node: 6 ms of cache misses in 9.7 MB of symbols).
type symbolAt struct {
	addr uint64
	at   int
	size uint64
	name string
	info byte
}

// functionSymbolsByAddr lists the symbols that name functions, by
// address, those of one address in symbol order; it also notes ARM's
// mapping symbols.
func (f *File) functionSymbolsByAddr(syms []elf.Symbol) []symbolAt {
	var order []symbolAt
	if n := countFunctionSymbols(syms); n > 0 {
		order = make([]symbolAt, 0, n)
	}
	for i, s := range syms {
		if f.Arch == ArchThumb {
			f.noteMappingSymbol(s)
		}
		t := elf.ST_TYPE(s.Info)
		if (t != elf.STT_FUNC && t != elf.STT_GNU_IFUNC) || s.Section == elf.SHN_UNDEF || s.Section >= elf.SHN_LORESERVE {
			continue
		}
		addr := s.Value
		if f.Arch == ArchThumb {
			addr &^= 1
		}
		order = append(order, symbolAt{addr: addr, at: i, size: s.Size, name: s.Name, info: s.Info})
	}
	return sortSymbolsByAddr(order)
}

// sortSymbolsByAddr sorts keys, listed in symbol order, by address, those
// of one address kept in symbol order. A least-significant-digit radix
// sort, 11 bits a pass over the bits in which the addresses differ (node:
// 3 passes over 77,000 keys, 1 ms; a comparison sort of the same keys
// took 8-9 ms). It may return the scratch list it made, not keys.
func sortSymbolsByAddr(keys []symbolAt) []symbolAt {
	if len(keys) < 2 {
		return keys
	}
	lo, hi := keys[0].addr, keys[0].addr
	for _, k := range keys {
		lo, hi = min(lo, k.addr), max(hi, k.addr)
	}
	const digitBits = 11
	const digits = 1 << digitBits
	scratch := make([]symbolAt, len(keys))
	for shift := 0; shift < bits.Len64(hi-lo); shift += digitBits {
		var start [digits + 1]int
		for _, k := range keys {
			start[((k.addr-lo)>>shift)%digits+1]++
		}
		for d := 1; d <= digits; d++ {
			start[d] += start[d-1]
		}
		for _, k := range keys { // in order: each digit's keys stay in theirs
			d := ((k.addr - lo) >> shift) % digits
			scratch[start[d]] = k
			start[d]++
		}
		keys, scratch = scratch, keys
	}
	return keys
}

// exportedNames are the function names .dynsym defines, read
// on another goroutine (startExportedNames) while Open's reads the symbol
// table: both were most of the time of opening a large program, with the
// other core idle (node: 74,000 symbols in .dynsym, 85,000 in .symtab).
// Symbols and DynamicSymbols share no state of the elf.File (only
// DynamicSymbols reads the version tables), and f.DynamicSymbols is under
// a sync.Once.
type exportedNames struct {
	names map[string]struct{} // every exported function name
	fault any                 // a panic reading them (a corrupted file), raised again by markExported
}

func (f *File) startExportedNames() <-chan exportedNames {
	done := make(chan exportedNames, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- exportedNames{fault: p}
			}
		}()
		done <- exportedNames{names: f.readExportedNames()}
	}()
	return done
}

// markExported sets the Exported of each function of the symbol table
// that .dynsym defines under any of its symbols' names (its link name,
// or an alias's, without the version).
func (f *File) markExported(done <-chan exportedNames) {
	e := <-done
	if e.fault != nil {
		panic(e.fault) // on Open's goroutine: an InputError
	}
	if len(e.names) == 0 {
		return
	}
	// Half of them on another core, which the dynamic section and the
	// CFI leave about now: a lookup of each name was 12 ms of node's
	// opening with the other core idle.
	fns := f.Functions
	if len(fns) < 4096 {
		markExportedIn(fns, e.names)
		return
	}
	half := len(fns) / 2
	other := beside.Start(func() struct{} {
		markExportedIn(fns[half:], e.names)
		return struct{}{}
	})
	markExportedIn(fns[:half], e.names)
	other.Wait()
}

// markExportedIn sets the Exported of each of fns that names holds under
// any of its names.
func markExportedIn(fns []Function, names map[string]struct{}) {
	for i := range fns {
		fn := &fns[i]
		_, fn.Exported = names[fn.LinkName]
		for _, a := range fn.Aliases {
			if fn.Exported {
				break
			}
			_, fn.Exported = names[baseName(a)]
		}
	}
}

// readExportedNames returns the function names .dynsym defines.
func (f *File) readExportedNames() map[string]struct{} {
	dyn, dynErr := f.DynamicSymbols()
	if dynErr != nil {
		return nil
	}
	names := make(map[string]struct{}, len(dyn))
	for _, s := range dyn {
		t := elf.ST_TYPE(s.Info)
		if (t != elf.STT_FUNC && t != elf.STT_GNU_IFUNC) || s.Section == elf.SHN_UNDEF {
			continue
		}
		names[s.Name] = struct{}{}
	}
	return names
}

// countFunctionSymbols is how many of syms readSymbolFunctions can make
// a function of (at most: aliases share one), so that f.Functions is made
// once at its size, not grown and copied a dozen times.
func countFunctionSymbols(syms []elf.Symbol) int {
	n := 0
	for _, s := range syms {
		if t := elf.ST_TYPE(s.Info); (t == elf.STT_FUNC || t == elf.STT_GNU_IFUNC) && s.Section != elf.SHN_UNDEF && s.Section < elf.SHN_LORESERVE {
			n++
		}
	}
	return n
}

// completeFunctions adds to the functions of the symbol table those only
// assembly labels and FDEs name, sizes the unsized ones, attaches the cold
// parts, and gives each function with a mangled link name the slot of its
// demangled name.
func (f *File) completeFunctions(syms []elf.Symbol) {
	// Functions the symbol table does not name (a stripped binary, or the
	// static functions of a library that only has .dynsym) still have FDEs.
	f.addAsmLabels(f.asmLabels(syms))
	var unnamed []Function // sorted by address when the FDEs are, as they are in a table
	var unnamedAt map[uint64]bool
	named := functionCursor{fns: f.Functions, i: -1}
	for _, r := range f.CFI.Ranges() {
		if named.startsOrCovers(r.Begin) || unnamedAt[r.Begin] || f.InPLT(r.Begin) {
			continue
		}
		if r.Begin == 0 || !f.IsExecutable(r.Begin) {
			// The FDE of a function the linker dropped (--gc-sections)
			// keeps address 0, where a firmware's vector table is: no
			// function is there unless a symbol says so.
			continue
		}
		if unnamedAt == nil {
			unnamedAt = map[uint64]bool{}
		}
		unnamedAt[r.Begin] = true
		name := "sub_" + strconv.FormatUint(r.Begin, 16) // (one string for both: a stripped library has tens of thousands)
		unnamed = append(unnamed, Function{
			LinkName: name, Addr: r.Begin, Size: r.End - r.Begin, Source: "fde",
		})
	}
	f.Functions = mergeByAddr(f.Functions, unnamed)
	// Assembly functions without .size: extend them to the next function or
	// the end of their section, so their code is still analysed.
	for i := range f.Functions {
		fn := &f.Functions[i]
		if fn.Size != 0 {
			continue
		}
		end := f.sectionEnd(fn.Addr)
		if i+1 < len(f.Functions) && f.Functions[i+1].Addr < end {
			end = f.Functions[i+1].Addr
		}
		if end > fn.Addr {
			fn.Size = end - fn.Addr
		}
	}
	f.attachColdParts()
	f.demangleSlots()
	f.byAddr = newAddrIndex(f.Functions)
	f.dataRanges()
}

// coldSuffix returns where a GCC cold-part suffix (".cold" or ".cold.N",
// N decimal digits) starts at the end of name, or -1: what the regular
// expression `\.cold(\.\d+)?$` matches, read from the end of the name.
// (The regular expression, on each of a C++ program's hundred thousand
// long names, was a tenth of opening it.)
func coldSuffix(name string) int {
	end := len(name)
	for end > 0 && name[end-1] >= '0' && name[end-1] <= '9' {
		end--
	}
	if end < len(name) { // digits: ".cold." before them
		if end == 0 || name[end-1] != '.' {
			return -1
		}
		end--
	}
	if !strings.HasSuffix(name[:end], ".cold") {
		return -1
	}
	return end - len(".cold")
}

// attachColdParts moves each "f.cold" symbol into f's Parts: the cold part
// is not a function of its own, it runs on f's frame, so only f's walk can
// follow its SP.
func (f *File) attachColdParts() {
	// The parents' names first: most functions have no cold part, and a
	// map of every name was most of the time this took.
	var parents map[string]uint64
	var cold []int // the functions named as cold parts, in order (node: 1,021 of 78,000)
	for i, fn := range f.Functions {
		if m := coldSuffix(fn.LinkName); m >= 0 {
			if parents == nil {
				parents = map[string]uint64{}
			}
			parents[fn.LinkName[:m]] = 0
			cold = append(cold, i)
		}
	}
	if parents == nil {
		return
	}
	byLink := map[string]uint64{}
	for _, fn := range f.Functions {
		if _, wanted := parents[fn.LinkName]; wanted && coldSuffix(fn.LinkName) < 0 {
			byLink[fn.LinkName] = fn.Addr // the last of a name, as a map of every name had it
		}
	}
	parts := map[uint64][]Range{} // parent address -> its cold parts
	// The others moved down in place over the cold parts (a new list was
	// 8.7 MB on node, made, faulted in and copied); with no part found,
	// nothing moved.
	kept := f.Functions[:0]
	for i, fn := range f.Functions {
		if len(cold) > 0 && cold[0] == i {
			cold = cold[1:]
			if parent, ok := byLink[fn.LinkName[:coldSuffix(fn.LinkName)]]; ok {
				parts[parent] = append(parts[parent], Range{fn.Addr, fn.Addr + fn.Size})
				continue
			}
		}
		kept = append(kept, fn)
	}
	if len(parts) == 0 {
		return
	}
	for i := range kept {
		kept[i].Parts = parts[kept[i].Addr]
	}
	clear(f.Functions[len(kept):]) // (the parts' copies left behind hold their names)
	f.Functions = kept
}

// mergeByAddr returns the functions of a and b (a sorted by address, no
// address in both) sorted by address: a merge when b is sorted too, as
// the FDEs of a stripped library's tens of thousands of functions are,
// not a sort of both lists together (a tenth of opening libLLVM).
func mergeByAddr(a, b []Function) []Function {
	if len(b) == 0 {
		return a
	}
	byAddr := func(x, y Function) int { return cmp.Compare(x.Addr, y.Addr) }
	if !slices.IsSortedFunc(b, byAddr) {
		sortByAddr(b)
	}
	if n := len(a) + len(b); n <= cap(a) {
		return mergeInPlace(a[:n], len(a), b)
	}
	out := make([]Function, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].Addr < b[0].Addr {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// mergeInPlace merges b into out, whose first na functions are the
// others, from the end down, so that no function of out is written over
// before it is moved: a program whose symbol table names all but a few
// of its FDEs' functions (node: all but 1 of 78,000) gets them without a
// new list of every function (8.7 MB, 4 ms).
func mergeInPlace(out []Function, na int, b []Function) []Function {
	i, j := na-1, len(b)-1
	for k := len(out) - 1; j >= 0; k-- {
		if i >= 0 && out[i].Addr > b[j].Addr {
			out[k] = out[i]
			i--
		} else {
			out[k] = b[j]
			j--
		}
	}
	return out
}

// sortByAddr sorts fns by address (every address is in fns once, so the
// order is the one any sort gives).
func sortByAddr(fns []Function) {
	if slices.IsSortedFunc(fns, func(a, b Function) int { return cmp.Compare(a.Addr, b.Addr) }) {
		return
	}
	// Each function moved once (a sort moving the 120-byte functions
	// themselves was a tenth of opening node, 77,000 of them).
	permute.SortByAddr(fns, func(fn *Function) uint64 { return fn.Addr })
}

// covered reports whether addr lies inside one of fns (sorted by address).
func covered(fns []Function, addr uint64) bool {
	i := sort.Search(len(fns), func(i int) bool { return fns[i].Addr > addr }) - 1
	return i >= 0 && addr < fns[i].Addr+fns[i].Size
}

// startsOrCovered reports whether one of fns (sorted by address) starts
// at addr, or addr lies inside one.
func startsOrCovered(fns []Function, addr uint64) bool {
	c := functionCursor{fns: fns, i: -1}
	return c.startsOrCovers(addr)
}

// functionCursor answers startsOrCovered for addresses that mostly come
// in increasing order, as a table of FDEs has them: it steps on from the
// function of the last answer, and searches only after a jump. (A search
// for each of node's 80,000 FDEs was 3-4 ms of opening it, most of it
// cache misses in 8.7 MB of functions.)
type functionCursor struct {
	fns []Function // sorted by address
	i   int        // the last function at or below the last address asked, -1: none
}

func (c *functionCursor) startsOrCovers(addr uint64) bool {
	fns, i := c.fns, c.i
	if i < 0 || fns[i].Addr > addr {
		i = lastAtOrBelow(fns, addr)
	} else {
		for steps := 0; i+1 < len(fns) && fns[i+1].Addr <= addr; steps++ {
			if steps == 8 {
				i = lastAtOrBelow(fns, addr)
				break
			}
			i++
		}
	}
	c.i = i
	return i >= 0 && (addr == fns[i].Addr || addr < fns[i].Addr+fns[i].Size)
}

// lastAtOrBelow is the index of the last of fns (sorted by address) that
// starts at or below addr, -1 when none does.
func lastAtOrBelow(fns []Function, addr uint64) int {
	return sort.Search(len(fns), func(i int) bool { return fns[i].Addr > addr }) - 1
}

func hasFunctions(syms []elf.Symbol) bool {
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF {
			return true
		}
	}
	return false
}

// better says whether a new symbol names a function better than the old
// one at the same address: a strong global over a weak alias (the vector
// table's Default_Handler over its weak PendSV_Handler alias), a global
// over a local, a name without a leading underscore over one with.
func better(n, old Function) bool {
	if n.Global != old.Global {
		return n.Global
	}
	if n.weak != old.weak {
		return !n.weak
	}
	nu, ou := strings.HasPrefix(n.LinkName, "_"), strings.HasPrefix(old.LinkName, "_")
	if nu != ou {
		return !nu
	}
	return false
}

// noteMappingSymbol records ARM $d/$t/$a mapping symbols; dataRanges turns
// them into ranges (data runs from a $d to the next mapping symbol).
func (f *File) noteMappingSymbol(s elf.Symbol) {
	if len(s.Name) < 2 || s.Name[0] != '$' || (len(s.Name) > 2 && s.Name[2] != '.') {
		return
	}
	// Only mapping symbols of code sections: debug sections carry $d
	// symbols too, at offsets that look like code addresses.
	if int(s.Section) >= len(f.ELF.Sections) || f.ELF.Sections[s.Section].Flags&elf.SHF_EXECINSTR == 0 {
		return
	}
	switch s.Name[1] {
	case 'd', 't', 'a':
		f.mappings = append(f.mappings, mapping{addr: s.Value, data: s.Name[1] == 'd'})
	}
}

type mapping struct {
	addr uint64
	data bool
}

func (f *File) dataRanges() {
	sort.Slice(f.mappings, func(i, j int) bool { return f.mappings[i].addr < f.mappings[j].addr })
	for i, m := range f.mappings {
		if !m.data {
			continue
		}
		end := f.sectionEnd(m.addr)
		if i+1 < len(f.mappings) && f.mappings[i+1].addr < end {
			end = f.mappings[i+1].addr
		}
		if end > m.addr {
			f.DataInCode = append(f.DataInCode, Range{m.addr, end})
		}
	}
}

func (f *File) sectionEnd(addr uint64) uint64 {
	for _, s := range f.sections {
		if addr >= s.sec.Addr && addr < s.sec.Addr+s.sec.Size {
			return s.sec.Addr + s.sec.Size
		}
	}
	return addr
}

// Code returns the bytes at [addr, addr+size) from the file's allocated
// sections, or an error when they are not all in one section with contents.
func (f *File) Code(addr, size uint64) ([]byte, error) {
	for _, s := range f.sections {
		if addr < s.sec.Addr || addr >= s.sec.Addr+s.sec.Size {
			continue
		}
		s.once.Do(func() {
			if f.mapped != nil && s.sec.Type != elf.SHT_NOBITS && s.sec.Flags&elf.SHF_COMPRESSED == 0 &&
				s.sec.Offset+s.sec.Size <= uint64(len(f.mapped)) && s.sec.Offset+s.sec.Size >= s.sec.Offset {
				s.data = f.mapped[s.sec.Offset : s.sec.Offset+s.sec.Size]
				return
			}
			s.data, s.err = s.sec.Data()
			if s.err == nil && uint64(len(s.data)) != s.sec.Size {
				s.err = fmt.Errorf("section %s is truncated", s.sec.Name)
			}
		})
		if s.err != nil {
			return nil, s.err
		}
		off := addr - s.sec.Addr
		end := off + size
		if end > uint64(len(s.data)) || end < off {
			end = uint64(len(s.data))
		}
		return s.data[off:end], nil
	}
	return nil, fmt.Errorf("no code at %#x", addr)
}

// FunctionAt returns the function that starts exactly at addr.
func (f *File) FunctionAt(addr uint64) (*Function, bool) {
	i, ok := f.byAddr.get(addr)
	if !ok {
		return nil, false
	}
	return &f.Functions[i], true
}

// FunctionIndex returns the index in Functions of the function starting at addr.
func (f *File) FunctionIndex(addr uint64) (int, bool) {
	return f.byAddr.get(addr)
}

// Containing returns the function whose range holds addr.
func (f *File) Containing(addr uint64) (*Function, bool) {
	i := sort.Search(len(f.Functions), func(i int) bool { return f.Functions[i].Addr > addr }) - 1
	if i >= 0 && addr < f.Functions[i].Addr+f.Functions[i].Size {
		return &f.Functions[i], true
	}
	return nil, false
}

// InPLT reports whether addr lies in a PLT section.
func (f *File) InPLT(addr uint64) bool {
	for _, r := range f.PLT {
		if addr >= r.Begin && addr < r.End {
			return true
		}
	}
	return false
}

// Symbols returns the file's symbol table (.symtab, or .dynsym when stripped).
func (f *File) Symbols() []elf.Symbol { return f.symbols }

// Close releases the file.
func (f *File) Close() error {
	unmapFile(f.mapped)
	f.mapped = nil
	return f.ELF.Close()
}

// LookupExported returns the function that .dynsym exports under name.
func (f *File) LookupExported(name string) (*Function, bool) {
	f.exportOnce.Do(func() {
		f.exported = make(map[string]int, f.countExportedNames())
		for i, fn := range f.Functions {
			if !fn.Exported {
				continue
			}
			f.exported[fn.LinkName] = i
			for _, a := range fn.Aliases {
				if _, ok := f.exported[a]; !ok {
					f.exported[a] = i
				}
			}
		}
	})
	i, ok := f.exported[name]
	if !ok {
		return nil, false
	}
	return &f.Functions[i], true
}

// countExportedNames is how many names LookupExported's index may hold
// (at most: an alias may repeat a name), so that the index is made at
// its size: growing it was half of its 8 ms on node (profiles).
func (f *File) countExportedNames() int {
	n := 0
	for i := range f.Functions {
		if fn := &f.Functions[i]; fn.Exported {
			n += 1 + len(fn.Aliases)
		}
	}
	return n
}

// CodeEnd returns where code that starts at addr (a jump target inside a
// function, or code no symbol covers) can run to: the end of the function
// that contains it, else the next function or the end of the section.
func (f *File) CodeEnd(addr uint64) uint64 {
	if fn, ok := f.Containing(addr); ok {
		return fn.Addr + fn.Size
	}
	end := f.sectionEnd(addr)
	i := sort.Search(len(f.Functions), func(i int) bool { return f.Functions[i].Addr > addr })
	if i < len(f.Functions) && f.Functions[i].Addr < end {
		end = f.Functions[i].Addr
	}
	return end
}

// eachRela calls fn for every relocation of the file's SHT_RELA sections
// (x86-64: 24-byte entries).
func (f *File) eachRela(fn func(off uint64, typ elf.R_X86_64, sym int, addend uint64)) {
	for _, s := range f.ELF.Sections {
		if s.Type != elf.SHT_RELA {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		for i := 0; i+24 <= len(data); i += 24 {
			info := f.ELF.ByteOrder.Uint64(data[i+8:])
			fn(f.ELF.ByteOrder.Uint64(data[i:]), elf.R_X86_64(info&0xffffffff), int(info>>32), f.ELF.ByteOrder.Uint64(data[i+16:]))
		}
	}
}
