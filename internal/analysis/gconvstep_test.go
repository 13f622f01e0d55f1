package analysis

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/testutil"
)

// ldsoWordsAnnotated names the targets of the two indirect calls outside
// the gconv model through which, until ld.so's words are modelled, every
// program reaches libc's address-taken set, and with it setlocale and
// __gconv_find_shlib, which would undo the model: _dl_mcount_wrapper_check's
// call through GLRO(dl_mcount) (rtld.c initialises it to _dl_mcount) and
// _dl_signal_cexception's through its receiver (only _dl_receive_error
// sets it, in rtld.c's trace modes: print_unresolved and
// print_missing_version). These are glibc 2.36's values, as a user's
// stackscope.toml would name them.
func ldsoWordsAnnotated() *config.Config {
	return &config.Config{Indirect: []config.Indirect{
		{Function: "_dl_mcount_wrapper_check", Targets: []string{"_dl_mcount"}},
		{Function: "_dl_signal_cexception", Targets: []string{"print_unresolved", "print_missing_version"}},
	}}
}

// TestGconvStepsCLocale: a program that writes wide characters without
// setlocale converts through the C locale's static gconv steps.
//   - Every call the model gives the static steps' functions
//     (MethodGconvStep) is, in objdump's listing, an indirect call or
//     jump, and it includes __libio_codecvt_out's; the node it goes to
//     has exactly the functions gdb prints in the C locale's static step
//     objects (to_wc, to_mb; not gconv_builtin.c's map, which only
//     __gconv_find_transform's steps copy) for that member (__fct, or
//     __btowc_fct).
//   - Those functions' calls of the next step are cut (no edge, not
//     unresolved) and each conversion function carries the premise that
//     it calls no next step.
//   - __gcc_personality_v0's jump through struct unwind_link's
//     personality routine, a mangled word at the offset of a step's
//     __fct, is not taken for a step call.
//   - The codecvt functions have no call left to the address-taken set;
//     no libc function calls __wcsmbs_load_conv; main lists the c-locale
//     premise once.
//   - With --strict the model is off: __wcsmbs_load_conv is called, the
//     codecvt calls are unresolved, no premise.
//   - After setlocale(LC_ALL, "") the model is off too: the calls of
//     __wcsmbs_load_conv stay, and the step calls are unresolved, their
//     reason naming the gconv modules dlopen can load.
func TestGconvStepsCLocale(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	objdump := testutil.RequireTool(t, "objdump")
	gdb := testutil.RequireTool(t, "gdb")
	dir := t.TempDir()
	build := func(name string) string {
		src, _ := filepath.Abs("testdata/x86/" + name + ".c")
		bin := filepath.Join(dir, name)
		testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", bin, src)
		return bin
	}
	wide, withLocale := build("widechars"), build("widelocale")

	res, err := Run(wide, Options{Config: ldsoWordsAnnotated()})
	if err != nil {
		t.Fatal(err)
	}
	libc := requireLibcDebug(t, res)
	g, a := res.Graph, res.Bounds

	want := staticStepFunctions(t, gdb, libc.File.Path, "to_wc", "to_mb")
	sites := gconvStepSites(g)
	if len(sites) == 0 {
		t.Fatalf("no call through a gconv step's function is given the static steps' functions")
	}
	insts := indirectInsts(t, objdump, libc.File.Path, sites)
	sawCodecvt := false
	for _, s := range sites {
		caller, hub := g.Nodes[s.from], g.Nodes[s.hub]
		if !insts[s.site] {
			t.Errorf("%s: the call at %#x is taken for a gconv step's, but objdump shows no indirect call or jump there", caller.Name(), s.site)
		}
		sawCodecvt = sawCodecvt || caller.Named("__libio_codecvt_out")
		member := "__fct"
		if strings.Contains(hub.Name(), "single-byte") {
			member = "__btowc_fct"
		}
		var got []uint64
		for _, e := range hub.Edges {
			got = append(got, g.Nodes[e.To].Func.Addr)
		}
		slices.Sort(got)
		if !slices.Equal(got, want[member]) {
			t.Errorf("%s's call at %#x goes to %s: %#x, want the %s functions gdb shows in libc's static steps, %#x", caller.Name(), s.site, hub.Name(), got, member, want[member])
		}
	}
	// glibc's __gcc_personality_v0 demangles and jumps to a word at the
	// same offset as a step's __fct, struct unwind_link's personality
	// routine (libgcc_s's): no step call.
	personality := libcNodesNamed(g, "__gcc_personality_v0")
	if len(personality) == 0 {
		t.Errorf("no __gcc_personality_v0 in libc's graph: the check that its jump is no step call sees nothing")
	}
	for _, id := range personality {
		n := g.Nodes[id]
		if !slices.ContainsFunc(n.Frame.Calls, func(cs frame.CallSite) bool { return cs.Kind.Indirect() }) {
			t.Errorf("__gcc_personality_v0 has no indirect call or jump: the check that it is no step call sees nothing")
		}
		for _, e := range n.Edges {
			if e.Method == callgraph.MethodGconvStep {
				t.Errorf("__gcc_personality_v0's jump at %#x (struct unwind_link's personality routine) is taken for a gconv step's", e.Site)
			}
		}
	}
	// The static steps' functions are the steps of one-step chains: their
	// calls of the next step are cut, under the premise that says so.
	for member, fns := range want {
		for _, addr := range fns {
			id := libcNodeAt(g, addr)
			if id < 0 {
				t.Errorf("no node for %s function %#x", member, addr)
				continue
			}
			n := g.Nodes[id]
			for _, e := range n.Edges {
				if e.Method == callgraph.MethodGconvStep || e.Method == callgraph.MethodAddressTaken {
					t.Errorf("%s's call at %#x goes to %s: a one-step chain's step calls no next step", n.Name(), e.Site, g.Nodes[e.To].Name())
				}
			}
			if len(n.Unresolved) > 0 {
				t.Errorf("%s has unresolved calls %v", n.Name(), n.Unresolved)
			}
			if !slices.ContainsFunc(n.Premises, func(p callgraph.Premise) bool { return strings.Contains(p.Detail, "does not call the next step") }) &&
				member == "__fct" {
				t.Errorf("%s does not carry the premise that it calls no next step", n.Name())
			}
		}
	}
	// __gconv_transliterate's step calls go to copies of the static
	// steps' functions that do not call it back, and the C locale's
	// replacement text (what the premise says they convert) is ASCII.
	translit := libcNodesNamed(g, "__gconv_transliterate")
	if len(translit) != 1 {
		t.Fatalf("%d nodes of __gconv_transliterate", len(translit))
	}
	sawCopies := false
	for _, e := range g.Nodes[translit[0]].Edges {
		if e.Method != callgraph.MethodGconvStep {
			continue
		}
		hub := g.Nodes[e.To]
		var got []uint64
		for _, c := range hub.Edges {
			cp := g.Nodes[c.To]
			got = append(got, cp.Func.Addr)
			if g.Original(c.To) == c.To {
				t.Errorf("__gconv_transliterate's call at %#x goes to %s's own node, not a copy", e.Site, cp.Name())
			}
			for _, x := range cp.Edges {
				if x.To == translit[0] {
					t.Errorf("the copy of %s that __gconv_transliterate calls calls it back at %#x", cp.Name(), x.Site)
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want["__fct"]) {
			t.Errorf("__gconv_transliterate's call at %#x goes to copies of %#x, want the static steps' %#x", e.Site, got, want["__fct"])
		}
		sawCopies = true
	}
	if !sawCopies {
		t.Errorf("__gconv_transliterate has no step call given the static steps' functions")
	}
	requireCTranslitASCII(t, gdb, libc.File.Path)
	if !sawCodecvt {
		t.Errorf("__libio_codecvt_out's step call is not among the calls given the static steps' functions")
	}
	for _, name := range []string{"__libio_codecvt_out", "__libio_codecvt_length", "__libio_codecvt_in"} {
		for _, id := range libcNodesNamed(g, name) {
			for _, e := range g.Nodes[id].Edges {
				if e.Method == callgraph.MethodAddressTaken {
					t.Errorf("%s's call at %#x still goes to %s", name, e.Site, g.Nodes[e.To].Name())
				}
			}
		}
	}
	if callers := loadConvCallers(g); len(callers) > 0 {
		t.Errorf("the locale stays C, yet %s call __wcsmbs_load_conv", callers)
	}
	mains := g.NodesNamed("main")
	if len(mains) != 1 {
		t.Fatalf("%d nodes named main", len(mains))
	}
	for _, r := range reasonsOf(a, mains[0]) {
		if strings.Contains(r.Detail, "__gconv_transliterate") || strings.Contains(r.Detail, "gconv step") {
			t.Errorf("main's reason %q goes through the gconv steps", r.Detail)
		}
	}
	if n := premiseCount(a, g, mains[0], callgraph.PremiseCLocale); n != 1 {
		t.Errorf("main lists the c-locale premise %d times, want once", n)
	}

	strict, err := Run(wide, Options{Strict: true, Config: ldsoWordsAnnotated()})
	if err != nil {
		t.Fatal(err)
	}
	if len(loadConvCallers(strict.Graph)) == 0 {
		t.Errorf("with --strict, no function calls __wcsmbs_load_conv")
	}
	if s := gconvStepSites(strict.Graph); len(s) > 0 {
		t.Errorf("with --strict, %d step calls go to the static steps' functions", len(s))
	}
	requireCodecvtUnresolved(t, strict.Graph, "with --strict", "")
	if n := premiseCount(strict.Bounds, strict.Graph, strict.Graph.NodesNamed("main")[0], callgraph.PremiseCLocale); n != 0 {
		t.Errorf("with --strict, main lists the c-locale premise %d times", n)
	}

	loc, err := Run(withLocale, Options{Config: ldsoWordsAnnotated()})
	if err != nil {
		t.Fatal(err)
	}
	if len(loadConvCallers(loc.Graph)) == 0 {
		t.Errorf("after setlocale, no function calls __wcsmbs_load_conv")
	}
	if s := gconvStepSites(loc.Graph); len(s) > 0 {
		t.Errorf("after setlocale, %d step calls go to the static steps' functions", len(s))
	}
	requireCodecvtUnresolved(t, loc.Graph, "after setlocale", "gconv module")
	for _, id := range libcNodesNamed(loc.Graph, "__gconv_transliterate") {
		for _, e := range loc.Graph.Nodes[id].Edges {
			if strings.Contains(loc.Graph.Nodes[e.To].Name(), "replacement text") {
				t.Errorf("after setlocale, __gconv_transliterate's call at %#x goes to %s", e.Site, loc.Graph.Nodes[e.To].Name())
			}
		}
	}
	if n := premiseCount(loc.Bounds, loc.Graph, loc.Graph.NodesNamed("main")[0], callgraph.PremiseCLocale); n != 0 {
		t.Errorf("after setlocale, main lists the c-locale premise %d times", n)
	}
	if a.Bounded(mains[0]) {
		t.Logf("main bounded at %d B: compare with a measured run", a.Entry(bound.Spec{Name: "main", Node: mains[0]}).Bound)
	} else {
		t.Logf("main NOT BOUNDED (%d reasons): no measured depth to compare", len(a.ReasonRanks(mains[0])))
	}
}

// libcNodeAt is the node of libc's function at addr, or -1.
func libcNodeAt(g *callgraph.Graph, addr uint64) int {
	for id, n := range g.Nodes {
		if n.Func != nil && n.Func.Addr == addr && n.Module != nil && strings.HasPrefix(n.Module.Name, "libc.so") {
			return id
		}
	}
	return -1
}

type stepSite struct {
	from, hub int
	site      uint64
}

// gconvStepSites are the calls the model gave the static steps' functions.
func gconvStepSites(g *callgraph.Graph) []stepSite {
	var out []stepSite
	for id, n := range g.Nodes {
		for _, e := range n.Edges {
			if e.Method == callgraph.MethodGconvStep {
				out = append(out, stepSite{id, e.To, e.Site})
			}
		}
	}
	return out
}

// loadConvCallers names the functions with an edge to __wcsmbs_load_conv.
func loadConvCallers(g *callgraph.Graph) []string {
	targets := libcNodesNamed(g, "__wcsmbs_load_conv")
	var out []string
	for _, n := range g.Nodes {
		for _, e := range n.Edges {
			if slices.Contains(targets, e.To) && !slices.Contains(out, n.Name()) {
				out = append(out, n.Name())
			}
		}
	}
	return out
}

// requireCodecvtUnresolved: __libio_codecvt_out's step call is in the
// graph and, with why "" (no model), unresolved; otherwise it goes to the
// node of the gconv modules' functions, which the analysis does not see:
// unknown, its reason containing why.
func requireCodecvtUnresolved(t *testing.T, g *callgraph.Graph, when, why string) {
	t.Helper()
	ids := libcNodesNamed(g, "__libio_codecvt_out")
	if len(ids) == 0 {
		t.Errorf("%s: no __libio_codecvt_out in the graph", when)
	}
	for _, id := range ids {
		n := g.Nodes[id]
		if why == "" {
			if len(n.Unresolved) == 0 {
				t.Errorf("%s: __libio_codecvt_out's step call is not unresolved (edges %v)", when, n.Edges)
			}
			continue
		}
		var toModules int
		for _, e := range n.Edges {
			if e.Method != callgraph.MethodGconvModule {
				continue
			}
			to := g.Nodes[e.To]
			if to.Frame.Kind != frame.Unknown || !strings.Contains(to.Frame.Reason, why) {
				t.Errorf("%s: __libio_codecvt_out's step call at %#x goes to %s (%s: %q), want the unknown gconv modules' node naming %q",
					when, e.Site, to.Name(), to.Frame.Kind, to.Frame.Reason, why)
				continue
			}
			toModules++
		}
		if toModules == 0 {
			t.Errorf("%s: __libio_codecvt_out's step call does not go to the gconv modules' node (edges %v, unresolved %v)", when, n.Edges, n.Unresolved)
		}
	}
}

func premiseCount(a *bound.Analysis, g *callgraph.Graph, id int, kind string) int {
	n := 0
	for _, x := range a.Entry(bound.Spec{Name: name(g, id), Node: id}).Assumptions {
		if x.Kind == kind {
			n++
		}
	}
	return n
}

// staticStepFunctions asks gdb for libc's static step objects named
// (with libc6-dbg's symbols and the file's relocations) and returns the
// addresses of the functions they hold, by member: __fct (fct in
// gconv_builtin.c's map), __btowc_fct (btowc_fct).
func staticStepFunctions(t *testing.T, gdb, libc string, objects ...string) map[string][]uint64 {
	t.Helper()
	args := []string{"-batch", "-nx", libc}
	for _, o := range objects {
		args = append(args, "-ex", "p "+o)
	}
	out, err := exec.Command(gdb, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`\b(__fct|fct|__btowc_fct|btowc_fct) = (0x[0-9a-f]+) <`)
	got := map[string][]uint64{}
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		member := "__" + strings.TrimPrefix(m[1], "__")
		v, _ := strconv.ParseUint(m[2], 0, 64)
		if !slices.Contains(got[member], v) {
			got[member] = append(got[member], v)
		}
	}
	if len(got["__fct"]) < len(objects) {
		t.Fatalf("gdb shows %d conversion functions in libc's static steps:\n%s", len(got["__fct"]), out)
	}
	for _, v := range got {
		slices.Sort(v)
	}
	return got
}

// indirectInsts says, for each site, whether objdump shows an indirect
// call or jump there (decoding from the site on: a stop address inside
// the instruction would show only its first byte).
func indirectInsts(t *testing.T, objdump, path string, sites []stepSite) map[uint64]bool {
	t.Helper()
	out := map[uint64]bool{}
	for _, s := range sites {
		b, err := exec.Command(objdump, "-d", "--no-show-raw-insn", "--start-address="+strconv.FormatUint(s.site, 10),
			"--stop-address="+strconv.FormatUint(s.site+16, 10), path).Output()
		if err != nil {
			t.Fatalf("objdump: %v", err)
		}
		re := regexp.MustCompile(`(?m)^\s*` + strconv.FormatUint(s.site, 16) + `:\s+(call|jmp)\s+\*`)
		out[s.site] = re.Match(b)
	}
	return out
}

// requireCTranslitASCII asks gdb for the C locale's transliteration data
// in libc (_nl_C_LC_CTYPE: the replacement table, by its index table, and
// the default missing character) and fails unless every character of it
// is ASCII, which the transliteration model's premise says.
func requireCTranslitASCII(t *testing.T, gdb, libc string) {
	t.Helper()
	ask := func(exprs ...string) []string {
		args := []string{"-batch", "-nx", "-ex", "set print elements unlimited", "-ex", "set print repeats unlimited", libc}
		for _, e := range exprs {
			args = append(args, "-ex", "p/x "+e)
		}
		out, err := exec.Command(gdb, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("gdb: %v\n%s", err, out)
		}
		var vals []string
		for _, line := range strings.Split(string(out), "\n") {
			if _, v, ok := strings.Cut(line, " = "); ok && strings.HasPrefix(line, "$") {
				vals = append(vals, v)
			}
		}
		if len(vals) != len(exprs) {
			t.Fatalf("gdb printed %d values for %d expressions:\n%s", len(vals), len(exprs), out)
		}
		return vals
	}
	words := func(v string) []uint64 {
		var out []uint64
		for _, f := range strings.FieldsFunc(strings.Trim(v, "{}"), func(r rune) bool { return r == ',' || r == ' ' }) {
			n, err := strconv.ParseUint(f, 0, 64)
			if err != nil {
				t.Fatalf("gdb printed %q in %.80s", f, v)
			}
			out = append(out, n)
		}
		return out
	}
	const values = "_nl_C_LC_CTYPE.values"
	idx := func(item string) string { return "(" + item + " & 0xffff)" }
	head := ask(values+"["+idx("_NL_CTYPE_TRANSLIT_TAB_SIZE")+"].word", values+"["+idx("_NL_CTYPE_TRANSLIT_DEFAULT_MISSING_LEN")+"].word")
	size, missing := words(head[0])[0], words(head[1])[0]
	if size == 0 {
		t.Fatalf("gdb shows no transliteration table in the C locale")
	}
	tos := words(ask("*" + values + "[" + idx("_NL_CTYPE_TRANSLIT_TO_IDX") + "].wstr@" + strconv.FormatUint(size, 10))[0])
	// The last replacement starts at the largest index and ends with two
	// NULs (a list of NUL-terminated alternatives): read well past it.
	end := slices.Max(tos) + 64
	tbl := words(ask("*" + values + "[" + idx("_NL_CTYPE_TRANSLIT_TO_TBL") + "].wstr@" + strconv.FormatUint(end, 10))[0])
	last := slices.Max(tos)
	for i := last; ; i++ {
		if i+1 >= uint64(len(tbl)) {
			t.Fatalf("the C locale's last replacement (at %d) does not end in the %d words read", last, len(tbl))
		}
		if tbl[i] == 0 && tbl[i+1] == 0 {
			tbl = tbl[:i+2]
			break
		}
	}
	if missing > 0 {
		tbl = append(tbl, words(ask("*" + values + "[" + idx("_NL_CTYPE_TRANSLIT_DEFAULT_MISSING") + "].wstr@" + strconv.FormatUint(missing, 10))[0])...)
	}
	for i, c := range tbl {
		if c >= 0x80 {
			t.Fatalf("the C locale's transliteration text has %#x (word %d): not ASCII", c, i)
		}
	}
	t.Logf("the C locale's transliteration: %d entries, %d words of replacement text, all ASCII", size, len(tbl))
}
