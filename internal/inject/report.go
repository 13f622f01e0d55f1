package inject

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/stackscope/stackscope/internal/size"
)

// StartupAllowance is what glibc's _start, __libc_start_main and
// __libc_start_call_main may have pushed below argv/envp/auxv when main is
// called (about 250 bytes on glibc 2.36 x86-64; a generous allowance).
const StartupAllowance = 1024

// SetStatic records the static bound of the program's main (bound nil when
// it is not bounded, then atLeast) and checks it against the measured
// minimum. A bound is comparable only when the failure below the minimum
// was a stack overflow of the main thread while main was on the stack (its
// frame is in the backtrace, or the backtrace is too deep to see it); it is
// an analyzer bug when even the bound plus argv/envp/auxv and the startup
// frames stays below the limit that failed.
func (r *Result) SetStatic(bound *int64, atLeast int64, reasons []string, err error) {
	if err != nil {
		r.StaticError = err.Error()
		return
	}
	if bound == nil {
		v := atLeast
		r.StaticAtLeast = &v
		r.StaticReasons = reasons
		r.StaticCheck = "main is not bounded statically: nothing to compare"
		return
	}
	b := *bound
	r.StaticBound = &b
	f := r.FailureBelow
	switch {
	case r.Minimum == nil:
		r.StaticCheck = "no minimum to compare with"
	case f == nil:
		r.StaticCheck = "the minimum is one page: nothing failed below it"
	case !r.mainOnStack():
		r.StaticCheck = "the failure below the minimum did not overflow the main thread's stack inside main (before main, or in another thread): main's bound does not cover it"
	default:
		need := int64(f.Limit) // the program needed more than this
		have := b + int64(r.StartUse) + StartupAllowance
		if have < need {
			r.StaticBelow = true
			r.StaticCheck = fmt.Sprintf("ANALYZER BUG: the static bound of main (%s) plus argv/envp/auxv (%s) and %s for the startup frames is %s, but the program overflowed the main thread's stack inside main at a limit of %s",
				exact(b), exact(int64(r.StartUse)), exact(StartupAllowance), exact(have), limit(f.Limit))
			r.Findings = append(r.Findings, r.StaticCheck)
		} else {
			r.StaticCheck = fmt.Sprintf("consistent: bound %s + start %s + %s startup allowance = %s >= %s, the limit that failed", exact(b), exact(int64(r.StartUse)), exact(StartupAllowance), exact(have), exact(int64(f.Limit)))
		}
	}
}

// mainOnStack: the failure below was a main-thread stack overflow with
// main in the backtrace (or a truncated backtrace).
func (r *Result) mainOnStack() bool {
	f := r.FailureBelow
	if f == nil || f.Class != "stack-overflow" || f.ThreadKind != "main" {
		return false
	}
	for _, run := range r.Runs {
		if run.Limit != f.Limit || run.Trace == nil || run.Trace.Crash == nil {
			continue
		}
		c := run.Trace.Crash
		if c.Truncated {
			return true
		}
		for _, fr := range c.Frames {
			if fr.Function == "main" && fr.InMain {
				return true
			}
		}
		return false
	}
	return false
}

// ExitCode is 0 when the minimum was found and confirmed, 1 for a finding.
func (r *Result) ExitCode() int {
	if r.Minimum == nil || !r.Confirmed || !r.Reproducible || r.StaticBelow || r.FailsNormal || len(r.Findings) > 0 {
		return 1
	}
	return 0
}

// WriteJSON writes r as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	r.Kind = "minstack"
	if r.Findings == nil {
		r.Findings = []string{}
	}
	if r.Runs == nil {
		r.Runs = []*Run{}
	}
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// Verdict is the one-line answer.
func (r *Result) Verdict() string {
	name := strings.Join(r.Args, " ")
	if len(name) > 60 {
		name = name[:57] + "..."
	}
	switch {
	case r.FailsNormal:
		return fmt.Sprintf("%s fails even at the normal limit of %s", name, limit(r.Normal))
	case r.Minimum == nil:
		return "no minimum found"
	}
	s := fmt.Sprintf("minimum stack %s (%d pages) for %s", limit(*r.Minimum), r.Pages, name)
	if r.Confirmed && r.Reproducible {
		s += "; confirmed"
	} else {
		s += "; NOT REPRODUCIBLE"
	}
	return s
}

