package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// capture runs the command line and returns its exit code, stdout and
// stderr.
func capture(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	oldOut, oldErr := os.Stdout, os.Stderr
	ro, wo, _ := os.Pipe()
	re, we, _ := os.Pipe()
	os.Stdout, os.Stderr = wo, we
	outc, errc := make(chan string), make(chan string)
	go func() { b, _ := io.ReadAll(ro); outc <- string(b) }()
	go func() { b, _ := io.ReadAll(re); errc <- string(b) }()
	code := runMain(args)
	wo.Close()
	we.Close()
	os.Stdout, os.Stderr = oldOut, oldErr
	return code, <-outc, <-errc
}

// TestAnalyzeBadInput: every bad input gets one line naming the file and
// exit 2, never a panic.
func TestAnalyzeBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, err := os.ReadFile("../../examples/firmware/firmware.elf")
	if err != nil {
		t.Fatal(err)
	}
	// The same image with e_machine changed to MIPS.
	foreign := append([]byte(nil), good...)
	foreign[18], foreign[19] = 0x08, 0x00
	corrupt := append([]byte(nil), good...)
	for i := 0x20; i < 0x34; i++ { // section header offset, sizes, counts
		corrupt[i] = 0xff
	}
	cases := map[string]string{
		"missing":   filepath.Join(dir, "nope.elf"),
		"directory": dir,
		"not ELF":   write("notes.txt", []byte("this is not an ELF file\n")),
		"empty":     write("empty", nil),
		"truncated": write("trunc.elf", good[:len(good)/3]),
		"header":    write("header.elf", good[:30]),
		"foreign":   write("mips.elf", foreign),
		"corrupt":   write("corrupt.elf", corrupt),
	}
	for what, path := range cases {
		code, out, errOut := capture(t, "analyze", path)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want 2 (stdout %q, stderr %q)", what, code, out, errOut)
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], path) {
			t.Errorf("%s: want one line naming %s, got %q", what, path, errOut)
		}
		if strings.Contains(errOut, "panic") || strings.Contains(errOut, "goroutine") {
			t.Errorf("%s: panic: %s", what, errOut)
		}
	}
	if code, _, _ := capture(t, "analyze", "--format", "xml", "../../examples/firmware/firmware.elf"); code != exitUsage {
		t.Errorf("bad --format: exit %d, want 2", code)
	}
	if code, _, _ := capture(t, "analyze", "--bogus"); code != exitUsage {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code, _, _ := capture(t, "analyze"); code != exitUsage {
		t.Errorf("no file: exit %d, want 2", code)
	}
	if code, _, errOut := capture(t, "analyze", "--entry", "no_such_function", "../../examples/firmware/firmware.elf"); code != exitUsage || !strings.Contains(errOut, "no_such_function") {
		t.Errorf("unknown entry: exit %d, %q", code, errOut)
	}
}

// TestAnalyzeBudget checks the exit status contract on the example firmware
// (main-stack total 684 bytes, every entry bounded).
func TestAnalyzeBudget(t *testing.T) {
	fw := "../../examples/firmware/firmware.elf"
	code, out, _ := capture(t, "analyze", "--format", "json", fw)
	if code != exitOK {
		t.Fatalf("no budget: exit %d", code)
	}
	var res struct {
		Interrupts struct {
			Total *int64 `json:"total"`
		} `json:"interrupts"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Interrupts.Total == nil {
		t.Fatalf("json: %v, total %v", err, res.Interrupts.Total)
	}
	total := *res.Interrupts.Total
	if code, _, _ := capture(t, "analyze", "--budget", itoa(total), fw); code != exitOK {
		t.Errorf("budget = total: exit %d, want 0", code)
	}
	if code, out, _ := capture(t, "analyze", "--budget", itoa(total-1), fw); code != exitFinding || !strings.Contains(out, "OVER BUDGET") {
		t.Errorf("budget below total: exit %d, want 1 with OVER BUDGET", code)
	}
}

// TestAnalyzeUnboundedFailsBudget: a recursive program is not bounded, so
// any budget fails unless --allow-unbounded and its lower bound fits.
func TestAnalyzeUnboundedFailsBudget(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "rec.c")
	os.WriteFile(src, []byte("int rec(int n){ volatile char b[64]; b[0]=n; return n ? rec(n-1)+b[0] : 0; }\nint main(int c, char **v){ (void)v; return rec(c); }\n"), 0o644)
	bin := filepath.Join(dir, "rec")
	testutil.Run(t, dir, gcc, "-O1", "-o", bin, src)
	code, out, _ := capture(t, "analyze", "--no-libraries", "--entry", "main", "--budget", "100000", bin)
	if code != exitFinding || !strings.Contains(out, "NOT BOUNDED") || !strings.Contains(out, "recursion") {
		t.Errorf("recursion under a budget: exit %d\n%s", code, out)
	}
	if code, _, _ := capture(t, "analyze", "--no-libraries", "--entry", "main", "--budget", "100000", "--allow-unbounded", bin); code != exitOK {
		t.Errorf("--allow-unbounded with the lower bound under budget: exit %d, want 0", code)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestAnalyzeCompressedDebugSections: a file whose DWARF sections are
// compressed (gcc -gz; every Go program) is analysed, with source lines;
// it once failed as "corrupted ELF file" (a compressed section has no
// ReaderAt).
func TestAnalyzeCompressedDebugSections(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "z.c")
	os.WriteFile(src, []byte("int leaf(int x) { volatile char b[100]; b[x % 100] = 1; return b[1]; }\nint main(int c, char **v) { return leaf(c); }\n"), 0o644)
	bin := filepath.Join(dir, "z")
	testutil.Run(t, dir, testutil.RequireTool(t, "gcc"), "-g", "-gz=zlib", "-O1", "-o", bin, src)
	code, out, errOut := capture(t, "analyze", "--format", "json", "--no-libraries", "--entry", "main", bin)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Functions []struct {
			Name string
			File string
			Line int
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Functions {
		if f.Name == "main" && (filepath.Base(f.File) != "z.c" || f.Line != 2) {
			t.Errorf("main at %s:%d, want z.c:2", f.File, f.Line)
		}
	}
}
