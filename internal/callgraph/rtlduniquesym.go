package callgraph

import (
	"debug/elf"
	"fmt"
	"slices"

	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// do_lookup_x's call of the unique-symbol table's free function (glibc
// 2.36's elf/dl-lookup.c, the STB_GNU_UNIQUE path), on the path of every
// lazy binding:
//
//	tab->free (entries);   // the old entries, when the table grows
//	...
//	tab->free = __rtld_free;
//
// tab is &GL(dl_ns)[map->l_ns]._ns_unique_sym_table. glibc stores into
// that field only there, in do_lookup_x, each time the value of ld.so's
// __rtld_free word (when the table is first allocated and when it is
// grown); the field is zero until the table exists, and the call is made
// only when it does. So the call can go where a call through __rtld_free
// goes, and takes rtldmalloc.go's node for it, under the same premise.
//
// On x86-64 (Debian 12's ld.so):
//
//	mov 0x...(%rip),%rax     # __rtld_free
//	...
//	mov %rax,0x68(%rbp)      # the table allocated
//	...
//	call *0x68(%r13)         # tab->free (entries)
//	...
//	mov 0x...(%rip),%rax     # __rtld_free
//	...
//	mov %rax,0x68(%r13)      # the table grown
//
// What the code shows: the call goes through a field at some offset off
// of a pointer; do_lookup_x stores into that offset of a pointer (not the
// stack) at least once, and each such store writes a value loaded from
// __rtld_free a few straight-line instructions before. What it does not:
// that the stores and the call use the same struct (the pointers are
// computed from the namespace index), and that no other code writes the
// field (_rtld_global is exported to libc as GLIBC_PRIVATE). That part is
// glibc's source, so the model is a premise, off with --strict (as
// linkRtldHooks is).

// uniqueSymFreeHub returns the node a call of do_lookup_x at cs goes to
// when it is the unique-symbol table's free call: the node of a call
// through __rtld_free (hubs, keyed by the word's address). False for any
// other call, or when the code does not show the stores described above.
func (g *Graph) uniqueSymFreeHub(n *Node, cs frame.CallSite, hubs map[uint64]int) (int, bool) {
	if !n.Named("do_lookup_x") {
		return 0, false
	}
	word, ok := objectSymbol(n.Module, "__rtld_free")
	if !ok {
		return 0, false
	}
	hub, ok := hubs[word]
	if !ok {
		return 0, false
	}
	off, stores, ok := g.fieldFedFrom(n, cs.Addr, word)
	if !ok {
		return 0, false
	}
	if !slices.ContainsFunc(g.Nodes[hub].Premises, func(p Premise) bool { return p.Site == cs.Addr }) {
		g.Nodes[hub].Premises = append(g.Nodes[hub].Premises, Premise{Kind: PremiseGlibcModel, Site: cs.Addr, Detail: fmt.Sprintf(
			"do_lookup_x's call at %#x through +%#x of a pointer is the unique-symbol table's free (tab->free): glibc 2.36 stores "+
				"into that field only in do_lookup_x, from __rtld_free (its code here: %d %s at +%#x, each from a load of __rtld_free), "+
				"and calls it only once the table exists", cs.Addr, off, stores, plural(stores, "store"), off)})
	}
	return hub, true
}

// objectSymbol is the address of m's 8-byte data symbol name (from its
// symbol table, or its debug symbols).
func objectSymbol(m *Module, name string) (uint64, bool) {
	for _, s := range m.File.Symbols() {
		if s.Name == name && elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Size == 8 {
			return s.Value, true
		}
	}
	return 0, false
}

// fieldFedFrom checks, in n's function, that the instruction at site is
// `call *off(%reg)` (a pointer other than the stack's, no index), and that
// every store of the function into bytes off..off+8 of a pointer other
// than the stack pointer is a 64-bit `mov %r,off(%reg)` whose %r was last
// written by `mov word(%rip),%r` in the straight-line code before it (no
// branch lands in between). It returns off and how many such stores there
// are (at least one). The whole function must decode, with no indirect
// jump (its targets would be branch targets the check does not see).
func (g *Graph) fieldFedFrom(n *Node, site, word uint64) (off int64, stores int, ok bool) {
	const rsp = 4
	fn := n.Func
	code, err := n.Module.File.Code(fn.Addr, fn.Size)
	if err != nil {
		return 0, 0, false
	}
	type inst struct {
		addr uint64
		b    []byte
		e    isa.Effect
		ops  x86.Operands
	}
	var insts []inst
	landings := map[uint64]bool{}
	for at := 0; at < len(code); {
		pc := fn.Addr + uint64(at)
		e, err := g.Decoder.Decode(code[at:], pc)
		if err != nil || e.Len <= 0 || at+e.Len > len(code) {
			return 0, 0, false
		}
		ops, ok := x86.DecodeOperands(code[at : at+e.Len])
		if !ok || e.Flow == isa.FlowIndirectJump {
			return 0, 0, false
		}
		if (e.Flow == isa.FlowJump || e.Flow == isa.FlowCondJump) && e.HasTarget {
			landings[e.Target] = true
		}
		insts = append(insts, inst{pc, code[at : at+e.Len], e, ops})
		at += e.Len
	}
	i := slices.IndexFunc(insts, func(in inst) bool { return in.addr == site })
	if i < 0 {
		return 0, 0, false
	}
	call := insts[i].e
	if call.Flow != isa.FlowIndirectCall || !call.HasMem || call.HasCallReg || call.MemBase < 0 || call.MemBase == rsp || call.MemIndex >= 0 {
		return 0, 0, false
	}
	off = call.MemDisp
	// fedFromWord: the register a store at insts[j] writes was last set by
	// a load of word, in straight-line code (each instruction in between
	// one whose only register result is its explicit destination).
	fedFromWord := func(j int, reg int8) bool {
		for k := j - 1; k >= 0 && k >= j-12; k-- {
			if landings[insts[k+1].addr] {
				return false
			}
			e := insts[k].e
			if e.DefKind == isa.DefLoad && e.DefReg == reg {
				return e.HasMem && e.MemBase < 0 && e.MemIndex < 0 && uint64(e.MemDisp) == word
			}
			if e.Flow != isa.FlowNext || !insts[k].ops.Safe || insts[k].ops.Dest == reg {
				return false
			}
		}
		return false
	}
	for j, in := range insts {
		o := in.ops
		if !o.HasMem || !o.MemWrite || o.MemBase == rsp || o.MemBase < 0 && o.MemIndex < 0 {
			continue // not a store, the frame, or a fixed address (not an indexed namespace's table)
		}
		size := o.MemSize
		if size <= 0 {
			size = 64 // not known: as wide as any store
		}
		if o.MemDisp+size <= off || o.MemDisp >= off+8 {
			continue
		}
		src := storedRegister(in.b, o)
		if o.MemDisp != off || o.MemSize != 8 || o.MemIndex >= 0 || src < 0 || !fedFromWord(j, src) {
			return 0, 0, false
		}
		stores++
	}
	return off, stores, stores > 0
}

// storedRegister is the register a 64-bit `mov %r,mem` (REX.W 89 /r)
// stores, -1 for another instruction.
func storedRegister(b []byte, o x86.Operands) int8 {
	if len(b) < 2 || b[0]&0xf8 != 0x48 || b[1] != 0x89 || o.Dest >= 0 {
		return -1
	}
	for r := int8(0); r < 16; r++ {
		if o.Reads == 1<<uint(r) {
			return r
		}
	}
	return -1
}
