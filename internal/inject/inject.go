// Package inject finds the smallest stack a program needs: it runs the
// program under the trace supervisor at ever smaller RLIMIT_STACK values
// (bisection on pages) and compares every run with an oracle run.
//
// It knows nothing of ptrace: every run goes through trace.Run.
package inject

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stackscope/stackscope/internal/trace"
)

// DefaultNormalLimit stands in for an unlimited RLIMIT_STACK.
const DefaultNormalLimit = 8 << 20

// Failure classes beyond trace's crash classes.
const (
	ClassTimeout    = "timeout"     // killed after --timeout
	ClassExitStatus = "exit-status" // no crash, but not the oracle's exit status
	ClassOutput     = "output"      // the oracle's exit status, other output
)

// Options say what to run and how to judge it.
type Options struct {
	Path string   // resolved program path
	Args []string // argv, Args[0] included
	Env  []string // the fixed environment (trace passes it through; trace.ProgramEnv)
	// Stdin is a file fed to every run; "" means /dev/null.
	Stdin string
	// ExpectExit, when not nil, is the only thing a run must match: this
	// exit status (no crash, no timeout); output is not compared.
	ExpectExit *int
	// IgnoreOutput compares only the exit status with the normal run's.
	IgnoreOutput bool
	// Timeout per run; zero means none for the normal run and, for the
	// others, ten times the normal run's time but at least DefaultTimeout.
	Timeout time.Duration
	// NormalLimit is the limit of the oracle run and the top of the search,
	// in bytes (rounded down to a page).
	NormalLimit uint64
	PageSize    uint64 // default os.Getpagesize()
	// Confirm is how many more runs at the minimum must pass (default 3).
	Confirm int
	// Progress, if set, is told about every run as it ends.
	Progress func(Progress)

	// run replaces trace.Run in tests.
	run func(trace.Config) (*trace.Result, error)
}

// DefaultTimeout is the least timeout of a run when --timeout is not given.
const DefaultTimeout = 10 * time.Second

// Progress is one finished run.
type Progress struct {
	Run      int    // 1-based
	Estimate int    // how many runs there will probably be
	Phase    string // "normal", "bisect", "confirm"
	Run1     *Run   // the run that just ended
}

// Run is one supervised run of the program.
type Run struct {
	Phase    string  `json:"phase"`
	Limit    uint64  `json:"limit"`
	Pass     bool    `json:"pass"`
	Class    string  `json:"class,omitempty"`    // why it failed
	Function string  `json:"function,omitempty"` // where, if it crashed
	Detail   string  `json:"detail,omitempty"`
	Status   int     `json:"exit_status"`
	Seconds  float64 `json:"seconds"`

	Thread     int    `json:"thread,omitempty"` // 1-based index in the run's thread list
	ThreadKind string `json:"thread_kind,omitempty"`
	Recursion  bool   `json:"recursion,omitempty"`

	StdoutSHA256 string `json:"stdout_sha256"`
	StderrSHA256 string `json:"stderr_sha256"`
	StderrTail   string `json:"-"`

	Trace *trace.Result `json:"-"`
}

// Oracle is what a run must reproduce.
type Oracle struct {
	ExitStatus     int    `json:"exit_status"`
	StdoutSHA256   string `json:"stdout_sha256"`
	StderrSHA256   string `json:"stderr_sha256"`
	OutputCompared bool   `json:"output_compared"`
}

