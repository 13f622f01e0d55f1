// Package dwtypes reads what the DWARF debugging information says about
// the types an indirect call involves: the prototype of each function, the
// type of each global variable, and from them the type of the word an
// indirect call loads its target from (a member of a typed dispatch
// table). With it the targets of a call through a pointer of type
// `int (*)(int, char *)` can be narrowed to the functions whose prototype
// fits that type.
package dwtypes

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/stackscope/stackscope/internal/dieread"
	"github.com/stackscope/stackscope/internal/frame"
)

// Info is the DWARF type information of one ELF file.
type Info struct {
	data    *dwarf.Data
	protos  map[uint64]*Proto // function entry -> prototype
	globals []global          // sorted by addr
	units   []unit            // compilation units' address ranges, sorted
	funcs   []funcVars        // sorted by low
	locs    locSections
	// ptrSize is the size of a pointer (and of an address in DWARF): 8 on
	// x86-64, 4 on 32-bit ARM.
	ptrSize int64
	// arm: AAPCS, ARM's DWARF register numbers (r0-r15 are 0-15).
	arm bool
	// vtableSlot stands for a word of a C++ vtable, vptrType for an
	// object's pointer to its vtable (see wordsAt), in this file's pointer
	// size.
	vtableSlot, vptrType *dwarf.PtrType
	// the unit being scanned
	cuBase    uint64
	cuVersion int
	// dies reads the entries during Load (see package dieread: with
	// debug/dwarf's Reader, an Entry allocated per entry was 80% of the
	// allocations of Load).
	dies *dieread.Reader
	// seek reads the types by offset: one Reader for all, where a Reader
	// each cost 37,000 allocations per load of node's DWARF.
	seek *dwarf.Reader
	// mu guards data's type cache and seek once Load has returned: the
	// lazy types (lazyType) read them when first asked.
	mu sync.Mutex
	// eager: see load.
	eager bool
	// lazies is the block newLazyType takes lazy types from.
	lazies []lazyType
}

type global struct {
	addr, size uint64
	typ        dwarf.Type
}

type unit struct {
	low, high uint64
	cplusplus bool
}

// Proto is a function's prototype: its parameter types in order.
// Unknown is set when DWARF does not give them (a K&R declaration).
type Proto struct {
	Params   []dwarf.Type
	Variadic bool
	Unknown  bool
}

// Load reads the DWARF of f. It returns nil when f has no debugging
// information or it cannot be read: callers then keep the unnarrowed
// sets.
func Load(f *elf.File) (info *Info) { return load(f, false) }

// load is Load; eager reads as Load did before lazyType and the skipping
// of C structs' members (mayHoldCode): every type when found, each
// struct's children. Tests compare the two readings.
func load(f *elf.File, eager bool) (info *Info) {
	if f.Section(".debug_info") == nil {
		return nil
	}
	// debug/dwarf panics on some malformed input; corrupt DWARF must cost
	// the narrowing, never the analysis.
	defer func() {
		if recover() != nil {
			info = nil
		}
	}()
	d, err := f.DWARF()
	if err != nil {
		return nil
	}
	in := &Info{data: d, protos: map[uint64]*Proto{}, ptrSize: 8, arm: f.Machine == elf.EM_ARM,
		seek: d.Reader(), eager: eager}
	if f.Class == elf.ELFCLASS32 {
		in.ptrSize = 4
	}
	// debug/dwarf drops the name of GCC's __vtbl_ptr_type.
	in.vtableSlot = &dwarf.PtrType{CommonType: dwarf.CommonType{ByteSize: in.ptrSize, Name: "__vtbl_ptr_type"}, Type: &dwarf.VoidType{}}
	in.vptrType = &dwarf.PtrType{CommonType: dwarf.CommonType{ByteSize: in.ptrSize}, Type: in.vtableSlot}
	section := func(name string) []byte {
		if s := f.Section(name); s != nil {
			if b, err := s.Data(); err == nil {
				return b
			}
		}
		return nil
	}
	in.locs = locSections{info: section(".debug_info"), loc: section(".debug_loc"), loclists: section(".debug_loclists"), addrSize: int(in.ptrSize)}
	if eager {
		in.dies = dieread.New(d, dieread.Sections{}) // every entry read by debug/dwarf
	} else {
		in.dies = dieread.New(d, dieread.Sections{Info: in.locs.info, Abbrev: section(".debug_abbrev"),
			Str: section(".debug_str"), LineStr: section(".debug_line_str")})
	}
	if err := in.scan(); err != nil {
		return nil
	}
	sort.Slice(in.globals, func(i, j int) bool { return in.globals[i].addr < in.globals[j].addr })
	sort.Slice(in.units, func(i, j int) bool { return in.units[i].low < in.units[j].low })
	sort.Slice(in.funcs, func(i, j int) bool { return in.funcs[i].low < in.funcs[j].low })
	in.locs = locSections{}
	in.dies = nil
	return in
}

