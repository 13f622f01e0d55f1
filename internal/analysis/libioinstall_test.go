package analysis

import (
	"debug/elf"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestLibioInstalled: a call through a FILE's jump table goes to that
// slot of the tables of streams the program can make. testdata/x86/
// cookiestream.c writes to stdout only: no slot hub reaches a function of
// _IO_cookie_jumps' own (an _IO_cookie_* function; the words read from
// libc's bytes at the tables libc6-dbg's symbols name), with or without --strict, and each hub holds
// the slot's function of _IO_file_jumps (the standard streams' table).
// With -DCOOKIE the program makes a cookie stream: the cookie table's
// function is in its slot's hub, and the program's count_write is
// reachable from main through it; also with -DPOINTER, where main calls
// fopencookie through a pointer it loads from the GOT (no edge of the
// graph reaches fopencookie: its address is imported).
func TestLibioInstalled(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/cookiestream.c")
	plain := filepath.Join(dir, "cookiestream")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", plain, src)
	for _, strict := range []bool{false, true} {
		res, err := Run(plain, Options{Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		libc := requireLibcDebug(t, res)
		hubs := slotHubs(res)
		if len(hubs) == 0 {
			t.Fatalf("strict=%v: no FILE jump table call", strict)
		}
		for off, targets := range hubs {
			file, okFile := tableSlot(t, libc, "_IO_file_jumps", off)
			if okFile && !slices.Contains(targets, file) {
				t.Errorf("strict=%v: slot +%d lacks _IO_file_jumps' function %#x (the standard streams')", strict, off, file)
			}
			if f, ok := tableSlot(t, libc, "_IO_cookie_jumps", off); ok && f != file && cookieOwn(t, libc, f) && slices.Contains(targets, f) {
				t.Errorf("strict=%v: slot +%d reaches _IO_cookie_jumps' own function %#x, but the program makes no cookie stream", strict, off, f)
			}
		}
	}

	for _, variant := range [][]string{{"-DCOOKIE"}, {"-DCOOKIE", "-DPOINTER"}} {
		cookie := filepath.Join(dir, "cookiestream"+strings.Join(variant, ""))
		testutil.Run(t, dir, gcc, append(append([]string{"-O2"}, variant...), "-Wl,-z,now", "-o", cookie, src)...)
		res, err := Run(cookie, Options{})
		if err != nil {
			t.Fatal(err)
		}
		libc := requireLibcDebug(t, res)
		found := false
		for off, targets := range slotHubs(res) {
			file, _ := tableSlot(t, libc, "_IO_file_jumps", off)
			if f, ok := tableSlot(t, libc, "_IO_cookie_jumps", off); ok && f != file && cookieOwn(t, libc, f) && slices.Contains(targets, f) {
				found = true
			}
		}
		if !found {
			t.Errorf("%v: no slot hub reaches a function of _IO_cookie_jumps' own", variant)
		}
		g := res.Graph
		reached := reachableFrom(g, entryNode(t, res, "main"))
		if !slices.ContainsFunc(g.NodesNamed("count_write"), func(id int) bool { return reached[id] }) {
			t.Errorf("%v: count_write is not reachable from main", variant)
		}
	}
}

var slotHubName = regexp.MustCompile(`^\[FILE jump table call: .*\(slot \+(\d+) `)

// slotHubs maps each FILE jump table slot the graph calls through to the
// addresses of its hub's targets.
func slotHubs(res *Result) map[int64][]uint64 {
	out := map[int64][]uint64{}
	for _, n := range res.Graph.Nodes {
		m := slotHubName.FindStringSubmatch(n.Name())
		if !n.Hub || m == nil {
			continue
		}
		off, _ := strconv.ParseInt(m[1], 10, 64)
		for _, e := range n.Edges {
			if to := res.Graph.Nodes[e.To]; to.Func != nil && e.Method == callgraph.MethodLibioVtable {
				out[off] = append(out[off], to.Func.Addr)
			}
		}
	}
	return out
}

// tableSlot returns the function in slot off of libc's table name: the
// table's address from the debug file's symbols, the word from libc.so's
// bytes there.
func tableSlot(t *testing.T, libc *callgraph.Module, name string, off int64) (uint64, bool) {
	t.Helper()
	d, err := elf.Open(libc.File.DebugSymbols)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	syms, _ := d.Symbols()
	var table uint64
	for _, s := range syms {
		if s.Name == name && elf.ST_TYPE(s.Info) == elf.STT_OBJECT {
			table = s.Value
		}
	}
	if table == 0 {
		t.Fatalf("%s: no symbol %s", libc.File.DebugSymbols, name)
	}
	f, err := elf.Open(libc.File.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The section's words hold the functions' addresses (relocated by
	// RELR, whose addend is the word itself, or RELATIVE with the same
	// addend).
	at := table + uint64(off)
	for _, s := range f.Sections {
		if s.Type != elf.SHT_PROGBITS || at < s.Addr || at+8 > s.Addr+s.Size {
			continue
		}
		data, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		w := f.ByteOrder.Uint64(data[at-s.Addr:])
		return w, w != 0
	}
	return 0, false
}

// cookieOwn says whether the function at addr is one of fopencookie's
// (_IO_cookie_*), by libc6-dbg's symbols.
func cookieOwn(t *testing.T, libc *callgraph.Module, addr uint64) bool {
	t.Helper()
	d, err := elf.Open(libc.File.DebugSymbols)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	syms, _ := d.Symbols()
	return slices.ContainsFunc(syms, func(s elf.Symbol) bool {
		return s.Value == addr && elf.ST_TYPE(s.Info) == elf.STT_FUNC && strings.HasPrefix(s.Name, "_IO_cookie_")
	})
}

// entryNode is the node of the entry named name.
func entryNode(t *testing.T, res *Result, name string) int {
	t.Helper()
	ids := res.Graph.NodesNamed(name)
	for _, id := range ids {
		if res.Graph.Nodes[id].Module == res.Graph.Modules[0] {
			return id
		}
	}
	t.Fatalf("no node %s in the program", name)
	return 0
}
