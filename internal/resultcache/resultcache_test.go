package resultcache

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/testutil"
)

const libSrc = `int lib_work(int x) { volatile char buf[BUF]; buf[x % BUF] = 1; return buf[0]; }`
const progSrc = `int lib_work(int x); int main(int argc, char **argv) { return lib_work(argc); }`

// build compiles libt.so (a BUF-byte buffer) into dir/lib and a program
// linked to it into dir/prog, and returns their paths.
func build(t *testing.T, dir string, buf int) (lib, prog string) {
	t.Helper()
	libDir := filepath.Join(dir, "lib")
	os.MkdirAll(libDir, 0o755)
	os.WriteFile(filepath.Join(libDir, "lib.c"), []byte(libSrc), 0o644)
	testutil.Run(t, libDir, "gcc", "-O2", "-fPIC", "-shared", fmt.Sprintf("-DBUF=%d", buf), "-o", "libt.so", "lib.c")
	os.WriteFile(filepath.Join(dir, "prog.c"), []byte(progSrc), 0o644)
	testutil.Run(t, dir, "gcc", "-O2", "-o", "prog", "prog.c", "-L"+libDir, "-lt", "-Wl,-rpath,"+libDir)
	return filepath.Join(libDir, "libt.so"), filepath.Join(dir, "prog")
}

// keyOf is the key of prog with a cache of its own (nothing remembered
// from an earlier key), and the libraries it found.
func keyOf(t *testing.T, in Inputs) (string, Dependencies) {
	t.Helper()
	c := &Cache{tool: "test"}
	k, deps, err := c.Key(in)
	if err != nil {
		t.Fatalf("key of %s: %v", in.Program, err)
	}
	return k, deps
}

