package emu

import (
	"debug/elf"
	"fmt"
	"slices"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
)

// Range is [Start, End).
type Range struct{ Start, End uint64 }

func (r Range) holds(start, end uint64) bool { return start >= r.Start && end <= r.End && start <= end }

// Board is a QEMU machine stackscope runs firmware on: its memories as
// QEMU 7.2 maps them (checked by TestBoardMemories through the stub), the
// address its core reads the vector table from at reset, and what the
// core can execute.
type Board struct {
	Name string // qemu-system-arm -M NAME
	CPU  string // for a person: "Cortex-M3"
	// Flash holds code (ROM or code RAM the ELF loader writes); RAM is
	// writable data memory. An alias of flash at 0 is listed as flash.
	Flash, RAM []Range
	// Boot are the addresses where the core finds the vector table at
	// reset: VTOR's reset value, and any alias of the same memory.
	Boot []uint64
	// Arch is the highest Tag_CPU_arch (ARM build attributes) the core
	// runs: 11 v6-M, 10 v7(-M), 13 v7E-M, 17 v8-M.main.
	Arch uint64
	// FPU: the core has a floating-point unit.
	FPU bool
	// XLEN is a RISC-V board's register width (32 or 64): its emulator is
	// qemu-system-riscv32 or -riscv64, and Arch, FPU and Boot mean
	// nothing. 0 for a Cortex-M board (qemu-system-arm).
	XLEN int
	// QEMUMachine is QEMU's -M when it is not Name (the two virt boards
	// are one machine of two emulators).
	QEMUMachine string
}

// RISCV reports whether the board is a RISC-V machine.
func (b *Board) RISCV() bool { return b.XLEN != 0 }

// qemuMachine is the board's -M.
func (b *Board) qemuMachine() string {
	if b.QEMUMachine != "" {
		return b.QEMUMachine
	}
	return b.Name
}

// qemuBinary is the emulator that runs the board, with the Debian package
// that installs it.
func (b *Board) qemuBinary() (bin, pkg string) {
	switch b.XLEN {
	case 32:
		return "qemu-system-riscv32", "qemu-system-misc"
	case 64:
		return "qemu-system-riscv64", "qemu-system-misc"
	}
	return "qemu-system-arm", "qemu-system-arm"
}

// Tag_CPU_arch values, in order of what each adds.
const (
	archV7   = 10
	archV6M  = 11
	archV6SM = 12
	archV7EM = 13
	archV8MB = 16
	archV8MM = 17
)

// archRank orders the M-profile architectures: a core of rank r runs code
// built for any rank <= r.
func archRank(a uint64) int {
	switch a {
	case archV6M, archV6SM:
		return 1
	case archV7:
		return 2
	case archV7EM:
		return 3
	case archV8MB:
		return 2 // v8-M baseline: v6-M plus a little; an M33 runs it
	case archV8MM:
		return 4
	}
	return 0
}

const (
	kib = 1 << 10
	mib = 1 << 20
)

