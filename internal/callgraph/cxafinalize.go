package callgraph

import (
	"debug/elf"
	"encoding/binary"
	"slices"

	"github.com/stackscope/stackscope/internal/isa"
)

// finalizeHandlers narrows the handlers __cxa_finalize can run. It runs
// the ef_cxa entries whose dso handle is the one it is given (glibc 2.36's
// stdlib/cxa_finalize.c: `d == NULL || d == f->func.cxa.dso_handle`), and
// the callers are the modules' __do_global_dtors_aux (crtbeginS.o), which
// pass their own __dso_handle: a word of their data that points to itself
// (`void *__dso_handle = &__dso_handle`), never null. A function that is
// only ever registered with __cxa_atexit and a null handle (ld.so's
// _dl_fini, which __libc_start_main registers as `__cxa_atexit(rtld_fini,
// NULL, NULL)`) is then none of __cxa_finalize's targets. Without it the
// exit path ran __do_global_dtors_aux -> __cxa_finalize -> _dl_fini ->
// _dl_call_fini -> __do_global_dtors_aux, a recursion that cannot happen.
// When a caller's argument is not such a word, or a registration's
// handle is not a constant, nothing is removed.
func (g *Graph) finalizeHandlers(fin int, handlers []int) []int {
	if !g.finalizeGetsHandles(fin) {
		return handlers
	}
	nullOnly := g.nullHandleRegistrations()
	return slices.DeleteFunc(slices.Clone(handlers), func(id int) bool { return nullOnly[id] })
}

// finalizeGetsHandles says whether every call of __cxa_finalize (node fin)
// passes a module's __dso_handle, read from a word that holds its own
// address, and nothing takes __cxa_finalize's address.
func (g *Graph) finalizeGetsHandles(fin int) bool {
	libc := g.Nodes[fin].Module
	if g.refersTo(libc, []uint64{g.Nodes[fin].Func.Addr}) {
		return false
	}
	calls := 0
	for _, n := range g.Nodes {
		if n.Module == nil || n.Func == nil {
			continue
		}
		for _, e := range n.Edges {
			if e.To != fin {
				continue
			}
			if n.Hub || (e.Method != MethodDirect && e.Method != MethodPLT && e.Method != MethodGOT) {
				return false
			}
			const rdi = 7
			def, ok := g.argumentDef(n.Module, n, e.Site, rdi)
			if !ok || def.DefKind != isa.DefLoad || !def.HasMem || def.MemBase >= 0 || def.MemIndex >= 0 {
				return false
			}
			if !selfPointer(n.Module, uint64(def.MemDisp), "__dso_handle") {
				return false
			}
			calls++
		}
	}
	return calls > 0
}

// selfPointer says whether addr is m's data symbol name and the word there
// holds addr itself (relocated with the module when it is a PIE or a
// shared object, so never null at run time).
func selfPointer(m *Module, addr uint64, name string) bool {
	if !isObject(m, addr, []string{name}) {
		return false
	}
	for _, sec := range m.File.ELF.Sections {
		if sec.Type != elf.SHT_PROGBITS || sec.Flags&elf.SHF_ALLOC == 0 || addr < sec.Addr || addr+8 > sec.Addr+sec.Size {
			continue
		}
		var word [8]byte
		if _, err := sec.ReadAt(word[:], int64(addr-sec.Addr)); err != nil {
			return false
		}
		return binary.LittleEndian.Uint64(word[:]) == addr
	}
	return false
}

// nullHandleRegistrations returns the functions every registration of
// which is a call of __cxa_atexit with a null dso handle (rdx a constant
// 0), counting __libc_start_main's registration of rtld_fini (ld.so's
// _dl_fini) by its own rdx. Any other registration of a function (atexit,
// on_exit, a handle not known) keeps it.
func (g *Graph) nullHandleRegistrations() map[int]bool {
	nullOnly := map[int]bool{}
	kept := map[int]bool{}
	all := append(append([]string(nil), exitRegistrars...), exitRegistrarsInternal...)
	for _, n := range g.Nodes {
		if n.Module == nil || n.Func == nil || n.Hub || namedAny(n, all) {
			continue
		}
		for _, e := range n.Edges {
			to := g.Nodes[e.To]
			if !namedAny(to, all) {
				continue
			}
			var fns []int
			if namedAny(n, []string{"__libc_start_main_impl", "__libc_start_main"}) {
				fns = g.libcNodes("_dl_fini")
			} else if addr, ok := g.firstArgument(n.Module, n, e.Site); ok {
				if fi, ok := n.Module.File.FunctionIndex(addr); ok {
					fns = []int{g.nodeFor(n.Module, fi)}
				}
			}
			const rdx = 2
			null := false
			if to.Named("__cxa_atexit") {
				def, ok := g.argumentDef(n.Module, n, e.Site, rdx)
				null = ok && def.DefKind == isa.DefConst && def.DefValue == 0
			}
			for _, f := range fns {
				if null {
					nullOnly[f] = true
				} else {
					kept[f] = true
				}
			}
		}
	}
	for f := range kept {
		delete(nullOnly, f)
	}
	return nullOnly
}
