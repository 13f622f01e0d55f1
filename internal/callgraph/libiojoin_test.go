package callgraph

import (
	"testing"

	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// TestJoinedSlotLoad: testdata/libiojoin.S (assembled at test time) has
// glibc's vtable check in __printf_fp_l's shape, the slot loaded on each
// path into a join before `call *%rax`. joinedSlotLoad finds slot +0x38
// in joined_ok, and refuses a block that loads another slot, one that
// writes the vtable register after the check, and a path that joins
// without a check.
func TestJoinedSlotLoad(t *testing.T) {
	f := asmLib(t, "libiojoin")
	g := Build(f, x86.Decoder{}, Options{StackAlign: 16})
	m := g.Modules[0]
	sec := f.ELF.Section(libioSection)
	if sec == nil {
		t.Fatal("no __libc_IO_vtables section")
	}
	for _, c := range []struct {
		fn string
		ok bool
	}{
		{"joined_ok", true},
		{"joined_other_slot", false},
		{"joined_clobbered", false},
		{"joined_unchecked", false},
	} {
		ids := g.NodesNamed(c.fn)
		if len(ids) == 0 {
			t.Fatalf("no %s", c.fn)
		}
		n := g.Nodes[ids[0]]
		var cs *frame.CallSite
		for i := range n.Frame.Calls {
			if n.Frame.Calls[i].Kind.Indirect() {
				cs = &n.Frame.Calls[i]
			}
		}
		if cs == nil || cs.From == nil || cs.From.Kind != frame.ValueReg {
			t.Fatalf("%s: the indirect call's target is not a register at a join: %+v", c.fn, cs)
		}
		off, ok := g.joinedSlotLoad(m, n, cs.From.Reg, cs.From.At, cs.Addr, sec)
		if ok != c.ok || ok && off != 0x38 {
			t.Errorf("%s: slot %#x ok=%v, want ok=%v (slot 0x38)", c.fn, off, ok, c.ok)
		}
	}
}

// TestCalledAfterCheck: in testdata/libiojoin.S's in_block_* functions
// the check block holds a copy of `call *0x18(%rbx)` after the call of
// _IO_vtable_check. calledAfterCheck takes it in in_block_ok, and refuses
// a block that writes rbx after the check and one that code which checked
// nothing falls into. The first call, through memory, is checked before
// it (memoryCallBase names rbx, the base of its operand).
func TestCalledAfterCheck(t *testing.T) {
	f := asmLib(t, "libiojoin")
	g := Build(f, x86.Decoder{}, Options{StackAlign: 16})
	m := g.Modules[0]
	sec := f.ELF.Section(libioSection)
	const rbx = 3
	for _, c := range []struct {
		fn string
		ok bool
	}{
		{"in_block_ok", true},
		{"in_block_clobbered", false},
		{"in_block_fallen_into", false},
	} {
		ids := g.NodesNamed(c.fn)
		if len(ids) == 0 {
			t.Fatalf("no %s", c.fn)
		}
		n := g.Nodes[ids[0]]
		var calls []frame.CallSite
		for _, cs := range n.Frame.Calls {
			if cs.Kind.Indirect() {
				calls = append(calls, cs)
			}
		}
		if len(calls) != 2 {
			t.Fatalf("%s: %d indirect calls, want 2", c.fn, len(calls))
		}
		last := calls[len(calls)-1]
		if got := g.calledAfterCheck(m, n, rbx, last.Addr); got != c.ok {
			t.Errorf("%s: the call at %#x in the check block: %v, want %v", c.fn, last.Addr, got, c.ok)
		}
		if c.fn == "in_block_ok" {
			first := calls[0]
			v := first.From
			if v == nil || v.Kind != frame.ValueLoad || v.Addr == nil {
				t.Fatalf("%s: the first call's target is read as %+v", c.fn, v)
			}
			reg, ok := g.memoryCallBase(m, n, v.Addr, first.Addr)
			if !ok || reg != rbx || !g.validatesVtable(m, n, reg, first.Addr, sec) {
				t.Errorf("%s: the call through memory at %#x: base %d %v, want rbx, checked", c.fn, first.Addr, reg, ok)
			}
		}
	}
}