// Boards are the machines stackscope knows, in the order it tries them
// when none is named: the roomiest of each core first.
var Boards = []Board{
	// MPS2 FPGA images: 4 MiB of SSRAM for code at 0, 4 MiB at 0x20000000
	// (SSRAM2/3) and 16 MiB of PSRAM at 0x21000000.
	{Name: "mps2-an385", CPU: "Cortex-M3", Flash: []Range{{0, 4 * mib}}, RAM: []Range{{0x20000000, 0x20400000}, {0x21000000, 0x22000000}}, Boot: []uint64{0}, Arch: archV7},
	{Name: "mps2-an386", CPU: "Cortex-M4F", Flash: []Range{{0, 4 * mib}}, RAM: []Range{{0x20000000, 0x20400000}, {0x21000000, 0x22000000}}, Boot: []uint64{0}, Arch: archV7EM, FPU: true},
	// AN505 (IoT kit, TrustZone): the core starts secure with VTOR at
	// 0x10000000, the secure alias of the 4 MiB code SSRAM; data in the
	// secure aliases of SSRAM2 and SSRAM3 (2 MiB each, contiguous).
	{Name: "mps2-an505", CPU: "Cortex-M33", Flash: []Range{{0x10000000, 0x10400000}}, RAM: []Range{{0x38000000, 0x38400000}}, Boot: []uint64{0x10000000}, Arch: archV8MM, FPU: true},
	// STM32F405: 1 MiB of flash at 0x08000000 (aliased at 0) and 128 KiB
	// of SRAM. QEMU 7.2 has no CCM RAM at 0x10000000 (its stub accepts a
	// write there and cannot read it back).
	{Name: "netduinoplus2", CPU: "Cortex-M4F", Flash: []Range{{0x08000000, 0x08100000}, {0, mib}}, RAM: []Range{{0x20000000, 0x20020000}}, Boot: []uint64{0, 0x08000000}, Arch: archV7EM, FPU: true},
	// Stellaris LM3S6965: 256 KiB of flash, 64 KiB of SRAM.
	{Name: "lm3s6965evb", CPU: "Cortex-M3", Flash: []Range{{0, 256 * kib}}, RAM: []Range{{0x20000000, 0x20010000}}, Boot: []uint64{0}, Arch: archV7},
	// nRF51822: 256 KiB of flash, 16 KiB of RAM.
	{Name: "microbit", CPU: "Cortex-M0", Flash: []Range{{0, 256 * kib}}, RAM: []Range{{0x20000000, 0x20004000}}, Boot: []uint64{0}, Arch: archV6M},
	// QEMU's RISC-V virt machine without firmware (-bios none): the
	// reset ROM jumps to the start of its 128 MiB of RAM at 0x80000000,
	// whatever the ELF's entry; the top 16 MiB (from 0x87000000) are
	// left out, because QEMU writes its device tree there.
	{Name: "riscv32-virt", QEMUMachine: "virt", CPU: "RV32 (virt)", RAM: []Range{{0x80000000, 0x87000000}}, Boot: []uint64{0x80000000}, XLEN: 32},
	{Name: "riscv64-virt", QEMUMachine: "virt", CPU: "RV64 (virt)", RAM: []Range{{0x80000000, 0x87000000}}, Boot: []uint64{0x80000000}, XLEN: 64},
}

// BoardNames lists the boards' names.
func BoardNames() []string {
	var out []string
	for _, b := range Boards {
		out = append(out, b.Name)
	}
	return out
}

// BoardByName finds a board; the error lists the known ones.
func BoardByName(name string) (*Board, error) {
	for i := range Boards {
		if Boards[i].Name == name {
			return &Boards[i], nil
		}
	}
	return nil, fmt.Errorf("unknown machine %q (stackscope knows %s)", name, strings.Join(BoardNames(), ", "))
}

// Image is what decides which boards can run a firmware: its load
// segments, its vector table's address, the main stack, and the CPU its
// build attributes ask for.
type Image struct {
	Segments []Segment
	// VectorTable is the vector table's address (where the core must
	// find it at reset).
	VectorTable uint64
	HasVectors  bool
	// Stack is the main stack [limit, top), when known.
	Stack *Range
	// Arch is Tag_CPU_arch (0 unknown); FP: the code uses the FPU.
	Arch uint64
	FP   bool
	// XLEN is 32 or 64 for a RISC-V image (its ELF class), 0 for ARM;
	// Entry is the ELF's entry point.
	XLEN  int
	Entry uint64
}

// Segment is one PT_LOAD: where its bytes are loaded (PAddr, FileSize)
// and where it lives when running (VAddr, MemSize).
type Segment struct {
	VAddr, PAddr      uint64
	FileSize, MemSize uint64
	Writable          bool
}

// ImageOf reads what Fits needs from an opened firmware.
func ImageOf(f *binfile.File) Image {
	var im Image
	for _, p := range f.ELF.Progs {
		if p.Type != elf.PT_LOAD || p.Memsz == 0 {
			continue
		}
		im.Segments = append(im.Segments, Segment{VAddr: p.Vaddr, PAddr: p.Paddr, FileSize: p.Filesz, MemSize: p.Memsz, Writable: p.Flags&elf.PF_W != 0})
	}
	if vt := f.VectorTable(); vt != nil {
		im.VectorTable, im.HasVectors = vt.Addr, true
	}
	im.Entry = f.ELF.Entry
	if f.ELF.Machine == elf.EM_RISCV {
		im.XLEN = 32
		if f.ELF.Class == elf.ELFCLASS64 {
			im.XLEN = 64
		}
		return im
	}
	im.Arch = f.ARMCPUArch()
	im.FP = f.UsesFloatingPoint()
	return im
}

