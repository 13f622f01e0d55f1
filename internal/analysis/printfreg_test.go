package analysis

import (
	"bufio"
	"bytes"
	"debug/elf"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestPrintfRegistry: glibc's printf calls the handlers
// register_printf_specifier puts in __printf_function_table and
// __printf_arginfo_table, NULL until it runs. testdata/x86/printfreg.c
// registers none: every call the model cuts (method empty-registry) is,
// in objdump's listing of libc, a `call *` whose function loads one of the
// four tables (addresses from libc6-dbg's symbols) into a register, and
// that is all the calls of those functions the site has. At least one
// cut is proved (stays with --strict). Built with -DREGISTER, main calls
// register_printf_specifier: nothing is cut, and the program's arginfo_w
// is among the targets of __parse_one_specmb's call. main lists the
// glibc-model assumption the cuts in functions with a jump table rest on.
func TestPrintfRegistry(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/x86/printfreg.c")
	plain := filepath.Join(dir, "printfreg")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", plain, src)

	res, err := Run(plain, Options{})
	if err != nil {
		t.Fatal(err)
	}
	libc := requireLibcDebug(t, res)
	tables := printfTables(t, libc.File.DebugSymbols)
	loads := tableLoaders(t, objdump, libc.File.Path, tables)
	cut := emptyRegistrySites(res)
	if len(cut) == 0 {
		t.Fatalf("no call through printf's tables is cut, though nothing registers a handler")
	}
	for site, fn := range cut {
		if !slices.Contains(loads, site) {
			t.Errorf("the call at %#x in %s is cut, but objdump shows no load of printf's tables before it since the last label", site, res.Graph.Nodes[fn].Name())
		}
	}

	// The cuts in functions with a jump table rest on glibc's code's
	// shape: main says so (listed before the cap on assumptions).
	main := entry(t, res, "main")
	if !slices.ContainsFunc(main.Assumptions, func(a bound.Assumption) bool {
		return a.Kind == callgraph.PremiseGlibcModel && strings.Contains(a.Detail, "printf's registered handlers")
	}) {
		t.Errorf("main reaches printf's assumed cuts but lists no glibc-model assumption for them")
	}

	strict, err := Run(plain, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	proved := emptyRegistrySites(strict)
	if len(proved) == 0 {
		t.Errorf("with --strict no cut stands: none is proved")
	}
	for site := range proved {
		if _, ok := cut[site]; !ok {
			t.Errorf("with --strict the call at %#x is cut, without it not", site)
		}
	}

	reg := filepath.Join(dir, "printfreg-register")
	testutil.Run(t, dir, gcc, "-O2", "-DREGISTER", "-Wl,-z,now", "-o", reg, src)
	res, err = Run(reg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := emptyRegistrySites(res); len(c) > 0 {
		t.Errorf("-DREGISTER: main registers a handler, yet %d calls through printf's tables are cut", len(c))
	}
	// Each call cut before now reaches the program's handlers: through
	// the address-taken sets (hubs) its edges go to.
	g := res.Graph
	for site := range cut {
		var at []int
		for _, n := range g.Nodes {
			for _, e := range n.Edges {
				if e.Site == site && n.Module != nil && n.Module.File.Path == libc.File.Path && !n.Hub {
					at = append(at, e.To)
				}
			}
		}
		if !slices.ContainsFunc(at, func(to int) bool { return hubReaches(g, to, "arginfo_w") || hubReaches(g, to, "print_w") }) {
			t.Errorf("-DREGISTER: the call at %#x reaches neither arginfo_w nor print_w", site)
		}
	}
	if n := len(cut); n < 4 {
		t.Errorf("only %d calls cut: printf_positional's and __parse_one_spec*'s calls of the arginfo and va_arg tables are 4 or more", n)
	}
}

// hubReaches says whether node id is the function name, or a hub whose
// edges (through other hubs) reach it.
func hubReaches(g *callgraph.Graph, id int, name string) bool {
	seen := map[int]bool{id: true}
	stack := []int{id}
	for len(stack) > 0 {
		n := g.Nodes[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		if n.Name() == name {
			return true
		}
		if !n.Hub {
			continue
		}
		for _, e := range n.Edges {
			if !seen[e.To] {
				seen[e.To] = true
				stack = append(stack, e.To)
			}
		}
	}
	return false
}

// emptyRegistrySites maps the sites of the calls cut by the registry
// model to their nodes.
func emptyRegistrySites(res *Result) map[uint64]int {
	out := map[uint64]int{}
	for id, n := range res.Graph.Nodes {
		for _, e := range n.Edges {
			if e.Method == callgraph.MethodEmptyRegistry {
				out[e.Site] = id
			}
		}
	}
	return out
}

// printfTables reads the addresses of printf's four table pointers from
// libc's debug file.
func printfTables(t *testing.T, debug string) []uint64 {
	t.Helper()
	f, err := elf.Open(debug)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, s := range syms {
		switch s.Name {
		case "__printf_function_table", "__printf_arginfo_table", "__printf_modifier_table", "__printf_va_arg_table":
			out = append(out, s.Value)
		}
	}
	if len(out) != 4 {
		t.Fatalf("%s: %d of printf's 4 table pointers", debug, len(out))
	}
	return out
}

// tableLoaders reads objdump's listing of lib and returns the `call *`
// sites that follow, since the listing's last label (libc is stripped:
// its exported symbols), a load (`mov X(%rip),%reg`) of one of the tables.
func tableLoaders(t *testing.T, objdump, lib string, tables []uint64) []uint64 {
	t.Helper()
	out, err := exec.Command(objdump, "-d", "--no-show-raw-insn", lib).Output()
	if err != nil {
		t.Fatalf("objdump: %v", err)
	}
	load := regexp.MustCompile(`^\s*([0-9a-f]+):\s+mov\s+-?0x[0-9a-f]+\(%rip\),%r[a-z0-9]+\s+# ([0-9a-f]+)`)
	call := regexp.MustCompile(`^\s*([0-9a-f]+):\s+call\s+\*`)
	var sites []uint64
	loaded := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if bytes.HasSuffix([]byte(line), []byte(">:")) {
			loaded = false // a new symbol
		}
		if m := load.FindStringSubmatch(line); m != nil {
			a, _ := strconv.ParseUint(m[2], 16, 64)
			loaded = loaded || slices.Contains(tables, a)
		}
		if m := call.FindStringSubmatch(line); m != nil && loaded {
			a, _ := strconv.ParseUint(m[1], 16, 64)
			sites = append(sites, a)
		}
	}
	return sites
}
