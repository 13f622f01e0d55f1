package callgraph

import (
	"debug/dwarf"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/testutil"
)

// libcGraph builds a small program's graph with its libraries loaded and
// returns it with libc's module; the test skips (or fails under
// STACKSCOPE_REQUIRE_TOOLS=1) when libc has no debug file and debug is
// asked.
func libcGraph(t *testing.T, debug bool) (*Graph, *Module) {
	t.Helper()
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "we.c")
	os.WriteFile(src, []byte("#include <stdio.h>\n#include <wchar.h>\nint main(int c,char**v){printf(\"%ls\\n\",L\"hi\");return btowc(c)>0;}\n"), 0o644)
	prog := filepath.Join(dir, "we")
	testutil.Run(t, dir, gcc, "-O2", "-o", prog, src)
	f, err := binfile.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	g := Build(f, x86.Decoder{}, Options{StackAlign: 16, FollowLibraries: true})
	g.loadLibraries()
	for _, m := range g.Modules[1:] {
		if strings.HasPrefix(m.Name, "libc.so") && (!debug || m.File.DebugSymbols != "") {
			return g, m
		}
	}
	if os.Getenv("STACKSCOPE_REQUIRE_TOOLS") == "1" {
		t.Fatal("no libc.so with debug symbols (install libc6-dbg)")
	}
	t.Skip("SKIPPED: no libc.so with debug symbols; ./scripts/test.sh installs libc6-dbg")
	return nil, nil
}

// TestSweepFlowParallelMatchesSweep: the parallel sweep of libc's code
// and of the program's, cut into parts at functions' starts, visits
// exactly the instructions (address and length) the sequential sweep
// visits, and says the same of its completeness, whatever the number
// of workers (1 to 7: parts of 64 KiB, dozens of cuts in libc).
func TestSweepFlowParallelMatchesSweep(t *testing.T) {
	g, libc := libcGraph(t, false)
	type inst struct {
		pc uint64
		n  int
	}
	for _, m := range []*Module{g.Modules[0], libc} {
		var want []inst
		wantComplete := g.sweepFlow(m, func(pc uint64, code []byte, e *isa.Effect) bool {
			want = append(want, inst{pc, e.Len})
			return true
		})
		if len(want) < 50 {
			t.Fatalf("%s: the sequential sweep visited %d instructions", m.Name, len(want))
		}
		for workers := 1; workers <= 7; workers += 2 {
			got := make([][]inst, workers)
			complete := g.sweepFlowParallel(m, workers, func(w int) func(uint64, []byte, *isa.Effect) bool {
				return func(pc uint64, code []byte, e *isa.Effect) bool {
					got[w] = append(got[w], inst{pc, e.Len})
					return true
				}
			})
			all := slices.Concat(got...)
			slices.SortFunc(all, func(a, b inst) int { return int(int64(a.pc) - int64(b.pc)) })
			if complete != wantComplete {
				t.Errorf("%s, %d workers: complete %v, the sequential sweep's %v", m.Name, workers, complete, wantComplete)
			}
			if !slices.Equal(all, want) {
				t.Errorf("%s, %d workers: %d instructions visited, the sequential sweep %d (or not the same)", m.Name, workers, len(all), len(want))
			}
		}
	}
}

// TestDebugPrefetchMatchesReaders: the layouts the prefetch reads from
// one opening of libc's debug file, on its own goroutine, are those each
// reader reads on its own (gconv step layout with its users, FILE
// layout, _wide_vtable's offset), and are found (libc6-dbg's glibc has
// them all); so are ld.so's (namespace layout, _rtld_global_ro's
// members, each read alone as the models did before).
func TestDebugPrefetchMatchesReaders(t *testing.T) {
	g, libc := libcGraph(t, true)
	path := libc.File.DebugSymbols
	// The caches are the process's: empty them, and prefetch again.
	debugPrefetches.wait(path)
	for _, c := range []interface{ forget(string) }{&gconvLayouts, &libioLayouts, &wideVtableOffsets} {
		c.forget(path)
	}
	g.prefetchDebugLayouts()
	debugPrefetches.wait(path)
	if !gconvLayouts.has(path) || !libioLayouts.has(path) || !wideVtableOffsets.has(path) {
		t.Fatalf("the prefetch did not read every layout of %s", path)
	}
	gconv, libio := gconvLayoutOf(libc), libioLayoutOf(libc)
	if gconv == nil || libio == nil || len(gconv.users) == 0 || libio.vtable < 0 {
		t.Fatalf("layouts not found in %s: gconv %v, libio %v", path, gconv, libio)
	}
	if want := readGconvLayout(libc.File); !reflect.DeepEqual(gconv, want) {
		t.Errorf("prefetched gconv layout %+v, read alone %+v", gconv, want)
	}
	if want := readLibioLayout(libc.File); !reflect.DeepEqual(libio, want) {
		t.Errorf("prefetched FILE layout %+v, read alone %+v", libio, want)
	}
	var want int64 = -1
	withDebugDWARF(libc.File, func(d *dwarf.Data) { want = wideVtableOffsetIn(d) })
	if got := readWideVtableOffset(libc.File); got != want || got <= 0 {
		t.Errorf("prefetched _wide_vtable offset %d, read alone %d", got, want)
	}

	var ld *Module
	for _, m := range g.Modules[1:] {
		if _, ok := m.File.Lookup("_dl_fini"); ok && m.File.DebugSymbols != "" {
			ld = m
		}
	}
	if ld == nil {
		t.Fatal("no ld.so with debug symbols among the program's libraries")
	}
	ldPath := ld.File.DebugSymbols
	debugPrefetches.wait(ldPath)
	rtldLayouts.forget(ldPath)
	rtldGlobalROOffsets.forget(ldPath)
	g.prefetchDebugLayouts()
	debugPrefetches.wait(ldPath)
	if !rtldLayouts.has(ldPath) || !rtldGlobalROOffsets.has(ldPath) {
		t.Fatalf("the prefetch did not read ld.so's layouts from %s", ldPath)
	}
	ns := rtldLayouts.get(ld.File, rtldNamespaceLayout)
	if want := rtldNamespaceLayout(ld.File); ns != want || !ns.ok {
		t.Errorf("prefetched namespace layout %+v, read alone %+v", ns, want)
	}
	for _, names := range [][]string{rtldROHookMembers, rtldGlobalROMemberNames()[:len(vdsoPointers)]} {
		got := rtldStructMembers(ld.File, rtldGlobalROStruct, names...)
		want := map[string]int64{}
		withDebugDWARF(ld.File, func(d *dwarf.Data) { want = memberOffsets(d, rtldGlobalROStruct, names...) })
		if !reflect.DeepEqual(got, want) || len(got) == 0 {
			t.Errorf("_rtld_global_ro's members %v: prefetched %v, read alone %v", names, got, want)
		}
	}
}

// forget drops the value kept for the debug file at path (tests).
func (c *debugFileCache[T]) forget(path string) {
	c.Lock()
	defer c.Unlock()
	delete(c.byPath, path)
}
