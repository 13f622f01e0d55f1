package analysis

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestArgumentCallbacks: glibc's __tfind calls the comparator its caller
// passes in rdx. Every caller passes a constant (libc's own, and the
// program's by_len), so the call goes to exactly those functions
// (method constant-argument), with and without --strict: the set is
// compared with what objdump shows each call of tfind loading into rdx.
// Built with -DPICK the program passes a comparator chosen at run time:
// no constant, and the call keeps what it had (the address-taken set).
func TestArgumentCallbacks(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/argcallback.c")
	prog := filepath.Join(dir, "argcallback")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", prog, src)
	for _, strict := range []bool{false, true} {
		res, err := Run(prog, Options{Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		libc := requireLibcDebug(t, res)
		g := res.Graph
		// The function's own node keeps the union; each copy made per
		// constant (callgraph.Graph.Original) calls one of its targets.
		var ids, copies []int
		for _, id := range g.NodesNamed("__tfind") {
			if g.Original(id) == id {
				ids = append(ids, id)
			} else {
				copies = append(copies, id)
			}
		}
		if len(ids) != 1 {
			t.Fatalf("__tfind: %d nodes", len(ids))
		}
		n := g.Nodes[ids[0]]
		for _, c := range copies {
			var to []int
			for _, e := range g.Nodes[c].Edges {
				if e.Method == callgraph.MethodArgument {
					to = append(to, e.To)
				}
			}
			if len(to) != 1 || !slices.ContainsFunc(n.Edges, func(e Edge) bool { return e.To == to[0] && e.Method == callgraph.MethodArgument }) {
				t.Errorf("strict=%v: a copy of __tfind calls %v by constant argument, not one of __tfind's targets", strict, to)
			}
		}
		var got []uint64
		for _, e := range n.Edges {
			to := g.Nodes[e.To]
			if e.Method != callgraph.MethodDirect && e.Method != callgraph.MethodArgument {
				t.Errorf("strict=%v: __tfind calls %s at %#x (%s), not a constant argument", strict, to.Name(), e.Site, e.Method)
			}
			if e.Method == callgraph.MethodArgument {
				if to.Module == g.Modules[0] {
					if to.Name() != "by_len" {
						t.Errorf("strict=%v: __tfind calls the program's %s", strict, to.Name())
					}
					continue
				}
				got = append(got, to.Func.Addr)
			}
		}
		if len(n.Assumed) > 0 || len(n.Unresolved) > 0 {
			t.Errorf("strict=%v: __tfind keeps %d assumed and %d unresolved calls", strict, len(n.Assumed), len(n.Unresolved))
		}
		want := rdxConstantsBefore(t, objdump, libc.File.Path, "__tfind")
		slices.Sort(got)
		got = slices.Compact(got)
		if !slices.Equal(got, want) {
			t.Errorf("strict=%v: __tfind's libc targets %#x, objdump shows the calls of tfind loading %#x into rdx", strict, got, want)
		}
		if !slices.ContainsFunc(n.Edges, func(e Edge) bool { return g.Nodes[e.To].Name() == "by_len" }) {
			t.Errorf("strict=%v: the program's comparator by_len is not among __tfind's targets", strict)
		}
	}

	pick := filepath.Join(dir, "argcallback-pick")
	testutil.Run(t, dir, gcc, "-O2", "-DPICK", "-Wl,-z,now", "-o", pick, src)
	res, err := Run(pick, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := res.Graph
	for _, id := range g.NodesNamed("__tfind") {
		for _, e := range g.Nodes[id].Edges {
			if e.Method == callgraph.MethodArgument {
				t.Errorf("-DPICK: __tfind's call at %#x goes to %s by constant argument, but main passes a comparator chosen at run time", e.Site, g.Nodes[e.To].Name())
			}
		}
		if len(g.Nodes[id].Assumed) == 0 {
			t.Errorf("-DPICK: __tfind's call has no assumed targets left")
		}
	}
}

// Edge is callgraph.Edge, for the test's closures.
type Edge = callgraph.Edge

// rdxConstantsBefore reads objdump's disassembly of lib and returns, for
// every call of the function fn, the address loaded into rdx before it
// (lea X(%rip),%rdx), or into the register rdx is copied from (mov
// %r15,%rdx; a callee-saved register set earlier in the function, read
// back in the listing's order), sorted; it fails the test for a call
// whose rdx is set another way.
func rdxConstantsBefore(t *testing.T, objdump, lib, fn string) []uint64 {
	t.Helper()
	out, err := exec.Command(objdump, "-d", "--no-show-raw-insn", lib).Output()
	if err != nil {
		t.Fatalf("objdump: %v", err)
	}
	call := regexp.MustCompile(`\scall\s+[0-9a-f]+ <` + regexp.QuoteMeta(fn) + `(@@[A-Z_0-9.]+)?>`)
	lea := regexp.MustCompile(`\slea\s+-?0x[0-9a-f]+\(%rip\),%(r[a-z0-9]+)\s+# ([0-9a-f]+)`)
	mov := regexp.MustCompile(`\smov\s+%(r[a-z0-9]+),%(r[a-z0-9]+)$`)
	writes := regexp.MustCompile(`,%([a-z0-9]+)$`)
	calleeSaved := []string{"rbx", "rbp", "r12", "r13", "r14", "r15"}
	var recent []string
	var addrs []uint64
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if call.MatchString(line) {
			// Back from the call: the instruction that last wrote rdx,
			// through register copies, must load a constant address.
			reg, found := "rdx", false
		back:
			for i := len(recent) - 1; i >= 0; i-- {
				if m := lea.FindStringSubmatch(recent[i]); m != nil && m[1] == reg {
					a, _ := strconv.ParseUint(m[2], 16, 64)
					addrs = append(addrs, a)
					found = true
					break
				}
				if m := mov.FindStringSubmatch(recent[i]); m != nil && m[2] == reg {
					reg = m[1]
					continue
				}
				if strings.Contains(recent[i], "\tcall") && !slices.Contains(calleeSaved, reg) {
					break
				}
				if m := writes.FindStringSubmatch(recent[i]); m != nil && strings.TrimPrefix(strings.TrimPrefix(m[1], "r"), "e") == strings.TrimPrefix(reg, "r") {
					break back
				}
			}
			if !found {
				t.Fatalf("objdump: no lea of a constant into rdx before %q", line)
			}
		}
		if strings.HasSuffix(line, ">:") {
			recent = recent[:0] // a new function
		}
		recent = append(recent, line)
	}
	if len(addrs) == 0 {
		t.Fatalf("objdump shows no call of %s in %s", fn, lib)
	}
	slices.Sort(addrs)
	return slices.Compact(addrs)
}
