package callgraph

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestLazyResolverFrame: a program (built with -z now) calls a library
// built at test time without -z now, whose call into a second library runs
// ld.so's resolver. The graph links that call to the resolver modelled on
// this CPU (the program's own lazy slots keep the dynamic reason): a static frame, the
// "cpu" premise, one edge, to ld.so's _dl_fixup. Under gdb, the SP at
// work's entry and at _dl_fixup's entry (the resolver's deepest point
// before its callee) give the stack the resolver really used: at or below
// the node's depth at that call, and within 2 KiB of it. With Strict, the
// resolver is the dynamic node with its reason again.
func TestLazyResolverFrame(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("SKIPPED: the resolver is modelled on x86-64 only")
	}
	gcc := testutil.RequireTool(t, "gcc")
	gdb := testutil.RequireTool(t, "gdb")
	requireLibcDbg(t) // _dl_fixup's name, for gdb's breakpoint and the edge
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/lazyres")
	inner, lib, prog := filepath.Join(dir, "libinner.so"), filepath.Join(dir, "liblr.so"), filepath.Join(dir, "prog")
	testutil.Run(t, dir, gcc, "-O2", "-fPIC", "-shared", "-o", inner, filepath.Join(src, "inner.c"))
	testutil.Run(t, dir, gcc, "-O2", "-fPIC", "-shared", "-Wl,-z,lazy", "-o", lib, filepath.Join(src, "lib.c"), "-L"+dir, "-linner", "-Wl,-rpath,"+dir)
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", prog, filepath.Join(src, "prog.c"), "-L"+dir, "-llr", "-Wl,-rpath,"+dir)

	f, err := binfile.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// build returns the graph, the node lib_fn's lazy call links to, and
	// the depths below work's caller's SP at that call (work's call of
	// lib_fn, then lib_fn's through its lazy slot).
	build := func(strict bool) (*Graph, *Node, int64) {
		g := Build(f, x86.Decoder{}, Options{StackAlign: 16, FollowLibraries: true, Strict: strict})
		edge := func(name string, method Method) Edge {
			ids := g.NodesNamed(name)
			if len(ids) != 1 {
				t.Fatalf("%s: %d nodes", name, len(ids))
			}
			for _, e := range g.Nodes[ids[0]].Edges {
				if method == MethodNone && g.Nodes[e.To].Name() == "lib_fn" || e.Method == method {
					return e
				}
			}
			t.Fatalf("%s has no %q edge", name, method)
			return Edge{}
		}
		toLib, lazy := edge("work", MethodNone), edge("lib_fn", MethodLazy)
		return g, g.Nodes[lazy.To], toLib.Depth + lazy.Depth
	}

	g, res, depth := build(false)
	if res.Frame.Kind != frame.Static {
		t.Fatalf("resolver frame %v (%s), want static", res.Frame.Kind, res.Frame.Reason)
	}
	if len(res.Premises) != 1 || res.Premises[0].Kind != PremiseCPU {
		t.Errorf("resolver premises %+v, want one %q", res.Premises, PremiseCPU)
	}
	if len(res.Edges) != 1 || g.Nodes[res.Edges[0].To].Name() != "_dl_fixup" || res.Edges[0].Kind != frame.Call {
		t.Fatalf("resolver edges %+v, want one call of _dl_fixup", res.Edges)
	}
	// Below the SP of work's caller: work's depth at its call, the
	// resolver's at its call of _dl_fixup, the return address that pushes.
	static := depth + res.Edges[0].Depth + 8

	out, err := exec.Command(gdb, "-q", "-batch", "-nx",
		"-ex", "break *work", "-ex", "run", "-ex", "p/x $rsp",
		"-ex", "break *_dl_fixup", "-ex", "continue", "-ex", "p/x $rsp", "-ex", "bt 2", prog).CombinedOutput()
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, out)
	}
	sps := regexp.MustCompile(`(?m)^\$\d+ = 0x([0-9a-f]+)$`).FindAllStringSubmatch(string(out), -1)
	if len(sps) != 2 || !strings.Contains(string(out), "_dl_runtime_resolve") {
		t.Fatalf("gdb did not stop in _dl_fixup under the resolver:\n%s", out)
	}
	atWork, _ := strconv.ParseUint(sps[0][1], 16, 64)
	atFixup, _ := strconv.ParseUint(sps[1][1], 16, 64)
	measured := int64(atWork+8) - int64(atFixup) // below work's caller's SP
	t.Logf("at _dl_fixup's entry: %d B below work's caller measured, %d B modelled (%s)", measured, static, res.Premises[0].Detail)
	if measured > static {
		t.Errorf("measured %d B, above the modelled %d B", measured, static)
	}
	if static-measured > 2048 {
		t.Errorf("modelled %d B, more than 2 KiB above the measured %d B", static, measured)
	}

	_, res, _ = build(true)
	if res.Frame.Kind != frame.Dynamic || !strings.Contains(res.Frame.Reason, "lazy binding in liblr.so") && !strings.Contains(res.Frame.Reason, "lazy binding in prog") {
		t.Errorf("strict: resolver frame %v (%q), want dynamic with the lazy-binding reason", res.Frame.Kind, res.Frame.Reason)
	}
	if len(res.Premises) != 0 {
		t.Errorf("strict: resolver premises %+v", res.Premises)
	}
}