// scan walks every compilation unit once for subprograms with code,
// global variables at fixed addresses and the units' languages.
func (in *Info) scan() error {
	r := in.dies
	cplusplus, knr := false, false
	for {
		e, ok, err := r.Next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		switch e.Tag {
		case dwarf.TagCompileUnit:
			cu, err := r.Full(e)
			if err != nil || cu == nil {
				return fmt.Errorf("unit at %#x does not read: %v", e.Offset, err)
			}
			lang, _ := cu.Val(dwarf.AttrLanguage).(int64)
			cplusplus = isCPlusPlus(lang)
			knr = dieread.IsC(lang)
			in.cuBase, _ = cu.Val(dwarf.AttrLowpc).(uint64)
			in.cuVersion = in.locs.unitVersion(e.Offset)
			if ranges, err := in.data.Ranges(cu); err == nil {
				for _, rg := range ranges {
					in.units = append(in.units, unit{rg[0], rg[1], cplusplus})
				}
			}
		case dwarf.TagSubprogram:
			in.addSubprogram(r, e, knr)
			continue // addSubprogram reads or skips the children
		case dwarf.TagVariable:
			in.addGlobal(e)
		}
		if e.Children && !mayHoldCode(e.Tag, knr && !in.eager) {
			r.SkipChildren()
		}
	}
}

// mayHoldCode says whether an entry of tag may have subprograms or
// variables among its children, which scan reads. A C struct has only
// members: its children are skipped (node's libuv, all C: 15% fewer
// allocations in Load).
func mayHoldCode(tag dwarf.Tag, c bool) bool {
	switch tag {
	case dwarf.TagCompileUnit, dwarf.TagNamespace, dwarf.TagLexDwarfBlock:
		return true
	case dwarf.TagStructType, dwarf.TagClassType:
		return !c
	}
	return false
}

// isCallSite: DW_TAG_call_site, or GCC's DW_TAG_GNU_call_site of DWARF 4.
func isCallSite(tag dwarf.Tag) bool {
	return tag == dwarf.TagCallSite || tag == 0x4109
}

func isCPlusPlus(lang int64) bool {
	switch lang {
	case 0x4, 0x19, 0x1a, 0x21: // C++, C++03, C++11, C++14
		return true
	}
	return lang >= 0x2a && lang <= 0x2b // C++17, C++20
}

// addSubprogram records the prototype of a subprogram that has code.
func (in *Info) addSubprogram(r *dieread.Reader, e dieread.Entry, knr bool) {
	var first [1]uint64
	entries := first[:0]
	if e.HasLowpc {
		entries = append(entries, e.Lowpc)
	} else if e.HasRanges { // (without either Ranges has none)
		if ranges, err := in.ranges(e); err == nil {
			for _, rg := range ranges {
				entries = append(entries, rg[0])
			}
		}
	}
	if !e.Children {
		if len(entries) > 0 {
			p := &Proto{Unknown: knr && !in.prototyped(e)}
			for _, a := range entries {
				in.protos[a] = p
			}
		}
		return
	}
	p := &Proto{Unknown: knr && !in.prototyped(e)}
	var vars []regVar
	defer func() {
		if len(vars) == 0 {
			return
		}
		ranges, err := in.ranges(e)
		if err != nil {
			return
		}
		for _, rg := range ranges {
			in.funcs = append(in.funcs, funcVars{low: rg[0], high: rg[1], vars: vars})
		}
	}()
	depth := 1
	for depth > 0 {
		c, ok, err := r.Next()
		if err != nil || !ok {
			return
		}
		if c.Tag == 0 {
			depth--
			continue
		}
		if c.Tag == dwarf.TagFormalParameter || c.Tag == dwarf.TagVariable {
			vars = in.registerVars(vars, c)
		}
		if depth == 1 {
			switch c.Tag {
			case dwarf.TagFormalParameter:
				if in.eager {
					p.Params = append(p.Params, in.typeOf(c))
				} else {
					p.Params = append(p.Params, in.lazyTypeOf(c))
				}
			case dwarf.TagUnspecifiedParameters:
				p.Variadic = true
			case dwarf.TagVariable:
				// A function-local static has a fixed address too.
				in.addGlobal(c)
			}
		}
		if c.Children && isCallSite(c.Tag) && !in.eager {
			// A call site's children are the values of its arguments
			// (DW_TAG_call_site_parameter): no variables. Node's
			// libuv has 8,300 of them, a quarter of its subprograms'
			// entries.
			r.SkipChildren()
		} else if c.Children {
			depth++
		}
	}
	for _, a := range entries {
		in.protos[a] = p
	}
}