// TestKeyCoversInputs: the key of a program changes when any one of its
// inputs changes (the program rebuilt, its library rebuilt at the same
// path, a library found first in another directory, a debug file
// appearing for the program or the library, a setting), and is the same
// when nothing did; the libraries it names are the ones the analysis loads.
func TestKeyCoversInputs(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	testutil.RequireTool(t, "objcopy")
	dir := t.TempDir()
	lib, prog := build(t, dir, 64)
	debug := t.TempDir()
	in := Inputs{Program: prog, DebugRoots: []string{debug}, Settings: []string{"format: json"}}
	base, deps := keyOf(t, in)
	if again, _ := keyOf(t, in); again != base {
		t.Fatal("the same inputs gave two keys")
	}
	res, err := analysis.Run(prog, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(deps.Libraries, res.Libraries) || !slices.Equal(deps.Missing, res.MissingLibraries) {
		t.Fatalf("key's libraries %v (missing %v), the analysis loaded %v (missing %v)", deps.Libraries, deps.Missing, res.Libraries, res.MissingLibraries)
	}
	if !slices.Contains(deps.Libraries, lib) {
		t.Fatalf("key does not name %s: %v", lib, deps.Libraries)
	}
	seen := map[string]string{base: "the first build"}
	differs := func(what string, in Inputs) {
		t.Helper()
		k, _ := keyOf(t, in)
		if prev, ok := seen[k]; ok {
			t.Errorf("%s: same key as %s", what, prev)
		}
		seen[k] = what
	}

	differs("another setting", Inputs{Program: prog, DebugRoots: []string{debug}, Settings: []string{"format: text"}})

	// Another CPU (a cache shared between machines): the lazy-binding
	// resolver's frame is this CPU's XSAVE size. Open keys this one's.
	other := &Cache{tool: "test", cpu: "d.0.ebx=0x2b00"}
	if k, _, err := other.Key(in); err != nil || seen[k] != "" {
		t.Errorf("another CPU's XSAVE size: key %s (%v), same as %q", k, err, seen[k])
	}
	if runtime.GOARCH == "amd64" && Open("test", "test").cpu == "" {
		t.Error("Open did not read this CPU's XSAVE words")
	}

	// A debug file appearing for the library, then for the program.
	for _, f := range []string{lib, prog} {
		id := binfile.BuildIDOf(f)
		if id == "" {
			t.Fatalf("%s has no build ID", f)
		}
		p := filepath.Join(debug, ".build-id", id[:2], id[2:]+".debug")
		os.MkdirAll(filepath.Dir(p), 0o755)
		testutil.Run(t, dir, "objcopy", "--only-keep-debug", f, p)
		differs("a debug file for "+filepath.Base(f), in)
	}

	// The same library, copied into a directory searched first.
	first := filepath.Join(dir, "first")
	os.MkdirAll(first, 0o755)
	data, _ := os.ReadFile(lib)
	os.WriteFile(filepath.Join(first, "libt.so"), data, 0o755)
	in2 := in
	in2.LibPaths = []string{first}
	differs("the library found in --lib-path", in2)
	if _, deps2 := keyOf(t, in2); deps2.Libraries[0] != filepath.Join(first, "libt.so") {
		t.Errorf("with --lib-path the key found %v", deps2.Libraries)
	}

	// The library rebuilt at the same path (the program unchanged), then
	// the program.
	// Without a build ID, so that only the bytes tell the builds apart.
	for _, buf := range []string{"1024", "4096"} {
		time.Sleep(10 * time.Millisecond)
		testutil.Run(t, filepath.Dir(lib), "gcc", "-O2", "-fPIC", "-shared", "-DBUF="+buf, "-Wl,--build-id=none", "-o", "libt.so", "lib.c")
		differs("the library rebuilt without a build ID, "+buf, in)
	}
	os.WriteFile(filepath.Join(dir, "prog.c"), []byte(progSrc+"\nint unused(void) { return 7; }\n"), 0o644)
	testutil.Run(t, dir, "gcc", "-O2", "-o", "prog", "prog.c", "-L"+filepath.Dir(lib), "-lt", "-Wl,-rpath,"+filepath.Dir(lib))
	differs("the program rebuilt", in)

	// A library that disappears is a missing one, named in the key.
	os.Remove(lib)
	differs("the library removed", in)
	if _, deps := keyOf(t, in); !slices.Equal(deps.Missing, []string{"libt.so"}) {
		t.Errorf("library removed: missing %v, want [libt.so]", deps.Missing)
	}
}

// TestKeyOfSystemProgram: for a real program the key names the libraries
// the analysis loads, in its order.
func TestKeyOfSystemProgram(t *testing.T) {
	for _, prog := range []string{"/bin/ls", "/usr/bin/gzip"} {
		if _, err := os.Stat(prog); err != nil {
			continue
		}
		_, deps := keyOf(t, Inputs{Program: prog})
		res, err := analysis.Run(prog, analysis.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !deps.Matches(res.Libraries, res.MissingLibraries) || len(res.Libraries) == 0 {
			t.Errorf("%s: key's libraries %v, the analysis loaded %v", prog, deps.Libraries, res.Libraries)
		}
	}
}

// TestEntries: an entry reads back as written; a truncated, corrupted or
// foreign entry is a miss and a Put rewrites it; concurrent writers of the
// same key leave a whole entry.
func TestEntries(t *testing.T) {
	c := &Cache{tool: "test", base: t.TempDir()}
	c.dir = filepath.Join(c.base, "results-v1-test")
	key := strings.Repeat("ab", 32)
	want := Entry{"report": []byte("the report\n"), "whys": []byte("a\nb")}
	if _, ok := c.Get(key); ok {
		t.Fatal("hit in an empty cache")
	}
	if err := c.Put(key, want); err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		got, ok := c.Get(key)
		if !ok || !bytes.Equal(got["report"], want["report"]) || !bytes.Equal(got["whys"], want["whys"]) {
			t.Fatalf("%s: got %q %v", what, got, ok)
		}
	}
	check("written")
	path := c.path(key)
	data, _ := os.ReadFile(path)
	for name, bad := range map[string][]byte{
		"truncated": data[:len(data)/2],
		"corrupted": append(append([]byte{}, data[:len(data)-3]...), data[len(data)-3]^0xff, 0, 0),
		"empty":     nil,
	} {
		os.WriteFile(path, bad, 0o644)
		if _, ok := c.Get(key); ok {
			t.Errorf("%s entry read as a hit", name)
		}
		c.Put(key, want)
		check(name + " entry rewritten")
	}
	// An entry copied under another key (a rename, a collision) is a miss.
	other := strings.Repeat("cd", 32)
	os.MkdirAll(filepath.Dir(c.path(other)), 0o755)
	os.WriteFile(c.path(other), data, 0o644)
	if _, ok := c.Get(other); ok {
		t.Error("an entry read under another key")
	}

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := Entry{"report": bytes.Repeat([]byte{byte('a' + i)}, 100000)}
			for range 20 {
				c.Put(key, e)
				if got, ok := c.Get(key); ok && (len(got["report"]) != 100000 || bytes.Count(got["report"], got["report"][:1]) != 100000) {
					t.Error("a reader saw a mixed or partial entry")
				}
			}
		}()
	}
	wg.Wait()
	if tmp, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.tmp*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// TestEvict: entries of any version unused for MaxAge go, with temporary
