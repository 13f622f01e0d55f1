package main

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/emu"
)

// firmwareFlags are run's flags for firmware in the emulator.
type firmwareFlags struct {
	machine    string
	until      string
	timeout    time.Duration
	icount     string
	configPath string
	ld         string
	deepest    bool
}

func (ff *firmwareFlags) register(f *pflag.FlagSet) {
	f.StringVar(&ff.machine, "machine", "", "firmware: the QEMU board to run it on (default: one whose memory holds the image)")
	f.StringVar(&ff.until, "until", "", "firmware: stop when the core reaches this `FUNCTION`")
	f.DurationVar(&ff.timeout, "timeout", 60*time.Second, "firmware: wall-clock limit of the run")
	f.StringVar(&ff.icount, "icount", strconv.Itoa(emu.DefaultICount), "firmware: QEMU -icount `SHIFT` (a virtual ns per 2^SHIFT instructions: repeatable runs), or off")
	f.StringVar(&ff.configPath, "config", "", "firmware: annotations and [memory] (default: stackscope.toml beside the ELF)")
	// Off by default: the ratchet's run costs about 8 times a plain one
	// (QEMU's watchpoints slow every access near the stack's deepest
	// point), and the peaks and verdict do not depend on it.
	f.BoolVar(&ff.deepest, "deepest", false, "firmware: a second run with a write-watchpoint ratchet that records the path to each stack's deepest point (about 8x slower)")
	f.StringVar(&ff.ld, "ld", "", "firmware: the linker script whose MEMORY regions are the memory map (as layout --ld)")
}

// given reports whether a firmware-only flag was set (a Linux program
// given one is a usage error).
func (ff *firmwareFlags) given(f *pflag.FlagSet) string {
	for _, n := range []string{"machine", "until", "timeout", "icount", "config", "ld", "deepest"} {
		if f.Changed(n) {
			return "--" + n
		}
	}
	return ""
}

// firmwareTarget decides whether run's argument is firmware for the
// emulator: an ELF file for ARM, or a RISC-V one without a program
// interpreter (riscvFirmwareTarget). It returns "" when it is not an ELF file
// for ARM (the Linux path takes it), and an error when it is one that is
// not bare-metal firmware, or when firmware flags were given for something
// that is not firmware.
func firmwareTarget(path string, flag string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		if flag != "" {
			if _, serr := os.Stat(path); serr != nil {
				return false, usageErrorf("%s: %v", path, pathless(serr))
			}
			return false, usageErrorf("%s: not an ELF file, and %s is for firmware run in the emulator", path, flag)
		}
		return false, nil
	}
	machine := f.Machine
	f.Close()
	if machine == elf.EM_RISCV {
		return riscvFirmwareTarget(path, flag)
	}
	if machine != elf.EM_ARM {
		if flag != "" {
			return false, usageErrorf("%s: a %s program, not ARM firmware (%s is for firmware run in the emulator)", path, elfMachine(machine), flag)
		}
		if err := foreignProgram(path, machine); err != nil {
			return false, err
		}
		return false, nil
	}
	bf, err := binfile.Open(path)
	if err != nil {
		return false, &exitError{Code: exitUsage, Err: err}
	}
	defer bf.Close()
	if ok, why := emu.IsFirmware(bf); !ok {
		return false, usageErrorf("%s: %s", path, why)
	}
	return true, nil
}

// riscvFirmwareTarget: a RISC-V ELF file without a program interpreter
// is firmware for QEMU's virt machine (whether it fits is the emulator's
// one-line answer); one with an interpreter is a Linux program, run
// natively on a RISC-V host and refused elsewhere.
func riscvFirmwareTarget(path, flag string) (bool, error) {
	bf, err := binfile.Open(path)
	if err != nil {
		return false, &exitError{Code: exitUsage, Err: err}
	}
	ok, why := emu.IsFirmware(bf)
	bf.Close()
	if ok {
		return true, nil
	}
	if flag == "" {
		if err := foreignProgram(path, elf.EM_RISCV); err != nil {
			return false, err
		}
		return false, nil
	}
	return false, usageErrorf("%s: %s (%s is for firmware run in the emulator)", path, why, flag)
}

