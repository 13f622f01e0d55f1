package analysis

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestLibioCheckShapes: calls through the stream's __xsputn slot after
// glibc's vtable check in the shapes beyond straight-line code, in
// functions testdata/x86/printfpos.c reaches: printf_positional (printf's
// and wprintf's copies), whose check block spills the vtable pointer
// around _IO_vtable_check and jumps back from 33 bytes in; _IO_padn,
// _IO_wpadn and outstring_converted_wide_string (vfprintf's and
// vfwprintf's), where the check sits in a loop and a branch taken when
// the pointer is in the section goes back to the call; and
// __vfwprintf_internal, whose jump tables the libio model reads only with
// a switch whose default case branches over the lookup to a join before
// the jump; and __printf_fp_l, whose one indirect call (`call *%rax`)
// joins paths that each load the slot after a check (two checks, each
// block loading it again after _IO_vtable_check). Every `call
// *0x38(%reg)` objdump shows in each (in __printf_fp_l every indirect call) goes to
// the FILE jump table hub and to no address-taken hub, with and without
// --strict; the hub's targets are words at +0x38 of the tables libc6-dbg
// names in __libc_IO_vtables.
func TestLibioCheckShapes(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/printfpos.c")
	prog := filepath.Join(dir, "printfpos")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", prog, src)
	want := map[string]int{"printf_positional": 2, "_IO_padn": 1, "_IO_wpadn": 1, "outstring_converted_wide_string": 2, "__vfwprintf_internal": 1, "__printf_fp_l": 1}
	for _, strict := range []bool{false, true} {
		res, err := Run(prog, Options{Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		libc := requireLibcDebug(t, res)
		g := res.Graph
		slots := libioSlotWords(t, libc, 0x38)
		for name, copiesWanted := range want {
			var copies int
			for _, id := range g.NodesNamed(name) {
				n := g.Nodes[id]
				if n.Module != libc || n.Func == nil {
					continue
				}
				copies++
				sites := xsputnCalls(t, objdump, libc.File.Path, n.Func.Addr, n.Func.Addr+n.Func.Size)
				if name == "__printf_fp_l" {
					sites = indirectCallsIn(t, objdump, libc.File.Path, n.Func.Addr, n.Func.Addr+n.Func.Size)
				}
				if len(sites) == 0 {
					t.Fatalf("objdump shows no call *0x38(%%reg) in %s at %#x", name, n.Func.Addr)
				}
				for _, site := range sites {
					var libio, hub []string
					for _, e := range n.Edges {
						if e.Site != site {
							continue
						}
						switch to := g.Nodes[e.To]; {
						case e.Method == callgraph.MethodLibioVtable:
							libio = append(libio, to.Name)
							for _, he := range to.Edges {
								if f := g.Nodes[he.To].Func; f != nil && !slots[f.Addr] {
									t.Errorf("strict=%v: %s: call at %#x reaches %s, in slot +0x38 of no table", strict, name, site, g.Nodes[he.To].Name)
								}
							}
						case to.Hub:
							hub = append(hub, fmt.Sprintf("%s (%s)", to.Name, e.Method))
						}
					}
					if len(libio) == 0 || len(hub) > 0 {
						t.Errorf("strict=%v: %s %#x: call at %#x: libio-vtable edges %v, other hubs %v", strict, name, n.Func.Addr, site, libio, hub)
					}
				}
			}
			if copies < copiesWanted {
				t.Errorf("strict=%v: %d copies of %s in the graph, want %d", strict, copies, name, copiesWanted)
			}
		}
	}
}

var indirectCall = regexp.MustCompile(`^\s*([0-9a-f]+):\s.*\bcall\s+\*`)

// indirectCallsIn returns the addresses of the indirect calls objdump
// shows in [lo, hi) of file.
func indirectCallsIn(t *testing.T, objdump, file string, lo, hi uint64) []uint64 {
	t.Helper()
	out := testutil.Run(t, "", objdump, "-d", "--no-show-raw-insn",
		fmt.Sprintf("--start-address=%#x", lo), fmt.Sprintf("--stop-address=%#x", hi), file)
	var sites []uint64
	for _, l := range strings.Split(out, "\n") {
		if m := indirectCall.FindStringSubmatch(l); m != nil {
			a, _ := strconv.ParseUint(m[1], 16, 64)
			sites = append(sites, a)
		}
	}
	return sites
}
