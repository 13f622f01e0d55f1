package callgraph

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"runtime"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/size"
	"github.com/stackscope/stackscope/internal/xstate"
)

// The lazy-binding resolver of glibc's ld.so on x86-64, modelled from its
// code and the CPU the analysis runs on.
//
// ld.so has three resolvers (sysdeps/x86_64/dl-trampoline.h) and, when it
// starts, puts one in every lazily bound module's GOT[2] from the CPU
// (elf_machine_runtime_setup): _dl_runtime_resolve_fxsave when
// cpu_features' xsave_state_size is 0, otherwise _xsavec when the CPU has
// XSAVEC, else _xsave. Each does
//
//	push rbx; mov rbx,rsp; and rsp,-64 (fxsave: -16)
//	sub rsp, xsave_state_size (a load from _rtld_global_ro; fxsave: 0x240)
//	... save the argument registers and the vector state ...
//	call _dl_fixup
//	... restore ...; mov rsp,rbx; pop rbx; add rsp,16; jmp r11
//
// so its frame is that size, which xstate computes as ld.so does. A glibc
// tunable can turn XSAVEC off (then _xsave with the full size): the model
// takes the largest variant this CPU allows. Under LD_AUDIT or LD_PROFILE,
// ld.so uses _dl_runtime_profile_* instead (another frame, and the audit
// callbacks): with --ld-audit the resolver stays unbounded.

// PremiseCPU is the kind of the premise that the lazy-binding resolver
// runs on the CPU the analysis ran on.
const PremiseCPU = "cpu"

// resolverModel is the modelled resolver of a graph: its node, once made.
type resolverModel struct {
	done bool
	node int // -1: not modelled (strict, --ld-audit, not x86-64, ld.so not recognised)
}

// resolverVariant is one _dl_runtime_resolve_* found in ld.so's code.
type resolverVariant struct {
	addr uint64
	save string // "fxsave", "xsave" or "xsavec"
	code []byte // from addr to the end of its final jmp r11
	// subAt is the offset in code of `sub rsp,[rip+d]` (7 bytes), -1 when
	// the variant subtracts a constant (fxsave).
	subAt int
}

// The resolver realigns SP (`and rsp,-64`, or -16 for FXSAVE) after its
// push: from an SP only known to be 8-byte aligned (the stub is entered
// from any code), that moves SP down by up to align-8 bytes (56 B). The
// walk reads the frame with the `and` taken out, and the model adds that
// worst case itself, whatever the walker would assume about the caller's
// alignment.

// stubPushes are the two words the PLT stub and PLT0 push before they jump
// to the resolver (the relocation index and GOT[1]); the walk counts one
// word for the "return address" at its entry, the call's own.
const stubPushes int64 = 16

// modelledResolver returns the node of the resolver modelled on this CPU,
// making it on the first call; false when it is not modelled, and the
// lazy-binding node stays Dynamic with its reason.
func (g *Graph) modelledResolver() (int, bool) {
	if g.resolver.done {
		return g.resolver.node, g.resolver.node >= 0
	}
	g.resolver = resolverModel{done: true, node: -1}
	if g.opts.Strict || g.opts.AuditHooks || g.Arch != binfile.ArchX86_64 || runtime.GOARCH != "amd64" {
		return -1, false
	}
	cpu := xstate.Read()
	if !cpu.Known {
		return -1, false
	}
	var ld *Module
	for _, m := range g.Modules[1:] {
		if m.File.Arch == binfile.ArchX86_64 && g.isInterpreter(m) {
			ld = m
		}
	}
	if ld == nil {
		return -1, false
	}
	variants := findResolvers(ld.File)
	// The variants this CPU can run, each with the size it subtracts.
	want := map[string]int64{"fxsave": 0x240}
	if cpu.XSAVE {
		want = map[string]int64{"xsave": cpu.Full}
		if cpu.Compact != 0 {
			want["xsavec"] = cpu.Compact
		}
	}
	best := frame.Frame{Size: -1}
	var bestVariant resolverVariant
	// In a fixed order, the one ld.so picks by default first: of equal
	// sizes, the premise names that one.
	for _, save := range []string{"xsavec", "xsave", "fxsave"} {
		n, wanted := want[save]
		if !wanted {
			continue
		}
		v, ok := variants[save]
		if !ok {
			return -1, false // a variant the CPU may use is not recognised
		}
		fr, ok := g.walkResolver(v, n)
		if !ok {
			return -1, false
		}
		if fr.Size > best.Size {
			best, bestVariant = fr, v
		}
	}
	area := cpu.Largest()
	if !cpu.XSAVE {
		area = 0x240
	}
	fn := &binfile.Function{LinkName: LazyResolverName, Addr: bestVariant.addr,
		Size: uint64(len(bestVariant.code)), Source: "lazy-resolver"}
	id := len(g.Nodes)
	g.Nodes = append(g.Nodes, &Node{Module: ld, Func: fn, name: LazyResolverName, Frame: best,
		Premises: []Premise{{Kind: PremiseCPU, Site: bestVariant.addr, Detail: fmt.Sprintf(
			"the lazy-binding resolver runs on this machine's CPU: state save area %s (XSAVE state and the saved argument registers, from CPUID leaf 0xD; ld.so's _dl_runtime_resolve_%s); "+
				"a CPU with more enabled state needs more; LD_BIND_NOW=1 avoids it", size.Format(area), bestVariant.save)}}})
	g.pending = append(g.pending, id)
	g.resolver.node = id
	return id, true
}

