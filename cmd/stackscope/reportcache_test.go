package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/srcloc"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestReportCacheRecomputes: after any one input of a stored report
// changes (the library rebuilt at its path, the program rebuilt, a
// stackscope.toml appearing beside it, its content changing, a flag), the
// report and exit status are those of a run without the cache, and differ
// from the report before the change; a run with nothing changed reads the
// stored report.
func TestReportCacheRecomputes(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	xdg := t.TempDir()
	lib := buildShared(t, dir, 256, "ee55")
	prog := buildProgram(t, dir, lib, "prog", 32)
	type outcome struct {
		code      int
		out, errs string
	}
	// run analyses prog without the cache, then twice with it, and
	// returns the outcome after checking the three agree.
	run := func(what string, args ...string) outcome {
		t.Helper()
		args = append([]string{"analyze"}, append(args, prog)...)
		c0, o0, e0 := runWithCache(t, t.TempDir(), append(args, "--no-cache")...)
		stored := len(reportEntries(t, xdg))
		c1, o1, e1 := runWithCache(t, xdg, args...)
		if len(reportEntries(t, xdg)) != stored+1 {
			t.Errorf("%s: the cold run stored no new report (a stale one answered?)", what)
		}
		c2, o2, e2 := runWithCache(t, xdg, args...)
		if c0 != c1 || c1 != c2 || o0 != o1 || o1 != o2 || e0 != e1 || e1 != e2 {
			t.Errorf("%s: without the cache exit %d, cold %d, warm %d; reports the same cold %v, warm %v; stderr %q %q %q",
				what, c0, c1, c2, o0 == o1, o1 == o2, e0, e1, e2)
		}
		return outcome{c0, o0, e0}
	}
	seen := map[outcome]string{}
	differs := func(what string, o outcome) {
		t.Helper()
		if prev, ok := seen[o]; ok {
			t.Errorf("%s: the same report and exit status as %s", what, prev)
		}
		seen[o] = what
	}
	differs("the first build", run("the first build"))
	buildShared(t, dir, 4096, "ff66")
	differs("the library rebuilt", run("the library rebuilt"))
	buildProgram(t, dir, lib, "prog", 2048)
	differs("the program rebuilt", run("the program rebuilt"))
	conf := filepath.Join(dir, "stackscope.toml")
	os.WriteFile(conf, []byte("[budgets]\ndefault = \"64\"\n"), 0o644)
	differs("a stackscope.toml appearing", run("a stackscope.toml appearing"))
	os.WriteFile(conf, []byte("[budgets]\ndefault = \"1M\"\n"), 0o644)
	differs("stackscope.toml changed", run("stackscope.toml changed"))
	differs("--budget 16", run("--budget 16", "--budget", "16"))
	differs("--format json", run("--format json", "--format", "json"))
}

// TestReportCacheDebugFile: a stripped program's stored report is not
// used once its separate debug file is installed (the names it gives
// change the report), and the new report is the uncached one.
func TestReportCacheDebugFile(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	testutil.RequireTool(t, "objcopy")
	testutil.RequireTool(t, "strip")
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	os.WriteFile(src, []byte(`
__attribute__((noinline)) static int helper_with_a_name(volatile char *p, int n) {
	volatile char buf[300];
	for (int i = 0; i < n && i < 300; i++) buf[i] = p[i];
	return buf[n % 300];
}
int main(int argc, char **argv) { return helper_with_a_name(argv[0], argc); }
`), 0o644)
	testutil.Run(t, dir, "gcc", "-O2", "-g", "-Wl,--build-id", "-o", "full", src)
	testutil.Run(t, dir, "strip", "-o", "p", "full")
	prog := filepath.Join(dir, "p")
	id := binfile.BuildIDOf(prog)
	if id == "" {
		t.Fatal("no build ID")
	}
	root := t.TempDir()
	oldBin, oldSrc := binfile.DebugRoots, srcloc.DebugRoots
	binfile.DebugRoots, srcloc.DebugRoots = []string{root}, []string{root}
	defer func() { binfile.DebugRoots, srcloc.DebugRoots = oldBin, oldSrc }()

	_, before, _ := capture(t, "analyze", "--no-libraries", "--format", "json", prog)
	_, warm, _ := capture(t, "analyze", "--no-libraries", "--format", "json", prog)
	if before != warm || strings.Contains(before, "helper_with_a_name") {
		t.Fatalf("stripped program: warm report the same %v; names the static function %v", before == warm, strings.Contains(before, "helper_with_a_name"))
	}
	dbg := filepath.Join(root, ".build-id", id[:2], id[2:]+".debug")
	os.MkdirAll(filepath.Dir(dbg), 0o755)
	testutil.Run(t, dir, "objcopy", "--only-keep-debug", "full", dbg)
	_, after, _ := capture(t, "analyze", "--no-libraries", "--format", "json", prog)
	_, plain, _ := capture(t, "analyze", "--no-libraries", "--no-cache", "--format", "json", prog)
	if after != plain {
		t.Error("with the debug file installed, the report differs from the uncached one (the stored one was used?)")
	}
	if !strings.Contains(after, "helper_with_a_name") {
		t.Error("with the debug file installed, the report does not name the static function")
	}
}
