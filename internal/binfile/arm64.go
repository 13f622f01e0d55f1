package binfile

import "debug/elf"

// readSlotsARM64 maps an AArch64 file's GOT slots to symbol names from its
// dynamic relocations, as readSlots does for x86-64: the slot a PLT stub
// (adrp x16; ldr x17, [x16, #n]; add x16, x16, #n; br x17) jumps through.
func (f *File) readSlotsARM64() {
	dyn, _ := f.DynamicSymbols()
	f.eachRela(func(off uint64, typ elf.R_X86_64, sym int, addend uint64) {
		switch elf.R_AARCH64(typ) {
		case elf.R_AARCH64_IRELATIVE:
			f.IRelative[off] = addend
		case elf.R_AARCH64_JUMP_SLOT, elf.R_AARCH64_GLOB_DAT:
			// DynamicSymbols omits the null symbol at index 0.
			if sym >= 1 && sym-1 < len(dyn) {
				f.Slots[off] = dyn[sym-1].Name
			}
			if elf.R_AARCH64(typ) == elf.R_AARCH64_JUMP_SLOT && !f.BindNow {
				f.LazySlots[off] = true
			}
		}
	})
}
