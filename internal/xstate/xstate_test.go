package xstate

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestSizesAreLdSos: the sizes computed here are the ones ld.so computed
// for a program on this machine, read with gdb from _rtld_global_ro (with
// libc6-dbg's types): xsave_state_full_size, and xsave_state_size, which
// is the XSAVEC size when the CPU has XSAVEC and the full one otherwise.
func TestSizesAreLdSos(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("SKIPPED: not x86-64")
	}
	gcc := testutil.RequireTool(t, "gcc")
	gdb := testutil.RequireTool(t, "gdb")
	if _, err := os.Stat("/usr/share/doc/libc6-dbg/copyright"); err != nil {
		if os.Getenv("STACKSCOPE_REQUIRE_TOOLS") == "1" {
			t.Fatal("libc6-dbg is not installed (run ./scripts/test.sh, which installs it)")
		}
		t.Skip("SKIPPED: libc6-dbg is not installed; ./scripts/test.sh installs it")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	if err := os.WriteFile(src, []byte("int main(void){return 0;}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "p")
	testutil.Run(t, dir, gcc, "-o", prog, src)
	cmd := exec.Command(gdb, "-q", "-batch", "-nx", "-ex", "break main", "-ex", "run",
		"-ex", "p _rtld_global_ro._dl_x86_cpu_features.xsave_state_size",
		"-ex", "p _rtld_global_ro._dl_x86_cpu_features.xsave_state_full_size", prog)
	cmd.Env = append(os.Environ(), "GLIBC_TUNABLES=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^\$1 = (\d+)\n\$2 = (\d+)$`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("gdb printed no sizes:\n%s", out)
	}
	size, _ := strconv.ParseInt(m[1], 10, 64)
	full, _ := strconv.ParseInt(m[2], 10, 64)
	s := Read()
	t.Logf("ld.so: xsave_state_size %d, full %d; computed %+v", size, full, s)
	if !s.Known {
		t.Fatal("CPUID not read on x86-64")
	}
	if s.Full != full {
		t.Errorf("full size %d, ld.so's %d", s.Full, full)
	}
	want := s.Full
	if s.Compact != 0 {
		want = s.Compact
	}
	if want != size {
		t.Errorf("resolver's size %d (full %d, compact %d), ld.so's %d", want, s.Full, s.Compact, size)
	}
	if s.XSAVE != (size != 0) {
		t.Errorf("XSAVE %v, but ld.so's size is %d", s.XSAVE, size)
	}
	if s.Largest() < size {
		t.Errorf("largest %d below ld.so's %d", s.Largest(), size)
	}
}

// TestComputeWithoutXSAVE: a CPU without OSXSAVE or leaf 0xD leaves the
// sizes 0 (ld.so then uses FXSAVE), and the compacted size follows the
// alignment bit of each component (a made-up CPU whose AVX-512 opmask
// state asks for 64-byte alignment).
func TestComputeWithoutXSAVE(t *testing.T) {
	noOSXSAVE := func(leaf, sub uint32) (uint32, uint32, uint32, uint32) {
		if leaf == 0 {
			return 0xd, 0, 0, 0
		}
		return 0, 0, 0, 0
	}
	if s := compute(noOSXSAVE); !s.Known || s.XSAVE || s.Largest() != 0 {
		t.Errorf("no OSXSAVE: %+v", s)
	}
	aligned := func(leaf, sub uint32) (uint32, uint32, uint32, uint32) {
		switch {
		case leaf == 0:
			return 0xd, 0, 0, 0
		case leaf == 1:
			return 0, 0, 1 << 27, 0
		case leaf == 0xd && sub == 0:
			return 0, 0xa88, 0, 0
		case leaf == 0xd && sub == 1:
			return 2, 0, 0, 0
		case leaf == 0xd && sub == 2:
			return 0x100, 0, 0, 0
		case leaf == 0xd && sub == 5:
			return 0x40 - 8, 0, 2, 0 // 56 B, aligned to 64
		case leaf == 0xd && sub == 6:
			return 0x200, 0, 2, 0
		}
		return 0, 0, 0, 0
	}
	s := compute(aligned)
	// 576 + 256 = 832 (already 64-aligned) + 56 = 888 -> 896 + 512 = 1408;
	// + 64 of saved registers = 1472, a multiple of 64.
	if s.Full != 2816 || s.Compact != 1472 {
		t.Errorf("made-up CPU: full %d compact %d, want 2816 (0xa88+64, aligned) and 1472", s.Full, s.Compact)
	}
}
