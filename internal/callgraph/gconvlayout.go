package callgraph

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"maps"
	"slices"

	"github.com/stackscope/stackscope/internal/binfile"
)

// gconvLayout is what the gconv step model (gconvstep.go) needs of
// glibc's conversion structures, read from libc's debug file (libc6-dbg):
// where struct __gconv_step keeps its conversion function (__fct) and its
// single-byte function (__btowc_fct), its size, and the functions libc's
// static objects of that type (wcsmbsload.c's to_wc and to_mb, the C
// locale's steps) and of gconv_builtin.c's struct builtin_map (the table
// __gconv_get_builtin_trans copies into the steps of iconv's builtin
// conversions) hold in those members.
type gconvLayout struct {
	stepSize, fct, btowc int64
	// fcts and btowcs are the non-null words of those members in the
	// static objects, relocated: function addresses; [0] of the static
	// steps (struct __gconv_step: to_wc, to_mb), [1] of gconv_builtin.c's
	// table (struct builtin_map), which only __gconv_find_transform's
	// steps copy.
	fcts, btowcs [2][]uint64
	// objects names the static objects read, for reports (the same two).
	objects [2][]string
	// users are the code ranges of the functions whose source handles a
	// step (gconvusers.go): the only ones whose loads at the members'
	// offsets are taken for a step's.
	users []pcRange
}

var gconvLayouts debugFileCache[*gconvLayout]

// gconvLayoutOf reads m's layout once per debug file; nil without one, or
// when a member's offset, a static object or one of its words is not
// known (a word some relocation other than R_X86_64_RELATIVE fills).
func gconvLayoutOf(m *Module) *gconvLayout {
	return gconvLayouts.get(m.File, readGconvLayout)
}

// gconvStructs are the structures whose function members the model reads:
// the member names of the conversion and single-byte functions.
var gconvStructs = map[string][2]string{
	"__gconv_step": {"__fct", "__btowc_fct"},
	"builtin_map":  {"fct", "btowc_fct"},
}

// readGconvLayout reads the layout from file's debug file (gconvLayoutIn).
func readGconvLayout(file *binfile.File) *gconvLayout {
	var l *gconvLayout
	withDebugDWARF(file, func(d *dwarf.Data) { l = gconvLayoutIn(file, d) })
	return l
}

// gconvLayoutIn walks the top-level entries of the units of d, file's
// debug file's DWARF: the two structures, and the variables at fixed
// addresses whose type is one of them or an array of one.
func gconvLayoutIn(file *binfile.File, d *dwarf.Data) *gconvLayout {
	t := newGconvTop()
	t.users = newUsersBeside(d)
	err := walkTopLevelUsers(d, t.users, t, t.steps)
	return t.layout(file, d, nil, err)
}

// gconvTop is what gconvLayoutIn reads of the top-level entries, as a
// topLevelReader (a prefetch walks once for several readers): the DIEs
// of the two structures, the variables at fixed addresses, and the
// offsets of a step's two members (steps, memberOffsets').
type gconvTop struct {
	structs map[dwarf.Offset]bool
	vars    []gconvVariable
	steps   *memberAgreement
	users   *usersBeside // the step's users, read in the same walk (nil: layout reads them)
}

type gconvVariable struct {
	name string
	typ  dwarf.Offset
	addr uint64
}

func newGconvTop() *gconvTop {
	return &gconvTop{structs: map[dwarf.Offset]bool{}, steps: newMemberAgreement("__gconv_step", "__fct", "__btowc_fct")}
}

func (t *gconvTop) wantsMembers(*dwarf.Entry, dwarf.Tag) bool { return false }

func (t *gconvTop) readsTag(tag dwarf.Tag) bool {
	return tag == dwarf.TagStructType || tag == dwarf.TagVariable
}

func (t *gconvTop) structNames() []string { return slices.Collect(maps.Keys(gconvStructs)) }

func (t *gconvTop) read(e *dwarf.Entry, _ dwarf.Tag, _ []memberEntry) {
	if name, _ := e.Val(dwarf.AttrName).(string); e.Tag == dwarf.TagStructType && gconvStructs[name] != [2]string{} {
		t.structs[e.Offset] = true
	}
	if e.Tag == dwarf.TagVariable {
		typ, okType := e.Val(dwarf.AttrType).(dwarf.Offset)
		loc, okLoc := e.Val(dwarf.AttrLocation).([]byte)
		name, _ := e.Val(dwarf.AttrName).(string)
		if okType && okLoc && len(loc) == 9 && loc[0] == 0x03 { // DW_OP_addr
			t.vars = append(t.vars, gconvVariable{name, typ, binary.LittleEndian.Uint64(loc[1:])})
		}
	}
}

