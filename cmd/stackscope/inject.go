package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/emu"
	"github.com/stackscope/stackscope/internal/size"
)

func init() { subcommands = append(subcommands, newInjectCommand) }

type injectFlags struct {
	stack      int64
	at         string
	safe       string
	machine    string
	timeout    time.Duration
	configPath string
	ld         string
	out        outputFlags
}

func newInjectCommand() *cobra.Command {
	var fl injectFlags
	cmd := &cobra.Command{
		Use:   "inject [flags] FIRMWARE.elf",
		Short: "Overflow a firmware's main stack in QEMU on purpose and report what it corrupts and what the fault handler does",
		Long: `inject runs Cortex-M firmware in QEMU (qemu-system-arm) with its main stack
overflowing on purpose, and answers in order: what the overflow wrote
below the stack limit (the first store: PC, function and line, SP; then
every object written), whether a fault was taken (which, with CFSR, HFSR,
MMFAR and BFAR decoded), what happened next (a safe end: a system reset,
a semihosting exit or --safe FUNCTION; an endless loop; a lockup; or the
program ran on), and the verdict beside layout's static prediction.

Fire with one of:
  --stack BYTES   the main stack that small: the initial SP is lowered to
                  the limit plus BYTES; the limit stays where the image put
                  it, so the stack overflows as a too-small stack section
                  would (writes are watched from main on)
  --at FUNCTION   when FUNCTION is first entered, SP is moved 8 bytes above
                  the limit (the debugger method); when it returns at that
                  depth SP is put back for its caller

Where the memory below the limit is not memory on the part (a stack at the
start of RAM), QEMU would let the writes through: stackscope programs an
MPU region with no access there first, so the overflow faults as it would
on the part (see docs/inject.md for how this differs).

Verdicts: CONTAINED (detected, and the handler reached a safe end without
the overflowed stack), SILENT CORRUPTION (objects overwritten, the program
ran on), LOCKUP, HANG, UNDETECTED OVERFLOW (only unused memory written,
nothing noticed), NO OVERFLOW (nothing written below the limit).

Exit status: 0 CONTAINED; 1 any other verdict; 2 usage or input error
(a stack size larger than RAM, an --at function that does not exist or is
never reached).`,
		Args: needArgs(1, 1, "give the firmware ELF file"),
		RunE: func(c *cobra.Command, args []string) error {
			return runInject(args[0], fl)
		},
	}
	f := cmd.Flags()
	size.Var(f, &fl.stack, "stack", "run with a main stack of `SIZE` bytes (the initial SP lowered)")
	f.StringVar(&fl.at, "at", "", "when `FUNCTION` is entered, move SP to just above the stack limit (the debugger method)")
	f.StringVar(&fl.safe, "safe", "", "count reaching `FUNCTION` (assert_failed, a reset routine) as a safe end")
	f.StringVar(&fl.machine, "machine", "", "the QEMU board (default: one whose memory holds the image)")
	f.DurationVar(&fl.timeout, "timeout", 20*time.Second, "wall-clock limit of the run")
	f.StringVar(&fl.configPath, "config", "", "annotations and [memory] (default: stackscope.toml beside the ELF)")
	f.StringVar(&fl.ld, "ld", "", "the linker script whose MEMORY regions are the memory map (as layout --ld)")
	fl.out.register(f, []string{"text", "json"}, "report format: text or json")
	return cmd
}

func runInject(path string, fl injectFlags) error {
	if err := fl.out.check(); err != nil {
		return err
	}
	if (fl.stack > 0) == (fl.at != "") {
		return usageErrorf("inject %s: give one of --stack BYTES or --at FUNCTION", path)
	}
	if _, err := firmwareTarget(path, "inject"); err != nil {
		return err
	}
	cfg, err := config.Load(fl.configPath, path)
	if err != nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	mem, err := memoryMap(fl.ld, cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// No -icount: QEMU 7.2 aborts when a watchpoint hits under it.
	r, err := emu.Inject(ctx, path, emu.InjectOptions{Machine: fl.machine, Stack: fl.stack, At: fl.at, Safe: fl.safe,
		Timeout: fl.timeout, ICount: -1, Output: os.Stdout, Analysis: analysis.Options{Config: cfg}, Memory: mem})
	if err != nil {
		if errors.Is(err, emu.ErrInterrupted) {
			return &exitError{Code: 130, Err: fmt.Errorf("%s: %v", path, err)}
		}
		var ie *emu.InputError
		var be *binfile.InputError
		if errors.As(err, &ie) || errors.As(err, &be) || errors.Is(err, emu.ErrNoQEMU) {
			return &exitError{Code: exitUsage, Err: err}
		}
		return &exitError{Code: exitUsage, Err: fmt.Errorf("%s: %v", path, err)}
	}
	r.Version = version()
	err = fl.out.emit(os.Stderr, func(w io.Writer) error {
		if fl.out.format == "json" {
			return r.WriteJSON(w)
		}
		r.WriteText(w)
		return nil
	})
	if err != nil {
		return err
	}
	if code := r.ExitStatus(); code != 0 {
		return &exitError{Code: code}
	}
	return nil
}
