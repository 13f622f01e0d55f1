package callgraph

import (
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/beside"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/libcache"
)

// The argument model's decodes, flows and direct sites shared by the
// programs of one run (argshared.go) give each program the graph it has
// when analysed alone.

// argSharedPrograms are two programs whose libc calls go through the
// argument model (callbacks passed to tsearch, tfind, twalk,
// pthread_once, qsort), each passing different callbacks.
var argSharedPrograms = map[string]string{
	"cbA": callbackProgram,
	"cbB": `#include <stdio.h>
#include <search.h>
#include <pthread.h>
static int rev(const void *a, const void *b) { return *(const int *)b - *(const int *)a; }
static void show(const void *n, VISIT v, int d) { if (v == leaf) printf("%d %d\n", **(int **)n, d); }
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int ready;
static void init(void) { ready = 1; }
int main(int argc, char **argv) {
	static int v[] = {5, 4, 6};
	void *root = NULL;
	for (int i = 0; i < 3; i++) tsearch(&v[i], &root, rev);
	if (tfind(&v[argc % 3], &root, rev)) twalk(root, show);
	pthread_once(&once, init);
	return ready ? 0 : 1;
}
`,
}

// modelledQuiet is buildModelledOpts for another goroutine than the
// test's: nil where that fails.
func modelledQuiet(prog string, opts Options) *Graph {
	f, err := binfile.Open(prog)
	if err != nil {
		return nil
	}
	dec := x86.Decoder{}
	ps, ok := FindStart(f, dec)
	if !ok {
		return nil
	}
	g := Build(f, dec, opts)
	if _, ok := g.ModelStart(ps, LibcStartOptions{}); !ok {
		return nil
	}
	g.Resolve()
	g.ModelRuntime()
	return g
}

// TestArgumentModelSharedMatchesAlone: two programs analysed at once in
// one run, their libraries and the argument model's results shared
// (libcache.Cache.ForMany), and the first analysed again after them, have
// the graphs each has analysed alone (no cache: nothing shared); the
// shared run did share (the flow of libc's tsearch is not made again),
// and the model did link callbacks (the test shows something).
func TestArgumentModelSharedMatchesAlone(t *testing.T) {
	dir := t.TempDir()
	names := []string{"cbA", "cbB"}
	progs := map[string]string{}
	alone := map[string]string{}
	for _, name := range names {
		progs[name] = buildC(t, dir, name, argSharedPrograms[name], "-pthread")
		g := buildModelled(t, progs[name])
		alone[name] = graphDump(g)
		linked := 0
		for _, n := range g.Nodes {
			linked += len(slices.DeleteFunc(slices.Clone(n.Edges), func(e Edge) bool { return e.Method != MethodArgument }))
		}
		if linked == 0 {
			t.Fatalf("%s: no callback linked by the argument model alone: the test shows nothing", name)
		}
	}

	cache := libcache.Memory().ForMany()
	opts := Options{FollowLibraries: true, StackAlign: 16, Libraries: cache}
	// The two at once, as a run over many files analyses them.
	shared := map[string]*Graph{}
	var waits []func() *Graph
	for _, name := range names {
		waits = append(waits, beside.Start(func() *Graph { return modelledQuiet(progs[name], opts) }).Wait)
	}
	for i, w := range waits {
		shared[names[i]] = w()
		if shared[names[i]] == nil {
			t.Fatalf("%s: not modelled with the shared cache", names[i])
		}
	}
	again := buildModelledOpts(t, progs["cbA"], opts)
	for _, c := range []struct {
		name string
		g    *Graph
	}{{"cbA", shared["cbA"]}, {"cbB", shared["cbB"]}, {"cbA again", again}} {
		base := strings.Fields(c.name)[0]
		if got := graphDump(c.g); got != alone[base] {
			t.Errorf("%s with shared results differs from alone: %s", c.name, firstDiff(got, alone[base]))
		}
	}

	// The second analysis of cbA read libc's tsearch flow from the first.
	id := libcNode(t, again, "__tsearch")
	n := again.Nodes[id]
	made := false
	fl := derived(again, n.Module.File, again.linearKeyOf(derivedKeptFlow, n), func() *argFlow {
		made = true
		return nil
	})
	if made || fl == nil {
		t.Errorf("__tsearch's flow was not shared (made again %v, flow %v)", made, fl != nil)
	}
	if shared["cbA"].Modules[1].File != shared["cbB"].Modules[1].File {
		t.Errorf("the two programs do not share their first library's File")
	}
}

