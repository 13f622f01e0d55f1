package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stackscope/stackscope/internal/size"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/stackscope/stackscope/internal/emu"
	"github.com/stackscope/stackscope/internal/layout"
	"github.com/stackscope/stackscope/internal/report/html"
	"github.com/stackscope/stackscope/internal/trace"
)

func init() { subcommands = append(subcommands, newReportCommand) }

type reportFlags struct {
	analysisFlags
	out     outputFlags
	layout  string
	runFile string
	// injectFile is a `stackscope inject --format json` record.
	injectFile string
	budget     int64
}

func newReportCommand() *cobra.Command {
	var fl reportFlags
	cmd := &cobra.Command{
		Use:   "report [flags] FILE",
		Short: "Write one HTML report: the stack bounds, the memory map, a run's stacks and an injection's timeline",
		Long: `report analyzes FILE as analyze does and writes one self-contained HTML
page (it works offline: no network access, no external files) with each
entry's bound or why it has none, the worst paths as expandable trees with
a bar per frame, a sortable and searchable table of every function, the
memory map from layout (firmware, Cortex-M or RISC-V: on by default), the
threads and tasks found in the code, and with --run the threads a run
record (written by "stackscope run --format json -o FILE") measured, or
for firmware each stack's measured peak beside its static bound and the
deepest measured path beside the static worst path; with --inject (firmware) the timeline
of an injected overflow (written by "stackscope inject --format json -o
FILE"). With no -o and standard output on a terminal, the page goes to
stack.html in the current directory.

Exit status: 0 the page was written and nothing failed; 1 the page was
written and there is a finding: an entry over --budget (or stackscope.toml's
budgets) or not bounded with a budget, a thread whose stack overflows, or a
memory map (firmware, --layout auto or yes) whose stack placement is
UNSAFE or UNKNOWN or whose stack will overflow; 2 usage or input error (no page is written). Every
exit 1 names its finding in one line on standard error.`,
		Args: needArgs(1, 1, "give the ELF FILE to report on"),
		RunE: func(cmd *cobra.Command, args []string) error { return runReport(cmd, args[0], fl) },
	}
	f := cmd.Flags()
	fl.out.register(f, []string{"html"}, "output format: html (the only one; for text, json or sarif use stackscope analyze)")
	f.StringVar(&fl.layout, "layout", "auto", "include the memory map: auto (firmware only), yes, no")
	f.StringVar(&fl.runFile, "run", "", "a record written by stackscope run --format json -o FILE, to show its threads and crash, or a firmware's stacks (a record of another program is warned about; --strict refuses it)")
	f.StringVar(&fl.injectFile, "inject", "", "a record written by stackscope inject --format json -o FILE, to show the injected overflow's timeline (firmware)")
	size.Var(f, &fl.budget, "budget", "stack budget, as `SIZE` (as for analyze)")
	fl.analysisFlags.register(f)
	return cmd
}

