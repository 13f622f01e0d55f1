//go:build linux && amd64

package trace

import (
	"encoding/binary"
	"strings"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/frame"
	"github.com/stackscope/stackscope/internal/symbolize"
	"golang.org/x/sys/unix"
)

// DWARF register numbers on x86-64.
const (
	dwRBX = 3
	dwRBP = 6
	dwRSP = 7
	dwR12 = 12
	dwR15 = 15
	dwRA  = 16
)

// maxUnwind caps how many frames are unwound (enough to see a recursion
// cycle); maxShown caps how many are kept in the report.
const (
	maxUnwind = 512
	maxShown  = 64
)

// module is one ELF file mapped into the tracee.
type module struct {
	path string
	file *symbolize.File
	bias uint64
	fdes frame.FrameDescriptionEntries
}

var (
	fdeMu    sync.Mutex
	fdeCache = map[string]frame.FrameDescriptionEntries{}
)

// cfiFor parses .eh_frame and .debug_frame of a file once.
func cfiFor(f *symbolize.File) (fdes frame.FrameDescriptionEntries) {
	fdeMu.Lock()
	defer fdeMu.Unlock()
	if e, ok := fdeCache[f.Path]; ok {
		return e
	}
	defer func() {
		if recover() != nil {
			fdes = nil
		}
		fdeCache[f.Path] = fdes
	}()
	if data, addr, ok := f.Section(".eh_frame"); ok && addr != 0 {
		if e, err := parseFrames(data, addr); err == nil {
			fdes = fdes.Append(e) // Append also sorts, which FDEForPC needs
		}
	}
	if data, _, ok := f.Section(".debug_frame"); ok {
		if e, err := parseFrames(data, 0); err == nil {
			fdes = fdes.Append(e)
		}
	}
	return fdes
}

func parseFrames(data []byte, ehAddr uint64) (fdes frame.FrameDescriptionEntries, err error) {
	defer func() {
		if r := recover(); r != nil {
			fdes, err = nil, errMalformed
		}
	}()
	return frame.Parse(data, binary.LittleEndian, 0, 8, ehAddr)
}

type constErr string

func (e constErr) Error() string { return string(e) }

const errMalformed = constErr("malformed call frame information")

// addrSpace is what the unwinder knows of one stopped tracee.
type addrSpace struct {
	maps    []mapping
	mem     *memReader
	mods    map[string]*module
	mainExe string
}

func newAddrSpace(pid int, mem *memReader) *addrSpace {
	return &addrSpace{maps: readMaps(pid), mem: mem, mods: map[string]*module{}, mainExe: exePath(pid)}
}

// moduleAt returns the module whose executable mapping holds pc.
func (as *addrSpace) moduleAt(pc uint64) *module {
	m, _, ok := findMapping(as.maps, pc)
	if !ok || !m.exec() || !strings.HasPrefix(m.path, "/") {
		return nil
	}
	if mod, ok := as.mods[m.path]; ok {
		return mod
	}
	var mod *module
	f, err := symbolize.Open(m.path)
	if err == nil {
		if bias, ok := f.LoadBias(m.start, m.off); ok {
			mod = &module{path: m.path, file: f, bias: bias, fdes: cfiFor(f)}
		}
	}
	as.mods[m.path] = mod
	return mod
}

func (as *addrSpace) executable(pc uint64) bool {
	m, _, ok := findMapping(as.maps, pc)
	return ok && m.exec()
}

// symbolizeFrame names pc. Caller frames are looked up at pc-1 (the call
// instruction), since a return address may already lie past a noreturn
// function's end.
func (as *addrSpace) symbolizeFrame(pc uint64, caller bool) Frame {
	fr := Frame{PC: pc}
	look := pc
	if caller && look > 0 {
		look--
	}
	mod := as.moduleAt(look)
	if mod == nil {
		if m, _, ok := findMapping(as.maps, look); ok && m.path != "" {
			fr.Module = m.path
			fr.Offset = pc - m.start
		}
		return fr
	}
	fr.Module = mod.path
	fr.InMain = mod.path == as.mainExe
	rel := look - mod.bias
	if s, ok := mod.file.Lookup(rel); ok {
		fr.Function = s.Name
		fr.Offset = pc - mod.bias - s.Value
	} else {
		fr.Offset = pc - mod.bias
	}
	if file, line, ok := mod.file.Line(rel); ok {
		fr.File, fr.Line = file, line
	}
	return fr
}

func regsFrom(r *unix.PtraceRegs) regsState {
	return regsState{
		dwRBX: r.Rbx, dwRBP: r.Rbp, dwRSP: r.Rsp,
		12: r.R12, 13: r.R13, 14: r.R14, 15: r.R15,
		dwRA: r.Rip,
	}
}

