package diff_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/diff"
	"github.com/stackscope/stackscope/internal/testutil"
)

// zlibTree returns Debian's zlib source tree fetched by
// scripts/fetch-sources.sh; without it the test is skipped (or fails under
// STACKSCOPE_REQUIRE_TOOLS=1).
func zlibTree(t *testing.T) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join("..", "..", ".cache", "sources", "zlib-*"))
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.IsDir() {
			abs, _ := filepath.Abs(m)
			return abs
		}
	}
	if os.Getenv("STACKSCOPE_REQUIRE_TOOLS") == "1" {
		t.Fatalf("source package zlib missing: run scripts/fetch-sources.sh zlib")
	}
	t.Skipf("SKIPPED: source package zlib not fetched; run scripts/fetch-sources.sh zlib")
	return ""
}

// TestDiffZlibMinigzip: zlib's minigzip built twice, the second time with
// one change a programmer might make (inflate's gzip-header buffer hbuf
// from 4 to 512 bytes). The diff names exactly that frame, by the growth
// GCC's .su gives, as the cause of main's growth.
func TestDiffZlibMinigzip(t *testing.T) {
	root := zlibTree(t)
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	flags := []string{"-O2", "-g", "-fstack-usage", "-D_LARGEFILE64_SOURCE=1", "-I" + root}

	// Old build: every object from the tree as it is.
	oldDir := filepath.Join(dir, "old")
	os.Mkdir(oldDir, 0o755)
	var objs []string
	for _, name := range []string{"adler32", "compress", "crc32", "deflate", "gzclose", "gzlib", "gzread", "gzwrite",
		"infback", "inffast", "inflate", "inftrees", "trees", "uncompr", "zutil", "test/minigzip"} {
		obj := filepath.Join(oldDir, filepath.Base(name)+".o")
		testutil.Run(t, oldDir, gcc, append([]string{"-c", "-o", obj, filepath.Join(root, name+".c")}, flags...)...)
		objs = append(objs, obj)
	}
	link := func(d string, objs []string) string {
		bin := filepath.Join(d, "minigzip")
		testutil.Run(t, d, gcc, append([]string{"-Wl,-z,now", "-o", bin}, objs...)...)
		return bin
	}
	oldBin := link(oldDir, objs)

	// New build: the same objects but inflate.o, from a copy of inflate.c
	// with the one change.
	newDir := filepath.Join(dir, "new")
	os.Mkdir(newDir, 0o755)
	src, err := os.ReadFile(filepath.Join(root, "inflate.c"))
	if err != nil {
		t.Fatal(err)
	}
	const from, to = "unsigned char hbuf[4];", "unsigned char hbuf[512];"
	if strings.Count(string(src), from) != 1 {
		t.Fatalf("inflate.c no longer declares %q once", from)
	}
	changed := filepath.Join(newDir, "inflate.c")
	os.WriteFile(changed, []byte(strings.Replace(string(src), from, to, 1)), 0o644)
	newObjs := append([]string(nil), objs...)
	for i, o := range newObjs {
		if filepath.Base(o) == "inflate.o" {
			newObjs[i] = filepath.Join(newDir, "inflate.o")
			testutil.Run(t, newDir, gcc, append([]string{"-c", "-o", newObjs[i], changed}, flags...)...)
		}
	}
	newBin := link(newDir, newObjs)

	suOf := func(d string) int64 {
		for _, l := range testutil.ParseSU(t, d) {
			if l.Function == "inflate" {
				return l.Bytes
			}
		}
		t.Fatalf("no inflate in %s/*.su", d)
		return 0
	}
	want := suOf(newDir) - suOf(oldDir)
	if want < 400 {
		t.Fatalf(".su: inflate grew by %d bytes only; the change did not take", want)
	}

	// Without the C library: main's at_least is the deepest chain of
	// calls the code names (no assumed targets), and through libc that
	// chain runs in libc's own deep paths, not the program's.
	opts := analysis.Options{NoLibraries: true}
	oldRes, err := analysis.Run(oldBin, opts)
	if err != nil {
		t.Fatal(err)
	}
	newRes, err := analysis.Run(newBin, opts)
	if err != nil {
		t.Fatal(err)
	}
	d := diff.Compare(oldRes, newRes)

	if len(d.Functions) != 1 || d.Functions[0].Name != "inflate" || d.Functions[0].Delta != want {
		t.Errorf("changed frames %+v, want inflate only, by %d (.su)", d.Functions, want)
	}
	if len(d.AddedFunctions)+len(d.RemovedFunctions) != 0 {
		t.Errorf("functions added %v, removed %v; want none", d.AddedFunctions, d.RemovedFunctions)
	}
	var main *diff.EntryChange
	for i := range d.Entries {
		if d.Entries[i].Name == "main" {
			main = &d.Entries[i]
		}
	}
	if main == nil {
		t.Fatalf("no entry main in %+v", d.Entries)
	}
	// main calls into the C library, so it has no bound; the depth it
	// certainly reaches in its own code runs through inflate and grows by
	// exactly as much.
	if main.Delta != want || len(main.Why) != 1 || main.Why[0].Kind != "frame" || main.Why[0].Function != "inflate" {
		t.Fatalf("main: %s by %d, causes %+v; want +%d from the frame of inflate only", main.Status, main.Delta, main.Why, want)
	}
	t.Logf("main %s by %d B: frame of inflate %d -> %d B", main.Status, main.Delta, *main.Why[0].OldFrame, *main.Why[0].NewFrame)
}
