package analysis

import (
	"debug/elf"
	"fmt"
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
// the jump; __printf_fp_l, whose one indirect call (`call *%rax`)
// joins paths that each load the slot after a check (two checks, each
// block loading it again after _IO_vtable_check); and the functions whose
// check block holds a copy of the call or tail jump, after the call of
// _IO_vtable_check (_IO_wdefault_xsputn, whose other call is `call
// *0x18(%rbx)`, through memory; __overflow, __woverflow,
// _IO_file_underflow_maybe_mmap). Every `call
// *0x38(%reg)` objdump shows in each (in the last five every indirect call or jump) goes
// to the FILE jump table hub and to no address-taken hub, with and
// without --strict; the hub's targets are words at its slot of the
// tables libc6-dbg names in __libc_IO_vtables.
func TestLibioCheckShapes(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/printfpos.c")
	prog := filepath.Join(dir, "printfpos")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", prog, src)
	want := map[string]int{"printf_positional": 2, "_IO_padn": 1, "_IO_wpadn": 1, "outstring_converted_wide_string": 2, "__vfwprintf_internal": 1, "__printf_fp_l": 1,
		"_IO_wdefault_xsputn": 1, "__overflow": 1, "__woverflow": 1, "_IO_file_underflow_maybe_mmap": 1}
	// In these, every indirect call or jump objdump shows is the table's.
	every := map[string]bool{"__printf_fp_l": true, "_IO_wdefault_xsputn": true, "__overflow": true, "__woverflow": true, "_IO_file_underflow_maybe_mmap": true}
	for _, strict := range []bool{false, true} {
		res, err := Run(prog, Options{Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		libc := requireLibcDebug(t, res)
		g := res.Graph
		slots := map[int64]map[uint64]bool{}
		for name, copiesWanted := range want {
			var copies int
			for _, id := range g.NodesNamed(name) {
				n := g.Nodes[id]
				if n.Module != libc || n.Func == nil {
					continue
				}
				copies++
				sites := xsputnCalls(t, objdump, libc.File.Path, n.Func.Addr, n.Func.Addr+n.Func.Size)
				if every[name] {
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
							libio = append(libio, to.Name())
							m := hubSlot.FindStringSubmatch(to.Name())
							if m == nil {
								t.Errorf("strict=%v: %s: call at %#x: hub %q names no slot", strict, name, site, to.Name())
								continue
							}
							off, _ := strconv.ParseInt(m[1], 10, 64)
							if slots[off] == nil {
								slots[off] = slotWordsByAddress(t, libc, off)
							}
							for _, he := range to.Edges {
								if f := g.Nodes[he.To].Func; f != nil && !slots[off][f.Addr] {
									t.Errorf("strict=%v: %s: call at %#x reaches %s, in slot +%d of no table", strict, name, site, g.Nodes[he.To].Name(), off)
								}
							}
						case to.Hub:
							hub = append(hub, fmt.Sprintf("%s (%s)", to.Name(), e.Method))
						}
					}
					// Without --strict, a call only the code right after a
					// call of _IO_vtable_check reaches is cut by the
					// glibc-model premise (streams are glibc's own): no edge.
					cut := !strict && !slices.ContainsFunc(n.Edges, func(e callgraph.Edge) bool { return e.Site == site })
					if strict && byteIndexedTables[name] {
						// Tables bounded only by their symbols' sizes: a
						// premise --strict does not take; the call stays a
						// reason.
						unresolved := slices.ContainsFunc(n.Unresolved, func(c frame.CallSite) bool { return c.Addr == site })
						if len(libio) > 0 || len(hub) > 0 || !unresolved {
							t.Errorf("strict: %s: call at %#x: libio-vtable edges %v, other hubs %v, unresolved %v: want a reason", name, site, libio, hub, unresolved)
						}
						continue
					}
					if len(libio) == 0 && !cut || len(hub) > 0 {
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

var (
	indirectCall = regexp.MustCompile(`^\s*([0-9a-f]+):\s.*\b(call|jmp)\s+\*`)
	hubSlot      = regexp.MustCompile(`slot \+(\d+) `)
)

// indirectCallsIn returns the addresses of the indirect calls and jumps
// objdump shows in [lo, hi) of file.
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

// slotWordsByAddress returns the words at off of every table libc6-dbg's
// symbols place in __libc_IO_vtables, each table by its address (glibc
// has two static tables named _IO_helper_jumps, the narrow and the wide
// one), read from libc's bytes.
func slotWordsByAddress(t *testing.T, libc *callgraph.Module, off int64) map[uint64]bool {
	t.Helper()
	d, err := elf.Open(libc.File.DebugSymbols)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f, err := elf.Open(libc.File.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sec := f.Section("__libc_IO_vtables")
	if sec == nil {
		t.Fatalf("%s: no __libc_IO_vtables", libc.File.Path)
	}
	data, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	syms, _ := d.Symbols()
	words := map[uint64]bool{}
	for _, s := range syms {
		at := s.Value + uint64(off)
		if elf.ST_TYPE(s.Info) != elf.STT_OBJECT || s.Value < sec.Addr || at+8 > sec.Addr+sec.Size {
			continue
		}
		if w := f.ByteOrder.Uint64(data[at-sec.Addr:]); w != 0 {
			words[w] = true
		}
	}
	if len(words) == 0 {
		t.Fatalf("no table in __libc_IO_vtables")
	}
	return words
}

// byteIndexedTables are the functions whose jump tables the code bounds
// only by a byte index (vfprintf's step tables), read to their end only by
// the tables' symbols.
var byteIndexedTables = map[string]bool{"printf_positional": true, "__vfwprintf_internal": true, "__vfprintf_internal": true}
