package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAnalyzeStreamedOutput: a report is written as it is rendered
// (--no-cache; with a cache the first time, while it is stored), and is
// byte for byte the report the cache gives back whole (the same command
// again) in every format, on stdout and in -o FILE, with the same exit status. -o replaces an existing file keeping its
// mode, writes through a symbolic link, and leaves no temporary file
// behind.
func TestAnalyzeStreamedOutput(t *testing.T) {
	prog := buildC(t, "testdata/deep.c", "-O0")
	dir := t.TempDir()
	for _, file := range []string{firmware, prog} {
		for _, format := range []string{"text", "json", "sarif"} {
			cache := t.TempDir()
			first, firstOut, _ := runWithCache(t, cache, "analyze", "--no-libraries", "--format", format, file)
			whole, wholeOut, _ := runWithCache(t, cache, "analyze", "--no-libraries", "--format", format, file)
			if first != whole || firstOut != wholeOut {
				t.Errorf("%s --format %s: first run (streamed and stored) exit %d, %d bytes; read back exit %d, %d bytes", file, format, first, len(firstOut), whole, len(wholeOut))
			}
			code, out, _ := runWithCache(t, t.TempDir(), "analyze", "--no-libraries", "--no-cache", "--format", format, file)
			if code != whole || out != wholeOut || out == "" {
				t.Errorf("%s --format %s: streamed exit %d, %d bytes; rendered whole exit %d, %d bytes", file, format, code, len(out), whole, len(wholeOut))
			}
			target := filepath.Join(dir, "report."+format)
			if err := os.WriteFile(target, []byte("old report, longer than nothing"), 0o600); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dir, "link."+format)
			os.Remove(link)
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			for _, o := range []string{target, link} {
				code, stdout, _ := runWithCache(t, t.TempDir(), "analyze", "--no-libraries", "--no-cache", "--format", format, "-o", o, file)
				if code != whole || stdout != "" {
					t.Errorf("%s --format %s -o %s: exit %d (want %d), stdout %d bytes", file, format, o, code, whole, len(stdout))
				}
				if got := readFile(t, o); got != wholeOut {
					t.Errorf("%s --format %s -o %s: the file (%d bytes) is not the report (%d bytes)", file, format, o, len(got), len(wholeOut))
				}
			}
			if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
				t.Errorf("-o %s: the symbolic link was replaced", link)
			}
			if st, err := os.Stat(target); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("-o %s: mode %v, want the old file's 0600", target, st.Mode())
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
