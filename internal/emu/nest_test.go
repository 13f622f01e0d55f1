package emu

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/testutil"
)

// Exception frames as the architecture defines them (ARMv7-M ARM B1.5.7,
// ARMv8-M the same without the security extension's state): r0-r3, r12,
// lr, pc, xPSR; with an active FP context also s0-s15, FPSCR and a
// reserved word (0x68). With CCR.STKALIGN (reset value on these cores,
// fixed on ARMv6-M) the core adds 4 bytes when SP is 4 mod 8 at entry.
const (
	archBasicFrame    = 32
	archExtendedFrame = 0x68
	archAlignWord     = 4
)

// nestRecursion is testdata/nest.c's REC_DEPTH: rec runs nestRecursion+1
// activations, the depth its [[recursion]] annotation declares.
const nestRecursion = 4

// buildNest compiles testdata/nest.c alone for a board's memory with the
// cpu flags and flags, its .su file in dir, and writes stackscope.toml
// beside the ELF.
func buildNest(t *testing.T, dir, board string, cpu []string, flags ...string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	b, err := BoardByName(board)
	if err != nil {
		t.Fatal(err)
	}
	td, _ := filepath.Abs("testdata")
	tmpl, err := os.ReadFile(filepath.Join(td, "link.ld.in"))
	if err != nil {
		t.Fatal(err)
	}
	flash, ram := b.Flash[0], b.RAM[0]
	ld := strings.NewReplacer("FLASH_ORIGIN", fmt.Sprintf("%#x", flash.Start), "FLASH_LENGTH", fmt.Sprintf("%#x", flash.End-flash.Start),
		"RAM_ORIGIN", fmt.Sprintf("%#x", ram.Start), "RAM_LENGTH", fmt.Sprintf("%#x", ram.End-ram.Start)).Replace(string(tmpl))
	ldPath := filepath.Join(dir, "nest.ld")
	if err := os.WriteFile(ldPath, []byte(ld), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "nest.elf")
	args := append([]string{"-mthumb", "-O2", "-g", "-fstack-usage", "-fno-tree-loop-distribute-patterns", "-ffreestanding", "-nostdlib", "-nostartfiles",
		fmt.Sprintf("-DREC_DEPTH=%d", nestRecursion), "-T", ldPath, "-o", out, filepath.Join(td, "nest.c")}, cpu...)
	args = append(args, flags...)
	testutil.Run(t, dir, cc, args...)
	toml := fmt.Sprintf("[[recursion]]\nfunction = \"rec\"\ndepth = %d\n", nestRecursion+1)
	if err := os.WriteFile(filepath.Join(dir, config.FileName), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNestedInterruptsMeasured: on every board, firmware that forces the
// main stack's worst case (nest.c: a deep path through an annotated
// recursion, at whose deepest point the outer IRQ is pended, whose
// handler at its deepest point pends the more urgent inner one, each with
// SP 4 mod 8 so the alignment word is pushed, and on hard-float builds an
// active FP context so both frames are extended) is measured in QEMU.
//
// Asserted: the run exits 0 (both handlers ran, the inner one nested in
// the outer); analyze reads the two priorities from the code and puts the
// handlers on two levels; the measured peak equals what GCC's .su frames
// and the architecture's exception frames give for that path; the static
// reset path plus the two levels that ran equals it too; and the static
// total, which also counts levels that never run here (HardFault and
// Default_Handler's, with their exception frames), is not below it.
func TestNestedInterruptsMeasured(t *testing.T) {
	for _, b := range cortexBoards() {
		t.Run(b.Name, func(t *testing.T) { checkNested(t, b, cpuFlags[b.Name], "") })
	}
}

// TestPriorityGroupingMeasured: the same firmware with PRIGROUP 7 written
// to AIRCR (no preemption among configurable priorities). A core with the
// Main Extension then runs the inner IRQ after the outer one returns (exit
// status 4: not nested) and analyze puts both on one level; ARMv6-M has no
// PRIGROUP, the write is ignored, the handlers still nest, and analyze
// must keep two levels (it did not: a total 4 B under the measured peak on
// the microbit, before priorities.go's withoutMainExtension).
func TestPriorityGroupingMeasured(t *testing.T) {
	for _, b := range cortexBoards() {
		t.Run(b.Name, func(t *testing.T) { checkNested(t, b, cpuFlags[b.Name], "PRIGROUP=7") })
	}
}

// TestEveryLevelMeasured: nest.c with ALL_LEVELS nests on through every
// level the model counts (IRQ 0x80, IRQ 0x40, SysTick at the reset value
// 0, HardFault by an escalated SVC, NMI), each at the deepest point of the
// one it interrupts: the measured peak is then the static total itself,
// with no level set aside.
func TestEveryLevelMeasured(t *testing.T) {
	for _, b := range cortexBoards() {
		t.Run(b.Name, func(t *testing.T) { checkNested(t, b, cpuFlags[b.Name], "ALL_LEVELS") })
	}
	// The M33 with its FPU (ARMv8-M's extended frame is 0x68 too, with
	// FPCCR.TS clear as at reset).
	t.Run("mps2-an505-hard-float", func(t *testing.T) {
		b, _ := BoardByName("mps2-an505")
		checkNested(t, *b, []string{"-mcpu=cortex-m33", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"}, "ALL_LEVELS")
	})
}

// checkNested builds nest.c with the cpu flags and define (may be "") for
// board b, runs it,
// and checks the measured peak against .su + exception frames and against
// the static levels that ran.
func checkNested(t *testing.T, b Board, cpu []string, define string) {
	dir := t.TempDir()
	var defines []string
	if define != "" {
		defines = append(defines, "-D"+define)
	}
	fw := buildNest(t, dir, b.Name, cpu, defines...)
	all := define == "ALL_LEVELS"
	// PRIGROUP 7 stops the nesting only where the core has PRIGROUP.
	nests := !strings.HasPrefix(define, "PRIGROUP") || b.Arch == archV6M
	cfg, err := config.Load("", fw)
	if err != nil {
		t.Fatal(err)
	}
	aopts := analysis.Options{Config: cfg}
	res, err := run(t, fw, Options{Machine: b.Name, ICount: DefaultICount, Analysis: aopts})
	if err != nil {
		t.Fatal(err)
	}
	wantExit := 0
	if !nests {
		wantExit = 4
	}
	if res.ExitStatus() != wantExit {
		t.Fatalf("exit status %d, want %d; stop %+v (3: a handler did not run, 4: the inner one did not nest, 5: NMI did not run on top of all)", res.ExitStatus(), wantExit, res.Stop)
	}
	s := res.Stacks[0]
	if s.Peak == nil {
		t.Fatalf("main stack not measured: %s", s.NotMeasured)
	}

	// The handlers that run nested, outermost first.
	chain := []string{"OuterIRQ_Handler", "InnerIRQ_Handler"}
	if all {
		chain = append(chain, "SysTick_Handler", "HardFault_Handler", "NMI_Handler")
	}
	if !nests {
		chain = chain[:1]
	}
	// Where nest.c lowers SP by 4 around a pend (or the svc): GCC's .su
	// does not see inline assembly; the static frame does.
	const pendDip = 4
	dips := map[string]bool{"OuterIRQ_Handler": true, "InnerIRQ_Handler": all, "SysTick_Handler": true, "HardFault_Handler": true}
	dip := func(fn string) int64 {
		if dips[fn] {
			return pendDip
		}
		return 0
	}

	// What the architecture and GCC say the forced path uses.
	su := map[string]int64{}
	for _, l := range testutil.ParseSU(t, dir) {
		su[l.Function] = l.Bytes
	}
	for _, fn := range append([]string{"Reset_Handler", "main", "path_a", "path_b", "rec", "leaf"}, chain...) {
		if _, ok := su[fn]; !ok {
			t.Fatalf("no .su line for %s (inlined or cloned?): %v", fn, su)
		}
	}
	frame := int64(archBasicFrame)
	if slices.Contains(cpu, "-mfloat-abi=hard") {
		frame = archExtendedFrame
	}
	thread := su["Reset_Handler"] + su["main"] + su["path_a"] + su["path_b"] + (nestRecursion+1)*su["rec"] + su["leaf"] + pendDip
	level := map[string]int64{} // what each handler adds on the stack it interrupts
	want := thread
	for _, h := range chain {
		level[h] = archAlignWord + frame + su[h] + dip(h)
		want += level[h]
	}
	// unwritten: what the static levels count and nothing writes: the
	// word the last handler's dip reserves is written only by an
	// exception frame pushed below it (not nested under PRIGROUP 7: the
	// outer handler's).
	unwritten := dip(chain[len(chain)-1])
	want -= unwritten

	// What analyze says: the levels of the handlers that ran.
	ar, err := analysis.Run(fw, aopts)
	if err != nil {
		t.Fatal(err)
	}
	in := ar.Interrupts
	if in == nil || in.Reset == nil || in.Total == nil {
		t.Fatalf("no bounded interrupt model: %+v", in)
	}
	levelOf := func(h string) int {
		for i := range in.Levels {
			if slices.Contains(in.Levels[i].Handlers, h) {
				return i
			}
		}
		t.Fatalf("%s is on no level: %+v", h, in.Levels)
		return -1
	}
	lo, li := levelOf("OuterIRQ_Handler"), levelOf("InnerIRQ_Handler")
	if (lo != li) != nests {
		t.Fatalf("outer on level %+v, inner on %+v: two levels %v, want %v (%s)", in.Levels[lo], in.Levels[li], lo != li, nests, in.PriorityGrouping)
	}
	// The priorities nest.c's main writes, read from the code, and the
	// fixed and reset ones of ALL_LEVELS.
	prios := []struct {
		exception, priority int
		source              string
	}{{16, 0x80, "code"}, {17, 0x40, "code"}}
	if all {
		prios = append(prios, struct {
			exception, priority int
			source              string
		}{15, 0, "reset"}, struct {
			exception, priority int
			source              string
		}{3, -1, "fixed"}, struct {
			exception, priority int
			source              string
		}{2, -2, "fixed"})
	}
	for _, want := range prios {
		i := slices.IndexFunc(in.Priorities, func(p analysis.VectorPriority) bool { return p.Exception == want.exception })
		if i < 0 || in.Priorities[i].Priority == nil || *in.Priorities[i].Priority != want.priority || in.Priorities[i].Source != want.source {
			t.Fatalf("exception %d: priorities %+v, want %d from %s", want.exception, in.Priorities, want.priority, want.source)
		}
	}
	ran := *in.Reset
	seen := map[int]bool{}
	for _, h := range chain {
		l := levelOf(h)
		if seen[l] {
			t.Fatalf("%s on level %d with another handler of the chain: %+v", h, l, in.Levels)
		}
		seen[l] = true
		if in.Levels[l].Adds != level[h] {
			t.Errorf("%s: its static level adds %d B, .su + exception frame %d B", h, in.Levels[l].Adds, level[h])
		}
		ran += in.Levels[l].Adds
	}
	var others []string
	for i, l := range in.Levels {
		if !seen[i] && i != li {
			others = append(others, fmt.Sprintf("%s %d B", l.Heaviest, l.Adds))
		}
	}
	t.Logf("%s %s: measured %d B; .su + frames %d B (thread %d, nested %v); static reset %d + levels that ran = %d; total %d (levels that never run here: %s); %s",
		b.Name, define, *s.Peak, want, thread, chain, *in.Reset, ran, *in.Total, strings.Join(others, ", "), in.PriorityGrouping)

	if *s.Peak > *in.Total || s.BoundExceeded() {
		t.Errorf("measured %d B > static total %d B: an analysis bug", *s.Peak, *in.Total)
	}
	if *in.Reset != thread {
		t.Errorf("static reset path %d B, .su path %d B", *in.Reset, thread)
	}
	if *s.Peak != want {
		t.Errorf("measured %d B, .su + exception frames %d B: the test forces that path", *s.Peak, want)
	}
	if *s.Peak != ran-unwritten {
		t.Errorf("measured %d B, static reset path + the levels that ran %d B - %d B unwritten: the test forces the worst path and the nesting", *s.Peak, ran, unwritten)
	}
	if all && *s.Peak != *in.Total {
		t.Errorf("measured %d B, static total %d B: every level ran, each at the deepest point", *s.Peak, *in.Total)
	}
}