// registerVars appends to vars where the location list of a variable or
// parameter puts it in a register, with its type.
func (in *Info) registerVars(vars []regVar, e dieread.Entry) []regVar {
	if !e.HasLocList {
		return vars
	}
	n := len(vars)
	vars = in.locs.regEntries(vars, in.cuVersion, e.LocList, in.cuBase)
	if len(vars) == n {
		return vars
	}
	toff, ok := in.typeOffset(e)
	if !ok {
		return vars[:n]
	}
	t := in.newLazyType(toff)
	if in.eager && t.get() == nil {
		return vars[:n]
	}
	for i := n; i < len(vars); i++ {
		vars[i].typ = t
	}
	return vars
}

// prototyped says whether a C function was declared with a prototype,
// looking through its declaration.
func (in *Info) prototyped(e dieread.Entry) bool {
	ok := true
	for i := 0; i < 4 && ok; i++ {
		if e.Prototyped {
			return true
		}
		e, ok = in.origin(e)
	}
	return false
}

// origin returns the DIE e completes (DW_AT_specification, or
// DW_AT_abstract_origin for an out-of-line instance); false if none.
func (in *Info) origin(e dieread.Entry) (dieread.Entry, bool) {
	off, ok := e.Origin, e.HasOrigin
	if !ok {
		off, ok = e.Spec, e.HasSpec
	}
	if !ok {
		return dieread.Entry{}, false
	}
	return in.dies.At(off)
}

// ranges is debug/dwarf's Ranges of e.
func (in *Info) ranges(e dieread.Entry) ([][2]uint64, error) {
	full, err := in.dies.Full(e)
	if err != nil || full == nil {
		return nil, fmt.Errorf("entry at %#x does not read: %v", e.Offset, err)
	}
	return in.data.Ranges(full)
}

// typeOf returns the type of a parameter or variable, from its own
// DW_AT_type or its origin's; nil when unknown.
func (in *Info) typeOf(e dieread.Entry) dwarf.Type {
	if off, ok := in.typeOffset(e); ok {
		return in.typeAt(off)
	}
	return nil
}

// typeOffset returns the offset of the type entry of a parameter or
// variable: its own DW_AT_type or its origin's.
func (in *Info) typeOffset(e dieread.Entry) (dwarf.Offset, bool) {
	ok := true
	for i := 0; i < 4 && ok; i++ {
		if e.HasType {
			return e.Type, true
		}
		e, ok = in.origin(e)
	}
	return 0, false
}

// lazyTypeOf is typeOf read when first asked (see lazyType), nil when e
// has no type.
func (in *Info) lazyTypeOf(e dieread.Entry) dwarf.Type {
	off, ok := in.typeOffset(e)
	if !ok {
		return nil
	}
	return in.newLazyType(off)
}

// typeAt returns the type at off; a C++ reference is given as a pointer
// to what it refers to (debug/dwarf does not model references).
func (in *Info) typeAt(off dwarf.Offset) dwarf.Type {
	in.seek.Seek(off)
	if e, err := in.seek.Next(); err == nil && e != nil && (e.Tag == dwarf.TagReferenceType || e.Tag == dwarf.TagRvalueReferenceType) {
		if to, ok := e.Val(dwarf.AttrType).(dwarf.Offset); ok {
			if t, err := in.data.Type(to); err == nil {
				return &dwarf.PtrType{CommonType: dwarf.CommonType{ByteSize: in.ptrSize}, Type: t}
			}
		}
		return nil
	}
	t, err := in.data.Type(off)
	if err != nil {
		return nil
	}
	return t
}

