package frame

import (
	"reflect"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// funcScript is a script whose DecodeInto is only reachable through
// IntoFunc (isa.IntoFuncDecoder): its method fails.
type funcScript struct {
	script
	calls *int
}

func (s funcScript) DecodeInto(code []byte, pc uint64, eff *isa.Effect) error {
	return &isa.DecodeError{PC: pc, Reason: "called through the interface"}
}

func (s funcScript) IntoFunc() isa.IntoFunc {
	return func(code []byte, pc uint64, eff *isa.Effect) error {
		*s.calls++
		e, err := s.Decode(code, pc)
		*eff = e
		return err
	}
}

func TestWalkDecodesThroughIntoFunc(t *testing.T) {
	s := script{
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: -8}, // 0 push
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: 8},  // 1 pop
		{Flow: isa.FlowReturn},                           // 2 ret
	}
	calls := 0
	f := Analyze(Input{Addr: base, Code: prog(0, 1, 2), Decoder: funcScript{s, &calls}, StackAlign: 16})
	if want := analyze(s, 0, 1, 2); !reflect.DeepEqual(f, want) {
		t.Fatalf("got %+v, want %+v", f, want)
	}
	if calls != 3 {
		t.Fatalf("IntoFunc's function decoded %d instructions, want 3", calls)
	}
}
