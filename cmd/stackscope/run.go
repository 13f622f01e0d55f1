package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/spf13/cobra"
	"github.com/stackscope/stackscope/internal/trace"
)

func init() { subcommands = append(subcommands, newRunCommand) }

func newRunCommand() *cobra.Command {
	var jsonPath string
	var noScan bool
	cmd := &cobra.Command{
		Use:   "run [--json FILE] -- PROG [ARGS...]",
		Short: "Run a program under ptrace: every thread's stack, its peak use, and the class of any crash",
		Long: `run starts PROG under ptrace and follows every thread and child process.
It measures each thread's peak stack use and classifies a crash as a stack
overflow, a stack buffer overrun (stack protector, _FORTIFY_SOURCE,
AddressSanitizer) or something else, with a symbolized backtrace.

PROG's stdin, stdout, stderr, environment and signals pass through; the report
goes to stderr after PROG ends, and stackscope exits with PROG's status
(128+N when PROG was killed by signal N). GLIBC_TUNABLES gets
glibc.pthread.stack_cache_size=0 so that reused thread stacks do not hide use.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runRun(args, jsonPath, !noScan)
		},
	}
	cmd.Flags().StringVar(&jsonPath, "json", "", "also write the result as JSON to `FILE`")
	cmd.Flags().BoolVar(&noScan, "no-stderr-scan", false, "pass PROG's stderr straight through instead of through a forwarding pipe that recognises crash messages")
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func runRun(args []string, jsonPath string, scan bool) error {
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
	res, err := trace.Run(trace.Config{Path: path, Args: args, Env: os.Environ(), ScanStderr: scan})
	if err != nil {
		var se *trace.StartError
		if errors.As(err, &se) {
			return &exitError{Code: se.Code, Err: se.Err}
		}
		return &exitError{Code: exitUsage, Err: err}
	}
	res.WriteText(os.Stderr)
	if jsonPath != "" {
		f, err := os.Create(jsonPath)
		if err != nil {
			return &exitError{Code: exitUsage, Err: fmt.Errorf("--json: %v", err)}
		}
		werr := res.WriteJSON(f)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return &exitError{Code: exitUsage, Err: fmt.Errorf("--json: %v", werr)}
		}
	}
	if res.ExitStatus != 0 {
		return &exitError{Code: res.ExitStatus}
	}
	return nil
}
