package analysis

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/testutil"
)

// objdumpFunc is objdump's listing of the code of [addr, addr+size) in
// file: address and instruction text per line.
type objdumpLine struct {
	addr uint64
	text string
}

func objdumpFunc(t *testing.T, objdump, file string, addr, size uint64) []objdumpLine {
	t.Helper()
	out := testutil.Run(t, "", objdump, "-d", "--no-show-raw-insn", "--start-address="+strconv.FormatUint(addr, 10),
		"--stop-address="+strconv.FormatUint(addr+size, 10), file)
	var lines []objdumpLine
	re := regexp.MustCompile(`^\s*([0-9a-f]+):\s+(.*)$`)
	for _, l := range strings.Split(out, "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			a, _ := strconv.ParseUint(m[1], 16, 64)
			lines = append(lines, objdumpLine{a, strings.TrimSpace(m[2])})
		}
	}
	return lines
}

// subRSP are the addresses of `sub $imm,%rsp` with that imm in lines.
func subRSP(lines []objdumpLine, imm int64) []uint64 {
	var out []uint64
	want := "sub    $0x" + strconv.FormatInt(imm, 16) + ",%rsp"
	for _, l := range lines {
		if l.text == want {
			out = append(out, l.addr)
		}
	}
	return out
}

// TestCountedAllocaLoop: a loop with one 32-byte alloca (48 B of SP,
// `sub $0x30,%rsp`) per round, capped by `assert (n < 16)`, is bounded at
// its frame without the loop plus 16 allocas (countedloop.go), at -O1
// (GCC counts n from 1 and compares with 17) and -O2 (it tests n != 16
// at the bottom of the loop):
//   - the counted moves are objdump's `sub $0x30,%rsp` of the function;
//   - the frame less 16 x 48 B is GCC's .su figure, which counts one
//     alloca of a constant size, or that less the alloca;
//   - gdb, single-stepping counted("aaaaaaaaaaaaaaaa") (16 rounds: the
//     most the assert lets run), measures exactly the bound;
//   - --strict keeps the frame: the check calls the program's own
//     __assert_fail, which never returns, not a glibc check.
//
// (The entry itself is not bounded: the program's own assert is followed
// into libc's __assert_fail, whose message formatting has reasons.)
//
// What must stay Dynamic: no check (unchecked), a check whose failing
// branch goes on round the loop (overflowing), a counter that goes down
// (decremented). returning's check leaves the function: bounded too.
func TestCountedAllocaLoop(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	src, _ := filepath.Abs("testdata/x86/countedalloca.c")
	for _, opt := range []string{"-O1", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "countedalloca")
			testutil.Run(t, dir, gcc, opt, "-fno-pie", "-no-pie", "-fstack-usage", "-o", bin, src)
			su := map[string]testutil.SULine{}
			for _, l := range testutil.ParseSU(t, dir) {
				su[l.Function] = l
			}
			names := []string{"counted", "unchecked", "overflowing", "decremented", "returning"}
			res, err := Run(bin, Options{Entries: names})
			if err != nil {
				t.Fatal(err)
			}
			const rounds, move = 16, 0x30
			for _, name := range []string{"counted", "returning"} {
				fn := function(t, res, name)
				node := res.Graph.Nodes[fn.Node]
				if fn.Frame == nil {
					t.Fatalf("%s: frame %s (%s), want a static frame: the counter caps the allocas", name, fn.FrameKind, fn.Reason)
				}
				for _, r := range entry(t, res, name).Reasons {
					// (counted's own assert is followed into libc's
					// __assert_fail, which has reasons of its own.)
					if r.Function == name {
						t.Errorf("%s: entry lists itself: %s %s", name, r.Kind, r.Detail)
					}
				}
				subs := subRSP(objdumpFunc(t, objdump, bin, fn.Addr, fn.Size), move)
				if len(subs) == 0 || !slices.Equal(node.Frame.CountedMoves, subs) {
					t.Errorf("%s: counted moves %#x, objdump's sub $0x30,%%rsp %#x", name, node.Frame.CountedMoves, subs)
				}
				static := *fn.Frame - rounds*move
				if s, ok := su[name]; !ok || static != s.Bytes && static != s.Bytes-move {
					t.Errorf("%s: frame %d B less %d allocas of %d B is %d B; GCC's .su says %d B (%s), which counts one alloca or none", name, *fn.Frame, rounds, move, static, s.Bytes, s.Kind)
				}
				if len(node.Premises) != 0 {
					t.Errorf("%s: premises %+v, want none (the program's own assert)", name, node.Premises)
				}
			}
			counted := function(t, res, "counted")
			if d := measuredDepths(t, dir, bin, "*counted", 1, strings.Repeat("a", rounds)); d != nil && d[0] != *counted.Frame {
				t.Errorf("counted: gdb measured %d B with %d rounds, the bound is %d B", d[0], rounds, *counted.Frame)
			}
			for _, name := range []string{"unchecked", "overflowing", "decremented"} {
				fn := function(t, res, name)
				if fn.FrameKind != "dynamic" || !strings.Contains(fn.Reason, "SP moves down in a loop") {
					t.Errorf("%s: frame %s %s (%s), want dynamic: SP moves down in a loop no counter caps", name, fn.FrameKind, show(fn.Frame), fn.Reason)
				}
				if e := entry(t, res, name); e.Bounded {
					t.Errorf("%s: bounded at %s", name, show(e.Bound))
				}
			}
			strict, err := Run(bin, Options{Entries: []string{"counted"}, Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			if f := function(t, strict, "counted"); f.Frame == nil || *f.Frame != *counted.Frame {
				t.Errorf("--strict: counted's frame %s %s, want %d B as without", f.FrameKind, show(f.Frame), *counted.Frame)
			}
		})
	}
}

