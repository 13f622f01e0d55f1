package symbolize

import "debug/dwarf"

// ArraySlot is a local array that lives at a fixed offset from its
// function's CFA.
type ArraySlot struct {
	Array
	Off int64 // CFA + Off is the array's first byte
}

// ArraySlots lists the array-typed local variables of the function whose
// code contains addr that live at a fixed offset from its CFA: the
// subprogram's frame base is DW_OP_call_frame_cfa and the variable's
// location is DW_OP_fbreg N (GCC at -O0, and at -O2 for arrays that stay
// in memory). An array with a location list or in a register is left out.
func (f *File) ArraySlots(addr uint64) (slots []ArraySlot) {
	defer func() {
		if recover() != nil {
			slots = nil
		}
	}()
	e, r := f.subprogramAt(addr)
	if e == nil || !e.Children {
		return nil
	}
	const opCallFrameCFA, opFbreg = 0x9c, 0x91
	if fb, _ := e.Val(dwarf.AttrFrameBase).([]byte); len(fb) != 1 || fb[0] != opCallFrameCFA {
		return nil
	}
	f.eachLocalArray(r, func(e *dwarf.Entry, a Array) {
		loc, _ := e.Val(dwarf.AttrLocation).([]byte)
		if len(loc) < 2 || loc[0] != opFbreg || a.Size <= 0 {
			return
		}
		if off, n := sleb128(loc[1:]); n == len(loc)-1 {
			slots = append(slots, ArraySlot{Array: a, Off: off})
		}
	})
	return slots
}
