package callgraph

import (
	"debug/dwarf"
	"encoding/binary"
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
	// What a prefetch already read; else wait for the prefetch under
	// way, if any, which may read it (debugprefetch.go).
	c.Lock()
	v, ok := c.byPath[path]
	c.Unlock()
	if ok {
		return v
	}
	debugPrefetches.wait(path)
	c.Lock()
	defer c.Unlock()
	if v, ok := c.byPath[path]; ok {
		return v
	}
	v = read(f)
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
	l := &libioLayout{chain: -1, vtable: -1, wideVtable: -1}
	wideTypes := map[dwarf.Offset]uint64{} // struct _IO_wide_data DIEs, by offset: their size
	type variable struct {
		typ  dwarf.Offset
		addr uint64
	}
	var vars []variable
	member := func(r *dwarf.Reader, name string) int64 {
		off := int64(-1)
		for {
			c, err := r.Next()
			if err != nil || c == nil || c.Tag == 0 {
				return off
			}
			if c.Children {
				r.SkipChildren()
			}
			if c.Tag == dwarf.TagMember && c.Val(dwarf.AttrName) == name {
				if v, ok := c.Val(dwarf.AttrDataMemberLoc).(int64); ok && v >= 0 {
					off = v
				}
			}
		}
	}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil
		}
		if e == nil {
			break
		}
		switch {
		case e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit:
			continue // its children are the top-level entries
		case e.Tag == dwarf.TagStructType && e.Children:
			switch e.Val(dwarf.AttrName) {
			case "_IO_FILE":
				if off := member(r, "_chain"); off >= 0 {
					l.chain = off
				}
				continue
			case "_IO_FILE_plus":
				if off := member(r, "vtable"); off >= 0 {
					l.vtable = off
				}
				continue
			case "_IO_wide_data":
				size, _ := e.Val(dwarf.AttrByteSize).(int64)
				wideTypes[e.Offset] = uint64(max(size, 0))
				if off := member(r, "_wide_vtable"); off >= 0 {
					l.wideVtable = off
				}
				continue
			}
		case e.Tag == dwarf.TagVariable:
			typ, okType := e.Val(dwarf.AttrType).(dwarf.Offset)
			loc, okLoc := e.Val(dwarf.AttrLocation).([]byte)
			// DW_OP_addr and an 8-byte address: a variable at a fixed place.
			if okType && okLoc && len(loc) == 9 && loc[0] == 0x03 {
				vars = append(vars, variable{typ, binary.LittleEndian.Uint64(loc[1:])})
			}
		}
		if e.Children {
			r.SkipChildren()
		}
	}
	for _, v := range vars {
		if size, ok := wideTypes[v.typ]; ok {
			l.wideData = append(l.wideData, libioObject{v.addr, size})
		}
	}
	return l
}
