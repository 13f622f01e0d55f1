package x86

import (
	"os"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// checkDecodeFlow compares DecodeFlow with DecodeSweep at code: the same error,
// and DecodeSweep's length, flow and target. It returns whether flowHot
// took the instruction.
func checkDecodeFlow(t testing.TB, code []byte, pc uint64) bool {
	var d Decoder
	var e isa.Effect
	errSweep := d.DecodeSweep(code, pc, &e)
	f, errFlow := DecodeFlow(code, pc)
	_, hot := flowHot(code, pc)
	n := min(len(code), 15)
	if (errSweep == nil) != (errFlow == nil) {
		t.Errorf("% x at %#x: DecodeSweep's error %v, DecodeFlow's %v (flowHot took it: %v)", code[:n], pc, errSweep, errFlow, hot)
		return hot
	}
	if errSweep != nil {
		if f != (Flow{}) {
			t.Errorf("% x at %#x: error %v with %+v", code[:n], pc, errFlow, f)
		}
		return hot
	}
	if want := (Flow{Len: e.Len, Flow: e.Flow, Target: e.Target, HasTarget: e.HasTarget}); f != want {
		t.Errorf("% x at %#x: DecodeFlow %+v, DecodeSweep %+v (flowHot took it: %v)", code[:n], pc, f, want, hot)
	}
	return hot
}

// TestDecodeFlowMatchesSweep: at every byte offset of libc's and
// libstdc++'s .text (node's too with STACKSCOPE_X86_NODE=1), DecodeFlow
// gives DecodeSweep's error, length, flow and target; and flowHot takes
// most instructions of a linear sweep (else it would save nothing).
func TestDecodeFlowMatchesSweep(t *testing.T) {
	paths := []string{libcPath, libstdcxxPath}
	if os.Getenv("STACKSCOPE_X86_NODE") == "1" {
		paths = append(paths, "/usr/bin/node")
	}
	for _, path := range paths {
		if _, err := os.Stat(path); err != nil {
			t.Skipf("SKIPPED: %s not present", path)
		}
		text, base := textSection(t, path)
		aligned, alignedHot := 0, 0
		next := 0
		for off := range text {
			hot := checkDecodeFlow(t, text[off:], base+uint64(off))
			if off == next {
				aligned++
				if hot {
					alignedHot++
				}
				if f, err := DecodeFlow(text[off:], base+uint64(off)); err == nil {
					next += f.Len
				} else {
					next++
				}
			}
			if t.Failed() {
				return
			}
		}
		share := float64(alignedHot) / float64(aligned)
		t.Logf("%s: flowHot took %d of %d instructions of a linear sweep (%.1f%%)", path, alignedHot, aligned, 100*share)
		if share < 0.5 {
			t.Errorf("%s: flowHot took only %.1f%% of a linear sweep's instructions", path, 100*share)
		}
	}
}

// TestDecodeFlowEveryOpcode compares DecodeFlow with DecodeSweep on every
// one- and two-byte opcode, under no prefix, prefixes flowHot must
// decline, and REX with each of W, R, X and B; with every ModRM byte and
// two SIB and displacement tails, each also cut short at every length.
func TestDecodeFlowEveryOpcode(t *testing.T) {
	prefixes := [][]byte{nil, {0x66}, {0xF2}, {0xF3}, {0x64}, {0x2E}, {0x3E}, {0xF0}, {0x67}}
	rexes := []byte{0, 0x40, 0x41, 0x42, 0x44, 0x48, 0x4F}
	tails := [][]byte{
		{0x24, 0xF0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99},
		{0x6D, 0x80, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00},
		{0x25, 0x80, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00},
	}
	taken := 0
	forEveryOpcode(t, prefixes, rexes, tails, func(code, pre []byte, modrm byte, tail []byte) {
		if checkDecodeFlow(t, code, testPC) {
			taken++
		}
		if pre == nil && modrm%16 == 4 && tail[0] == 0x25 {
			for cut := 1; cut < len(code); cut++ {
				checkDecodeFlow(t, code[:cut], testPC)
			}
		}
	})
	if taken == 0 {
		t.Fatal("flowHot took no encoding")
	}
	t.Logf("flowHot took %d encodings, each as DecodeSweep decodes it", taken)
}