// layout makes the layout from what the walk read (nil when it stopped
// on err): the static objects' words, and the step's users (read in the
// same walk, t.users, or by a walk of every entry, readGconvUsers).
//
// sc (d's scanner, or nil) passes by the variables whose type cannot be
// one of the structures (gconvStructTypeMaybe) without d.Type, which
// builds the whole type of each: 110,000 allocations for libc's.
func (t *gconvTop) layout(file *binfile.File, d *dwarf.Data, sc *dieScanner, err error) *gconvLayout {
	if err != nil || len(t.structs) == 0 {
		return nil
	}
	vars := t.vars
	l := &gconvLayout{stepSize: -1, fct: -1, btowc: -1}
	steps := t.steps.offsets()
	fct, ok1 := steps["__fct"]
	btowc, ok2 := steps["__btowc_fct"]
	if !ok1 || !ok2 {
		return nil
	}
	l.fct, l.btowc = fct, btowc
	var chain *dwarf.Reader // gconvStructTypeMaybe's
	if sc != nil {
		chain = d.Reader()
	}
	for _, v := range vars {
		if sc != nil && !gconvStructTypeMaybe(chain, sc, v.typ) {
			continue
		}
		t, err := d.Type(v.typ)
		if err != nil {
			continue
		}
		st, count := gconvStructOf(t)
		if st == nil {
			continue
		}
		names := gconvStructs[st.StructName]
		off := [2]int64{-1, -1}
		for _, fld := range st.Field {
			for k, want := range names {
				if fld.Name == want {
					off[k] = fld.ByteOffset
				}
			}
		}
		if off[0] < 0 || off[1] < 0 {
			return nil
		}
		kind := 1
		if st.StructName == "__gconv_step" {
			l.stepSize, kind = st.ByteSize, 0
		}
		l.objects[kind] = append(l.objects[kind], v.name)
		for i := int64(0); i < count; i++ {
			for k := range off {
				w, ok := relocatedWord(file, v.addr+uint64(i*st.ByteSize+off[k]))
				if !ok {
					return nil
				}
				if w == 0 {
					continue
				}
				if k == 0 {
					l.fcts[kind] = append(l.fcts[kind], w)
				} else {
					l.btowcs[kind] = append(l.btowcs[kind], w)
				}
			}
		}
	}
	if l.stepSize <= 0 || len(l.fcts[0]) == 0 {
		return nil
	}
	if t.users != nil {
		l.users = t.users.result(d)
	} else {
		l.users = readGconvUsers(d)
	}
	if len(l.users) == 0 {
		return nil
	}
	for k := range l.fcts {
		slices.Sort(l.fcts[k])
		l.fcts[k] = slices.Compact(l.fcts[k])
		slices.Sort(l.btowcs[k])
		l.btowcs[k] = slices.Compact(l.btowcs[k])
		slices.Sort(l.objects[k])
		l.objects[k] = slices.Compact(l.objects[k])
	}
	return l
}

// gconvStructOf is the struct of gconvStructs that a variable of type t
// is, or is an array of (count of them), through qualifiers and
// typedefs; nil if none.
func gconvStructOf(t dwarf.Type) (*dwarf.StructType, int64) {
	count := int64(1)
	for {
		switch tt := t.(type) {
		case *dwarf.QualType:
			t = tt.Type
			continue
		case *dwarf.TypedefType:
			t = tt.Type
			continue
		case *dwarf.ArrayType:
			if count != 1 || tt.Count < 0 {
				return nil, 0
			}
			count, t = tt.Count, tt.Type
			continue
		}
		break
	}
	st, ok := t.(*dwarf.StructType)
	if !ok || gconvStructs[st.StructName] == [2]string{} || st.ByteSize <= 0 {
		return nil, 0
	}
	return st, count
}

// gconvStructTypeMaybe says whether the type at off may be, once d.Type
// builds it, one of gconvStructs or an array of one through qualifiers
// and typedefs (what layout takes): false only where it cannot (its
// chain, read as gconvStepChainScanned reads one, ends in another tag,
// or in a struct, union or class of another name), true where it may
// or where the chain does not read (d.Type decides).
func gconvStructTypeMaybe(r *dwarf.Reader, sc *dieScanner, off dwarf.Offset) bool {
	for range 256 {
		l, ok := chainLinkAt(r, sc, off)
		if !ok {
			return true
		}
		switch l.tag {
		case dwarf.TagTypedef, dwarf.TagConstType, dwarf.TagVolatileType, dwarf.TagRestrictType, dwarf.TagArrayType:
		case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagClassType:
			return gconvStructs[string(l.name)] != [2]string{}
		default:
			return false
		}
		if l.next != linkOffset {
			return l.next == linkOther
		}
		off = l.typ
	}
	return true
}

// relocatedWord is the 8-byte word the program reads at addr once the
// dynamic linker has relocated the file: the R_X86_64_RELATIVE value, or
// the file's bytes where no relocation writes (0 in .bss); ok is false for
// any other relocation.
func relocatedWord(f *binfile.File, addr uint64) (uint64, bool) {
	v, relocated, known := f.DynamicWord(addr)
	if relocated {
		return v, known
	}
	for _, s := range f.ELF.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || addr < s.Addr || addr+8 > s.Addr+s.Size {
			continue
		}
		if s.Type == elf.SHT_NOBITS {
			return 0, true
		}
		var b [8]byte
		if _, err := s.ReadAt(b[:], int64(addr-s.Addr)); err != nil {
			return 0, false
		}
		return f.ELF.ByteOrder.Uint64(b[:]), true
	}
	return 0, false
}
