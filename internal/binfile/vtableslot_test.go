package binfile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestVtableSlotIndex: VtableSlot answers from an index of every slot
// made once (IndexVtableSlots), and each answer is what a scan of every
// address point of every vtable at that slot finds: sorted, unique, no
// zero; nothing past the longest vtable or at an offset that is no slot.
// The classes give a primary and a secondary address point (two bases),
// overriders shared between tables, and a pure virtual slot.
func TestVtableSlotIndex(t *testing.T) {
	gxx := testutil.RequireTool(t, "g++")
	dir := t.TempDir()
	src := filepath.Join(dir, "shapes.cpp")
	os.WriteFile(src, []byte(`struct A { virtual int f(int); virtual int g(int); virtual ~A(); };
struct B { virtual int h(int) = 0; virtual ~B(); };
struct C : A, B { int f(int) override; int h(int) override; };
struct D : C { int g(int) override; int h(int) override; };
int A::f(int x) { return x + 1; }
int A::g(int x) { return x * 2; }
A::~A() {}
B::~B() {}
int C::f(int x) { return x - 1; }
int C::h(int x) { return x ^ 3; }
int D::g(int x) { return x | 4; }
int D::h(int x) { return x & 5; }
A *make(int k) { if (k) return new C; return new D; }
`), 0o644)
	so := filepath.Join(dir, "shapes.so")
	testutil.Run(t, dir, gxx, "-shared", "-fPIC", "-O2", "-o", so, src)
	f, err := Open(so)
	if err != nil {
		t.Fatal(err)
	}
	f.IndexVtableSlots()
	if f.vtableColumnsIndex == nil {
		t.Fatal("IndexVtableSlots made no index")
	}
	longest := 0
	for _, vt := range f.Vtables() {
		for _, slots := range vt.Slots {
			longest = max(longest, len(slots))
		}
	}
	if longest < 3 {
		t.Fatalf("fixture: longest vtable has %d slots, want 3 at least", longest)
	}
	for k := 0; k <= longest; k++ {
		var want []uint64
		for _, vt := range f.Vtables() {
			for _, slots := range vt.Slots {
				if k < len(slots) && slots[k] != 0 && !slices.Contains(want, slots[k]) {
					want = append(want, slots[k])
				}
			}
		}
		slices.Sort(want)
		if got := f.VtableSlot(int64(8 * k)); !slices.Equal(got, want) {
			t.Errorf("slot +%d: %#x, want %#x", 8*k, got, want)
		}
	}
	if got := f.VtableSlot(0); len(got) < 2 {
		t.Errorf("slot +0: %#x, want A::f, C::f and B's, C's, D's h at least", got)
	}
	for _, off := range []int64{-8, 4, int64(8 * (longest + 1))} {
		if got := f.VtableSlot(off); got != nil {
			t.Errorf("slot +%d: %#x, want nothing", off, got)
		}
	}
}
