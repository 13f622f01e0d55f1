// Command stackscope finds stack overflows and stack buffer overruns in C, C++
// and Rust programs and firmware: statically from the ELF file (analyze,
// layout) and at run time under ptrace (run, minstack).
//
// Exit codes: 0 all good; 1 a finding (budget exceeded, an entry not bounded,
// an unsafe layout); 2 a usage or input error. `run` passes the program's own
// exit status through (128+N when it was killed by signal N).
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Exit codes, documented in the README.
const (
	exitOK      = 0
	exitFinding = 1
	exitUsage   = 2
)

// exitError carries an exit code out of a subcommand. A nil Err means the
// subcommand already printed what it had to say.
type exitError struct {
	Code int
	Err  error
}

func (e *exitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// usageErrorf is an input or usage problem: one line, exit 2.
func usageErrorf(format string, args ...any) error {
	return &exitError{Code: exitUsage, Err: fmt.Errorf(format, args...)}
}

// subcommands register themselves here from their own files.
var subcommands []func() *cobra.Command

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "stackscope",
		Short: "Find stack overflows and stack buffer overruns in programs and firmware",
		Long: `stackscope bounds the stack a program or firmware image can use, from the
ELF file alone, checks where a stack overflow would land, explains stack
crashes of running Linux programs, and runs Cortex-M firmware in QEMU to
measure every stack and to overflow one on purpose.

Exit status: 0 all good, 1 a finding (budget exceeded, entry not bounded,
unsafe layout), 2 usage or input error; run passes the program's status through.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	setVersionFlag(root)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{Code: exitUsage, Err: err}
	})
	for _, sub := range subcommands {
		root.AddCommand(sub())
	}
	return root
}

// gcPercent is the collector's percentage (main), also after
// holdFirstCollection. 300, not 400, since node's DWARF and libc's debug
// file are read with far fewer allocations (issue 19, fifteenth pass):
// node's second collection then comes at 440 MB of heap instead of 550
// and is its last; 131,000 page faults instead of 153,000, peak RSS 603
// MiB instead of 688, and 3% less CPU (10 interleaved pairs); libLLVM-15
// and a run over 117 files of /usr/bin the same within the noise.
const gcPercent = 300

func main() {
	// A batch tool that builds one large graph: collect garbage less often
	// (peak memory stays well under 1 GiB on a 28 MB .text, see
	// docs/PERFORMANCE.md).
	debug.SetGCPercent(gcPercent)
	// ... within a soft limit that follows the live heap (memlimit.go).
	softMemoryLimit(768 << 20)
	stopProfiles := startProfiles()
	code := runMain(os.Args[1:])
	stopProfiles()
	os.Exit(code)
}

// runMain runs the command line and turns its outcome into an exit code.
func runMain(args []string) int {
	root := newRootCommand()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(os.Stderr, "stackscope: %v\n", ee.Err)
		}
		return ee.Code
	}
	// Errors from cobra itself (unknown command, bad arguments) are usage errors.
	fmt.Fprintf(os.Stderr, "stackscope: %v\n", err)
	return exitUsage
}
