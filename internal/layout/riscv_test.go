package layout

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/ldscript"
	"github.com/stackscope/stackscope/internal/testutil"
)

// nmSymbols reads an ELF file's symbols with riscv64-unknown-elf-nm: name
// to value, and the .bss objects (type b/B) by address.
func nmSymbols(t *testing.T, elf string) (map[string]uint64, map[uint64]string) {
	t.Helper()
	nm := testutil.RequireTool(t, "riscv64-unknown-elf-nm")
	syms, bss := map[string]uint64{}, map[uint64]string{}
	for _, line := range strings.Split(testutil.Run(t, filepath.Dir(elf), nm, elf), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		v, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			continue
		}
		syms[f[2]] = v
		if f[1] == "b" || f[1] == "B" {
			bss[v] = f[2]
		}
	}
	return syms, bss
}

// buildBareRISCV links testdata/riscv's app.c with a reset file and a
// linker script into a 32-bit image, with extra -Wl options.
func buildBareRISCV(t testing.TB, start, script string, ldArgs ...string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "riscv64-unknown-elf-gcc")
	td, _ := filepath.Abs("testdata/riscv")
	dir := t.TempDir()
	out := filepath.Join(dir, "fw.elf")
	args := []string{"-O2", "-march=rv32imac", "-mabi=ilp32", "-nostdlib", "-nostartfiles", "-ffreestanding",
		"-T", filepath.Join(td, script), "-o", out, filepath.Join(td, start), filepath.Join(td, "app.c")}
	for _, a := range ldArgs {
		args = append(args, "-Wl,"+a)
	}
	testutil.Run(t, dir, cc, args...)
	return out
}

func memoryFrom(t *testing.T, script string) *MemoryMap {
	t.Helper()
	p := filepath.Join("testdata/riscv", script)
	regions, err := ldscript.ParseFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return &MemoryMap{From: p, Regions: regions, File: p}
}