// Result is what minstack found. Its JSON form is a contract: keys are only
// ever added.
type Result struct {
	// Kind is "minstack", so that a reader can tell what JSON it got.
	Kind string `json:"kind"`
	// StackscopeVersion names the stackscope build that wrote this report
	// (`stackscope version`); set by the command, empty in tests of the library.
	StackscopeVersion string `json:"stackscope_version,omitempty"`

	Program   string   `json:"program"`
	Args      []string `json:"args"`
	Env       []string `json:"environment"`
	Stdin     string   `json:"stdin"`
	PageSize  uint64   `json:"page_size"`
	Minimum   *uint64  `json:"minimum"` // bytes; null when not found
	Pages     uint64   `json:"minimum_pages"`
	Normal    uint64   `json:"normal_limit"`
	Unlimited bool     `json:"normal_limit_was_unlimited"`
	Peak      uint64   `json:"peak"` // deepest thread at the normal limit
	PeakKind  string   `json:"peak_thread_kind"`
	// Margin is the normal limit less the minimum.
	Margin *uint64 `json:"margin"`
	// StartUse is argv, envp, auxv and their strings: bytes of the limit in
	// use before the program runs an instruction.
	StartUse     uint64   `json:"start_use"`
	FailureBelow *Failure `json:"failure_below"`
	Oracle       Oracle   `json:"oracle"`
	Confirmed    bool     `json:"confirmed"`
	Reproducible bool     `json:"reproducible"`
	FailsNormal  bool     `json:"fails_at_normal_limit"`
	Normal1      *Run     `json:"normal_run"`

	StaticBound   *int64   `json:"static_bound"`
	StaticAtLeast *int64   `json:"static_at_least,omitempty"`
	StaticReasons []string `json:"static_reasons,omitempty"`
	StaticError   string   `json:"static_error,omitempty"`
	StaticCheck   string   `json:"static_check,omitempty"`
	StaticBelow   bool     `json:"static_bound_below_minimum"`

	Runs     []*Run   `json:"runs"`
	Findings []string `json:"findings"`
	Seconds  float64  `json:"seconds"`
}

// Failure is the run just below the minimum.
type Failure struct {
	Limit      uint64 `json:"limit"`
	Class      string `json:"class"`
	Function   string `json:"function"`
	Detail     string `json:"detail"`
	Thread     int    `json:"thread"`
	ThreadKind string `json:"thread_kind"`
	Recursion  bool   `json:"recursion"`
	ExitStatus int    `json:"exit_status"`
}

// ErrFailsAtNormal is returned (with a Result) when the program does not
// even pass at the normal limit.
var ErrFailsAtNormal = errors.New("the program fails at the normal limit")

type runner struct {
	opts   Options
	oracle Oracle
	res    *Result
	start  time.Time
	est    int
}

