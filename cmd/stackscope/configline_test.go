package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestConfigLine: analyze's text says in one line which stackscope.toml it
// used and whether the pinned hashes matched: matched, changed (that
// annotation ignored), not pinned, or not checkable (a function not in
// the file); without a configuration there is no such line.
func TestConfigLine(t *testing.T) {
	prog := buildC(t, "testdata/deep.c", "-O0")
	dir := filepath.Dir(prog)
	if code, out, _ := capture(t, "analyze", "--no-libraries", prog); code != 0 || strings.Contains(out, "config: ") {
		t.Fatalf("no configuration: exit %d, and the text has a config line: %q", code, out)
	}
	toml := filepath.Join(dir, "stackscope.toml")
	write := func(s string) {
		if err := os.WriteFile(toml, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Unpinned first: the warning gives the hash of down's code as it is.
	write("[[recursion]]\nfunction = \"down\"\ndepth = 21\n")
	_, out, _ := capture(t, "analyze", "--no-libraries", prog)
	m := regexp.MustCompile(`add hash = "([^"]+)"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no hash offered for the unpinned annotation:\n%s", out)
	}
	if !strings.Contains(out, "config: "+toml+" (1 annotation(s): 1 not pinned by a hash)\n") {
		t.Errorf("unpinned: the text lacks the config line:\n%s", out)
	}
	write(`[[recursion]]
function = "down"
depth = 21
hash = "` + m[1] + `"

[[frame]]
function = "main"
bytes = 64
hash = "0000000000000000"

[[frame]]
function = "printf"
bytes = 512
hash = "0000000000000000"
`)
	_, out, _ = capture(t, "analyze", "--no-libraries", prog)
	want := "config: " + toml + " (3 annotation(s): 1 hash(es) CHANGED, those annotations ignored, 1 hash(es) matched, 1 not checked (function not in this file))\n"
	if !strings.Contains(out, want) {
		t.Errorf("the text lacks %q:\n%s", want, out)
	}
}
