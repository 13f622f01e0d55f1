package frame

import (
	"math"
	"reflect"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
)

// calleeAsks counts the Thunk, NoReturn and Continue questions a walk
// asks.
type calleeAsks struct {
	thunk, never, cont map[uint64]int
}

// input is a walk of code whose Thunk and NoReturn are counted in a:
// 0x9100 is a retpoline thunk through rax, 0x9200 never returns, and
// each of them starts a function (Continue says no).
func (a *calleeAsks) input(code []byte, dec isa.Decoder, key any) Input {
	return Input{
		Addr: base, Code: code, Decoder: dec, StackAlign: 16, CalleeKey: key,
		Thunk: func(addr uint64) (Thunk, bool) {
			a.thunk[addr]++
			return Thunk{Reg: 0}, addr == 0x9100
		},
		NoReturn: func(addr uint64) bool {
			a.never[addr]++
			return addr == 0x9200
		},
		Continue: func(addr uint64) ([]byte, bool) {
			a.cont[addr]++
			return nil, false
		},
	}
}

func TestCalleeCache(t *testing.T) {
	s := script{
		{Flow: isa.FlowCall, Target: 0x9000, HasTarget: true}, // 0 call a function that returns
		{Flow: isa.FlowCall, Target: 0x9100, HasTarget: true}, // 1 call a thunk
		{Flow: isa.FlowCondJump, Target: base + 20, HasTarget: true},
		{Flow: isa.FlowReturn},                                // 3
		{Flow: isa.FlowCall, Target: 0x9200, HasTarget: true}, // 4 call one that never returns
		{Flow: isa.FlowNext, SP: isa.SPAdd, SPDelta: -64},     // 5 (not reached)
	}
	code := prog(0, 1, 0, 2, 3, 4, 5, 3)
	walk := func(sc *scratch, a *calleeAsks, key any) Frame {
		a.thunk, a.never, a.cont = map[uint64]int{}, map[uint64]int{}, map[uint64]int{}
		return sc.w.begin(a.input(code, s, key), sc, false)
	}
	var a calleeAsks
	want := walk(&scratch{}, &a, nil)
	if len(want.Calls) != 4 || want.Size != 8 {
		t.Fatalf("without a key: %+v", want)
	}
	if a.thunk[0x9000] != 2 || a.never[0x9000] != 2 || a.cont[0x9000] != 2 {
		t.Fatalf("without a key, each call asks: %v %v %v", a.thunk, a.never, a.cont)
	}

	sc := &scratch{}
	key, other := new(int), new(int)
	for i, c := range []struct {
		key        any
		asked      bool
		what       string
		thunkAsked int
	}{
		{key, true, "first walk", 3},
		{key, false, "the same key again", 0},
		{other, true, "another key", 3},
		{key, true, "back to the first key (a new generation)", 3},
	} {
		got := walk(sc, &a, c.key)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%d %s: frame %+v, want %+v", i, c.what, got, want)
		}
		if len(a.thunk) != c.thunkAsked {
			t.Errorf("%d %s: Thunk asked of %v", i, c.what, a.thunk)
		}
		for addr, n := range a.thunk {
			if n != 1 {
				t.Errorf("%d %s: Thunk asked %d times of %#x", i, c.what, n, addr)
			}
		}
		for addr, n := range a.never {
			if n != 1 {
				t.Errorf("%d %s: NoReturn asked %d times of %#x", i, c.what, n, addr)
			}
		}
		for addr, n := range a.cont {
			if n != 1 {
				t.Errorf("%d %s: Continue asked %d times of %#x", i, c.what, n, addr)
			}
		}
		if c.asked != (len(a.never) > 0) || c.asked != (len(a.cont) > 0) {
			t.Errorf("%d %s: NoReturn asked of %v, Continue of %v", i, c.what, a.never, a.cont)
		}
	}
}

func TestCalleeCacheGenerationWraps(t *testing.T) {
	var c calleeCache
	c.use(new(int))
	s, _ := c.slot(0x9000)
	*s = calleeSlot{addr: 0x9000, gen: c.gen, known: calleeNever | calleeNeverYes}
	c.gen = math.MaxUint32
	s.gen = 0 // as a slot never filled
	c.use(new(int))
	if c.gen != 1 {
		t.Fatalf("gen %d after the wrap, want 1", c.gen)
	}
	if _, ok := c.slot(0x9000); ok || *s != (calleeSlot{}) {
		t.Fatalf("a slot of before the wrap matches: %+v", *s)
	}
}
