package analysis

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// thumbCPUs are the Cortex-M targets the fixtures are built for.
var thumbCPUs = []struct {
	name  string
	flags []string
	fp    bool // hard-float: exceptions may stack the FPU context
}{
	{"m0", []string{"-mcpu=cortex-m0"}, false},
	{"m3", []string{"-mcpu=cortex-m3"}, false},
	{"m4f", []string{"-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"}, true},
	{"m33", []string{"-mcpu=cortex-m33"}, false},
}

// buildFirmware compiles the thumb fixtures (startup with a vector table,
// application, newlib) with -fstack-usage into dir.
func buildFirmware(t *testing.T, dir string, flags []string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs(filepath.Join("testdata", "thumb"))
	out := filepath.Join(dir, "fw.elf")
	args := append([]string{"-mthumb", "-g", "-fstack-usage", "--specs=nosys.specs", "-nostartfiles",
		"-T", filepath.Join(td, "link.ld"), "-o", out,
		filepath.Join(td, "startup.c"), filepath.Join(td, "app.c")}, flags...)
	testutil.Run(t, dir, cc, args...)
	return out
}

func suFrames(su []testutil.SULine) map[string]int64 {
	m := map[string]int64{}
	for _, l := range su {
		m[l.Function] = l.Bytes
	}
	return m
}

func TestThumbFirmware(t *testing.T) {
	for _, cpu := range thumbCPUs {
		for _, opt := range []string{"-O0", "-O2", "-Os"} {
			cpu, opt := cpu, opt
			t.Run(cpu.name+opt, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				fw := buildFirmware(t, dir, append([]string{opt}, cpu.flags...))
				res, err := Run(fw, Options{})
				if err != nil {
					t.Fatal(err)
				}
				requirePathSums(t, res)
				if res.Arch != "thumb" {
					t.Fatalf("arch %q", res.Arch)
				}
				su := testutil.ParseSU(t, dir)
				c := compareWithSU(res, su)
				requireAllEqual(t, c)
				if c.static < 10 {
					t.Fatalf("only %d static functions compared", c.static)
				}
				checkInterrupts(t, res, suFrames(su), cpu.fp, opt)
			})
		}
	}
}

// checkInterrupts checks the vector-table entries and the nesting total
// against numbers derived from the compiler's own .su frames.
func checkInterrupts(t *testing.T, res *Result, su map[string]int64, fp bool, opt string) {
	t.Helper()
	in := res.Interrupts
	if in == nil {
		t.Fatal("no interrupts section: the vector table was not found")
	}
	wantFrame := int64(32)
	if fp {
		wantFrame = 104
	}
	if in.ExceptionFrame != wantFrame {
		t.Errorf("exception frame %d, want %d", in.ExceptionFrame, wantFrame)
	}
	kinds := map[string]string{}
	for _, e := range res.Entries {
		kinds[e.Name] = e.Kind
	}
	for name, kind := range map[string]string{"Reset_Handler": "reset", "HardFault_Handler": "exception", "Default_Handler": "exception",
		"SysTick_Handler": "exception", "UART_IRQHandler": "irq", "TIMER_IRQHandler": "irq", "ADC_IRQHandler": "irq"} {
		if kinds[name] != kind {
			t.Errorf("entry %s: kind %q, want %q (entries %v)", name, kinds[name], kind, kinds)
		}
	}
	if len(in.Handlers) != 6 {
		t.Errorf("%d handlers, want 6 distinct (Default_Handler once for NMI, SVCall, PendSV)", len(in.Handlers))
	}
	extra := wantFrame + 4
	handler := map[string]Handler{}
	for _, h := range in.Handlers {
		handler[h.Name] = h
	}
	// SysTick_Handler calls nothing: its bound is its .su frame plus the
	// exception frame and alignment.
	if h := handler["SysTick_Handler"]; !h.Bounded || *h.Bound != su["SysTick_Handler"]+extra {
		t.Errorf("SysTick_Handler bound %s, want %d", show(h.Bound), su["SysTick_Handler"]+extra)
	}
	// TIMER_IRQHandler -> work_buffer -> sum_block, by the .su frames.
	want := su["TIMER_IRQHandler"] + su["work_buffer"] + su["sum_block"] + extra
	if h := handler["TIMER_IRQHandler"]; !h.Bounded || *h.Bound != want {
		t.Errorf("TIMER_IRQHandler bound %s, want %d (.su sum + %d)", show(h.Bound), want, extra)
	}
	// UART_IRQHandler reaches uart_process: by a call, or by a tail call
	// once optimised (then the handler's frame is released first).
	uart := handler["UART_IRQHandler"]
	fn, _ := res.File.Lookup("uart_process")
	fi, _ := res.File.FunctionIndex(fn.Addr)
	callee := res.Bounds.Value(res.Graph.Node(res.Graph.Modules[0], fi)) // uart_process and what it calls (libgcc division on M0)
	if callee < su["uart_process"] {
		t.Errorf("uart_process bound %d below its .su frame %d", callee, su["uart_process"])
	}
	lo := callee + extra
	hi := su["UART_IRQHandler"] + callee + extra
	if !uart.Bounded || *uart.Bound < lo || *uart.Bound > hi {
		t.Errorf("UART_IRQHandler bound %s, want between %d and %d", show(uart.Bound), lo, hi)
	}
	// The reset path goes through newlib's snprintf: its FILE callbacks
	// are indirect calls, and with the address-taken set assumed they
	// form cycles (recursion): the total is not bounded, and says why.
	if in.Bounded || in.Total != nil {
		t.Errorf("total bounded through snprintf's indirect calls")
	}
	var reset Entry
	for _, e := range res.Entries {
		if e.Name == "Reset_Handler" {
			reset = e
		}
	}
	if reset.Bounded || len(reset.Reasons) == 0 {
		t.Errorf("Reset_Handler: want NOT bounded with reasons, got %s", reasonSummary(reset))
	}
	// The lower bound is the reset path plus one heaviest handler per level.
	var sum int64
	for _, l := range in.Levels {
		sum += l.Adds
	}
	if in.TotalAtLeast != reset.AtLeast+sum {
		t.Errorf("total at least %d, want reset %d + levels %d", in.TotalAtLeast, reset.AtLeast, sum)
	}
}

