package analysis

import (
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/isa"
)

// nameProgramStart finds main from the code at a program's ELF entry (see
// callgraph.FindStart) and names the functions of a stripped program's
// start: _start, musl's _start_c, main, and in a static program
// __libc_start_main. Symbols, when the file has them, keep their names.
// It runs before the call graph is built, whose nodes take these names.
func nameProgramStart(f *binfile.File, dec isa.Decoder) (callgraph.ProgramStart, bool) {
	ps, ok := callgraph.FindStart(f, dec)
	if !ok {
		return ps, false
	}
	// The code _start calls first: a function added at the entry runs to
	// the next known one, and would otherwise take them in.
	if ps.StartC != 0 {
		f.NameFunction(ps.StartC, "_start_c", callgraph.CodeExtent(f, dec, ps.StartC))
	}
	if ps.Target != 0 {
		// musl's has no FDE: without a function there, the jump to it
		// would be taken for a jump inside _start_c.
		f.NameFunction(ps.Target, "__libc_start_main", callgraph.CodeExtent(f, dec, ps.Target))
	}
	f.NameFunction(ps.Main, "main", callgraph.CodeExtent(f, dec, ps.Main))
	f.NameFunction(ps.Entry, "_start", callgraph.CodeExtent(f, dec, ps.Entry))
	return ps, true
}

// modelProgramStart replaces the ELF entry's call to __libc_start_main by
// its summary (callgraph.ModelStart).
func modelProgramStart(g *callgraph.Graph, ps callgraph.ProgramStart, opts Options) {
	g.ModelStart(ps, callgraph.LibcStartOptions{AuditHooks: opts.LDAudit})
}