// addGlobal records a variable whose location is a fixed address.
func (in *Info) addGlobal(e dieread.Entry) {
	loc := e.LocExpr
	if int64(len(loc)) != 1+in.ptrSize || loc[0] != 0x03 { // DW_OP_addr
		return
	}
	addr := uint64(0)
	for i := int(in.ptrSize); i >= 1; i-- {
		addr = addr<<8 | uint64(loc[i])
	}
	t := in.typeOf(e)
	if t == nil || t.Size() <= 0 {
		return
	}
	in.globals = append(in.globals, global{addr: addr, size: uint64(t.Size()), typ: t})
}

// Prototype returns the prototype of the function that starts at addr.
func (in *Info) Prototype(addr uint64) (*Proto, bool) {
	p, ok := in.protos[addr]
	return p, ok
}

// CPlusPlus says whether the code at pc was compiled from C++ (false when
// no unit covers pc).
func (in *Info) CPlusPlus(pc uint64) bool {
	i := sort.Search(len(in.units), func(i int) bool { return in.units[i].high > pc })
	return i < len(in.units) && in.units[i].low <= pc && in.units[i].cplusplus
}

// Covers says whether some compilation unit describes the code at pc.
func (in *Info) Covers(pc uint64) bool {
	i := sort.Search(len(in.units), func(i int) bool { return in.units[i].high > pc })
	return i < len(in.units) && in.units[i].low <= pc
}

// Called is what the DWARF says about the word an indirect call reads
// its target from.
type Called struct {
	// Types are the function-pointer types the word may have.
	Types []*dwarf.FuncType
	// Vtable: the word is a slot of a C++ vtable, read through an
	// object's _vptr member.
	Vtable bool
}

// CalledTypes types the word an indirect call reads its target from, when
// the code shows where that word is and the DWARF types it: a member of a
// global table (`call [table+i*16+8]` in a `struct op table[]`), a member
// of the struct a register variable points to (`call [rdi+8]` with `p` of
// type `struct ops *` in rdi), or a vtable slot reached through a _vptr.
// ok is false unless every word the call may read there is a function
// pointer, or every one a vtable slot.
func (in *Info) CalledTypes(target *frame.Value) (c Called, ok bool) {
	defer func() { // types are read lazily: see Load
		if recover() != nil {
			c, ok = Called{}, false
		}
	}()
	if target == nil || target.Kind != frame.ValueLoad || target.Off != 0 || target.Addr == nil {
		return c, false
	}
	words := in.loadTypes(target.Addr, 0)
	if len(words) == 0 {
		return c, false
	}
	for _, w := range words {
		if w == dwarf.Type(in.vtableSlot) {
			c.Vtable = true
			continue
		}
		ft, isFunc := funcPointer(w)
		if !isFunc {
			return Called{}, false
		}
		c.Types = append(c.Types, ft)
	}
	if c.Vtable && len(c.Types) > 0 {
		return Called{}, false
	}
	return c, true
}

// loadTypes returns the types of the words a load from address a can
// read (nil: not known).
func (in *Info) loadTypes(a *frame.Value, depth int) []dwarf.Type {
	if depth > 4 {
		return nil
	}
	if a.Kind == frame.ValueConst {
		addr := uint64(a.Off)
		i := sort.Search(len(in.globals), func(i int) bool { return in.globals[i].addr+in.globals[i].size > addr })
		if i == len(in.globals) || in.globals[i].addr > addr {
			return nil
		}
		g := in.globals[i]
		return in.wordsAt(g.typ, int64(addr-g.addr), a.Indexed, 0)
	}
	base := *a
	base.Off, base.Indexed = 0, false
	var out []dwarf.Type
	for _, pt := range in.valueTypes(&base, depth+1) {
		p, ok := strip(pt).(*dwarf.PtrType)
		if !ok || p.Type == nil {
			continue
		}
		out = append(out, in.elementWords(p.Type, a.Off, a.Indexed)...)
	}
	return out
}

