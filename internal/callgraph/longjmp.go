package callgraph

import (
	"fmt"
	"slices"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
)

// glibc's longjmp, where its stack use ends.
//
// longjmp, _longjmp, siglongjmp, __libc_longjmp, __libc_siglongjmp and
// __longjmp_chk restore the signal mask (a call to sigprocmask) and call
// the assembly that does the jump: __longjmp, __longjmp_cancel (the same
// code, for pthread cancellation's unwinding) or ____longjmp_chk (which
// first checks that the jump does not go down the stack, sigaltstack
// aside), in libc.so.6; ld.so has its own __longjmp for its error
// catchers (_dl_catch_exception). Each ends with
//
//	mov rsp,r8 ; mov rbp,r9 ; jmp rdx
//
// SP, rbp and the PC from the jmp_buf (demangled from PTR_MANGLE). The
// frame walk stops the path at the write of SP (frame.Leave) and makes
// the frame Unknown for it, not knowing where control goes. This model
// knows: to the instruction after the setjmp that filled the jmp_buf,
// with SP as it was in the function that called setjmp. The C standard
// (C11 7.13.2.1) makes longjmp undefined when that function has returned
// (or is on another thread's stack), so the function is live, on this
// stack, above the caller of longjmp: the stack after the jump is
// shallower than before it, and the code that runs there (setjmp
// returning again) is the caller's own code after its call to setjmp,
// which the walk already counts on the path through that caller. The use
// of the stack by the longjmp functions therefore ends at the jump, and
// the node takes the frame the walk found without the leave (static: the
// jump is the function's only unknown); every entry reaching it lists the
// premise. What the premise sets aside: a program that switches stacks
// with setjmp and longjmp (coroutines built on sigaltstack or a copied
// jmp_buf), where the code after the jump runs on a stack whose use no
// entry counts. The functions longjmp calls are noreturn by name
// (x86calls.go): the walk of a caller ends at the call. --strict keeps
// the frame unknown. Found by name, in glibc's libc.so.6 and ld.so
// (their debug symbols: the assembly's names are local).

// PremiseLongjmp is the kind of the premise that longjmp goes back to a
// live frame of the same stack.
const PremiseLongjmp = "longjmp"

// longjmpFuncs are glibc's functions that do the jump (glibc 2.36's
// sysdeps/x86_64/__longjmp.S, ____longjmp_chk.S).
var longjmpFuncs = []string{"__longjmp", "__longjmp_cancel", "____longjmp_chk"}

// modelLongjmp gives node id, when it is one of glibc's longjmpFuncs
// whose only unknown is its jump (frame.Leave), the frame without it and
// the premise.
func (g *Graph) modelLongjmp(id int) {
	n := g.Nodes[id]
	if g.opts.Strict || g.Arch != binfile.ArchX86_64 || len(n.Frame.Leaves) == 0 || n.Frame.LeavesKind != frame.Static ||
		n.Func == nil || n.Module == nil || n.Module == g.Modules[0] || g.libcFatalFuncs(n.Module) == nil {
		return
	}
	name := ""
	for _, s := range longjmpFuncs {
		if fn, ok := n.Module.File.Lookup(s); ok && fn.Addr == n.Func.Addr {
			name = s
			break
		}
	}
	if name == "" {
		return
	}
	l := n.Frame.Leaves[0]
	n.Frame.Kind, n.Frame.Reason, n.Frame.ReasonAddr = frame.Static, "", 0
	if !slices.ContainsFunc(n.Premises, func(p Premise) bool { return p.Kind == PremiseLongjmp }) {
		n.Premises = append(n.Premises, Premise{Kind: PremiseLongjmp, Site: l.SPAt, Detail: fmt.Sprintf(
			"longjmp goes back to a function that has not returned, on this stack (C11 7.13.2.1): %s sets SP from the jmp_buf at %#x and jumps at %#x "+
				"to the code after setjmp, counted on the path through its caller; a program that switches stacks with longjmp (coroutines) is outside this; --strict keeps it unknown",
			name, l.SPAt, l.JumpAt)})
	}
}
