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
			loc, _ := e.Val(dwarf.AttrLocation).([]byte)
			toff, _ := e.Val(dwarf.AttrType).(dwarf.Offset)
			if len(loc) > 1 && loc[0] == opFbreg && toff != 0 {
				if t, err := f.dw.Type(toff); err == nil {
					if at, ok := stripQual(t).(*dwarf.ArrayType); ok && at.Size() > 0 {
						if off, n := sleb128(loc[1:]); n == len(loc)-1 {
							name, _ := e.Val(dwarf.AttrName).(string)
							slots = append(slots, ArraySlot{Array: Array{Name: name, Type: arrayString(at), Size: at.Size()}, Off: off})
						}
					}
				}
			}
		}
		if e.Children {
			depth++
		}
	}
	return slots
}
