package analysis

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestLibioSpilledCheckBlock: printf_positional (one copy for printf,
// one for wprintf) calls the stream's __xsputn slot after glibc's vtable
// check, whose block spills the vtable pointer around _IO_vtable_check
// and jumps back from more than 32 bytes in. Every `call *0x38(%reg)`
// objdump shows in each copy goes to the FILE jump table hub and to no
// address-taken hub, with and without --strict.
func TestLibioSpilledCheckBlock(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/printfpos.c")
	prog := filepath.Join(dir, "printfpos")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", prog, src)
	for _, strict := range []bool{false, true} {
		res, err := Run(prog, Options{Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		libc := requireLibcDebug(t, res)
		g := res.Graph
		var copies int
		for _, id := range g.NodesNamed("printf_positional") {
			n := g.Nodes[id]
			if n.Module != libc || n.Func == nil {
				continue
			}
			copies++
			sites := xsputnCalls(t, objdump, libc.File.Path, n.Func.Addr, n.Func.Addr+n.Func.Size)
			if len(sites) == 0 {
				t.Fatalf("objdump shows no call *0x38(%%reg) in printf_positional at %#x", n.Func.Addr)
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
					case to.Hub:
						hub = append(hub, fmt.Sprintf("%s (%s)", to.Name, e.Method))
					}
				}
				if len(libio) == 0 || len(hub) > 0 {
					t.Errorf("strict=%v: printf_positional %#x: call at %#x: libio-vtable edges %v, other hubs %v", strict, n.Func.Addr, site, libio, hub)
				}
			}
		}
		if copies < 2 {
			t.Fatalf("strict=%v: %d copies of printf_positional in the graph, want printf's and wprintf's", strict, copies)
		}
	}
}