// TestLinearKeyNamesTailCalls: the key of a node's decode and flow
// changes with what decodeLinear reads of its frame (the indirect tail
// calls, when it has no jump table) and with --strict, and not with the
// rest of the frame.
func TestLinearKeyNamesTailCalls(t *testing.T) {
	g := &Graph{}
	fn := modelledLibcProgram(t).Nodes[0].Func
	n := &Node{Func: fn, Frame: frame.Frame{Calls: []frame.CallSite{{Addr: fn.Addr + 4, Kind: frame.Call}}}}
	k := g.linearKeyOf(derivedLinear, n)
	other := *n
	other.Frame.Calls = append(slices.Clone(n.Frame.Calls), frame.CallSite{Addr: fn.Addr + 8, Kind: frame.IndirectCall})
	if g.linearKeyOf(derivedLinear, &other) != k {
		t.Errorf("an indirect call (not a tail call) changed the key")
	}
	other.Frame.Calls = append(other.Frame.Calls, frame.CallSite{Addr: fn.Addr + 12, Kind: frame.IndirectTailCall})
	tail := g.linearKeyOf(derivedLinear, &other)
	if tail == k {
		t.Errorf("an indirect tail call did not change the key")
	}
	other.Frame.JumpTables = 1
	if g.linearKeyOf(derivedLinear, &other) == tail {
		t.Errorf("a jump table did not change the key (tailJump is then false everywhere)")
	}
	g.opts.Strict = true
	if g.linearKeyOf(derivedLinear, n) == k {
		t.Errorf("--strict did not change the key")
	}
	if g.linearKeyOf(derivedKeptFlow, n) == g.linearKeyOf(derivedLinear, n) {
		t.Errorf("a flow and a decode have the same key")
	}
}

// TestRecentAnswersMatchMadeAgain: in a run over one program, the linear
// decodes and flows a graph gives again from its last few answers
// (recentAnswers) leave it the graph it has when every answer is made
// again, and some were given again (the test shows something).
func TestRecentAnswersMatchMadeAgain(t *testing.T) {
	prog := buildC(t, t.TempDir(), "cbA", argSharedPrograms["cbA"], "-pthread")
	g := buildModelled(t, prog)
	if g.recent.hits == 0 {
		t.Fatalf("no linear decode or flow given again: the test shows nothing")
	}
	keepRecentAnswers = false
	defer func() { keepRecentAnswers = true }()
	again := buildModelled(t, prog)
	if again.recent.hits != 0 {
		t.Fatalf("%d answers given again with keepRecentAnswers off", again.recent.hits)
	}
	if got, want := graphDump(g), graphDump(again); got != want {
		t.Errorf("the graph with recent answers kept differs from the one with every answer made again: %s", firstDiff(got, want))
	}
}

// TestRecentAnswersKeyedByFile: an answer kept for one file is not given
// for the same key in another (a linearKey names a function by its
// address and size, which two libraries can share).
func TestRecentAnswersKeyedByFile(t *testing.T) {
	g := modelledLibcProgram(t)
	if len(g.Modules) < 2 {
		t.Fatalf("%d modules: no library to tell from the program", len(g.Modules))
	}
	a, b := g.Modules[0].File, g.Modules[1].File
	var r recentAnswers
	k := linearKey{what: derivedLinear, addr: 0x1000, size: 16}
	r.put(a, k, "a's")
	if v, ok := r.get(b, k); ok {
		t.Errorf("another file's answer given: %v", v)
	}
	if v, ok := r.get(a, k); !ok || v != "a's" {
		t.Errorf("the file's own answer not given: %v %v", v, ok)
	}
	for i := range recentAnswerSlots {
		r.put(b, linearKey{what: derivedLinear, addr: uint64(i)}, i)
	}
	if _, ok := r.get(a, k); ok {
		t.Errorf("an answer kept after %d others were kept", recentAnswerSlots)
	}
}
