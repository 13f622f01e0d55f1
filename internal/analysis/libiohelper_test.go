package analysis

import (
	"encoding/binary"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestHelperPutStream: vfprintf's helper stream writes only to a stream
// that is not a helper (callgraph/libiohelper.go). On the cookie program
// (cookie.c, gcc -O2 -Wl,-z,now) and on helper.c (fprintf to unbuffered
// stderr, so the helper really runs), asserts that
//   - main lists no recursion through _IO_helper_overflow, and its
//     assumptions carry the model's premise;
//   - the jump-table calls in _IO_helper_overflow go to the functions of
//     the same slot's hub for the program's other calls, less the helper
//     tables' own function in that slot (read with objdump from libc: the
//     word at slot +56 of each _IO_helper_jumps, named by the debug
//     file's symbols), and to at least one function;
//   - with --strict the calls keep the helper's xsputn, no entry carries
//     the premise, and _IO_helper_overflow is on a cycle again;
//   - helper.c: _IO_helper_overflow as an entry is bounded, and a
//     gdb-measured run of it (its first call, which writes the helper's
//     8,192 bytes to stderr) stays at or below that bound.
func TestHelperPutStream(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	for _, src := range []string{"cookie/cookie.c", "helper/helper.c"} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			dir := t.TempDir()
			abs, _ := filepath.Abs(filepath.Join("testdata", src))
			bin := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".c"))
			testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", bin, abs)
			res, err := Run(bin, Options{})
			if err != nil {
				t.Fatal(err)
			}
			libc := requireLibcDebug(t, res)
			g := res.Graph
			helperPut := helperTableWords(t, objdump, libc, 56)
			t.Logf("helper tables' xsputn (objdump): %v", helperPut)

			main := entry(t, res, "main")
			t.Logf("main: bounded %v, at least %d B, reasons %s", main.Bounded, main.AtLeast, reasonSummary(main))
			for _, r := range main.Reasons {
				if r.Kind == "recursion" && (slices.ContainsFunc(r.Cycle, func(s string) bool { return strings.HasPrefix(s, "_IO_helper_overflow") }) ||
					strings.Contains(r.Detail, "_IO_helper_overflow")) {
					t.Errorf("main still lists the helper's recursion: %s", r.Detail)
				}
			}
			if !hasHelperPremise(main.Assumptions) {
				t.Errorf("main's assumptions do not carry the helper premise")
			}

			overflows := g.NodesNamed("_IO_helper_overflow")
			if len(overflows) == 0 {
				t.Fatalf("_IO_helper_overflow is not in the graph")
			}
			mainHub := slotHubTargets(g, "slot +56 of the", "whose streams the program can make)")
			if len(mainHub) == 0 {
				t.Fatalf("no hub for the program's other slot +56 calls")
			}
			// The put calls go to the main hub's functions, less the
			// helper's xsputn, which stays only where a table that is no
			// helper's holds it too (objdump: the slot of every table).
			others := otherTablesSlot(t, objdump, libc, 56)
			checked := 0
			for _, id := range overflows {
				got := vtableTargets(g, id)
				if got == nil {
					continue // a copy the program does not reach (not resolved)
				}
				checked++
				for a := range got {
					if !mainHub[a] {
						t.Errorf("_IO_helper_overflow %#x: put call target %#x is not in the slot's main hub %v", g.Nodes[id].Func.Addr, a, addrKeys(mainHub))
					}
				}
				for a := range mainHub {
					if !got[a] && !slices.Contains(helperPut, a) {
						t.Errorf("_IO_helper_overflow %#x: put call lost %#x, which is no helper's xsputn", g.Nodes[id].Func.Addr, a)
					}
				}
				for _, a := range helperPut {
					if got[a] && !others[a] {
						t.Errorf("_IO_helper_overflow %#x: its put call reaches the helper's own xsputn %#x, which no other table holds", g.Nodes[id].Func.Addr, a)
					}
				}
				if len(got) == 0 {
					t.Errorf("_IO_helper_overflow %#x: put call has no target", g.Nodes[id].Func.Addr)
				}
				t.Logf("_IO_helper_overflow %#x: put call targets %v (main hub %v)", g.Nodes[id].Func.Addr, addrKeys(got), addrKeys(mainHub))
			}
			if src == "cookie/cookie.c" {
				// Only file and cookie streams besides the helper: the
				// helper's xsputn is out.
				for id := range overflows {
					if got := vtableTargets(g, overflows[id]); got != nil && slices.ContainsFunc(helperPut, func(a uint64) bool { return got[a] }) {
						t.Errorf("cookie: the helper's xsputn is still a put call target")
					}
				}
			}
			if checked == 0 {
				t.Fatalf("no _IO_helper_overflow with a jump-table call in the graph")
			}

			if src == "helper/helper.c" {
				id := overflows[0]
				e := res.Bounds.Entry(bound.Spec{Node: id, Name: "_IO_helper_overflow"})
				for _, r := range e.Reasons {
					if r.Kind == "recursion" {
						t.Errorf("_IO_helper_overflow as an entry: recursion %s", r.Detail)
					}
				}
				if !e.Bounded {
					// Other models' parts (gconv steps, ld.so's debug printf).
					t.Logf("_IO_helper_overflow not bounded (not this model's reasons): %s", reasonNames(e.Reasons))
				} else {
					t.Logf("_IO_helper_overflow: bound %d B, path %v", e.Bound, stepNames(e.Path))
					depths := measuredDepths(t, dir, bin, "_IO_helper_overflow", 1)
					if len(depths) == 1 && depths[0] > e.Bound {
						t.Errorf("_IO_helper_overflow used %d B in a measured run, above its bound %d B", depths[0], e.Bound)
					}
				}
			}

			strict, err := Run(bin, Options{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			sg := strict.Graph
			onCycle := false
			for _, id := range sg.NodesNamed("_IO_helper_overflow") {
				got := vtableTargets(sg, id)
				if got != nil && !slices.ContainsFunc(helperPut, func(a uint64) bool { return got[a] }) {
					t.Errorf("--strict: _IO_helper_overflow's put call lost the helper's xsputn: %v", addrKeys(got))
				}
				onCycle = onCycle || reachesAgain(sg, id)
			}
			if !onCycle {
				t.Errorf("--strict: _IO_helper_overflow is on no cycle")
			}
			for _, e := range strict.Entries {
				if hasHelperPremise(e.Assumptions) {
					t.Errorf("--strict: %s carries the helper premise", e.Name)
				}
			}
			if e := entry(t, strict, "main"); e.Bounded {
				t.Errorf("--strict: main bounded")
			}
		})
	}
}