// TestRISCVPicolibcDefaultScript: a plain C program linked with picolibc's
// picolibc.ld (rv32 and rv64). Its crt0 sets SP to __stack (the top of
// RAM); the stack's size is the .stack section, which picolibc places
// right after .bss only as a reservation, and the heap (malloc is used)
// runs from the end of .bss up to __heap_end, the stack's limit. Layout
// must find top = __stack and limit = __heap_end as nm reads them, keep
// the reservation out of the overflow path, and say UNSAFE: the heap,
// then .bss, lie below the stack.
func TestRISCVPicolibcDefaultScript(t *testing.T) {
	cc := testutil.RequireTool(t, "riscv64-unknown-elf-gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "m.c")
	prog := "#include <stdlib.h>\nchar counters[200];\nint main(void) { char *p = malloc(100); counters[1] = p != 0; return counters[0]; }\n"
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cpu := range [][]string{{"-march=rv32imac", "-mabi=ilp32"}, {"-march=rv64imac", "-mabi=lp64", "-mcmodel=medany"}} {
		t.Run(cpu[0], func(t *testing.T) {
			elf := filepath.Join(dir, strings.TrimPrefix(cpu[0], "-march=")+".elf")
			testutil.Run(t, dir, cc, append(append([]string{"-O2", "--specs=picolibc.specs"}, cpu...), "-o", elf, src)...)
			syms, _ := nmSymbols(t, elf)
			r, err := Analyze(elf, Options{})
			if err != nil {
				t.Fatal(err)
			}
			st := r.Stack
			if st == nil {
				t.Fatalf("no stack: %v", r.Missing)
			}
			if st.Top != syms["__stack"] || st.Limit != syms["__heap_end"] || !st.LimitFound || st.Size != syms["__stack"]-syms["__heap_end"] {
				t.Errorf("stack %#x-%#x (%d B, found %v), want __heap_end %#x to __stack %#x", st.Limit, st.Top, st.Size, st.LimitFound, syms["__heap_end"], syms["__stack"])
			}
			if !strings.Contains(st.TopFrom, "__stack") || st.Reservation == "" {
				t.Errorf("top from %q, reservation %q: want __stack named and the .stack reservation said", st.TopFrom, st.Reservation)
			}
			if r.Verdict != Unsafe || r.Kernel != "" {
				t.Fatalf("verdict %q (%s), kernel %q: want unsafe, no kernel", r.Verdict, r.VerdictReason, r.Kernel)
			}
			var kinds []string
			for _, h := range r.OverflowInto {
				kinds = append(kinds, h.Kind+":"+h.Section)
				if h.Section == ".stack" {
					t.Errorf("the .stack reservation is in the overflow path: %v", kinds)
				}
			}
			// The heap first, then (past unused RAM at most) .bss and counters.
			i := 1
			for i < len(r.OverflowInto) && r.OverflowInto[i].Kind == "unused" {
				i++
			}
			if r.OverflowInto[0].Kind != "heap" || i == len(r.OverflowInto) || r.OverflowInto[i].Section != ".bss" ||
				!strings.Contains(strings.Join(r.OverflowInto[i].Symbols, " "), "counters") {
				t.Errorf("overflow path %v: want the heap first, then .bss with counters", kinds)
			}
			// The reset path is the total (no trap handler); picolibc's
			// __libc_init_array calls through a table, which may leave it
			// unbounded: then no number, and why.
			h := r.Headroom
			switch {
			case h == nil || h.TotalOf == "" || h.StackSize != int64(st.Size):
				t.Errorf("headroom %+v: want the reset path against the stack size", h)
			case h.Total != nil && (h.Bytes == nil || *h.Bytes != h.StackSize-*h.Total):
				t.Errorf("headroom %+v: bytes is not size - total", h)
			case h.Total == nil && (h.Bytes != nil || h.Unknown == "" || h.TotalAtLeast <= 0):
				t.Errorf("headroom %+v: unbounded, want no number, a reason and a lower bound", h)
			}
			if len(r.NotChecked) == 0 || len(r.FaultHandlers) != 0 {
				t.Errorf("not checked %v, fault handlers %v: want the Cortex-M checks said not to apply", r.NotChecked, r.FaultHandlers)
			}
		})
	}
}

// TestRISCVStackAboveBSS: a hand-written script puts the stack right above
// .bss. Top and limit are _stack_top and __stack_bottom as nm reads them,
// and the verdict, with the script's MEMORY as the memory map, names the
// .bss object right below the limit. With a stack smaller than the
// analysis's bound (--defsym STACK_SIZE=256 against work's 512-byte
// buffer) the headroom is negative: a finding.
func TestRISCVStackAboveBSS(t *testing.T) {
	elf := buildBareRISCV(t, "start.S", "bss_below.ld")
	syms, bss := nmSymbols(t, elf)
	r, err := Analyze(elf, Options{Memory: memoryFrom(t, "bss_below.ld")})
	if err != nil {
		t.Fatal(err)
	}
	st := r.Stack
	if st == nil || st.Top != syms["_stack_top"] || st.Limit != syms["__stack_bottom"] || st.Size != 0x1000 {
		t.Fatalf("stack %+v: want __stack_bottom %#x to _stack_top %#x, 4096 B", st, syms["__stack_bottom"], syms["_stack_top"])
	}
	var highest uint64
	for a := range bss {
		if a < st.Limit {
			highest = max(highest, a)
		}
	}
	if r.Verdict != Unsafe || len(r.OverflowInto) == 0 || r.OverflowInto[0].Section != ".bss" ||
		len(r.OverflowInto[0].Symbols) == 0 || r.OverflowInto[0].Symbols[0] != bss[highest] ||
		!strings.Contains(r.VerdictReason, bss[highest]) {
		t.Fatalf("verdict %q (%s), path %+v: want unsafe, .bss first with %s", r.Verdict, r.VerdictReason, r.OverflowInto, bss[highest])
	}
	if h := r.Headroom; h == nil || h.Bytes == nil || *h.Bytes < 0 || *h.Total < 512 {
		t.Errorf("headroom %+v: want a bound of at least work's 512-byte buffer, inside 4 KiB", h)
	}

	small := buildBareRISCV(t, "start.S", "bss_below.ld", "--defsym=STACK_SIZE=256")
	r, err = Analyze(small, Options{Memory: memoryFrom(t, "bss_below.ld")})
	if err != nil {
		t.Fatal(err)
	}
	if h := r.Headroom; r.Stack == nil || r.Stack.Size != 256 || h == nil || h.Bytes == nil || *h.Bytes >= 0 || !r.Failing() {
		t.Errorf("256-byte stack: %+v, headroom %+v, failing %v: want a negative headroom and a finding", r.Stack, h, r.Failing())
	}
}

// TestRISCVNoStackSymbols: the reset code sets SP to a constant and the
// script names no stack: the top is found, the limit and size are not,
// and the report says what would give them, with no made-up size.
func TestRISCVNoStackSymbols(t *testing.T) {
	elf := buildBareRISCV(t, "start_const.S", "nosyms.ld")
	r, err := Analyze(elf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := r.Stack
	if st == nil || st.Top != 0x80010000 || st.LimitFound || st.Size != 0 {
		t.Fatalf("stack %+v: want top 0x80010000 from the reset code, limit not found, size 0", st)
	}
	missing := strings.Join(r.Missing, "\n")
	if !strings.Contains(missing, "__stack_size") || !strings.Contains(missing, "[memory]") {
		t.Errorf("missing %q: want the fix (a symbol, or [memory])", missing)
	}
	if h := r.Headroom; h == nil || h.Bytes != nil || h.Total != nil || h.Unknown == "" {
		t.Errorf("headroom %+v: want unknown, no number", h)
	}
}

// TestRISCVFreeRTOSBoard: the FreeRTOS rv32 test firmware (board_riscv.ld:
// the main stack right above .bss, __stack_bottom to _stack_top). The
// headroom is the analysis's main-stack total (reset path plus the trap
// handler) against the board's 2 KiB.
func TestRISCVFreeRTOSBoard(t *testing.T) {
	dir := t.TempDir()
	app, _ := filepath.Abs("../emu/testdata/rtos/app.c")
	fw := testutil.BuildFreeRTOS(t, dir, testutil.FreeRTOSApp{Port: "rv32", App: []string{app},
		Defines: []string{"INCLUDE_xTaskGetIdleTaskHandle=1", "configRECORD_STACK_HIGH_ADDRESS=1"}})
	syms, bss := nmSymbols(t, fw)
	r, err := Analyze(fw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := r.Stack
	if st == nil || st.Top != syms["_stack_top"] || st.Limit != syms["__stack_bottom"] || st.Size != 0x800 {
		t.Fatalf("stack %+v: want __stack_bottom %#x to _stack_top %#x, 2 KiB", st, syms["__stack_bottom"], syms["_stack_top"])
	}
	if r.Verdict != Unsafe || len(r.OverflowInto) == 0 || r.OverflowInto[0].Section != ".bss" {
		t.Fatalf("verdict %q (%s), path %+v: want unsafe, .bss first", r.Verdict, r.VerdictReason, r.OverflowInto)
	}
	if first := r.OverflowInto[0].Symbols; len(first) == 0 || bss[syms[first[0]]] == "" {
		t.Errorf("first symbol %v: want a .bss object by nm", first)
	}
	h := r.Headroom
	if h == nil || h.TotalOf != "" || h.Total == nil && h.Unknown == "" {
		t.Errorf("headroom %+v: want the analysis's main-stack total (or why not)", h)
	}
}