func TestThumbPriorityGroups(t *testing.T) {
	dir := t.TempDir()
	fw := buildFirmware(t, dir, []string{"-O2", "-mcpu=cortex-m3"})
	all, err := Run(fw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	requirePathSums(t, all)
	grouped, err := Run(fw, Options{Interrupts: InterruptConfig{Groups: [][]string{{"UART_IRQHandler", "TIMER_IRQHandler", "ADC_IRQHandler"}}}})
	if err != nil {
		t.Fatal(err)
	}
	requirePathSums(t, grouped)
	bound := map[string]int64{}
	for _, h := range all.Interrupts.Handlers {
		bound[h.Name] = h.AtLeast
	}
	// app.c writes no priority: every configurable exception keeps its
	// reset value 0 and they share one level; NMI (Default_Handler, -2) and
	// HardFault (-1) are levels of their own.
	reset := all.Interrupts.TotalAtLeast - sumLevels(all.Interrupts)
	d, hf, st := bound["Default_Handler"], bound["HardFault_Handler"], bound["SysTick_Handler"]
	a, b, c := bound["UART_IRQHandler"], bound["TIMER_IRQHandler"], bound["ADC_IRQHandler"]
	if want := reset + d + hf + max(d, st, a, b, c); all.Interrupts.TotalAtLeast != want || len(all.Interrupts.Levels) != 3 {
		t.Errorf("total %d over %d levels, want %d over 3", all.Interrupts.TotalAtLeast, len(all.Interrupts.Levels), want)
	}
	// A configured group overrides the priorities: its three handlers are
	// one level, apart from the others at 0.
	if want := reset + d + hf + max(d, st) + max(a, b, c); grouped.Interrupts.TotalAtLeast != want || len(grouped.Interrupts.Levels) != 4 {
		t.Errorf("grouped total %d over %d levels, want %d over 4", grouped.Interrupts.TotalAtLeast, len(grouped.Interrupts.Levels), want)
	}
}

func sumLevels(in *Interrupts) int64 {
	var sum int64
	for _, l := range in.Levels {
		sum += l.Adds
	}
	return sum
}

func show(p *int64) string {
	if p == nil {
		return "not bounded"
	}
	return fmt.Sprint(*p)
}