// WriteText writes the human report: the answer first.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "stackscope: %s\n", r.Verdict())
	if r.StaticBelow {
		fmt.Fprintf(w, "  !!! %s\n", r.StaticCheck)
	}
	n := r.Normal1
	if r.FailsNormal && n != nil {
		fmt.Fprintf(w, "  at %s: %s\n", limit(r.Normal), describe(n))
		if n.Detail != "" && n.Class != ClassExitStatus && n.Class != ClassOutput {
			fmt.Fprintf(w, "    %s\n", n.Detail)
		}
	}
	if r.Minimum != nil {
		if f := r.FailureBelow; f != nil {
			fmt.Fprintf(w, "  at %s: %s\n", limit(f.Limit), describeFailure(f))
			if f.Detail != "" && f.Class != ClassExitStatus && f.Class != ClassOutput {
				fmt.Fprintf(w, "    %s\n", f.Detail)
			}
		} else {
			fmt.Fprintf(w, "  the program passes with a single page of stack\n")
		}
		fmt.Fprintf(w, "  at %s (the minimum): passes %d of %d runs\n", limit(*r.Minimum), r.passesAt(*r.Minimum), r.runsAt(*r.Minimum))
	}
	unl := ""
	if r.Unlimited {
		unl = " (RLIMIT_STACK is unlimited: 8 MiB used instead)"
	}
	fmt.Fprintf(w, "  normal limit       %s%s\n", limitHuman(r.Normal), unl)
	if r.Peak > 0 {
		fmt.Fprintf(w, "  peak at normal     %s (%s, %s thread)\n", human(r.Peak), exact(int64(r.Peak)), r.PeakKind)
	}
	if r.Minimum != nil {
		fmt.Fprintf(w, "  minimum            %s (%s)\n", limit(*r.Minimum), exact(int64(*r.Minimum)))
		fmt.Fprintf(w, "  margin             %s (normal limit less the minimum; the normal limit is %.1fx the minimum)\n", human(*r.Margin), float64(r.Normal)/float64(*r.Minimum))
	}
	fmt.Fprintf(w, "  argv/envp/auxv     %s of the limit in use at exec\n", exact(int64(r.StartUse)))
	switch {
	case r.StaticError != "":
		fmt.Fprintf(w, "  static bound       not available: %s\n", r.StaticError)
	case r.StaticBound != nil:
		fmt.Fprintf(w, "  static bound       %s for main (%s)\n", exact(*r.StaticBound), r.StaticCheck)
	case r.StaticAtLeast != nil:
		why := ""
		if len(r.StaticReasons) > 0 {
			why = ": " + strings.Join(r.StaticReasons, "; ")
		}
		fmt.Fprintf(w, "  static bound       main is NOT BOUNDED (at least %s)%s\n", exact(*r.StaticAtLeast), why)
	}
	cmp := "exit status and stdout/stderr digests"
	if !r.Oracle.OutputCompared {
		cmp = "exit status only"
	}
	fmt.Fprintf(w, "  oracle             exit status %d; compared: %s; stdin %s\n", r.Oracle.ExitStatus, cmp, r.Stdin)
	fmt.Fprintf(w, "  runs               %d in %.1f s:", len(r.Runs), r.Seconds)
	// "8,192 KiB ok; 4,096 KiB ok; 2,048 KiB segv": "; " between runs,
	// as the limits carry thousands separators.
	for i, run := range r.Runs {
		mark := "ok"
		if !run.Pass {
			mark = run.Class
		}
		sep := ";"
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(w, "%s %s %s", sep, limit(run.Limit), mark)
	}
	fmt.Fprintln(w)
	for _, f := range r.Findings {
		if f != r.StaticCheck {
			fmt.Fprintf(w, "  finding: %s\n", f)
		}
	}
}

// limit spells a stack limit exactly, in KiB as `ulimit -s` takes it
// ("1,324 KiB"), or in bytes when it is not whole KiB (size.FormatKiB):
// exact on purpose, not size.Format's one decimal, because two limits a
// page apart must never read the same ("1.8 MiB" was both the minimum and
// the limit that failed).
func limit(n uint64) string { return size.FormatKiB(int64(n)) }

// limitHuman is the exact limit with its rounded size: "8,192 KiB (8.0 MiB)".
func limitHuman(n uint64) string {
	if n >= 1<<20 {
		return limit(n) + " (" + human(n) + ")"
	}
	return limit(n)
}

// exact writes a size in exact bytes ("46,096 B"), for the figures of the
// static check a reader adds up against the limits (exact on purpose: one
// decimal of KiB would not add up).
func exact(n int64) string { return size.Commas(n) + " B" }

func (r *Result) passesAt(limit uint64) int {
	n := 0
	for _, run := range r.Runs {
		if run.Limit == limit && run.Pass {
			n++
		}
	}
	return n
}

func (r *Result) runsAt(limit uint64) int {
	n := 0
	for _, run := range r.Runs {
		if run.Limit == limit {
			n++
		}
	}
	return n
}

func describeFailure(f *Failure) string {
	return describe(&Run{Class: f.Class, Function: f.Function, Detail: f.Detail, Thread: f.Thread, ThreadKind: f.ThreadKind, Recursion: f.Recursion})
}
