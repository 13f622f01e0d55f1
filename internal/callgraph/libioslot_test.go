package callgraph

import (
	"testing"

	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// TestVtableKeptInSlot: testdata/libioslot.S (assembled at test time) keeps
// the vtable pointer in 0x8(%rsp) across glibc's vtable check, as
// _IO_new_file_underflow does. vtableKeptInSlot (and so
// validatedVtableCall) takes kept_ok, and refuses a slot written again
// after the check, a check block that writes a byte of the slot, a
// function that passes a frame address to a callee, and a path that
// joins between the store and the check.
func TestVtableKeptInSlot(t *testing.T) {
	f := asmLib(t, "libioslot")
	g := Build(f, x86.Decoder{}, Options{StackAlign: 16})
	m := g.Modules[0]
	sec := f.ELF.Section(libioSection)
	if sec == nil {
		t.Fatal("no __libc_IO_vtables section")
	}
	const rax = 0
	for _, c := range []struct {
		fn string
		ok bool
	}{
		{"kept_ok", true},
		{"kept_rewritten", false},
		{"kept_block_writes", false},
		{"kept_leaked", false},
		{"kept_joined", false},
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
		if cs == nil || cs.From == nil || cs.From.Kind != frame.ValueLoad || cs.From.Addr == nil {
			t.Fatalf("%s: the indirect call's target is not read from memory: %+v", c.fn, cs)
		}
		reg, ok := g.memoryCallBase(m, n, cs.From.Addr, cs.Addr)
		if !ok || reg != rax {
			t.Fatalf("%s: the call's base register %d %v, want rax", c.fn, reg, ok)
		}
		if got := g.vtableKeptInSlot(m, n, reg, cs.Addr, sec); got != c.ok {
			t.Errorf("%s: vtableKeptInSlot %v, want %v", c.fn, got, c.ok)
		}
		if got := g.validatedVtableCall(m, n, cs.From.Addr, *cs); got != c.ok {
			t.Errorf("%s: validatedVtableCall %v, want %v", c.fn, got, c.ok)
		}
	}
}