// valueTypes returns the DWARF types the value v may have.
func (in *Info) valueTypes(v *frame.Value, depth int) []dwarf.Type {
	if v.Off != 0 || v.Indexed {
		return nil
	}
	switch v.Kind {
	case frame.ValueReg:
		return in.inRegister(int(v.Reg), v.At)
	case frame.ValueLoad:
		return in.loadTypes(v.Addr, depth)
	}
	return nil
}

// elementWords returns the word types at byte offset off from a pointer
// to t: inside t, or, with an index, inside some element of an array of
// t. An offset past t without an index is not followed (a cast to a
// larger struct that embeds t), except over an array of pointers (a
// vtable).
func (in *Info) elementWords(t dwarf.Type, off int64, indexed bool) []dwarf.Type {
	size := strip(t).Size()
	if size <= 0 {
		return nil
	}
	if indexed {
		off = (off%size + size) % size
	} else if off < 0 || off >= size {
		if _, isPtr := strip(t).(*dwarf.PtrType); !isPtr || off < 0 || off%size != 0 {
			return nil
		}
		off = 0
	}
	return in.wordsAt(t, off, indexed, 0)
}

// wordsAt returns the types of the pointer-sized words inside an object of
// type t that a load at byte offset off can read; with indexed, the load's
// address has an unknown index added, so every element of an array that
// the offset falls in (taken modulo the element size) can be read.
func (in *Info) wordsAt(declared dwarf.Type, off int64, indexed bool, depth int) []dwarf.Type {
	t := strip(declared)
	if depth > 8 || t == nil || off < 0 {
		return nil
	}
	switch t := t.(type) {
	case *dwarf.ArrayType:
		el := t.Type
		n := el.Size()
		if n <= 0 {
			return nil
		}
		if indexed {
			off %= n
		} else if off/n >= t.Count && t.Count >= 0 {
			return nil
		}
		return in.wordsAt(el, off%n, indexed, depth+1)
	case *dwarf.StructType:
		if t.Incomplete {
			return nil
		}
		var out []dwarf.Type
		for _, f := range t.Field {
			fs := f.Type.Size()
			if f.BitSize != 0 || off < f.ByteOffset || off >= f.ByteOffset+fs {
				continue
			}
			if strings.HasPrefix(f.Name, "_vptr") && off == f.ByteOffset {
				// GCC's _vptr.Class, clang's _vptr$Class.
				out = append(out, in.vptrType)
				continue
			}
			out = append(out, in.wordsAt(f.Type, off-f.ByteOffset, indexed, depth+1)...)
		}
		return out
	}
	if off == 0 && t.Size() == in.ptrSize {
		return []dwarf.Type{declared}
	}
	return nil
}

// strip removes typedefs and qualifiers.
func strip(t dwarf.Type) dwarf.Type {
	for i := 0; i < 32; i++ {
		switch u := t.(type) {
		case *lazyType:
			t = u.get()
		case *dwarf.TypedefType:
			t = u.Type
		case *dwarf.QualType:
			t = u.Type
		default:
			return t
		}
	}
	return t
}

// funcPointer returns the function type a pointer-to-function type points to.
func funcPointer(t dwarf.Type) (*dwarf.FuncType, bool) {
	p, ok := strip(t).(*dwarf.PtrType)
	if !ok {
		return nil, false
	}
	ft, ok := strip(p.Type).(*dwarf.FuncType)
	return ft, ok
}

// class is a parameter's calling-convention class: what decides where
// and how it is passed. Integers by size, all data pointers alike (a
// callback declared with `const struct x *` stored in a `void *` slot is
// common C), floating point by size, aggregates by size; "?" matches
// anything.
func class(t dwarf.Type) string {
	t = strip(t)
	switch t := t.(type) {
	case nil:
		return "?"
	case *dwarf.PtrType, *dwarf.FuncType, *dwarf.ArrayType:
		return "p"
	case *dwarf.FloatType:
		return fmt.Sprintf("f%d", t.Size())
	case *dwarf.ComplexType:
		return fmt.Sprintf("c%d", t.Size())
	case *dwarf.StructType:
		return fmt.Sprintf("s%d", t.Size())
	case *dwarf.IntType, *dwarf.UintType, *dwarf.CharType, *dwarf.UcharType, *dwarf.BoolType, *dwarf.EnumType:
		return fmt.Sprintf("i%d", t.Size())
	case *dwarf.UnsupportedType:
		if t.Tag == dwarf.TagReferenceType || t.Tag == dwarf.TagRvalueReferenceType {
			return "p"
		}
	}
	return "?"
}

