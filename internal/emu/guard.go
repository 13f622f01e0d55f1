package emu

// The stack guard: QEMU 7.2's MPS2 and Stellaris boards let the core write
// below the start of RAM without a fault, where a real part raises a
// BusFault. Before an injected overflow stackscope makes the memory below
// the stack limit fault as the part would: an MPU region with no access
// (PMSAv7 on v7-M, a read-only privileged region on PMSAv8), programmed
// by a few instructions the core runs before the firmware's first one.
// QEMU's stub cannot do it with memory writes: its debug writes reach RAM
// and ROM only and skip device registers, so a write to MPU_CTRL through
// the stub is lost (measured: it reads back 0).

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/stackscope/stackscope/internal/binfile"
)

// System control registers the guard and the fault report use.
const (
	regSHCSR   = 0xE000ED24
	regCFSR    = 0xE000ED28
	regHFSR    = 0xE000ED2C
	regMMFAR   = 0xE000ED34
	regBFAR    = 0xE000ED38
	regMPUCtrl = 0xE000ED94
	regMPURNR  = 0xE000ED98
	mpuFirst   = 0xE000ED90 // MPU_TYPE
	mpuEnd     = 0xE000EDC8 // past MAIR1 (v8-M)
)

// MPU_CTRL: ENABLE, HFNMIENA (the region applies in HardFault and NMI as a
// bus error would: a real part's BusFault below RAM is not masked at
// priority -1), PRIVDEFENA (the default map elsewhere).
const mpuCtrlGuard = 0x7

// Guard mechanisms.
const (
	GuardMPU       = "mpu"       // an MPU region stackscope programmed
	GuardMSPLIM    = "msplim"    // the firmware's own MSPLIM (ARMv8-M)
	GuardNone      = "none"      // below the limit is memory: the part writes it too
	GuardWatchOnly = "watchonly" // the firmware programs the MPU: writes below memory are reported as would-fault
)

// Guard is how the memory below the stack limit was made to fault.
type Guard struct {
	Mechanism string `json:"mechanism"`
	// Start and End bound the guarded range [Start, End) (mpu only).
	Start uint64 `json:"start,omitempty"`
	End   uint64 `json:"end,omitempty"`
	// Note says what guards the memory below the limit; Differs how the
	// run then differs from the real part ("" when it does not).
	Note    string `json:"note"`
	Differs string `json:"differs,omitempty"`
}

// ProgramsMPU reports whether the firmware's code holds the address of an
// MPU register as a literal (CMSIS and vendor HALs load MPU->CTRL, RBAR
// and RASR/RLAR that way): stackscope then leaves the MPU alone.
func ProgramsMPU(f *binfile.File) bool {
	found := false
	execSections(f, func(_ uint64, data []byte) {
		for i := 0; i+4 <= len(data) && !found; i += 4 {
			w := binary.LittleEndian.Uint32(data[i:])
			found = w >= mpuFirst && w < mpuEnd
		}
	})
	return found
}

// SetsMSPLIM reports whether the code has an "msr msplim, rN" (T1
// encoding: 0xf38n 0x880a), which ARMv8-M startup code runs to arm the
// main stack's limit check.
func SetsMSPLIM(f *binfile.File) bool {
	found := false
	execSections(f, func(_ uint64, data []byte) {
		for i := 0; i+4 <= len(data) && !found; i += 2 {
			found = binary.LittleEndian.Uint16(data[i:])&0xfff0 == 0xf380 && binary.LittleEndian.Uint16(data[i+2:]) == 0x880a
		}
	})
	return found
}

// execSections calls fn with the address and bytes of every executable
// section of the image.
func execSections(f *binfile.File, fn func(addr uint64, data []byte)) {
	for _, s := range f.ELF.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_EXECINSTR == 0 {
			continue
		}
		if data, err := s.Data(); err == nil {
			fn(s.Addr, data)
		}
	}
}

// guardRegion picks the MPU region below limit: it ends at limit rounded
// down to 32 bytes and reaches down at most maxGuard, never into memory
// (the avoid ranges: the firmware's memory map, the board's flash, the
// image). PMSAv7 regions are a power of two aligned to their size; PMSAv8
// regions only 32-byte granules. ok is false when not even 32 bytes fit.
func guardRegion(limit uint64, v8 bool, avoid []Range) (r Range, ok bool) {
	const maxGuard = 1 << 20
	hi := limit &^ 31
	overlaps := func(lo uint64) bool {
		for _, a := range avoid {
			if a.Start < hi && a.End > lo {
				return true
			}
		}
		return false
	}
	for size := uint64(maxGuard); size >= 32; size /= 2 {
		if hi < size || !v8 && hi%size != 0 {
			continue
		}
		if !overlaps(hi - size) {
			return Range{hi - size, hi}, true
		}
	}
	return Range{}, false
}

