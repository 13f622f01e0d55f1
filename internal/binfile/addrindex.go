package binfile

import "math/bits"

// addrIndex is the index in f.Functions of the function at each entry
// address (the last one when several start at one address, as a map
// assigned in order would keep). An open-addressing table of 16-byte
// slots, found by a multiplicative hash of the address, probed linearly:
// a lookup is one multiply and, mostly, one cache line, where a Go map's
// (memhash64, the directory, the group's control word, then its slot)
// was two or three. The lookups by address (FunctionIndex, FunctionAt,
// the address-taken and vtable scans) were 0.03 s of node's CPU
// (profiles, issue 19).
type addrIndex struct {
	slots []addrSlot // a power of two of them, at most 2/3 full
	shift uint       // 64 - log2(len(slots))
	// Address 0 (a firmware's vector table, an FDE the linker dropped)
	// is kept apart: a slot's key 0 means empty.
	zero    int32
	hasZero bool
}

type addrSlot struct {
	addr  uint64
	index int32
}

// newAddrIndex indexes fns by entry address.
func newAddrIndex(fns []Function) addrIndex {
	size := 8
	for size < len(fns)+len(fns)/2 {
		size *= 2
	}
	x := addrIndex{slots: make([]addrSlot, size), shift: uint(64 - bits.TrailingZeros(uint(size)))}
	for i := range fns {
		x.set(fns[i].Addr, int32(i))
	}
	return x
}

func (x *addrIndex) home(addr uint64) uint64 {
	return (addr * 0x9e3779b97f4a7c15) >> x.shift
}

// set makes addr's index i.
func (x *addrIndex) set(addr uint64, i int32) {
	if addr == 0 {
		x.zero, x.hasZero = i, true
		return
	}
	mask := uint64(len(x.slots) - 1)
	for h := x.home(addr); ; h = (h + 1) & mask {
		s := &x.slots[h]
		if s.addr == 0 || s.addr == addr {
			s.addr, s.index = addr, i
			return
		}
	}
}

// get is the index of the function at addr.
func (x *addrIndex) get(addr uint64) (int, bool) {
	if addr == 0 {
		return int(x.zero), x.hasZero
	}
	if len(x.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(x.slots) - 1)
	for h := x.home(addr); ; h = (h + 1) & mask {
		s := &x.slots[h]
		if s.addr == addr {
			return int(s.index), true
		}
		if s.addr == 0 {
			return 0, false
		}
	}
}

// has says whether a function starts at addr.
func (x *addrIndex) has(addr uint64) bool {
	_, ok := x.get(addr)
	return ok
}