// walkResolver walks variant v's code with the size it subtracts from SP
// written in as a constant, up to its call of _dl_fixup, and returns its
// frame as a callee of the PLT stub's caller: with the stub's pushes and
// the realignment's slack beyond the ABI. The walk ends at that call (a
// ud2 put after it): what follows restores the registers, sets SP back
// from rbx above the stub's pushes and jumps through r11 to the resolved
// function, which the PLT edge of the same call already stands for; none
// of it goes deeper. False when the code is not the shape described above.
func (g *Graph) walkResolver(v resolverVariant, area int64) (frame.Frame, bool) {
	code := bytes.Clone(v.code)
	if v.subAt >= 0 {
		if area <= 0 || area > 1<<30 {
			return frame.Frame{}, false
		}
		// sub rsp,[rip+d] (48 2b 25 d32) -> sub rsp,imm32 (48 81 ec imm32):
		// the same length, so every other instruction stays where it is.
		copy(code[v.subAt:], []byte{0x48, 0x81, 0xec})
		binary.LittleEndian.PutUint32(code[v.subAt+3:], uint32(area))
	}
	align := int64(16)
	if code[len(resolverPrologue)] == 0xc0 {
		align = 64
	}
	copy(code[len(resolverPrologue)-3:], []byte{0x0f, 0x1f, 0x40, 0x00}) // and rsp,-N -> nopl 0(rax)
	in := frame.Input{Addr: v.addr, Code: code, Decoder: g.Decoder, StackAlign: g.opts.StackAlign}
	first := frame.Analyze(in)
	if len(first.Calls) == 0 || first.Calls[0].Kind != frame.Call {
		return frame.Frame{}, false
	}
	callEnd := int(first.Calls[0].Addr-v.addr) + 5 // e8 rel32
	if callEnd > len(code) || code[callEnd-5] != 0xe8 {
		return frame.Frame{}, false
	}
	in.Code = append(code[:callEnd:callEnd], 0x0f, 0x0b) // ud2
	fr := frame.Analyze(in)
	if fr.Kind != frame.Static || len(fr.Calls) != 1 || fr.Calls[0].Kind != frame.Call || fr.Size < area {
		return frame.Frame{}, false
	}
	extra := stubPushes + align - 8
	fr.Size += extra
	fr.Calls[0].Depth += extra
	fr.Refs = nil
	return fr, true
}

// resolverPrologue is `push rbx; mov rbx,rsp; and rsp,` (the mask follows).
var resolverPrologue = []byte{0x53, 0x48, 0x89, 0xe3, 0x48, 0x83, 0xe4}

// The save instructions at 0x40(%rsp) (0f ae /0, 0f ae /4, 0f c7 /4).
var saveInstructions = map[string][]byte{
	"fxsave": {0x0f, 0xae, 0x44, 0x24, 0x40},
	"xsave":  {0x0f, 0xae, 0x64, 0x24, 0x40},
	"xsavec": {0x0f, 0xc7, 0x64, 0x24, 0x40},
}

