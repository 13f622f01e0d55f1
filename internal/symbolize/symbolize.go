// Package symbolize maps addresses of an arbitrary ELF file to function+offset
// and, with DWARF, to file:line and a function's local arrays.
//
// Addresses are link-time (file) addresses; callers subtract a module's load
// bias first. Nothing here panics on a malformed file: lookups just fail.
package symbolize

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/ianlancetaylor/demangle"
)

// Symbol is one function symbol.
type Symbol struct {
	Name  string // demangled
	Value uint64 // link-time address
	Size  uint64 // 0 when the symbol table does not say
}

// Array is a local array variable of a function, from DWARF.
type Array struct {
	Name string // variable name
	Type string // C-like spelling, e.g. "float[10]"
	Size int64  // bytes, -1 when unknown
}

// File is one opened ELF file.
type File struct {
	Path string
	ELF  *elf.File

	syms []Symbol // sorted by Value

	dwarfOnce sync.Once
	dw        *dwarf.Data
	lines     []lineRow // sorted by addr
}

type lineRow struct {
	addr uint64
	file string
	line int
	end  bool
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*File{}
)

// Open opens and indexes an ELF file; repeated calls with the same path
// return the same *File. The file stays open for the life of the process.
func Open(path string) (f *File, err error) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if f, ok := cache[path]; ok {
		return f, nil
	}
	defer func() {
		// debug/elf and debug/dwarf should not panic, but a supervisor must
		// never die because of one odd file.
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("symbolize: %s: malformed ELF (%v)", path, r)
		}
	}()
	ef, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("symbolize: %w", err)
	}
	f = &File{Path: path, ELF: ef}
	f.loadSymbols()
	cache[path] = f
	return f, nil
}

var rustHash = regexp.MustCompile(`::h[0-9a-f]{16}$`)

// Demangle turns a C++ or Rust symbol into its source spelling; other names
// come back unchanged.
func Demangle(name string) string {
	d := demangle.Filter(name, demangle.NoParams, demangle.NoTemplateParams)
	return rustHash.ReplaceAllString(d, "")
}

func (f *File) loadSymbols() {
	seen := map[uint64]bool{}
	add := func(syms []elf.Symbol) {
		for _, s := range syms {
			t := elf.ST_TYPE(s.Info)
			if t != elf.STT_FUNC && t != elf.STT_GNU_IFUNC {
				continue
			}
			if s.Value == 0 || s.Section == elf.SHN_UNDEF {
				continue
			}
			if seen[s.Value] {
				continue
			}
			seen[s.Value] = true
			name := s.Name
			if i := strings.IndexByte(name, '@'); i > 0 {
				name = name[:i]
			}
			f.syms = append(f.syms, Symbol{Name: Demangle(name), Value: s.Value, Size: s.Size})
		}
	}
	if s, err := f.ELF.Symbols(); err == nil {
		add(s)
	}
	if s, err := f.ELF.DynamicSymbols(); err == nil {
		add(s)
	}
	sort.Slice(f.syms, func(i, j int) bool { return f.syms[i].Value < f.syms[j].Value })
}

// Symbols returns the function symbols, sorted by address.
func (f *File) Symbols() []Symbol { return f.syms }

// Lookup finds the function containing addr (a link-time address). A symbol
// with a size covers exactly [Value, Value+Size); one without a size covers up
// to the next symbol.
func (f *File) Lookup(addr uint64) (Symbol, bool) {
	i := sort.Search(len(f.syms), func(i int) bool { return f.syms[i].Value > addr }) - 1
	for ; i >= 0; i-- {
		s := f.syms[i]
		if s.Size > 0 {
			if addr < s.Value+s.Size {
				return s, true
			}
			// A sized symbol that ends before addr: maybe an enclosing one
			// starts at the same place; otherwise addr is in an unnamed gap.
			if i > 0 && f.syms[i-1].Value == s.Value {
				continue
			}
			return Symbol{}, false
		}
		return s, true
	}
	return Symbol{}, false
}

// FindSymbol returns the address of the named (demangled) function.
func (f *File) FindSymbol(name string) (Symbol, bool) {
	for _, s := range f.syms {
		if s.Name == name {
			return s, true
		}
	}
	return Symbol{}, false
}

