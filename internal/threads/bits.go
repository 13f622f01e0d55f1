package threads

// The operations below extend the propagation from constants to the
// device-register idioms of Cortex-M start-up code: read-modify-write of a
// register (x = *REG; x &= ~A; x |= B; *REG = x), priorities computed by
// shifts and masks of constants, and addresses in the System Control Space
// indexed by something not known (a loop over interrupt numbers).

// scsBase and scsEnd bound the Cortex-M System Control Space: the NVIC, the
// SCB, SysTick. Only addresses in it become vNear when an unknown offset is
// added; elsewhere the result stays unknown, as before.
const (
	scsBase = 0xE000E000
	scsEnd  = 0xE000F000
)

func inSCS(v int64) bool { return v >= scsBase && v < scsEnd }

// near returns what x becomes when an unknown offset is added to it: an
// address of the System Control Space stays one (vNear), anything else is
// unknown.
func (x value) near() value {
	if x.scs() {
		return value{k: vNear, v: x.v}
	}
	return unknown
}

// scs reports a constant or vNear address in the System Control Space.
func (x value) scs() bool {
	return (x.k == vConst || x.k == vNear) && inSCS(x.v)
}

// memLoad is the w-byte value read from the constant address a.
func memLoad(a int64, w int) value {
	return value{k: vMem, v: a, n: int64(w)}
}

// widthMask is the mask of a w-byte value.
func widthMask(w int64) uint32 {
	if w >= 4 || w <= 0 {
		return 0xFFFFFFFF
	}
	return 1<<(8*uint(w)) - 1
}

// normal turns a vMem whose bits are all known into the constant.
func (x value) normal() value {
	if x.k == vMem && (x.mask&widthMask(x.n) == widthMask(x.n) || x.mask == 0xFFFFFFFF) {
		return constant(int64(x.bits & widthMask(x.n)))
	}
	return x
}

// shifted is x shifted by n bits: the known bits move and the bits shifted
// in are known zeros; the unchanged bits move too (sh says by how much, and
// only where sh is 0 are they in place: lsls #8; lsrs #8 clears a byte).
func (x value) shifted(op aluOp, n uint32) value {
	if op == aluLsl {
		x.mask, x.bits, x.sh = x.mask<<n|(1<<n-1), x.bits<<n, x.sh+int8(n)
	} else {
		x.mask, x.bits, x.sh = x.mask>>n|^(0xFFFFFFFF>>n), x.bits>>n, x.sh-int8(n)
	}
	return x.normal()
}

// aluOp is a data-processing operation the propagation follows.
type aluOp uint8

const (
	aluNone aluOp = iota
	aluAnd
	aluOr
	aluBic
	aluEor
	aluAdd
	aluSub
	aluLsl
	aluLsr
	aluAsr
	aluMul
	aluMvn  // ~b (a ignored)
	aluMov  // b (a ignored): a shifted register move
	aluSxtb // sign-extends b's low byte (a ignored)
	aluSxth
)

