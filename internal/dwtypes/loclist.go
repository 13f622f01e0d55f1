package dwtypes

import (
	"debug/dwarf"
	"encoding/binary"
	"sort"
)

// regVar says that a variable or parameter of type typ lives in DWARF
// register dwreg over [lo, hi): what an optimised build's location lists
// say (`p` is in rdi until the call, then in rbx).
type regVar struct {
	lo, hi uint64
	dwreg  int
	typ    *lazyType
}

// locSections holds the raw location-list sections and the .debug_info
// bytes (to read each unit's DWARF version).
type locSections struct {
	info, loc, loclists []byte
	addrSize            int // 8 on x86-64, 4 on 32-bit ARM
}

// address reads an address of addrSize bytes at d[p:].
func (s *locSections) address(d []byte, p int) (uint64, bool) {
	if p < 0 || p+s.addrSize > len(d) {
		return 0, false
	}
	if s.addrSize == 4 {
		return uint64(binary.LittleEndian.Uint32(d[p:])), true
	}
	return binary.LittleEndian.Uint64(d[p:]), true
}

// unitVersion reads the DWARF version of the unit whose first DIE is at
// off, from its header just before it.
func (s *locSections) unitVersion(off dwarf.Offset) int {
	o := int(off)
	if o >= 12 && o-8+2 <= len(s.info) {
		if v := binary.LittleEndian.Uint16(s.info[o-8:]); v == 5 {
			return 5
		}
	}
	if o >= 11 && o-7+2 <= len(s.info) {
		if v := binary.LittleEndian.Uint16(s.info[o-7:]); v >= 2 && v <= 4 {
			return int(v)
		}
	}
	return 0
}

// regEntries appends to dst the ranges of the location list at off in which the
// value is wholly in one register (DW_OP_regN, DW_OP_regx). Lists that use
// forms needing .debug_addr (split DWARF) give nothing.
func (s *locSections) regEntries(dst []regVar, version int, off int64, base uint64) (out []regVar) {
	if version == 5 {
		return s.regEntries5(dst, off, base)
	}
	out = dst
	d := s.loc
	if off < 0 || int(off) >= len(d) {
		return out
	}
	p := int(off)
	n := s.addrSize
	maxAddr := ^uint64(0) >> (64 - 8*uint(n))
	for p+2*n <= len(d) {
		lo, _ := s.address(d, p)
		hi, _ := s.address(d, p+n)
		p += 2 * n
		if lo == 0 && hi == 0 {
			return out
		}
		if lo == maxAddr {
			base = hi
			continue
		}
		if p+2 > len(d) {
			return out
		}
		n := int(binary.LittleEndian.Uint16(d[p:]))
		p += 2
		if p+n > len(d) {
			return out
		}
		if r, ok := registerOf(d[p : p+n]); ok {
			out = append(out, regVar{lo: base + lo, hi: base + hi, dwreg: r})
		}
		p += n
	}
	return out
}

func (s *locSections) regEntries5(dst []regVar, off int64, base uint64) (out []regVar) {
	out = dst
	d := s.loclists
	if off < 0 || int(off) >= len(d) {
		return out
	}
	p := int(off)
	uleb := func() (uint64, bool) {
		var v uint64
		for shift := uint(0); p < len(d) && shift < 64; shift += 7 {
			b := d[p]
			p++
			v |= uint64(b&0x7f) << shift
			if b&0x80 == 0 {
				return v, true
			}
		}
		return 0, false
	}
	addr := func() (uint64, bool) {
		v, ok := s.address(d, p)
		p += s.addrSize
		return v, ok
	}
	for p < len(d) {
		kind := d[p]
		p++
		var lo, hi uint64
		var ok bool
		switch kind {
		case 0: // DW_LLE_end_of_list
			return out
		case 6: // DW_LLE_base_address
			if base, ok = addr(); !ok {
				return out
			}
			continue
		case 4: // DW_LLE_offset_pair
			a, ok1 := uleb()
			b, ok2 := uleb()
			lo, hi, ok = base+a, base+b, ok1 && ok2
		case 7: // DW_LLE_start_end
			a, ok1 := addr()
			b, ok2 := addr()
			lo, hi, ok = a, b, ok1 && ok2
		case 8: // DW_LLE_start_length
			a, ok1 := addr()
			n, ok2 := uleb()
			lo, hi, ok = a, a+n, ok1 && ok2
		case 5: // DW_LLE_default_location: no range of its own
			ok = true
		default: // the x forms need .debug_addr
			return out
		}
		if !ok {
			return out
		}
		n, ok := uleb()
		if !ok || p+int(n) > len(d) {
			return out
		}
		if r, isReg := registerOf(d[p : p+int(n)]); isReg && kind != 5 {
			out = append(out, regVar{lo: lo, hi: hi, dwreg: r})
		}
		p += int(n)
	}
	return out
}

// registerOf recognises a location that is exactly one register.
func registerOf(expr []byte) (int, bool) {
	if len(expr) == 1 && expr[0] >= 0x50 && expr[0] <= 0x6f {
		return int(expr[0] - 0x50), true
	}
	if len(expr) >= 2 && expr[0] == 0x90 { // DW_OP_regx
		var v int
		for i, b := range expr[1:] {
			v |= int(b&0x7f) << (7 * i)
			if b&0x80 == 0 {
				return v, i+2 == len(expr)
			}
		}
	}
	return 0, false
}

// x86Reg maps the x86-64 DWARF register numbers to the encoding order the
// decoders use (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8-r15).
var x86Reg = [16]int{0, 2, 1, 3, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15}

// decoderReg maps a DWARF register number to the decoders' numbering (-1:
// not a general-purpose register).
func (in *Info) decoderReg(dwreg int) int {
	switch {
	case dwreg < 0 || dwreg >= 16:
		return -1
	case in.arm:
		return dwreg // r0-r15
	}
	return x86Reg[dwreg]
}

// funcVars are the register-held variables of one function's code range.
type funcVars struct {
	low, high uint64
	vars      []regVar
}

// inRegister returns the types of the variables the DWARF places in
// register reg (decoder numbering) at pc.
func (in *Info) inRegister(reg int, pc uint64) []dwarf.Type {
	fs := in.funcs
	i := sort.Search(len(fs), func(i int) bool { return fs[i].high > pc })
	var out []dwarf.Type
	for ; i < len(fs) && fs[i].low <= pc; i++ {
		for _, v := range fs[i].vars {
			if v.lo <= pc && pc < v.hi && in.decoderReg(v.dwreg) == reg {
				if t := v.typ.get(); t != nil {
					out = append(out, t)
				}
			}
		}
	}
	return out
}