func elfMachine(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "x86-64"
	case elf.EM_AARCH64:
		return "AArch64"
	case elf.EM_RISCV:
		return "RISC-V"
	case elf.EM_386:
		return "x86"
	}
	return m.String()
}

// nativeMachines are the ELF machines this build of stackscope can run
// under ptrace: its own, and 32-bit x86 on x86-64 (the kernel runs it).
var nativeMachines = map[string][]elf.Machine{
	"amd64":   {elf.EM_X86_64, elf.EM_386},
	"386":     {elf.EM_386},
	"arm64":   {elf.EM_AARCH64},
	"riscv64": {elf.EM_RISCV},
}

// foreignProgram refuses, with one line, an ELF file for another
// architecture: the kernel would only say "exec format error", and a
// RISC-V firmware image in the current directory would otherwise come
// out as "command not found".
func foreignProgram(path string, m elf.Machine) error {
	for _, n := range nativeMachines[runtime.GOARCH] {
		if m == n {
			return nil
		}
	}
	if m == elf.EM_RISCV {
		return usageErrorf("%s: a RISC-V Linux program: run executes programs of this machine (%s), and Cortex-M or RISC-V firmware in QEMU; `stackscope analyze %s` works on it", path, runtime.GOARCH, path)
	}
	return usageErrorf("%s: %s program: run needs a machine that executes it natively (this one is %s); `stackscope analyze %s` works on it", path, article(elfMachine(m)), runtime.GOARCH, path)
}

// article puts "a" or "an" before a machine's name.
func article(name string) string {
	if name != "" && strings.ContainsRune("AEIOUaeiou", rune(name[0])) {
		return "an " + name
	}
	return "a " + name
}

// runFirmware is `stackscope run FIRMWARE.elf`: the firmware in QEMU, its
// stacks painted and measured, beside the static bounds.
func runFirmware(path string, extra []string, fl runFlags) error {
	if len(extra) > 0 {
		return usageErrorf("run %s: firmware takes no arguments (%v); put flags before the file", path, extra)
	}
	ff := fl.fw
	icount := emu.DefaultICount
	switch ff.icount {
	case "off":
		icount = -1
	default:
		n, err := strconv.Atoi(ff.icount)
		if err != nil || n < 0 || n > 10 {
			return usageErrorf("--icount %q: a shift from 0 to 10, or off", ff.icount)
		}
		icount = n
	}
	cfg, err := config.Load(ff.configPath, path)
	if err != nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	mem, err := memoryMap(ff.ld, cfg)
	if err != nil {
		return err
	}
	var out *reportFile
	if fl.out.output != "" {
		if out, err = openReport("-o", fl.out.output); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := emu.RunFirmware(ctx, path, emu.Options{Machine: ff.machine, Until: ff.until, Timeout: ff.timeout,
		ICount: icount, NoRatchet: !ff.deepest, Output: os.Stdout, Analysis: analysis.Options{Config: cfg}, Memory: mem})
	if err != nil {
		out.discard()
		var ie *emu.InputError
		var be *binfile.InputError
		if errors.As(err, &ie) || errors.As(err, &be) || errors.Is(err, emu.ErrNoQEMU) {
			return &exitError{Code: exitUsage, Err: err}
		}
		return &exitError{Code: exitUsage, Err: fmt.Errorf("%s: %v", path, err)}
	}
	res.Version = version()
	res.Executable = executableOf(path)
	render := func(w io.Writer) error {
		if fl.out.format == "json" {
			return res.WriteJSON(w)
		}
		res.WriteText(w)
		return nil
	}
	if out == nil {
		render(os.Stderr)
	} else if err := out.write(render); err != nil {
		return err
	}
	if code := res.ExitStatus(); code != 0 {
		return &exitError{Code: code}
	}
	return nil
}
