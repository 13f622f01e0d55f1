package x86

import (
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/testutil"
)

const testPC = 0x401000

// decodeCase is one encoding and the effect Decode must report for it at
// testPC. asm is the AT&T source GNU as turns into exactly hex (checked by
// TestDecodeCasesAssemble); it is empty for byte sequences that are not
// meant to be assembled (padding, trailing junk, invalid encodings).
type decodeCase struct {
	asm  string
	hex  string
	want isa.Effect
}

var decodeCases = []decodeCase{
	// ---- push / pop ----
	{"push %rbp", "55", isa.Effect{Len: 1, SP: isa.SPAdd, SPDelta: -8, UsesFP: true, HasStore: true, StoreSrc: 5}},
	{"push %rbx", "53", isa.Effect{Len: 1, SP: isa.SPAdd, SPDelta: -8, HasStore: true, StoreSrc: 3}},
	{"push %r15", "4157", isa.Effect{Len: 2, SP: isa.SPAdd, SPDelta: -8, HasStore: true, StoreSrc: 15}},
	{"push %ax", "6650", isa.Effect{Len: 2, SP: isa.SPAdd, SPDelta: -2}},
	{"push $0x7f", "6a7f", isa.Effect{Len: 2, SP: isa.SPAdd, SPDelta: -8}},
	{"push $0x1000", "6800100000", isa.Effect{Len: 5, SP: isa.SPAdd, SPDelta: -8}},
	{"pushw $0x1000", "66680010", isa.Effect{Len: 4, SP: isa.SPAdd, SPDelta: -2}},
	{"pushq (%rax)", "ff30", isa.Effect{Len: 2, SP: isa.SPAdd, SPDelta: -8}},
	{"pushq 0x8(%rsp)", "ff742408", isa.Effect{Len: 4, SP: isa.SPAdd, SPDelta: -8, Access: isa.BaseSP, AccessOff: 8, AccessSize: 8}},
	{"pushq -0x10(%rbp)", "ff75f0", isa.Effect{Len: 3, SP: isa.SPAdd, SPDelta: -8, Access: isa.BaseFP, AccessOff: -16, AccessSize: 8, UsesFP: true}},
	{"pushw 0x8(%rsp)", "66ff742408", isa.Effect{Len: 5, SP: isa.SPAdd, SPDelta: -2, Access: isa.BaseSP, AccessOff: 8, AccessSize: 2}},
	{"push %fs", "0fa0", isa.Effect{Len: 2, SP: isa.SPAdd, SPDelta: -8}},
	{"pushfq", "9c", isa.Effect{Len: 1, SP: isa.SPAdd, SPDelta: -8}},
	{"pushfw", "669c", isa.Effect{Len: 2, SP: isa.SPAdd, SPDelta: -2}},
	{"popfq", "9d", isa.Effect{Len: 1, SP: isa.SPAdd, SPDelta: 8}},
	{"popfw", "669d", isa.Effect{Len: 2, SP: isa.SPAdd, SPDelta: 2}},
	{"push %rsp", "54", isa.Effect{Len: 1, SP: isa.SPAdd, SPDelta: -8, HasStore: true, StoreSrc: 4}},
	{"pop %rbx", "5b", isa.Effect{Len: 1, SP: isa.SPAdd, SPDelta: 8}},
	{"pop %r12", "415c", isa.Effect{Len: 2, SP: isa.SPAdd, SPDelta: 8}},
	{"pop %ax", "6658", isa.Effect{Len: 2, SP: isa.SPAdd, SPDelta: 2}},
	{"pop %rbp", "5d", isa.Effect{Len: 1, SP: isa.SPAdd, SPDelta: 8, ClobbersFP: true, UsesFP: true}},
	{"pop %bp", "665d", isa.Effect{Len: 2, SP: isa.SPAdd, SPDelta: 2, ClobbersFP: true, UsesFP: true}},
	{"popq (%rax)", "8f00", isa.Effect{Len: 2, SP: isa.SPAdd, SPDelta: 8}},
	// pop [rsp+d] addresses memory after the increment: d+8 from the old rsp.
	{"popq 0x8(%rsp)", "8f442408", isa.Effect{Len: 4, SP: isa.SPAdd, SPDelta: 8, Access: isa.BaseSP, AccessOff: 16, AccessSize: 8}},
	{"pop %rsp", "5c", isa.Effect{Len: 1, SP: isa.SPUnknown}},
	{"", "66485b", isa.Effect{Len: 3, SP: isa.SPAdd, SPDelta: 8}}, // 66 REX.W pop rbx: REX.W wins

	// ---- arithmetic on rsp ----
	{"sub $0x18,%rsp", "4883ec18", isa.Effect{Len: 4, SP: isa.SPAdd, SPDelta: -0x18}},
	{"add $0x18,%rsp", "4883c418", isa.Effect{Len: 4, SP: isa.SPAdd, SPDelta: 0x18}},
	{"sub $0x19000,%rsp", "4881ec00900100", isa.Effect{Len: 7, SP: isa.SPAdd, SPDelta: -0x19000}},
	{"add $-0x80,%rsp", "4883c480", isa.Effect{Len: 4, SP: isa.SPAdd, SPDelta: -0x80}},
	{"sub $-0x80,%rsp", "4883ec80", isa.Effect{Len: 4, SP: isa.SPAdd, SPDelta: 0x80}},
	{"sub %rax,%rsp", "4829c4", isa.Effect{Len: 3, SP: isa.SPDynamic}},
	{"add %rdx,%rsp", "4801d4", isa.Effect{Len: 3, SP: isa.SPDynamic}},
	{"sub 0x8(%rbp),%rsp", "482b6508", isa.Effect{Len: 4, SP: isa.SPDynamic, Access: isa.BaseFP, AccessOff: 8, AccessSize: 8, UsesFP: true}},
	{"and $-0x10,%rsp", "4883e4f0", isa.Effect{Len: 4, SP: isa.SPAlign, SPAlignment: 16}},
	{"and $-0x40,%rsp", "4883e4c0", isa.Effect{Len: 4, SP: isa.SPAlign, SPAlignment: 64}},
	{"and $-0x1000,%rsp", "4881e400f0ffff", isa.Effect{Len: 7, SP: isa.SPAlign, SPAlignment: 4096}},
	{"and $0x7,%rsp", "4883e407", isa.Effect{Len: 4, SP: isa.SPUnknown}},
	{"and $-0x18,%rsp", "4883e4e8", isa.Effect{Len: 4, SP: isa.SPUnknown}},
	{"sub $0x8,%esp", "83ec08", isa.Effect{Len: 3, SP: isa.SPUnknown}},
	{"sub $0x8,%sp", "6683ec08", isa.Effect{Len: 4, SP: isa.SPUnknown}},
	{"lea 0x8(%rsp),%rsp", "488d642408", isa.Effect{Len: 5, SP: isa.SPAdd, SPDelta: 8}},
	{"lea -0x28(%rsp),%rsp", "488d6424d8", isa.Effect{Len: 5, SP: isa.SPAdd, SPDelta: -0x28}},
	{"lea -0x10(%rbp),%rsp", "488d65f0", isa.Effect{Len: 4, SP: isa.SPFromFP, SPDelta: -0x10, UsesFP: true}},
	{"lea (%rsp,%rax,1),%rsp", "488d2404", isa.Effect{Len: 4, SP: isa.SPDynamic}},
	{"lea 0x8(%rax),%rsp", "488d6008", isa.Effect{Len: 4, SP: isa.SPUnknown}},
	{"mov %rbp,%rsp", "4889ec", isa.Effect{Len: 3, SP: isa.SPFromFP, UsesFP: true}},
	{"", "488be5", isa.Effect{Len: 3, SP: isa.SPFromFP, UsesFP: true}}, // mov rsp,rbp (8B form)
	{"mov %rax,%rsp", "4889c4", isa.Effect{Len: 3, SP: isa.SPUnknown}},
	{"mov %ebp,%esp", "89ec", isa.Effect{Len: 2, SP: isa.SPUnknown, UsesFP: true}},
	{"mov 0x8(%rsp),%rsp", "488b642408", isa.Effect{Len: 5, SP: isa.SPUnknown, Access: isa.BaseSP, AccessOff: 8, AccessSize: 8}},
	{"xchg %rax,%rsp", "4894", isa.Effect{Len: 2, SP: isa.SPUnknown}},
	{"xchg %rsp,%rbx", "4887e3", isa.Effect{Len: 3, SP: isa.SPUnknown}},
	{"cmovne %rax,%rsp", "480f45e0", isa.Effect{Len: 4, SP: isa.SPUnknown}},
	{"xor %rsp,%rsp", "4831e4", isa.Effect{Len: 3, SP: isa.SPUnknown}},
	{"adcx %rax,%rsp", "66480f38f6e0", isa.Effect{Len: 6, SP: isa.SPUnknown}},
	{"rdrand %rsp", "480fc7f4", isa.Effect{Len: 4, SP: isa.SPUnknown}},
	// Instructions that read rsp only.
	{"cmp %r11,%rsp", "4c39dc", isa.Effect{Len: 3}},
	{"test %rsp,%rsp", "4885e4", isa.Effect{Len: 3}},
	{"mov %rsp,%rdi", "4889e7", isa.Effect{Len: 3}},
	{"mov %rsp,(%rax)", "488920", isa.Effect{Len: 3, HasStore: true, StoreSrc: 4}},
	{"bt $0x3,%rsp", "480fbae403", isa.Effect{Len: 5}},

	// ---- enter / leave ----
	{"leave", "c9", isa.Effect{Len: 1, SP: isa.SPFromFP, SPDelta: 8, ClobbersFP: true, UsesFP: true}},
	{"leavew", "66c9", isa.Effect{Len: 2, SP: isa.SPUnknown, ClobbersFP: true, UsesFP: true}},
	{"enter $0x20,$0x0", "c8200000", isa.Effect{Len: 4, SP: isa.SPAdd, SPDelta: -(8 + 0x20), SetsFP: true, FPOffset: 0x20, UsesFP: true}},
	{"enter $0x0,$0x0", "c8000000", isa.Effect{Len: 4, SP: isa.SPAdd, SPDelta: -8, SetsFP: true, FPOffset: 0, UsesFP: true}},
	// Level 1: push rbp, push the new frame pointer, then reserve 0x10.
	{"enter $0x10,$0x1", "c8100001", isa.Effect{Len: 4, SP: isa.SPAdd, SPDelta: -(16 + 0x10), SetsFP: true, FPOffset: 0x18, UsesFP: true}},

	// ---- frame pointer ----
	{"mov %rsp,%rbp", "4889e5", isa.Effect{Len: 3, SetsFP: true, UsesFP: true}},
	{"", "488bec", isa.Effect{Len: 3, SetsFP: true, UsesFP: true}}, // mov rbp,rsp (8B form)
	{"lea 0x10(%rsp),%rbp", "488d6c2410", isa.Effect{Len: 5, SetsFP: true, FPOffset: 0x10, UsesFP: true}},
	{"lea -0x8(%rsp),%rbp", "488d6c24f8", isa.Effect{Len: 5, SetsFP: true, FPOffset: -8, UsesFP: true}},
	{"mov %rax,%rbp", "4889c5", isa.Effect{Len: 3, ClobbersFP: true, UsesFP: true}},
	{"xor %ebp,%ebp", "31ed", isa.Effect{Len: 2, ClobbersFP: true, UsesFP: true}},
	{"mov %esp,%ebp", "89e5", isa.Effect{Len: 2, ClobbersFP: true, UsesFP: true}},
	{"add $0x8,%rbp", "4883c508", isa.Effect{Len: 4, ClobbersFP: true, UsesFP: true}},
	{"mov 0x8(%rsp),%rbp", "488b6c2408", isa.Effect{Len: 5, ClobbersFP: true, UsesFP: true, Access: isa.BaseSP, AccessOff: 8, AccessSize: 8}},
	{"lea 0x8(%rax),%rbp", "488d6808", isa.Effect{Len: 4, ClobbersFP: true, UsesFP: true}},
	{"xchg %rax,%rbp", "4895", isa.Effect{Len: 2, ClobbersFP: true, UsesFP: true}},
	{"xchg %rbp,%rsp", "4887ec", isa.Effect{Len: 3, SP: isa.SPUnknown, ClobbersFP: true, UsesFP: true}},
	{"mulx %rax,%rbp,%rcx", "c4e2d3f6c8", isa.Effect{Len: 5, ClobbersFP: true, UsesFP: true}},
	{"mov %rbp,%rax", "4889e8", isa.Effect{Len: 3, UsesFP: true}},
	{"cmp %rbp,%rax", "4839e8", isa.Effect{Len: 3, UsesFP: true}},
	{"lea -0x20(%rbp),%rax", "488d45e0", isa.Effect{Len: 4, UsesFP: true}},
	{"mov (%rax,%rbp,8),%rcx", "488b0ce8", isa.Effect{Len: 4, UsesFP: true}},

	// ---- stack-clash probe limit ----
	{"lea -0x19000(%rsp),%r11", "4c8d9c240070feff", isa.Effect{Len: 8, SavesSPLimit: true, SPLimitOffset: -0x19000}},
	{"lea -0x300000(%rsp),%rax", "488d84240000d0ff", isa.Effect{Len: 8, SavesSPLimit: true, SPLimitOffset: -0x300000}},
	{"lea 0x10(%rsp),%rdi", "488d7c2410", isa.Effect{Len: 5}},
	{"lea -0x1000(%rsp),%r11d", "448d9c2400f0ffff", isa.Effect{Len: 8}},
	{"orq $0x0,(%rsp)", "48830c2400", isa.Effect{Len: 5, Access: isa.BaseSP, AccessSize: 8}},

	// ---- stack memory accesses ----
	{"mov %edi,-0x14(%rbp)", "897dec", isa.Effect{Len: 3, Access: isa.BaseFP, AccessOff: -0x14, AccessSize: 4, UsesFP: true}},
	{"movzbl -0x8(%rsp),%eax", "0fb64424f8", isa.Effect{Len: 5, Access: isa.BaseSP, AccessOff: -8, AccessSize: 1}},
	{"mov %rax,-0x19084(%rbp)", "4889857c6ffeff", isa.Effect{Len: 7, Access: isa.BaseFP, AccessOff: -0x19084, AccessSize: 8, UsesFP: true, HasStore: true, StoreSrc: 0}},
	{"movaps %xmm0,-0x28(%rsp)", "0f294424d8", isa.Effect{Len: 5, Access: isa.BaseSP, AccessOff: -0x28, AccessSize: 16}},
	{"vmovdqu %ymm1,0x20(%rsp)", "c5fe7f4c2420", isa.Effect{Len: 6, Access: isa.BaseSP, AccessOff: 0x20, AccessSize: 32}},
	// EVEX compressed disp8: 0x40 is encoded as 1*64.
	{"vmovdqu64 %zmm0,0x40(%rsp)", "62f1fe487f442401", isa.Effect{Len: 8, Access: isa.BaseSP, AccessOff: 0x40, AccessSize: 64}},
	{"fldt 0x8(%rsp)", "db6c2408", isa.Effect{Len: 4, Access: isa.BaseSP, AccessOff: 8, AccessSize: 10}},
	{"fxsave (%rsp)", "0fae0424", isa.Effect{Len: 4, Access: isa.BaseSP, AccessSize: 512}},
	{"fnstenv -0x20(%rsp)", "d97424e0", isa.Effect{Len: 4, Access: isa.BaseSP, AccessOff: -0x20, AccessSize: 28}},
	{"adox 0x8(%rsp),%rax", "f3480f38f6442408", isa.Effect{Len: 8, Access: isa.BaseSP, AccessOff: 8, AccessSize: 8}},
	{"movl $0x0,(%rsp,%rax,4)", "c7048400000000", isa.Effect{Len: 7, Access: isa.BaseSP, AccessOff: 0, AccessSize: 4}},
	{"mov %fs:0x28,%rax", "64488b042528000000", isa.Effect{Len: 9}},
	{"mov 0x8(%rax),%rax", "488b4008", isa.Effect{Len: 4}},
	{"nopw 0x0(%rax,%rax,1)", "660f1f0400", isa.Effect{Len: 5, Nop: true}},
	{"nopl 0x8(%rsp)", "0f1f442408", isa.Effect{Len: 5, Nop: true}},
	{"prefetcht0 0x40(%rsp)", "0f184c2440", isa.Effect{Len: 5}},

	// ---- constant addresses (Ref) ----
	{"lea 0x2fe2(%rip),%rdi", "488d3de22f0000", isa.Effect{Len: 7, Ref: testPC + 7 + 0x2fe2, HasRef: true}},
	{"lea -0x40(%rip),%rax", "488d05c0ffffff", isa.Effect{Len: 7, Ref: testPC + 7 - 0x40, HasRef: true}},
	{"mov $0x401136,%edi", "bf36114000", isa.Effect{Len: 5, Ref: 0x401136, HasRef: true}},
	{"mov $0x401136,%rdi", "48c7c736114000", isa.Effect{Len: 7, Ref: 0x401136, HasRef: true}},
	{"movabs $0x7f0000401136,%rax", "48b836114000007f0000", isa.Effect{Len: 10, Ref: 0x7f0000401136, HasRef: true}},
	{"mov $0x10,%edi", "bf10000000", isa.Effect{Len: 5}},

	// ---- control flow ----
	{"call .+0x105", "e800010000", isa.Effect{Len: 5, Flow: isa.FlowCall, Target: testPC + 0x105, HasTarget: true}},
	{"call .-0x1000", "e8fbefffff", isa.Effect{Len: 5, Flow: isa.FlowCall, Target: testPC - 0x1000, HasTarget: true}},
	{"call *%rax", "ffd0", isa.Effect{Len: 2, Flow: isa.FlowIndirectCall}},
	{"call *0x8(%rax)", "ff5008", isa.Effect{Len: 3, Flow: isa.FlowIndirectCall}},
	{"call *0x10(%rsp)", "ff542410", isa.Effect{Len: 4, Flow: isa.FlowIndirectCall, Access: isa.BaseSP, AccessOff: 0x10, AccessSize: 8}},
	{"call *0x2fe2(%rip)", "ff15e22f0000", isa.Effect{Len: 6, Flow: isa.FlowIndirectCall, Slot: testPC + 6 + 0x2fe2, HasSlot: true}},
	{"call *-0x20(%rip)", "ff15e0ffffff", isa.Effect{Len: 6, Flow: isa.FlowIndirectCall, Slot: testPC + 6 - 0x20, HasSlot: true}},
	{"call *0x601018", "ff142518106000", isa.Effect{Len: 7, Flow: isa.FlowIndirectCall, Slot: 0x601018, HasSlot: true}},
	{"call *%fs:0x10", "64ff142510000000", isa.Effect{Len: 8, Flow: isa.FlowIndirectCall}},
	{"notrack call *%rax", "3effd0", isa.Effect{Len: 3, Flow: isa.FlowIndirectCall}},
	{"", "67e800010000", isa.Effect{Len: 6, Flow: isa.FlowCall, Target: testPC + 6 + 0x100, HasTarget: true}}, // addr32 call (ld relaxation)
	{"jmp .", "ebfe", isa.Effect{Len: 2, Flow: isa.FlowJump, Target: testPC, HasTarget: true}},
	{"jmp .+0x1005", "e900100000", isa.Effect{Len: 5, Flow: isa.FlowJump, Target: testPC + 0x1005, HasTarget: true}},
	{"jmp *%rax", "ffe0", isa.Effect{Len: 2, Flow: isa.FlowIndirectJump}},
	{"notrack jmp *%rax", "3effe0", isa.Effect{Len: 3, Flow: isa.FlowIndirectJump}},
	{"jmp *0x0(,%rax,8)", "ff24c500000000", isa.Effect{Len: 7, Flow: isa.FlowIndirectJump}},
	{"jmp *0x2fe2(%rip)", "ff25e22f0000", isa.Effect{Len: 6, Flow: isa.FlowIndirectJump, Slot: testPC + 6 + 0x2fe2, HasSlot: true}},
	{"bnd jmp *0x2fe2(%rip)", "f2ff25e22f0000", isa.Effect{Len: 7, Flow: isa.FlowIndirectJump, Slot: testPC + 7 + 0x2fe2, HasSlot: true}},
	{"jne .-0xf", "75ef", isa.Effect{Len: 2, Flow: isa.FlowCondJump, Target: testPC - 0xf, HasTarget: true}},
	{"", "0f8400010000", isa.Effect{Len: 6, Flow: isa.FlowCondJump, Target: testPC + 6 + 0x100, HasTarget: true}}, // je rel32
	{"jrcxz .+0x10", "e30e", isa.Effect{Len: 2, Flow: isa.FlowCondJump, Target: testPC + 0x10, HasTarget: true}},
	{"jecxz .+0x10", "67e30d", isa.Effect{Len: 3, Flow: isa.FlowCondJump, Target: testPC + 0x10, HasTarget: true}},
	{"loop .-0x4", "e2fa", isa.Effect{Len: 2, Flow: isa.FlowCondJump, Target: testPC - 4, HasTarget: true}},
	{"loopne .-0x4", "e0fa", isa.Effect{Len: 2, Flow: isa.FlowCondJump, Target: testPC - 4, HasTarget: true}},
	{"xbegin .+0x106", "c7f800010000", isa.Effect{Len: 6, Flow: isa.FlowCondJump, Target: testPC + 0x106, HasTarget: true}},
	{"ret", "c3", isa.Effect{Len: 1, Flow: isa.FlowReturn}},
	{"ret $0x8", "c20800", isa.Effect{Len: 3, Flow: isa.FlowReturn}},
	{"bnd ret", "f2c3", isa.Effect{Len: 2, Flow: isa.FlowReturn}},
	{"lret", "cb", isa.Effect{Len: 1, Flow: isa.FlowReturn}},
	{"iretq", "48cf", isa.Effect{Len: 2, Flow: isa.FlowReturn}},
	{"sysretq", "480f07", isa.Effect{Len: 3, Flow: isa.FlowReturn}},
	{"ud2", "0f0b", isa.Effect{Len: 2, Flow: isa.FlowStop}},
	{"hlt", "f4", isa.Effect{Len: 1, Flow: isa.FlowStop}},
	{"int3", "cc", isa.Effect{Len: 1, Flow: isa.FlowStop}},
	{"int $0x80", "cd80", isa.Effect{Len: 2}},
	{"syscall", "0f05", isa.Effect{Len: 2}},

	// ---- encodings x86asm does not know ----
	{"endbr64", "f30f1efa", isa.Effect{Len: 4}},
	{"endbr32", "f30f1efb", isa.Effect{Len: 4}},
	{"rdsspq %rax", "f3480f1ec8", isa.Effect{Len: 5}},
	{"nop %eax", "0f1fc0", isa.Effect{Len: 3, Nop: true}},
	{"rdpkru", "0f01ee", isa.Effect{Len: 3}},
	{"wrpkru", "0f01ef", isa.Effect{Len: 3}},
	{"setssbsy", "f30f01e8", isa.Effect{Len: 4}},
	{"adcx %rbx,%rax", "66480f38f6c3", isa.Effect{Len: 6}},
	{"rdseed %r10", "490fc7fa", isa.Effect{Len: 4}},
	{"xsha256", "f30fa6d0", isa.Effect{Len: 4}},
	{"vprotd $0x3,%xmm0,%xmm1", "8fe878c2c803", isa.Effect{Len: 6}},
	{"addr32 vmovq %xmm13,%rax", "67c461f97ee8", isa.Effect{Len: 6}},
	// vzeroupper has no ModRM; the trailing bytes must not count.
	{"", "c5f8774889e5", isa.Effect{Len: 3}},
	{"", "c5fc77ffff", isa.Effect{Len: 3}}, // vzeroall
}

