package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/layout"
	"github.com/stackscope/stackscope/internal/ldscript"
	"github.com/stackscope/stackscope/internal/report"
	"github.com/stackscope/stackscope/internal/report/sarif"
)

func init() { subcommands = append(subcommands, newLayoutCommand) }

type layoutFlags struct {
	out        outputFlags
	svg        string
	noHeadroom bool
	ld         string
	configPath string
	exclude    []string
}

func newLayoutCommand() *cobra.Command {
	var fl layoutFlags
	cmd := &cobra.Command{
		Use:   "layout [flags] FIRMWARE.elf",
		Short: "Show the memory map and what a stack overflow would run into",
		Long: `layout reads a firmware image's memory map from its ELF file, finds the
main stack (its top from the initial SP, its limit from linker symbols), and
says what an overflow of it runs into: unused RAM, the heap, .bss, .data.
A stack placed first in RAM is safe (an overflow runs off the start of RAM
and faults); anywhere else it is unsafe, and layout prints the linker-script
fix. SAFE needs the memory map (--ld FILE.ld, or [memory] in
stackscope.toml): an ELF file does not say where RAM begins, so without it
the verdict is UNSAFE or UNKNOWN. It also gives the headroom (stack size
minus the worst case that analyze computes) and checks the fault handlers:
stack use before an SP check, and endless loops.

For RISC-V firmware the stack's top is what the reset code loads into SP
(la sp, __stack); the fault-handler checks do not apply (NOT CHECKED).
For an x86-64 program it shows the load segments and gives no verdict
(process stacks are guarded by the kernel).

Exit status: 0 safe (or no verdict), 1 unsafe, unknown (not proved: give
the memory map) or the stack will overflow, 2 usage or input error.`,
		Args: needArgs(1, 1, "give the FIRMWARE.elf file"),
		RunE: func(cmd *cobra.Command, args []string) error { return runLayout(cmd, args[0], fl) },
	}
	f := cmd.Flags()
	fl.out.register(f, []string{"text", "json", "sarif"}, "output format: text, json or sarif")
	f.StringVar(&fl.svg, "svg", "", "also draw the memory map as an SVG picture into this file")
	f.BoolVar(&fl.noHeadroom, "no-headroom", false, "skip the stack analysis (headroom unknown)")
	f.StringVar(&fl.ld, "ld", "", "the linker script whose MEMORY regions are the memory map (needed for a SAFE verdict)")
	f.StringVar(&fl.configPath, "config", "", "annotations and [memory] (default: stackscope.toml beside the binary or in the working directory)")
	f.StringArrayVar(&fl.exclude, "exclude", nil, "for the headroom: set aside every path through this function, as analyze --exclude (repeatable)")
	return cmd
}

// memoryMap is the memory map from --ld, else from the configuration's
// [memory] (its ld file or its regions); nil when neither gives one.
func memoryMap(ld string, cfg *config.Config) (*layout.MemoryMap, error) {
	from := ""
	switch {
	case ld != "":
		from = ld + " (--ld)"
	case cfg.Memory.LD != "":
		ld, from = cfg.Memory.LD, cfg.Memory.LD+" ([memory] ld in "+cfg.Path+")"
	case len(cfg.Memory.Parsed) > 0:
		return &layout.MemoryMap{From: "[memory] in " + cfg.Path, Regions: cfg.Memory.Parsed}, nil
	default:
		return nil, nil
	}
	regions, err := ldscript.ParseFile(ld)
	if err != nil {
		return nil, &exitError{Code: exitUsage, Err: err}
	}
	return &layout.MemoryMap{From: from, Regions: regions, File: ld}, nil
}

func runLayout(cmd *cobra.Command, path string, fl layoutFlags) error {
	if err := fl.out.check(); err != nil {
		return err
	}
	if err := checkOutputName("--svg", fl.svg); err != nil {
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
	r, err := layout.Analyze(path, layout.Options{NoHeadroom: fl.noHeadroom, Memory: mem, Analysis: analysis.Options{Config: cfg, Exclude: fl.exclude}})
	if err != nil {
		var ie *binfile.InputError
		if errors.As(err, &ie) {
			return &exitError{Code: exitUsage, Err: ie}
		}
		return &exitError{Code: exitUsage, Err: fmt.Errorf("%s: %v", path, err)}
	}
	// The picture first: a reader that closes stdout early (| head) must
	// not cost the file.
	if fl.svg != "" {
		if err := os.WriteFile(fl.svg, []byte(report.LayoutSVG(r)), 0o644); err != nil {
			return &exitError{Code: exitUsage, Err: fmt.Errorf("--svg: %v", err)}
		}
	}
	err = fl.out.emit(cmd.OutOrStdout(), func(out io.Writer) error {
		switch fl.out.format {
		case "json":
			r.StackscopeVersion = version()
			return report.LayoutJSON(out, r)
		case "sarif":
			return sarif.Write(out, sarif.Input{Layouts: []*layout.Report{r}, Version: version()})
		}
		report.LayoutText(out, r)
		return nil
	})
	if err != nil {
		return err
	}
	if r.Failing() {
		return findingError(wrote(fl.out), layoutWhys(r))
	}
	return nil
}
