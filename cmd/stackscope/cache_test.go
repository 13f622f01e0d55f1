package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestMain keeps every in-process test off the user's own cache: the
// library cache goes to a temporary XDG_CACHE_HOME.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stackscope-cache-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	builtOnce sync.Once
	builtPath string
	builtErr  error
)

// stackscopeBinary builds the command once for the tests that run it as a
// separate process (two at once, a cache directory of their own).
func stackscopeBinary(t *testing.T) string {
	t.Helper()
	builtOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stackscope-bin")
		if err != nil {
			builtErr = err
			return
		}
		builtPath = filepath.Join(dir, "stackscope")
		if out, err := exec.Command("go", "build", "-o", builtPath, ".").CombinedOutput(); err != nil {
			builtErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return builtPath
}

// runWithCache runs the built stackscope with cache directory xdg and
// returns its exit code, stdout and stderr.
func runWithCache(t *testing.T, xdg string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(stackscopeBinary(t), args...)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+xdg)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// cacheEntries lists the library entries under xdg.
func cacheEntries(t *testing.T, xdg string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(xdg, "stackscope", "libs-v*", "*.gob"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const cacheLib = `
#include <string.h>
int FILL = 1;
int lib_work(const char *s) {
	char buf[BUF];
	memset(buf, FILL, sizeof buf);
	strncpy(buf, s, sizeof buf - 1);
	return buf[BUF / 2] + (int)strlen(buf);
}
`

const cacheProg = `
int lib_work(const char *s);
int main(int argc, char **argv) {
	volatile char name[NAME];
	int i;
	for (i = 0; i < NAME - 1 && argv[0][i]; i++)
		name[i] = argv[0][i];
	name[i] = 0;
	return lib_work((const char *)name) > argc;
}
`

// buildShared builds libcachetest.so (a BUF-byte array, a build ID of id
// repeated to 20 bytes) in dir/lib, and returns the directory.
func buildShared(t *testing.T, dir string, buf int, id string) string {
	t.Helper()
	lib := filepath.Join(dir, "lib")
	os.MkdirAll(lib, 0o755)
	os.WriteFile(filepath.Join(lib, "lib.c"), []byte(cacheLib), 0o644)
	testutil.Run(t, lib, "gcc", "-O2", "-fPIC", "-shared", "-fstack-usage", fmt.Sprintf("-DBUF=%d", buf),
		"-Wl,--build-id=0x"+strings.Repeat(id, 10), "-o", "libcachetest.so", "lib.c")
	return lib
}

// buildProgram builds a program named name that calls the library.
func buildProgram(t *testing.T, dir, lib, name string, nameBuf int) string {
	t.Helper()
	src := filepath.Join(dir, name+".c")
	os.WriteFile(src, []byte(cacheProg), 0o644)
	testutil.Run(t, dir, "gcc", "-O2", fmt.Sprintf("-DNAME=%d", nameBuf), "-o", name, src, "-L"+lib, "-lcachetest", "-Wl,-rpath,"+lib)
	return filepath.Join(dir, name)
}

// TestCacheReportsIdentical: the JSON and text reports of programs built
// here and of system programs are byte for byte the same with --no-cache,
// with a cold cache and with a warm one, and the cold run stored entries.
func TestCacheReportsIdentical(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	lib := buildShared(t, dir, 256, "aa11")
	files := []string{buildProgram(t, dir, lib, "one", 64), buildProgram(t, dir, lib, "two", 512)}
	for _, sys := range []string{"/usr/bin/true", "/bin/ls"} {
		if _, err := os.Stat(sys); err == nil {
			files = append(files, sys)
		}
	}
	xdg := t.TempDir()
	for i, f := range files {
		formats := []string{"json"}
		if i == 0 {
			formats = append(formats, "text", "sarif")
		}
		for _, format := range formats {
			args := []string{"analyze", "--format", format, f}
			code0, plain, _ := runWithCache(t, t.TempDir(), append([]string{"analyze", "--no-cache", "--format", format}, f)...)
			code1, cold, _ := runWithCache(t, xdg, args...)
			code2, warm, _ := runWithCache(t, xdg, args...)
			if code0 != code1 || code1 != code2 {
				t.Errorf("%s %s: exit %d without the cache, %d cold, %d warm", f, format, code0, code1, code2)
			}
			if plain != cold || cold != warm {
				t.Errorf("%s %s: reports differ (without the cache %d bytes, cold %d, warm %d)", f, format, len(plain), len(cold), len(warm))
			}
		}
	}
	if len(cacheEntries(t, xdg)) == 0 {
		t.Fatalf("no cache entries under %s", xdg)
	}
	if len(reportEntries(t, xdg)) == 0 {
		t.Fatalf("no stored reports under %s", xdg)
	}
	// Many files in one run, on every core: the same table and array
	// without the cache, cold and warm.
	for _, format := range []string{"text", "json"} {
		xdg := t.TempDir()
		args := append([]string{"analyze", "--format", format}, files...)
		code0, plain, _ := runWithCache(t, t.TempDir(), append([]string{"analyze", "--no-cache", "--format", format}, files...)...)
		code1, cold, _ := runWithCache(t, xdg, args...)
		code2, warm, _ := runWithCache(t, xdg, args...)
		if code0 != code1 || code1 != code2 || plain != cold || cold != warm {
			t.Errorf("%d files, %s: exit %d/%d/%d, reports same cold %v, warm %v", len(files), format, code0, code1, code2, plain == cold, cold == warm)
		}
		if n := len(reportEntries(t, xdg)); n != len(files) {
			t.Errorf("%d files, %s: %d stored reports, want one per file", len(files), format, n)
		}
		// A file's part of the many is not its report alone (they are
		// stored under different keys).
		_, alone, _ := runWithCache(t, t.TempDir(), "analyze", "--no-cache", "--format", format, files[0])
		if _, got, _ := runWithCache(t, xdg, "analyze", "--format", format, files[0]); got != alone {
			t.Errorf("%s alone, %s, after the run over many: %d bytes, want %d", files[0], format, len(got), len(alone))
		}
	}
	// The multi-file run, with the libraries shared in memory, gives
	// each file the report a run of that file alone gives.
	_, many, _ := runWithCache(t, xdg, append([]string{"analyze", "--format", "json"}, files...)...)
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(many), &list); err != nil || len(list) != len(files) {
		t.Fatalf("analyze of %d files: want a JSON array of %d (%v)", len(files), len(files), err)
	}
	for i, f := range files {
		_, one, _ := runWithCache(t, t.TempDir(), "analyze", "--no-cache", "--format", "json", f)
		var a, b bytes.Buffer
		json.Compact(&a, list[i])
		json.Compact(&b, []byte(one))
		if a.String() != b.String() {
			t.Errorf("%s: its report among many differs from its report alone", f)
		}
	}
}

// reportEntries lists the stored reports under xdg (resultcache).
func reportEntries(t *testing.T, xdg string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(xdg, "stackscope", "results-v*", "*", "*.gob"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dropReports removes the stored reports under xdg, leaving the library
// entries.
func dropReports(t *testing.T, xdg string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(xdg, "stackscope", "results-v*"))
	for _, d := range m {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
}

// libFrame returns lib_work's frame on main's worst path in a JSON report.
func libFrame(t *testing.T, report string) int64 {
	t.Helper()
	var r struct {
		Entries []struct {
			Name  string `json:"name"`
			Steps []struct {
				Function string `json:"function"`
				Frame    int64  `json:"frame"`
			} `json:"path_frames"`
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(report), &r); err != nil {
		t.Fatalf("%v\n%s", err, report)
	}
	for _, e := range r.Entries {
		if e.Name != "main" {
			continue
		}
		for _, s := range e.Steps {
			if strings.HasPrefix(s.Function, "lib_work") {
				return s.Frame
			}
		}
	}
	t.Fatalf("lib_work is not on main's worst path:\n%s", report)
	return 0
}

// suFrame is GCC's frame of lib_work in the .su file of dir (on x86-64
// it counts the return address, as stackscope's frame does).
func suFrame(t *testing.T, dir string) int64 {
	t.Helper()
	for _, l := range testutil.ParseSU(t, dir) {
		if l.Function == "lib_work" {
			return l.Bytes
		}
	}
	t.Fatalf("no lib_work in %s's .su", dir)
	return 0
}

// TestCacheRebuiltLibrary: a library rebuilt with another build ID (and a
// larger frame) is analysed again, not served from the first build's
// entry; and a truncated entry is ignored and written again.
func TestCacheRebuiltLibrary(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	xdg := t.TempDir()
	lib := buildShared(t, dir, 256, "bb22")
	prog := buildProgram(t, dir, lib, "prog", 32)
	_, first, _ := runWithCache(t, xdg, "analyze", "--format", "json", prog)
	if got, want := libFrame(t, first), suFrame(t, lib); got != want {
		t.Fatalf("first build: lib_work's frame %d, GCC says %d", got, want)
	}
	before := len(cacheEntries(t, xdg))
	buildShared(t, dir, 4096, "cc33")
	_, second, _ := runWithCache(t, xdg, "analyze", "--format", "json", prog)
	if got, want := libFrame(t, second), suFrame(t, lib); got != want {
		t.Fatalf("rebuilt library: lib_work's frame %d, GCC says %d (served from the old build's entry?)", got, want)
	}
	if after := len(cacheEntries(t, xdg)); after != before+1 {
		t.Errorf("rebuilt library: %d cache entries, want %d (one more, for the new build ID)", after, before+1)
	}

	// Truncate the new library's entry: the next run ignores it, reports
	// the same, and writes it whole again.
	var entry string
	for _, e := range cacheEntries(t, xdg) {
		if strings.HasPrefix(filepath.Base(e), strings.Repeat("cc33", 10)+"-") {
			entry = e
		}
	}
	if entry == "" {
		t.Fatalf("no entry for build ID cc33 among %v", cacheEntries(t, xdg))
	}
	whole, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(entry, whole[:len(whole)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	// Without the stored report, which would answer before any library
	// entry is read (nothing the report depends on changed).
	dropReports(t, xdg)
	_, third, errOut := runWithCache(t, xdg, "analyze", "--format", "json", prog)
	if third != second {
		t.Errorf("with a truncated entry the report changed:\n%s", errOut)
	}
	again, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again[:len(magicPrefix)], []byte(magicPrefix)) || len(again) < len(whole) {
		t.Errorf("truncated entry not rewritten: %d bytes, was %d whole", len(again), len(whole))
	}
}

// magicPrefix is how a cache entry starts (libcache's format).
const magicPrefix = "stackscope-libcache\n"

// TestCacheConcurrent: two processes analysing two programs that share a
// library, at the same time and with the same empty cache, both succeed
// with the reports of runs without the cache; a third, warm run agrees.
func TestCacheConcurrent(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	lib := buildShared(t, dir, 512, "dd44")
	progs := []string{buildProgram(t, dir, lib, "a", 16), buildProgram(t, dir, lib, "b", 1024)}
	want := make([]string, len(progs))
	for i, p := range progs {
		_, want[i], _ = runWithCache(t, t.TempDir(), "analyze", "--no-cache", "--format", "json", p)
	}
	xdg := t.TempDir()
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		got := make([]string, len(progs))
		codes := make([]int, len(progs))
		errs := make([]string, len(progs))
		for i, p := range progs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], got[i], errs[i] = runWithCache(t, xdg, "analyze", "--format", "json", p)
			}()
		}
		wg.Wait()
		for i := range progs {
			if codes[i] != 0 || got[i] != want[i] {
				t.Errorf("round %d, %s: exit %d, report same as uncached: %v\n%s", round, progs[i], codes[i], got[i] == want[i], errs[i])
			}
		}
	}
	left, _ := filepath.Glob(filepath.Join(xdg, "stackscope", "*", "*"))
	for _, e := range left {
		if strings.Contains(filepath.Base(e), ".tmp") {
			t.Errorf("temporary file left behind: %s", e)
		}
	}
}

// TestAnalyzeMany: analyze -r over a directory with firmware and a file
// that is not ELF: one table line per file (the firmware's worst entry,
// as its own report gives it; the other file "not analysed"), exit 0;
// a JSON array with an "error" object; --budget makes it a finding
// (exit 1), never a usage error.
func TestAnalyzeMany(t *testing.T) {
	dir := t.TempDir()
	fw, err := os.ReadFile("../../examples/firmware/firmware.elf")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "a.elf"), fw, 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "b.elf"), fw, 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not ELF\n"), 0o644)

	_, one, _ := capture(t, "analyze", "--format", "json", filepath.Join(dir, "a.elf"))
	var single struct {
		Entries []struct {
			Name  string `json:"name"`
			Bound *int64 `json:"bound"`
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(one), &single); err != nil {
		t.Fatal(err)
	}
	worst, bound := "", int64(-1)
	for _, e := range single.Entries {
		if e.Bound != nil && *e.Bound > bound {
			worst, bound = e.Name, *e.Bound
		}
	}

	code, out, errOut := capture(t, "analyze", "-r", dir)
	if code != exitOK {
		t.Fatalf("analyze -r: exit %d, want 0 (%s)", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "VERDICT") {
		t.Fatalf("want a header and 3 lines:\n%s", out)
	}
	for _, l := range lines[1:] {
		switch {
		case strings.HasSuffix(l, "notes.txt"):
			if !strings.Contains(l, "not analysed: not an ELF file") {
				t.Errorf("notes.txt: %q", l)
			}
		default:
			if f := strings.Fields(l); len(f) < 4 || f[0]+" "+f[1] != fmt.Sprintf("%d B", bound) || !strings.Contains(l, " "+worst+" ") {
				t.Errorf("firmware line %q: want %d B and %s", l, bound, worst)
			}
		}
	}

	code, out, _ = capture(t, "analyze", "-r", "--format", "json", dir)
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != exitOK || len(list) != 3 {
		t.Fatalf("analyze -r --format json: exit %d, %d reports (%v)", code, len(list), err)
	}
	errors := 0
	for _, r := range list {
		if r["kind"] != "analyze" {
			t.Errorf("report without kind analyze: %v", r["binary"])
		}
		if _, ok := r["error"]; ok {
			errors++
		}
	}
	if errors != 1 {
		t.Errorf("%d error objects, want 1 (notes.txt)", errors)
	}

	if code, _, errOut := capture(t, "analyze", "-r", "--budget", "8", dir); code != exitFinding {
		t.Errorf("analyze -r --budget 8: exit %d, want 1 (%s)", code, errOut)
	}
}
