package callgraph

import (
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/libcache"
)

// TestModelsAheadSameGraph: a program whose libc FILE tables the models
// narrow (wide streams, fopencookie, iconv) has the same graph, node by
// node, whether the program's exported index and libc's FILE-table
// sweep are made ahead of the models (startModelsAhead) or by the models
// that ask for them; and both were made ahead. Run with -race, it also
// shows the goroutine reads nothing the models write.
func TestModelsAheadSameGraph(t *testing.T) {
	prog := buildC(t, t.TempDir(), "streams", sharedModelsPrograms[0])
	build := func(ahead bool) (string, int) {
		defer func(on bool) { modelsAheadOn = on }(modelsAheadOn)
		modelsAheadOn = ahead
		g := buildModelledOpts(t, prog, Options{FollowLibraries: true, StackAlign: 16, Libraries: libcache.Memory()})
		return graphDump(g), g.modelsAheadMade
	}
	alone, none := build(false)
	if none != 0 {
		t.Fatalf("%d answers made ahead with modelsAheadOn false", none)
	}
	if !strings.Contains(alone, "[FILE jump table call:") {
		t.Fatal("no libio hub narrowed: the test shows nothing of the FILE-table sweep")
	}
	ahead, made := build(true)
	if made != 2 {
		t.Errorf("%d answers made ahead, want 2 (the program's exported index and libc's FILE-table sweep)", made)
	}
	if ahead != alone {
		t.Errorf("the graph with the answers made ahead differs:\n%s", firstDiff(ahead, alone))
	}
}

// TestIsAuditHookMatchesDemangledName: for every function of ld.so and
// libstdc++ (C and C++ names), isAuditHook is the question it replaces,
// whether the demangled name starts with "_dl_audit_", and ld.so's hooks
// are found (with its symbols: libc6-dbg).
func TestIsAuditHookMatchesDemangledName(t *testing.T) {
	hooks := 0
	for _, path := range []string{"/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libstdc++.so.6"} {
		f, err := binfile.Open(path)
		if err != nil {
			t.Skipf("SKIPPED: %v", err)
		}
		mangled := 0
		got := make([]bool, len(f.Functions))
		for i := range f.Functions {
			if f.Functions[i].NotYetDemangled() {
				mangled++
			}
			got[i] = isAuditHook(&f.Functions[i]) // first: before Name demangles
		}
		for i := range f.Functions {
			want := strings.HasPrefix(f.Functions[i].Name(), auditHookPrefix)
			if got[i] != want {
				t.Errorf("%s: %s (%s): isAuditHook %v, demangled name's prefix %v", path, f.Functions[i].LinkName, f.Functions[i].Name(), got[i], want)
			}
			if want {
				hooks++
			}
		}
		if strings.Contains(path, "libstdc++") && mangled == 0 {
			t.Errorf("%s: no mangled name: the test shows nothing of the demangling skipped", path)
		}
		f.Close()
	}
	if hooks == 0 {
		t.Skip("SKIPPED: ld.so's _dl_audit_ names are not known (no libc6-dbg)")
	}
}
