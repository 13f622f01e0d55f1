package analysis

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestLibioJumpTableFunction: __vfprintf_internal has jump tables (its
// format steps), and writes through the stream's __xsputn slot after
// glibc's vtable check. Every `call *0x38(%reg)` objdump shows in it has a
// libio-vtable edge and no edge to an address-taken hub, with and without
// --strict; the slot hub's targets are words at +0x38 of the tables
// libc6-dbg names in __libc_IO_vtables (read from libc.so's bytes), among
// them _IO_file_jumps' (stdout's).
func TestLibioJumpTableFunction(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/vfprintf.c")
	prog := filepath.Join(dir, "vfprintf")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", prog, src)
	for _, strict := range []bool{false, true} {
		res, err := Run(prog, Options{Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		libc := requireLibcDebug(t, res)
		g := res.Graph
		ids := g.NodesNamed("__vfprintf_internal")
		if len(ids) == 0 {
			t.Fatalf("no __vfprintf_internal")
		}
		n := g.Nodes[ids[0]]
		if n.Frame.JumpTables == 0 {
			t.Fatalf("__vfprintf_internal has no jump table: the test shows nothing")
		}
		sites := xsputnCalls(t, objdump, libc.File.Path, n.Func.Addr, n.Func.Addr+n.Func.Size)
		if len(sites) == 0 {
			t.Fatalf("objdump shows no call *0x38(%%reg) in __vfprintf_internal")
		}
		tables := libioSlotWords(t, libc, 0x38)
		file, ok := tableSlot(t, libc, "_IO_file_jumps", 0x38)
		if !ok {
			t.Fatalf("_IO_file_jumps has no __xsputn")
		}
		for _, site := range sites {
			var libio, hub []string
			for _, e := range n.Edges {
				if e.Site != site {
					continue
				}
				to := g.Nodes[e.To]
				switch {
				case e.Method == callgraph.MethodLibioVtable:
					libio = append(libio, to.Name())
					var targets []uint64
					for _, he := range to.Edges {
						if f := g.Nodes[he.To].Func; f != nil && he.Method == callgraph.MethodLibioVtable {
							targets = append(targets, f.Addr)
						}
					}
					if !slices.Contains(targets, file) {
						t.Errorf("strict=%v: %#x: %s lacks _IO_file_jumps' __xsputn %#x (stdout's)", strict, site, to.Name(), file)
					}
					for _, f := range targets {
						if !tables[f] {
							t.Errorf("strict=%v: %#x: %s reaches %#x, in slot +0x38 of no table", strict, site, to.Name(), f)
						}
					}
				case to.Hub:
					hub = append(hub, fmt.Sprintf("%s (%s)", to.Name(), e.Method))
				}
			}
			if strict {
				// Its step tables are bounded in the code only by a byte
				// index; their size comes from libc6-dbg's symbols, a
				// premise --strict does not take: the call stays a reason.
				unresolved := slices.ContainsFunc(n.Unresolved, func(c frame.CallSite) bool { return c.Addr == site })
				if len(libio) > 0 || len(hub) > 0 || !unresolved {
					t.Errorf("strict: __vfprintf_internal's call at %#x: libio-vtable edges %v, other hubs %v, unresolved %v: want a reason", site, libio, hub, unresolved)
				}
				continue
			}
			if len(libio) == 0 || len(hub) > 0 {
				t.Errorf("strict=%v: __vfprintf_internal's call at %#x: libio-vtable edges %v, other hubs %v", strict, site, libio, hub)
			}
		}
	}
}

var xsputnCall = regexp.MustCompile(`^\s*([0-9a-f]+):\s.*\bcall\s+\*0x38\(%r[a-z0-9]+\)`)

// xsputnCalls returns the addresses of the `call *0x38(%reg)` objdump
// shows in [lo, hi) of file.
func xsputnCalls(t *testing.T, objdump, file string, lo, hi uint64) []uint64 {
	t.Helper()
	out := testutil.Run(t, "", objdump, "-d", "--no-show-raw-insn",
		fmt.Sprintf("--start-address=%#x", lo), fmt.Sprintf("--stop-address=%#x", hi), file)
	var sites []uint64
	sc := bufio.NewScanner(bytes.NewReader([]byte(out)))
	for sc.Scan() {
		if m := xsputnCall.FindStringSubmatch(sc.Text()); m != nil {
			a, _ := strconv.ParseUint(m[1], 16, 64)
			sites = append(sites, a)
		}
	}
	return sites
}

// libioSlotWords returns the words at off of every table libc6-dbg's
// symbols name in __libc_IO_vtables.
func libioSlotWords(t *testing.T, libc *callgraph.Module, off int64) map[uint64]bool {
	t.Helper()
	d, err := elf.Open(libc.File.DebugSymbols)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sec := d.Section("__libc_IO_vtables")
	if sec == nil {
		t.Fatalf("%s: no __libc_IO_vtables", libc.File.DebugSymbols)
	}
	syms, _ := d.Symbols()
	words := map[uint64]bool{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_OBJECT || s.Value < sec.Addr || s.Value >= sec.Addr+sec.Size {
			continue
		}
		if w, ok := tableSlot(t, libc, s.Name, off); ok {
			words[w] = true
		}
	}
	if len(words) == 0 {
		t.Fatalf("no table in __libc_IO_vtables")
	}
	return words
}
