package callgraph

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/libcache"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestSharedResolutionSameGraph: the resolution's and the linking models'
// answers made once per library file (binfile.Derived: the ifunc
// resolvers' returns, an argument's definition before a call, the
// dynamic symbols' visibility) leave a program's graph as it is built alone: a lazily bound program
// whose calls reach ifuncs, the vDSO's time, qsort's callback and
// glibc's checks, built after another program that shares its libraries'
// files (one library cache, as `analyze FILE...` does), is the same node
// for node, frame, premise, unresolved call and edge as built with
// libraries of its own. The first program's graph must have made the
// shared answers (the second then only reads them).
func TestSharedResolutionSameGraph(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	progs := map[string]string{
		"first": `#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <assert.h>
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int main(int argc, char **argv) {
	char buf[64];
	int a[4] = {argc, 3, 1, 2};
	assert(argc > 0);
	strcpy(buf, argv[0]);
	qsort(a, 4, sizeof a[0], cmp);
	printf("%zu %d %ld\n", strlen(buf), a[0], (long)time(NULL));
	return 0;
}
`,
		"second": `#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <sys/time.h>
static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
int main(int argc, char **argv) {
	struct timeval tv;
	char buf[128];
	memset(buf, 0, sizeof buf);
	memcpy(buf, argv[0], strnlen(argv[0], 100));
	qsort(argv, argc, sizeof argv[0], cmp);
	gettimeofday(&tv, NULL);
	if (argc > 3) abort();
	printf("%s %ld %ld\n", buf, (long)tv.tv_sec, (long)time(NULL));
	return 0;
}
`,
	}
	for name, src := range progs {
		if err := os.WriteFile(filepath.Join(dir, name+".c"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		// Lazily bound, so that the lazy resolver and the PLT's links
		// to it are built (linkLazy, isInterpreter, lazyBinding).
		testutil.Run(t, dir, gcc, "-O1", "-Wl,-z,lazy", "-o", name, name+".c")
	}
	// build fails the test with t.Errorf (it may run on a goroutine of
	// its own) and returns nil.
	build := func(name string, cache *libcache.Cache) *Graph {
		f, err := binfile.Open(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			return nil
		}
		t.Cleanup(func() { f.Close() })
		ps, ok := FindStart(f, x86.Decoder{})
		if !ok {
			t.Errorf("%s: no program start found", name)
			return nil
		}
		g := Build(f, x86.Decoder{}, Options{FollowLibraries: true, StackAlign: 16, Libraries: cache})
		if _, ok := g.ModelStart(ps, LibcStartOptions{}); !ok {
			t.Errorf("%s: __libc_start_main not modelled", name)
			return nil
		}
		g.Resolve()
		g.ModelRuntime()
		return g
	}
	same := func(what string, got, alone []string) {
		t.Helper()
		if slices.Equal(got, alone) {
			return
		}
		for i := range min(len(got), len(alone)) {
			if got[i] != alone[i] {
				t.Fatalf("%s, node line %d differs:\nshared: %s\nalone:  %s", what, i, got[i], alone[i])
			}
		}
		t.Fatalf("%s: %d lines, alone %d", what, len(got), len(alone))
	}

	g := build("second", libcache.Memory())
	if g == nil {
		t.FailNow()
	}
	alone := graphLines(g)
	shared := libcache.Memory()
	first := build("first", shared)
	if first == nil {
		t.FailNow()
	}
	var libc *binfile.File
	for _, m := range first.Modules {
		if strings.HasPrefix(m.Name, "libc.so") {
			libc = m.File
		}
	}
	if libc == nil {
		t.Fatal("first: no libc module")
	}
	// The first graph made the shared answers: a compute here is a
	// failure (the second graph would make them itself, and the test
	// would compare nothing shared).
	binfile.Derived(libc, nonDefaultKey{}, func() map[string]bool {
		t.Error("libc's dynamic symbols' visibility was not derived by the first graph")
		return nil
	})
	second := build("second", shared)
	if second == nil {
		t.FailNow()
	}
	sharesLibc := false
	for _, m := range second.Modules {
		sharesLibc = sharesLibc || m.File == libc
	}
	if !sharesLibc {
		t.Fatal("second: libc's File is not the first graph's: nothing is shared")
	}
	same("built after another program", graphLines(second), alone)

	// Both at once, as `analyze FILE...` builds them (under -race: the
	// shared answers made and read on two goroutines).
	both := libcache.Memory()
	done := make(chan *Graph)
	go func() { done <- build("first", both) }()
	second = build("second", both)
	<-done
	if second == nil {
		t.FailNow()
	}
	same("built beside another program", graphLines(second), alone)
	t.Logf("%d nodes the same", len(alone))
}

// TestLibcChecksInto: the premise's list of the functions glibc's
// checks are cut into names the two most called (by name among equals)
// and how many more, as sorting all of them does.
func TestLibcChecksInto(t *testing.T) {
	names := append(slices.Clone(libcFatalFuncs), libcMessage)
	r := rand.New(rand.NewSource(1))
	for trial := range 2000 {
		f := libcFatal{calls: map[string]int{}}
		for _, n := range names[:1+r.Intn(len(names))] {
			f.calls[n] = 1 + r.Intn(3)
		}
		sorted := slices.Collect(func(yield func(string) bool) {
			for n := range f.calls {
				if !yield(n) {
					return
				}
			}
		})
		slices.SortFunc(sorted, func(a, b string) int {
			if f.calls[a] != f.calls[b] {
				return f.calls[b] - f.calls[a]
			}
			return strings.Compare(a, b)
		})
		want := strings.Join(sorted, ", ")
		if len(sorted) > 2 {
			want = fmt.Sprintf("%s, %s and %d more", sorted[0], sorted[1], len(sorted)-2)
		}
		if got := f.into(); got != want {
			t.Fatalf("trial %d, counts %v: %q, want %q", trial, f.calls, got, want)
		}
	}
}
