package callgraph

import (
	"debug/elf"
	"fmt"
	"slices"

	"github.com/stackscope/stackscope/internal/frame"
)

// PremiseGlibcModel is the kind of the premise that a glibc function
// pointer holds only what glibc's source stores in it.
const PremiseGlibcModel = "glibc-model"

// rtldMutexWords are ld.so's pointers to the mutex functions it locks its
// loader lock with (glibc 2.34 and later: sysdeps/nptl/dl-mutex.c).
var rtldMutexWords = []string{"___rtld_mutex_lock", "___rtld_mutex_unlock"}

// rtldMutex links an indirect call of ld.so through ___rtld_mutex_lock or
// ___rtld_mutex_unlock (every __rtld_lock_lock_recursive of the loader:
// _dl_fini, dlopen, TLS) to what those words can hold: ld.so's
// rtld_mutex_dummy, which __tls_pre_init_tp stores in both, and libc's
// pthread_mutex_lock and pthread_mutex_unlock, which __rtld_mutex_init
// looks up by name and stores before the program starts. The words are
// attribute_relro: the check that they lie in ld.so's PT_GNU_RELRO
// segment is made (read-only once ld.so has relocated itself, so nothing
// the program runs writes them); that no other code of ld.so stores
// another value before is glibc's source, 2.34 to 2.36, which the entry
// then carries as an assumption. Without it the calls took ld.so's
// address-taken set (dl_open_worker, and from there libc's whole set),
// on every program's exit path (_dl_fini).
func (g *Graph) rtldMutex(id int, cs frame.CallSite) bool {
	n := g.Nodes[id]
	m := n.Module
	if m == nil {
		return false
	}
	var word uint64
	switch v := cs.From; {
	case cs.HasSlot: // call [rip+word]
		word = cs.Slot
	case v != nil && v.Kind == frame.ValueLoad && v.Off == 0 && !v.Indexed && v.Addr != nil && isConstant(v.Addr):
		word = uint64(v.Addr.Off) // mov rax,[rip+word]; call rax
	default:
		return false
	}
	if !slices.Contains(rtldMutexWordAddrs(m), word) || !inRelro(m, word) {
		return false
	}
	nw, ok := g.rtldMutexHub(m)
	if !ok {
		return false
	}
	g.addEdge(id, nw.hub, cs, MethodGlibcModel)
	return true
}

// rtldMutexHub is the node standing for the values of ld.so's mutex
// pointers, with the premise they rest on.
func (g *Graph) rtldMutexHub(m *Module) (narrowed, bool) {
	const key = "rtld mutex"
	if nw, ok := m.narrowed[key]; ok {
		return nw, nw.count > 0
	}
	var targets []int
	dummy, ok := m.File.Lookup("rtld_mutex_dummy")
	if !ok {
		return narrowed{}, false
	}
	fi, _ := m.File.FunctionIndex(dummy.Addr)
	targets = append(targets, g.nodeFor(m, fi))
	found := 0
	if g.opts.FollowLibraries {
		g.loadLibraries()
	}
	for _, name := range []string{"pthread_mutex_lock", "pthread_mutex_unlock"} {
		for _, lib := range g.Modules[1:] {
			if fn, ok := lib.File.LookupExported(name); ok {
				fi, _ := lib.File.FunctionIndex(fn.Addr)
				targets = append(targets, g.nodeFor(lib, fi))
				found++
				break
			}
		}
	}
	if found < 2 {
		return narrowed{}, false // libc's functions are not known: the call keeps its set
	}
	nw := g.subsetHub(m, key, MethodGlibcModel, targets, func(c int) string {
		return fmt.Sprintf("ld.so's loader lock: %d functions (rtld_mutex_dummy, libc's pthread_mutex_lock and _unlock)", c)
	})
	g.Nodes[nw.hub].Premises = append(g.Nodes[nw.hub].Premises, Premise{Kind: PremiseGlibcModel, Detail: "ld.so's ___rtld_mutex_lock and ___rtld_mutex_unlock " +
		"(read-only after start: PT_GNU_RELRO) hold only rtld_mutex_dummy or libc's pthread_mutex_lock/_unlock, the values glibc 2.34-2.36's " +
		"__tls_pre_init_tp and __rtld_mutex_init store"})
	return nw, true
}

// rtldMutexWordAddrs are the addresses of m's data symbols named in
// rtldMutexWords (isObject's answer for them), found once per module:
// rtldMutex asks at nearly every indirect call through a word, and a
// scan of all the module's symbols for each was some 30 ms of node's
// resolution, on the analysis' goroutine.
func rtldMutexWordAddrs(m *Module) []uint64 {
	m.rtldWordsOnce.Do(func() {
		for _, s := range m.File.Symbols() {
			if elf.ST_TYPE(s.Info) == elf.STT_OBJECT && slices.Contains(rtldMutexWords, s.Name) {
				m.rtldWords = append(m.rtldWords, s.Value)
			}
		}
	})
	return m.rtldWords
}

// isObject says whether addr is the address of a data symbol of m with
// one of the names.
func isObject(m *Module, addr uint64, names []string) bool {
	for _, s := range m.File.Symbols() {
		if s.Value == addr && elf.ST_TYPE(s.Info) == elf.STT_OBJECT {
			for _, name := range names {
				if s.Name == name {
					return true
				}
			}
		}
	}
	return false
}

// inRelro says whether addr lies in m's PT_GNU_RELRO segment.
func inRelro(m *Module, addr uint64) bool {
	for _, p := range m.File.ELF.Progs {
		if p.Type == elf.PT_GNU_RELRO && addr >= p.Vaddr && addr+8 <= p.Vaddr+p.Memsz {
			return true
		}
	}
	return false
}