// Find runs the normal run, the bisection and the confirmation. A start
// error (program missing, ptrace refused) is returned as the trace error;
// everything the program does is in the Result.
func Find(opts Options) (*Result, error) {
	if opts.PageSize == 0 {
		opts.PageSize = uint64(os.Getpagesize())
	}
	if opts.Confirm == 0 {
		opts.Confirm = 3
	}
	if opts.run == nil {
		opts.run = trace.Run
	}
	opts.NormalLimit -= opts.NormalLimit % opts.PageSize
	if opts.NormalLimit < opts.PageSize {
		return nil, fmt.Errorf("the normal limit %d is less than a page", opts.NormalLimit)
	}
	if opts.Stdin != "" {
		f, err := os.Open(opts.Stdin)
		if err != nil {
			return nil, fmt.Errorf("--stdin: %v", err)
		}
		f.Close()
	}
	r := &runner{opts: opts, start: time.Now()}
	r.res = &Result{
		Program: opts.Path, Args: opts.Args, Env: opts.Env, Stdin: opts.Stdin,
		PageSize: opts.PageSize, Normal: opts.NormalLimit, Findings: []string{}, Runs: []*Run{},
	}
	if r.res.Stdin == "" {
		r.res.Stdin = os.DevNull
	}
	pages := opts.NormalLimit / opts.PageSize
	r.est = 1 + bits(pages) + opts.Confirm + 1
	defer func() { r.res.Seconds = time.Since(r.start).Seconds() }()

	// 1. The oracle.
	normal, err := r.exec(opts.NormalLimit, opts.Timeout)
	if err != nil {
		return nil, err
	}
	r.res.Normal1 = normal
	// The environment the program saw: trace passes ours through
	// unchanged but for its one exception (trace.ProgramEnv).
	r.res.Env = trace.ProgramEnv(opts.Path, opts.Env)
	r.oracle = Oracle{ExitStatus: normal.Status, StdoutSHA256: normal.StdoutSHA256, StderrSHA256: normal.StderrSHA256, OutputCompared: !opts.IgnoreOutput && opts.ExpectExit == nil}
	if opts.ExpectExit != nil {
		r.oracle.ExitStatus = *opts.ExpectExit
	}
	r.res.Oracle = r.oracle
	if normal.Trace != nil {
		r.res.Peak, r.res.PeakKind = peakOf(normal.Trace)
		if len(normal.Trace.Threads) > 0 {
			r.res.StartUse = normal.Trace.Threads[0].StartUse
		}
	}
	r.record("normal", normal)
	if !normal.Pass {
		r.res.FailsNormal = true
		r.res.Findings = append(r.res.Findings, fmt.Sprintf("the program fails even at the normal limit of %s: %s", limit(opts.NormalLimit), describe(normal)))
		return r.res, nil
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = max(DefaultTimeout, 10*time.Duration(normal.Seconds*float64(time.Second)))
	}

	// 2. Bisection on pages: hi always passes, lo always fails (0 by
	// definition).
	lo, hi := uint64(0), pages
	var below *Run
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		run, err := r.once("bisect", mid*opts.PageSize, timeout)
		if err != nil {
			return nil, err
		}
		if run.Pass {
			hi = mid
		} else {
			lo, below = mid, run
		}
	}
	min := hi * opts.PageSize
	r.res.Minimum, r.res.Pages = &min, hi
	margin := opts.NormalLimit - min
	r.res.Margin = &margin
	if below != nil {
		r.res.FailureBelow = failureOf(below)
	}

	// 3. Confirmation: the minimum passes Confirm more times, and the page
	// below fails again the same way.
	r.res.Confirmed, r.res.Reproducible = true, true
	for i := 0; i < opts.Confirm; i++ {
		run, err := r.once("confirm", min, timeout)
		if err != nil {
			return nil, err
		}
		if !run.Pass {
			r.res.Confirmed, r.res.Reproducible = false, false
			r.res.Findings = append(r.res.Findings, fmt.Sprintf("not reproducible: at the minimum %s, confirmation run %d failed: %s", limit(min), i+1, describe(run)))
		}
	}
	if below != nil {
		run, err := r.once("confirm", below.Limit, timeout)
		if err != nil {
			return nil, err
		}
		switch {
		case run.Pass:
			r.res.Reproducible = false
			r.res.Findings = append(r.res.Findings, fmt.Sprintf("not reproducible: at %s the program failed once (%s) and then passed", limit(below.Limit), describe(below)))
		case run.Class != below.Class || run.Function != below.Function:
			r.res.Findings = append(r.res.Findings, fmt.Sprintf("at %s the failure changed between runs: %s, then %s", limit(below.Limit), describe(below), describe(run)))
		}
	}
	return r.res, nil
}

// bits is the number of bisection steps over n pages.
func bits(n uint64) int {
	b := 0
	for n > 1 {
		n = (n + 1) / 2
		b++
	}
	return b
}

// once runs the program at limit, judges and records the run.
func (r *runner) once(phase string, limit uint64, timeout time.Duration) (*Run, error) {
	run, err := r.exec(limit, timeout)
	if err != nil {
		return nil, err
	}
	r.record(phase, run)
	return run, nil
}

func (r *runner) record(phase string, run *Run) {
	r.judge(run)
	run.Phase = phase
	r.res.Runs = append(r.res.Runs, run)
	if p := r.opts.Progress; p != nil {
		if len(r.res.Runs) > r.est {
			r.est = len(r.res.Runs)
		}
		p(Progress{Run: len(r.res.Runs), Estimate: r.est, Phase: phase, Run1: run})
	}
}