// helperTableWords reads, with objdump, the word at slot off of each of
// libc's _IO_helper_jumps tables (addresses from the debug file's symbol
// table).
func helperTableWords(t *testing.T, objdump string, libc *callgraph.Module, off uint64) []uint64 {
	t.Helper()
	var words []uint64
	for _, sym := range objdumpObjects(t, objdump, libc.File.DebugSymbols) {
		if sym.name != "_IO_helper_jumps" {
			continue
		}
		if w := objdumpWord(t, objdump, libc.File.Path, sym.addr+off); !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		t.Fatalf("no _IO_helper_jumps in %s", libc.File.DebugSymbols)
	}
	return words
}

// otherTablesSlot reads, with objdump, the word at slot off of each
// table of libc's __libc_IO_vtables section other than the helpers'
// (tables: the debug file's objects in the section).
func otherTablesSlot(t *testing.T, objdump string, libc *callgraph.Module, off uint64) map[uint64]bool {
	t.Helper()
	sec := libc.File.ELF.Section("__libc_IO_vtables")
	if sec == nil {
		t.Fatalf("no __libc_IO_vtables in %s", libc.File.Path)
	}
	out := map[uint64]bool{}
	for _, sym := range objdumpObjects(t, objdump, libc.File.DebugSymbols) {
		if sym.name == "_IO_helper_jumps" || sym.addr < sec.Addr || sym.addr >= sec.Addr+sec.Size {
			continue
		}
		out[objdumpWord(t, objdump, libc.File.Path, sym.addr+off)] = true
	}
	return out
}

