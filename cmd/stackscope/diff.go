package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stackscope/stackscope/internal/size"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/diff"
	"github.com/stackscope/stackscope/internal/report"
)

func init() { subcommands = append(subcommands, newDiffCommand) }

type diffFlags struct {
	analysisFlags
	out       outputFlags
	maxGrowth string
	top       int
}

func newDiffCommand() *cobra.Command {
	var fl diffFlags
	cmd := &cobra.Command{
		Use:   "diff [flags] OLD NEW",
		Short: "Compare the stack bounds of two builds: what grew, what shrank, and why",
		Long: `diff compares two analyses of one program: OLD and NEW are each an ELF
file (analyzed as analyze would, with the same flags) or a JSON report
written by "stackscope analyze --format json". For every entry it gives the
old and new bound and why it changed: a frame on the worst path that grew
or shrank, a callee that joined or left the worst path, a new reason the
entry has no bound. Then the frames that changed, and the functions added
and removed.

Exit status: 0, or 1 with --max-growth when an entry grew by more than it
(bytes, or a percentage of the old bound such as 10%) or lost its bound,
2 usage or input error.`,
		Args: needArgs(2, 2, "give the OLD and the NEW build (ELF files or analyze JSON)"),
		RunE: func(cmd *cobra.Command, args []string) error { return runDiff(cmd, args[0], args[1], fl) },
	}
	f := cmd.Flags()
	fl.out.register(f, []string{"text", "json"}, "output format: text or json")
	size.Mark(f, f.VarPF(growthFlag{&fl.maxGrowth}, "max-growth", "", "exit 1 when an entry grows by more than this `SIZE` (512, 2K) or percentage (10%), or loses its bound"))
	f.IntVar(&fl.top, "top", 10, "number of changed frames and causes to list")
	fl.analysisFlags.register(f) // for ELF inputs
	return cmd
}

func runDiff(cmd *cobra.Command, oldPath, newPath string, fl diffFlags) error {
	if err := fl.out.check(); err != nil {
		return err
	}
	if fl.top < 0 {
		return usageErrorf("--top must be 0 or more")
	}
	var limit *diff.Threshold
	if fl.maxGrowth != "" {
		t, err := parseGrowth(fl.maxGrowth)
		if err != nil {
			return usageErrorf("--max-growth %q: %v", fl.maxGrowth, err)
		}
		limit = &t
	}
	fl.libs = fl.libraryCache().ForMany() // both sides share the libraries
	defer fl.flushCache()
	oldRes, err := loadSide(oldPath, fl)
	if err != nil {
		return err
	}
	newRes, err := loadSide(newPath, fl)
	if err != nil {
		return err
	}
	if fl.ownCode {
		// Each entry's own-code bound is compared as an entry of its own.
		oldRes.Entries = append(oldRes.Entries, oldRes.OwnCodeEntries()...)
		newRes.Entries = append(newRes.Entries, newRes.OwnCodeEntries()...)
	}
	d := diff.Compare(oldRes, newRes)
	var over []diff.EntryChange
	if limit != nil {
		over = d.Exceeded(*limit)
	}
	err = fl.out.emit(cmd.OutOrStdout(), func(out io.Writer) error {
		if fl.out.format == "json" {
			d.StackscopeVersion = version()
			return report.DiffJSON(out, d)
		}
		report.DiffText(out, d, fl.top)
		if len(over) > 0 {
			fmt.Fprintf(out, "\nFAIL: over --max-growth %s: %s\n", fl.maxGrowth, overText(over, fl.top))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(over) > 0 {
		return findingError(wrote(fl.out), diffWhys(over, fl.maxGrowth, fl.top))
	}
	return nil
}

// overText names the entries over the limit: "main (+496 B, +3%), cb (lost its bound)".
func overText(over []diff.EntryChange, top int) string {
	var parts []string
	for i, e := range over {
		if i == top {
			parts = append(parts, fmt.Sprintf("and %d more", len(over)-i))
			break
		}
		if e.Status == diff.BecameUnbounded {
			parts = append(parts, e.Name+" (lost its bound)")
			continue
		}
		growth := "+" + report.Bytes(e.Delta)
		if e.Percent != nil {
			growth += ", " + report.Percent(*e.Percent)
		}
		parts = append(parts, e.Name+" ("+growth+")")
	}
	return strings.Join(parts, ", ")
}

// parseGrowth reads "512" (bytes) or "10%" (percent of the old bound).
func parseGrowth(s string) (diff.Threshold, error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 {
			return diff.Threshold{}, errors.New("want a number of bytes or a percentage such as 10%")
		}
		return diff.Threshold{Percent: v, IsPct: true}, nil
	}
	v, err := size.Parse(s) // 0 is meaningful: no growth at all
	if err != nil {
		return diff.Threshold{}, fmt.Errorf("%w; or a percentage such as 10%%", err)
	}
	return diff.Threshold{Bytes: v}, nil
}

// growthFlag is --max-growth: checked when given, through parseGrowth (so
// its size part through the one size parser); kept as written for the
// FAIL line.
type growthFlag struct{ text *string }

func (g growthFlag) Set(s string) error {
	if _, err := parseGrowth(s); err != nil {
		return err
	}
	*g.text = s
	return nil
}
func (g growthFlag) String() string {
	if g.text == nil {
		return ""
	}
	return *g.text
}
func (g growthFlag) Type() string { return "size|N%" }

// loadSide reads one side: a JSON report (by its first byte) or an ELF
// file to analyse.
func loadSide(path string, fl diffFlags) (*analysis.Result, error) {
	head := make([]byte, 64)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &exitError{Code: exitUsage, Err: fmt.Errorf("%s: no such file", path)}
		}
		return nil, &exitError{Code: exitUsage, Err: fmt.Errorf("%s: %v", path, errors.Unwrap(err))}
	}
	n, _ := io.ReadFull(f, head)
	f.Close()
	head = bytes.TrimLeft(head[:n], " \t\r\n")
	if len(head) > 0 && (head[0] == '{' || head[0] == '[') {
		return loadJSONReport(path)
	}
	res, _, _, err := fl.analyse(path)
	if ee, ok := err.(*exitError); ok {
		// Neither ELF nor JSON: say what diff takes.
		return nil, &exitError{Code: ee.Code, Err: fmt.Errorf("%v (want an ELF file or a JSON report of stackscope analyze)", ee.Err)}
	}
	return res, err
}

// loadJSONReport reads `stackscope analyze --format json` output: an object
// for one file, or an array with exactly one.
func loadJSONReport(path string) (*analysis.Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &exitError{Code: exitUsage, Err: fmt.Errorf("%s: %v", path, err)}
	}
	bad := func(why string) error {
		return &exitError{Code: exitUsage, Err: fmt.Errorf("%s: not a stackscope analyze JSON report: %s", path, why)}
	}
	if kind := jsonKind(data); kind != "" && kind != "analyze" {
		return nil, bad("it is " + kindText(kind) + "; diff compares two ELF files or two JSON reports of stackscope analyze")
	}
	var res analysis.Result
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var list []analysis.Result
		if err := json.Unmarshal(trimmed, &list); err != nil {
			return nil, bad(err.Error())
		}
		if len(list) != 1 {
			return nil, bad(fmt.Sprintf("it holds %d files; diff compares one with one", len(list)))
		}
		res = list[0]
	} else if err := json.Unmarshal(trimmed, &res); err != nil {
		return nil, bad(err.Error())
	}
	if res.Binary == "" || res.Entries == nil {
		return nil, bad(`no "binary" or "entries"`)
	}
	return &res, nil
}