func runReport(cmd *cobra.Command, path string, fl reportFlags) error {
	if err := fl.out.check(); err != nil {
		return err
	}
	if fl.layout != "auto" && fl.layout != "yes" && fl.layout != "no" {
		return usageErrorf("--layout %q: want auto, yes or no", fl.layout)
	}
	var run *trace.Result
	var fwRun *emu.Result
	if fl.runFile != "" {
		var err error
		if fwRun, err = readFirmwareRun(fl.runFile); err != nil {
			return err
		}
		if fwRun == nil {
			if run, err = readRunRecord(fl.runFile); err != nil {
				return err
			}
		}
		if err := checkRecordTarget(path, "--run", fl.runFile, fwRun != nil); err != nil {
			return err
		}
	}
	if run != nil {
		if err := checkRunProgram("--run", fl.runFile, otherProgram(run.Executable, "a run", path), fl.strict); err != nil {
			return err
		}
	}
	if fwRun != nil {
		if err := checkRunProgram("--run", fl.runFile, otherProgram(fwRun.Executable, "a run", path), fl.strict); err != nil {
			return err
		}
	}
	var inj *emu.Injection
	if fl.injectFile != "" {
		var err error
		if inj, err = readInjection(fl.injectFile); err != nil {
			return err
		}
		if err := checkRecordTarget(path, "--inject", fl.injectFile, true); err != nil {
			return err
		}
		if err := checkRunProgram("--inject", fl.injectFile, otherProgram(inj.Executable, "an injection", path), fl.strict); err != nil {
			return err
		}
	}
	defer fl.flushCache()
	res, cfg, opts, err := fl.analyse(path)
	if err != nil {
		return err
	}
	var lay *layout.Report
	if fl.layout == "yes" || (fl.layout == "auto" && autoLayout(res.File)) {
		mem, err := memoryMap("", cfg)
		if err != nil {
			return err
		}
		if lay, err = layout.Analyze(path, layout.Options{Analysis: opts, Result: res, Memory: mem}); err != nil {
			return &exitError{Code: exitUsage, Err: fmt.Errorf("%s: layout: %v", path, err)}
		}
	}
	done := wrote(fl.out)
	if fl.out.output == "" && isTerminal(cmd.OutOrStdout()) {
		// 30 KB of HTML on a screen helps no one: the page goes to a file
		// in the current directory, and the command says which.
		fl.out.output = terminalReportFile
		done = "wrote " + terminalReportFile + " (standard output is a terminal; -o FILE to name it)"
	}
	in := html.Input{Analysis: res, Layout: lay, Run: run, RunFile: fl.runFile, Budget: fl.budget, Version: version(), Output: fl.out.output,
		FirmwareRun: fwRun, Injection: inj, InjectFile: fl.injectFile}
	if err := fl.out.emit(cmd.OutOrStdout(), func(w io.Writer) error { return html.Write(w, in) }); err != nil {
		return err
	}
	var whys []string
	if overBudget(res, cfg, fl.budget, false) {
		whys = budgetWhys(res, cfg, fl.budget, false)
	}
	if lay != nil && lay.Failing() {
		whys = append(whys, layoutWhys(lay)...)
	}
	if len(whys) > 0 {
		return findingError(done, whys)
	}
	if fl.out.output == terminalReportFile && done != wrote(fl.out) {
		fmt.Fprintf(os.Stderr, "stackscope: %s\n", done)
	}
	return nil
}

// terminalReportFile is where report writes the page when no -o is given
// and standard output is a terminal.
const terminalReportFile = "stack.html"

// readRunRecord reads a `stackscope run --format json -o FILE` record,
// and refuses any other JSON stackscope writes: an analyze report shown as
// a run would read as "no stack problem seen".
func readRunRecord(path string) (*trace.Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, usageErrorf("--run %s: no such file", path)
		}
		return nil, usageErrorf("--run %s: %v", path, errors.Unwrap(err))
	}
	if kind := jsonKind(data); kind != "" && kind != trace.KindRun {
		return nil, usageErrorf("--run %s: %s, not a run record (write one with stackscope run --format json -o FILE)", path, kindText(kind))
	}
	var r trace.Result
	if err := json.Unmarshal(data, &r); err != nil || r.Threads == nil {
		why := "no \"threads\""
		if err != nil {
			why = err.Error()
		}
		return nil, usageErrorf("--run %s: not a record of stackscope run --format json: %s", path, why)
	}
	return &r, nil
}

// checkRunProgram warns on stderr when a record (given by flag) is of
// another program than the report's file, as otherProgram's why says;
// with --strict it refuses (exit 2).
func checkRunProgram(flag, file, why string, strict bool) error {
	if why == "" {
		return nil
	}
	if strict {
		return usageErrorf("%s %s: %s (--strict)", flag, file, why)
	}
	fmt.Fprintf(os.Stderr, "stackscope: warning: %s %s: %s\n", flag, file, why)
	return nil
}