// stubCode programs one MPU region and MPU_CTRL, then waits: r0 = MPU_RNR,
// r1 = region number, r2 = RBAR, r3 = RASR (v7) or RLAR (v8), r4 =
// MPU_CTRL's value, r5 = &MPU_CTRL.
var stubCode = []uint16{
	0x6001,         // str r1, [r0, #0]  RNR
	0x6042,         // str r2, [r0, #4]  RBAR
	0x6083,         // str r3, [r0, #8]  RASR / RLAR
	0x602c,         // str r4, [r5, #0]  CTRL
	0xf3bf, 0x8f4f, // dsb sy
	0xf3bf, 0x8f6f, // isb sy
	0xe7fe, // b .   (a breakpoint stops the core here)
}

// InstallMPUGuard programs an MPU region over g with no write access,
// running stubCode from scratch (32 bytes of RAM the image does not use;
// their contents are put back), then restores the registers the core had
// at reset. v8 selects PMSAv8's encoding.
func (m *Machine) InstallMPUGuard(g Range, v8 bool, scratch uint64) error {
	saved, err := m.Registers()
	if err != nil {
		return err
	}
	old, err := m.ReadMemory(scratch, 2*len(stubCode))
	if err != nil {
		return err
	}
	code := make([]byte, 2*len(stubCode))
	for i, h := range stubCode {
		binary.LittleEndian.PutUint16(code[2*i:], h)
	}
	if err := m.WriteMemory(scratch, code); err != nil {
		return err
	}
	var rbar, rattr uint32
	if v8 {
		// RBAR: base, SH 0, AP 0b10 (read-only, privileged), XN; RLAR:
		// the last granule's address, attribute 0, enable.
		rbar = uint32(g.Start) | 0b10<<1 | 1
		rattr = uint32(g.End-32) | 1
	} else {
		// RBAR: base, VALID, region 0; RASR: XN, AP 0b000 (no access),
		// SIZE = log2(size)-1, enable.
		rbar = uint32(g.Start) | 1<<4
		rattr = 1<<28 | uint32(bits.TrailingZeros64(g.End-g.Start)-1)<<1 | 1
	}
	set := map[int]uint32{0: regMPURNR, 1: 0, 2: rbar, 3: rattr, 4: mpuCtrlGuard, 5: regMPUCtrl, 15: uint32(scratch) | 1}
	for n, v := range set {
		if err := m.WriteRegister(n, v); err != nil {
			return err
		}
	}
	end := scratch + uint64(2*(len(stubCode)-1))
	if err := m.SetBreakpoint(end); err != nil {
		return err
	}
	stop, st := m.Run(context.Background(), RunOptions{Deadline: time.Now().Add(10 * time.Second)})
	m.RemoveBreakpoint(end)
	if st != nil {
		return st
	}
	if stop.Kind != StopBreakpoint || stop.Regs == nil || uint64(stop.Regs.PC()) != end {
		return fmt.Errorf("programming the MPU: the core stopped (%s: %s) before the end of the stub", stop.Kind, stop.Detail)
	}
	if err := m.WriteMemory(scratch, old); err != nil {
		return err
	}
	for n := 0; n < 16; n++ {
		if err := m.WriteRegister(n, saved.R[n]); err != nil {
			return err
		}
	}
	if err := m.WriteRegister(regXPSR, saved.XPSR); err != nil {
		return err
	}
	ctrl, err := m.ReadWord(regMPUCtrl)
	if err != nil {
		return err
	}
	if ctrl&1 == 0 {
		return fmt.Errorf("programming the MPU: MPU_CTRL reads %#x after the stub (this core has no MPU?)", ctrl)
	}
	return nil
}

// regXPSR stands for xPSR in WriteRegister.
const regXPSR = 16

// WriteRegister sets r0-r15 (n 0-15) or xPSR (regXPSR). QEMU 7.2 answers
// "P" only after the client read its target description, so this reads
// all registers ("g"), patches one and writes them back ("G"), in the
// layout ReadRegisters explains.
func (m *Machine) WriteRegister(n int, v uint32) error {
	return m.guard(requestTimeout, func() error {
		b, err := m.rsp.ReadRegisters()
		if err != nil {
			return err
		}
		off := 4 * n
		if n == regXPSR {
			off = 64
			if len(b) >= 168 {
				off = 164
			}
		}
		if off+4 > len(b) {
			return fmt.Errorf("register %d is not in the stub's %d-byte register block", n, len(b))
		}
		binary.LittleEndian.PutUint32(b[off:], v)
		req := "G" + hex.EncodeToString(b)
		r, err := m.rsp.Exchange(req)
		if err != nil {
			return err
		}
		if string(r) != "OK" {
			return fmt.Errorf("writing register %d: the stub answered %q", n, r)
		}
		return nil
	})
}