// unwind walks the stack from the registers of a stopped thread: CFI from
// .eh_frame/.debug_frame first, frame pointers when a PC has none. It never
// reads more than maxUnwind frames. The second result is true when it
// stopped at the cap.
func (as *addrSpace) unwind(r *unix.PtraceRegs) ([]uint64, bool) {
	pcs, _, capped := as.unwindStates(r)
	return pcs, capped
}

// unwindStates is unwind that also returns each frame's registers as the
// unwinder recovered them (states[i] holds frame i's RSP and RBP).
func (as *addrSpace) unwindStates(r *unix.PtraceRegs) ([]uint64, []regsState, bool) {
	regs := regsFrom(r)
	pcs := []uint64{r.Rip}
	states := []regsState{regs}
	for len(pcs) < maxUnwind {
		pc := regs[dwRA]
		caller := len(pcs) > 1
		next, ok := as.step(regs, pc, caller, len(pcs) == 1)
		if !ok {
			return pcs, states, false
		}
		ra := next[dwRA]
		if ra == 0 || !as.executable(ra) {
			return pcs, states, false
		}
		// The stack must move up, except in the innermost frame.
		if next[dwRSP] <= regs[dwRSP] && len(pcs) > 1 {
			return pcs, states, false
		}
		pcs = append(pcs, ra)
		states = append(states, next)
		regs = next
	}
	return pcs, states, true
}

// step computes the caller's registers.
func (as *addrSpace) step(regs regsState, pc uint64, caller, first bool) (regsState, bool) {
	look := pc
	if caller {
		look--
	}
	if mod := as.moduleAt(look); mod != nil && mod.fdes != nil {
		if next, ok := as.stepCFI(mod, regs, look); ok {
			return next, true
		}
	}
	// Frame-pointer fallback. In the innermost frame a PC with no CFI may be
	// garbage (a call through a bad pointer): then the return address is on
	// top of the stack.
	if first && !as.executable(pc) {
		ra, ok := as.mem.u64(regs[dwRSP])
		if !ok {
			return nil, false
		}
		next := copyRegs(regs)
		next[dwRSP] = regs[dwRSP] + 8
		next[dwRA] = ra
		return next, true
	}
	fp := regs[dwRBP]
	if fp == 0 || fp < regs[dwRSP] {
		return nil, false
	}
	ra, ok1 := as.mem.u64(fp + 8)
	saved, ok2 := as.mem.u64(fp)
	if !ok1 || !ok2 {
		return nil, false
	}
	next := copyRegs(regs)
	next[dwRSP] = fp + 16
	next[dwRBP] = saved
	next[dwRA] = ra
	return next, true
}

func copyRegs(r regsState) regsState {
	n := make(regsState, len(r))
	for k, v := range r {
		n[k] = v
	}
	return n
}

func (as *addrSpace) stepCFI(mod *module, regs regsState, look uint64) (next regsState, ok bool) {
	defer func() {
		if recover() != nil {
			next, ok = nil, false
		}
	}()
	rel := look - mod.bias
	fde, err := mod.fdes.FDEForPC(rel)
	if err != nil {
		return nil, false
	}
	fc, err := fde.EstablishFrame(rel)
	if err != nil || fc == nil {
		return nil, false
	}
	if fc.CFA.Rule != frame.RuleCFA {
		return nil, false
	}
	base, have := regs[fc.CFA.Reg]
	if !have {
		return nil, false
	}
	cfa := uint64(int64(base) + fc.CFA.Offset)
	next = copyRegs(regs)
	next[dwRSP] = cfa
	raSet := false
	for reg, rule := range fc.Regs {
		var v uint64
		switch rule.Rule {
		case frame.RuleOffset:
			x, ok := as.mem.u64(uint64(int64(cfa) + rule.Offset))
			if !ok {
				return nil, false
			}
			v = x
		case frame.RuleValOffset:
			v = uint64(int64(cfa) + rule.Offset)
		case frame.RuleRegister:
			x, have := regs[rule.Reg]
			if !have {
				continue
			}
			v = x
		case frame.RuleUndefined:
			if reg == fc.RetAddrReg {
				return nil, false // outermost frame
			}
			continue
		case frame.RuleSameVal:
			continue
		default:
			if reg == fc.RetAddrReg {
				return nil, false
			}
			continue
		}
		if reg == fc.RetAddrReg {
			next[dwRA] = v
			raSet = true
		} else if reg != dwRSP {
			next[reg] = v
		}
	}
	if !raSet {
		return nil, false
	}
	return next, true
}

// findCycle looks for the shortest period p such that the backtrace repeats
// with period p at least three times in a row; it returns the start and p.
func findCycle(pcs []uint64) (start, period int, ok bool) {
	const reps = 3
	for s := 0; s < len(pcs) && s < 64; s++ {
		for p := 1; p <= 32 && s+p*reps <= len(pcs); p++ {
			match := true
			for i := s; i < s+p*(reps-1); i++ {
				if pcs[i] != pcs[i+p] {
					match = false
					break
				}
			}
			if match {
				return s, p, true
			}
		}
	}
	return 0, 0, false
}
