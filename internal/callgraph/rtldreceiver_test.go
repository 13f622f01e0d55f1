package callgraph

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// setterShape is ld.so's receiver in a program of its own: a static
// pointer that only set_and_run stores into (its parameter, then the old
// value back), called by signal_err when set.
const setterShape = `#include <stdio.h>
#include <stdlib.h>
typedef void (*fn)(const char *);
static fn receiver;
__attribute__((noinline)) static void recv_a(const char *s) { puts(s); }
__attribute__((noinline)) static void recv_b(const char *s) { fputs(s, stderr); }
__attribute__((noipa)) void set_and_run(fn f, void (*op)(void)) {
	fn old = receiver;
	receiver = f;
	op();
	receiver = old;
}
__attribute__((noinline)) void signal_err(const char *s) {
	if (receiver)
		receiver(s);
	else
		abort();
}
static void op1(void) { signal_err("x"); }
`

// TestSetterTargets: a variable only one function stores into, from its
// parameter (and its own old value put back), holds what the callers of
// that function pass: recv_a and recv_b, whose addresses objdump shows
// main loads; not when a caller passes a pointer read from memory, nor
// when another function stores into the variable.
func TestSetterTargets(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	build := func(name, src string) string {
		c := filepath.Join(dir, name+".c")
		os.WriteFile(c, []byte(src), 0o644)
		out := filepath.Join(dir, name)
		testutil.Run(t, dir, gcc, "-O2", "-fno-inline", "-o", out, c)
		return out
	}
	targetsOf := func(prog string) ([]string, string) {
		g := buildModelled(t, prog)
		m := g.Modules[0]
		word, ok := objectSymbol(m, "receiver")
		if !ok {
			t.Fatalf("%s: no symbol receiver", prog)
		}
		ids, why := g.setterTargets(m, word, "set_and_run")
		var names []string
		for _, id := range ids {
			names = append(names, g.Nodes[id].Name())
		}
		slices.Sort(names)
		return names, why
	}

	consts := build("consts", setterShape+`
int main(int argc, char **argv) {
	(void)argv;
	if (argc > 1)
		set_and_run(recv_a, op1);
	else
		set_and_run(recv_b, op1);
	return 0;
}
`)
	// What the compiler made: main loads both receivers' addresses.
	dis := testutil.Run(t, dir, objdump, "-d", "--no-show-raw-insn", consts)
	for _, f := range []string{"recv_a", "recv_b"} {
		if !regexp.MustCompile(`lea .*<` + f + `>`).MatchString(dis) {
			t.Fatalf("objdump: no lea of %s (the compiler inlined or changed the shape)", f)
		}
	}
	names, why := targetsOf(consts)
	if why != "" || !slices.Equal(names, []string{"recv_a", "recv_b"}) {
		t.Errorf("receiver holds %v (why %q), want [recv_a recv_b]", names, why)
	}

	fromMemory := build("memory", setterShape+`
fn volatile chosen = recv_a;
int main(void) {
	set_and_run(chosen, op1);
	return 0;
}
`)
	if names, why := targetsOf(fromMemory); why == "" {
		t.Errorf("a receiver read from a variable: proved %v, want not proved", names)
	}

	otherWriter := build("writer", setterShape+`
__attribute__((noinline)) void reset(void) { receiver = recv_b; }
int main(void) {
	reset();
	set_and_run(recv_a, op1);
	return 0;
}
`)
	if names, why := targetsOf(otherWriter); why == "" || !strings.Contains(why, "outside set_and_run") {
		t.Errorf("a second writer: %v (why %q), want not proved, naming the store outside", names, why)
	}
}

// TestRtldReceiver: in a program linked against this machine's glibc,
// ld.so's _dl_signal_cexception calls through receiver only the
// functions dl_main passes to _dl_receive_error (print_unresolved and
// print_missing_version, by the debug file's symbols, as nm reads them),
// proved from the code: the edge stands with --strict, with no premise;
// without the model it went to ld.so's address-taken set.
func TestRtldReceiver(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	nm := testutil.RequireTool(t, "nm")
	dir := t.TempDir()
	src := filepath.Join(dir, "we.c")
	os.WriteFile(src, []byte("#include <unistd.h>\n#include <stdlib.h>\nint main(void){write(1,\"hi\\n\",3);exit(0);}\n"), 0o644)
	prog := filepath.Join(dir, "we")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", prog, src)
	for _, strict := range []bool{false, true} {
		g := buildModelledOpts(t, prog, Options{FollowLibraries: true, StackAlign: 16, Strict: strict})
		var ld *Module
		for _, m := range g.Modules[1:] {
			if g.isInterpreter(m) {
				ld = m
			}
		}
		if ld == nil || ld.File.DebugSymbols == "" {
			t.Skip("SKIPPED: ld.so without its debug file (libc6-dbg)")
		}
		// The debug file's own names, read by nm, not by binfile.
		want := map[uint64]string{}
		out, err := exec.Command(nm, ld.File.DebugSymbols).Output()
		if err != nil {
			t.Fatal(err)
		}
		var cexception uint64
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue
			}
			addr, _ := strconv.ParseUint(f[0], 16, 64)
			switch f[2] {
			case "print_unresolved", "print_missing_version":
				want[addr] = f[2]
			case "_dl_signal_cexception":
				cexception = addr
			}
		}
		if len(want) != 2 || cexception == 0 {
			t.Fatalf("nm %s: receivers %v, _dl_signal_cexception %#x", ld.File.DebugSymbols, want, cexception)
		}
		fi, ok := ld.File.FunctionIndex(cexception)
		if !ok {
			t.Fatalf("no function at %#x", cexception)
		}
		n := g.Nodes[g.nodeFor(ld, fi)]
		var site uint64
		for _, cs := range n.Frame.Calls {
			if cs.Kind.Indirect() {
				site = cs.Addr
			}
		}
		var got, other []string
		method := MethodNone
		for _, e := range n.Edges {
			if e.Site != site {
				continue
			}
			method = e.Method
			hub := g.Nodes[e.To]
			if len(hub.Premises) > 0 {
				t.Errorf("strict=%v: the receiver's node carries premises %+v, want none (a proof)", strict, hub.Premises)
			}
			for _, he := range hub.Edges {
				to := g.Nodes[he.To]
				if to.Func != nil && want[to.Func.Addr] != "" {
					got = append(got, to.Name())
				} else {
					other = append(other, to.Name())
				}
			}
		}
		if method != MethodStoredArgument || len(got) != 2 || len(other) > 0 {
			t.Errorf("strict=%v: the call at %#x goes (%s) to %v and %d others (%.5q...), want the 2 receivers dl_main passes, as nm names them",
				strict, site, method, got, len(other), other)
		}
	}
}
