package main

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/stackscope/stackscope/internal/size"
	"io"

	"github.com/spf13/cobra"
	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/budget"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/layout"
	"github.com/stackscope/stackscope/internal/report"
	"github.com/stackscope/stackscope/internal/report/html"
	"github.com/stackscope/stackscope/internal/report/sarif"
	"github.com/stackscope/stackscope/internal/resultcache"
)

func init() { subcommands = append(subcommands, newAnalyzeCommand) }

type analyzeFlags struct {
	analysisFlags
	out            outputFlags
	budget         int64
	allowUnbounded bool
	top            int
	withLayout     bool
	ld             string
	recursive      bool
	// results is the cache of whole reports (reportcache.go).
	results *resultcache.Cache
}

func newAnalyzeCommand() *cobra.Command {
	var fl analyzeFlags
	cmd := &cobra.Command{
		Use:   "analyze [flags] FILE...",
		Short: "Bound the worst-case stack depth of an ELF program, library or firmware image",
		Long: `analyze reads an ELF file (x86-64 program or shared object, or ARM Cortex-M
firmware), computes every function's stack frame from its machine code, and
bounds the stack each entry point can use, with the worst path. An entry
that reaches recursion, an unresolved indirect call, a dynamic or unknown
frame, or an external function is reported as NOT BOUNDED with every reason.

Exit status: 0 all entries bounded (and within --budget), 1 an entry over
budget or not bounded (with --budget, unless --allow-unbounded), or a thread
or task whose stack certainly overflows, 2 usage or input error.

Several files (or directories with --recursive) are analysed in one
process, each shared library once. The text is then a table, one line per
file: the bound and verdict of main, else of the worst entry. The JSON is an
array of one report per file. A file that cannot be analysed (not ELF,
truncated) is a line of the table ("not analysed: ..."), in JSON an object
with "error": it does not make the run fail (exit 2 is left to usage
errors); the files are analysed on every core. Shared libraries' frames
are kept per build ID under the user cache directory
($XDG_CACHE_HOME/stackscope) for later runs, and so is each report, used
again only when nothing that made it changed (the program's and its
libraries' bytes, their debug files, the configuration, the flags);
entries unused for 30 days are removed. --no-cache neither reads nor
writes it.`,
		Args: needArgs(1, -1, "give the ELF FILE to analyze"),
		RunE: func(cmd *cobra.Command, args []string) error { return runAnalyze(cmd, args, fl) },
	}
	f := cmd.Flags()
	fl.out.register(f, []string{"text", "json", "sarif", "html", "dot"}, "output format: text, json, sarif (SARIF 2.1.0 for code scanning), html (one self-contained page, one FILE; see also stackscope report), or dot (Graphviz call graph, one FILE)")
	size.Var(f, &fl.budget, "budget", "stack budget, as `SIZE` (4096, 4K, 64KiB, 1M): exit 1 when an entry's bound exceeds it or is not bounded")
	f.BoolVar(&fl.allowUnbounded, "allow-unbounded", false, "with --budget, do not fail on entries that are not bounded")
	f.IntVar(&fl.top, "top", 10, "number of largest frames to list")
	f.BoolVar(&fl.withLayout, "with-layout", false, "with --format sarif: add the firmware layout findings (stackscope layout's SS101-SS105) to the log, and its verdict to the exit status")
	f.StringVar(&fl.ld, "ld", "", "with --with-layout: the linker script whose MEMORY regions are the memory map; the placement result points at its line")
	f.BoolVarP(&fl.recursive, "recursive", "r", false, "analyse every file below the directories given (each a line of the table; files that are not ELF say so)")
	fl.analysisFlags.register(f)
	return cmd
}