// rtldVdprintf returns ld.so's module and the node of its
// _dl_debug_vdprintf.
func rtldVdprintf(t *testing.T, res *Result) (*callgraph.Module, *callgraph.Node) {
	t.Helper()
	for _, n := range res.Graph.Nodes {
		if n.Func != nil && n.Module != nil && strings.HasPrefix(n.Module.Name, "ld-linux") && n.Func.Name() == "_dl_debug_vdprintf" {
			return n.Module, n
		}
	}
	t.Fatalf("no node for ld.so's _dl_debug_vdprintf")
	return nil, nil
}

// TestDlDebugVdprintfCounted: ld.so's _dl_debug_vdprintf (reached from
// every program's exit, through _dl_fini's LD_DEBUG output) takes one
// 48-byte alloca per integer conversion, and assert (niov < NIOVMAX)
// caps them. Checked against objdump of ld.so: its frame is the
// prologue's (return address, pushes, the first sub) plus (K+1) x 48 B,
// K the immediate of its `cmp $K,%ebx` checks (63), and the counted
// moves are its `sub $0x30,%rsp`; its assert's call is cut on the
// libc-checks premise, which main lists once, and main no longer lists
// _dl_debug_vdprintf among its reasons. Under --strict the frame stays
// Dynamic and says why.
func TestDlDebugVdprintfCounted(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/countedalloca.c")
	bin := filepath.Join(dir, "countedalloca")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", bin, src)
	res, err := Run(bin, Options{})
	if err != nil {
		t.Fatal(err)
	}
	requireLibcDebug(t, res)
	ld, n := rtldVdprintf(t, res)
	lines := objdumpFunc(t, objdump, ld.File.Path, n.Func.Addr, n.Func.Size)
	static := int64(8)
	var first int64
	checks := map[int64]bool{}
	cmp := regexp.MustCompile(`^cmp\s+\$0x([0-9a-f]+),%ebx$`)
	sub := regexp.MustCompile(`^sub\s+\$0x([0-9a-f]+),%rsp$`)
	for _, l := range lines {
		if first == 0 && strings.HasPrefix(l.text, "push ") {
			static += 8
		}
		if m := sub.FindStringSubmatch(l.text); m != nil && first == 0 {
			first, _ = strconv.ParseInt(m[1], 16, 64)
			static += first
		}
		if m := cmp.FindStringSubmatch(l.text); m != nil {
			k, _ := strconv.ParseInt(m[1], 16, 64)
			checks[k] = true
		}
	}
	if len(checks) != 1 {
		t.Fatalf("objdump of _dl_debug_vdprintf: checks of %%ebx against %v, want one constant (NIOVMAX-1)", checks)
	}
	var k int64
	for c := range checks {
		k = c
	}
	subs := subRSP(lines, 0x30)
	want := static + (k+1)*0x30
	if n.Frame.Kind != frame.Static || n.Frame.Size != want {
		t.Errorf("_dl_debug_vdprintf: frame %v %d B (%s), want static %d B = %d B prologue + %d allocas of 48 B", n.Frame.Kind, n.Frame.Size, n.Frame.Reason, want, static, k+1)
	}
	if !slices.Equal(n.Frame.CountedMoves, subs) {
		t.Errorf("_dl_debug_vdprintf: counted moves %#x, objdump's sub $0x30,%%rsp %#x", n.Frame.CountedMoves, subs)
	}
	if !slices.ContainsFunc(n.Edges, func(e callgraph.Edge) bool {
		return res.Graph.Nodes[e.To].Summary == callgraph.MethodLibcFatal.String()
	}) {
		t.Errorf("_dl_debug_vdprintf: no edge to glibc's fatal-error paths (its assert's call, cut on the libc-checks premise)")
	}
	main := entry(t, res, "main")
	for _, r := range main.Reasons {
		if strings.Contains(r.Function, "_dl_debug_vdprintf") {
			t.Errorf("main still lists %s: %s", r.Function, r.Detail)
		}
	}
	if k := len(slices.DeleteFunc(slices.Clone(main.Assumptions), func(a bound.Assumption) bool { return a.Kind != callgraph.PremiseLibcChecks })); k != 1 {
		t.Errorf("main lists the libc-checks premise %d times, want once", k)
	}

	strict, err := Run(bin, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, sn := rtldVdprintf(t, strict); sn.Frame.Kind != frame.Dynamic || !strings.Contains(sn.Frame.Reason, "--strict") {
		t.Errorf("--strict: _dl_debug_vdprintf frame %v (%s), want dynamic, saying --strict", sn.Frame.Kind, sn.Frame.Reason)
	}

	// A run: every call of _dl_debug_vdprintf under LD_DEBUG=all, its SP
	// after each alloca, against the bound.
	gdb := testutil.RequireTool(t, "gdb")
	var sb strings.Builder
	sb.WriteString("set pagination off\nset confirm off\nset environment LD_DEBUG=all\nset environment LD_DEBUG_OUTPUT=" + filepath.Join(dir, "lddebug") + "\nstarti\n")
	sb.WriteString("break *_dl_debug_vdprintf\ncommands\nsilent\nset $top = $rsp + 8\nprintf \"CALL\\n\"\ncontinue\nend\n")
	for _, a := range subs {
		sb.WriteString("break *(_dl_debug_vdprintf + " + strconv.FormatUint(a+4-n.Func.Addr, 10) + ")\ncommands\nsilent\nprintf \"DEPTH %d\\n\", $top - $rsp\ncontinue\nend\n")
	}
	sb.WriteString("continue\n")
	script := filepath.Join(dir, "vdprintf.gdb")
	if err := os.WriteFile(script, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(gdb, "-batch", "-nx", "-x", script, "--args", bin, "aaaa").CombinedOutput()
	calls, deepest, most, inCall := 0, int64(0), 0, 0
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case l == "CALL":
			calls++
			inCall = 0
		case strings.HasPrefix(l, "DEPTH "):
			d, _ := strconv.ParseInt(strings.TrimPrefix(l, "DEPTH "), 10, 64)
			deepest = max(deepest, d)
			inCall++
			most = max(most, inCall)
		}
	}
	if calls == 0 || most == 0 {
		t.Fatalf("gdb saw %d calls of _dl_debug_vdprintf and no alloca under LD_DEBUG=all (ptrace not allowed?):\n%s", calls, out)
	}
	t.Logf("LD_DEBUG=all: %d calls of _dl_debug_vdprintf, at most %d allocas in one, deepest SP after one %d B below the caller's; bound %d B", calls, most, deepest, n.Frame.Size)
	if deepest > n.Frame.Size {
		t.Errorf("gdb measured %d B in _dl_debug_vdprintf, above its bound %d B", deepest, n.Frame.Size)
	}
}
