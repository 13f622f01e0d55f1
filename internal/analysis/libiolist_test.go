package analysis

import (
	"debug/elf"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestLibioListWalk: exit's flush (_IO_flush_all_lockp) calls slot +24
// (__overflow) of the table of each FILE on _IO_list_all. testdata/x86/
// libiolist.c, plain, writes with write(2) only: the functions that call
// reaches include _IO_file_jumps' (the standard streams') and none of
// _IO_helper_jumps' or _IO_str_jumps' own (each table's word at +24 read
// from libc's bytes at the address libc6-dbg's symbols give it), and the
// narrowing carries a glibc-model premise naming _IO_list_all. With
// --strict the flush keeps the slot's hub of every other call: no hub
// of _IO_list_all's streams, no such premise, and the helper's function
// among the targets. With -DWIDE (fopen, fprintf, fwide, wprintf) the
// flush reaches _IO_wfile_jumps' function, the wide file stream's.
func TestLibioListWalk(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/libiolist.c")
	plain := filepath.Join(dir, "libiolist")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", plain, src)
	wide := filepath.Join(dir, "libiolist-wide")
	testutil.Run(t, dir, gcc, "-O2", "-DWIDE", "-Wl,-z,now", "-o", wide, src)

	const slot = 24
	res, err := Run(plain, Options{})
	if err != nil {
		t.Fatal(err)
	}
	libc := requireLibcDebug(t, res)
	targets, premises := flushTargets(t, res, slot)
	file := tableSlots(t, libc, "_IO_file_jumps", slot)
	if len(file) == 0 || !slices.Contains(targets, file[0]) {
		t.Errorf("the flush's slot +%d targets %#x lack _IO_file_jumps' %#x (the standard streams')", slot, targets, file)
	}
	for _, name := range []string{"_IO_helper_jumps", "_IO_str_jumps"} {
		own := tableSlots(t, libc, name, slot)
		if len(own) == 0 {
			t.Fatalf("no %s in %s", name, libc.File.DebugSymbols)
		}
		for _, f := range own {
			if !slices.Contains(file, f) && slices.Contains(targets, f) {
				t.Errorf("the flush reaches %s's %#x, a table no stream on _IO_list_all has", name, f)
			}
		}
	}
	if !slices.ContainsFunc(premises, func(p callgraph.Premise) bool {
		return p.Kind == callgraph.PremiseGlibcModel && strings.Contains(p.Detail, "_IO_list_all")
	}) {
		t.Errorf("the flush's narrowed call carries no glibc-model premise on _IO_list_all: %+v", premises)
	}

	strict, err := Run(plain, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	targets, premises = flushTargets(t, strict, slot)
	for _, n := range strict.Graph.Nodes {
		if strings.Contains(n.Name(), "_IO_list_all") {
			t.Errorf("--strict: %s", n.Name())
		}
	}
	if len(premises) > 0 {
		t.Errorf("--strict: the flush's call carries premises %+v", premises)
	}
	helper := tableSlots(t, libc, "_IO_helper_jumps", slot)
	if !slices.ContainsFunc(helper, func(f uint64) bool { return slices.Contains(targets, f) }) {
		t.Errorf("--strict: the flush's targets %#x lack every _IO_helper_jumps' %#x", targets, helper)
	}

	res, err = Run(wide, Options{})
	if err != nil {
		t.Fatal(err)
	}
	libc = requireLibcDebug(t, res)
	targets, _ = flushTargets(t, res, slot)
	wfile := tableSlots(t, libc, "_IO_wfile_jumps", slot)
	if len(wfile) == 0 || !slices.Contains(targets, wfile[0]) {
		t.Errorf("-DWIDE: the flush's slot +%d targets %#x lack _IO_wfile_jumps' %#x", slot, targets, wfile)
	}
	for _, f := range tableSlots(t, libc, "_IO_helper_jumps", slot) {
		if slices.Contains(targets, f) && !slices.Contains(wfile, f) {
			t.Errorf("-DWIDE: the flush reaches _IO_helper_jumps' %#x", f)
		}
	}
}

// flushTargets returns the addresses of the functions libc's
// _IO_flush_all_lockp reaches through its FILE jump table calls of slot
// off, and the premises of the hubs those calls go to.
func flushTargets(t *testing.T, res *Result, off int64) ([]uint64, []callgraph.Premise) {
	t.Helper()
	g := res.Graph
	ids := g.NodesNamed("_IO_flush_all_lockp")
	if len(ids) == 0 {
		t.Fatal("no _IO_flush_all_lockp in the graph")
	}
	var targets []uint64
	var premises []callgraph.Premise
	found := false
	for _, id := range ids {
		for _, e := range g.Nodes[id].Edges {
			hub := g.Nodes[e.To]
			m := slotHubName.FindStringSubmatch(hub.Name())
			if e.Method != callgraph.MethodLibioVtable || !hub.Hub || m == nil || m[1] != strconv.FormatInt(off, 10) {
				continue
			}
			found = true
			premises = append(premises, hub.Premises...)
			for _, he := range hub.Edges {
				if to := g.Nodes[he.To]; to.Func != nil {
					targets = append(targets, to.Func.Addr)
				}
				premises = append(premises, g.Nodes[he.To].Premises...)
			}
		}
	}
	if !found {
		t.Fatalf("_IO_flush_all_lockp makes no FILE jump table call of slot +%d", off)
	}
	return targets, premises
}

// tableSlots returns the function in slot off of each of libc's tables
// called name (vfprintf and vfwprintf each have an _IO_helper_jumps).
func tableSlots(t *testing.T, libc *callgraph.Module, name string, off int64) []uint64 {
	t.Helper()
	d, err := elf.Open(libc.File.DebugSymbols)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	syms, _ := d.Symbols()
	f, err := elf.Open(libc.File.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []uint64
	for _, s := range syms {
		if s.Name != name || elf.ST_TYPE(s.Info) != elf.STT_OBJECT {
			continue
		}
		at := s.Value + uint64(off)
		for _, sec := range f.Sections {
			if sec.Type != elf.SHT_PROGBITS || at < sec.Addr || at+8 > sec.Addr+sec.Size {
				continue
			}
			data, err := sec.Data()
			if err != nil {
				t.Fatal(err)
			}
			if w := f.ByteOrder.Uint64(data[at-sec.Addr:]); w != 0 && !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	return out
}
