package emu

// minstack on firmware: bisect the main stack's size in the emulator. Each
// run starts with the initial SP lowered (the limit stays where the image
// put it, so a smaller stack overflows as a too-small stack section
// would), the memory below the limit watched and guarded as inject does,
// and is compared with a run at the image's own size (the oracle).

import (
	"context"
	"debug/elf"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/layout"
	"github.com/stackscope/stackscope/internal/size"
)

// MinStackOptions are firmware minstack's settings.
type MinStackOptions struct {
	Machine string
	// Until: a run passes when it reaches this function (and everything
	// else matches); without it, when it exits as the oracle did.
	Until    string
	Timeout  time.Duration // per run (0: 20 s)
	Analysis analysis.Options
	Memory   *layout.MemoryMap
	QEMU     string
	Started  func(*Machine)
}

// MinStackResult is the JSON contract of `stackscope minstack --format
// json FIRMWARE.elf` (kind "firmware-minstack"). Keys are only added.
type MinStackResult struct {
	Kind     string `json:"kind"`
	Version  string `json:"version"`
	Firmware string `json:"firmware"`
	Machine  string `json:"machine"`
	// ImageSize is the main stack's size in the image; Minimum the
	// smallest size (a multiple of 8) at which a run matches the oracle,
	// null when even the image's size does not (Problem says why).
	ImageSize int64  `json:"image_size"`
	Minimum   *int64 `json:"minimum"`
	// Oracle is what the run at the image's size did.
	Oracle string `json:"oracle"`
	// StaticTotal is analyze's main-stack total (reset path plus
	// interrupt levels), null when not bounded; AnalysisBug is set when
	// the minimum exceeds it.
	StaticTotal *int64 `json:"static_total"`
	AnalysisBug bool   `json:"analysis_bug"`
	// Below is the run 8 bytes under the minimum, as inject reports it.
	Below *Injection `json:"below"`
	// Runs are the sizes tried, in order, with whether each passed.
	Runs         []MinStackRun `json:"runs"`
	Reproducible bool          `json:"reproducible"`
	Problem      string        `json:"problem,omitempty"`
}

// MinStackRun is one bisection run.
type MinStackRun struct {
	Size   int64  `json:"size"`
	Passed bool   `json:"passed"`
	Why    string `json:"why,omitempty"`
}

// outcome is what a run is compared on.
func outcome(r *Injection) string {
	return r.Handler + ": " + r.HandlerDetail
}

