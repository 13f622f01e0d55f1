package layout

import (
	"github.com/stackscope/stackscope/internal/analysis"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/ldscript"
	"github.com/stackscope/stackscope/internal/testutil"
)

// nmValue is a symbol's value as arm-none-eabi-nm prints it (any type,
// absolute symbols included): the reference for addresses the linker
// script computed.
func nmValue(t *testing.T, elf, name string) uint64 {
	t.Helper()
	nm := testutil.RequireTool(t, "arm-none-eabi-nm")
	for _, line := range strings.Split(testutil.Run(t, filepath.Dir(elf), nm, elf), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == name {
			v, err := strconv.ParseUint(f[0], 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("nm: no symbol %s in %s", name, elf)
	return 0
}

func mapOf(t *testing.T, src string) *MemoryMap {
	t.Helper()
	regions, err := ldscript.Parse("test.ld", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return &MemoryMap{From: "test.ld", Regions: regions}
}

// TestOneRAMBlock: FreeRTOS's MPS2 demo layout (one 4 MiB RAM block, data
// at its start, the 1 KiB stack at its very top) is UNSAFE with and without
// the memory map: the overflow runs silently through the unused RAM into
// .bss. (It was SAFE when a gap over 1 MiB was taken for separate memories.)
func TestOneRAMBlock(t *testing.T) {
	fw := buildFirmware(t, t.TempDir(), "mps2_top", "c", "app")
	top := nmValue(t, fw, "_estack")
	limit := top - nmValue(t, fw, "_Min_Stack_Size")
	ebss := nmValue(t, fw, "_ebss")
	for _, opts := range []Options{{}, {Memory: memoryOf(t, "mps2_top")}} {
		r, err := Analyze(fw, opts)
		if err != nil {
			t.Fatal(err)
		}
		assumed := opts.Memory == nil
		if r.Verdict != Unsafe || r.Stack.Top != top || r.Stack.Limit != limit {
			t.Fatalf("map %v: verdict %s (%s), stack %#x-%#x; want unsafe, %#x-%#x", !assumed, r.Verdict, r.VerdictReason, r.Stack.Limit, r.Stack.Top, limit, top)
		}
		gap := r.OverflowInto[0]
		if gap.Kind != "unused" || gap.Start != ebss || gap.End != limit || gap.Assumed != assumed {
			t.Errorf("map %v: first hit %+v, want unused RAM %#x-%#x assumed=%v", !assumed, gap, ebss, limit, assumed)
		}
		if next := r.OverflowInto[1]; next.Section != ".bss" || next.End != ebss {
			t.Errorf("map %v: second hit %+v, want .bss ending at %#x", !assumed, next, ebss)
		}
		if want := bytesText(limit-ebss) + " of unused RAM"; !strings.Contains(r.VerdictReason, want) {
			t.Errorf("reason %q lacks %q", r.VerdictReason, want)
		}
	}
}

// TestSplitRAM: RAM_L ends where RAM_U begins; the stack is first in RAM_U
// and the data is in RAM_L. The memory map proves the overflow runs on into
// RAM_L; without it the 64 KiB below the stack are assumed RAM.
func TestSplitRAM(t *testing.T) {
	fw := buildFirmware(t, t.TempDir(), "split_ram", "naked", "app")
	limit := nmValue(t, fw, "__stack_start__")
	ebss := nmValue(t, fw, "_ebss")
	for _, opts := range []Options{{}, {Memory: memoryOf(t, "split_ram")}} {
		r, err := Analyze(fw, opts)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != Unsafe || r.Stack.Limit != limit {
			t.Fatalf("verdict %s (%s), limit %#x; want unsafe, %#x", r.Verdict, r.VerdictReason, r.Stack.Limit, limit)
		}
		checkLayout(t, fw, r, Unsafe, r.Stack.Top, 0x400, "symbol __stack_start__", "unused")
		if gap := r.OverflowInto[0]; gap.Start != ebss || gap.End != limit {
			t.Errorf("first hit %+v, want unused %#x-%#x", gap, ebss, limit)
		}
	}
}

// TestMapBelowStack: the stack first in RAM (start.ld) is SAFE only when
// the memory map shows nothing writable ending at its limit.
func TestMapBelowStack(t *testing.T) {
	fw := buildFirmware(t, t.TempDir(), "start", "c", "app")
	const ram = "FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 64K\n RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 16K\n"
	cases := []struct {
		name, memory string
		verdict      string
		reason       string
	}{
		{"own map", ram, Safe, "start of region RAM (ORIGIN 0x20000000, test.ld) and no writable region ends there"},
		{"flash below", ram + " BOOT (rx) : ORIGIN = 0x1FFF0000, LENGTH = 64K\n", Safe, "no writable region ends there"},
		{"writable below", ram + " SRAM_L (rw) : ORIGIN = 0x1FFF0000, LENGTH = 64K\n", Unsafe, "runs silently through 64.0 KiB of unused RAM, then reaches the start of RAM"},
		{"overlapping below", ram + " BIG (rw) : ORIGIN = 0x1FF00000, LENGTH = 2M\n", Unsafe, "unused RAM"},
		{"unknown below", ram + " X : ORIGIN = 0x1FFF0000, LENGTH = 64K\n", Unknown, "region X ends there and its attributes"},
		{"not this image", "FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 64K\n RAM (rwx) : ORIGIN = 0x30000000, LENGTH = 16K\n", Unknown, "does not describe this image"},
		{"stack in flash", "FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 64K\n RAM (rx) : ORIGIN = 0x20000000, LENGTH = 16K\n", Unknown, "marks not writable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Analyze(fw, Options{Memory: mapOf(t, "MEMORY {\n "+c.memory+"}\n"), NoHeadroom: true})
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != c.verdict || !strings.Contains(r.VerdictReason, c.reason) {
				t.Errorf("%s: %s; want %s: ...%s", r.Verdict, r.VerdictReason, c.verdict, c.reason)
			}
			if c.verdict == Unsafe && (len(r.OverflowInto) != 1 || r.OverflowInto[0].Kind != "unused" || r.OverflowInto[0].Assumed || r.OverflowInto[0].End != 0x20000000) {
				t.Errorf("overflow path %+v, want the unused RAM below 0x20000000", r.OverflowInto)
			}
		})
	}
}

// TestFreeRTOSLayout: a FreeRTOS application (the kernel from the corpus,
// the ARM_CM3 port) on the mps2-like board of testutil: the stack at the
// top of the one RAM block is UNSAFE with and without the board's linker
// script; the stack first in RAM is SAFE only with it. The parser reads
// the board scripts, whose STACK_SIZE (a DEFINED ternary) MEMORY does not
// use.
func TestFreeRTOSLayout(t *testing.T) {
	boards, _ := filepath.Abs("../testutil/testdata/freertos")
	app, _ := filepath.Abs("../analysis/testdata/freertos/app.c")
	for _, c := range []struct {
		board          string
		noMap, withMap string
	}{
		{"board", Unsafe, Unsafe},
		{"board_stackfirst", Unknown, Safe},
	} {
		t.Run(c.board, func(t *testing.T) {
			script := filepath.Join(boards, c.board+".ld")
			fw := testutil.BuildFreeRTOS(t, t.TempDir(), testutil.FreeRTOSApp{Port: "cm3", App: []string{app}, Linker: script})
			regions, err := ldscript.ParseFile(script)
			if err != nil {
				t.Fatal(err)
			}
			limit := nmValue(t, fw, "__StackLimit")
			for _, opts := range []Options{{NoHeadroom: true}, {NoHeadroom: true, Memory: &MemoryMap{From: c.board + ".ld", Regions: regions}}} {
				r, err := Analyze(fw, opts)
				if err != nil {
					t.Fatal(err)
				}
				want := c.noMap
				if opts.Memory != nil {
					want = c.withMap
				}
				if r.Verdict != want || r.Stack == nil || r.Stack.Limit != limit {
					t.Fatalf("map %v: %s (%s), stack %+v; want %s, limit %#x", opts.Memory != nil, r.Verdict, r.VerdictReason, r.Stack, want, limit)
				}
				if want == Unsafe {
					ebss := nmValue(t, fw, "_ebss")
					// newlib's sbrk heap runs from end (= _ebss) up to the
					// stack: the whole gap is heap.
					if h := r.OverflowInto[0]; h.Kind != "heap" || h.Start != ebss || h.End != limit || h.Assumed != (opts.Memory == nil) {
						t.Errorf("first hit %+v, want the sbrk heap %#x-%#x", h, ebss, limit)
					}
				}
			}
		})
	}
}

// TestFreeRTOSStacklessHeadroom: with the seed's stackless HardFault
// handler (SP put back at the top before C code runs) and the assert
// handler set aside, the main stack's worst case is a number again, and
// so is the headroom: the stack's size minus analyze's total.
func TestFreeRTOSStacklessHeadroom(t *testing.T) {
	app, _ := filepath.Abs("../analysis/testdata/freertos/app.c")
	for _, port := range []string{"cm3", "cm0"} {
		port := port
		t.Run(port, func(t *testing.T) {
			t.Parallel()
			fw := testutil.BuildFreeRTOS(t, t.TempDir(), testutil.FreeRTOSApp{Port: port, App: []string{app}, Defines: []string{"STACKLESS_HARDFAULT=1"}})
			opts := analysis.Options{Exclude: []string{"vAssertCalled"}}
			r, err := Analyze(fw, Options{Analysis: opts})
			if err != nil {
				t.Fatal(err)
			}
			res, err := analysis.Run(fw, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Interrupts == nil || res.Interrupts.Total == nil {
				t.Fatalf("main-stack total not bounded")
			}
			size := int64(nmValue(t, fw, "_estack") - nmValue(t, fw, "__StackLimit"))
			h := r.Headroom
			if h == nil || h.Bytes == nil || *h.Bytes != size-*res.Interrupts.Total {
				t.Fatalf("headroom %+v, want %d - %d", h, size, *res.Interrupts.Total)
			}
		})
	}
}
