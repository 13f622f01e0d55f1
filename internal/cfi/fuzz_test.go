package cfi

import (
	"encoding/binary"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the CFI parser as .eh_frame and as
// .debug_frame contents: it must return an error, never panic; and where
// it parses, cfaFast, where it is sure, answers as delve does at every
// row boundary.
func FuzzParse(f *testing.F) {
	f.Add([]byte{0x14, 0, 0, 0, 0, 0, 0, 0, 1, 'z', 'R', 0, 1, 0x78, 0x10, 1, 0x1b, 0x0c, 7, 8, 0x90, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(debugFrameSeed())
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, eh := range []uint64{0, 0x1000} {
			fdes, err := parse(data, binary.LittleEndian, 8, eh)
			if err != nil {
				continue
			}
			tab := &Table{fdes: fdes, spReg: regSPx86_64, order: binary.LittleEndian}
			for _, r := range tab.Ranges() {
				tab.CFAOffset(r.Begin)
			}
			for _, fde := range fdes {
				for _, pc := range rowPCs(fde) {
					want, wantOK := cfaAt(fde, pc, tab.spReg)
					if n, ok, sure := cfaFast(fde, pc, tab.spReg, tab.order); sure && (ok != wantOK || ok && n != want) {
						t.Fatalf("FDE at %#x, pc %#x: cfaFast %d %v, delve %d %v", fde.Begin(), pc, n, ok, want, wantOK)
					}
				}
			}
		}
	})
}

// debugFrameSeed is a .debug_frame with one CIE (CFA = rsp+8, the return
// address at CFA-8) and one FDE whose rows move the CFA, remember and
// restore it and move it to rbp: the opcodes cfaFast runs.
func debugFrameSeed() []byte {
	cie := []byte{0xff, 0xff, 0xff, 0xff, 1, 0, 1, 0x78, 16, 0x0c, 7, 8, 0x90, 1, 0, 0}
	fde := []byte{0, 0, 0, 0}                           // the CIE at offset 0
	fde = binary.LittleEndian.AppendUint64(fde, 0x1000) // initial location
	fde = binary.LittleEndian.AppendUint64(fde, 0x40)   // address range
	fde = append(fde, 0x41, 0x0e, 0x10, 0x0a, 0x44, 0x0e, 0x18, 0x02, 0x10, 0x0b, 0x41, 0x0d, 0x06, 0x03, 0x02, 0x00, 0x13, 0x7e, 0, 0, 0)
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(cie)))
	out = append(out, cie...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(fde)))
	return append(out, fde...)
}
