package binfile

import (
	"debug/elf"
	"fmt"
	"sort"
)

// Vector is one populated slot of a Cortex-M vector table.
type Vector struct {
	Index   int    // 1 = Reset, 2 = NMI, 3 = HardFault, ..., 16+n = IRQ n
	Handler uint64 // Thumb bit cleared
}

// VectorTable is the Cortex-M exception vector table of a firmware image.
type VectorTable struct {
	Section   string
	Addr      uint64
	InitialSP uint64
	Vectors   []Vector
}

// ExceptionName names vector slot i the way CMSIS does.
func ExceptionName(i int) string {
	switch i {
	case 1:
		return "Reset"
	case 2:
		return "NMI"
	case 3:
		return "HardFault"
	case 4:
		return "MemManage"
	case 5:
		return "BusFault"
	case 6:
		return "UsageFault"
	case 7:
		return "SecureFault"
	case 11:
		return "SVCall"
	case 12:
		return "DebugMonitor"
	case 14:
		return "PendSV"
	case 15:
		return "SysTick"
	}
	if i >= 16 {
		return fmt.Sprintf("IRQ%d", i-16)
	}
	return fmt.Sprintf("vector%d", i)
}

// ExceptionKind is "reset", "exception" (system exceptions 2..15) or "irq".
func ExceptionKind(i int) string {
	switch {
	case i == 1:
		return "reset"
	case i < 16:
		return "exception"
	}
	return "irq"
}

var vectorSections = []string{".isr_vector", ".vectors", ".vector_table", ".isr_vectors", ".intvecs", ".vectors_table", ".interrupt_vector"}
var vectorSymbols = []string{"g_pfnVectors", "__isr_vector", "__Vectors", "_vectors", "vector_table", "__vector_table", "_vector_table", "isr_vector", "exception_table"}

// VectorTable finds the vector table: a section with a conventional name, a
// symbol with a conventional name, or else the first word-aligned table at
// the lowest flash address whose reset vector points into code. It returns
// nil for an image without one (not Cortex-M firmware).
func (f *File) VectorTable() *VectorTable {
	if f.Arch != ArchThumb {
		return nil
	}
	for _, name := range vectorSections {
		if s := f.ELF.Section(name); s != nil && s.Type == elf.SHT_PROGBITS && s.Size >= 8 {
			if vt := f.readVectors(s.Addr, s.Size, name); vt != nil {
				return vt
			}
		}
	}
	for _, s := range f.symbols {
		for _, name := range vectorSymbols {
			if s.Name == name && s.Size >= 8 {
				if vt := f.readVectors(s.Value, s.Size, name); vt != nil {
					return vt
				}
			}
		}
	}
	var secs []*elf.Section
	for _, s := range f.ELF.Sections {
		if s.Flags&elf.SHF_ALLOC != 0 && s.Type == elf.SHT_PROGBITS && s.Size >= 8 {
			secs = append(secs, s)
		}
	}
	sort.Slice(secs, func(i, j int) bool { return secs[i].Addr < secs[j].Addr })
	if len(secs) > 0 {
		if vt := f.readVectors(secs[0].Addr, secs[0].Size, secs[0].Name); vt != nil {
			return vt
		}
	}
	return nil
}

// readVectors reads a table at addr: word 0 the initial SP, then handlers
// while each word is 0 or a Thumb address inside executable code.
func (f *File) readVectors(addr, size uint64, where string) *VectorTable {
	if size > 4*(16+496) {
		size = 4 * (16 + 496)
	}
	data, err := f.Code(addr, size)
	if err != nil || len(data) < 8 {
		return nil
	}
	vt := &VectorTable{Section: where, Addr: addr, InitialSP: uint64(f.ELF.ByteOrder.Uint32(data))}
	for i := 1; 4*i+4 <= len(data); i++ {
		w := uint64(f.ELF.ByteOrder.Uint32(data[4*i:]))
		if w == 0 {
			continue
		}
		if w&1 == 0 || !f.IsExecutable(w&^1) {
			if i == 1 {
				return nil // no reset vector: not a vector table
			}
			break
		}
		vt.Vectors = append(vt.Vectors, Vector{Index: i, Handler: w &^ 1})
	}
	if len(vt.Vectors) == 0 || vt.Vectors[0].Index != 1 {
		return nil
	}
	return vt
}

