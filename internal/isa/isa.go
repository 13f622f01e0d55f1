// Package isa defines what the stack analysis needs to know about one machine
// instruction, independent of the instruction set: its length, how it moves the
// stack pointer, and where control goes next. One decoder per instruction set
// (isa/x86, isa/thumb) implements Decoder.
package isa

import "fmt"

// Flow says where control goes after an instruction.
type Flow uint8

const (
	// FlowNext: control falls through to the next instruction.
	FlowNext Flow = iota
	// FlowJump: unconditional branch to Target (inside the function, or a
	// tail call when Target is another function's entry).
	FlowJump
	// FlowCondJump: either Target or the next instruction.
	FlowCondJump
	// FlowCall: a direct call to Target; control returns to the next instruction.
	FlowCall
	// FlowIndirectCall: a call through a register or memory; returns to the next instruction.
	FlowIndirectCall
	// FlowIndirectJump: a jump through a register or memory: a jump table
	// inside the function (JumpTable set when the decoder knows it is one, as
	// for Thumb tbb/tbh) or an indirect tail call.
	FlowIndirectJump
	// FlowReturn: return to the caller.
	FlowReturn
	// FlowStop: no successor (trap, halt, undefined instruction by intent).
	FlowStop
)

var flowNames = [...]string{"next", "jump", "condjump", "call", "indirect-call", "indirect-jump", "return", "stop"}

func (f Flow) String() string {
	if int(f) < len(flowNames) {
		return flowNames[f]
	}
	return fmt.Sprintf("flow(%d)", f)
}

// SPEffect says how an instruction changes the stack pointer.
type SPEffect uint8

const (
	// SPNone: SP unchanged.
	SPNone SPEffect = iota
	// SPAdd: SP += SPDelta (negative grows the stack on a descending stack).
	SPAdd
	// SPAlign: SP &= -SPAlignment (dynamic realignment; may grow the stack by
	// up to SPAlignment-1 bytes).
	SPAlign
	// SPFromFP: SP = FP + SPDelta, where FP is the frame pointer set earlier
	// by an instruction with SetsFP (mov rsp,rbp; mov sp,r7; sub sp,r7,#n).
	// With HasSPReg, SP = FP + SPReg (FP - SPReg with SPRegSub), SPDelta 0:
	// RISC-V add sp,s0,t0 after t0 is built from constants.
	// x86 leave is SPFromFP with SPDelta 8 (the pop of rbp) and ClobbersFP.
	SPFromFP
	// SPDynamic: SP moved by an amount known only at run time (alloca, VLA,
	// sub rsp,reg).
	SPDynamic
	// SPUnknown: SP written in a way the decoder does not model.
	SPUnknown
)

var spNames = [...]string{"none", "add", "align", "from-fp", "dynamic", "unknown"}

func (s SPEffect) String() string {
	if int(s) < len(spNames) {
		return spNames[s]
	}
	return fmt.Sprintf("sp(%d)", s)
}

// Base names the register a stack memory access is relative to.
type Base uint8

const (
	BaseNone Base = iota
	BaseSP
	BaseFP
)

