package callgraph

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/testutil"
	"github.com/stackscope/stackscope/internal/vdso"
)

// TestVDSOUnreadable: where no vDSO can be read (not Linux, a container
// without one), there is no model. clock_gettime's call through
// GLRO(dl_vdso_clock_gettime64) keeps what the resolution gave it (the
// address-taken set), no [vdso] node is made, and the calls of time and
// gettimeofday, whose resolver may return the vDSO's function, are
// unresolved besides their fallback: the code they may run is not seen.
func TestVDSOUnreadable(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "t.c")
	os.WriteFile(src, []byte(`#include <time.h>
#include <sys/time.h>
__attribute__((noinline)) long stamp(void) { struct timeval tv; gettimeofday(&tv, 0); return tv.tv_usec + time(0); }
__attribute__((noinline)) long now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_nsec; }
int main(void) { return stamp() + now() > 0; }
`), 0o644)
	prog := filepath.Join(dir, "t")
	testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", prog, src)
	f, err := binfile.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	defer func(read func() (*vdso.Image, error)) { vdsoImage = read }(vdsoImage)
	vdsoImage = func() (*vdso.Image, error) { return nil, errors.New("no vDSO in this test") }
	g := Build(f, x86.Decoder{}, Options{FollowLibraries: true, StackAlign: 16})
	g.Resolve()
	g.ModelRuntime()
	for id, n := range g.Nodes {
		if n.Module != nil && n.Module.Name == vdso.Name {
			t.Errorf("a vDSO node without a vDSO: %s", g.QualifiedName(id))
		}
	}
	stamp := g.Nodes[g.NodesNamed("stamp")[0]]
	var calls []uint64
	for _, cs := range stamp.Frame.Calls {
		calls = append(calls, cs.Addr)
	}
	if len(stamp.Unresolved) != 2 {
		t.Errorf("stamp: %d unresolved calls, want its 2 (gettimeofday and time) of %x", len(stamp.Unresolved), calls)
	}
	for _, cs := range stamp.Unresolved {
		if cs.Kind != frame.IndirectCall && cs.Kind != frame.IndirectTailCall || cs.Target != 0 {
			t.Errorf("stamp's unresolved call at %#x: kind %v target %#x, want an indirect call of unknown target", cs.Addr, cs.Kind, cs.Target)
		}
		if !slices.ContainsFunc(stamp.Edges, func(e Edge) bool { return e.Site == cs.Addr && e.Method == MethodIfunc }) {
			t.Errorf("stamp's call at %#x lost its fallback (the ifunc edge)", cs.Addr)
		}
	}
	for _, id := range g.NodesNamed("clock_gettime") {
		n := g.Nodes[id]
		if n.Module == nil || !strings.HasPrefix(n.Module.Name, "libc.so") {
			continue
		}
		if len(n.Premises) > 0 {
			t.Errorf("clock_gettime carries premises without a vDSO: %+v", n.Premises)
		}
		if len(n.Assumed)+len(n.Unresolved) == 0 {
			t.Errorf("clock_gettime's vDSO call was dropped without a vDSO: edges %+v", n.Edges)
		}
	}
}
