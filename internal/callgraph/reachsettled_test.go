package callgraph

import "testing"

// settledProgram reaches dlsym and dlopen, printf and the wide streams:
// a symbol lookup reached undoes every model of ModelReachableTables at
// once (see dlsym.go), so that all are settled after a round or two.
const settledProgram = `#include <dlfcn.h>
#include <stdio.h>
#include <wchar.h>
int main(int argc, char **argv) {
	void *h = dlopen(argv[0], RTLD_NOW);
	void *f = dlsym(h ? h : RTLD_DEFAULT, argv[0]);
	fwprintf(stderr, L"%d\n", argc);
	printf("%p\n", f);
	return 0;
}
`

// TestSettledModelsEndTheFixpoint: once every model of
// ModelReachableTables is settled, the fixpoint stops without the round
// that would find no change (a walk of the whole graph): one round fewer,
// and the same graph, node by node.
func TestSettledModelsEndTheFixpoint(t *testing.T) {
	prog := buildC(t, t.TempDir(), "settled", settledProgram, "-ldl")
	build := func(skip bool) (string, int) {
		defer func(on bool) { skipSettledRound = on }(skipSettledRound)
		skipSettledRound = skip
		g := buildModelled(t, prog)
		if g.lookupHub == 0 || g.runTimeNode == 0 {
			t.Fatalf("no lookup hub or run-time objects' node: dlsym and dlopen not reached, the test shows nothing")
		}
		return graphDump(g), g.reachRounds
	}
	all, roundsAll := build(false)
	skipped, rounds := build(true)
	t.Logf("%d rounds, %d without the skip", rounds, roundsAll)
	if rounds != roundsAll-1 {
		t.Errorf("%d rounds with the settled round skipped, %d without: want one fewer", rounds, roundsAll)
	}
	if skipped != all {
		t.Errorf("the graph without the settled round differs:\n%s", firstDiff(skipped, all))
	}
}
