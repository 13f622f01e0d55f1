package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/report"
	"github.com/stackscope/stackscope/internal/resultcache"
)

// expandFiles is the FILE arguments with each directory replaced, under
// --recursive, by the regular files below it (symbolic links to regular
// files included, as /usr/bin has them), in name order. Without
// --recursive a directory stays, and its analysis says what it is.
func expandFiles(args []string, recursive bool) ([]string, error) {
	if !recursive {
		return args, nil
	}
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // an unreadable directory: skipped, as find does
			}
			if d.Type().IsRegular() {
				found = append(found, p)
			} else if d.Type()&fs.ModeSymlink != 0 {
				if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
					found = append(found, p)
				}
			}
			return nil
		})
		if err != nil {
			return nil, usageErrorf("%s: %v", a, err)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	if len(out) == 0 {
		return nil, usageErrorf("no files under %s", strings.Join(args, ", "))
	}
	return out, nil
}

// fileSummary is one line of the summary table of many files.
type fileSummary struct {
	path    string
	entry   string // the entry shown: main, else the worst
	bound   string
	verdict string
	failed  bool // an over-budget or unbounded finding (exit 1)
	problem string
}

// summarize picks the line of a file: main's bound and verdict, else the
// worst entry's (an unbounded one before any bounded one).
func summarize(r *analysis.Result, budget int64) fileSummary {
	s := fileSummary{path: r.Binary}
	if len(r.Entries) == 0 {
		s.verdict = "no entry points"
		return s
	}
	pick := -1
	for i, e := range r.Entries {
		if e.Kind == "main" {
			pick = i
			break
		}
	}
	if pick < 0 {
		pick = 0
		for i, e := range r.Entries {
			if worse(e, r.Entries[pick]) {
				pick = i
			}
		}
	}
	e := r.Entries[pick]
	s.entry, s.bound, s.verdict = e.Name, report.EntryBound(e), report.Verdict(e, budget)
	return s
}

// worse says whether entry a needs more stack than b as far as known: not
// bounded before bounded, then the larger depth.
func worse(a, b analysis.Entry) bool {
	if a.Bounded != b.Bounded {
		return !a.Bounded
	}
	if a.Bounded {
		return *a.Bound > *b.Bound
	}
	return a.AtLeast > b.AtLeast
}