// Effect is everything the stack analysis learns from one instruction.
type Effect struct {
	// (Fields are ordered by size, the 8-byte ones first: the walk keeps
	// an Effect per instruction, and padding between small and large
	// fields once made up a third of the struct.)

	// Len is the instruction's length in bytes (never 0 on success).
	Len    int
	Target uint64
	// CondNext makes the next CondNext instructions conditional (Thumb IT):
	// a branch or return among them also falls through.
	CondNext      int
	SPDelta       int64
	SPAlignment   int64
	FPOffset      int64
	FPDelta       int64
	AccessOff     int64
	AccessSize    int64
	SPLimitOffset int64
	// Slot is the address of the memory word an indirect call or jump reads
	// its target from, when that address is fixed (call [rip+X] through the
	// GOT with -fno-plt, jmp [rip+X] in a PLT stub, ldr pc,[pc,#X]).
	Slot uint64
	// Ref is an address the instruction computes or loads as a constant
	// (lea reg,[rip+X]; a literal-pool load; movw/movt): a hint that the
	// function at that address may be called indirectly.
	Ref      uint64
	DefValue int64
	MemDisp  int64
	// Literal is the address of the memory a PC-relative load reads (a
	// literal-pool word: ldr rX,[pc,#n], and the byte, halfword, dual and
	// floating-point forms), LiteralSize the number of bytes it reads (0:
	// not a PC-relative load). A decoder that is given only the function's
	// bytes cannot read a literal past them; the walk then decodes again
	// with the bytes that follow (see frame.Input.Tail). It also tells
	// which instructions read a literal-pool word: a word that only
	// constant branches read holds no escaping function pointer.
	Literal     uint64
	LiteralSize uint8
	// Flow and Target describe control flow. Target is valid when HasTarget.
	Flow      Flow
	HasTarget bool
	// JumpTable is set on a FlowIndirectJump that is certainly a jump table
	// inside the function (Thumb tbb/tbh, ARM ldr pc,[pc,rN,lsl #2] tables).
	JumpTable bool
	// SP is the effect on the stack pointer; SPDelta and SPAlignment qualify it.
	// A push is SPAdd with a negative SPDelta and no Access: the new SP covers
	// the bytes it writes.
	SP SPEffect
	// SetsFP: after this instruction FP = SP + FPOffset (SP taken after the
	// instruction's own SP effect). mov rbp,rsp; add r7,sp,#n; mov r7,sp.
	SetsFP bool
	// AdjustsFP: FP += FPDelta, keeping it SP-derived (Thumb -O0 epilogues
	// do `adds r7, #n; mov sp, r7`).
	AdjustsFP bool
	// ClobbersFP: the frame-pointer register is written with something that is
	// not SP-derived; a later SPFromFP is then unknown.
	ClobbersFP bool
	// Access describes a memory access relative to SP or FP (Base != BaseNone):
	// bytes [reg+AccessOff, reg+AccessOff+AccessSize) are read or written. It
	// lets the analysis see data kept below SP (the x86-64 red zone).
	Access Base
	// SavesSPLimit: a register other than FP is set to SP + SPLimitOffset.
	// GCC's stack-clash probe loop (lea r11,[rsp-N]; loop: sub rsp,4096;
	// or [rsp],0; cmp rsp,r11; jne loop) moves SP down to exactly that value,
	// so the frame analysis bounds such a loop by it.
	SavesSPLimit bool
	// SPLimitReg, when HasSPLimitReg, qualifies SavesSPLimit: the offset
	// is minus the value of register SPLimitReg, not SPLimitOffset
	// (AArch64: mov x12, #N; sub x12, sp, x12 before a probe loop). The
	// walk takes the limit only when it proves the register's constant.
	SPLimitReg    int8
	HasSPLimitReg bool
	HasSlot       bool
	HasRef        bool
	// Nop marks an instruction that does nothing (nop, its multi-byte
	// forms): alignment padding between blocks, which the walk over code
	// that only a jump table reaches must not take for a block's start.
	Nop bool
	// UsesFP is set on any instruction using the FP register as an operand in
	// any way; used only for diagnostics.
	UsesFP bool
	// Def describes the general-purpose register the instruction writes,
	// for the forms a decoder models (a small constant propagation over the
	// instructions before a call uses it to find argument values). DefKind
	// DefNone, the zero value, means "not known": the instruction may or may
	// not write a register. Otherwise DefReg is the register written, by its
	// architectural number (x86-64: the encoding order rax=0, rcx=1, rdx=2,
	// rbx=3, rsp=4, rbp=5, rsi=6, rdi=7, r8..r15 = 8..15; Thumb: r0..r15,
	// sp=13, lr=14, pc=15), and DefKind says what it now holds:
	//   - DefConst: the constant DefValue (x86: mov r,imm; xor r,r; Thumb:
	//     movs/mov/movw #imm, a literal-pool load of DefValue).
	//   - DefAddr: the address DefValue (x86: lea r,[rip+X]; Thumb: adr).
	//   - DefCopy: the value of register DefSrc; with DefValue 32 only its
	//     low 32 bits, zero-extended (x86 mov r32,r32).
	//   - DefAddImm: register DefSrc plus DefValue (x86: lea r,[base+d],
	//     add/sub r,imm; Thumb: add/sub rX,rY,#imm, add rX,sp,#imm).
	//   - DefHigh16: the register keeps its low 16 bits and its high 16
	//     bits become DefValue (Thumb movt).
	//   - DefOther: written with a value the decoder does not model.
	//   - DefShl: register DefSrc shifted left by DefValue bits (Thumb
	//     lsls #imm: ARMv6-M builds constants over 255 that way; x86 shl).
	//   - DefAddIndex: register DefSrc plus register DefIndex shifted
	//     left by DefValue bits (Thumb add rX,rY,rZ and add.w rX,rY,rZ,lsl
	//     #n: an element of a table of structs).
	// DefAlso lists the registers written besides DefReg (bit n for
	// register n): the Thumb decoder sets it for ldm/pop lists, ldrd's
	// second register, a base register's writeback and the long
	// multiplies, so that with DefReg it names every register a Thumb
	// instruction writes. The x86 decoder does not (mul's rdx is not
	// described).
	DefKind  DefKind
	DefReg   int8
	DefSrc   int8
	DefIndex int8
	DefAlso  uint32
	// Mem describes a memory operand, [MemBase + MemIndex*scale + MemDisp]
	// (registers by number as for DefReg, -1 for none; a PC-relative operand
	// has MemBase -1 and its absolute address in MemDisp). HasMem is set for
	// a pointer-sized load into a register (DefKind DefLoad) and for an
	// indirect call or jump through memory: the instructions before an
	// indirect call then show where its target was read from (a vtable
	// slot, a member of a typed table).
	HasMem   bool
	MemBase  int8
	MemIndex int8
	MemScale uint8 // the index's scale (1, 2, 4, 8) when MemIndex >= 0
	// CallReg is the register an indirect call or jump goes through
	// (HasCallReg): call rax, blx r3.
	CallReg    int8
	HasCallReg bool
	// SysReg names the Cortex-M stack-pointer register an msr writes (msr
	// msp/psp/control, rX), from register SysSrc. Such an instruction keeps
	// SP SPUnknown, so that code that does not know the M-profile stack
	// model stays sound; the frame walk resolves it (see frame.Analyze):
	// which stack it moves depends on the processor's mode.
	SysReg SysReg
	SysSrc int8
	// SPReg is, on an SPDynamic instruction that adds a register to SP
	// (HasSPReg: Thumb add sp, rX and add.w/sub.w sp, sp, rX), that
	// register; SPRegSub says it is subtracted. ARMv6-M allocates frames
	// over 508 bytes with ldr rX, =-N; add sp, rX: the walk takes SP's
	// move from the constant the code before it puts in the register,
	// when that is proved (see CompleteDefs), and keeps SPDynamic
	// otherwise.
	SPReg    int8
	HasSPReg bool
	SPRegSub bool
	// LdmList is, on a load of several registers from consecutive words
	// (Thumb ldm/ldmdb; HasLdm), the registers loaded (bit n for rn),
	// from the words at LdmBase's value (LdmDown: the words just below
	// it), lowest register from the lowest address; with writeback the
	// base then moves past them (DefAlso names it). A slice back from a
	// register loaded this way sees the word it came from: FreeRTOS's
	// ARM_CM0 and ARM_CM33 ports restore a task's EXC_RETURN with
	// ldmia r0!, {r2} before bx r2.
	LdmList uint16
	LdmBase int8
	HasLdm  bool
	LdmDown bool
	// Cond is a conditional branch's condition (FlowCondJump), when the
	// decoder knows it (Thumb b<cond>; not cbz/cbnz, not x86-64): which
	// flags the branch is taken on, for the few places that need to know
	// what a compare before it proves (the bounds check before a jump
	// table: frame's case helpers).
	Cond Cond
	// Cmp: the instruction sets the flags as `cmp CmpReg, x`, x being
	// register CmpRm, or the constant CmpImm when CmpRm is -1 (Thumb cmp,
	// 16- and 32-bit, unshifted; the x86-64 decoder does not set it).
	Cmp    bool
	CmpReg int8
	CmpRm  int8
	CmpImm uint32
	// HasStore: the instruction stores the whole of general-purpose
	// register StoreSrc to memory: a push of it (to the word at the new
	// SP), or a pointer-sized store to its memory operand (Access says
	// where when that is SP- or FP-relative). x86-64 push r64 and mov
	// [m], r64; the Thumb decoder does not set it. The walk follows the
	// words that hold a copy of SP (GCC's DRAP register pushed and
	// reloaded) and the return address a retpoline thunk overwrites.
	HasStore bool
	StoreSrc int8
	// AltLink: a call (FlowCall, FlowIndirectCall) that leaves its return
	// address in a register other than the link register. RISC-V's
	// -msave-restore prologues call libgcc's __riscv_save_N with jal t0:
	// the routine moves the caller's SP before it returns, so the walk
	// must know what it does (frame.Input.Millicode) or give up.
	AltLink bool
}

