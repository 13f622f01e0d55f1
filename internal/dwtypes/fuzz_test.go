package dwtypes

import (
	"bytes"
	"debug/elf"
	"os"
	"testing"

	"github.com/stackscope/stackscope/internal/frame"
)

// FuzzLoad feeds arbitrary bytes, read as an ELF file, to Load and to the
// queries the call graph makes: corrupt DWARF (DIEs, types, location
// lists) may cost the narrowing, never panic. Seed: the example firmware,
// which has DWARF, and a truncation of it.
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
		in := Load(ef)
		if in == nil {
			return
		}
		for _, s := range ef.Sections {
			if s.Flags&elf.SHF_EXECINSTR == 0 {
				continue
			}
			in.Prototype(s.Addr)
			in.Covers(s.Addr + s.Size/2)
			in.CPlusPlus(s.Addr)
			for reg := int8(0); reg < 16; reg++ {
				slot := &frame.Value{Kind: frame.ValueLoad, Addr: &frame.Value{Kind: frame.ValueReg, Reg: reg, At: s.Addr + 4, Off: 8}}
				in.CalledTypes(&frame.Value{Kind: frame.ValueLoad, Addr: slot})
				in.CalledTypes(&frame.Value{Kind: frame.ValueLoad, Addr: &frame.Value{Kind: frame.ValueConst, Off: int64(s.Addr), Indexed: true}})
			}
		}
	})
}
