package main

import (
	"errors"
	"fmt"
	"github.com/stackscope/stackscope/internal/size"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/inject"
	"github.com/stackscope/stackscope/internal/trace"
)

func init() { subcommands = append(subcommands, newMinstackCommand) }

// minstackEnv is the fixed environment of every run unless --keep-env.
var minstackEnv = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"}

type minstackFlags struct {
	stdin        string
	expectExit   int
	ignoreOutput bool
	timeout      time.Duration
	out          outputFlags
	json         bool  // --json, the old spelling of --format json
	limit        int64 // 0: not given
	env          []string
	keepEnv      bool
	noStatic     bool
	fw           minstackFirmwareFlags
}

func newMinstackCommand() *cobra.Command {
	var fl minstackFlags
	cmd := &cobra.Command{
		Use:   "minstack [flags] -- PROG [ARGS...]",
		Short: "Find the smallest stack a program (RLIMIT_STACK, to the page) or firmware (in QEMU, to 8 bytes) still works with",
		Long: `minstack runs PROG once at the normal stack limit (the soft RLIMIT_STACK;
8 MiB when unlimited) to record an oracle: its exit status and the SHA-256
of its stdout and stderr. It then bisects RLIMIT_STACK (which also sets
glibc's default pthread stack size) on pages, from one page up to the normal
limit, to find the smallest limit at which PROG still matches the oracle,
and confirms it with three more runs (and one more run a page below).

Every run is supervised as by 'stackscope run', so the failure just below the
minimum is classified (stack overflow, buffer overrun, other crash, exit
status, output, timeout) with the function to blame. Runs are deterministic:
address-space randomization off (ADDR_NO_RANDOMIZE), a fixed environment
(PATH=/usr/local/bin:/usr/bin:/bin LC_ALL=C, plus --env; --keep-env passes
stackscope's own), stdin from --stdin or /dev/null.

The report goes to stdout (PROG's own output is captured for the oracle),
or with -o FILE to FILE; --format json writes it as JSON. The progress bar
goes to stderr when it is a terminal and the format is text.

Exit status: 0 the minimum was found and confirmed; 1 a finding (PROG fails
even at the normal limit, the result is not reproducible, or the static
bound of main is below the measured minimum); 2 usage or input error;
126/127 PROG cannot be executed or is not found.

minstack FIRMWARE.elf (flags first: --machine, --until, --ld, --config,
--timeout, --format, -o) bisects a Cortex-M image's main stack in QEMU
instead, to 8 bytes, each run with the initial SP lowered and compared with
a run at the image's own size; docs/minstack.md has the details. Exit
status there: 0 a reproducible minimum within the static total, 1
otherwise, 2 usage or input error.`,
		Args: needArgs(1, -1, "give the program to run after --"),
		RunE: func(c *cobra.Command, args []string) error {
			return runMinstack(c, args, fl)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.stdin, "stdin", "", "feed `FILE` to PROG's stdin on every run (default /dev/null)")
	f.IntVar(&fl.expectExit, "expect-exit", 0, "a run passes when it exits with status `N` (output is not compared)")
	f.BoolVar(&fl.ignoreOutput, "ignore-output", false, "compare only the exit status with the normal run's, not stdout and stderr")
	f.DurationVar(&fl.timeout, "timeout", 0, "kill a run after `DURATION` and count it as a failure (default: none for the normal run, then 10x its time but at least 10s)")
	fl.out.register(f, []string{"text", "json"}, "report format: text or json")
	f.BoolVar(&fl.json, "json", false, "deprecated: use --format json")
	f.MarkHidden("json")
	size.Var(f, &fl.limit, "limit", "normal limit to start from, as `SIZE` (65536, 64K, 8MiB; default: the soft RLIMIT_STACK)")
	f.StringArrayVar(&fl.env, "env", nil, "add `KEY=VALUE` to PROG's fixed environment (repeatable)")
	f.BoolVar(&fl.keepEnv, "keep-env", false, "run PROG with stackscope's environment instead of the fixed one")
	f.BoolVar(&fl.noStatic, "no-static", false, "do not compute the static bound of main")
	fl.fw.register(f)
	f.SetInterspersed(false)
	return cmd
}

func runMinstack(c *cobra.Command, args []string, fl minstackFlags) error {
	if fl.json {
		deprecated("minstack --json", "--format json")
		fl.out.format = "json"
	}
	if err := fl.out.check(); err != nil {
		return err
	}
	if fl.timeout < 0 {
		return usageErrorf("--timeout must not be negative")
	}
	if handled, err := minstackFirmware(c, args, fl); handled {
		return err
	}
	path, err := lookProgram(args[0])
	if err != nil {
		return err
	}
	// -o is opened now: the runs can take minutes, and a path that cannot
	// be written should not cost them.
	var out *reportFile
	if fl.out.output != "" {
		if out, err = openReport("-o", fl.out.output); err != nil {
			return err
		}
		// Removed again if the command fails before writing it (out is
		// nil once written).
		defer func() { out.discard() }()
	}
	opts := inject.Options{Path: path, Args: args, Stdin: fl.stdin, IgnoreOutput: fl.ignoreOutput, Timeout: fl.timeout}
	if c.Flags().Changed("expect-exit") {
		if fl.expectExit < 0 || fl.expectExit > 255 {
			return usageErrorf("--expect-exit %d: an exit status is 0 to 255", fl.expectExit)
		}
		v := fl.expectExit
		opts.ExpectExit = &v
	}
	if fl.stdin != "" {
		st, err := os.Stat(fl.stdin)
		if err != nil {
			return usageErrorf("--stdin: %v", err)
		}
		if st.IsDir() {
			return usageErrorf("--stdin %s: is a directory", fl.stdin)
		}
	}
	opts.Env = append([]string(nil), minstackEnv...)
	if fl.keepEnv {
		opts.Env = os.Environ()
	}
	for _, e := range fl.env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return usageErrorf("--env %q: want KEY=VALUE", e)
		}
		opts.Env = setEnv(opts.Env, e)
	}
	cur, hard, err := stackLimit()
	if err != nil {
		return usageErrorf("getrlimit(RLIMIT_STACK): %v", err)
	}
	unlimited := false
	switch {
	case fl.limit != 0:
		opts.NormalLimit = uint64(fl.limit)
	case cur == unlimitedStack:
		opts.NormalLimit, unlimited = inject.DefaultNormalLimit, true
	default:
		opts.NormalLimit = cur
	}
	page := uint64(os.Getpagesize())
	if opts.NormalLimit < page {
		return usageErrorf("the normal limit %s is less than a page (%s)", size.Format(int64(opts.NormalLimit)), size.Format(int64(page)))
	}
	if hard != unlimitedStack && opts.NormalLimit > hard {
		return usageErrorf("the normal limit %s is above the hard RLIMIT_STACK %s", trace.HumanBytes(opts.NormalLimit), trace.HumanBytes(hard))
	}

	// The static bound is computed while the runs go on.
	type static struct {
		bound   *int64
		atLeast int64
		reasons []string
		err     error
	}
	staticc := make(chan static, 1)
	if !fl.noStatic {
		go func() {
			var s static
			defer func() {
				if p := recover(); p != nil {
					s = static{err: fmt.Errorf("the analysis failed: %v", p)}
				}
				staticc <- s
			}()
			s.bound, s.atLeast, s.reasons, s.err = staticBound(path)
		}()
	}

	bar := newProgressBar(os.Stderr, fl.out.format == "text")
	opts.Progress = bar.update
	res, err := inject.Find(opts)
	bar.clear()
	if err != nil {
		var se *trace.StartError
		if errors.As(err, &se) {
			return &exitError{Code: se.Code, Err: se.Err}
		}
		return &exitError{Code: exitUsage, Err: err}
	}
	res.Unlimited = unlimited
	if !fl.noStatic {
		s := <-staticc
		res.SetStatic(s.bound, s.atLeast, s.reasons, s.err)
	}
	if res.StaticBelow {
		fmt.Fprintf(os.Stderr, "stackscope: WARNING: %s\n", res.StaticCheck)
	}
	render := func(w io.Writer) error {
		if fl.out.format == "json" {
			res.StackscopeVersion = version()
			return res.WriteJSON(w)
		}
		res.WriteText(w)
		return nil
	}
	if out != nil {
		err = out.write(render)
		out = nil
	} else {
		err = render(os.Stdout)
	}
	if err != nil {
		return err
	}
	if code := res.ExitCode(); code != 0 {
		return findingError(wrote(fl.out), minstackWhys(res))
	}
	return nil
}

