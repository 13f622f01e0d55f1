package callgraph

import (
	"encoding/binary"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
)

// What the argument model derives from a function's code is shared, in a
// run over several programs (analyze FILE..., diff), by every program
// that links the function's file (binfile.Derived): the linear decode of a function (decodeLinear), its
// data flow (keptFlow) and the direct calls into each function of a file
// (directCallSites). In a run over many files each program derived them
// again for libc, ld.so and libstdc++: most of a small program's models
// (issue 19).
//
// Each result is keyed by everything it reads besides the file's bytes,
// so that two programs share it only where they would have computed the
// same: a node's decode and flow read its function's address and size,
// the frame's indirect tail calls (decodeLinear's tailJump: a frame a
// model replaced may differ from the library cache's), --strict (the
// jump tables' sizes, tableObject) and the architecture (the decoder,
// DecoderFor); never the graph's nodes, edges or other modules. The
// per-program parts (which callers a node has, whether its address is
// taken in this program's modules) stay with the argModel.

// derived is compute's result for key, made once per file f and shared
// (binfile.Derived) when the run analyses several programs that share
// their libraries (libcache.Cache.Shares); in a run over one program it
// is compute's result, made now and kept by the caller alone, as before:
// kept with the file to the end of the analysis, node's linear decodes
// raised its peak RSS by some 45 MB for nothing read again. (Small
// answers that a single analysis asks again and again, such as a file's
// non-default symbols or an ifunc resolver's returns, go to
// binfile.Derived directly: kept with the file, they are also the one
// analysis' memo.)
func derived[T any](g *Graph, f *binfile.File, key any, compute func() T) T {
	if !g.opts.Libraries.Shares() {
		if k, ok := key.(linearKey); ok && keepRecentAnswers {
			return recentAnswer(g, f, k, compute)
		}
		return compute()
	}
	return binfile.Derived(f, key, compute)
}

// derivedWhat names which result a linearKey keys.
type derivedWhat uint8

const (
	derivedLinear   derivedWhat = iota + 1 // decodeLinear's answer
	derivedKeptFlow                        // keptFlow's answer
)

// linearKey names what decodeLinear's answer for a node, and the flows
// made from it, depend on besides the file's bytes.
type linearKey struct {
	what       derivedWhat
	arch       binfile.Arch
	addr, size uint64
	strict     bool
	// tables says the frame has jump tables (tailJump is then false
	// everywhere); otherwise tails are the addresses of its indirect
	// tail calls, 8 bytes each in the order of its calls.
	tables bool
	tails  string
}

// linearKeyOf is the key of what for node n, whose Func is not nil.
func (g *Graph) linearKeyOf(what derivedWhat, n *Node) linearKey {
	k := linearKey{what: what, arch: g.Arch, addr: n.Func.Addr, size: n.Func.Size, strict: g.opts.Strict, tables: n.Frame.JumpTables != 0}
	if !k.tables {
		var tails []byte
		for _, cs := range n.Frame.Calls {
			if cs.Kind == frame.IndirectTailCall {
				tails = binary.LittleEndian.AppendUint64(tails, cs.Addr)
			}
		}
		k.tails = string(tails)
	}
	return k
}

// recentAnswer is compute's result for k in file f, made now unless it was one of
// the last few made in this graph (recentAnswers).
func recentAnswer[T any](g *Graph, f *binfile.File, k linearKey, compute func() T) T {
	if v, ok := g.recent.get(f, k); ok {
		return v.(T)
	}
	v := compute()
	g.recent.put(f, k, v)
	return v
}

// linearDecode is decodeLinear's answer, as it is shared.
type linearDecode struct {
	insts []linearInst
	from  map[uint64][]uint64
	ok    bool
}

// directSitesKey keys directCallSites' answer for a file with funcs
// functions.
type directSitesKey struct {
	arch  binfile.Arch
	funcs int
}

// sharedDirectSites is findDirectSites' answer for m, found once per file
// (on workers goroutines when this call is the one that finds it).
func (g *Graph) sharedDirectSites(m *Module, workers int) directSites {
	return derived(g, m.File, directSitesKey{g.Arch, len(m.File.Functions)}, func() directSites {
		return g.findDirectSites(m, workers)
	})
}