// summaryTable writes one aligned line per file, the verdict first (the
// bound right-aligned, as in the report of one file).
func summaryTable(w io.Writer, rows []fileSummary) {
	width := len("BOUND")
	for _, s := range rows {
		width = max(width, utf8.RuneCountInString(s.boundText()))
	}
	pad := func(s string) string { return strings.Repeat(" ", width-utf8.RuneCountInString(s)) + s }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tVERDICT\tENTRY\tFILE\n", pad("BOUND"))
	for _, s := range rows {
		verdict, entry := s.verdict, s.entry
		if s.problem != "" {
			verdict = "not analysed: " + s.problem
		}
		if entry == "" {
			entry = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", pad(s.boundText()), verdict, entry, s.path)
	}
	tw.Flush()
}

func (s fileSummary) boundText() string {
	if s.bound == "" {
		return "-"
	}
	return s.bound
}

// progress shows, on a terminal only, which file of how many is being
// analysed, on one line of standard error that the next one overwrites.
type progress struct {
	w     io.Writer // nil: not a terminal
	total int
}

func (p progress) show(i int, path string) {
	if p.w == nil {
		return
	}
	if len(path) > 60 {
		path = "..." + path[len(path)-57:]
	}
	fmt.Fprintf(p.w, "\r\033[Kanalyze %d/%d %s", i+1, p.total, path)
}

func (p progress) done() {
	if p.w != nil {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// runAnalyzeMany analyses several files in one process, the libraries
// shared between them, and writes the reports as it goes: text is a
// summary table (one line per file), JSON an array of one report per file
// (as for several files before, written one file at a time). A file that
// cannot be analysed (not ELF, truncated, a broken stackscope.toml) is a
// line of the table, or in JSON an object with "error"; it is not a
// finding and does not change the exit status.
func runAnalyzeMany(cmd *cobra.Command, files []string, fl analyzeFlags) (err error) {
	out := cmd.OutOrStdout()
	if fl.out.output != "" {
		fh, err := os.Create(fl.out.output)
		if err != nil {
			return &exitError{Code: exitUsage, Err: fmt.Errorf("-o %s: %v", fl.out.output, pathless(err))}
		}
		defer func() {
			if cerr := fh.Close(); cerr != nil && err == nil {
				err = &exitError{Code: exitUsage, Err: fmt.Errorf("-o %s: %v", fl.out.output, cerr)}
			}
		}()
		out = fh
	}
	bw := bufio.NewWriter(out)
	prog := progress{total: len(files)}
	if isTerminal(cmd.ErrOrStderr()) {
		prog.w = cmd.ErrOrStderr()
	}
	defer fl.flushCache()
	var rows []fileSummary
	var whys []string
	first := true
	if fl.out.format == "json" {
		bw.WriteString("[\n")
	}
	for i, o := range analyseInParallel(&fl, files) {
		prog.show(i, files[i])
		rows = append(rows, o.row)
		whys = append(whys, o.whys...)
		if fl.out.format == "json" {
			if !first {
				bw.WriteString(",\n")
			}
			first = false
			bw.WriteString("  ")
			bw.Write(o.element)
		}
	}
	prog.done()
	if fl.out.format == "json" {
		bw.WriteString("\n]\n")
	} else {
		summaryTable(bw, rows)
	}
	if err := bw.Flush(); err != nil {
		return &exitError{Code: exitUsage, Err: err}
	}
	if len(whys) > 0 {
		return findingError(wrote(fl.out), whys)
	}
	return nil
}

// fileOutcome is one file's part of a run over many files: its line of
// the table, the lines that explain its findings, and (--format json) its
// element of the array.
type fileOutcome struct {
	row     fileSummary
	whys    []string
	element []byte
}

// analyseInParallel analyses files on every core (runtime.GOMAXPROCS),
// the libraries shared through fl's library cache, and yields each file's
// outcome in the order of files as soon as it and those before it are
// done. At most one analysis per core is under way, so the memory of the
// run is that of the libraries plus the largest programs analysed at once.
func analyseInParallel(fl *analyzeFlags, files []string) iter.Seq2[int, fileOutcome] {
	return func(yield func(int, fileOutcome) bool) {
		fl.libraryCache().ForMany() // opened before the workers share it
		fl.reportCache()
		limitHeap()
		outs := make([]fileOutcome, len(files))
		ready := make([]chan struct{}, len(files))
		for i := range ready {
			ready[i] = make(chan struct{})
		}
		var next atomic.Int64
		room := newByteBudget(parallelBytes)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range min(runtime.GOMAXPROCS(0), len(files)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= len(files) {
						return
					}
					select {
					case <-stop:
						return
					default:
					}
					n := programBytes(files[i])
					room.acquire(n)
					outs[i] = fl.analyseOneOfMany(files[i])
					room.release(n)
					close(ready[i])
				}
			}()
		}
		defer wg.Wait()
		defer close(stop)
		for i := range files {
			<-ready[i]
			o := outs[i]
			outs[i] = fileOutcome{} // written: its bytes can go
			if !yield(i, o) {
				return
			}
		}
	}
}

// manyHeapLimit is the floor of the Go heap's soft limit in a run over
// many files (unless GOMEMLIMIT sets one): such a run keeps every library
// it opened, and between two collections the heap may grow to several
// times what is live (main's gcPercent; 400 then), which over all of
// /usr/bin, two programs at once, was 5 GB for about 2 GB live. Near the
// limit the collector runs more often instead. Above the floor, the
// limit follows the live heap at 3/2 (softMemoryLimit): a fixed limit the
// live heap passed made the collector run without a pause.
const manyHeapLimit = 3 << 29 // 1.5 GiB

// limitHeap raises the soft limit's floor to manyHeapLimit.
func limitHeap() { raiseMemoryLimitFloor(manyHeapLimit) }

// parallelBytes is how many bytes of program files are analysed at once:
// an analysis needs memory in proportion to its program (/usr/bin/node,
// 98 MB, about 800 MiB), so a large program is analysed alone, while the
// small ones that make up most of a system share the cores.
const parallelBytes = 48 << 20

// byteBudget lets analyses start while the bytes of the programs under
// way stay within a limit; one analysis may always run, however large.
type byteBudget struct {
	mu    sync.Mutex
	freed *sync.Cond
	limit int64
	inUse int64
}

func newByteBudget(limit int64) *byteBudget {
	b := &byteBudget{limit: limit}
	b.freed = sync.NewCond(&b.mu)
	return b
}

func (b *byteBudget) acquire(n int64) {
	b.mu.Lock()
	for b.inUse > 0 && b.inUse+n > b.limit {
		b.freed.Wait()
	}
	b.inUse += n
	b.mu.Unlock()
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.inUse -= n
	b.mu.Unlock()
	b.freed.Broadcast()
}

// programBytes is the size of the file at path, 0 when it cannot be read (its
// analysis says why).
func programBytes(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// analyseOneOfMany is one file's outcome among many: read from the report
// cache when nothing it depends on changed, else analysed and stored.
func (fl *analyzeFlags) analyseOneOfMany(path string) fileOutcome {
	key, deps, cacheable := fl.reportKey(path, "many")
	if cacheable {
		if e, ok := fl.reportCache().Get(key); ok {
			if c, ok := decodeCachedFile(e["file"]); ok && (fl.out.format != "json" || len(e["element"]) > 0) {
				return fileOutcome{row: fileSummary{path: path, entry: c.Entry, bound: c.Bound, verdict: c.Verdict}, whys: c.Whys, element: e["element"]}
			}
		}
	}
	res, cfg, _, aerr := fl.analyse(path)
	if aerr != nil {
		msg := aerr.Error()
		if ee := (*exitError)(nil); errors.As(aerr, &ee) && ee.Err != nil {
			msg = ee.Err.Error()
		}
		msg = strings.TrimPrefix(msg, path+": ")
		o := fileOutcome{row: fileSummary{path: path, problem: msg}}
		if fl.out.format == "json" {
			o.element = jsonElement(fileError{Kind: report.KindAnalyze, Binary: path, Error: msg})
		}
		return o
	}
	o := fileOutcome{row: summarize(res, fl.budget)}
	if overBudget(res, cfg, fl.budget, fl.allowUnbounded) {
		for _, w := range budgetWhys(res, cfg, fl.budget, fl.allowUnbounded) {
			o.whys = append(o.whys, res.Binary+": "+w)
		}
	}
	if fl.out.format == "json" {
		res.StackscopeVersion = version()
		o.element = jsonElement(kindedResult{Kind: report.KindAnalyze, Result: res})
	}
	if cacheable {
		c := cachedFile{Entry: o.row.entry, Bound: o.row.bound, Verdict: o.row.verdict, Whys: o.whys}
		fl.storeReport(key, deps, res, resultcache.Entry{"file": c.encode(), "element": o.element})
	}
	return o
}

// kindedResult is one file's JSON report, as report.AnalyzeJSON writes it.
type kindedResult struct {
	Kind string `json:"kind"`
	*analysis.Result
}

// jsonElement is v as an element of an array indented as
// report.AnalyzeJSON indents one (without the indentation of its first
// line).
func jsonElement(v any) []byte {
	data, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		data, _ = json.Marshal(map[string]string{"kind": report.KindAnalyze, "error": err.Error()})
	}
	return data
}

// fileError is, in the JSON array, a file that could not be analysed.
type fileError struct {
	Kind   string `json:"kind"`
	Binary string `json:"binary"`
	Error  string `json:"error"`
}
