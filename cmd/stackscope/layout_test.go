package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/report/sarif/sariftest"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestLayoutExitCodes: 1 for an unsafe layout (the README's example
// firmware), 0 for a stack first in RAM, 2 for a bad file or flag.
func TestLayoutExitCodes(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "map.svg")
	if code := runMain([]string{"layout", "--svg", svg, "../../examples/firmware/firmware.elf"}); code != exitFinding {
		t.Errorf("example firmware: exit %d, want 1 (stack at the top of RAM above .bss)", code)
	}
	if st, err := os.Stat(svg); err != nil || st.Size() < 1000 {
		t.Errorf("--svg wrote nothing: %v", err)
	}
	if code := runMain([]string{"layout", "--format", "json", "../../examples/firmware/firmware.elf"}); code != exitFinding {
		t.Errorf("json: exit %d", code)
	}
	if code := runMain([]string{"layout", filepath.Join(dir, "missing.elf")}); code != exitUsage {
		t.Errorf("missing file: exit %d, want 2", code)
	}
	if code := runMain([]string{"layout", "--format", "xml", "../../examples/firmware/firmware.elf"}); code != exitUsage {
		t.Errorf("bad format: exit %d, want 2", code)
	}

	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs("../../internal/layout/testdata")
	fw := filepath.Join(dir, "safe.elf")
	testutil.Run(t, dir, cc, "-mcpu=cortex-m3", "-mthumb", "-O2", "-ffreestanding", "-nostdlib",
		"-T", filepath.Join(td, "start.ld"), "-o", fw, filepath.Join(td, "startup.c"), filepath.Join(td, "support.c"),
		filepath.Join(td, "hardfault_c.c"), filepath.Join(td, "app.c"), "-lgcc")
	// Stack first in RAM: not proved without the memory map (UNKNOWN,
	// exit 1), SAFE with it, from --ld or from stackscope.toml's [memory].
	ld := filepath.Join(td, "start.ld")
	if code, out, _ := capture(t, "layout", fw); code != exitFinding || !strings.Contains(out, ": UNKNOWN: ") || !strings.Contains(out, "--ld FILE.ld") {
		t.Errorf("stack first in RAM without a memory map: exit %d, want 1 and UNKNOWN:\n%s", code, out)
	}
	rules := func(args ...string) map[string]int {
		_, out, _ := capture(t, append([]string{"layout", "--format", "sarif"}, args...)...)
		n := map[string]int{}
		for _, f := range sariftest.Results(sariftest.Check(t, out)) {
			n[f.Rule]++
		}
		return n
	}
	if r := rules(fw); r["SS105"] != 1 || r["SS101"] != 0 {
		t.Errorf("SARIF without a memory map: %v, want one SS105 (placement not proved)", r)
	}
	if r := rules("--ld", ld, fw); r["SS105"] != 0 || r["SS101"] != 0 {
		t.Errorf("SARIF with the memory map: %v, want no placement result", r)
	}
	if code, out, _ := capture(t, "layout", "--ld", ld, fw); code != exitOK || !strings.Contains(out, ": SAFE: ") || !strings.Contains(out, "MEMORY MAP (from "+ld+" (--ld))") {
		t.Errorf("--ld: exit %d, want 0 and SAFE:\n%s", code, out)
	}
	toml := filepath.Join(dir, "stackscope.toml") // beside the binary: found without --config
	os.WriteFile(toml, []byte("[[memory.region]]\nname = \"FLASH\"\norigin = 0x08000000\nlength = \"64K\"\nattributes = \"rx\"\n\n"+
		"[[memory.region]]\nname = \"RAM\"\norigin = 0x20000000\nlength = \"16K\"\nattributes = \"rwx\"\n"), 0o644)
	if code, out, _ := capture(t, "layout", fw); code != exitOK || !strings.Contains(out, "[memory] in "+toml) {
		t.Errorf("[memory] regions: exit %d, want 0:\n%s", code, out)
	}
	os.Remove(toml)
	other := filepath.Join(t.TempDir(), "other.toml")
	os.WriteFile(other, []byte("[memory]\nld = \""+ld+"\"\n"), 0o644)
	if code, _, _ := capture(t, "layout", "--config", other, fw); code != exitOK {
		t.Errorf("[memory] ld: exit %d, want 0", code)
	}
}