// requireLibcDbg skips (or fails, under STACKSCOPE_REQUIRE_TOOLS=1) without
// libc6-dbg, whose debug files name ld.so's local functions.
func requireLibcDbg(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/share/doc/libc6-dbg/copyright"); err == nil {
		return
	}
	if os.Getenv("STACKSCOPE_REQUIRE_TOOLS") == "1" {
		t.Fatal("libc6-dbg is not installed (run ./scripts/test.sh, which installs it)")
	}
	t.Skip("SKIPPED: libc6-dbg is not installed; ./scripts/test.sh installs it")
}

// TestGuardedAuditSlot: do_sym (reached by dlsym) calls ld.so's
// _dl_audit_symbind_alt through a lazy slot of libc.so.6 only under
// LD_AUDIT: gdb, with a breakpoint on the hook, sees the program exit
// without reaching it; the graph has no lazy-binding edge at that call,
// and do_sym carries the no-audit premise. With AuditHooks (--ld-audit)
// the edge is there.
func TestGuardedAuditSlot(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	gdb := testutil.RequireTool(t, "gdb")
	requireLibcDbg(t) // do_sym's name
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/lazyres/dlsym.c")
	prog := filepath.Join(dir, "dlsym")
	testutil.Run(t, dir, gcc, "-O2", "-o", prog, src)
	cmd := exec.Command(gdb, "-q", "-batch", "-nx", "-ex", "starti", "-ex", "break _dl_audit_symbind_alt", "-ex", "continue", prog)
	cmd.Env = append(os.Environ(), "LD_AUDIT=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Breakpoint 1 at 0x") || !strings.Contains(string(out), "exited normally") ||
		strings.Contains(string(out), "Breakpoint 1, ") {
		t.Fatalf("gdb: want an exit without reaching _dl_audit_symbind_alt (%v):\n%s", err, out)
	}

	f, err := binfile.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, audit := range []bool{false, true} {
		g := Build(f, x86.Decoder{}, Options{StackAlign: 16, FollowLibraries: true, AuditHooks: audit})
		ids := g.NodesNamed("do_sym")
		if len(ids) == 0 {
			t.Fatal("no node do_sym (dlsym not followed into libc.so.6?)")
		}
		hookSites, lazyAtHook, premise := 0, 0, false
		for _, id := range ids {
			n := g.Nodes[id]
			sites := map[uint64]bool{}
			for _, e := range n.Edges {
				if g.Nodes[e.To].Name() == "_dl_audit_symbind_alt" {
					sites[e.Site] = true
				}
			}
			hookSites += len(sites)
			for _, e := range n.Edges {
				if e.Method == MethodLazy && sites[e.Site] {
					lazyAtHook++
				}
			}
			for _, p := range n.Premises {
				premise = premise || p.Kind == PremiseNoAudit && strings.Contains(p.Detail, "_dl_audit_symbind_alt")
			}
		}
		if hookSites == 0 {
			t.Fatalf("audit %v: do_sym has no call of _dl_audit_symbind_alt", audit)
		}
		if !audit && (lazyAtHook != 0 || !premise) {
			t.Errorf("without --ld-audit: %d lazy-binding edges at the hook's call, premise %v; want none and the premise", lazyAtHook, premise)
		}
		if audit && (lazyAtHook == 0 || premise) {
			t.Errorf("with --ld-audit: %d lazy-binding edges at the hook's call, premise %v; want the edge and no premise", lazyAtHook, premise)
		}
	}
}