type objdumpSym struct {
	name string
	addr uint64
}

// objdumpObjects lists the data objects of file's symbol table (objdump -t).
func objdumpObjects(t *testing.T, objdump, file string) []objdumpSym {
	t.Helper()
	out, err := exec.Command(objdump, "-t", file).Output()
	if err != nil {
		t.Fatalf("objdump -t %s: %v", file, err)
	}
	var syms []objdumpSym
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || !slices.Contains(f, "O") {
			continue
		}
		addr, err := strconv.ParseUint(f[0], 16, 64)
		if err == nil {
			syms = append(syms, objdumpSym{name: f[len(f)-1], addr: addr})
		}
	}
	return syms
}

// objdumpWord reads the 8-byte little-endian word at addr of file (objdump -s).
func objdumpWord(t *testing.T, objdump, file string, at uint64) uint64 {
	t.Helper()
	out, err := exec.Command(objdump, "-s", "--start-address="+strconv.FormatUint(at, 10), "--stop-address="+strconv.FormatUint(at+8, 10), file).Output()
	if err != nil {
		t.Fatalf("objdump -s: %v", err)
	}
	// The last line: "<addr> <hex words> <ascii>".
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	hexf := strings.Fields(lines[len(lines)-1])
	if len(hexf) < 3 {
		t.Fatalf("objdump -s at %#x: %q", at, out)
	}
	raw, err := hex.DecodeString(hexf[1] + hexf[2])
	if err != nil || len(raw) != 8 {
		t.Fatalf("objdump -s at %#x: %q", at, out)
	}
	return binary.LittleEndian.Uint64(raw)
}

func reasonNames(rs []bound.Reason) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Kind+"@"+r.Function)
	}
	return strings.Join(out, " ")
}

// vtableTargets returns the functions node id's FILE jump-table calls go
// to (through their hubs), by address; nil when it has none.
func vtableTargets(g *callgraph.Graph, id int) map[uint64]bool {
	var out map[uint64]bool
	for _, e := range g.Nodes[id].Edges {
		if e.Method != callgraph.MethodLibioVtable {
			continue
		}
		if out == nil {
			out = map[uint64]bool{}
		}
		for _, h := range g.Nodes[e.To].Edges {
			if f := g.Nodes[h.To].Func; f != nil {
				out[f.Addr] = true
			}
		}
	}
	return out
}

// slotHubTargets returns the functions of the FILE jump-table hubs whose
// names contain both parts, by address.
func slotHubTargets(g *callgraph.Graph, part, end string) map[uint64]bool {
	out := map[uint64]bool{}
	for _, n := range g.Nodes {
		if !n.Hub || !strings.Contains(n.Name(), part) || !strings.Contains(n.Name(), end) {
			continue
		}
		for _, e := range n.Edges {
			if f := g.Nodes[e.To].Func; f != nil {
				out[f.Addr] = true
			}
		}
	}
	return out
}

// reachesAgain says whether a successor of id reaches id.
func reachesAgain(g *callgraph.Graph, id int) bool {
	for _, e := range g.Nodes[id].Edges {
		if reachableFrom(g, e.To)[id] {
			return true
		}
	}
	return false
}

func hasHelperPremise(as []bound.Assumption) bool {
	return slices.ContainsFunc(as, func(a bound.Assumption) bool {
		return a.Kind == callgraph.PremiseGlibcModel && strings.HasPrefix(a.Detail, "vfprintf's helper stream")
	})
}

func sameAddrSet(a, b map[uint64]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func addrKeys(m map[uint64]bool) []string {
	var out []string
	for k := range m {
		out = append(out, "0x"+strconv.FormatUint(k, 16))
	}
	slices.Sort(out)
	return out
}