// lookProgram resolves PROG as run does: 127 when it is not found, 126 when
// it cannot be executed.
func lookProgram(prog string) (string, error) {
	path, err := exec.LookPath(prog)
	if err == nil {
		return path, nil
	}
	st, serr := os.Stat(prog)
	switch {
	case errors.Is(err, exec.ErrNotFound) || (serr != nil && os.IsNotExist(serr)):
		return "", &exitError{Code: 127, Err: fmt.Errorf("%s: command not found", prog)}
	case serr == nil && st.IsDir():
		return "", &exitError{Code: 126, Err: fmt.Errorf("%s: is a directory", prog)}
	default:
		return "", &exitError{Code: 126, Err: fmt.Errorf("%s: not executable", prog)}
	}
}

// staticBound is the bound of the program's main from the static analysis.
func staticBound(path string) (*int64, int64, []string, error) {
	res, err := analysis.Run(path, analysis.Options{Entries: []string{"main"}})
	if err != nil {
		return nil, 0, nil, err
	}
	for _, e := range res.Entries {
		if e.Name != "main" {
			continue
		}
		if e.Bounded && e.Bound != nil {
			return e.Bound, 0, nil, nil
		}
		return nil, e.AtLeast, reasonStrings(e.Reasons), nil
	}
	return nil, 0, nil, errors.New("no entry main")
}

func reasonStrings(rs []bound.Reason) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rs {
		s := fmt.Sprintf("%s in %s: %s", r.Kind, r.Function, r.Detail)
		if !seen[s] && len(out) < 5 {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

// progressBar draws one line on a terminal; elsewhere it stays quiet.
type progressBar struct {
	w  io.Writer
	on bool
}

func newProgressBar(f *os.File, want bool) *progressBar {
	// A character device is a terminal (or /dev/null, where drawing is
	// harmless); a portable test, unlike the TCGETS ioctl.
	st, err := f.Stat()
	return &progressBar{w: f, on: want && err == nil && st.Mode()&os.ModeCharDevice != 0}
}

func (b *progressBar) update(p inject.Progress) {
	if !b.on {
		return
	}
	const width = 20
	done := width * p.Run / max(p.Estimate, 1)
	state := "ok"
	if !p.Run1.Pass {
		state = p.Run1.Class
	}
	fmt.Fprintf(b.w, "\r\033[K[%s%s] run %d/~%d %s at %s: %s", strings.Repeat("=", done), strings.Repeat(" ", width-done), p.Run, p.Estimate, p.Phase, size.FormatKiB(int64(p.Run1.Limit)), state)
}

func (b *progressBar) clear() {
	if b.on {
		fmt.Fprint(b.w, "\r\033[K")
	}
}