// files a killed writer left; used ones and other files stay; a second
// sweep within a day does nothing.
func TestEvict(t *testing.T) {
	base := t.TempDir()
	now := time.Now()
	old, fresh := now.Add(-MaxAge-time.Hour), now.Add(-MaxAge+time.Hour)
	files := map[string]time.Time{
		"results-v1-devel/ab/old.gob": old,
		"results-v1-devel/ab/new.gob": fresh,
		"results-v1-0.9/cd/old.gob":   old,
		"libs-v2-devel/x-lib.gob":     old,
		"libs-v2-devel/y-lib.gob":     fresh,
		"libs-v2-devel/y.gob.tmp123":  now.Add(-2 * time.Hour),
		"libs-v2-devel/z.gob.tmp456":  now.Add(-time.Minute),
		"someone-else/old-file":       old,
	}
	for name, mt := range files {
		p := filepath.Join(base, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
		os.Chtimes(p, mt, mt)
	}
	Evict(base, MaxAge, now)
	for name := range files {
		_, err := os.Stat(filepath.Join(base, name))
		gone := err != nil
		want := strings.Contains(name, "old.gob") || name == "libs-v2-devel/x-lib.gob" || strings.HasSuffix(name, "tmp123")
		if gone != want {
			t.Errorf("%s: removed %v, want %v", name, gone, want)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "results-v1-0.9")); err == nil {
		t.Error("an emptied version directory was left")
	}
	p := filepath.Join(base, "results-v1-devel/ab/new.gob")
	os.Chtimes(p, old, old)
	Evict(base, MaxAge, now.Add(time.Hour))
	if _, err := os.Stat(p); err != nil {
		t.Error("a second sweep within a day removed an entry")
	}
	Evict(base, MaxAge, now.Add(25*time.Hour))
	if _, err := os.Stat(p); err == nil {
		t.Error("a sweep a day later kept an unused entry")
	}
}

// TestGetMarksUsed: reading an entry a day old or more makes it new, so
// an entry still in use is not evicted.
func TestGetMarksUsed(t *testing.T) {
	c := &Cache{tool: "test", base: t.TempDir()}
	c.dir = filepath.Join(c.base, "results-v1-test")
	key := strings.Repeat("01", 32)
	c.Put(key, Entry{"x": []byte("y")})
	old := time.Now().Add(-MaxAge + time.Hour)
	os.Chtimes(c.path(key), old, old)
	if _, ok := c.Get(key); !ok {
		t.Fatal("miss")
	}
	if st, _ := os.Stat(c.path(key)); time.Since(st.ModTime()) > time.Hour {
		t.Errorf("entry read but still dated %v", st.ModTime())
	}
}

// TestKeyCoversVDSO: the key names the running kernel's vDSO, whose code
// the analysis walks where glibc calls into it: another kernel's image
// gives another key, the same one the same key.
func TestKeyCoversVDSO(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	_, prog := build(t, t.TempDir(), 64)
	in := Inputs{Program: prog}
	base, _ := keyOf(t, in)
	id := runningVDSO()
	if id != "" && !strings.HasPrefix(id, "Linux ") {
		t.Errorf("the vDSO's identity %q does not name the kernel", id)
	}
	defer func(f func() string) { runningVDSO = f }(runningVDSO)
	for _, other := range []string{"Linux 9.9.9 x86_64 0123", ""} {
		if other == id {
			continue
		}
		runningVDSO = func() string { return other }
		if k, _ := keyOf(t, in); k == base {
			t.Errorf("with the vDSO %q the key is the one of the running kernel's", other)
		}
	}
}

// TestStream: an entry whose report is written in pieces as it is made
// (Stream) reads back as Put's would, with its other pieces; one aborted,
// or cut short, is a miss, and neither leaves a temporary file. Two
// streams of the same key at once leave one whole entry.
func TestStream(t *testing.T) {
	c := &Cache{tool: "test", base: t.TempDir()}
	c.dir = filepath.Join(c.base, "results-v2-test")
	key := strings.Repeat("ab", 32)
	report := bytes.Repeat([]byte("a line of the report\n"), 50000)
	write := func(s *Stream, report []byte) {
		for len(report) > 0 {
			n := min(len(report), 4093)
			s.Write(report[:n])
			report = report[n:]
		}
	}
	s := c.Stream(key, "report")
	write(s, report)
	if err := s.Finish(Entry{"whys": []byte("a\nb")}); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Get(key)
	if !ok || !bytes.Equal(got["report"], report) || string(got["whys"]) != "a\nb" || len(got) != 2 {
		t.Fatalf("read back %v: %d bytes of report, whys %q, %d pieces", ok, len(got["report"]), got["whys"], len(got))
	}
	path := c.path(key)
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)-1], 0o644)
	if _, ok := c.Get(key); ok {
		t.Error("an entry cut short read as a hit")
	}
	other := strings.Repeat("cd", 32)
	s = c.Stream(other, "report")
	write(s, report)
	s.Abort()
	if _, ok := c.Get(other); ok {
		t.Error("an aborted entry read as a hit")
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := c.Stream(key, "report")
			write(s, bytes.Repeat([]byte{byte('a' + i)}, len(report)))
			s.Finish(nil)
		}()
	}
	wg.Wait()
	if got, ok := c.Get(key); !ok || bytes.Count(got["report"], got["report"][:1]) != len(report) {
		t.Error("streams at once left no whole entry")
	}
	if tmp, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.tmp*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// TestStreamTooLarge: a report over maxStreamed is not stored (libLLVM's
