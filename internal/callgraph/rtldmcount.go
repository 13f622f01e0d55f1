package callgraph

import (
	"fmt"
	"strings"
)

// The profiling hook of glibc's DL_CALL_FCT (glibc 2.36,
// elf/dl-profstub.c): libc's _dl_mcount_wrapper_check, which a call of a
// function of a dlopen'ed object goes through (the gconv steps, NSS),
// calls GLRO(dl_mcount) when GL(dl_profile_map) is set (LD_PROFILE):
//
//	mov rax,[rip+_rtld_global_ro@GOT]; mov rax,[rax+0x320]; jmp rax
//
// _rtld_global_ro's _dl_mcount member is initialised statically in ld.so
// (rtld.c: ._dl_mcount = _dl_mcount). The model reads what the loaded
// image holds there: the member's offset from ld.so's DWARF (libc6-dbg),
// the word from ld.so's data and its relocation (a RELATIVE one, packed in
// .relr.dyn), which must name the start of one of ld.so's functions. What
// the code shows besides: the word lies in ld.so's PT_GNU_RELRO (read-only
// once ld.so has relocated itself, before any other module's code runs),
// and a decode of all of ld.so's code finds no instruction that writes it
// or takes its address at its own address, nor data that holds its
// address (scanStores). What it cannot show: ld.so computes
// _rtld_global_ro's own address in places (its cpu_features), and so
// could write the member through that pointer before the segment is made
// read-only; that glibc does not (nothing but the initialiser sets
// dl_mcount) is the premise the hub carries (kind glibc-model), off with
// --strict. Without the model the call took libc's address-taken set.

// rtldROHookMembers are the members of _rtld_global_ro that hold a
// function glibc's source sets only in ld.so's static initialiser.
var rtldROHookMembers = []string{"_dl_mcount"}

// rtldROHookHubs returns, for each member of _rtld_global_ro in
// rtldROHookMembers whose initial value the model reads (see above), the
// word's address in ld.so and the node standing for that function. Empty
// with --strict, or when a condition does not hold: the calls keep their
// set.
func (g *Graph) rtldROHookHubs(ld *Module, object uint64) map[uint64]int {
	hubs := map[uint64]int{}
	if g.opts.Strict || object == 0 {
		return hubs
	}
	store := g.libraryStore(ld)
	var all map[string]int64
	for _, member := range rtldROHookMembers {
		off := store.Fact("rtld-global-ro-member:"+member, func() int64 {
			if all == nil {
				all = rtldStructMembers(ld.File, "rtld_global_ro", rtldROHookMembers...)
			}
			if v, ok := all[member]; ok {
				return v
			}
			return -1
		})
		if off < 0 {
			continue
		}
		word := object + uint64(off)
		if !inRelro(ld, word) {
			continue
		}
		value, relocated, known := ld.File.DynamicWord(word)
		if !relocated || !known {
			continue // a word no relocation sets (0: no function) or another module's symbol
		}
		fi, ok := ld.File.FunctionIndex(value)
		if !ok || ld.File.Functions[fi].Addr != value {
			continue
		}
		key := fmt.Sprintf("rtld-ro-hook-stores %x", word)
		if store.Fact(key, func() int64 { return g.scanStores(ld, map[uint64]bool{word: true}, nil) }) != storesComplete {
			continue
		}
		target := g.nodeFor(ld, fi)
		name := strings.TrimPrefix(member, "_")
		nw := g.subsetHub(ld, "rtld ro hook "+member, MethodGlibcModel, []int{target}, func(int) string {
			return fmt.Sprintf("GLRO(%s): ld.so's %s, its initialiser", name, g.Nodes[target].Name())
		})
		g.Nodes[nw.hub].Premises = append(g.Nodes[nw.hub].Premises, Premise{Kind: PremiseGlibcModel, Detail: fmt.Sprintf(
			"GLRO(%s) (ld.so's _rtld_global_ro+%#x, in PT_GNU_RELRO) holds its static initialiser, ld.so's %s: no instruction of ld.so "+
				"writes it at its address (a scan of its code), and glibc 2.36 writes it through no pointer to _rtld_global_ro",
			name, off, g.Nodes[target].Name())})
		hubs[word] = nw.hub
	}
	return hubs
}