// apply computes a op b on 32-bit values. A vMem operand keeps its
// unchanged bits through and/or/bic with a constant; an SCS address plus
// or minus an unknown becomes vNear; everything else needs constants.
func apply(op aluOp, a, b value) value {
	ca, cb := a.k == vConst, b.k == vConst
	u := func(x value) uint32 { return uint32(x.v) }
	if cb {
		switch op {
		case aluMvn:
			return constant(int64(^u(b)))
		case aluMov:
			return b
		case aluSxtb:
			return constant(int64(uint32(int32(int8(u(b))))))
		case aluSxth:
			return constant(int64(uint32(int32(int16(u(b))))))
		}
	}
	if ca && cb {
		x, y := u(a), u(b)
		var r uint32
		switch op {
		case aluAnd:
			r = x & y
		case aluOr:
			r = x | y
		case aluBic:
			r = x &^ y
		case aluEor:
			r = x ^ y
		case aluAdd:
			r = x + y
		case aluSub:
			r = x - y
		case aluLsl:
			r = shl(x, y)
		case aluLsr:
			r = shr(x, y)
		case aluAsr:
			r = uint32(int32(x) >> min(y&0xFF, 31))
		case aluMul:
			r = x * y
		default:
			return unknown
		}
		return constant(int64(r))
	}
	// A loaded register value shifted: its unchanged bits move by sh.
	if a.k == vMem && cb && (op == aluLsl || op == aluLsr) && u(b) < 32 {
		return a.shifted(op, u(b))
	}
	// One side a constant, the other a loaded register value.
	if a.k == vMem && cb || b.k == vMem && ca && (op == aluAnd || op == aluOr) {
		m, c := a, u(b)
		if b.k == vMem {
			m, c = b, u(a)
		}
		switch op {
		case aluAnd:
			m.mask |= ^c
			m.bits &= c
		case aluOr:
			m.mask |= c
			m.bits |= c
		case aluBic:
			m.mask |= c
			m.bits &^= c
		default:
			return unknown
		}
		return m.normal()
	}
	if op == aluMov {
		return b
	}
	// A stack address, an allocator's block or a parameter plus or minus
	// a constant (taken as signed: adds r3, r7, r3 with r3 = -12).
	if op == aluAdd && ca && b.pointer() {
		return b.add(int64(int32(u(a))))
	}
	if (op == aluAdd || op == aluSub) && cb && a.pointer() {
		d := int64(int32(u(b)))
		if op == aluSub {
			d = -d
		}
		return a.add(d)
	}
	// A constant plus something not known: vNear. Both known parts add
	// up (an index's vNear plus the NVIC's address is one of the NVIC).
	if op == aluAdd {
		switch {
		case ca && b.k == vNear, cb && a.k == vNear:
			return value{k: vNear, v: int64(uint32(a.v + b.v))}
		case ca || a.k == vNear:
			return value{k: vNear, v: a.v}
		case cb || b.k == vNear:
			return value{k: vNear, v: b.v}
		}
	}
	// An SCS address plus or minus something not known.
	if op == aluAdd || op == aluSub || op == aluOr {
		if r := a.near(); r.k == vNear {
			return r
		}
		if op != aluSub {
			return b.near()
		}
	}
	return unknown
}

// pointer reports a value that is an address relative to something
// followed symbolically (not a constant).
func (x value) pointer() bool {
	return x.k == vStack || x.k == vAlloc || x.k == vParam
}

func shl(x, n uint32) uint32 {
	if n&0xFF >= 32 {
		return 0
	}
	return x << (n & 0xFF)
}

func shr(x, n uint32) uint32 {
	if n&0xFF >= 32 {
		return 0
	}
	return x >> (n & 0xFF)
}

// loadSized is what a w-byte load (0: a word; sign-extending when signed)
// reads from a stack slot holding v.
// loadAt is a w-byte load (0: a word of word bytes) of the slot holding
// v. On a 64-bit target a 32-bit load of a whole 64-bit word reads its
// low half (little-endian).
func loadAt(v value, w, word int64, signed bool) value {
	if word == 8 && w == 4 && v.w == 0 && v.k != vUnknown {
		if v.k != vConst {
			return unknown
		}
		if signed {
			return constant(int64(int32(v.v)))
		}
		return constant(int64(uint32(v.v)))
	}
	return loadSized(v, w, signed)
}

func loadSized(v value, w int64, signed bool) value {
	if w == 4 && v.w == 4 {
		// a 32-bit load of a 32-bit store on a 64-bit target (storeSlot
		// keeps the constant zero-extended): ldrsw sign-extends it
		if signed && v.k == vConst {
			return constant(int64(int32(v.v)))
		}
		return v
	}
	if w >= 4 || w == 0 {
		if v.w != 0 {
			return unknown // a word read over a smaller store
		}
		return v
	}
	if v.k != vConst || v.w != 0 && int64(v.w) < w {
		return unknown
	}
	x := uint32(v.v) & widthMask(w)
	if signed {
		x = uint32(int32(x<<(32-8*uint(w))) >> (32 - 8*uint(w)))
	}
	return constant(int64(x))
}

// condHolds evaluates the condition code cond after cmp a, b.
func condHolds(cond int8, a, b uint32) bool {
	r := a - b
	n, z, c := int32(r) < 0, r == 0, a >= b
	v := ((a^b)&(a^r))>>31 != 0
	var t bool
	switch cond >> 1 {
	case 0:
		t = z
	case 1:
		t = c
	case 2:
		t = n
	case 3:
		t = v
	case 4:
		t = c && !z
	case 5:
		t = n == v
	case 6:
		t = !z && n == v
	}
	if cond&1 != 0 {
		return !t
	}
	return t
}