// MinStack bisects the main stack's size. Errors as Inject's.
func MinStack(ctx context.Context, path string, opts MinStackOptions) (*MinStackResult, error) {
	f, err := binfile.Open(path)
	if err != nil {
		return nil, err
	}
	if ok, why := IsFirmware(f); !ok {
		f.Close()
		return nil, &InputError{Path: path, Problem: why}
	}
	if f.ELF.Machine != elf.EM_ARM {
		f.Close()
		return nil, &InputError{Path: path, Problem: "RISC-V firmware: minstack runs Cortex-M firmware only (stackscope run measures RISC-V firmware on QEMU virt)"}
	}
	res, err := analysis.RunFile(f, opts.Analysis)
	f.Close()
	if err != nil {
		return nil, &InputError{Path: path, Problem: err.Error()}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	run := func(sz int64) (*Injection, error) {
		return Inject(ctx, path, InjectOptions{Machine: opts.Machine, Stack: sz, Until: opts.Until, ArmAtReset: true,
			Timeout: timeout, RunOn: timeout, ICount: -1, Analysis: opts.Analysis, Memory: opts.Memory, QEMU: opts.QEMU, Started: opts.Started})
	}
	// The oracle: the image's own size (Inject reads it; ask for it with
	// the largest size it accepts by running once at a size it reports).
	probe, err := Inject(ctx, path, InjectOptions{Machine: opts.Machine, Stack: 8, Until: opts.Until, ArmAtReset: true,
		Timeout: timeout, RunOn: timeout, ICount: -1, Analysis: opts.Analysis, Memory: opts.Memory, QEMU: opts.QEMU, Started: opts.Started})
	if err != nil {
		return nil, err
	}
	full := int64(probe.StackTop-probe.StackLimit) &^ 7
	out := &MinStackResult{Kind: "firmware-minstack", Firmware: path, Machine: probe.Machine, ImageSize: full, Runs: []MinStackRun{}}
	if in := res.Interrupts; in != nil {
		out.StaticTotal = in.Total
	}
	oracle, err := run(full)
	if err != nil {
		return nil, err
	}
	out.Oracle = outcome(oracle)
	passes := func(r *Injection) (bool, string) {
		switch {
		case len(r.Writes) > 0:
			return false, fmt.Sprintf("wrote below the limit (%s first)", r.Writes[0].Object)
		case r.Fault != nil:
			return false, "fault: " + r.Fault.Vector
		case outcome(r) != out.Oracle:
			return false, "ended otherwise: " + outcome(r)
		case r.Output != oracle.Output:
			return false, "printed something else"
		}
		return true, ""
	}
	if ok, why := passes(oracle); !ok || oracle.Handler == "timeout" || oracle.Handler == "ran-on" {
		if ok {
			why = "it did not end within the time limit (give --until FUNCTION, a point every good run reaches)"
		}
		out.Problem = fmt.Sprintf("at the image's own size (%s) the firmware does not pass: %s", size.FormatCapacity(full), why)
		return out, nil
	}
	try := func(sz int64) (bool, *Injection, error) {
		r := probe
		if sz != 8 {
			if r, err = run(sz); err != nil {
				return false, nil, err
			}
		}
		ok, why := passes(r)
		out.Runs = append(out.Runs, MinStackRun{Size: sz, Passed: ok, Why: why})
		return ok, r, nil
	}
	lo, hi := int64(0), full // lo fails (or is 0), hi passes
	if ok, _, err := try(8); err != nil {
		return nil, err
	} else if ok {
		hi = 8
	} else {
		lo = 8
	}
	for hi-lo > 8 {
		mid := (lo + (hi-lo)/2) &^ 7
		if mid <= lo {
			mid = lo + 8
		}
		ok, _, err := try(mid)
		if err != nil {
			return nil, err
		}
		if ok {
			hi = mid
		} else {
			lo = mid
		}
	}
	out.Minimum = &hi
	// Reproducible: the minimum passes again, and 8 bytes less fails
	// again; that run is the failure reported.
	again, _, err := try(hi)
	if err != nil {
		return nil, err
	}
	out.Reproducible = again
	if hi > 8 {
		okBelow, below, err := try(hi - 8)
		if err != nil {
			return nil, err
		}
		out.Reproducible = out.Reproducible && !okBelow
		out.Below = below
	}
	if out.StaticTotal != nil && hi > *out.StaticTotal {
		out.AnalysisBug = true
	}
	return out, nil
}

// WriteText writes the report for a person, the answer first.
func (r *MinStackResult) WriteText(w io.Writer) {
	if r.Minimum == nil {
		fmt.Fprintf(w, "stackscope: NO MINIMUM: %s\n", r.Problem)
		return
	}
	head := fmt.Sprintf("stackscope: minimum main stack %s (the image gives %s)", size.Format(*r.Minimum), size.FormatCapacity(r.ImageSize))
	if r.StaticTotal != nil {
		head += fmt.Sprintf("; static total %s", size.Format(*r.StaticTotal))
	}
	fmt.Fprintln(w, head)
	if r.AnalysisBug {
		fmt.Fprintf(w, "  analysis bug: the measured minimum %d exceeds the static total %d; please report with the ELF\n", *r.Minimum, *r.StaticTotal)
	}
	if !r.Reproducible {
		fmt.Fprintln(w, "  NOT REPRODUCIBLE: the confirming runs disagreed with the bisection")
	}
	fmt.Fprintf(w, "  %s on QEMU %s; the oracle (the image's size): %s\n", r.Firmware, r.Machine, r.Oracle)
	if b := r.Below; b != nil {
		fmt.Fprintf(w, "  at %s: %s\n", size.Format(b.StackSize), b.Headline())
		if len(b.Writes) > 0 {
			fw := b.Writes[0]
			fmt.Fprintf(w, "    first write below the limit: %#x in %s, by %s\n", fw.Addr, fw.Object, fw.Where)
		}
	}
	var sizes []string
	for _, run := range r.Runs {
		mark := "pass"
		if !run.Passed {
			mark = "fail"
		}
		sizes = append(sizes, fmt.Sprintf("%d %s", run.Size, mark))
	}
	fmt.Fprintf(w, "  runs: %s\n", strings.Join(sizes, ", "))
}

// ExitStatus: 0 when a reproducible minimum within the static total was
// found, 1 otherwise.
func (r *MinStackResult) ExitStatus() int {
	if r.Minimum == nil || r.AnalysisBug || !r.Reproducible {
		return 1
	}
	return 0
}
