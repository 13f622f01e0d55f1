package srcloc

import (
	"bytes"
	"debug/elf"
	"os"
	"testing"
)

// FuzzLoad feeds arbitrary bytes, read as an ELF file, to Load and to the
// queries reports make: a corrupt line table or DIE tree may cost the
// locations, never panic. Seed: the example firmware (it has DWARF) and a
// truncation of it.
func FuzzLoad(f *testing.F) {
	if data, err := os.ReadFile("../../examples/firmware/firmware.elf"); err == nil {
		f.Add(data)
		f.Add(data[:len(data)*3/4])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ef, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			return
		}
		old := DebugRoots
		DebugRoots = nil
		defer func() { DebugRoots = old }()
		tab, _ := Load(ef, "input.elf")
		for _, s := range ef.Sections {
			if s.Flags&elf.SHF_EXECINSTR != 0 {
				tab.At(s.Addr)
				tab.Func(s.Addr + s.Size/2)
			}
		}
	})
}
