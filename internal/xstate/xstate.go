// Package xstate reads this CPU's XSAVE state sizes (CPUID leaf 0xD) and
// derives from them, as glibc's ld.so does when it starts, how much stack
// its lazy-binding resolver reserves for the saved register state.
package xstate

import "fmt"

// Sizes are what glibc 2.36's update_active (sysdeps/x86/cpu-features.c)
// computes into _rtld_global_ro's cpu_features, checked against its
// disassembly in Debian 12's ld.so:
//
//   - xsave_state_full_size = ALIGN_UP(leaf 0xD.0 EBX + STATE_SAVE_OFFSET, 64),
//     STATE_SAVE_OFFSET being the 64 bytes where the resolver keeps rax,
//     rcx, rdx, rsi, rdi, r8, r9 below the XSAVE area;
//   - with XSAVEC (leaf 0xD.1 EAX bit 1), xsave_state_size = ALIGN_UP(the
//     compacted size of the components in STATE_SAVE_MASK + 64, 64), the
//     compacted size adding each component's leaf 0xD.i EAX after the
//     576-byte legacy region and header, aligned to 64 where leaf 0xD.i
//     ECX bit 1 asks for it;
//   - both stay 0 without OSXSAVE or leaf 0xD, and ld.so then uses the
//     FXSAVE variant, whose 576 bytes are in its code.
type Sizes struct {
	// Known: the machine is x86-64 and CPUID answered.
	Known bool
	// XSAVE: ld.so picks an XSAVE variant of its resolver (the sizes
	// below are not 0); otherwise the FXSAVE one.
	XSAVE bool
	// Full is xsave_state_full_size: what _dl_runtime_resolve_xsave
	// subtracts from SP (also when a tunable turns XSAVEC off).
	Full int64
	// Compact is the XSAVEC variant's size (0: the CPU has no XSAVEC).
	Compact int64
	// Words are the CPUID words used, for a cache key.
	Words string
}

// Largest is the largest size any variant glibc can pick on this CPU
// subtracts for its state and saved registers (0 when only FXSAVE).
func (s Sizes) Largest() int64 { return max(s.Full, s.Compact) }

// stateSaveMask is glibc 2.36's STATE_SAVE_MASK: the components its
// resolver saves (SSE, AVX, MPX bounds, and the three AVX-512 parts); the
// `mov $0xee,%eax` before its xsave/xsavec.
const stateSaveMask = 1<<1 | 1<<2 | 1<<3 | 1<<5 | 1<<6 | 1<<7

// stateSaveOffset is glibc's STATE_SAVE_OFFSET (8*7 + 8).
const stateSaveOffset = 64

func alignUp(n, a int64) int64 { return (n + a - 1) &^ (a - 1) }

// compute derives the sizes from a CPUID instruction.
func compute(cpuid func(leaf, sub uint32) (eax, ebx, ecx, edx uint32)) Sizes {
	s := Sizes{Known: true}
	maxLeaf, _, _, _ := cpuid(0, 0)
	_, _, ecx1, _ := cpuid(1, 0)
	s.Words = fmt.Sprintf("max=%#x 1.ecx=%#x", maxLeaf, ecx1)
	const osxsave = 1 << 27
	if ecx1&osxsave == 0 || maxLeaf < 0xd {
		return s
	}
	_, ebx, _, _ := cpuid(0xd, 0)
	s.Words += fmt.Sprintf(" d.0.ebx=%#x", ebx)
	if ebx == 0 {
		return s
	}
	s.XSAVE = true
	s.Full = alignUp(int64(ebx)+stateSaveOffset, 64)
	eax1, _, _, _ := cpuid(0xd, 1)
	s.Words += fmt.Sprintf(" d.1.eax=%#x", eax1)
	if eax1&(1<<1) == 0 {
		return s
	}
	// The compacted format: the legacy region (160 B of x87 and 256 B of
	// XMM, with their padding, up to 576 with the header), then each
	// component of the mask in order.
	offset, size := int64(576), int64(0)
	for i := uint32(2); i < 32; i++ {
		var eax, ecx uint32
		if stateSaveMask&(1<<i) != 0 {
			eax, _, ecx, _ = cpuid(0xd, i)
			s.Words += fmt.Sprintf(" d.%d=%#x,%#x", i, eax, ecx)
		}
		if i > 2 {
			offset += size
			if ecx&(1<<1) != 0 {
				offset = alignUp(offset, 64)
			}
		}
		size = int64(eax)
	}
	if total := offset + size; total != 0 {
		s.Compact = alignUp(total+stateSaveOffset, 64)
	}
	return s
}
