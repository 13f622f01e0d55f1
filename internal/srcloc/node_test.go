package srcloc

import (
	"debug/elf"
	"reflect"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// BenchmarkLoadNode reads /usr/bin/node's line table and declarations
// (libuv's 111 units): go test -run XXX -bench LoadNode -benchmem ./internal/srcloc
func BenchmarkLoadNode(b *testing.B) {
	f := testutil.ELFWith(b, "/usr/bin/node")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tab, err := Load(f, "/usr/bin/node")
		if err != nil || tab == nil {
			b.Fatal(tab, err)
		}
	}
}

// sameTables checks that load (C units' top-level entries only) and the
// reading of every unit's entries give f the same table.
func sameTables(t *testing.T, f *elf.File, path string) {
	t.Helper()
	got, err := load(f, path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := read(f, path, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.funcs) == 0 {
		t.Fatal("no declarations read")
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tables differ: %d rows, %d declarations; all entries read: %d rows, %d declarations",
			len(got.rows), len(got.funcs), len(want.rows), len(want.funcs))
	}
	t.Logf("%d rows, %d declarations: the same", len(got.rows), len(got.funcs))
}

// TestCTopLevelSameNode: node's libuv.
func TestCTopLevelSameNode(t *testing.T) {
	f := testutil.ELFWith(t, "/usr/bin/node", ".debug_line")
	sameTables(t, f, "/usr/bin/node")
}

// TestCTopLevelSameFixture: testdata/lines.c built with gcc -g -O2, as C
// (DWARF 4 and 5) and as C++ (all entries read either way).
func TestCTopLevelSameFixture(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	for _, flags := range [][]string{{"-O2", "-gdwarf-4"}, {"-O2", "-gdwarf-5"}, {"-O0"}} {
		path, f := build(t, "gcc", flags...)
		sameTables(t, f, path)
	}
}
