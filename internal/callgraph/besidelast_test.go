package callgraph

import (
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// TestBesideLastModels: ModelRuntime calls BesideLastModels once, on its
// goroutine, before its last models: the loaded objects' model
// (ModelLoadedObjects, after the FILE tables') has not run when it is
// called, and has once ModelRuntime returns.
func TestBesideLastModels(t *testing.T) {
	prog := buildC(t, t.TempDir(), "streams", sharedModelsPrograms[0])
	f, err := binfile.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := x86.Decoder{}
	ps, ok := FindStart(f, dec)
	if !ok {
		t.Fatal("no program start found")
	}
	g := Build(f, dec, Options{FollowLibraries: true, StackAlign: 16})
	if _, ok := g.ModelStart(ps, LibcStartOptions{}); !ok {
		t.Fatal("__libc_start_main not modelled")
	}
	g.Resolve()
	calls := 0
	var loadedThen LoadedObjects
	g.BesideLastModels = func() {
		calls++
		loadedThen = g.Loaded
	}
	g.ModelRuntime()
	if calls != 1 {
		t.Fatalf("BesideLastModels called %d times, want once", calls)
	}
	if loadedThen != (LoadedObjects{}) {
		t.Errorf("the loaded objects were modelled (%+v) when BesideLastModels was called: it came after the last models", loadedThen)
	}
	if g.Loaded == (LoadedObjects{}) {
		t.Errorf("no loaded objects modelled: the test shows nothing")
	}
}