// RegWriter is implemented by a Decoder that can name, for one
// instruction, every general-purpose register it may write (bit n for
// register n; a superset: an instruction it does not know gives all
// ones). The frame walk uses it while a register holds a copy of SP: the
// copy is dropped at any instruction that may write the register, so a
// later SP restored from it is a proof. (The x86-64 decoder's Def fields
// do not describe every write; this does, at x86asm's cost, and is only
// asked while such a copy is live.)
type RegWriter interface {
	MayWrite(code []byte, pc uint64) uint32
}

// MemWriter is implemented by a Decoder that can say whether one
// instruction may write the memory operand its Effect's Access describes
// (a superset: true when it does not know). Effect.Access does not tell a
// load of a byte or a compare from a store; the frame walk asks this
// only where an access reaches a stack word it follows (a saved copy of
// SP), which a read leaves as it is.
type MemWriter interface {
	MayWriteMemory(code []byte, pc uint64) bool
}

// Cond is an ARM condition code plus one: CondNone, the zero value, is a
// condition the decoder does not describe.
type Cond uint8

const (
	CondNone Cond = iota
	CondEQ
	CondNE
	CondCS // unsigned >= (HS)
	CondCC // unsigned < (LO)
	CondMI
	CondPL
	CondVS
	CondVC
	CondHI // unsigned >
	CondLS // unsigned <=
	CondGE
	CondLT
	CondGT
	CondLE
)

