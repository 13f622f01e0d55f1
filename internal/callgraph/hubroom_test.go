package callgraph

import (
	"slices"
	"strings"
	"testing"
)

// hubRoomProgram takes the addresses of functions of two prototypes
// (address-taken hubs and prototype hubs, with -g) and reaches dlsym, so
// that every address-taken hub gets the edge to the lookup hub.
const hubRoomProgram = `#include <dlfcn.h>
#include <stdio.h>
static int a1(int a, int b) { return a + b; }
static int a2(int a, int b) { return a - b; }
static int a3(int a, int b) { return a * b; }
static int a4(int a, int b) { return a ^ b; }
static int a5(int a, int b) { return a | b; }
static int a6(int a, int b) { return a & b; }
static void s1(const char *s) { puts(s); }
static void s2(const char *s) { printf("2 %s\n", s); }
static void s3(const char *s) { printf("3 %s\n", s); }
static void s4(const char *s) { printf("4 %s\n", s); }
static void s5(const char *s) { printf("5 %s\n", s); }
static void s6(const char *s) { printf("6 %s\n", s); }
int (*const arith[])(int, int) = {a1, a2, a3, a4, a5, a6};
void (*const say[])(const char *) = {s1, s2, s3, s4, s5, s6};
int main(int argc, char **argv) {
	void *f = dlsym(RTLD_DEFAULT, argv[0]);
	say[argc % 6](argv[0]);
	return arith[argc % 6](argc, f != 0);
}
`

// TestHubsLinkLookupInTheirRoom: once dlsym is reached, every
// address-taken hub (the module's and its prototype hubs) has its edge to
// the lookup hub, added in the room the hub was made with (hubEdgeRoom):
// its list was not copied to a longer array, and ClipEdges leaves it
// where it is.
func TestHubsLinkLookupInTheirRoom(t *testing.T) {
	prog := buildC(t, t.TempDir(), "hubroom", hubRoomProgram, "-g", "-O1", "-ldl")
	g := buildModelled(t, prog)
	if g.lookupHub == 0 {
		t.Fatalf("no lookup hub: dlsym not reached, the test shows nothing")
	}
	lookup := g.lookupHub - 1
	hubs, prototypes := 0, 0
	first := map[int]*Edge{}
	checked := 0 // prototype hubs of a1..a6 or s1..s6
	g.eachAddressTakenHub(func(hub int) {
		n := g.Nodes[hub]
		hubs++
		if hub != g.Modules[0].hub {
			prototypes++
		}
		linked := false
		for _, e := range n.Edges {
			linked = linked || e.To == lookup && e.Method == MethodSymbolLookup
		}
		if !linked {
			t.Errorf("hub %s has no edge to the lookup hub", n.Name())
		}
		if spare := cap(n.Edges) - len(n.Edges); spare > hubEdgeRoom {
			t.Errorf("hub %s: %d edges in an array of %d: copied to a longer one", n.Name(), len(n.Edges), cap(n.Edges))
		}
		first[hub] = &n.Edges[0]
		if hub == g.Modules[0].hub {
			return
		}
		// A prototype hub goes to the six functions of its prototype
		// (made from prototypeHub's scratch list, one hub after the
		// other: neither is the other's).
		var names []string
		for _, e := range n.Edges {
			if e.Method == MethodPrototype {
				names = append(names, g.Nodes[e.To].Name())
			}
		}
		slices.Sort(names)
		if len(names) > 0 && (names[0] == "a1" || names[0] == "s1") {
			checked++
		}
		if want := []string{"a1", "a2", "a3", "a4", "a5", "a6"}; strings.Contains(n.Name(), "int (*)(int, int)") && !slices.Equal(names, want) {
			t.Errorf("hub %s goes to %v, want %v", n.Name(), names, want)
		}
		if want := []string{"s1", "s2", "s3", "s4", "s5", "s6"}; strings.Contains(n.Name(), "const char *") && !slices.Equal(names, want) {
			t.Errorf("hub %s goes to %v, want %v", n.Name(), names, want)
		}
	})
	if checked != 2 {
		t.Errorf("%d prototype hubs of the program's two prototypes, want 2", checked)
	}
	if hubs == 0 || prototypes == 0 {
		t.Fatalf("%d address-taken hubs, %d of them prototype hubs: the test shows too little", hubs, prototypes)
	}
	g.ClipEdges()
	for hub, e := range first {
		if &g.Nodes[hub].Edges[0] != e {
			t.Errorf("ClipEdges copied hub %s's list", g.Nodes[hub].Name())
		}
	}
}
