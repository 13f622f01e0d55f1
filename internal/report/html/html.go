// Package html writes stackscope's report as one self-contained HTML page:
// the analysis, and optionally a firmware's memory map and a run's record.
package html

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/emu"
	"github.com/stackscope/stackscope/internal/layout"
	"github.com/stackscope/stackscope/internal/report"
	"github.com/stackscope/stackscope/internal/size"
	"github.com/stackscope/stackscope/internal/trace"
)

// The page's style and script, embedded so that the report is one file
// that works offline: no CDN, no fonts, no network access at all.
var (
	//go:embed assets/report.css
	pageCSS string
	//go:embed assets/report.js
	pageJS string
	// sizeJS writes sizes as internal/size does: the page's script starts
	// with it (its functions are the page's globals, for the tests).
	//go:embed assets/size.js
	sizeJS string
	//go:embed assets/report.tmpl
	pageTemplate string
)

// Input is what one HTML report shows: the static analysis, and
// optionally the memory map (firmware) and a run's record.
type Input struct {
	Analysis *analysis.Result
	Layout   *layout.Report
	Run      *trace.Result
	RunFile  string
	Budget   int64
	Version  string
	// Output is the file the page is written to, "" for standard output:
	// a page inside the source tree links to its files relatively.
	Output string
	// FirmwareRun is a firmware's run record (given as RunFile, instead
	// of Run); Injection an injected overflow's record, from InjectFile.
	FirmwareRun *emu.Result
	Injection   *emu.Injection
	InjectFile  string
}

// The page's data, given to the script as JSON. Field names are short and
// stable: the script reads them.
type htmlData struct {
	Binary    string       `json:"binary"`
	Arch      string       `json:"arch"`
	Entries   []htmlEntry  `json:"entries"`
	Functions []htmlFunc   `json:"functions"`
	Threads   []htmlThread `json:"threads"`
	Run       []htmlRunTh  `json:"run"`
	// FwRun are the stacks a firmware run measured (firmware.go).
	FwRun []htmlFwStack `json:"fwrun"`
	// Others are the callers and callees that are no function of the
	// table (calls.go); Links maps a source file's shown name to a link
	// to it (sourcelinks.go), empty when the page is not made inside the
	// source tree.
	Others []htmlOther       `json:"others"`
	Links  map[string]string `json:"links"`
}

type htmlEntry struct {
	Name        string       `json:"name"`
	Kind        string       `json:"kind"`
	Bounded     bool         `json:"bounded"`
	Bound       int64        `json:"bound"` // the bound, or the depth reached at least
	Verdict     string       `json:"verdict"`
	Path        []htmlStep   `json:"path"`
	Reasons     []htmlReason `json:"reasons"`
	Assumptions []htmlReason `json:"assumptions"`
}

type htmlStep struct {
	Function string `json:"fn"`
	Frame    int64  `json:"frame"`
	Depth    int64  `json:"depth"`
	Kind     string `json:"kind"`
	Tail     bool   `json:"tail,omitempty"`
	Source   string `json:"src,omitempty"`
	Local    bool   `json:"local"`         // a function of the analysed file (has a table row)
	Library  string `json:"lib,omitempty"` // the shared library of a function not Local
}

type htmlReason struct {
	Kind     string `json:"kind"`
	Function string `json:"fn"`
	Detail   string `json:"detail"`
	Library  string `json:"lib,omitempty"`
	Source   string `json:"src,omitempty"`
}

type htmlFunc struct {
	Name    string `json:"name"`
	Addr    string `json:"addr"`
	Frame   int64  `json:"frame"`
	Kind    string `json:"kind"`
	RedZone int64  `json:"rz,omitempty"`
	// Bound is the worst depth below the function; Bounded false makes
	// it a lower bound ("≥").
	Bound    int64  `json:"bound"`
	Bounded  bool   `json:"bounded"`
	Analysed bool   `json:"analysed"`
	Source   string `json:"src,omitempty"`
	// Callees are references (calls.go): a row of the table, or one of
	// htmlData.Others; Callers only those that are no row (the script
	// finds the rows that call a function from their Callees).
	Callers []int `json:"callers,omitempty"`
	Callees []int `json:"callees,omitempty"`
}

type htmlThread struct {
	Entry   string `json:"entry"`
	Created string `json:"created"`
	Size    string `json:"size"`
	Need    string `json:"need"`
	Status  string `json:"status"`
	Verdict string `json:"verdict"`
	Source  string `json:"src,omitempty"`
}

type htmlRunTh struct {
	TID      int    `json:"tid"`
	Kind     string `json:"kind"`
	Size     string `json:"size"`
	Peak     string `json:"peak"`
	Headroom string `json:"headroom"`
	Ended    string `json:"ended"`
	Program  string `json:"program"`
}

