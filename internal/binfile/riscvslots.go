package binfile

import "debug/elf"

// readSlotsRISCV maps the GOT slots of an RV64 Linux program or library
// to the symbols the dynamic linker stores there (R_RISCV_JUMP_SLOT for
// the PLT, R_RISCV_64 against a symbol for the GOT), and the slots an
// ifunc resolver fills (R_RISCV_IRELATIVE). (eachRela reads 64-bit Rela
// entries, whatever their machine: the type is RISC-V's here.)
func (f *File) readSlotsRISCV() {
	dyn, _ := f.DynamicSymbols()
	f.eachRela(func(off uint64, typ elf.R_X86_64, sym int, addend uint64) {
		switch elf.R_RISCV(typ) {
		case rRISCVIRelative:
			f.IRelative[off] = addend
		case elf.R_RISCV_JUMP_SLOT, elf.R_RISCV_64:
			if sym < 1 || sym-1 >= len(dyn) {
				return
			}
			f.Slots[off] = dyn[sym-1].Name
			if elf.R_RISCV(typ) == elf.R_RISCV_JUMP_SLOT && !f.BindNow {
				f.LazySlots[off] = true
			}
		}
	})
}

// rRISCVIRelative is R_RISCV_IRELATIVE, which debug/elf does not name.
const rRISCVIRelative elf.R_RISCV = 58
