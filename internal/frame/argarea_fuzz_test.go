package frame

import (
	"testing"

	"github.com/stackscope/stackscope/internal/isa/x86"
)

// FuzzAnalyzeX86: the x86-64 walk, with its SP copies in stack words and
// the calls' stack-argument areas (argarea.go, walked a second time when
// a copy of SP goes to a stack word), never panics or runs away on any
// bytes, and what it gives is consistent: a kind it knows, a reason
// with every frame that is not static, and a static frame at least the
// return address deep. Seeds (testdata/fuzz/FuzzAnalyzeX86):
// internal/analysis/testdata/x86/redteam_argslot.S's sp_arg0, sp_push,
// sp_below and ctr_arg, and GCC's -O2 code of vlaslot.c's
// vla_stack_args (a VLA scope with a call taking stack arguments), all
// assembled by gcc.
func FuzzAnalyzeX86(f *testing.F) {
	f.Fuzz(func(t *testing.T, code []byte) {
		fr := Analyze(Input{Addr: base, Code: code, Decoder: x86.Decoder{}, StackAlign: 16})
		switch fr.Kind {
		case Static:
			if fr.Size < 8 {
				t.Errorf("static frame of %d B, below the return address", fr.Size)
			}
		case Dynamic, Unknown:
			if fr.Reason == "" {
				t.Errorf("%v frame without a reason", fr.Kind)
			}
		default:
			t.Errorf("frame kind %v", fr.Kind)
		}
	})
}