// htmlPage is what the template fills in itself; the rest is built by the
// script from Data.
type htmlPage struct {
	Title    string
	Binary   string
	Arch     string
	Version  string
	Summary  []htmlSummary
	Total    string
	TotalBad bool
	Layout   *htmlLayout
	RunFile  string
	RunLine  string // the run's verdict, as stackscope run prints it
	RunBad   bool
	// RunFindings are the run's stack warnings that did not crash it.
	RunFindings []string
	Crash       *htmlCrash
	CSS         template.CSS
	JS          template.JS
	Data        template.JS
	Warnings    []string
	// FwStop is how a firmware run ended; Injection an injected
	// overflow's timeline (firmware.go).
	FwStop    string
	Injection *htmlInjection
}

// htmlCrash is a run's crash: what happened and where, innermost first.
type htmlCrash struct {
	Detail string
	Cycle  string // the repeating part of a recursive backtrace
	Frames []htmlFrame
	More   string // the frames not shown, if any
}

// htmlFrame is a frame of the backtrace and how many times in a row it
// repeats: a recursion is a few lines, not thousands.
type htmlFrame struct {
	Frame  string
	Repeat int
}

// maxCrashFrames caps the lines of a backtrace shown.
const maxCrashFrames = 40

func crashOf(c *trace.Crash) *htmlCrash {
	hc := &htmlCrash{Detail: c.Detail, Cycle: c.CycleName}
	shown := 0
	for _, f := range c.Frames {
		s := f.String()
		if n := len(hc.Frames); n > 0 && hc.Frames[n-1].Frame == s {
			hc.Frames[n-1].Repeat++
		} else if n == maxCrashFrames {
			break
		} else {
			hc.Frames = append(hc.Frames, htmlFrame{Frame: s, Repeat: 1})
		}
		shown++
	}
	// The record keeps the innermost frames; Depth counts all unwound.
	rest, plus := max(c.Depth, len(c.Frames))-shown, ""
	if c.Truncated {
		plus = "+" // the unwinder stopped before the stack's end
	}
	switch {
	case rest > 0:
		hc.More = fmt.Sprintf("and %d%s more frames", rest, plus)
	case c.Truncated:
		hc.More = "and more frames, not unwound"
	}
	return hc
}

type htmlSummary struct {
	Name, Kind, Bound, Verdict string
	Bad                        bool
}

type htmlLayout struct {
	Verdict string
	Reason  string
	Bad     bool
	SVG     template.HTML
}

