package callgraph

import (
	"debug/dwarf"
	"encoding/binary"
	"maps"
	"slices"
	"sync"

	"github.com/stackscope/stackscope/internal/binfile"
)

// libioLayout is what the FILE models need of glibc's structures, read
// from the DWARF of libc's debug file (libc6-dbg): where a FILE keeps
// its next stream on _IO_list_all (_chain) and its jump table (vtable,
// in struct _IO_FILE_plus), where a wide stream's data keeps its wide
// table (_wide_vtable), and which static variables are struct
// _IO_wide_data (the standard streams': stdfiles.c). Offsets are -1
// when not found.
type libioLayout struct {
	chain, vtable, wideVtable int64
	// wideData holds the address and size of each variable of type
	// struct _IO_wide_data that DWARF places at a fixed address.
	wideData []libioObject
}

type libioObject struct{ addr, size uint64 }

// wideVtableWord says whether the data word at addr is the _wide_vtable
// field of one of the static struct _IO_wide_data variables.
func (l *libioLayout) wideVtableWord(addr uint64) bool {
	if l == nil || l.wideVtable < 0 {
		return false
	}
	for _, o := range l.wideData {
		if addr == o.addr+uint64(l.wideVtable) && uint64(l.wideVtable)+8 <= o.size {
			return true
		}
	}
	return false
}

var libioLayouts debugFileCache[*libioLayout]

// libioLayoutOf reads m's layout once per debug file (nil without one).
func libioLayoutOf(m *Module) *libioLayout {
	return libioLayouts.get(m.File, readLibioLayout)
}

// debugFileCache keeps what a model reads from a module's debug file
// (DWARF layouts), once per debug file for the whole process: several
// graphs (many programs in one run) share one libc.
type debugFileCache[T any] struct {
	sync.Mutex
	byPath map[string]T
}

// get returns read(f)'s value for f's debug file, reading it once; the
// zero value for a file without one.
func (c *debugFileCache[T]) get(f *binfile.File, read func(*binfile.File) T) T {
	var zero T
	path := f.DebugSymbols
	if path == "" {
		return zero
	}
	// What a prefetch already read; else wait for the prefetches under
	// way, if any, which may read it (debugprefetch.go).
	for {
		c.Lock()
		v, ok := c.byPath[path]
		c.Unlock()
		if ok {
			return v
		}
		if !debugPrefetches.waitOne(path) {
			break
		}
	}
	c.Lock()
	defer c.Unlock()
	if v, ok := c.byPath[path]; ok {
		return v
	}
	v := read(f)
	if c.byPath == nil {
		c.byPath = map[string]T{}
	}
	c.byPath[path] = v
	return v
}

// has says whether the value for the debug file at path was read.
func (c *debugFileCache[T]) has(path string) bool {
	c.Lock()
	defer c.Unlock()
	_, ok := c.byPath[path]
	return ok
}

// put keeps v, read from the debug file at path, unless a value is kept.
func (c *debugFileCache[T]) put(path string, v T) {
	c.Lock()
	defer c.Unlock()
	if _, ok := c.byPath[path]; ok {
		return
	}
	if c.byPath == nil {
		c.byPath = map[string]T{}
	}
	c.byPath[path] = v
}

// readLibioLayout reads the layout from file's debug file (libioLayoutIn).
func readLibioLayout(file *binfile.File) *libioLayout {
	var l *libioLayout
	withDebugDWARF(file, func(d *dwarf.Data) { l = libioLayoutIn(d) })
	return l
}

// libioLayoutIn walks the debug file's DWARF d: the top-level entries of
// each unit (structures and file-scope variables), and the members of
// the three structures.
func libioLayoutIn(d *dwarf.Data) *libioLayout {
	t := newLibioTop()
	return t.layout(walkTopLevel(d, t))
}

// libioTop is what libioLayoutIn reads of the top-level entries, as a
// topLevelReader (a prefetch walks once for several readers).
type libioTop struct {
	l         *libioLayout
	wideTypes map[dwarf.Offset]uint64 // struct _IO_wide_data DIEs, by offset: their size
	vars      []libioVariable
}

type libioVariable struct {
	typ  dwarf.Offset
	addr uint64
}

func newLibioTop() *libioTop {
	return &libioTop{l: &libioLayout{chain: -1, vtable: -1, wideVtable: -1}, wideTypes: map[dwarf.Offset]uint64{}}
}

// libioMembers are the structures whose members libioTop reads: the
// member read of each.
var libioMembers = map[string]string{"_IO_FILE": "_chain", "_IO_FILE_plus": "vtable", "_IO_wide_data": "_wide_vtable"}

func (t *libioTop) wantsMembers(e *dwarf.Entry, _ dwarf.Tag) bool {
	name, _ := e.Val(dwarf.AttrName).(string)
	return e.Tag == dwarf.TagStructType && libioMembers[name] != ""
}

func (t *libioTop) readsTag(tag dwarf.Tag) bool {
	return tag == dwarf.TagStructType || tag == dwarf.TagVariable
}

func (t *libioTop) structNames() []string { return slices.Collect(maps.Keys(libioMembers)) }

func (t *libioTop) read(e *dwarf.Entry, _ dwarf.Tag, members []memberEntry) {
	switch {
	case e.Tag == dwarf.TagStructType && e.Children && t.wantsMembers(e, 0):
		name := e.Val(dwarf.AttrName).(string)
		off := int64(-1) // the last of its definition's members so named
		for _, c := range members {
			if c.tag == dwarf.TagMember && string(c.name) == libioMembers[name] {
				if v, ok := c.loc, c.hasLoc; ok && v >= 0 {
					off = v
				}
			}
		}
		if name == "_IO_wide_data" {
			size, _ := e.Val(dwarf.AttrByteSize).(int64)
			t.wideTypes[e.Offset] = uint64(max(size, 0))
		}
		if off < 0 {
			return
		}
		switch name {
		case "_IO_FILE":
			t.l.chain = off
		case "_IO_FILE_plus":
			t.l.vtable = off
		case "_IO_wide_data":
			t.l.wideVtable = off
		}
	case e.Tag == dwarf.TagVariable:
		typ, okType := e.Val(dwarf.AttrType).(dwarf.Offset)
		loc, okLoc := e.Val(dwarf.AttrLocation).([]byte)
		// DW_OP_addr and an 8-byte address: a variable at a fixed place.
		if okType && okLoc && len(loc) == 9 && loc[0] == 0x03 {
			t.vars = append(t.vars, libioVariable{typ, binary.LittleEndian.Uint64(loc[1:])})
		}
	}
}

// layout is the layout read (nil when the walk stopped on err).
func (t *libioTop) layout(err error) *libioLayout {
	if err != nil {
		return nil
	}
	l, wideTypes, vars := t.l, t.wideTypes, t.vars
	for _, v := range vars {
		if size, ok := wideTypes[v.typ]; ok {
			l.wideData = append(l.wideData, libioObject{v.addr, size})
		}
	}
	return l
}
