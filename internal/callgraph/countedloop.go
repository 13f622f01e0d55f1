package callgraph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
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
	var w countedWalk
	if n.Module != g.Modules[0] {
		// A library's function: the same walk for every program that
		// links the file (issue 19). The program's own file may give
		// the walk what only the program's role has (its main stack).
		key := countedWalkKey{g.Decoder, g.opts.StackAlign, g.opts.Strict, n.Func.Addr, n.Func.Size}
		w = binfile.Derived(n.Module.File, key, func() countedWalk { return g.walkCounted(n.Module.File, n.Func) })
	} else {
		w = g.walkCounted(n.Module.File, n.Func)
	}
	fr, lc, why := w.fr, w.lc, w.why
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
	fr.Calls = slices.Clone(fr.Calls) // the walk's may be shared
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

// countedWalk is the walk of modelCountedLoop: the frame with the loop's
// moves counted, and the count (nil: none, and why).
type countedWalk struct {
	fr  frame.Frame
	lc  *loopCount
	why string
}

// countedWalkKey names a library function's countedWalk in
// binfile.Derived: the function, and what of the graph the walk reads
// (its decoder, the stack alignment, --strict).
type countedWalkKey struct {
	dec        isa.Decoder
	stackAlign int64
	strict     bool
	fn, size   uint64
}

// walkCounted walks fn of f again with the moves its loop counter caps
// counted (countLoopMoves). Its result is shared (see modelCountedLoop):
// the caller copies what it changes.
func (g *Graph) walkCounted(f *binfile.File, fn *binfile.Function) countedWalk {
	isFunction := func(a uint64) bool { _, ok := f.FunctionIndex(a); return ok }
	w := countedWalk{why: "no counter"}
	w.fr = g.walkFunctionWith(f, fn, func(in *frame.Input) {
		c, err := countLoopMoves(in.Code, in.Addr, isFunction, in.NoReturn, g.opts.Strict)
		if err != nil {
			w.why = err.Error()
			return
		}
		w.lc = c
		in.CountedMoves = func(a uint64) bool { _, ok := c.Moves[a]; return ok }
	})
	return w
}