// Write writes the report as one self-contained HTML page.
func Write(w io.Writer, in Input) error {
	r := in.Analysis
	data := htmlData{Binary: r.Binary, Arch: r.Arch, Entries: []htmlEntry{}, Functions: []htmlFunc{}, Threads: []htmlThread{}, Run: []htmlRunTh{},
		FwRun: []htmlFwStack{}, Others: []htmlOther{}}
	page := htmlPage{Title: "stackscope: " + r.Binary, Binary: r.Binary, Arch: r.Arch, Version: in.Version,
		CSS: template.CSS(pageCSS), JS: template.JS(sizeJS + "\n" + pageJS), Warnings: r.Warnings}
	links := newSourceLinks(in.Output, r.Lines.CompDir)
	local := map[string]bool{}
	for _, f := range r.Functions {
		local[f.Name] = true
	}
	for _, e := range r.Entries {
		he := htmlEntry{Name: e.Name, Kind: e.Kind, Bounded: e.Bounded, Bound: e.AtLeast, Verdict: report.Verdict(e, in.Budget),
			Path: []htmlStep{}, Reasons: []htmlReason{}, Assumptions: []htmlReason{}}
		if e.Bounded {
			he.Bound = *e.Bound
		}
		for _, st := range e.Steps {
			links.add(st.File)
			he.Path = append(he.Path, htmlStep{Function: st.Function, Frame: st.Frame + st.RedZone, Depth: st.Depth, Kind: st.Kind,
				Tail: st.TailCall, Source: report.SourceLine(st.File, st.Line), Local: local[st.Function]})
			if last := &he.Path[len(he.Path)-1]; !last.Local {
				last.Library = libraryOf(st.Function)
			}
		}
		for _, rs := range e.Reasons {
			links.add(rs.File)
			he.Reasons = append(he.Reasons, htmlReason{Kind: rs.Kind, Function: rs.Function, Detail: rs.Detail, Library: rs.Library, Source: report.SourceLine(rs.File, rs.Line)})
		}
		for _, a := range e.Assumptions {
			links.add(a.File)
			he.Assumptions = append(he.Assumptions, htmlReason{Kind: "assumed", Function: a.Function, Detail: a.Detail, Library: a.Library, Source: report.SourceLine(a.File, a.Line)})
		}
		data.Entries = append(data.Entries, he)
		page.Summary = append(page.Summary, htmlSummary{Name: e.Name, Kind: e.Kind, Bound: report.EntryBound(e), Verdict: he.Verdict,
			Bad: !e.Bounded || (in.Budget > 0 && *e.Bound > in.Budget)})
	}
	type row struct {
		f    htmlFunc
		node int
	}
	var rows []row
	for _, f := range r.Functions {
		links.add(f.File)
		hf := htmlFunc{Name: f.Name, Addr: fmt.Sprintf("%#x", f.Addr), Frame: f.FrameAtLeast, Kind: f.FrameKind, RedZone: f.RedZone, Source: report.SourceLine(f.File, f.Line)}
		if r.Bounds != nil && r.Bounds.Analysed(f.Node) {
			hf.Analysed, hf.Bound, hf.Bounded = true, r.Bounds.Value(f.Node), r.Bounds.Bounded(f.Node)
		}
		rows = append(rows, row{hf, f.Node})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].f.Frame > rows[j].f.Frame })
	nodeOf := make([]int, len(rows))
	for i, rw := range rows {
		data.Functions = append(data.Functions, rw.f)
		nodeOf[i] = rw.node
	}
	callRefs(r, &data, nodeOf)
	for _, t := range r.Threads {
		links.add(t.File)
		ht := htmlThread{Entry: t.Entry, Created: t.CreatedBy + " (" + t.Creator + ")", Size: "unknown", Status: t.Status, Verdict: t.Verdict, Source: report.SourceLine(t.File, t.Line)}
		if t.StackSize != nil {
			ht.Size = size.FormatCapacity(*t.StackSize) // a capacity: rounded down
		}
		ht.Need = report.Bytes(t.Need)
		if t.NeedAtLeast {
			ht.Need = "≥ " + ht.Need
		}
		data.Threads = append(data.Threads, ht)
	}
	if in := r.Interrupts; in != nil {
		if in.Bounded {
			page.Total = report.Bytes(*in.Total)
		} else {
			page.Total = "NOT BOUNDED (at least " + report.Bytes(in.TotalAtLeast) + ")"
			page.TotalBad = true
		}
	}
	if l := in.Layout; l != nil {
		hl := &htmlLayout{Verdict: strings.ToUpper(l.Verdict), Reason: l.VerdictReason, Bad: l.Failing(), SVG: template.HTML(report.LayoutSVG(l))}
		if hl.Verdict == "" {
			hl.Verdict = "NO VERDICT"
		}
		page.Layout = hl
	}
	if run := in.Run; run != nil {
		page.RunFile, page.RunLine = in.RunFile, run.Verdict()
		page.RunBad = run.Crash != nil || len(run.Findings) > 0
		page.RunFindings = run.Findings
		if c := run.Crash; c != nil {
			page.Crash = crashOf(c)
		}
		for _, t := range run.Threads {
			data.Run = append(data.Run, runThread(t))
		}
	}
	if fw := in.FirmwareRun; fw != nil {
		page.RunFile, page.RunLine, page.RunBad, page.FwStop = in.RunFile, fw.Verdict(), fwRunBad(fw), fwStopLine(fw)
		page.RunFindings = fw.Warnings
		for i := range fw.Stacks {
			if d := fw.Stacks[i].Deepest; d != nil {
				for _, f := range d.Backtrace {
					links.add(f.File)
				}
			}
			data.FwRun = append(data.FwRun, fwStack(&fw.Stacks[i]))
		}
	}
	if in.Injection != nil {
		page.Injection = injection(in.Injection, in.InjectFile, local)
	}
	data.Links = links.links()
	js, err := json.Marshal(data) // escapes <, > and & : safe inside <script>
	if err != nil {
		return err
	}
	page.Data = template.JS(js)
	tmpl, err := template.New("report").Parse(pageTemplate)
	if err != nil {
		return err
	}
	return tmpl.Execute(w, page)
}

// runThread is one thread of a run as its table shows it, in the units of
// stackscope run's own table.
func runThread(t *trace.Thread) htmlRunTh {
	rt := htmlRunTh{TID: t.TID, Kind: t.Kind, Size: "unknown", Peak: "?", Headroom: "?", Ended: t.Ended, Program: t.Program}
	if t.PeakMeasured {
		rt.Peak = trace.HumanBytes(t.Peak)
		if t.PeakStale != "" {
			rt.Peak = "<=" + rt.Peak // an upper bound: stale data on a reused stack
		}
	}
	if t.StackSize != nil {
		rt.Size = size.FormatCapacity(int64(min(*t.StackSize, math.MaxInt64))) // a capacity: rounded down
		if t.PeakMeasured && *t.StackSize > 0 {
			rt.Headroom = trace.Headroom(*t.StackSize, t.Peak) // "none (224 B over)" after an overflow
		}
	}
	switch {
	case t.Ended == trace.EndedExit:
		rt.Ended = fmt.Sprintf("exit %d", t.ExitCode)
	case t.Signal != "":
		rt.Ended = t.Ended + " (" + t.Signal + ")"
	case t.Ended == "":
		rt.Ended = "running"
	}
	return rt
}

// libraryOf is the library a path step's name ends with, as the analysis
// names a shared library's function: "memcpy (libc.so.6)"; "" otherwise.
func libraryOf(name string) string {
	i := strings.LastIndex(name, " (")
	if i < 0 || !strings.HasSuffix(name, ")") {
		return ""
	}
	if lib := name[i+2 : len(name)-1]; strings.Contains(lib, ".so") {
		return lib
	}
	return ""
}