func (r *runner) exec(limit uint64, timeout time.Duration) (*Run, error) {
	stdin := r.opts.Stdin
	if stdin == "" {
		stdin = os.DevNull
	}
	in, err := os.Open(stdin)
	if err != nil {
		return nil, fmt.Errorf("--stdin: %v", err)
	}
	defer in.Close()
	out, err := newCapture()
	if err != nil {
		return nil, err
	}
	defer out.abandon()
	errc, err := newCapture()
	if err != nil {
		return nil, err
	}
	defer errc.abandon()
	cfg := trace.Config{
		Path: r.opts.Path, Args: r.opts.Args, Env: append([]string(nil), r.opts.Env...),
		ScanStderr: true, Stdin: in, Stdout: out.w, Stderr: errc.w,
		StackLimit: limit, NoASLR: true, Timeout: timeout,
	}
	t0 := time.Now()
	res, err := r.opts.run(cfg)
	if err != nil {
		return nil, err
	}
	run := &Run{Limit: limit, Trace: res, Status: res.ExitStatus}
	run.StdoutSHA256, _ = out.finish()
	run.StderrSHA256, run.StderrTail = errc.finish()
	run.Seconds = time.Since(t0).Seconds()
	return run, nil
}

// judge decides whether a run matches the oracle and, if not, why.
func (r *runner) judge(run *Run) {
	res := run.Trace
	run.Pass = false
	switch {
	case res == nil:
		run.Class = ClassExitStatus
	case res.TimedOut:
		run.Class = ClassTimeout
		run.Detail = "killed after the timeout"
	case res.Crash != nil:
		c := res.Crash
		run.Class, run.Function, run.Detail = c.Class, c.Function, c.Detail
		if c.CycleName != "" {
			run.Function, run.Recursion = c.CycleName, true
		}
		for i, t := range res.Threads {
			if t.TID == c.TID {
				run.Thread, run.ThreadKind = i+1, t.Kind
			}
		}
	case res.ExitStatus != r.oracle.ExitStatus:
		run.Class = ClassExitStatus
		run.Detail = fmt.Sprintf("exit status %d, want %d", res.ExitStatus, r.oracle.ExitStatus)
		if tail := lastLine(run.StderrTail); tail != "" {
			run.Detail += "; stderr ends: " + tail
		}
	case r.oracle.OutputCompared && run.StdoutSHA256 != r.oracle.StdoutSHA256:
		run.Class, run.Detail = ClassOutput, "stdout differs from the normal run's"
	case r.oracle.OutputCompared && run.StderrSHA256 != r.oracle.StderrSHA256:
		run.Class, run.Detail = ClassOutput, "stderr differs from the normal run's"
		if tail := lastLine(run.StderrTail); tail != "" {
			run.Detail += "; it ends: " + tail
		}
	default:
		run.Pass = true
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// peakOf is the deepest measured stack of a main or pthread thread: the
// stacks RLIMIT_STACK sizes.
func peakOf(res *trace.Result) (uint64, string) {
	var peak uint64
	kind := ""
	for _, t := range res.Threads {
		if !t.PeakMeasured || (t.Kind != trace.KindMain && t.Kind != trace.KindPthread) {
			continue
		}
		if t.Peak > peak {
			peak, kind = t.Peak, t.Kind
		}
	}
	return peak, kind
}

func failureOf(run *Run) *Failure {
	return &Failure{
		Limit: run.Limit, Class: run.Class, Function: run.Function, Detail: run.Detail,
		Thread: run.Thread, ThreadKind: run.ThreadKind, Recursion: run.Recursion, ExitStatus: run.Status,
	}
}

// describe is one line on a failed run: "stack-overflow in thread 1
// (main), recursion through luaV_execute".
func describe(run *Run) string {
	if run.Pass {
		return "passed"
	}
	s := run.Class
	if run.Thread > 0 {
		s += fmt.Sprintf(" in thread %d (%s)", run.Thread, run.ThreadKind)
	}
	switch {
	case run.Function != "" && run.Recursion:
		s += ", recursion through " + run.Function
	case run.Function != "":
		s += ", in " + run.Function
	}
	if run.Class == ClassExitStatus || run.Class == ClassOutput {
		s += ": " + run.Detail
	}
	return s
}

func human(n uint64) string { return trace.HumanBytes(n) }