func TestDecodeCases(t *testing.T) {
	var d Decoder
	for _, c := range decodeCases {
		code, err := hex.DecodeString(c.hex)
		if err != nil {
			t.Fatalf("%s: bad hex %q", c.asm, c.hex)
		}
		got, err := d.Decode(code, testPC)
		if err != nil {
			t.Errorf("%s (%s): %v", c.asm, c.hex, err)
			continue
		}
		if cmp := withoutDef(got); cmp != c.want {
			t.Errorf("%s (%s):\n got %+v\nwant %+v", c.asm, c.hex, cmp, c.want)
		}
		// The same bytes followed by junk decode the same (no read past Len).
		junk := append(append([]byte{}, code...), 0xff, 0xff, 0xff, 0xff)
		if got2, err := d.Decode(junk, testPC); err != nil || got2 != got {
			t.Errorf("%s (%s) followed by junk: %+v, %v", c.asm, c.hex, got2, err)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	var d Decoder
	for _, h := range []string{
		"",           // nothing
		"06",         // push es: invalid in 64-bit mode
		"e80000",     // truncated call
		"4883",       // truncated add
		"f3",         // a lone prefix
		"0f0b"[:2],   // a lone 0F
		"c4e2",       // truncated VEX
		"6666666666", // prefixes only
	} {
		code, _ := hex.DecodeString(h)
		eff, err := d.Decode(code, testPC)
		var de *isa.DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%q: got %+v, %v; want a *isa.DecodeError", h, eff, err)
			continue
		}
		if de.PC != testPC || de.Reason == "" {
			t.Errorf("%q: DecodeError %+v", h, de)
		}
	}
}

func TestDecoderInterface(t *testing.T) {
	var d isa.Decoder = Decoder{}
	if d.ReturnAddressSize() != 8 || d.Name() != "x86-64" {
		t.Errorf("ReturnAddressSize %d Name %q", d.ReturnAddressSize(), d.Name())
	}
	// The frame walk decodes through IntoFunc when the decoder has it.
	if _, ok := d.(isa.IntoFuncDecoder); !ok {
		t.Errorf("Decoder is not an isa.IntoFuncDecoder")
	}
}

// TestDecodeCasesAssemble checks that every case's bytes are what GNU as
// makes of its assembly text, so the table cannot drift from the encodings
// it names.
func TestDecodeCasesAssemble(t *testing.T) {
	as := testutil.RequireTool(t, "as")
	dir := t.TempDir()
	var src strings.Builder
	src.WriteString(".text\n")
	var idx []int
	for i, c := range decodeCases {
		if c.asm == "" {
			continue
		}
		fmt.Fprintf(&src, "case%d:\n\t%s\n", i, c.asm)
		idx = append(idx, i)
	}
	src.WriteString("caseend:\n")
	if err := os.WriteFile(filepath.Join(dir, "cases.s"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, as, "--64", "-o", "cases.o", "cases.s")
	f, err := elf.Open(filepath.Join(dir, "cases.o"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	text, err := f.Section(".text").Data()
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	addr := map[string]uint64{}
	for _, s := range syms {
		addr[s.Name] = s.Value
	}
	starts := make([]uint64, 0, len(idx)+1)
	for _, i := range idx {
		starts = append(starts, addr[fmt.Sprintf("case%d", i)])
	}
	starts = append(starts, addr["caseend"])
	if !sort.SliceIsSorted(starts, func(a, b int) bool { return starts[a] < starts[b] }) {
		t.Fatal("case labels out of order")
	}
	for k, i := range idx {
		got := hex.EncodeToString(text[starts[k]:starts[k+1]])
		if got != decodeCases[i].hex {
			t.Errorf("%q assembles to %s, table has %s", decodeCases[i].asm, got, decodeCases[i].hex)
		}
	}
}

// TestMayBeNop: no instruction isNop takes starts with a byte mayBeNop
// rules out, whatever follows it (DecodeInto asks mayBeNop first).
func TestMayBeNop(t *testing.T) {
	tails := [][]byte{{}, {0x90}, {0x0F, 0x1F, 0x00}, {0x0F, 0x1F, 0x44, 0x00, 0x00}, {0x66, 0x90}, {0x2E, 0x0F, 0x1F, 0x84, 0, 0, 0, 0, 0}}
	nops := 0
	for b := 0; b < 256; b++ {
		for _, tail := range tails {
			code := append([]byte{byte(b)}, tail...)
			for n := 1; n <= len(code); n++ {
				if !isNop(code[:n]) {
					continue
				}
				nops++
				if !mayBeNop(code[0]) {
					t.Errorf("% x is a nop, but mayBeNop(%#x) says no", code[:n], code[0])
				}
			}
		}
	}
	if nops == 0 {
		t.Fatal("no nop among the inputs")
	}
}