func runAnalyze(cmd *cobra.Command, files []string, fl analyzeFlags) error {
	if err := fl.out.check(); err != nil {
		return err
	}
	holdFirstCollection(150<<20, gcPercent) // (memlimit.go)
	files, err := expandFiles(files, fl.recursive)
	if err != nil {
		return err
	}
	if (fl.out.format == "dot" || fl.out.format == "html") && len(files) != 1 {
		return usageErrorf("--format %s takes one FILE", fl.out.format)
	}
	if fl.budget < 0 {
		return usageErrorf("--budget must be a positive number of bytes")
	}
	if fl.top < 0 {
		return usageErrorf("--top must be 0 or more")
	}
	if (len(files) > 1 || fl.recursive) && (fl.out.format == "text" || fl.out.format == "json") && !fl.withLayout && fl.ld == "" {
		return runAnalyzeMany(cmd, files, fl)
	}
	if len(files) == 1 && fl.out.format != "dot" && fl.out.format != "html" && !fl.withLayout && fl.ld == "" {
		return runAnalyzeOne(cmd, files[0], fl)
	}
	defer fl.flushCache()
	var results []*analysis.Result
	budgets := map[*analysis.Result]*config.Config{}
	for _, path := range files {
		res, cfg, _, err := fl.analyse(path)
		if err != nil && len(files) > 1 {
			// Among many files, one that cannot be analysed is a line
			// on stderr, not a failure of the run (as in runAnalyzeMany).
			fmt.Fprintf(cmd.ErrOrStderr(), "stackscope: not analysed: %v\n", err)
			continue
		}
		if err != nil {
			return err
		}
		results = append(results, res)
		budgets[res] = cfg
	}
	layouts, err := analyzeLayouts(fl, results, budgets)
	if err != nil {
		return err
	}
	data, whys, err := renderAnalyses(fl, results, budgets, layouts)
	if err != nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	return emitAnalyses(cmd, fl, data, whys)
}

// overBudget reports a finding (exit status 1): an entry or a firmware
// image's main-stack total over its budget (--budget, else stackscope.toml),
// an entry not bounded unless allowed, or a thread whose stack overflows.
func overBudget(r *analysis.Result, cfg *config.Config, flag int64, allowUnbounded bool) bool {
	return budget.Policy{Config: cfg, Flag: flag, AllowUnbounded: allowUnbounded}.Failing(r)
}

// analyzeLayouts is --with-layout: the layout of each file (from the
// analysis already done, with the memory map of --ld or stackscope.toml),
// so that one SARIF log carries the placement findings a CI job uploads.
func analyzeLayouts(fl analyzeFlags, results []*analysis.Result, cfgs map[*analysis.Result]*config.Config) ([]*layout.Report, error) {
	if !fl.withLayout {
		if fl.ld != "" {
			return nil, usageErrorf("--ld goes with --with-layout (or use stackscope layout --ld)")
		}
		return nil, nil
	}
	if fl.out.format != "sarif" {
		return nil, usageErrorf("--with-layout goes with --format sarif (for the text or JSON, run stackscope layout)")
	}
	var out []*layout.Report
	for _, r := range results {
		mem, err := memoryMap(fl.ld, cfgs[r])
		if err != nil {
			return nil, err
		}
		l, err := layout.Analyze(r.Binary, layout.Options{Memory: mem, Result: r, Analysis: analysis.Options{Config: cfgs[r]}})
		if err != nil {
			var ie *binfile.InputError
			if errors.As(err, &ie) {
				return nil, &exitError{Code: exitUsage, Err: ie}
			}
			return nil, &exitError{Code: exitUsage, Err: fmt.Errorf("%s: %v", r.Binary, err)}
		}
		out = append(out, l)
	}
	return out, nil
}

// renderAnalyses renders the report of the analyses in fl's format, and
// the lines that explain a finding (exit 1), none when there is none.
func renderAnalyses(fl analyzeFlags, results []*analysis.Result, budgets map[*analysis.Result]*config.Config, layouts []*layout.Report) ([]byte, []string, error) {
	var buf bytes.Buffer
	whys, err := renderAnalysesTo(&buf, fl, results, budgets, layouts)
	if err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), whys, nil
}