// TestLayoutBadMemoryMap: a linker script or [memory] it cannot read is one
// line naming the file (and the line), exit 2.
func TestLayoutBadMemoryMap(t *testing.T) {
	dir := t.TempDir()
	fw := "../../examples/firmware/firmware.elf"
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--ld", write("suffix.ld", "MEMORY\n{\n  RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 20KB\n}\n")}, "suffix.ld:3: number 20KB not understood"},
		{[]string{"--ld", write("nomem.ld", "INCLUDE mem.ld\nSECTIONS { }\n")}, "nomem.ld: no MEMORY block (it INCLUDEs mem.ld"},
		{[]string{"--ld", write("sym.ld", "MEMORY {\n\n  RAM : ORIGIN = RAM_BASE, LENGTH = 4K\n}\n")}, "sym.ld:3: symbol RAM_BASE is not assigned"},
		{[]string{"--ld", filepath.Join(dir, "missing.ld")}, "missing.ld: no such file"},
		{[]string{"--config", write("bad.toml", "[[memory.region]]\nname = \"RAM\"\norigin = 0x20000000\nlength = \"4 M\"\n")}, "bad.toml: [[memory.region]] 1 (RAM): length:"},
	}
	for _, c := range cases {
		code, out, errOut := capture(t, append(append([]string{"layout"}, c.args...), fw)...)
		if code != exitUsage || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line with %q", c.args, code, errOut, c.want)
		}
	}
}

// TestLayoutGroupsSections: a -ffunction-sections build linked without
// merging .text.* (29 output sections by objdump) lists the largest five
// and one line for the rest; the JSON keeps every section.
func TestLayoutGroupsSections(t *testing.T) {
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	objdump := testutil.RequireTool(t, "arm-none-eabi-objdump")
	td, _ := filepath.Abs("../../internal/layout/testdata")
	dir := t.TempDir()
	fw := filepath.Join(dir, "many.elf")
	testutil.Run(t, dir, cc, "-mcpu=cortex-m3", "-mthumb", "-O2", "-ffunction-sections", "-fdata-sections", "-ffreestanding", "-nostdlib",
		"-T", filepath.Join(td, "unmerged.ld"), "-o", fw, filepath.Join(td, "startup.c"), filepath.Join(td, "support.c"),
		filepath.Join(td, "hardfault_naked.c"), filepath.Join(td, "app.c"), filepath.Join(td, "many.c"), "-lgcc")
	count := map[string]int{}
	for _, line := range strings.Split(testutil.Run(t, dir, objdump, "-h", fw), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			for _, fam := range []string{".text.", ".rodata."} {
				if strings.HasPrefix(f[1], fam) {
					count[fam]++
				}
			}
		}
	}
	if count[".text."] < 20 || count[".rodata."] < 20 {
		t.Fatalf("objdump: %v output sections; the fixture should keep 20 or more of each", count)
	}
	code, out, _ := capture(t, "layout", "--ld", filepath.Join(td, "unmerged.ld"), fw)
	if code != exitOK {
		t.Errorf("exit %d, want 0 (stack first in RAM, with its memory map)", code)
	}
	for fam, n := range count {
		shown := 0
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), fam) {
				shown++
			}
		}
		if want := fmt.Sprintf("and %d more %s*", n-5, fam); shown != 5 || !strings.Contains(out, want) {
			t.Errorf("%s: %d lines shown, want 5 and %q:\n%s", fam, shown, want, out)
		}
	}
	_, js, _ := capture(t, "layout", "--format", "json", "--ld", filepath.Join(td, "unmerged.ld"), fw)
	var doc struct {
		Regions []struct {
			Name     string                  `json:"name"`
			Sections []struct{ Name string } `json:"sections"`
		} `json:"regions"`
		MemoryMap struct{ From string } `json:"memory_map"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	inJSON := map[string]int{}
	for _, r := range doc.Regions {
		for _, s := range r.Sections {
			for fam := range count {
				if strings.HasPrefix(s.Name, fam) {
					inJSON[fam]++
				}
			}
		}
	}
	if fmt.Sprint(inJSON) != fmt.Sprint(count) || !strings.HasSuffix(doc.MemoryMap.From, "unmerged.ld (--ld)") {
		t.Errorf("JSON sections %v, objdump %v; memory_map from %q", inJSON, count, doc.MemoryMap.From)
	}
}
