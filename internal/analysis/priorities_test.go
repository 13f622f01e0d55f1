package analysis

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// buildPriorityFirmware compiles testdata/prio (a vector table, handlers
// with frames of different sizes, a main that sets priorities through
// nvic.h) with -fstack-usage into dir.
func buildPriorityFirmware(t *testing.T, dir string, flags ...string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs(filepath.Join("testdata", "prio"))
	link, _ := filepath.Abs(filepath.Join("testdata", "thumb", "link.ld"))
	out := filepath.Join(dir, "fw.elf")
	args := append([]string{"-mthumb", "-g", "-fstack-usage", "--specs=nosys.specs", "-nostartfiles",
		"-T", link, "-o", out, filepath.Join(td, "startup.c"), filepath.Join(td, "app.c")}, flags...)
	testutil.Run(t, dir, cc, args...)
	return out
}

// fixturePriority is what app.c sets, as the C code says it: set_priority's
// argument (shifted into the top PRIO_BITS=3 bits), 0xFF for PendSV and
// SysTick, nothing for SVCall and IRQ6-7 (the reset value, 0). TWICE is
// written with two values: not certain.
var fixturePriority = map[string]int{
	"PendSV_Handler": 0xFF, "SysTick_Handler": 0xFF,
	"TIMER_IRQHandler": 2 << 5, "UART_IRQHandler": 4 << 5, "ADC_IRQHandler": 5 << 5, "DMA_IRQHandler": 5 << 5,
	"LOOP_IRQHandler": 0, "IDLE_IRQHandler": 0,
}

// expectedTotal is the main-stack total by hand: the reset path, plus the
// heaviest handler (by its .su frame + exception frame + alignment) of each
// distinct group priority (NMI -2 and HardFault -1 fixed; SVCall at 0 runs
// Default_Handler), plus TWICE on a level of its own. With prigroup < 0 no
// priority is certain and every handler is its own level, as before.
func expectedTotal(su map[string]int64, reset, extra int64, prigroup int) (int64, int) {
	handler := func(name string) int64 { return su[name] + extra }
	if prigroup < 0 {
		// Default_Handler twice: for NMI (fixed -2) and for SVCall (not
		// known, its own level).
		names := []string{"Default_Handler", "Default_Handler", "HardFault_Handler", "TWICE_IRQHandler"}
		for n := range fixturePriority {
			names = append(names, n)
		}
		total := reset
		for _, n := range names {
			total += handler(n)
		}
		return total, len(names)
	}
	heaviest := map[int]int64{-2: handler("Default_Handler"), -1: handler("HardFault_Handler"), 0: handler("Default_Handler")}
	for name, p := range fixturePriority {
		g := p >> (prigroup + 1)
		heaviest[g] = max(heaviest[g], handler(name))
	}
	total := reset + handler("TWICE_IRQHandler")
	for _, v := range heaviest {
		total += v
	}
	return total, len(heaviest) + 1
}

func TestThumbPrioritiesFromCode(t *testing.T) {
	cpus := []struct {
		name     string
		flags    []string
		prigroup int // what app.c sets; ARMv6-M has no PRIGROUP
	}{
		{"m0", []string{"-mcpu=cortex-m0"}, 0},
		{"m3", []string{"-mcpu=cortex-m3"}, 5},
		{"m4f", []string{"-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"}, 5},
	}
	for _, cpu := range cpus {
		for _, opt := range []string{"-O0", "-O2", "-Os"} {
			for _, loop := range []bool{false, true} {
				cpu, opt, loop := cpu, opt, loop
				name := cpu.name + opt
				flags := append([]string{opt}, cpu.flags...)
				if loop {
					name += "-loop"
					flags = append(flags, "-DLOOP")
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					dir := t.TempDir()
					res, err := Run(buildPriorityFirmware(t, dir, flags...), Options{})
					if err != nil {
						t.Fatal(err)
					}
					checkPriorities(t, res, suFrames(testutil.ParseSU(t, dir)), cpu.prigroup, loop)
				})
			}
		}
	}
}

