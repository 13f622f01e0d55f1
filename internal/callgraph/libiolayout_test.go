package callgraph

import (
	"debug/elf"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestLibioLayout: what the FILE models read of libc (libiolayout.go,
// libioinstall.go), compared with libc6-dbg's symbols and libc's data.
// The vtable is the last word of the standard streams' struct
// _IO_FILE_plus (_IO_2_1_stdout_'s size less 8); stdout's _chain word
// holds &_IO_2_1_stdin_ (stdfiles.c chains stderr, stdout, stdin); the
// data words that point into _IO_wfile_jumps (outside the symbol table)
// are exactly the _wide_vtable fields of _IO_wide_data_0/1/2, and none
// pointing into _IO_file_jumps is one. The sweep finds _IO_fwide and
// _IO_new_file_fopen among the copiers of _wide_vtable into vtable, and
// the functions that link a stream (_IO_link_in's callers and theirs)
// include fdopen and _IO_new_file_init_internal; no function computing
// _IO_str_jumps' address is one of them.
func TestLibioLayout(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "we.c")
	os.WriteFile(src, []byte("#include <unistd.h>\n#include <stdlib.h>\nint main(void){write(1,\"hi\\n\",3);exit(0);}\n"), 0o644)
	prog := filepath.Join(dir, "we")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", prog, src)
	f, err := binfile.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := Build(f, x86.Decoder{}, Options{StackAlign: 16, FollowLibraries: true})
	g.loadLibraries()
	var m *Module
	for _, mod := range g.Modules[1:] {
		if strings.HasPrefix(mod.Name, "libc.so") {
			m = mod
		}
	}
	if m == nil || m.File.DebugSymbols == "" {
		if os.Getenv("STACKSCOPE_REQUIRE_TOOLS") == "1" {
			t.Fatal("no libc.so with debug symbols (install libc6-dbg)")
		}
		t.Skip("SKIPPED: no libc.so with debug symbols; ./scripts/test.sh installs libc6-dbg")
	}
	syms := map[string]elf.Symbol{}
	for _, s := range m.File.Symbols() {
		if elf.ST_TYPE(s.Info) == elf.STT_OBJECT {
			syms[s.Name] = s
		}
	}
	stdout, stdin := syms["_IO_2_1_stdout_"], syms["_IO_2_1_stdin_"]
	if stdout.Size == 0 || stdin.Value == 0 {
		t.Fatalf("no _IO_2_1_stdout_/_IO_2_1_stdin_ in %s", m.File.DebugSymbols)
	}
	l := libioLayoutOf(m)
	if l == nil {
		t.Fatal("no layout read from libc's DWARF")
	}
	if l.vtable != int64(stdout.Size)-8 {
		t.Errorf("vtable at +%#x, want +%#x (_IO_2_1_stdout_ is %d bytes)", l.vtable, stdout.Size-8, stdout.Size)
	}
	words := m.File.SectionWords(".data")
	if got := words[stdout.Value+uint64(l.chain)]; got != stdin.Value {
		t.Errorf("_chain at +%#x: stdout's word there is %#x, want &_IO_2_1_stdin_ %#x", l.chain, got, stdin.Value)
	}
	var wide []uint64
	for _, name := range []string{"_IO_wide_data_0", "_IO_wide_data_1", "_IO_wide_data_2"} {
		s, ok := syms[name]
		if !ok {
			t.Fatalf("no %s", name)
		}
		wide = append(wide, s.Value+uint64(l.wideVtable))
	}
	slices.Sort(wide)
	held := func(name string) []uint64 {
		s := syms[name]
		var out []uint64
		for _, w := range m.File.DataWordsInto(s.Value, s.Value+s.Size) {
			if !inSymbolTable(m, w) {
				out = append(out, w)
			}
		}
		return out
	}
	if got := held("_IO_wfile_jumps"); !slices.Equal(got, wide) {
		t.Errorf("data words into _IO_wfile_jumps at %#x, want the _wide_vtable fields %#x", got, wide)
	}
	for _, w := range held("_IO_wfile_jumps") {
		if !l.wideVtableWord(w) {
			t.Errorf("%#x not read as a _wide_vtable field", w)
		}
	}
	for _, w := range held("_IO_file_jumps") {
		if l.wideVtableWord(w) {
			t.Errorf("%#x (into _IO_file_jumps) read as a _wide_vtable field", w)
		}
	}

	sec := m.File.ELF.Section(libioSection)
	var tables []libioTable
	for _, name := range []string{"_IO_file_jumps", "_IO_str_jumps"} {
		tables = append(tables, libioTable{name: name, addr: syms[name].Value, size: syms[name].Size})
	}
	slices.SortFunc(tables, func(a, b libioTable) int { return int(a.addr) - int(b.addr) })
	scan, ok := g.libioInstallers(m, sec, tables)
	if !ok {
		t.Fatal("no sweep")
	}
	named := func(addrs []uint64) []string {
		var out []string
		for _, a := range addrs {
			if fn, ok := m.File.Containing(a); ok {
				out = append(out, append([]string{fn.Name(), fn.LinkName}, fn.Aliases...)...)
			}
		}
		return out
	}
	copiers := named(scan.copiers)
	for _, want := range []string{"_IO_fwide", "_IO_new_file_fopen"} {
		if !slices.Contains(copiers, want) {
			t.Errorf("copiers %v lack %s", copiers, want)
		}
	}
	linkers := named(scan.linkers)
	for _, want := range []string{"_IO_link_in", "_IO_new_file_init_internal", "fdopen", "__fopen_internal"} {
		if !slices.Contains(linkers, want) {
			t.Errorf("linkers %v lack %s", linkers, want)
		}
	}
	for i, tb := range tables {
		if tb.name == "_IO_str_jumps" && scan.linked(i) {
			t.Errorf("a function that computes _IO_str_jumps' address (%v) links a stream", named(scan.inside[i]))
		}
		if tb.name == "_IO_file_jumps" && !scan.linked(i) {
			t.Errorf("no function that computes _IO_file_jumps' address (%v) links a stream", named(scan.inside[i]))
		}
	}
}
