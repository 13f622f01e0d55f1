package cfi

import (
	"encoding/binary"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the CFI parser as .eh_frame and as
// .debug_frame contents: it must return an error, never panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte{0x14, 0, 0, 0, 0, 0, 0, 0, 1, 'z', 'R', 0, 1, 0x78, 0x10, 1, 0x1b, 0x0c, 7, 8, 0x90, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, eh := range []uint64{0, 0x1000} {
			fdes, err := parse(data, binary.LittleEndian, 8, eh)
			if err != nil {
				continue
			}
			tab := &Table{fdes: fdes, spReg: regSPx86_64}
			for _, r := range tab.Ranges() {
				tab.CFAOffset(r.Begin)
			}
		}
	})
}