// IsExecutable reports whether addr lies in an executable section.
func (f *File) IsExecutable(addr uint64) bool {
	for _, s := range f.ELF.Sections {
		if s.Flags&elf.SHF_EXECINSTR != 0 && addr >= s.Addr && addr < s.Addr+s.Size {
			return true
		}
	}
	return false
}

// UsesFloatingPoint reports whether the image may use the FPU, so that an
// exception can stack the extended (FP) frame: built for the hard-float ABI,
// or with an FPU architecture in its build attributes.
func (f *File) UsesFloatingPoint() bool {
	const efARMABIFloatHard = 0x400
	if f.Arch != ArchThumb {
		return false
	}
	if f.headerFlags()&efARMABIFloatHard != 0 {
		return true
	}
	attrs := f.armAttributes()
	const tagFPArch, tagABIVFPArgs = 10, 28
	return attrs[tagFPArch] != 0 || attrs[tagABIVFPArgs] == 1
}

// ARMCPUArch is the build attributes' Tag_CPU_arch (11 ARMv6-M, 10
// ARMv7, 13 ARMv7E-M, 17 ARMv8-M mainline...), 0 when the file has none:
// the emulator picks a core that runs it.
func (f *File) ARMCPUArch() uint64 {
	if f.Arch != ArchThumb {
		return 0
	}
	const tagCPUArch = 6
	return f.armAttributes()[tagCPUArch]
}

// headerFlags returns e_flags, which debug/elf does not expose.
func (f *File) headerFlags() uint32 {
	var hdr [40]byte
	if _, err := f.r.ReadAt(hdr[:], 0); err != nil {
		return 0
	}
	return f.ELF.ByteOrder.Uint32(hdr[36:])
}

// armAttributes reads the "aeabi" public attributes of .ARM.attributes:
// integer-valued tags only.
func (f *File) armAttributes() map[uint64]uint64 {
	out := map[uint64]uint64{}
	s := f.ELF.Section(".ARM.attributes")
	if s == nil {
		return out
	}
	data, err := s.Data()
	if err != nil || len(data) < 1 || data[0] != 'A' {
		return out
	}
	data = data[1:]
	for len(data) >= 4 {
		n := int(f.ELF.ByteOrder.Uint32(data))
		if n < 4 || n > len(data) {
			return out
		}
		sub := data[4:n]
		data = data[n:]
		i := 0
		for i < len(sub) && sub[i] != 0 {
			i++
		}
		if string(sub[:i]) != "aeabi" || i >= len(sub) {
			continue
		}
		sub = sub[i+1:]
		for len(sub) >= 5 {
			tag := sub[0]
			m := int(f.ELF.ByteOrder.Uint32(sub[1:]))
			if m < 5 || m > len(sub) {
				return out
			}
			body := sub[5:m]
			sub = sub[m:]
			if tag != 1 { // only file-scope attributes
				continue
			}
			parseAttributes(body, out)
		}
	}
	return out
}

func parseAttributes(b []byte, out map[uint64]uint64) {
	for len(b) > 0 {
		tag, n := uleb(b)
		if n == 0 {
			return
		}
		b = b[n:]
		isString := tag == 4 || tag == 5 || tag == 65 || tag == 67 || (tag > 32 && tag%2 == 1)
		if tag == 32 { // Tag_compatibility: ULEB then string
			_, n = uleb(b)
			b = b[n:]
			isString = true
		}
		if isString {
			i := 0
			for i < len(b) && b[i] != 0 {
				i++
			}
			if i >= len(b) {
				return
			}
			b = b[i+1:]
			continue
		}
		v, n := uleb(b)
		if n == 0 {
			return
		}
		b = b[n:]
		out[tag] = v
	}
}

func uleb(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}