func checkPriorities(t *testing.T, res *Result, su map[string]int64, prigroup int, loop bool) {
	t.Helper()
	in := res.Interrupts
	if in == nil || !in.Bounded || in.Reset == nil {
		t.Fatalf("interrupts not bounded: %+v", in)
	}
	byName := map[string]Handler{}
	for _, h := range in.Handlers {
		byName[h.Name] = h
	}
	// Each handler's bound is its .su frame plus the exception frame.
	extra := in.ExceptionFrame + alignmentPadding
	for name := range byName {
		if h := byName[name]; *h.Bound != su[name]+extra {
			t.Errorf("%s bound %d, want .su %d + %d", name, *h.Bound, su[name], extra)
		}
	}
	if loop {
		// The loop's stores go to the NVIC plus an index not known: no
		// configurable priority is certain.
		for name := range fixturePriority {
			if h := byName[name]; h.Priority != nil {
				t.Errorf("%s: priority %d, want assumed (the loop may write it)", name, *h.Priority)
			}
		}
		prigroup = -1
	} else {
		for name, want := range fixturePriority {
			if h := byName[name]; h.Priority == nil || *h.Priority != want {
				t.Errorf("%s: priority %s (%s), want %d", name, show64(h.Priority), h.PrioritySource, want)
			}
		}
		if h := byName["TWICE_IRQHandler"]; h.Priority != nil {
			t.Errorf("TWICE_IRQHandler: priority %d, want assumed (written with 1 and 3)", *h.Priority)
		}
		// Handlers of one group priority share a level; ADC and DMA were
		// given one priority.
		if byName["ADC_IRQHandler"].Level != byName["DMA_IRQHandler"].Level || byName["PendSV_Handler"].Level != byName["SysTick_Handler"].Level {
			t.Errorf("ADC/DMA or PendSV/SysTick not on one level: %+v", in.Levels)
		}
		if byName["TIMER_IRQHandler"].Level == byName["UART_IRQHandler"].Level {
			t.Errorf("TIMER and UART share a level, but their priorities differ")
		}
		// Under PRIGROUP 5 UART (0x80) and ADC (0xA0) differ only in the
		// subpriority bit: one group, no nesting.
		sameGroup := byName["UART_IRQHandler"].Level == byName["ADC_IRQHandler"].Level
		if sameGroup != (prigroup == 5) {
			t.Errorf("UART and ADC on one level: %v, want %v under PRIGROUP %d", sameGroup, prigroup == 5, prigroup)
		}
	}
	total, levels := expectedTotal(su, *in.Reset, extra, prigroup)
	if *in.Total != total || len(in.Levels) != levels {
		var ls []string
		for _, l := range in.Levels {
			ls = append(ls, l.Heaviest)
		}
		sort.Strings(ls)
		t.Errorf("total %d over %d levels, want %d over %d (levels' heaviest %v)", *in.Total, len(in.Levels), total, levels, ls)
	}
}

func show64(p *int) string {
	if p == nil {
		return "assumed"
	}
	return fmt.Sprint(*p)
}