var condNames = [...]string{"", "eq", "ne", "cs", "cc", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le"}

func (c Cond) String() string {
	if int(c) < len(condNames) {
		return condNames[c]
	}
	return fmt.Sprintf("cond(%d)", c)
}

// CompleteDefs is implemented by a Decoder whose Effects name every
// general-purpose register each instruction writes (DefReg, DefAlso) and
// say DefNone only for an instruction that writes none. A slice back from
// an instruction over such code may skip the instructions that do not
// write the register it follows: its value is then proved, not guessed.
// (The Thumb decoder does; the x86-64 one does not describe every write.)
type CompleteDefs interface {
	CompleteDefs() bool
}

// SysReg is a special register an msr writes that can move the stack.
type SysReg uint8

const (
	SysNone SysReg = iota
	// SysMSP: the main stack pointer (the running SP in handler mode, and
	// in thread mode while CONTROL.SPSEL is 0).
	SysMSP
	// SysPSP: the process stack pointer (the running SP only in thread
	// mode with CONTROL.SPSEL 1).
	SysPSP
	// SysControl: CONTROL, whose SPSEL bit selects PSP in thread mode.
	SysControl
)

var sysNames = [...]string{"none", "msp", "psp", "control"}

func (r SysReg) String() string {
	if int(r) < len(sysNames) {
		return sysNames[r]
	}
	return fmt.Sprintf("sysreg(%d)", r)
}

// DefKind says what an instruction wrote into Effect.DefReg.
type DefKind uint8

const (
	DefNone DefKind = iota
	DefConst
	DefAddr
	DefCopy
	DefAddImm
	DefHigh16
	DefOther
	DefShl
	// DefLoad: a pointer-sized word read from memory at Mem (x86 mov r64,[m];
	// Thumb ldr rX,[rY,#imm]).
	DefLoad
	DefAddIndex
	// DefInsert16: the register keeps every bit but the 16 at bit
	// DefIndex (0, 16, 32 or 48), which become those of DefValue (given
	// already shifted): AArch64 movk.
	DefInsert16
)

var defNames = [...]string{"none", "const", "addr", "copy", "add-imm", "high16", "other", "shl", "load", "add-index", "insert16"}

func (k DefKind) String() string {
	if int(k) < len(defNames) {
		return defNames[k]
	}
	return fmt.Sprintf("def(%d)", k)
}

// Decoder decodes one instruction at pc from code (code[0] is the byte at pc).
// It never panics; an undecodable instruction is an error (the frame that
// contains it is then unknown).
type Decoder interface {
	Decode(code []byte, pc uint64) (Effect, error)
	// ReturnAddressSize is the number of bytes a call pushes (8 on x86-64,
	// 0 on ARM where the return address goes to LR).
	ReturnAddressSize() int64
	// Name is the architecture name used in reports ("x86-64", "thumb").
	Name() string
}

// IntoDecoder is a Decoder that can write the Effect where the caller
// keeps it: an Effect is about two hundred bytes, and returning it by
// value, then copying it into a table, was a twentieth of analysing a
// large program (DecodeInto).
type IntoDecoder interface {
	// DecodeInto is Decode writing its Effect to *eff (all of it: what
	// was there before does not matter).
	DecodeInto(code []byte, pc uint64, eff *Effect) error
}

// IntoFunc is an IntoDecoder's DecodeInto as a function value.
type IntoFunc func(code []byte, pc uint64, eff *Effect) error

// IntoFuncDecoder is an IntoDecoder that gives its DecodeInto as a
// function: the frame walk calls it at every instruction it decodes,
// and through an interface holding a value (x86.Decoder{}) every call
// went through the generated pointer wrapper, a call level of its own
// (about 13 machine instructions per decoded instruction on node).
type IntoFuncDecoder interface {
	IntoDecoder
	// IntoFunc returns a function that does what DecodeInto does.
	IntoFunc() IntoFunc
}

// SweepDecoder is a Decoder with a cheaper decode for a linear sweep of
// a whole program's code, which reads each instruction's length, flow,
// targets, slot and fixed reference, and not what it does to registers:
// filling in the registers' description was a third of the decoding
// in such sweeps (issue 19).
type SweepDecoder interface {
	// DecodeSweep is DecodeInto (the same error, and the same Effect)
	// except that the description of the registers and memory operands
	// (DefKind, DefReg, DefSrc, DefIndex, DefAlso, DefValue, HasStore,
	// StoreSrc, HasMem, MemBase, MemIndex, MemScale, MemDisp, CallReg,
	// HasCallReg) and Nop may be left unset.
	DecodeSweep(code []byte, pc uint64, eff *Effect) error
}

// DecodeSweep decodes with d's DecodeSweep when it has one, else with
// DecodeInto (see SweepDecoder for the fields it may leave unset).
func DecodeSweep(d Decoder, code []byte, pc uint64, eff *Effect) error {
	if sd, ok := d.(SweepDecoder); ok {
		return sd.DecodeSweep(code, pc, eff)
	}
	return DecodeInto(d, code, pc, eff)
}

// DecodeInto decodes with d into *eff: the same Effect and error as
// d.Decode, without a copy when d is an IntoDecoder.
func DecodeInto(d Decoder, code []byte, pc uint64, eff *Effect) error {
	if id, ok := d.(IntoDecoder); ok {
		return id.DecodeInto(code, pc, eff)
	}
	e, err := d.Decode(code, pc)
	*eff = e
	return err
}

// DecodeError reports an instruction that could not be decoded.
type DecodeError struct {
	PC     uint64
	Reason string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("cannot decode instruction at %#x: %s", e.PC, e.Reason)
}