func (f *File) loadDWARF() {
	f.dwarfOnce.Do(func() {
		defer func() { recover() }()
		d, err := f.ELF.DWARF()
		if err != nil {
			return
		}
		f.dw = d
		r := d.Reader()
		for {
			e, err := r.Next()
			if err != nil || e == nil {
				break
			}
			if e.Tag != dwarf.TagCompileUnit {
				r.SkipChildren()
				continue
			}
			lr, err := d.LineReader(e)
			r.SkipChildren()
			if err != nil || lr == nil {
				continue
			}
			var le dwarf.LineEntry
			for lr.Next(&le) == nil {
				name := ""
				if le.File != nil {
					name = le.File.Name
				}
				f.lines = append(f.lines, lineRow{addr: le.Address, file: name, line: le.Line, end: le.EndSequence})
			}
		}
		sort.SliceStable(f.lines, func(i, j int) bool { return f.lines[i].addr < f.lines[j].addr })
	})
}

// HasDWARF reports whether the file carries DWARF debug information.
func (f *File) HasDWARF() bool {
	f.loadDWARF()
	return f.dw != nil
}

// Line maps addr to a source file (base name) and line, from DWARF.
func (f *File) Line(addr uint64) (file string, line int, ok bool) {
	f.loadDWARF()
	i := sort.Search(len(f.lines), func(i int) bool { return f.lines[i].addr > addr }) - 1
	if i < 0 {
		return "", 0, false
	}
	// Among rows at the same address prefer one that is not an end marker.
	r := f.lines[i]
	for j := i; j >= 0 && f.lines[j].addr == r.addr; j-- {
		if !f.lines[j].end {
			r = f.lines[j]
			break
		}
	}
	if r.end || r.line == 0 {
		return "", 0, false
	}
	return filepath.Base(r.file), r.line, true
}

// LocalArrays lists the array-typed local variables of the function whose
// code contains addr (DW_TAG_variable children of its DW_TAG_subprogram,
// including those in lexical blocks and inlined bodies).
func (f *File) LocalArrays(addr uint64) (fn string, arrays []Array) {
	defer func() {
		if recover() != nil {
			fn, arrays = "", nil
		}
	}()
	e, r := f.subprogramAt(addr)
	if e == nil {
		return "", nil
	}
	fn, _ = e.Val(dwarf.AttrName).(string)
	if !e.Children {
		return fn, nil
	}
	return fn, f.collectArrays(r)
}

// subprogramAt finds the DW_TAG_subprogram whose code contains addr and
// returns it with a reader positioned at its first child; nil when there
// is no DWARF or no such subprogram. Callers recover from debug/dwarf
// panics on malformed input.
func (f *File) subprogramAt(addr uint64) (*dwarf.Entry, *dwarf.Reader) {
	f.loadDWARF()
	if f.dw == nil {
		return nil, nil
	}
	r := f.dw.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			return nil, nil
		}
		switch e.Tag {
		case dwarf.TagCompileUnit:
			ranges, err := f.dw.Ranges(e)
			if err == nil && len(ranges) > 0 && !inRanges(ranges, addr) {
				r.SkipChildren()
			}
			continue
		case dwarf.TagSubprogram:
			ranges, err := f.dw.Ranges(e)
			if err != nil || !inRanges(ranges, addr) {
				if e.Children {
					r.SkipChildren()
				}
				continue
			}
			return e, r
		default:
			if e.Children && e.Tag != dwarf.TagNamespace && e.Tag != dwarf.TagModule {
				r.SkipChildren()
			}
		}
	}
}

func inRanges(ranges [][2]uint64, addr uint64) bool {
	for _, rg := range ranges {
		if addr >= rg[0] && addr < rg[1] {
			return true
		}
	}
	return false
}

// collectArrays reads the children of the entry just returned by r.
func (f *File) collectArrays(r *dwarf.Reader) []Array {
	var out []Array
	f.eachLocalArray(r, func(_ *dwarf.Entry, a Array) { out = append(out, a) })
	return out
}

// eachLocalArray calls fn for every array-typed variable among the
// children (at any depth: lexical blocks included) of the entry just
// returned by r.
func (f *File) eachLocalArray(r *dwarf.Reader, fn func(e *dwarf.Entry, a Array)) {
	depth := 1
	for depth > 0 {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag == 0 {
			depth--
			continue
		}
		if e.Tag == dwarf.TagVariable {
			if off, ok := e.Val(dwarf.AttrType).(dwarf.Offset); ok {
				if t, err := f.dw.Type(off); err == nil {
					if at, ok := stripQual(t).(*dwarf.ArrayType); ok {
						name, _ := e.Val(dwarf.AttrName).(string)
						fn(e, Array{Name: name, Type: arrayString(at), Size: at.Size()})
					}
				}
			}
		}
		if e.Children {
			depth++
		}
	}
}

