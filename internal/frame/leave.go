package frame

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/isa"
)

// SP set to a value the walk does not know, then a jump through a
// register without touching the stack (x86-64):
//
//	mov rsp,r8 ; mov rbp,r9 ; jmp rdx
//
// glibc's __longjmp and its kin end so: SP and the PC come from the
// jmp_buf, and control goes to the frame that called setjmp, on the stack
// SP now points to. The function's own use of the stack ends at the write
// (nothing after it pushes, calls or touches memory through SP), so the
// walk ends the path there, as at a return. Where control goes, the code
// does not say: a context switch (setcontext, a coroutine library's
// hand-written switch) has the same shape and starts code on another
// stack, which nothing then counts. So the frame is Unknown for it
// (Frame.Leaves, LeavesKind): a caller that knows the function (the call
// graph's model of glibc's longjmp, callgraph/longjmp.go) may take the
// frame's kind without them, on a premise it states.

// Leave is one place where the code sets SP to a value it does not copy
// from SP and then jumps through a register (see above).
type Leave struct {
	// SPAt is the address of the write of SP, JumpAt of the jump.
	SPAt, JumpAt uint64
}

// maxLeave bounds the instructions from the write of SP to the jump:
// __longjmp restores rbp between them.
const maxLeave = 8

// leaves says whether the SP write e at off is followed by a jump
// through a register with nothing that touches the stack in between, and
// records it (cond: e is conditional).
func (w *walker) leaves(off int, addr uint64, e *isa.Effect, cond bool) bool {
	if !w.regs || cond || e.Flow != isa.FlowNext || e.Access != isa.BaseNone && e.DefKind != isa.DefLoad {
		return false
	}
	next := off + e.Len
	for range maxLeave {
		if next >= w.segEnd(next) || w.isData(next) {
			return false
		}
		in := w.decode(next)
		n := &in.eff
		if in.failed() || n.SP != isa.SPNone || n.Access != isa.BaseNone || n.HasStore || n.CondNext > 0 {
			return false
		}
		switch n.Flow {
		case isa.FlowNext:
			next += n.Len
			continue
		case isa.FlowIndirectJump:
			if n.JumpTable {
				return false
			}
			jump := w.addr(next)
			for _, l := range w.fr.Leaves {
				if l.SPAt == addr {
					return true
				}
			}
			w.fr.Leaves = append(w.fr.Leaves, Leave{SPAt: addr, JumpAt: jump})
			return true
		}
		return false
	}
	return false
}

// checkLeaves makes the frame Unknown for its Leaves, keeping the kind it
// has without them in LeavesKind.
func (w *walker) checkLeaves() {
	if len(w.fr.Leaves) == 0 {
		return
	}
	w.fr.LeavesKind = w.fr.Kind
	l := w.fr.Leaves[0]
	w.setKind(Unknown, l.SPAt, "%s", LeaveReason(l))
}

// LeaveReason says what the walk does not know at a Leave.
func LeaveReason(l Leave) string {
	return fmt.Sprintf("SP set at %#x to a value that is no copy of SP, then a jump through a register at %#x: "+
		"control goes to code on another stack or a frame above (longjmp, a context switch) that the walk does not follow", l.SPAt, l.JumpAt)
}