// renderAnalysesTo is renderAnalyses writing to out as it goes.
func renderAnalysesTo(out io.Writer, fl analyzeFlags, results []*analysis.Result, budgets map[*analysis.Result]*config.Config, layouts []*layout.Report) ([]string, error) {
	err := func() error {
		switch fl.out.format {
		case "json":
			for _, r := range results {
				r.StackscopeVersion = version()
			}
			return report.AnalyzeJSON(out, results)
		case "dot":
			return report.AnalyzeDOT(out, results[0])
		case "html":
			return html.Write(out, html.Input{Analysis: results[0], Budget: fl.budget, Version: version(), Output: fl.out.output})
		case "sarif":
			in := sarif.Input{Version: version(), Layouts: layouts}
			for _, r := range results {
				in.Analyses = append(in.Analyses, sarif.Analysis{Result: r,
					Budget: budget.Policy{Config: budgets[r], Flag: fl.budget, AllowUnbounded: fl.allowUnbounded}})
			}
			return sarif.Write(out, in)
		}
		for i, r := range results {
			if i > 0 {
				fmt.Fprintln(out)
			}
			report.AnalyzeText(out, r, report.AnalyzeOptions{Budget: fl.budget, TopFrames: fl.top})
			if line := configLine(budgets[r], r); line != "" {
				fmt.Fprintln(out, line)
			}
		}
		return nil
	}()
	if err != nil {
		return nil, err
	}
	var whys []string
	for _, r := range results {
		if overBudget(r, budgets[r], fl.budget, fl.allowUnbounded) {
			w := budgetWhys(r, budgets[r], fl.budget, fl.allowUnbounded)
			if len(results) > 1 {
				for i := range w {
					w[i] = r.Binary + ": " + w[i]
				}
			}
			whys = append(whys, w...)
		}
	}
	for _, l := range layouts {
		if l.Failing() {
			whys = append(whys, layoutWhys(l)...)
		}
	}
	return whys, nil
}

// runAnalyzeOne analyses one file, its report read from the report cache
// when nothing it depends on changed (reportcache.go), else rendered and
// stored there.
func runAnalyzeOne(cmd *cobra.Command, path string, fl analyzeFlags) error {
	// One file, whose text, JSON or SARIF report reads the result model
	// alone.
	fl.resultOnly = true
	fl.namesOnDemand = fl.out.format == "text" // (its largest frames)
	defer fl.flushCache()
	key, deps, cacheable := fl.reportKey(path, "one")
	if cacheable {
		if e, ok := fl.reportCache().Get(key); ok && len(e["report"]) > 0 {
			return emitAnalyses(cmd, fl, e["report"], splitLines(e["whys"]))
		}
	}
	res, cfg, _, err := fl.analyse(path)
	if err != nil {
		return err
	}
	if !cacheable || !deps.Matches(res.Libraries, res.MissingLibraries) {
		return streamAnalyses(cmd, fl, res, cfg, nil)
	}
	return streamAnalyses(cmd, fl, res, cfg, fl.reportCache().Stream(key, "report"))
}

// emitAnalyses writes a rendered report and returns the exit status its
// findings give.
func emitAnalyses(cmd *cobra.Command, fl analyzeFlags, data []byte, whys []string) error {
	if err := fl.out.emitBytes(cmd.OutOrStdout(), data); err != nil {
		return err
	}
	if len(whys) > 0 {
		return findingError(wrote(fl.out), whys)
	}
	return nil
}

// streamAnalyses renders the report of one analysis straight to its
// destination (outputFlags.stream), and to the report cache's entry
// being written (keep; nil: none): a large library's report (libLLVM-15:
// 240 MB of text, gigabytes of JSON) is then never held whole in memory,
// and the entry is stored only when the report was rendered whole.
func streamAnalyses(cmd *cobra.Command, fl analyzeFlags, res *analysis.Result, cfg *config.Config, keep *resultcache.Stream) error {
	var whys []string
	err := fl.out.stream(cmd.OutOrStdout(), func(out io.Writer) error {
		var err error
		if keep != nil {
			out = io.MultiWriter(out, keep)
		}
		whys, err = renderAnalysesTo(out, fl, []*analysis.Result{res}, map[*analysis.Result]*config.Config{res: cfg}, nil)
		return err
	})
	if err != nil {
		keep.Abort()
		return err
	}
	keep.Finish(resultcache.Entry{"whys": joinLines(whys)})
	if len(whys) > 0 {
		return findingError(wrote(fl.out), whys)
	}
	return nil
}
