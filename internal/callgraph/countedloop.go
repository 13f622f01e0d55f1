package callgraph

import (
	"fmt"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
)

// A function whose SP moves down by a constant inside a loop (an alloca
// per iteration) is Dynamic to the frame walk. When a counter caps the
// loop (loopcount.go proves it from the code), the function is walked
// again with those moves counted (frame.Input.CountedMoves), and its
// frame is the walk's plus the moves' total: Size, and the depth of each
// call that may come after a move. The proof rests on the counter's
// check ending the process when it fails: a call that never returns. When
// that call is one of glibc's fatal-error functions called from glibc's
// own code (ld.so's _dl_debug_vdprintf: assert (niov < NIOVMAX)), the
// bound rests on the libc-checks premise (libcfatal.go): that call is
// cut to the premise's marker, which every entry reaching the function
// lists, and --strict leaves the frame Dynamic. A call the walker
// knows never returns for another reason (the program's own assert, into
// __assert_fail@plt) is the code's proof, with no premise.
//
// Where the pass proves nothing, the frame stays as it was, and its
// reason says what the pass could not see.

// movesInLoop says whether fr is Dynamic because SP moves down in a loop.
func movesInLoop(arch binfile.Arch, fr frame.Frame) bool {
	return arch == binfile.ArchX86_64 && fr.Kind == frame.Dynamic && strings.HasPrefix(fr.Reason, "SP moves down in a loop")
}

// modelCountedLoop applies the model to node id (see above).
func (g *Graph) modelCountedLoop(id int) {
	n := g.Nodes[id]
	if n.Func == nil || n.Module == nil {
		return
	}
	f := n.Module.File
	isFunction := func(a uint64) bool { _, ok := f.FunctionIndex(a); return ok }
	var lc *loopCount
	why := "no counter"
	fr := g.walkFunctionWith(f, n.Func, func(in *frame.Input) {
		c, err := countLoopMoves(in.Code, in.Addr, isFunction, in.NoReturn, g.opts.Strict)
		if err != nil {
			why = err.Error()
			return
		}
		lc = c
		in.CountedMoves = func(a uint64) bool { _, ok := c.Moves[a]; return ok }
	})
	if lc == nil {
		n.Frame.Reason += "; no counter bounds it (" + why + ")"
		return
	}
	var checks []string
	fatal := g.libcFatalFuncs(n.Module)
	for _, t := range lc.Fatal {
		if name, ok := fatal[t]; ok {
			checks = append(checks, name)
		}
	}
	if len(checks) > 0 && g.opts.Strict {
		n.Frame.Reason += fmt.Sprintf("; a counter checked by %s bounds it, but --strict follows glibc's failed checks", strings.Join(checks, ", "))
		return
	}
	if fr.Kind != frame.Static || len(fr.CountedMoves) == 0 {
		// Dynamic or Unknown for another reason as well: as it was.
		return
	}
	fr.Size += lc.Total
	for i := range fr.Calls {
		if lc.After[fr.Calls[i].Addr] {
			fr.Calls[i].Depth += lc.Total
		}
	}
	n.Frame = fr
	g.noteCounterStackArgs(n, lc) // (stackargs.go)
	// With checks, the bound rests on the libc-checks premise: the call
	// into the fatal-error function is cut (cutLibcFatal, which takes
	// the same calls), and every entry reaching this function lists the
	// premise once through the cut; a second premise here would list it
	// twice.
}