// TestFreeRTOSPriorities builds the shared FreeRTOS firmware (app.c sets
// IRQ0 to 6 and IRQ1 to 5, shifted by 8 - configPRIO_BITS = 5) and checks
// the priorities read from the code: PendSV and SysTick at the kernel's
// portMIN_INTERRUPT_PRIORITY (read from the port's own source), on one
// level; IRQ1 from app.c. On ARMv7-M xPortStartScheduler writes 0xFF to
// IRQ0's register and then restores what it read: IRQ0 is not certain.
func TestFreeRTOSPriorities(t *testing.T) {
	for _, port := range []string{"cm0", "cm3", "cm4f"} {
		port := port
		t.Run(port, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			res, err := Run(buildFreeRTOSApp(t, dir, port, "-O2"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			kernel := testutil.Corpus(t, "FreeRTOS-Kernel")
			src, err := os.ReadFile(filepath.Join(kernel, "portable", "GCC", testutil.FreeRTOSPorts[port].Name, "port.c"))
			if err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile(`#define portMIN_INTERRUPT_PRIORITY\s+\(\s*(\d+)UL\s*\)`).FindSubmatch(src)
			if m == nil {
				t.Fatal("port.c defines no portMIN_INTERRUPT_PRIORITY")
			}
			lowest, _ := strconv.Atoi(string(m[1]))
			byName := map[string]Handler{}
			for _, h := range res.Interrupts.Handlers {
				byName[h.Name] = h
			}
			pendsv, systick := byName["xPortPendSVHandler"], byName["xPortSysTickHandler"]
			if port == "cm0" {
				pendsv, systick = byName["PendSV_Handler"], byName["SysTick_Handler"]
			}
			for _, h := range []Handler{pendsv, systick} {
				if h.Priority == nil || *h.Priority != lowest || !strings.Contains(h.PrioritySource, "port.c:") {
					t.Errorf("%s: priority %s from %q, want %d from port.c", h.Name, show64(h.Priority), h.PrioritySource, lowest)
				}
			}
			if pendsv.Level != systick.Level {
				t.Errorf("PendSV on level %d, SysTick on %d: one priority, one level", pendsv.Level, systick.Level)
			}
			irq1 := byName["IRQ1_Handler"]
			if irq1.Priority == nil || *irq1.Priority != 5<<5 || irq1.Level == pendsv.Level {
				t.Errorf("IRQ1_Handler: priority %s (%s) on level %d, want %d on its own", show64(irq1.Priority), irq1.PrioritySource, irq1.Level, 5<<5)
			}
			irq0 := byName["IRQ0_Handler"]
			switch {
			case port == "cm0" && (irq0.Priority == nil || *irq0.Priority != 6<<5):
				t.Errorf("IRQ0_Handler: priority %s (%s), want %d", show64(irq0.Priority), irq0.PrioritySource, 6<<5)
			case port != "cm0" && (irq0.Priority != nil || !strings.Contains(irq0.PrioritySource, "port.c")):
				t.Errorf("IRQ0_Handler: priority %s (%s), want assumed for port.c's probe-and-restore", show64(irq0.Priority), irq0.PrioritySource)
			}
		})
	}
}

// TestThumbPrioritiesInSwitch: priority stores in the cases of a switch
// that only a jump table reaches (tbb/tbh, libgcc's case helpers on
// ARMv6-M) are seen: IDLE's priority, written with a different value in
// each case, is assumed, never taken for the reset value 0.
func TestThumbPrioritiesInSwitch(t *testing.T) {
	objdump := testutil.RequireTool(t, "arm-none-eabi-objdump")
	cpus := []struct {
		name  string
		flags []string
	}{
		{"m0", []string{"-mcpu=cortex-m0"}},
		{"m3", []string{"-mcpu=cortex-m3"}},
	}
	tables := 0
	for _, cpu := range cpus {
		for _, opt := range []string{"-O0", "-O2", "-Os"} {
			dir := t.TempDir()
			fw := buildPriorityFirmware(t, dir, append([]string{opt, "-DSWITCH"}, cpu.flags...)...)
			dis := testutil.Run(t, dir, objdump, "-d", fw)
			if strings.Contains(dis, "tbb") || strings.Contains(dis, "tbh") || strings.Contains(dis, "__gnu_thumb1_case") {
				tables++
			}
			res, err := Run(fw, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range res.Interrupts.Handlers {
				if h.Name == "IDLE_IRQHandler" && h.Priority != nil {
					t.Errorf("%s%s: IDLE_IRQHandler at priority %d (%s); the switch writes 7 values", cpu.name, opt, *h.Priority, h.PrioritySource)
				}
			}
		}
	}
	if tables == 0 {
		t.Fatal("no build has a jump table: the fixture does not test what it should")
	}
}