// armClass is a parameter's class under the AAPCS, erring towards
// matching: every scalar of up to 4 bytes (integers, pointers, enums and
// float, which the base standard passes in a core register and the VFP
// variant in a VFP register) is one class "w", the 8-byte scalars (long
// long, double) "d", which take an even register pair or a VFP double
// register; an aggregate or complex value matches anything.
func armClass(t dwarf.Type) string {
	t = strip(t)
	switch t := t.(type) {
	case *dwarf.PtrType, *dwarf.FuncType, *dwarf.ArrayType:
		return "w"
	case *dwarf.FloatType, *dwarf.IntType, *dwarf.UintType, *dwarf.CharType, *dwarf.UcharType, *dwarf.BoolType, *dwarf.EnumType:
		switch {
		case t.Size() > 0 && t.Size() <= 4:
			return "w"
		case t.Size() == 8:
			return "d"
		}
	case *dwarf.UnsupportedType:
		if t.Tag == dwarf.TagReferenceType || t.Tag == dwarf.TagRvalueReferenceType {
			return "w"
		}
	}
	return "?"
}

// Fits is Fits under this file's calling convention: the AAPCS classes
// (armClass) on ARM, SysV's (class) elsewhere.
func (in *Info) Fits(p *Proto, ft *dwarf.FuncType) bool {
	if in != nil && in.arm {
		return fits(p, ft, armClass)
	}
	return fits(p, ft, class)
}

// Fits says whether a function with prototype p can be the target of a
// call through a pointer to function type ft, under the x86-64 SysV
// classes. It errs on the side of yes:
// an unknown prototype fits; the return type is not compared (a function
// returning int is often stored as a `void (*)(void *)` destructor); the
// function may take fewer parameters than the pointer passes; parameters
// are compared by calling-convention class, through typedefs and
// qualifiers. It fits not when it needs a parameter the call does not pass
// or one of a different class.
func Fits(p *Proto, ft *dwarf.FuncType) bool { return fits(p, ft, class) }

func fits(p *Proto, ft *dwarf.FuncType, class func(dwarf.Type) string) bool {
	if p == nil || p.Unknown {
		return true
	}
	var params []dwarf.Type
	variadic := false
	for _, t := range ft.ParamType {
		if _, dots := t.(*dwarf.DotDotDotType); dots {
			variadic = true
			continue
		}
		params = append(params, t)
	}
	if len(ft.ParamType) == 1 {
		if _, void := strip(ft.ParamType[0]).(*dwarf.VoidType); void {
			params = nil
		}
	}
	for i, t := range p.Params {
		if i >= len(params) {
			return variadic
		}
		a, b := class(t), class(params[i])
		if a != b && a != "?" && b != "?" {
			return false
		}
	}
	return true
}

// Signature prints a function pointer type as C writes it:
// `int (*)(int, char *)`.
func Signature(ft *dwarf.FuncType) string {
	ret := "void"
	if ft.ReturnType != nil {
		ret = typeName(ft.ReturnType)
	}
	var ps []string
	for _, t := range ft.ParamType {
		ps = append(ps, typeName(t))
	}
	if len(ps) == 0 {
		ps = []string{"void"}
	}
	return ret + " (*)(" + strings.Join(ps, ", ") + ")"
}

func typeName(t dwarf.Type) string {
	switch t := t.(type) {
	case *dwarf.DotDotDotType:
		return "..."
	case *dwarf.PtrType:
		if _, ok := strip(t.Type).(*dwarf.FuncType); ok {
			return "fn *"
		}
		return strings.TrimSpace(typeName(t.Type)) + " *"
	case *dwarf.QualType:
		return t.Qual + " " + typeName(t.Type)
	case *dwarf.StructType:
		if t.StructName != "" {
			return t.Kind + " " + t.StructName
		}
	}
	if t == nil {
		return "void"
	}
	return t.String()
}
