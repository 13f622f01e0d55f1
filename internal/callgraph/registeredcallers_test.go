package callgraph

import (
	"slices"
	"testing"
)

// registeredProgram registers an exit handler and passes a callback
// (qsort's comparison), and reaches dlsym: its registered calls are
// widened (widenRegisteredSites).
const registeredProgram = `#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
static void bye(void) { puts("bye"); }
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int main(int argc, char **argv) {
	int v[3] = {argc, 2, 1};
	atexit(bye);
	qsort(v, 3, sizeof v[0], cmp);
	void *f = dlsym(RTLD_DEFAULT, argv[0]);
	printf("%p %d\n", f, v[0]);
	return 0;
}
`

// TestRegisteredCallersMatchScan: the nodes registeredCallers finds on
// every core are, in id order, those one scan of every node's edges
// finds (some of them), and each was widened: it holds an address-taken
// edge at its registered call's site.
func TestRegisteredCallersMatchScan(t *testing.T) {
	prog := buildC(t, t.TempDir(), "registered", registeredProgram, "-ldl")
	g := buildModelled(t, prog)
	if g.lookupHub == 0 {
		t.Fatal("dlsym not reached: the test shows nothing of the widening")
	}
	var want []int
	for id, n := range g.Nodes {
		if n.Module != nil && !n.Hub && slices.ContainsFunc(n.Edges, isRegisteredCall) {
			want = append(want, id)
		}
	}
	got := g.registeredCallers(len(g.Nodes))
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("registeredCallers %v, the scan %v (want the same, some)", got, want)
	}
	for _, id := range got {
		n := g.Nodes[id]
		for _, e := range n.Edges {
			if isRegisteredCall(e) && !slices.ContainsFunc(n.Edges, func(w Edge) bool { return w.Site == e.Site && w.Method == MethodAddressTaken }) {
				t.Errorf("%s: the registered call at %#x was not widened", n.Name(), e.Site)
			}
		}
	}
}
