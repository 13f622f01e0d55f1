package callgraph

import (
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// TestFrameSlots: the data flow of argcallback.go follows a value through
// a slot of the frame (testdata/argslots.S, assembled at test time) to
// the indirect call at the end of each function: rdi's entry value where
// the slot keeps it (an rsp slot across a call, an rbp slot), nothing
// known where the slot may have changed: written on one path, partly
// written, a frame address passed to a callee, the stack-argument word
// at the call's SP, below the red zone, after SP is realigned.
func TestFrameSlots(t *testing.T) {
	f := asmLib(t, "argslots")
	g := Build(f, x86.Decoder{}, Options{StackAlign: 16})
	a := &argModel{g: g, flows: map[int]*argFlow{}}
	const rax, rdi = 0, 7
	for _, c := range []struct {
		fn   string
		kept bool
	}{
		{"slot_ok", true},
		{"slot_fp", true},
		{"slot_one_path", false},
		{"slot_partial", false},
		{"slot_leak", false},
		{"slot_stack_arg", false},
		{"slot_below_red_zone", false},
		{"slot_realigned", false},
	} {
		ids := g.NodesNamed(c.fn)
		if len(ids) != 1 {
			t.Fatalf("%s: %d nodes", c.fn, len(ids))
		}
		n := g.Nodes[ids[0]]
		insts, _, ok := g.decodeLinear(n.Module, n)
		if !ok {
			t.Fatalf("%s: not decoded", c.fn)
		}
		site := uint64(0)
		for _, in := range insts {
			if (in.e.Flow == isa.FlowIndirectCall || in.e.Flow == isa.FlowIndirectJump) && in.e.HasCallReg {
				site = in.addr
			}
		}
		if site == 0 {
			t.Fatalf("%s: no call through a register", c.fn)
		}
		v, ok := a.valueAt(ids[0], site, rax)
		if !ok {
			t.Fatalf("%s: no data flow at %#x", c.fn, site)
		}
		if kept := v.kind == valEntry && v.reg == rdi; kept != c.kept {
			t.Errorf("%s: rax at %#x is %+v; want rdi's entry value: %v", c.fn, site, v, c.kept)
		}
	}
}
