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
// return address deep. The stack-argument rule (argarea.go) is recorded
// wherever the frame rests on it: each Frame.StackArgs names a call and
// a restore inside the code; the walk with the rule
// off (Input.StrictArgs) records none, and when the plain walk recorded
// none and knows the frame, it gives the same kind (and size, static). Seeds (testdata/fuzz/FuzzAnalyzeX86):
// internal/analysis/testdata/x86/redteam_argslot.S's sp_arg0, sp_push,
// sp_below and ctr_arg, redteam_argrule.S's three functions, GCC's -O2
// code of vlaslot.c's vla_stack_args (a VLA scope with a call taking
// stack arguments), vlanocall.c's vla_call (-O2) and vla_nocall (-Os),
// all assembled by gcc.
func FuzzAnalyzeX86(f *testing.F) {
	f.Fuzz(func(t *testing.T, code []byte) {
		in := Input{Addr: base, Code: code, Decoder: x86.Decoder{}, StackAlign: 16}
		fr := Analyze(in)
		in.StrictArgs = true
		strict := Analyze(in)
		if len(strict.StackArgs) > 0 {
			t.Errorf("the walk with the rule off rests on it: %+v", strict.StackArgs)
		}
		// (Only from a frame the walk trusts, and the size of a static
		// one: the walk skips a path that reaches code walked before no
		// deeper and with nothing new, and follows a loop that moves SP
		// a few rounds, so two walks whose states differ may find an
		// unknown, SP rising above the caller's SP, on different paths
		// (af75fd31fce7b694), or a dynamic frame's lower bound after
		// different rounds (6e96314e65467a26).)
		if len(fr.StackArgs) == 0 && fr.Kind != Unknown && (strict.Kind != fr.Kind || fr.Kind == Static && strict.Size != fr.Size) {
			t.Errorf("no restore rests on the rule, yet with it off the frame is %v %d B, not %v %d B (%s)", strict.Kind, strict.Size, fr.Kind, fr.Size, strict.Reason)
		}
		inCode := func(a uint64) bool { return a >= base && a < base+uint64(len(code)) }
		for _, sa := range fr.StackArgs {
			if !inCode(sa.Restore) || !inCode(sa.Call) {
				t.Errorf("stack-argument restore %+v: its call or restore is not in the code", sa)
			}
		}
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
