package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/budget"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/diff"
	"github.com/stackscope/stackscope/internal/inject"
	"github.com/stackscope/stackscope/internal/layout"
	"github.com/stackscope/stackscope/internal/report"
)

// Every exit 1 says why in one line on stderr, naming the finding: the
// report may have gone to a file, or scrolled away in a CI log, and an
// unexplained "exit status 1" reads as a crash of the tool.

// findingError is the exit-1 error: "exit 1: WHY" after what was done
// ("wrote fw.html; "), the first finding named and the others counted.
func findingError(done string, whys []string) error {
	if len(whys) == 0 {
		whys = []string{"a finding"} // never reached: every caller names one
	}
	msg := whys[0]
	if len(whys) > 1 {
		msg += fmt.Sprintf(" (and %d more finding(s))", len(whys)-1)
	}
	if done != "" {
		done += "; "
	}
	return &exitError{Code: exitFinding, Err: fmt.Errorf("%sexit 1: %s", done, msg)}
}

// budgetWhys names what breaks the budget policy in r, as Policy.Failing
// judges it: each overrun, then each thread whose stack overflows.
func budgetWhys(r *analysis.Result, cfg *config.Config, flag int64, allowUnbounded bool) []string {
	p := budget.Policy{Config: cfg, Flag: flag, AllowUnbounded: allowUnbounded}
	var whys []string
	for _, o := range p.Overruns(r) {
		name := o.Name + "'s"
		if o.Name == budget.MainStack {
			name = "the main stack's total"
		}
		switch {
		case o.Bounded:
			whys = append(whys, fmt.Sprintf("%s bound %s exceeds the budget %s", name, report.Bytes(o.Depth), report.Bytes(o.Budget)))
		case o.Depth > o.Budget:
			whys = append(whys, fmt.Sprintf("%s depth is at least %s (not bounded), over the budget %s", name, report.Bytes(o.Depth), report.Bytes(o.Budget)))
		default:
			whys = append(whys, fmt.Sprintf("%s stack is NOT BOUNDED, so the budget %s cannot be shown to hold (--allow-unbounded forgives it)", strings.TrimSuffix(name, "'s"), report.Bytes(o.Budget)))
		}
	}
	for _, t := range r.Threads {
		if t.Status == "overflow" {
			whys = append(whys, fmt.Sprintf("the stack of thread %s (created by %s) overflows", t.Entry, t.CreatedBy))
		}
	}
	return whys
}

// layoutWhys names what makes a layout report fail, as Report.Failing
// judges it.
func layoutWhys(r *layout.Report) []string {
	var whys []string
	switch r.Verdict {
	case layout.Unsafe:
		whys = append(whys, "stack placement UNSAFE (layout)")
	case layout.Unknown:
		whys = append(whys, "stack placement UNKNOWN (layout: not proved safe; give the memory map with --ld FILE.ld)")
	}
	if h := r.Headroom; h != nil {
		switch {
		case h.WillOverflowBy > 0:
			whys = append(whys, fmt.Sprintf("the main stack will overflow by at least %s (layout)", report.Bytes(h.WillOverflowBy)))
		case h.Bytes != nil && *h.Bytes < 0:
			whys = append(whys, fmt.Sprintf("the main stack's worst case exceeds its size by %s (layout)", report.Bytes(-*h.Bytes)))
		}
	}
	return whys
}

// diffWhys names the entries over --max-growth.
func diffWhys(over []diff.EntryChange, maxGrowth string, top int) []string {
	return []string{fmt.Sprintf("over --max-growth %s: %s", maxGrowth, overText(over, top))}
}

// minstackWhys names what makes a minstack result a finding, as
// inject.Result.ExitCode judges it.
func minstackWhys(r *inject.Result) []string {
	var whys []string
	switch {
	case r.FailsNormal || r.Minimum == nil:
		whys = append(whys, r.Verdict())
	case !r.Confirmed || !r.Reproducible:
		whys = append(whys, "the minimum is NOT REPRODUCIBLE: "+r.Verdict())
	}
	if r.StaticBelow {
		whys = append(whys, "the static bound of main is below the measured minimum")
	}
	whys = append(whys, r.Findings...)
	return whys
}

// needArgs replaces cobra's stock "requires at least 1 arg(s), only
// received 0" with a line that names the command and what is missing
// (missing), or what is too much; max < 0 means any number.
func needArgs(min, max int, missing string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < min:
			return usageErrorf("%s: %s (usage: %s)", cmd.Name(), missing, cmd.UseLine())
		case max >= 0 && len(args) > max:
			return usageErrorf("%s: too many arguments (%s); usage: %s", cmd.Name(), strings.Join(args[max:], " "), cmd.UseLine())
		}
		return nil
	}
}
