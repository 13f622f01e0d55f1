package callgraph

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestRtldMcount: libc's _dl_mcount_wrapper_check calls
// GLRO(dl_mcount); the model sends the call to the function ld.so's
// initialiser puts there, which gdb shows the word holds in a run of the
// program (at exit, after every relocation), under the glibc-model
// premise; with --strict the call stays unresolved.
func TestRtldMcount(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	gdb := testutil.RequireTool(t, "gdb")
	dir := t.TempDir()
	src := filepath.Join(dir, "we.c")
	os.WriteFile(src, []byte("#include <unistd.h>\n#include <stdlib.h>\nint main(void){write(1,\"hi\\n\",3);exit(0);}\n"), 0o644)
	prog := filepath.Join(dir, "we")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", prog, src)
	out := testutil.Run(t, dir, gdb, "-nx", "-batch", "-ex", "break exit", "-ex", "run",
		"-ex", "info symbol _rtld_global_ro._dl_mcount", "-ex", "kill", prog)
	sm := regexp.MustCompile(`(?m)^(\S+) in section \.text of (\S+)$`).FindStringSubmatch(out)
	if sm == nil {
		t.Fatalf("gdb does not name what GLRO(dl_mcount) holds (no libc6-dbg?):\n%s", out)
	}
	held, heldIn := sm[1], filepath.Base(sm[2])

	for _, strict := range []bool{false, true} {
		g := buildModelledOpts(t, prog, Options{FollowLibraries: true, StackAlign: 16, Strict: strict})
		id := libcNode(t, g, "_dl_mcount_wrapper_check")
		n := g.Nodes[id]
		var site uint64
		for _, cs := range n.Frame.Calls {
			if cs.Kind.Indirect() {
				site = cs.Addr
			}
		}
		if site == 0 {
			t.Fatal("_dl_mcount_wrapper_check has no indirect call (libc has changed?)")
		}
		var targets []int
		var premises []Premise
		for _, e := range n.Edges {
			if e.Site == site {
				hub := g.Nodes[e.To]
				premises = append(premises, hub.Premises...)
				for _, he := range hub.Edges {
					targets = append(targets, he.To)
				}
			}
		}
		unresolved := slices.ContainsFunc(n.Unresolved, func(cs frame.CallSite) bool { return cs.Addr == site })
		if strict {
			if len(targets) > 0 || !unresolved {
				t.Errorf("--strict: the call at %#x goes to %d functions (unresolved %v), want unresolved", site, len(targets), unresolved)
			}
			continue
		}
		if len(targets) != 1 {
			t.Fatalf("the call at %#x goes to %d functions, want the one GLRO(dl_mcount) holds", site, len(targets))
		}
		to := g.Nodes[targets[0]]
		if !to.Named(held) || to.Module == nil || to.Module.Name != heldIn {
			t.Errorf("the call goes to %s, gdb says the word holds %s of %s", g.QualifiedName(targets[0]), held, heldIn)
		}
		if len(premises) != 1 || premises[0].Kind != PremiseGlibcModel {
			t.Errorf("premises %+v, want the one glibc-model premise", premises)
		}
	}
}
