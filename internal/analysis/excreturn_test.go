package analysis

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestThumbExceptionReturns checks which indirect jumps end a handler's
// path as Cortex-M exception returns, on testdata/excreturn/fw.c (see its
// comment), for every Cortex-M target:
//   - PendSV_Handler's bx through the EXC_RETURN of the context it
//     restores: bounded at its .su path, with one exc-return assumption,
//     at that bx; with --strict, which assumes no jump's target, an
//     indirect reason there instead;
//   - SVC_Handler's bx through 0xFFFFFFFD: bounded, no assumption, also
//     with --strict (proved);
//   - a handler's bx through a RAM table, or through the word at the new
//     PSP (above the restored context), stays an indirect jump: assumed
//     targets, or with --strict a reason, at the bx;
//   - the same shapes in thread mode (start_task, jump_exc_thread, called
//     from main) stay indirect jumps.
func TestThumbExceptionReturns(t *testing.T) {
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs("testdata")
	for _, cpu := range thumbCPUs {
		cpu := cpu
		t.Run(cpu.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			fw := filepath.Join(dir, "fw.elf")
			args := append([]string{"-mthumb", "-O2", "-g", "-fstack-usage", "-nostdlib", "-T", filepath.Join(td, "resets", "link.ld"),
				"-o", fw, filepath.Join(td, "excreturn", "fw.c")}, cpu.flags...)
			testutil.Run(t, dir, cc, args...)
			su := suFrames(testutil.ParseSU(t, dir))
			work := su["switch_context"] + su["leaf"]
			bx := map[string]uint64{}
			for _, fn := range []string{"PendSV_Handler", "SVC_Handler", "TIMER_IRQHandler", "SysTick_Handler", "start_task", "jump_exc_thread"} {
				bx[fn] = bxAddr(t, fw, fn)
			}
			for _, strict := range []bool{false, true} {
				res, err := Run(fw, Options{Strict: strict})
				if err != nil {
					t.Fatal(err)
				}
				requirePathSums(t, res)
				excAt := func(e Entry) []uint64 {
					var out []uint64
					for _, a := range e.Assumptions {
						if a.Kind == bound.AssumeExcReturn {
							out = append(out, a.Addr)
						}
					}
					return out
				}
				// indirectAt: the jump at addr is an indirect jump, with
				// a reason (strict) or assumed targets.
				indirectAt := func(e Entry, addr uint64) bool {
					for _, r := range e.Reasons {
						if r.Kind == "indirect" && r.Addr == addr {
							return true
						}
					}
					for _, a := range e.Assumptions {
						if a.Kind == bound.AssumeIndirect && a.Addr == addr {
							return !strict
						}
					}
					return false
				}

				pendsv := entry(t, res, "PendSV_Handler")
				switch {
				case strict && (pendsv.Bounded || !indirectAt(pendsv, bx["PendSV_Handler"]) || len(excAt(pendsv)) != 0):
					t.Errorf("strict: PendSV_Handler %s, exc-return at %#x; want an indirect reason at %#x", reasonSummary(pendsv), excAt(pendsv), bx["PendSV_Handler"])
				case !strict && (!pendsv.Bounded || *pendsv.Bound != work):
					t.Errorf("PendSV_Handler: bound %s (%s), want %d from .su", show(pendsv.Bound), reasonSummary(pendsv), work)
				case !strict && (len(excAt(pendsv)) != 1 || excAt(pendsv)[0] != bx["PendSV_Handler"] || len(pendsv.Assumptions) != 1):
					t.Errorf("PendSV_Handler: assumptions %+v, want one exc-return at %#x", pendsv.Assumptions, bx["PendSV_Handler"])
				}

				// The assumption says why the jump returns from the
				// exception (the frame walk's detail, kept beside the
				// call site: frame.Frame.ExcDetail).
				for _, a := range pendsv.Assumptions {
					if a.Kind == bound.AssumeExcReturn && !strings.Contains(a.Detail, "(msr psp): the restored context's EXC_RETURN") {
						t.Errorf("PendSV_Handler: exc-return assumption %q does not say which context it restores", a.Detail)
					}
				}

				svc := entry(t, res, "SVC_Handler")
				if !svc.Bounded || *svc.Bound != work || len(svc.Assumptions) != 0 {
					t.Errorf("strict=%v: SVC_Handler bound %s (%s), assumptions %+v; want %d from .su, no assumption", strict, show(svc.Bound), reasonSummary(svc), svc.Assumptions, work)
				}

				for _, name := range []string{"TIMER_IRQHandler", "SysTick_Handler"} {
					e := entry(t, res, name)
					if len(excAt(e)) != 0 || !indirectAt(e, bx[name]) {
						t.Errorf("strict=%v: %s: exc-return at %#x, reasons %s, assumptions %+v; want an indirect jump at %#x", strict, name, excAt(e), reasonSummary(e), e.Assumptions, bx[name])
					}
				}

				reset := entry(t, res, "Reset_Handler")
				if reset.Bounded || len(excAt(reset)) != 0 || !indirectAt(reset, bx["jump_exc_thread"]) || !indirectAt(reset, bx["start_task"]) {
					t.Errorf("strict=%v: Reset_Handler %s, assumptions %+v; want indirect jumps at start_task %#x and jump_exc_thread %#x",
						strict, reasonSummary(reset), reset.Assumptions, bx["start_task"], bx["jump_exc_thread"])
				}
			}
		})
	}
}
