package analysis

import (
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/testutil"
)

// mustEntry returns the result's entry called name.
func mustEntry(t *testing.T, res *Result, name string) Entry {
	t.Helper()
	for _, e := range res.Entries {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %s", name)
	return Entry{}
}

// TestActionableReasons: on a program with a real recursion through
// qsort's comparator, the recursion reason names a cycle of real calls
// from the program's own function (no assumed address-taken set in it),
// says how it comes back through the assumed sets, each once, and carries
// the [[recursion]] snippet; every reason has a group and every library
// reason the program's call to give a frame to.
func TestActionableReasons(t *testing.T) {
	dir := t.TempDir()
	bin := buildX86(t, dir, []string{"-O1"}, false, "actionable.c")
	res, err := Run(bin, Options{})
	if err != nil {
		t.Fatal(err)
	}
	main := mustEntry(t, res, "main")
	if main.Bounded {
		t.Fatal("main bounded, want the recursion through qsort's comparator")
	}
	var rec *bound.Reason
	for i, r := range main.Reasons {
		if r.Group == "" {
			t.Errorf("reason %s %s has no group", r.Kind, r.Function)
		}
		if r.Kind == "recursion" && r.Function == "sort_tree" {
			rec = &main.Reasons[i]
		}
		if r.Library == "libc.so.6" && !strings.Contains(r.Suggestion, `[[frame]] function = "`) {
			t.Errorf("libc reason %s %s: suggestion %q, want a [[frame]] for the program's call", r.Kind, r.Function, r.Suggestion)
		}
	}
	if rec == nil {
		t.Fatalf("no recursion reason at sort_tree: %+v", main.Reasons)
	}
	c := rec.Cycle
	if len(c) < 3 || c[0] != "sort_tree" || c[1] != "qsort (libc.so.6)" {
		t.Errorf("cycle %q, want it to start sort_tree -> qsort (libc.so.6)", c)
	}
	last := c[len(c)-1]
	base := func(s string) string { name, _, _ := strings.Cut(s, " ("); return name }
	if !slices.ContainsFunc(c[:len(c)-1], func(s string) bool { return base(s) == base(last) }) {
		t.Errorf("cycle %q does not close (its last name is no earlier one)", c)
	}
	for _, name := range c {
		if strings.HasPrefix(name, "[any of") {
			t.Errorf("cycle %q goes through an assumed set; want real calls first", c)
		}
	}
	if !strings.Contains(rec.Detail, "back to sort_tree through") || !strings.Contains(rec.Detail, "by_key -> sort_tree") {
		t.Errorf("detail %q does not say how the comparator comes back", rec.Detail)
	}
	for _, hub := range strings.Split(rec.Detail, "[any of ")[1:] {
		set := "[any of " + hub[:strings.Index(hub, "]")+1]
		if n := strings.Count(rec.Detail, set); n != 1 {
			t.Errorf("%s named %d times in %q", set, n, rec.Detail)
		}
	}
	if want := `[[recursion]] function = "sort_tree" depth = N`; !strings.Contains(rec.Suggestion, want) {
		t.Errorf("suggestion %q, want %q", rec.Suggestion, want)
	}

	// With --strict the table's call is a reason with its [[indirect]].
	strict, err := Run(bin, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range mustEntry(t, strict, "main").Reasons {
		if r.Kind == "indirect" && r.Function == "apply" {
			found = true
			if !strings.Contains(r.Suggestion, `[[indirect]] function = "apply" site = 0x`) {
				t.Errorf("indirect reason suggestion %q", r.Suggestion)
			}
		}
	}
	if !found {
		t.Error("--strict: no indirect reason at apply")
	}
}

// TestProvedAtLeast: an unbounded entry's at_least is the .su sum of a
// chain of calls the code names; the bound's own deepest path, which goes
// through the assumed address-taken set into the comparator's 3 KB frame,
// is deeper and not taken.
func TestProvedAtLeast(t *testing.T) {
	dir := t.TempDir()
	bin := buildX86(t, dir, []string{"-O1"}, false, "actionable.c")
	su := suFrames(testutil.ParseSU(t, dir))
	res, err := Run(bin, Options{NoLibraries: true})
	if err != nil {
		t.Fatal(err)
	}
	main := mustEntry(t, res, "main")
	if main.Bounded {
		t.Fatal("main bounded without libraries")
	}
	// main -> report -> measure (which calls strlen: no red zone) is the
	// deepest chain of named calls; qsort and strlen are external here.
	want := su["main"] + su["report"] + su["measure"]
	if main.AtLeast != want {
		t.Errorf("at_least %d, want the .su sum main+report+measure %d; path %s", main.AtLeast, want, showSteps(main.Steps))
	}
	if !slices.Equal(main.Path[:3], []string{"main", "report", "measure"}) {
		t.Errorf("path %v, want main -> report -> measure", main.Path)
	}
	if assumed := res.Bounds.Value(main.Node); assumed <= want {
		t.Errorf("the bound's depth through assumed edges is %d: the fixture no longer tells the two apart", assumed)
	}
	requirePathSums(t, res)

	// Followed into the libraries: the chain is still made of named calls,
	// the program's part has its .su frames, and it adds up.
	full, err := Run(bin, Options{})
	if err != nil {
		t.Fatal(err)
	}
	requirePathSums(t, full)
	m := mustEntry(t, full, "main")
	g := full.Graph
	for i, node := range m.PathNodes {
		n := g.Nodes[node]
		if n.Hub || strings.HasPrefix(m.Path[i], "[any of") {
			t.Fatalf("path %v goes through an assumed set", m.Path)
		}
		if n.Module == g.Modules[0] {
			if f, ok := su[n.Name()]; ok && m.Steps[i].Frame != f {
				t.Errorf("%s: frame %d on the path, .su %d", n.Name(), m.Steps[i].Frame, f)
			}
		}
		if i == 0 {
			continue
		}
		named := false
		for _, e := range g.Nodes[m.PathNodes[i-1]].Edges {
			if e.To == node && slices.Contains([]callgraph.Method{callgraph.MethodDirect, callgraph.MethodPLT, callgraph.MethodGOT, callgraph.MethodIfunc, callgraph.MethodAnnotated, callgraph.MethodInitArray, callgraph.MethodConstant}, e.Method) {
				named = true
			}
		}
		if !named {
			t.Errorf("%s -> %s is no call the code names", m.Path[i-1], m.Path[i])
		}
	}
}

// TestOwnCode: with the table's targets annotated, --own-code's number is
// the .su sum of the program's deepest own path plus the bound of the
// bounded library function it ends in (strlen), and printf and qsort,
// which have no bound, are listed by name at the depth they are called.
func TestOwnCode(t *testing.T) {
	dir := t.TempDir()
	bin := buildX86(t, dir, []string{"-O1"}, false, "actionable.c")
	su := suFrames(testutil.ParseSU(t, dir))
	cfg, err := config.Parse("test.toml", []byte(`
[[indirect]]
function = "apply"
targets = ["twice", "negate"]
`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(bin, Options{OwnCode: true, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	oc := mustEntry(t, res, "main").OwnCode
	if oc == nil || !oc.Bounded {
		t.Fatalf("own code %+v, want bounded", oc)
	}
	// measure's library calls: strlen, an ifunc (a stripped libc names
	// its implementations sub_...).
	fromMeasure := map[string]bool{}
	for _, id := range res.Graph.NodesNamed("measure") {
		for _, e := range res.Graph.Nodes[id].Edges {
			fromMeasure[res.Graph.Nodes[e.To].Name()] = true
		}
	}
	open := map[string]LibraryCall{}
	var strlenBound int64 = -1
	for _, lc := range oc.LibraryCalls {
		if !lc.Bounded {
			open[lc.Function] = lc
			continue
		}
		if fromMeasure[lc.Function] {
			strlenBound = max(strlenBound, *lc.Bound)
		}
	}
	if strlenBound < 0 {
		t.Fatalf("no bounded strlen among the library calls %+v", oc.LibraryCalls)
	}
	want := su["main"] + su["report"] + su["measure"] + strlenBound
	if *oc.Bound != want {
		t.Errorf("own code %d, want main+report+measure .su %d + strlen's bound %d = %d; path %s",
			*oc.Bound, su["main"]+su["report"]+su["measure"], strlenBound, want, showSteps(oc.Steps))
	}
	if n := len(oc.Steps); n != 4 || !oc.Steps[n-1].LibraryBound {
		t.Errorf("path %s, want main -> report -> measure -> strlen (its bound)", showSteps(oc.Steps))
	}
	for name, depth := range map[string]int64{"printf": su["main"] + su["report"], "qsort": su["main"] + su["sort_tree"]} {
		lc, ok := open[name]
		if !ok {
			t.Errorf("%s not listed as a library call without a bound (open: %v)", name, open)
			continue
		}
		if lc.CallDepth != depth || lc.Library != "libc.so.6" || lc.ReasonCount == 0 {
			t.Errorf("%s: called at %d in %q with %d reasons, want at %d in libc.so.6 with reasons", name, lc.CallDepth, lc.Library, lc.ReasonCount, depth)
		}
	}
}
