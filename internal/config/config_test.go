package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	c, err := Parse("s.toml", []byte(`
entries = ["worker"]

[[indirect]]
function = "dispatch"
targets = ["h1", "h2"]

[[recursion]]
function = "fact"
depth = 12
hash = "sha256:0011223344556677"

[[frame]]
function = "memcpy"
bytes = 64

[interrupts]
groups = [["UART_IRQHandler", "TIMER_IRQHandler"]]

[budgets]
default = 4096
entries = { main = 8192 }
threads = { child_run = 8192 }
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Entries[0] != "worker" || c.Indirect[0].Targets[1] != "h2" || c.Recursion[0].Depth != 12 ||
		c.Frames[0].Bytes != 64 || len(c.Interrupts.Groups[0]) != 2 || c.Budget("main") != 8192 ||
		c.Budget("other") != 4096 || c.Budgets.Threads["child_run"] != 8192 {
		t.Fatalf("parsed %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{
		"entries = [",     // syntax
		"unknown_key = 1", // a typo must not be ignored
		"[[recursion]]\nfunction = \"f\"\ndepth = 0",
		"[[frame]]\nbytes = 3",
		"[[indirect]]\nfunction = \"f\"",
	} {
		_, err := Parse("bad.toml", []byte(bad))
		if err == nil || !strings.HasPrefix(err.Error(), "bad.toml: ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: want one line naming the file, got %v", bad, err)
		}
	}
}

func TestLoadFindsFileBesideBinary(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), []byte("entries = [\"x\"]\n"), 0o644)
	c, err := Load("", filepath.Join(dir, "prog"))
	if err != nil || len(c.Entries) != 1 || c.Path == "" {
		t.Fatalf("got %+v, %v", c, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml"), ""); err == nil {
		t.Fatal("missing explicit file must be an error")
	}
}
