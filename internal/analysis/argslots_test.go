package analysis

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestSpilledCallback: libspillcb's apply_all (testdata/x86/spillcb_lib.c,
// built at -O2 with no callee-saved register left to GCC) keeps its
// callback in a stack slot across the call of step and reloads it before
// `call *%reg`, as glibc's __tsearch does. The program passes the
// constant shallow; its address-taken set also holds deep (408 B). The
// call's targets are exactly shallow (method constant-argument), with and
// without --strict, and main's bound is the .su frames of main, apply_all
// and the deeper of step and shallow. Without the data flow through the
// frame's slots the call goes to {shallow, deep} (assumed; --strict: not
// bounded). Built with -DLEAK the program calls apply_leak, whose frame
// address (&s) goes to another function: its call keeps the assumed
// targets, both of them.
func TestSpilledCallback(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	libSrc, _ := filepath.Abs("testdata/x86/spillcb_lib.c")
	mainSrc, _ := filepath.Abs("testdata/x86/spillcb_main.c")
	lib := filepath.Join(dir, "libspillcb.so")
	prog := filepath.Join(dir, "spillcb")
	testutil.Run(t, dir, gcc, "-O2", "-fPIC", "-shared", "-fno-stack-protector", "-fstack-usage",
		"-ffixed-rbx", "-ffixed-rbp", "-ffixed-r12", "-ffixed-r13", "-ffixed-r14", "-ffixed-r15", "-o", lib, libSrc)
	testutil.Run(t, dir, gcc, "-O2", "-fno-stack-protector", "-fstack-usage", "-Wl,-z,now", "-o", prog, mainSrc,
		"-L"+dir, "-lspillcb", "-Wl,-rpath,"+dir)

	site, ok := spillReloadCall(t, objdump, lib, "apply_all")
	if !ok {
		t.Skip("SKIPPED: this gcc does not spill apply_all's callback to the stack and reload it before the call (see objdump -d libspillcb.so)")
	}
	su := map[string]int64{}
	for _, l := range testutil.ParseSU(t, dir) {
		su[l.Function] = l.Bytes
	}
	for _, fn := range []string{"main", "apply_all", "step", "shallow", "deep"} {
		if su[fn] == 0 {
			t.Fatalf(".su has no frame for %s: %v", fn, su)
		}
	}
	want := su["main"] + su["apply_all"] + max(su["step"], su["shallow"])
	for _, strict := range []bool{false, true} {
		res, err := Run(prog, Options{Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		g := res.Graph
		ids := g.NodesNamed("apply_all")
		if len(ids) != 1 {
			t.Fatalf("apply_all: %d nodes", len(ids))
		}
		n := g.Nodes[ids[0]]
		var targets []string
		for _, e := range n.Edges {
			if e.Site != site {
				continue
			}
			targets = append(targets, g.Nodes[e.To].Name())
			if e.Method != callgraph.MethodArgument {
				t.Errorf("strict=%v: apply_all's call at %#x goes to %s by %s, want %s", strict, site, g.Nodes[e.To].Name(), e.Method, callgraph.MethodArgument)
			}
		}
		if len(targets) != 1 || targets[0] != "shallow" {
			t.Errorf("strict=%v: apply_all's call at %#x goes to %v, want exactly [shallow]", strict, site, targets)
		}
		e := entry(t, res, "main")
		if !e.Bounded || e.Bound == nil || *e.Bound != want {
			t.Errorf("strict=%v: main bound %s (bounded %v), want %d: main %d + apply_all %d + max(step %d, shallow %d) from .su",
				strict, show(e.Bound), e.Bounded, want, su["main"], su["apply_all"], su["step"], su["shallow"])
		}
	}

	leakSrc, _ := filepath.Abs("testdata/x86/spillcb_leak.c")
	leakLib := filepath.Join(dir, "libspillleak.so")
	testutil.Run(t, dir, gcc, "-O2", "-fPIC", "-shared", "-fno-stack-protector",
		"-ffixed-rbx", "-ffixed-rbp", "-ffixed-r12", "-ffixed-r13", "-ffixed-r14", "-ffixed-r15", "-o", leakLib, leakSrc)
	leak := filepath.Join(dir, "spillcb-leak")
	testutil.Run(t, dir, gcc, "-O2", "-DLEAK", "-fno-stack-protector", "-Wl,-z,now", "-o", leak, mainSrc,
		"-L"+dir, "-lspillleak", "-Wl,-rpath,"+dir)
	site, ok = spillReloadCall(t, objdump, leakLib, "apply_leak")
	if !ok {
		t.Skip("SKIPPED: this gcc does not spill apply_leak's callback to the stack")
	}
	res, err := Run(leak, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := res.Graph
	ids := g.NodesNamed("apply_leak")
	if len(ids) != 1 {
		t.Fatalf("apply_leak: %d nodes", len(ids))
	}
	for _, e := range g.Nodes[ids[0]].Edges {
		if e.Site == site && e.Method == callgraph.MethodArgument {
			t.Errorf("apply_leak's call at %#x goes to %s by a constant argument, but the function passes a frame address on", site, g.Nodes[e.To].Name())
		}
	}
	if len(g.Nodes[ids[0]].Assumed) == 0 {
		t.Errorf("apply_leak's call at %#x has no assumed targets", site)
	}
}

// spillReloadCall reads objdump's listing of fn in lib and returns the
// address of its indirect call `call *%reg` when the code has the shape
// the test is about: the first argument stored to a stack slot (`mov
// %rdi,K(%rsp)`), a direct call after it, and `mov K(%rsp),%reg` before
// the indirect call, with no other write of that register in between.
func spillReloadCall(t *testing.T, objdump, lib, fn string) (uint64, bool) {
	t.Helper()
	out, err := exec.Command(objdump, "-d", "--no-show-raw-insn", lib).Output()
	if err != nil {
		t.Fatalf("objdump: %v", err)
	}
	_, body, ok := strings.Cut(string(out), "<"+fn+">:\n")
	if !ok {
		t.Fatalf("objdump: no %s in %s", fn, lib)
	}
	body, _, _ = strings.Cut(body, "\n\n")
	insn := regexp.MustCompile(`^\s*([0-9a-f]+):\s+(.*)$`)
	store := regexp.MustCompile(`^mov %rdi,(0x[0-9a-f]+)?\(%rsp\)$`)
	slot, stored, called := "", false, false
	var recent []string
	for _, line := range strings.Split(body, "\n") {
		m := insn.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		text := strings.Join(strings.Fields(m[2]), " ")
		if s := store.FindStringSubmatch(text); s != nil && !stored {
			slot, stored = s[1], true
		}
		if stored && strings.HasPrefix(text, "call ") && !strings.HasPrefix(text, "call *") {
			called = true
		}
		if r, isCall := strings.CutPrefix(text, "call *%"); isCall && stored && called && len(recent) > 0 {
			for i := len(recent) - 1; i >= 0; i-- {
				if recent[i] == "mov "+slot+"(%rsp),%"+r {
					addr, _ := strconv.ParseUint(m[1], 16, 64)
					return addr, true
				}
				if strings.HasSuffix(recent[i], ",%"+r) || strings.HasPrefix(recent[i], "call") {
					break
				}
			}
		}
		recent = append(recent, text)
	}
	return 0, false
}

// TestLibcVtableKeptInSlot: glibc's _IO_new_file_underflow keeps stdout's
// vtable pointer in a slot of its frame across the vtable check (`mov
// %rax,K(%rsp)` ... `jae check` ... `mov K(%rsp),%rax; call *0x18(%rax)`).
// That call, found in objdump's listing of the function, goes to the
// FILE jump tables' slot (method libio-vtable), with and without
// --strict, and nothing of it stays unresolved or assumed.
func TestLibcVtableKeptInSlot(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	src := filepath.Join(dir, "we.c")
	if err := os.WriteFile(src, []byte("#include <unistd.h>\n#include <stdlib.h>\nint main(void){write(1,\"hi\\n\",3);exit(0);}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "we")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", prog, src)
	for _, strict := range []bool{false, true} {
		res, err := Run(prog, Options{Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		libc := requireLibcDebug(t, res)
		g := res.Graph
		var id = -1
		for _, name := range []string{"_IO_new_file_underflow", "_IO_file_underflow"} {
			for _, i := range g.NodesNamed(name) {
				if g.Nodes[i].Module == libc {
					id = i
				}
			}
		}
		if id < 0 {
			t.Fatalf("strict=%v: no node of _IO_new_file_underflow in libc", strict)
		}
		n := g.Nodes[id]
		site, ok := slotReloadedCall(t, objdump, libc.File.Path, n.Func.Addr, n.Func.Size)
		if !ok {
			t.Skipf("SKIPPED: this libc's _IO_new_file_underflow has no call through a vtable pointer reloaded from its frame")
		}
		var methods []callgraph.Method
		for _, e := range n.Edges {
			if e.Site == site {
				methods = append(methods, e.Method)
			}
		}
		if len(methods) == 0 || slices.ContainsFunc(methods, func(m callgraph.Method) bool { return m != callgraph.MethodLibioVtable }) {
			t.Errorf("strict=%v: _IO_new_file_underflow's call at %#x: edges by %v, want %s only", strict, site, methods, callgraph.MethodLibioVtable)
		}
		if slices.ContainsFunc(n.Unresolved, func(c frame.CallSite) bool { return c.Addr == site }) ||
			slices.ContainsFunc(n.Assumed, func(a callgraph.Assumption) bool { return a.Site == site }) {
			t.Errorf("strict=%v: _IO_new_file_underflow's call at %#x is still unresolved or assumed", strict, site)
		}
	}
}

// slotReloadedCall returns, in objdump's listing of [start, start+size)
// of lib, the address of a call `call *K(%reg)` right after `mov
// S(%rsp),%reg`.
func slotReloadedCall(t *testing.T, objdump, lib string, start, size uint64) (uint64, bool) {
	t.Helper()
	out, err := exec.Command(objdump, "-d", "--no-show-raw-insn", fmt.Sprintf("--start-address=%#x", start), fmt.Sprintf("--stop-address=%#x", start+size), lib).Output()
	if err != nil {
		t.Fatalf("objdump: %v", err)
	}
	insn := regexp.MustCompile(`^\s*([0-9a-f]+):\s+(.*)$`)
	reload := regexp.MustCompile(`^mov (0x[0-9a-f]+)?\(%rsp\),%(r[a-z0-9]+)$`)
	call := regexp.MustCompile(`^call \*0x[0-9a-f]+\(%(r[a-z0-9]+)\)$`)
	prev := ""
	for _, line := range strings.Split(string(out), "\n") {
		m := insn.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		text := strings.Join(strings.Fields(m[2]), " ")
		if c := call.FindStringSubmatch(text); c != nil {
			if r := reload.FindStringSubmatch(prev); r != nil && r[2] == c[1] {
				addr, _ := strconv.ParseUint(m[1], 16, 64)
				return addr, true
			}
		}
		prev = text
	}
	return 0, false
}
