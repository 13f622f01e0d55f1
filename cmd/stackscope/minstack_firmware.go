package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/emu"
)

// minstackFirmwareFlags are minstack's flags for firmware in QEMU.
type minstackFirmwareFlags struct {
	machine    string
	until      string
	configPath string
	ld         string
}

func (ff *minstackFirmwareFlags) register(f *pflag.FlagSet) {
	f.StringVar(&ff.machine, "machine", "", "firmware: the QEMU board (default: one whose memory holds the image)")
	f.StringVar(&ff.until, "until", "", "firmware: a run passes when it reaches `FUNCTION` as the full-size run does")
	f.StringVar(&ff.configPath, "config", "", "firmware: annotations and [memory] (default: stackscope.toml beside the ELF)")
	f.StringVar(&ff.ld, "ld", "", "firmware: the linker script whose MEMORY regions are the memory map")
}

// minstackFirmware runs `minstack FIRMWARE.elf` when the one argument is
// Cortex-M firmware; handled is false for anything else (the Linux path).
func minstackFirmware(c *cobra.Command, args []string, fl minstackFlags) (handled bool, err error) {
	if ok, err := firmwareTarget(args[0], ""); err != nil || !ok {
		return false, nil
	}
	if len(args) > 1 {
		return true, usageErrorf("minstack %s: firmware takes no arguments (%v); put flags before the file", args[0], args[1:])
	}
	path := args[0]
	cfg, err := config.Load(fl.fw.configPath, path)
	if err != nil {
		return true, &exitError{Code: exitUsage, Err: err}
	}
	mem, err := memoryMap(fl.fw.ld, cfg)
	if err != nil {
		return true, err
	}
	timeout := fl.timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := emu.MinStack(ctx, path, emu.MinStackOptions{Machine: fl.fw.machine, Until: fl.fw.until, Timeout: timeout,
		Analysis: analysis.Options{Config: cfg}, Memory: mem})
	if err != nil {
		if errors.Is(err, emu.ErrInterrupted) {
			return true, &exitError{Code: 130, Err: fmt.Errorf("%s: %v", path, err)}
		}
		var ie *emu.InputError
		var be *binfile.InputError
		if errors.As(err, &ie) || errors.As(err, &be) || errors.Is(err, emu.ErrNoQEMU) {
			return true, &exitError{Code: exitUsage, Err: err}
		}
		return true, &exitError{Code: exitUsage, Err: fmt.Errorf("%s: %v", path, err)}
	}
	r.Version = version()
	err = fl.out.emit(os.Stdout, func(w io.Writer) error {
		if fl.out.format == "json" {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		}
		r.WriteText(w)
		return nil
	})
	if err != nil {
		return true, err
	}
	if code := r.ExitStatus(); code != 0 {
		return true, &exitError{Code: code}
	}
	return true, nil
}
