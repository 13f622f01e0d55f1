package cfi

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/frame"
)

// fastCFAFiles are real files whose call-frame information cfaFast is
// compared with delve on: x86-64 .eh_frame of glibc and libstdc++, and
// this repository's Cortex-M firmware's .debug_frame (code alignment 2,
// data alignment -4). STACKSCOPE_CFI_NODE=1 adds /usr/bin/node (80,000
// FDEs, a minute or so).
func fastCFAFiles() []string {
	files := []string{"/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
		filepath.Join("..", "..", "examples", "firmware", "firmware.elf")}
	if os.Getenv("STACKSCOPE_CFI_NODE") == "1" {
		files = append(files, "/usr/bin/node")
	}
	return files
}

// TestFastCFAMatchesDelve: at every row boundary of every FDE (the FDE's
// start and end, each location an advance moves to, and the byte on
// either side of it), CFAOffset (cfaFast where it is sure) answers what
// delve's interpreter (cfaAt) does; and cfaFast is sure of nearly every
// question, so the comparison covers the code that answers.
func TestFastCFAMatchesDelve(t *testing.T) {
	tested := 0
	for _, path := range fastCFAFiles() {
		f, err := elf.Open(path)
		if err != nil {
			t.Logf("SKIPPED %s: %v", path, err)
			continue
		}
		tab, err := Load(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		tested++
		asked, sure, yes := 0, 0, 0
		for _, fde := range tab.fdes {
			for _, pc := range rowPCs(fde) {
				if !fde.Cover(pc) {
					continue
				}
				asked++
				want, wantOK := cfaAt(fde, pc, tab.spReg)
				n, ok, s := cfaFast(fde, pc, tab.spReg, tab.order)
				if !s {
					continue
				}
				sure++
				if ok {
					yes++
				}
				if ok != wantOK || ok && n != want {
					t.Fatalf("%s: FDE at %#x, pc %#x: cfaFast %d %v, delve %d %v", path, fde.Begin(), pc, n, ok, want, wantOK)
				}
			}
		}
		t.Logf("%s: %d FDEs, %d questions, cfaFast sure of %d (%d SP-relative)", path, len(tab.fdes), asked, sure, yes)
		if asked == 0 || sure < asked*99/100 || yes < asked/4 {
			t.Errorf("%s: cfaFast sure of %d of %d questions, %d SP-relative: the comparison covers too little", path, sure, asked, yes)
		}
	}
	if tested == 0 {
		t.Skip("SKIPPED: none of the files is present")
	}
}

// rowPCs returns the addresses around each row boundary of fde: its
// start and last byte, and each location its instructions advance to,
// with the bytes before and after it.
func rowPCs(fde *frame.FrameDescriptionEntry) []uint64 {
	pcs := []uint64{fde.Begin(), fde.End() - 1}
	p := cfaProgram{b: fde.Instructions, loc: fde.Begin(), order: binary.LittleEndian} // (every file above is little-endian)
	if fde.CIE != nil {
		p.codeAlign = fde.CIE.CodeAlignmentFactor
	}
	for len(p.b) > 0 {
		before := p.loc
		if !p.step() {
			break
		}
		if p.loc != before {
			pcs = append(pcs, p.loc-1, p.loc, p.loc+1)
		}
	}
	return pcs
}

// TestFastCFASeed: the fuzz seed's FDE parses, and cfaFast answers (sure)
// as delve does at each of its rows, with the CFA offsets its
// instructions set.
func TestFastCFASeed(t *testing.T) {
	fdes, err := parse(debugFrameSeed(), binary.LittleEndian, 8, 0)
	if err != nil || len(fdes) != 1 {
		t.Fatalf("seed: %d FDEs, %v", len(fdes), err)
	}
	fde := fdes[0]
	for _, c := range []struct {
		pc   uint64
		want int64
		ok   bool
	}{{0x1000, 8, true}, {0x1001, 16, true}, {0x1005, 24, true}, {0x1014, 24, true}, {0x1015, 16, true}, {0x1016, 0, false}, {0x1018, 0, false}} {
		want, wantOK := cfaAt(fde, c.pc, regSPx86_64)
		n, ok, sure := cfaFast(fde, c.pc, regSPx86_64, binary.LittleEndian)
		if !sure || ok != c.ok || ok && n != c.want || ok != wantOK || ok && n != want {
			t.Errorf("pc %#x: cfaFast %d %v (sure %v), delve %d %v; want %d %v", c.pc, n, ok, sure, want, wantOK, c.want, c.ok)
		}
	}
}
