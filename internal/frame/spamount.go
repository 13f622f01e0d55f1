package frame

// SP moved by a run-time amount that the caller can bound. A variable-
// length array or alloca lowers SP by a value the code computes at run
// time (x86-64: `lea 0xf(,%rax,8),%rax; and $-16,%rax; sub %rax,%rsp`);
// the walk alone cannot say how large it is, and the frame is Dynamic.
// Some callers know more than the function's code: ld.so's _dl_fini sizes
// its array by the number of objects loaded, which the call graph knows
// for a program that cannot load more (callgraph's loaded-objects model).
// Input.SPAmount lets such a caller give the largest amount at a site;
// the walk then goes on with SP that much lower, and the frame keeps the
// site in BoundedAmounts so that the caller can say what the bound rests
// on. Nothing else changes: a site the caller does not bound stays
// Dynamic, and an SP restore the walk does not model stays Unknown.

// BoundedAmount is a run-time SP move the caller bounded (Input.SPAmount).
type BoundedAmount struct {
	Addr  uint64
	Bytes int64
}

// boundedAmount asks the caller for the largest amount the SP move at
// addr can lower SP by, and records it.
func (w *walker) boundedAmount(addr uint64) (int64, bool) {
	if w.in.SPAmount == nil {
		return 0, false
	}
	b, ok := w.in.SPAmount(addr)
	if !ok || b < 0 {
		return 0, false
	}
	for _, a := range w.fr.BoundedAmounts() {
		if a.Addr == addr {
			return b, true
		}
	}
	r := w.rare()
	r.BoundedAmounts = append(r.BoundedAmounts, BoundedAmount{Addr: addr, Bytes: b})
	return b, true
}
