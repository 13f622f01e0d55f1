package callgraph

import (
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/libcache"
)

// TestGconvStepsAheadSameGraph: a program that converts multibyte text has
// the same graph, node by node, whether libc's step calls are read ahead
// of the gconv model (startGconvAhead, beside linkArgumentCallbacks) or
// by the model when it asks; and some were read ahead. Run with -race, it
// also shows the goroutine reads nothing the models write meanwhile.
func TestGconvStepsAheadSameGraph(t *testing.T) {
	prog := buildC(t, t.TempDir(), "mb", sharedModelsPrograms[1])
	build := func(ahead bool) (string, int) {
		defer func(on bool) { gconvAheadOn = on }(gconvAheadOn)
		gconvAheadOn = ahead
		g := buildModelledOpts(t, prog, Options{FollowLibraries: true, StackAlign: 16, Libraries: libcache.Memory()})
		return graphDump(g), g.gconvAheadMade
	}
	alone, none := build(false)
	if none != 0 {
		t.Fatalf("%d step readings made ahead with gconvAheadOn false", none)
	}
	// (c.hub makes a member's hub for the first step call found.)
	if !strings.Contains(alone, "[gconv step conversion functions:") {
		t.Fatal("no gconv step hub: the test shows nothing of the step calls")
	}
	ahead, made := build(true)
	if made == 0 {
		t.Error("no step calls read ahead")
	}
	t.Logf("%d functions' step calls read ahead", made)
	if ahead != alone {
		t.Errorf("the graph with the step calls read ahead differs:\n%s", firstDiff(ahead, alone))
	}
}
