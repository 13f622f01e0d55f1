package srcloc

import (
	"debug/dwarf"

	"github.com/stackscope/stackscope/internal/dieread"
)

// decl is a subprogram DIE's declared place, or the DIE it refers to for it.
type decl struct {
	loc Location
	ref dwarf.Offset // DW_AT_specification or DW_AT_abstract_origin; 0 if none
}

// declarations collects subprogram DIEs while the units are read; entries
// with code but no decl_line point at another DIE (an out-of-line copy of
// an inline function, a C++ member defined outside its class) that may be
// in a unit not read yet, so they are resolved at the end.
type declarations struct {
	byOffset map[dwarf.Offset]decl
	pending  []pendingFunc
}

type pendingFunc struct {
	addr uint64
	off  dwarf.Offset
}

// readUnit reads the DIEs of the unit whose header r has just returned, up
// to the end of the unit. A subprogram's children (blocks, variables,
// inlined calls) are skipped: they hold no function of their own except
// GNU C nested functions, which then fall back to the line table. In a C
// unit (c) every entry's children are: C has its functions at the top
// level only (a struct's children are members, an enum's enumerators),
// and not reading them halved the objects allocated by a load of node's
// line table and declarations (libuv's 111 C units: 270,000 to 140,000).
func (ds *declarations) readUnit(d *dwarf.Data, r *dieread.Reader, files []*dwarf.LineFile, c bool) error {
	depth := 1
	for depth > 0 {
		e, ok, err := r.Next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if e.Tag == 0 { // end of a sibling list
			depth--
			continue
		}
		if e.Tag != dwarf.TagSubprogram {
			if e.Children && c {
				r.SkipChildren()
			} else if e.Children {
				depth++
			}
			continue
		}
		if e.Children {
			r.SkipChildren()
		}
		ds.add(d, r, e, files)
	}
	return nil
}

func (ds *declarations) add(d *dwarf.Data, r *dieread.Reader, e dieread.Entry, files []*dwarf.LineFile) {
	var dc decl
	if e.HasDeclLine {
		if fi := e.DeclFile; e.HasDeclFile && fi >= 0 && int(fi) < len(files) && files[fi] != nil {
			dc.loc = Location{File: files[fi].Name, Line: int(e.DeclLine)}
		}
	}
	if e.HasSpec {
		dc.ref = e.Spec
	} else if e.HasOrigin {
		dc.ref = e.Origin
	}
	ds.byOffset[e.Offset] = dc
	low, ok := e.Lowpc, e.HasLowpc
	if !ok {
		if !e.HasRanges {
			return // (Ranges has none without low_pc or ranges)
		}
		full, err := r.Full(e)
		if err != nil || full == nil {
			return
		}
		rs, err := d.Ranges(full)
		if err != nil || len(rs) == 0 {
			return // a declaration or an inline-only abstract instance
		}
		low = rs[0][0]
	}
	ds.pending = append(ds.pending, pendingFunc{addr: low, off: e.Offset})
}

// resolve fills out with every function's declared place, following
// specification/abstract-origin references (a few levels at most).
func (ds *declarations) resolve(out map[uint64]Location) {
	for _, p := range ds.pending {
		off := p.off
		for hop := 0; hop < 4; hop++ {
			dc, ok := ds.byOffset[off]
			if !ok {
				break
			}
			if dc.loc.File != "" {
				if _, dup := out[p.addr]; !dup {
					out[p.addr] = dc.loc
				}
				break
			}
			if dc.ref == 0 {
				break
			}
			off = dc.ref
		}
	}
}
