package bound

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/testutil"
)

// coversSrc has what the reasons and assumptions come from: recursion
// (mutual and through a callback), a run-time SP move, indirect calls
// with assumed targets, a thread and libc's own code.
const coversSrc = `#include <alloca.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int odd(int n);
static int even(int n) { return n == 0 ? 1 : odd(n - 1); }
static int odd(int n) { return n == 0 ? 0 : even(n - 1); }
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
static void (*hooks[2])(int);
static void hook_a(int n) { char *p = alloca(n); memset(p, 1, n); printf("%d\n", p[n / 2]); }
static void hook_b(int n) { printf("%d\n", even(n)); }
static void *worker(void *arg) { int v[64]; for (int i = 0; i < 64; i++) v[i] = rand(); qsort(v, 64, sizeof v[0], cmp); hooks[v[0] & 1](v[1] & 255); return arg; }
int main(int argc, char **argv) {
	hooks[0] = hook_a; hooks[1] = hook_b;
	pthread_t t;
	pthread_create(&t, 0, worker, 0);
	pthread_join(t, 0);
	hooks[argc & 1](argc);
	return odd(atoi(argv[0]));
}
`

// TestCoversAsOwn: on a real program's graph (libc followed, its models
// applied), wherever the entries' analysis says it covers a node, Entry
// gives that node, as JSON, what an analysis of the node alone gives:
// value, path, reasons and assumptions in the same order. Nodes across
// the whole graph, main's libc callees and the thread's entry among
// them.
func TestCoversAsOwn(t *testing.T) {
	cc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "covers.c"), filepath.Join(dir, "covers")
	if err := os.WriteFile(src, []byte(coversSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, cc, "-O1", "-pthread", "-o", bin, src)
	f, err := binfile.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	g := callgraph.Build(f, x86.Decoder{}, callgraph.Options{FollowLibraries: true, StackAlign: 16})
	g.Resolve()
	g.ModelRuntime()
	g.ListStackArgs()
	g.ClipEdges()
	var roots []int
	for _, name := range []string{"main", "_start"} {
		fn, ok := f.Lookup(name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		fi, _ := f.FunctionIndex(fn.Addr)
		roots = append(roots, g.Node(g.Modules[0], fi))
	}
	a := New(g, roots, Options{})
	if a.reasonTiesMixed || a.assumeTiesMixed {
		t.Fatalf("the program's reasons or assumptions have ties of different content: the test covers nothing")
	}
	var analysed []int
	for id := range g.Nodes {
		if a.Analysed(id) {
			analysed = append(analysed, id)
		}
	}
	if len(analysed) < 200 {
		t.Fatalf("%d nodes analysed: not the graph of a program with libc", len(analysed))
	}
	wf, _ := f.Lookup("worker")
	if wf == nil {
		t.Fatal("no worker")
	}
	wi, _ := f.FunctionIndex(wf.Addr)
	sample := []int{g.Node(g.Modules[0], wi)}
	step := max(len(analysed)/60, 1)
	for i := 0; i < len(analysed); i += step {
		sample = append(sample, analysed[i])
	}
	unbounded, covered := 0, 0
	for _, id := range sample {
		if !a.CoversAsOwn([]int{id}) {
			t.Fatalf("node %d (%s) analysed but not covered", id, g.Nodes[id].Name())
		}
		covered++
		s := Spec{Name: g.Nodes[id].Name(), Node: id, Kind: "thread"}
		shared, own := a.Entry(s), New(g, []int{id}, Options{}).Entry(s)
		if !shared.Bounded {
			unbounded++
		}
		x, _ := json.Marshal(shared)
		y, _ := json.Marshal(own)
		if string(x) != string(y) {
			t.Errorf("%s: the entries' analysis gives\n%s\nits own gives\n%s", s.Name, x, y)
		}
	}
	t.Logf("%d nodes analysed, %d sampled, %d of them unbounded, %d reasons", len(analysed), covered, unbounded, a.Reasons())
	if unbounded == 0 || unbounded == covered {
		t.Errorf("%d of %d sampled nodes unbounded: want both kinds", unbounded, covered)
	}
	if a.CoversAsOwn([]int{len(g.Nodes)}) {
		t.Error("covers a node past the graph")
	}
}

// TestCoversAsOwnNotWithMixedTies: two reasons of different content that
// sort as equal (copies of one function, callgraph's argcontext.go, whose
// reasons differ in detail) are ordered by node, and the ranks follow the
// first of each content: an analysis of more nodes can then list a
// node's reasons in another order than the node's own analysis would.
// CoversAsOwn must say no.
func TestCoversAsOwnNotWithMixedTies(t *testing.T) {
	g := &callgraph.Graph{Decoder: x86.Decoder{}, Modules: []*callgraph.Module{{}}}
	add := func(name string, fr frame.Frame, to ...int) int {
		n := callgraph.NewNode(name, fr)
		for _, x := range to {
			n.Edges = append(n.Edges, callgraph.Edge{To: x, Kind: frame.Call})
		}
		g.Nodes = append(g.Nodes, n)
		return len(g.Nodes) - 1
	}
	dyn := func(why string) frame.Frame {
		return frame.Frame{Kind: frame.Dynamic, Size: 16, Reason: why, ReasonAddr: 0x40}
	}
	b1 := add("f", dyn("b"))
	a2 := add("f", dyn("a"))
	b3 := add("f", dyn("b"))
	thread := add("thread", frame.Frame{Size: 8}, a2, b3)
	main := add("main", frame.Frame{Size: 8}, b1, thread)
	all := New(g, []int{main}, Options{})
	if all.CoversAsOwn([]int{thread}) {
		t.Fatal("covers the thread despite reasons that sort as equal")
	}
	s := Spec{Name: "thread", Node: thread}
	details := func(e Entry) (out []string) {
		for _, r := range e.Reasons {
			out = append(out, r.Detail)
		}
		return out
	}
	// (Why it must: the orders differ.)
	if x, y := details(all.Entry(s)), details(New(g, []int{thread}, Options{}).Entry(s)); len(x) != 2 || len(y) != 2 || x[0] == y[0] {
		t.Errorf("reasons %v and %v: the case no longer shows the difference", x, y)
	}
	if !New(g, []int{a2}, Options{}).CoversAsOwn([]int{a2}) {
		t.Error("one reason per content: should cover")
	}
}