// 20 GB JSON report would be written to the cache a second time), its
// temporary file is gone, and Finish and Abort after it do nothing.
func TestStreamTooLarge(t *testing.T) {
	c := &Cache{tool: "test", base: t.TempDir()}
	c.dir = filepath.Join(c.base, "results-v2-test")
	defer func(old int64) { maxStreamed = old }(maxStreamed)
	maxStreamed = 10000
	key := strings.Repeat("ef", 32)
	s := c.Stream(key, "report")
	for range 30 {
		s.Write(bytes.Repeat([]byte("x"), 999))
	}
	if err := s.Finish(Entry{"whys": []byte("a")}); err != nil {
		t.Fatal(err)
	}
	s.Abort()
	if _, ok := c.Get(key); ok {
		t.Error("a report over the limit was stored")
	}
	left, _ := filepath.Glob(filepath.Join(c.dir, "*", "*"))
	if len(left) > 0 {
		t.Errorf("files left in the cache: %v", left)
	}
	small := strings.Repeat("01", 32)
	s = c.Stream(small, "report")
	s.Write(bytes.Repeat([]byte("y"), 9999))
	if err := s.Finish(nil); err != nil {
		t.Fatal(err)
	}
	if e, ok := c.Get(small); !ok || len(e["report"]) != 9999 {
		t.Errorf("a report under the limit: stored %v, %d bytes", ok, len(e["report"]))
	}
}