func stripQual(t dwarf.Type) dwarf.Type {
	for i := 0; i < 16; i++ {
		switch q := t.(type) {
		case *dwarf.QualType:
			t = q.Type
		case *dwarf.TypedefType:
			t = q.Type
		default:
			return t
		}
	}
	return t
}

func arrayString(at *dwarf.ArrayType) string {
	dims := ""
	var t dwarf.Type = at
	for {
		a, ok := stripQual(t).(*dwarf.ArrayType)
		if !ok {
			break
		}
		if a.Count >= 0 {
			dims += fmt.Sprintf("[%d]", a.Count)
		} else {
			dims += "[]"
		}
		t = a.Type
	}
	return t.String() + dims
}

// LoadBias returns how far the file was moved when mapped: runtime address =
// link-time address + bias. mapStart and mapOffset describe any one of its
// mappings from /proc/PID/maps.
//
// A file page can belong to two PT_LOAD segments: linkers that do not pad
// segments to page boundaries in the file (lld, which rustc uses) start the
// code segment in the page where the read-only one ends, at another virtual
// page. The loader maps each segment from its own first page, so a mapping
// whose offset is exactly a segment's first page is that segment's; only a
// mapping split later (mprotect of RELRO) starts inside one.
func (f *File) LoadBias(mapStart, mapOffset uint64) (uint64, bool) {
	for _, exact := range []bool{true, false} {
		for _, p := range f.ELF.Progs {
			if p.Type != elf.PT_LOAD {
				continue
			}
			if exact && mapOffset != p.Off&^0xfff {
				continue
			}
			if mapOffset >= p.Off&^0xfff && mapOffset < p.Off+p.Filesz {
				return mapStart - (p.Vaddr - p.Off + mapOffset), true
			}
		}
	}
	return 0, false
}

// Section returns the bytes and address of a named section, or ok=false.
func (f *File) Section(name string) (data []byte, addr uint64, ok bool) {
	s := f.ELF.Section(name)
	if s == nil || s.Type == elf.SHT_NOBITS {
		return nil, 0, false
	}
	d, err := s.Data()
	if err != nil {
		return nil, 0, false
	}
	return d, s.Addr, true
}

// Exists reports whether path names a readable regular file.
func Exists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// Slot is a pointer-typed local variable kept in the stack frame, at Off
// bytes from the frame's CFA (the caller's SP before the call).
type Slot struct {
	Name string
	Off  int64
	Size int64
}

// PointerSlots lists the pointer-typed local variables of the function
// whose code contains addr that live at a fixed offset from its CFA: the
// subprogram's frame base is DW_OP_call_frame_cfa and the variable's
// location is DW_OP_fbreg N (what GCC emits at -O0). Nothing otherwise.
func (f *File) PointerSlots(addr uint64) (slots []Slot) {
	defer func() {
		if recover() != nil {
			slots = nil
		}
	}()
	e, r := f.subprogramAt(addr)
	if e == nil || !e.Children {
		return nil
	}
	const opCallFrameCFA = 0x9c
	if fb, _ := e.Val(dwarf.AttrFrameBase).([]byte); len(fb) != 1 || fb[0] != opCallFrameCFA {
		return nil
	}
	return f.collectPointerSlots(r)
}

func (f *File) collectPointerSlots(r *dwarf.Reader) []Slot {
	const opFbreg = 0x91
	var out []Slot
	depth := 1
	for depth > 0 {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag == 0 {
			depth--
			continue
		}
		if e.Tag == dwarf.TagVariable || e.Tag == dwarf.TagFormalParameter {
			loc, _ := e.Val(dwarf.AttrLocation).([]byte)
			toff, _ := e.Val(dwarf.AttrType).(dwarf.Offset)
			if len(loc) > 1 && loc[0] == opFbreg && toff != 0 {
				if t, err := f.dw.Type(toff); err == nil {
					if _, ok := stripQual(t).(*dwarf.PtrType); ok {
						if off, n := sleb128(loc[1:]); n == len(loc)-1 {
							name, _ := e.Val(dwarf.AttrName).(string)
							out = append(out, Slot{Name: name, Off: off, Size: 8})
						}
					}
				}
			}
		}
		if e.Children {
			depth++
		}
	}
	return out
}

// sleb128 decodes a signed LEB128 number and returns it with its length.
func sleb128(b []byte) (int64, int) {
	var v int64
	var shift uint
	for i, c := range b {
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, i + 1
		}
		if shift >= 64 {
			break
		}
	}
	return 0, 0
}