// Fits says why the image cannot run on the board, "" when it can.
func (b *Board) Fits(im Image) string {
	if im.XLEN != 0 || b.RISCV() {
		return b.fitsRISCV(im)
	}
	if im.Arch != 0 && archRank(im.Arch) > archRank(b.Arch) {
		return fmt.Sprintf("built for %s, the %s runs %s", archName(im.Arch), b.CPU, archName(b.Arch))
	}
	if im.FP && !b.FPU {
		return "the image uses the FPU, the " + b.CPU + " has none"
	}
	if im.HasVectors && !slices.Contains(b.Boot, im.VectorTable) {
		return fmt.Sprintf("vector table at %#x, the core reads it at %#x", im.VectorTable, b.Boot[0])
	}
	return b.fitsMemory(im)
}

// fitsRISCV: a RISC-V image of the board's XLEN, entered where the core
// starts, in the board's memory.
func (b *Board) fitsRISCV(im Image) string {
	switch {
	case !b.RISCV():
		return "a RISC-V image, the " + b.CPU + " runs Arm code"
	case im.XLEN == 0:
		return "an Arm image, the virt board runs RISC-V"
	case im.XLEN != b.XLEN:
		return fmt.Sprintf("an RV%d image, the board runs RV%d", im.XLEN, b.XLEN)
	}
	if why := b.fitsMemory(im); why != "" {
		return why
	}
	if !slices.Contains(b.Boot, im.Entry) {
		return fmt.Sprintf("entry point %#x, the core starts at %#x (QEMU's reset code without firmware jumps there)", im.Entry, b.Boot[0])
	}
	return ""
}

// isaMismatch says why the board cannot execute the image's instructions
// at all (a RISC-V image on an Arm board, RV64 code on RV32 and back),
// which --machine cannot override; "" when it can.
func (b *Board) isaMismatch(im Image) string {
	if im.XLEN == 0 && !b.RISCV() {
		return ""
	}
	return b.fitsRISCV(Image{XLEN: im.XLEN, Entry: b.Boot[0]})
}

// fitsMemory: every segment is loaded into memory the board has, and
// lives (and the main stack lies) where it can be written.
func (b *Board) fitsMemory(im Image) string {
	all := append(append([]Range{}, b.Flash...), b.RAM...)
	in := func(rs []Range, start, end uint64) bool {
		for _, r := range rs {
			if r.holds(start, end) {
				return true
			}
		}
		return false
	}
	for _, s := range im.Segments {
		if s.FileSize > 0 && !in(all, s.PAddr, s.PAddr+s.FileSize) {
			return fmt.Sprintf("segment loaded at %#x-%#x is outside its memory", s.PAddr, s.PAddr+s.FileSize)
		}
		mem := all
		if s.Writable {
			mem = b.RAM
		}
		if !in(mem, s.VAddr, s.VAddr+s.MemSize) {
			what := "memory"
			if s.Writable {
				what = "RAM"
			}
			return fmt.Sprintf("segment at %#x-%#x is outside its %s", s.VAddr, s.VAddr+s.MemSize, what)
		}
	}
	if im.Stack != nil && !in(b.RAM, im.Stack.Start, im.Stack.End) {
		return fmt.Sprintf("main stack %#x-%#x is outside its RAM", im.Stack.Start, im.Stack.End)
	}
	return ""
}

// PickBoard returns the first board the image fits, or an error that
// lists every board with why it does not.
func PickBoard(im Image) (*Board, error) {
	var why []string
	for i := range Boards {
		b := &Boards[i]
		if b.RISCV() != (im.XLEN != 0) {
			continue // the other architecture's boards: no reason worth listing
		}
		reason := b.Fits(im)
		if reason == "" {
			return b, nil
		}
		why = append(why, b.Name+": "+reason)
	}
	return nil, fmt.Errorf("fits no board stackscope knows (give --machine NAME to try one anyway): %s", strings.Join(why, "; "))
}

func archName(a uint64) string {
	switch a {
	case archV6M, archV6SM:
		return "ARMv6-M"
	case archV7:
		return "ARMv7-M"
	case archV7EM:
		return "ARMv7E-M"
	case archV8MB:
		return "ARMv8-M baseline"
	case archV8MM:
		return "ARMv8-M mainline"
	}
	return fmt.Sprintf("CPU architecture %d", a)
}
