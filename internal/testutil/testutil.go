// Package testutil holds helpers shared by the tests: finding the external
// tools (gcc, arm-none-eabi-gcc, objdump) that fixtures are built with, and
// compiling fixtures into a test's temporary directory.
package testutil

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// RequireTool returns the path of an external tool the test needs. When it is
// missing the test is skipped with a message naming it, unless
// STACKSCOPE_REQUIRE_TOOLS=1 (set by the README's test command and CI), where
// a missing tool fails the test: CI must never pass by skipping.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("STACKSCOPE_REQUIRE_TOOLS") == "1" {
		t.Fatalf("required tool %s is not installed (run ./scripts/test.sh, which installs it)", name)
	}
	t.Skipf("SKIPPED: %s is not installed; ./scripts/test.sh installs it", name)
	return ""
}

// Run runs a command in dir and fails the test with its output when it fails.
func Run(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// SULine is one line of a GCC -fstack-usage (.su) file.
type SULine struct {
	File     string
	Function string // normalised: see SUName
	Bytes    int64
	Kind     string // "static", "dynamic" or "dynamic,bounded"
}

// ParseSU reads every .su file in dir.
func ParseSU(t testing.TB, dir string) []SULine {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, "*.su"))
	var out []SULine
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			parts := strings.Split(line, "\t")
			if len(parts) != 3 {
				continue
			}
			loc := parts[0]
			// file:line:col:name; the name may contain colons (C++).
			fields := strings.SplitN(loc, ":", 4)
			if len(fields) != 4 {
				continue
			}
			n, err := strconv.ParseInt(parts[1], 10, 64)
			if err != nil {
				continue
			}
			out = append(out, SULine{File: fields[0], Function: SUName(fields[3]), Bytes: n, Kind: parts[2]})
		}
	}
	return out
}

var cloneSuffix = regexp.MustCompile(`(\.(constprop|isra|part|cold|lto_priv))(\.\d+)?`)

// SUName normalises a function name from a .su file or a symbol so the two
// compare equal: GCC writes "virtual int S::f(int)" where the demangled
// symbol is "S::f(int)", and "fill.constprop" for the symbol "fill.constprop.0".
func SUName(name string) string {
	name = strings.TrimPrefix(name, "virtual ")
	if i := strings.IndexByte(name, '('); i > 0 {
		// Drop a return type: the last space before the parameter list that
		// is not inside a template argument list.
		depth := 0
		cut := -1
		for j := 0; j < i; j++ {
			switch name[j] {
			case '<':
				depth++
			case '>':
				depth--
			case ' ':
				if depth == 0 {
					cut = j
				}
			}
		}
		if cut >= 0 {
			name = name[cut+1:]
		}
	}
	return cloneSuffix.ReplaceAllString(name, "$1")
}

// Corpus returns the directory of a third-party code base kept beside the
// repository in shared/corpora/NAME (the FreeRTOS kernel, for example). It
// looks in every directory above the test's working directory, so that it is
// found from the repository's checkout and from a worktree next to it. When
// the corpus is absent the test skips with one line saying what is missing,
// even under STACKSCOPE_REQUIRE_TOOLS: CI provides the corpora, a user's
// checkout may not.
func Corpus(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "corpora", name)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	t.Skipf("SKIPPED: corpus %s not found in ../shared/corpora above the repository (the README, Run the tests, says how to get it)", name)
	return ""
}

// SourceTree returns the unpacked Debian source package pkg (zlib,
// lua5.4, sqlite3) that scripts/fetch-sources.sh keeps in .cache/sources
// at the module's root. Without it the test skips with one line saying how
// to fetch it, or fails under STACKSCOPE_REQUIRE_TOOLS=1 (test.sh fetches
// them).
func SourceTree(t testing.TB, pkg string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above %s", dir)
		}
		dir = parent
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".cache", "sources", pkg+"-*"))
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.IsDir() {
			return m
		}
	}
	if os.Getenv("STACKSCOPE_REQUIRE_TOOLS") == "1" {
		t.Fatalf("source package %s missing: run scripts/fetch-sources.sh %s", pkg, pkg)
	}
	t.Skipf("SKIPPED: source package %s not fetched; run scripts/fetch-sources.sh %s", pkg, pkg)
	return ""
}

// ZlibSources are zlib's library files (not its examples or contrib) in
// the source tree root.
func ZlibSources(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	for _, name := range []string{"adler32", "compress", "crc32", "deflate", "gzclose", "gzlib", "gzread", "gzwrite", "infback", "inffast", "inflate", "inftrees", "trees", "uncompr", "zutil"} {
		p := filepath.Join(root, name+".c")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("zlib source %s missing: %v", p, err)
		}
		out = append(out, p)
	}
	return out
}

// LuaSources are Lua's library and VM files in the source tree root (not
// the stand-alone interpreter and compiler).
func LuaSources(t testing.TB, root string) []string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(root, "src", "*.c"))
	var out []string
	for _, m := range matches {
		switch filepath.Base(m) {
		case "lua.c", "luac.c", "onelua.c":
			continue
		}
		out = append(out, m)
	}
	if len(out) < 20 {
		t.Fatalf("lua sources under %s: only %d files", root, len(out))
	}
	return out
}

// LuaIncludes are the compiler flags Debian's Lua sources need, with the
// header Debian's build generates written (empty) into dir.
func LuaIncludes(t testing.TB, root, dir string) []string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "lua5.4-deb-multiarch.h"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"-I" + filepath.Join(root, "src"), "-I" + dir, `-DDEB_HOST_MULTIARCH="none"`}
}

// ELFWith opens the ELF file at path (a program of the machine, such as
// /usr/bin/node), closed when the test ends; the test is skipped, saying
// why, when the file does not open or has none of the sections named.
func ELFWith(t testing.TB, path string, sections ...string) *elf.File {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { f.Close() })
	for _, name := range sections {
		if f.Section(name) == nil {
			t.Skipf("%s has no %s", path, name)
		}
	}
	return f
}
