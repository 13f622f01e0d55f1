package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/spf13/cobra"
	"github.com/stackscope/stackscope/internal/trace"
)

func init() { subcommands = append(subcommands, newRunCommand) }

type runFlags struct {
	out      outputFlags
	jsonPath string // --json FILE, the old spelling of --format json -o FILE
	noScan   bool
	fw       firmwareFlags // FIRMWARE.elf in the emulator (firmware.go)
}

func newRunCommand() *cobra.Command {
	var fl runFlags
	cmd := &cobra.Command{
		Use:   "run [flags] -- PROG [ARGS...] | run [flags] FIRMWARE.elf",
		Short: "Run a program under ptrace, or firmware in QEMU: every stack's peak use, and the class of any crash",
		Long: `run starts PROG under ptrace and follows every thread and child process.
It measures each thread's peak stack use and classifies a crash as a stack
overflow, a stack buffer overrun (stack protector, _FORTIFY_SOURCE,
AddressSanitizer) or something else, with a symbolized backtrace.

PROG's stdin, stdout, stderr, environment and signals pass through
unchanged (an AddressSanitizer program alone gets detect_leaks=0 added to
ASAN_OPTIONS: LeakSanitizer cannot work under a tracer), and stackscope
exits with PROG's status (128+N when PROG was killed by signal N).
Standard output belongs to PROG: the report goes to standard error after
PROG ends, or with -o FILE to FILE only. --format json needs -o.

Exit status: PROG's; 126/127 when PROG cannot be executed or is not found;
2 for a usage error or a report that cannot be written.

A bare-metal ARM firmware (an ARM ELF with a vector table and no program
interpreter) runs in QEMU (qemu-system-arm) instead: the main stack is
painted before the first instruction, the run ends on a semihosting exit,
--until FUNCTION, --timeout, an endless loop, a HardFault handler that
loops, a lockup or Ctrl-C, and the measured peak is set beside the static
bound. The UART goes to standard output, the report to standard error (or
-o FILE). Exit status: the firmware's semihosting status when non-zero;
else 1 when a stack overflowed or a peak exceeds its static bound; 2 for
an input error (a file that is not firmware, one that fits no board, QEMU
missing).`,
		Args: needArgs(1, -1, "give the program to run after --"),
		RunE: func(c *cobra.Command, args []string) error {
			if isFW, err := firmwareTarget(args[0], fl.fw.given(c.Flags())); err != nil || isFW {
				if err != nil {
					return err
				}
				return runFirmware(args[0], args[1:], fl)
			}
			return runRun(args, fl)
		},
	}
	f := cmd.Flags()
	fl.out.register(f, []string{"text", "json"}, "report format: text or json (json needs -o FILE)")
	f.Lookup("output").Usage = "write the report to `FILE` instead of standard error"
	f.StringVar(&fl.jsonPath, "json", "", "deprecated: use --format json -o FILE")
	f.MarkHidden("json")
	f.BoolVar(&fl.noScan, "no-stderr-scan", false, "pass PROG's stderr straight through instead of through a forwarding pipe that recognizes crash messages")
	fl.fw.register(f)
	f.SetInterspersed(false)
	return cmd
}

// reportFile is a report file opened before PROG runs, so that a path that
// cannot be written is a usage error before anything ran, not a changed exit
// status after.
type reportFile struct {
	f       *os.File
	path    string
	flag    string
	created bool
}

func openReport(flag, path string) (*reportFile, error) {
	_, statErr := os.Stat(path)
	// Not truncated yet: a run that cannot start leaves an existing file
	// as it was.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, usageErrorf("%s %s: %v", flag, path, pathless(err))
	}
	return &reportFile{f: f, path: path, flag: flag, created: statErr != nil}, nil
}

// discard closes the file, and removes it when it was made for nothing.
func (r *reportFile) discard() {
	if r == nil {
		return
	}
	r.f.Close()
	if r.created {
		os.Remove(r.path)
	}
}

func (r *reportFile) write(render func(io.Writer) error) error {
	werr := r.f.Truncate(0)
	if werr == nil {
		werr = render(r.f)
	}
	if cerr := r.f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return &exitError{Code: exitUsage, Err: fmt.Errorf("%s %s: %v", r.flag, r.path, werr)}
	}
	return nil
}

func runRun(args []string, fl runFlags) error {
	if err := fl.out.check(); err != nil {
		return err
	}
	if fl.out.format == "json" && fl.out.output == "" {
		return usageErrorf("run --format json needs -o FILE: standard output belongs to the program")
	}
	if err := checkOutputName("--json", fl.jsonPath); err != nil {
		return err
	}
	if fl.jsonPath != "" {
		deprecated("run --json FILE", "--format json -o FILE")
	}
	prog := args[0]
	path, err := exec.LookPath(prog)
	if err != nil {
		st, serr := os.Stat(prog)
		switch {
		case errors.Is(err, exec.ErrNotFound) || (serr != nil && os.IsNotExist(serr)):
			fmt.Fprintf(os.Stderr, "stackscope: %s: command not found\n", prog)
			return &exitError{Code: 127}
		case serr == nil && st.IsDir():
			fmt.Fprintf(os.Stderr, "stackscope: %s: is a directory\n", prog)
			return &exitError{Code: 126}
		default:
			fmt.Fprintf(os.Stderr, "stackscope: %s: not executable\n", prog)
			return &exitError{Code: 126}
		}
	}
	var out, legacy *reportFile
	if fl.out.output != "" {
		if out, err = openReport("-o", fl.out.output); err != nil {
			return err
		}
	}
	if fl.jsonPath != "" {
		if legacy, err = openReport("--json", fl.jsonPath); err != nil {
			out.discard()
			return err
		}
	}
	res, err := trace.Run(trace.Config{Path: path, Args: args, Env: os.Environ(), ScanStderr: !fl.noScan})
	if err != nil {
		out.discard()
		legacy.discard()
		var se *trace.StartError
		if errors.As(err, &se) {
			return &exitError{Code: se.Code, Err: se.Err}
		}
		return &exitError{Code: exitUsage, Err: err}
	}
	res.StackscopeVersion = version() // in JSON only; the text does not show it
	res.Executable = executableOf(path)
	render := func(w io.Writer) error {
		if fl.out.format == "json" {
			return res.WriteJSON(w)
		}
		res.WriteText(w)
		return nil
	}
	var werr error
	if out == nil {
		render(os.Stderr)
	} else {
		werr = out.write(render)
	}
	if legacy != nil {
		if err := legacy.write(res.WriteJSON); werr == nil {
			werr = err
		}
	}
	if werr != nil {
		return werr
	}
	if res.ExitStatus != 0 {
		return &exitError{Code: res.ExitStatus}
	}
	return nil
}
