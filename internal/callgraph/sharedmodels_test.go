package callgraph

import (
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/libcache"
)

// The glibc models' work on libc's code alone is made once per file for
// all the programs of a run (binfile.Derived, issue 19): a program
// analysed after another that shares its libc gets the graph it gets
// alone, with or without --strict.

// sharedModelsPrograms are two programs whose libc models differ: wide
// streams, cookies and iconv in the first, memory streams and
// multibyte conversions in the second.
var sharedModelsPrograms = [2]string{`#define _GNU_SOURCE
#include <stdio.h>
#include <wchar.h>
#include <iconv.h>
static ssize_t rd(void *c, char *b, size_t n) { return 0; }
int main(int argc, char **argv) {
	cookie_io_functions_t io = { .read = rd };
	FILE *f = fopencookie(NULL, "r", io);
	fwide(stdout, 1);
	wprintf(L"%d %p\n", argc, (void *)f);
	iconv_t cd = iconv_open("UTF-8", argv[0]);
	char *in = argv[0], out[64], *o = out;
	size_t ni = 4, no = sizeof out;
	iconv(cd, &in, &ni, &o, &no);
	return 0;
}
`, `#include <stdio.h>
#include <string.h>
#include <wchar.h>
int main(int argc, char **argv) {
	char buf[64];
	FILE *m = fmemopen(buf, sizeof buf, "w");
	fprintf(m, "%s", argv[0]);
	fclose(m);
	mbstate_t st;
	memset(&st, 0, sizeof st);
	wchar_t w;
	mbrtowc(&w, argv[0], strlen(argv[0]), &st);
	printf("%d %s\n", (int)w, buf);
	return 0;
}
`}

// TestSharedLibcModelsMatchAlone: the second program's graph, built after
// the first's in one cache (one libc File, its models' findings shared),
// is the graph it has built alone, for the default options and --strict,
// also after a program analysed with the other --strict (the shared
// findings that depend on it are keyed by it).
func TestSharedLibcModelsMatchAlone(t *testing.T) {
	dir := t.TempDir()
	first := buildC(t, dir, "first", sharedModelsPrograms[0])
	second := buildC(t, dir, "second", sharedModelsPrograms[1])
	for _, strict := range []bool{false, true} {
		opts := func(c *libcache.Cache) Options {
			return Options{FollowLibraries: true, StackAlign: 16, Strict: strict, Libraries: c}
		}
		alone := graphDump(buildModelledOpts(t, second, opts(libcache.Memory())))
		shared := libcache.Memory()
		buildModelledOpts(t, first, opts(shared))
		after := buildModelledOpts(t, second, opts(shared))
		if !strict && !strings.Contains(graphDump(after), "[FILE jump table call:") {
			t.Fatal("no libio hub narrowed: the test shows nothing of the shared libio model")
		}
		if got := graphDump(after); got != alone {
			t.Errorf("strict=%v: the graph after another program's differs from the graph alone:\n%s", strict, firstDiff(got, alone))
		}
		// The other way round: the second program first, then the first.
		alone = graphDump(buildModelledOpts(t, first, opts(libcache.Memory())))
		shared = libcache.Memory()
		buildModelledOpts(t, second, opts(shared))
		if got := graphDump(buildModelledOpts(t, first, opts(shared))); got != alone {
			t.Errorf("strict=%v: the first program's graph after the second's differs:\n%s", strict, firstDiff(got, alone))
		}
		// After a program analysed with the other --strict: the
		// findings that depend on it are not shared.
		shared = libcache.Memory()
		other := opts(shared)
		other.Strict = !strict
		buildModelledOpts(t, second, other)
		if got := graphDump(buildModelledOpts(t, first, opts(shared))); got != alone {
			t.Errorf("strict=%v: the first program's graph after the second's with strict=%v differs:\n%s", strict, !strict, firstDiff(got, alone))
		}
	}
}
