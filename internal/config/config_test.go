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

// TestMemory: [memory] regions in linker-script numbers, or a linker script
// relative to the file; what is wrong is one line naming the file.
func TestMemory(t *testing.T) {
	c, err := Parse("/board/stackscope.toml", []byte(`
[[memory.region]]
name = "FLASH"
origin = 0
length = "4M"
attributes = "rx"

[[memory.region]]
name = "RAM"
origin = 0x20000000
length = "4M - 1K"
attributes = "RWX"
`))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Memory.Parsed
	if len(p) != 2 || p[0].Name != "FLASH" || p[0].Length != 4<<20 || p[1].Origin != 0x20000000 || p[1].Length != 4<<20-1<<10 || p[1].Attributes != "rwx" {
		t.Errorf("regions %+v", p)
	}
	c, err = Parse("/board/stackscope.toml", []byte("[memory]\nld = \"link/board.ld\"\n"))
	if err != nil || c.Memory.LD != "/board/link/board.ld" || !c.Memory.Given() {
		t.Errorf("ld: %+v %v", c, err)
	}
	for src, want := range map[string]string{
		"[[memory.region]]\norigin = 0\nlength = 1\n":                                        "[[memory.region]] 1 has no name",
		"[[memory.region]]\nname = \"R\"\nlength = 1\n":                                      "(R): origin: missing",
		"[[memory.region]]\nname = \"R\"\norigin = 0\nlength = \"4Q\"\n":                     "(R): length: number 4Q not understood",
		"[[memory.region]]\nname = \"R\"\norigin = -1\nlength = 1\n":                         "(R): origin: -1 is negative",
		"[[memory.region]]\nname = \"R\"\norigin = 0\nlength = 1\nattributes = \"rq\"\n":     "(R): attributes: attribute 'q' not understood",
		"[memory]\nld = \"a.ld\"\n[[memory.region]]\nname = \"R\"\norigin = 0\nlength = 1\n": "both ld and [[memory.region]]",
		"[memory]\nsize = 3\n": `unknown key "memory.size"`,
	} {
		_, err := Parse("s.toml", []byte(src))
		if err == nil || !strings.HasPrefix(err.Error(), "s.toml: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", src, err, want)
		}
	}
}

// TestParseSizes: every size in stackscope.toml takes an integer or the
// flags' size syntax (internal/size); what it refuses is one line naming
// the file and the value.
func TestParseSizes(t *testing.T) {
	c, err := Parse("s.toml", []byte(`
[[frame]]
function = "memcpy"
bytes = "1.5k"

[budgets]
default = "4KiB"
entries = { main = "8k", isr = 512 }
threads = { child_run = "1M" }
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Frames[0].Bytes != 1536 || c.Budget("other") != 4096 || c.Budget("main") != 8192 || c.Budget("isr") != 512 ||
		c.Budgets.Threads["child_run"] != 1<<20 {
		t.Fatalf("parsed %+v", c)
	}
	for _, bad := range []struct{ toml, says string }{
		{"[budgets]\ndefault = \"4KB\"", "4KB"},
		{"[budgets]\ndefault = -1", "negative"},
		{"[budgets]\nentries = { main = \"1.3K\" }", "1.3K"},
		{"[budgets]\nthreads = { t = \"0x100\" }", "0x100"},
		{"[budgets]\ndefault = 1.5", "not a size"},
		{"[[frame]]\nfunction = \"f\"\nbytes = \"-8\"", "negative"},
		{"[budgets]\ndefault = \"99999999999G\"", "too large"},
	} {
		_, err := Parse("bad.toml", []byte(bad.toml))
		if err == nil || !strings.HasPrefix(err.Error(), "bad.toml: ") || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("%q: want one line naming the file and %q, got %v", bad.toml, bad.says, err)
		}
	}
}