// ReadWord reads a 32-bit word (device registers included: the stub's
// reads reach them).
func (m *Machine) ReadWord(addr uint64) (uint32, error) {
	b, err := m.ReadMemory(addr, 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// scratchArea finds n bytes at the end of a board RAM range that no image
// segment and no stack uses, for the guard's stub.
func scratchArea(b *Board, im Image, n uint64) (uint64, bool) {
	for i := len(b.RAM) - 1; i >= 0; i-- {
		r := b.RAM[i]
		lo := r.End - n
		free := true
		for _, s := range im.Segments {
			if s.VAddr < r.End && s.VAddr+s.MemSize > lo || s.PAddr < r.End && s.PAddr+s.FileSize > lo {
				free = false
			}
		}
		if im.Stack != nil && im.Stack.Start < r.End && im.Stack.End > lo {
			free = false
		}
		if free {
			return lo, true
		}
	}
	return 0, false
}

// FaultStatus are the fault status registers at a fault handler's entry.
type FaultStatus struct {
	CFSR  uint32 `json:"cfsr"`
	HFSR  uint32 `json:"hfsr"`
	MMFAR uint32 `json:"mmfar"`
	BFAR  uint32 `json:"bfar"`
	// Bits names the bits set, e.g. ["MSTKERR", "DACCVIOL", "MMARVALID", "FORCED"].
	Bits []string `json:"bits"`
}

// ReadFaultStatus reads CFSR, HFSR, MMFAR and BFAR.
func (m *Machine) ReadFaultStatus() (*FaultStatus, error) {
	fs := &FaultStatus{}
	for _, r := range []struct {
		addr uint64
		to   *uint32
	}{{regCFSR, &fs.CFSR}, {regHFSR, &fs.HFSR}, {regMMFAR, &fs.MMFAR}, {regBFAR, &fs.BFAR}} {
		v, err := m.ReadWord(r.addr)
		if err != nil {
			return nil, err
		}
		*r.to = v
	}
	fs.Bits = FaultBits(fs.CFSR, fs.HFSR)
	return fs, nil
}

// cfsrBits and hfsrBits name the status bits (ARMv7-M/ARMv8-M ARM,
// B3.2.15-16): MMFSR in CFSR[7:0], BFSR [15:8], UFSR [31:16].
var cfsrBits = map[int]string{
	0: "IACCVIOL", 1: "DACCVIOL", 3: "MUNSTKERR", 4: "MSTKERR", 5: "MLSPERR", 7: "MMARVALID",
	8: "IBUSERR", 9: "PRECISERR", 10: "IMPRECISERR", 11: "UNSTKERR", 12: "STKERR", 13: "LSPERR", 15: "BFARVALID",
	16: "UNDEFINSTR", 17: "INVSTATE", 18: "INVPC", 19: "NOCP", 20: "STKOF", 24: "UNALIGNED", 25: "DIVBYZERO",
}
var hfsrBits = map[int]string{1: "VECTTBL", 30: "FORCED", 31: "DEBUGEVT"}

// FaultBits names the set bits of CFSR and HFSR, CFSR's first, low to high.
func FaultBits(cfsr, hfsr uint32) []string {
	out := []string{}
	for i := 0; i < 32; i++ {
		if cfsr&(1<<i) != 0 {
			if n, ok := cfsrBits[i]; ok {
				out = append(out, n)
			} else {
				out = append(out, "CFSR bit "+strconv.Itoa(i))
			}
		}
	}
	for i := 0; i < 32; i++ {
		if hfsr&(1<<i) != 0 {
			if n, ok := hfsrBits[i]; ok {
				out = append(out, n)
			} else {
				out = append(out, "HFSR bit "+strconv.Itoa(i))
			}
		}
	}
	return out
}

// String is the status for a person: "CFSR=0x92 (DACCVIOL MSTKERR ...)".
func (fs *FaultStatus) String() string {
	s := fmt.Sprintf("CFSR=%#x HFSR=%#x", fs.CFSR, fs.HFSR)
	if fs.CFSR&(1<<7) != 0 {
		s += fmt.Sprintf(" MMFAR=%#x", fs.MMFAR)
	}
	if fs.CFSR&(1<<15) != 0 {
		s += fmt.Sprintf(" BFAR=%#x", fs.BFAR)
	}
	if len(fs.Bits) > 0 {
		s += " (" + strings.Join(fs.Bits, " ") + ")"
	}
	return s
}