// maxResolverLen bounds the code of one variant (about 200 bytes each).
const maxResolverLen = 512

// findResolvers finds the resolver variants in ld.so's executable code by
// their shape (the symbols are local, and Debian's ld.so is stripped of
// them): the prologue above, one save instruction, a call, and `jmp r11`.
// A variant whose shape appears more than once is left out: not known.
func findResolvers(f *binfile.File) map[string]resolverVariant {
	found := map[string]resolverVariant{}
	dup := map[string]bool{}
	for _, s := range f.ELF.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_EXECINSTR == 0 {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		for off := 0; ; {
			i := bytes.Index(data[off:], resolverPrologue)
			if i < 0 {
				break
			}
			at := off + i
			off = at + 1
			if v, ok := resolverAt(data[at:min(len(data), at+maxResolverLen)], s.Addr+uint64(at)); ok {
				if _, seen := found[v.save]; seen {
					dup[v.save] = true
				}
				found[v.save] = v
			}
		}
	}
	for save := range dup {
		delete(found, save)
	}
	return found
}

// resolverAt recognises a variant at the start of code.
func resolverAt(code []byte, addr uint64) (resolverVariant, bool) {
	p := len(resolverPrologue)
	if len(code) < p+8 {
		return resolverVariant{}, false
	}
	v := resolverVariant{addr: addr, subAt: -1}
	mask := code[p]
	sub := code[p+1:]
	switch {
	case mask == 0xc0 && bytes.HasPrefix(sub, []byte{0x48, 0x2b, 0x25}): // and rsp,-64; sub rsp,[rip+d]
		v.subAt = p + 1
	case mask == 0xf0 && bytes.HasPrefix(sub, []byte{0x48, 0x81, 0xec}): // and rsp,-16; sub rsp,imm32
	default:
		return resolverVariant{}, false
	}
	end := bytes.Index(code, []byte{0x41, 0xff, 0xe3}) // jmp r11
	if end < 0 {
		return resolverVariant{}, false
	}
	v.code = code[:end+3]
	for save, insn := range saveInstructions {
		if bytes.Contains(v.code, insn) {
			if v.save != "" {
				return resolverVariant{}, false
			}
			v.save = save
		}
	}
	if v.save == "" || (v.save == "fxsave") != (v.subAt < 0) {
		return resolverVariant{}, false
	}
	return v, true
}

// auditGuardedSlots are ld.so's audit hooks that libc calls, through a
// lazily bound slot, only after testing GLRO(dl_naudit) > 0 itself, so
// that without LD_AUDIT neither the hook nor the resolver runs there:
// glibc 2.36's do_sym (elf/dl-sym.c) for _dl_audit_symbind_alt (Debian
// 12's libc.so.6: `mov 0x378(%rax),%eax; test %eax,%eax; jne` before the
// call). _dl_audit_preinit is not one: __libc_start_main calls it on
// every start, and the hook tests dl_naudit inside, after its slot was
// resolved (gdb shows _dl_fixup under __libc_start_main_impl).
var auditGuardedSlots = map[string]bool{"_dl_audit_symbind_alt": true}

// cutGuardedAuditSlot leaves out the lazy-binding edge of a call through
// one of those slots unless --ld-audit, and gives the caller the no-audit
// premise instead.
func (g *Graph) cutGuardedAuditSlot(from int, m *Module, slot uint64) bool {
	name := m.File.Slots[slot]
	if g.opts.AuditHooks || !auditGuardedSlots[name] {
		return false
	}
	n := g.Nodes[from]
	p := Premise{Kind: PremiseNoAudit, Detail: "not under LD_AUDIT: " + n.Name() + " calls " + name +
		" (lazily bound in " + m.Name + ") only when an audit library is loaded (--ld-audit keeps the call)"}
	if n.Func != nil {
		p.Site = n.Func.Addr
	}
	for _, q := range n.Premises {
		if q == p {
			return true
		}
	}
	n.Premises = append(n.Premises, p)
	return true
}
