// Package analysis runs the static stack analysis of one ELF file end to
// end (binfile -> isa -> frame -> callgraph -> bound) and holds the result
// model that reports render. analyze, layout and minstack all use it.
package analysis

import (
	"debug/elf"
	"fmt"

	"github.com/stackscope/stackscope/internal/beside"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/isa/arm64"
	"github.com/stackscope/stackscope/internal/isa/riscv"
	"github.com/stackscope/stackscope/internal/isa/thumb"
	"github.com/stackscope/stackscope/internal/isa/x86"
	"github.com/stackscope/stackscope/internal/libcache"
	"github.com/stackscope/stackscope/internal/pages"
	"github.com/stackscope/stackscope/internal/permute"
	"github.com/stackscope/stackscope/internal/srcloc"
)

// Options select entries and how far the analysis follows calls.
type Options struct {
	// Entries replaces the default entry points when not empty.
	Entries []string
	// NoLibraries stops PLT calls at the library boundary (external).
	NoLibraries bool
	LibPaths    []string
	// Interrupts configures the nesting model (priority groups; Cortex-M
	// and RISC-V).
	Interrupts InterruptConfig
	// Strict uses only annotated or proved indirect-call targets; without
	// it, an unresolved indirect call is assumed to reach any function
	// whose address is taken (and the entry says so).
	Strict bool
	// Config holds the stackscope.toml annotations (may be nil).
	Config *config.Config
	// Exclude names functions whose paths are set aside (--exclude), in
	// addition to the [[exclude]] tables of Config.
	Exclude []string
	// OwnCode also bounds each entry's own code, library calls counted
	// by their bounds or listed (--own-code; owncode.go).
	OwnCode bool
	// LDAudit keeps, in the model of __libc_start_main, ld.so's
	// _dl_audit_* hooks, which run only under LD_AUDIT (--ld-audit).
	LDAudit bool
	// Libraries shares the shared libraries' frames between analyses and
	// runs (libcache); nil walks every library function again. Results
	// are the same either way.
	Libraries *libcache.Cache
	// ResultOnly says the caller reads only the result model (the text,
	// JSON and SARIF reports), not Result.Graph or Result.Bounds: Run
	// then leaves those nil, and the call graph is gone before the
	// entries' paths are written out (chainPaths), which keeps a large
	// library's analysis in less memory (libLLVM-15: the graph's 300 MB
	// and the paths' 130 MB are never held together).
	ResultOnly bool
	// NamesOnDemand says the caller reads the functions' names only
	// through Function.DisplayName, and not their Calls (the text report:
	// the largest frames): Run leaves Name and Calls empty, and a C++
	// program's names are demangled only for the functions shown (node:
	// 77,000 names, 0.3 s of CPU, for 10).
	NamesOnDemand bool
}

// Result is what one analysed file yields: the JSON contract of
// `stackscope analyze --format json`. Keys are only ever added.
type Result struct {
	// StackscopeVersion names the stackscope build that wrote this report
	// (`stackscope version`); set by the command, empty in tests of the library.
	StackscopeVersion string `json:"stackscope_version,omitempty"`

	Binary           string      `json:"binary"`
	Arch             string      `json:"arch"`
	Functions        []Function  `json:"functions"`
	Entries          []Entry     `json:"entries"`
	Interrupts       *Interrupts `json:"interrupts,omitempty"`
	Libraries        []string    `json:"libraries"`
	MissingLibraries []string    `json:"missing_libraries"`
	Warnings         []string    `json:"warnings"`
	// Threads are the threads and tasks the program creates (threads.go).
	Threads []Thread `json:"threads"`

	// Lines maps the analysed file's addresses to source lines (nil
	// without DWARF).
	Lines  *srcloc.Table    `json:"-"`
	Graph  *callgraph.Graph `json:"-"`
	Bounds *bound.Analysis  `json:"-"`
	File   *binfile.File    `json:"-"`

	threadsBeside bool // findThreads ran beside the bounds (threadsbeside.go)
	// threadsSharedBound: the threads' entries took their bounds from the
	// entries' (entriesBound).
	threadsSharedBound bool

	// namesOnDemand is Options.NamesOnDemand (the function list reads it).
	namesOnDemand bool
}

// Function is one function of the analysed file.
type Function struct {
	Name          string   `json:"name"`
	Addr          uint64   `json:"addr"`
	Size          uint64   `json:"size"`
	Frame         *int64   `json:"frame"` // null unless the frame is static
	FrameKind     string   `json:"frame_kind"`
	FrameAtLeast  int64    `json:"frame_at_least"`
	RedZone       int64    `json:"redzone"`
	Calls         []string `json:"calls"`
	IndirectCalls int      `json:"indirect_calls"`
	// IndirectCallSites are the addresses of the indirect calls; of them,
	// UnresolvedIndirect have no target (reasons) and AssumedIndirect were
	// given the address-taken set.
	IndirectCallSites  []uint64 `json:"indirect_call_sites"`
	UnresolvedIndirect int      `json:"unresolved_indirect_calls"`
	AssumedIndirect    int      `json:"assumed_indirect_calls"`
	// AssumedMethods counts the assumed indirect calls by how their set
	// was found: "address-taken", "prototype", "vtable-slot".
	AssumedMethods map[string]int `json:"assumed_indirect_methods,omitempty"`
	Reason         string         `json:"reason,omitempty"`
	Source         string         `json:"source"`
	// File and Line are where the function is declared (DWARF), empty
	// when the file has no debug information for it.
	File        string       `json:"file,omitempty"`
	Line        int          `json:"line,omitempty"`
	CFIMismatch *CFIMismatch `json:"cfi_mismatch,omitempty"`
	// Node is the function's call-graph node (Result.Bounds gives the
	// worst depth below it).
	Node int `json:"-"`
	// node names the function on demand (Options.NamesOnDemand).
	node *callgraph.Node
}

// DisplayName is the function's name: Name, or, when Run left it to be
// made on demand (Options.NamesOnDemand), its node's name, made now.
func (f *Function) DisplayName() string {
	if f.Name == "" && f.node != nil {
		return f.node.Name()
	}
	return f.Name
}

// CFIMismatch is a disagreement between the code walk and .eh_frame/.debug_frame.
type CFIMismatch struct {
	PC  uint64 `json:"pc"`
	CFA int64  `json:"cfa"`
}

// Entry is one entry point's bound.
type Entry struct {
	Name    string         `json:"name"`
	Kind    string         `json:"kind"`
	Bounded bool           `json:"bounded"`
	Bound   *int64         `json:"bound"`
	AtLeast int64          `json:"at_least"`
	Path    []string       `json:"path"`
	Steps   []PathStep     `json:"path_frames"`
	Reasons []bound.Reason `json:"reasons"`
	// Assumptions are the indirect calls whose targets were assumed (the
	// address-taken set); empty with --strict.
	Assumptions []bound.Assumption `json:"assumptions"`
	// AfterReset, when the entry reaches code that sets SP to the top of
	// the main stack, is that part: its depth is from the top, whatever
	// the entry's SP was. Bound and AtLeast are then the larger of it and
	// the part below the entry's SP (AfterReset.BeforeReset), and Path is
	// the larger one's path.
	AfterReset *ResetPart `json:"after_reset,omitempty"`
	// NeverReturns are the functions of the worst path that never return
	// (error paths that [[exclude]] can set aside).
	NeverReturns []NeverReturns `json:"never_returns,omitempty"`
	// OwnCode is the bound of the file's own code (--own-code).
	OwnCode *OwnCode `json:"own_code,omitempty"`
	// Node and PathNodes are the entry's and the worst path's call-graph
	// nodes (for reports that draw the graph).
	Node      int   `json:"-"`
	PathNodes []int `json:"-"`
}

// ResetPart is the part of an entry that runs after an SP reset.
type ResetPart struct {
	// Bound (null unless the entry is bounded) and AtLeast are bytes below
	// the top of the main stack.
	Bound   *int64 `json:"bound"`
	AtLeast int64  `json:"at_least"`
	// BeforeReset is the rest of the entry: bytes below its SP, as an
	// entry's bound is without resets (null unless bounded).
	BeforeReset        *int64 `json:"before_reset"`
	BeforeResetAtLeast int64  `json:"before_reset_at_least"`
	// Function, Addr and Detail are the reset on the worst path: where
	// and with what value SP is set.
	Function string     `json:"function"`
	Addr     uint64     `json:"addr"`
	Detail   string     `json:"detail"`
	File     string     `json:"file,omitempty"`
	Line     int        `json:"line,omitempty"`
	Path     []string   `json:"path"`
	Steps    []PathStep `json:"path_frames"`

	// Stack, when not 0, is the top of another stack than the main one
	// that the code switched to (a RISC-V trap handler's own stack):
	// Bound and AtLeast are then bytes below it.
	Stack uint64 `json:"stack,omitempty"`
}

// PathStep is one function on the worst path.
type PathStep struct {
	Function string `json:"function"`
	Frame    int64  `json:"frame"`
	RedZone  int64  `json:"redzone,omitempty"`
	Kind     string `json:"frame_kind"`
	TailCall bool   `json:"tail_call,omitempty"`
	// CallerKept is, for a step reached by a tail call, the bytes of the
	// caller's frame still on the stack at the jump: the caller adds
	// them to the path instead of its frame (usually 0).
	CallerKept int64 `json:"caller_kept,omitempty"`
	// Recursion is set on a step that stands for a recursion bounded by a
	// declared depth: Frame is depth trips of trip bytes.
	Recursion *bound.Cycle `json:"recursion,omitempty"`
	Depth     int64        `json:"depth"`
	// LibraryBound: an own-code path's library function, whose Frame is
	// its whole bound, callees included (--own-code).
	LibraryBound bool   `json:"library_bound,omitempty"`
	File         string `json:"file,omitempty"` // where the function is declared
	Line         int    `json:"line,omitempty"`
}

// DecoderFor returns the instruction decoder for an architecture.
func DecoderFor(a binfile.Arch) (isa.Decoder, int64) {
	switch a {
	case binfile.ArchThumb:
		return thumb.Decoder{}, 8 // AAPCS: SP 8-byte aligned at public interfaces
	case binfile.ArchARM64:
		return arm64.Decoder{}, 16 // AAPCS64: SP 16-byte aligned at all times
	case binfile.ArchRISCV32:
		return riscv.New(32), 16 // psABI: SP 16-byte aligned (ilp32e: 4, never more)
	case binfile.ArchRISCV64:
		return riscv.New(64), 16
	default:
		return x86.Decoder{}, 16
	}
}

// hasSharedLibraries says whether programs of an architecture are
// analysed into their DT_NEEDED libraries (Linux ones; not firmware).
func hasSharedLibraries(a binfile.Arch) bool {
	return a == binfile.ArchX86_64 || a == binfile.ArchARM64 || a == binfile.ArchRISCV64
}

// Run analyses the ELF file at path.
func Run(path string, opts Options) (*Result, error) {
	f, err := binfile.Open(path)
	if err != nil {
		return nil, err
	}
	return RunFile(f, opts)
}

// RunFile analyses an opened file.
func RunFile(f *binfile.File, opts Options) (*Result, error) {
	phase("opened")
	dec, align := DecoderFor(f.Arch)
	res := &Result{namesOnDemand: opts.NamesOnDemand, Binary: f.Path, Arch: f.Arch.String(), File: f, Libraries: []string{}, MissingLibraries: []string{}, Warnings: []string{}}
	cfg := withExcludes(checkAnnotations(f, opts.Config, &res.Warnings), opts.Exclude)
	opts = withConfig(opts, cfg)
	start, hasStart := nameProgramStart(f, dec)
	g := callgraph.Build(f, dec, callgraph.Options{
		FollowLibraries: !opts.NoLibraries && hasSharedLibraries(f.Arch),
		LibPaths:        opts.LibPaths,
		StackAlign:      align,
		Strict:          opts.Strict,
		Annotations:     annotations(cfg),
		AuditHooks:      opts.LDAudit,
		Libraries:       opts.Libraries,
	})
	phase("build")
	res.Graph = g
	if hasStart {
		modelProgramStart(g, start, opts)
	}
	// The source lines are read beside the entries and the runtime's
	// models, which read neither them nor the warnings, and leave a core
	// partly idle (/usr/bin/node: 0.03 s); taken after the models.
	linesAhead := beside.Start(func() sourceLines {
		t, err := srcloc.Load(f.ELF, f.Path)
		return sourceLines{t, err}
	})
	specs, vt, err := entrySpecs(f, g, opts)
	if err != nil {
		linesAhead.Wait() // (nothing left running, and its panic first, as before)
		return nil, err
	}
	var traps *riscvTraps
	if len(opts.Entries) == 0 {
		var trapSpecs []bound.Spec
		trapSpecs, traps = riscvTrapSpecs(f, g, specs, dec)
		if traps != nil && opts.Strict {
			traps.strictRestores()
		}
		specs = append(specs, trapSpecs...)
	}
	roots := make([]int, len(specs))
	for i, s := range specs {
		roots[i] = s.Node
	}
	phase("entry specs")
	g.Resolve()
	phase("resolve")
	var assumedNames *beside.Result[struct{}]
	g.BesideLastModels = func() { assumedNames = startAssumedNames(g) } // (namesahead.go)
	g.ModelRuntime()
	g.BesideLastModels = nil
	g.ListStackArgs() // (after every model that replaces a frame)
	if assumedNames != nil {
		assumedNames.Wait()
	}
	phase("glibc models")
	lines := linesAhead.Wait()
	if lines.err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("source lines unknown: %v", lines.err))
	}
	res.Lines = lines.table
	if f.CFIError != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("call-frame information ignored: %v", f.CFIError))
	}
	g.ClipEdges()
	if vt != nil {
		checkStackModes(f, g, vt, userRoots(specs), opts.Strict)
	}
	checkEffects(f, g, cfg, &res.Warnings)
	bo := boundOptions(g, cfg)
	phase("stack checks")
	shared := newEntriesBound(bo) // (the entries' bound, for the threads')
	defer shared.settle()
	ahead := startThreads(res, g, opts, shared) // (threadsbeside.go) beside what follows
	early := startLowerBounds(g, bo, vt == nil)
	res.Bounds = shared.make(func() *bound.Analysis { return bound.New(g, roots, bo) })
	early.forEntries(res, specs)
	phase("bound")
	var unexcluded *bound.Analysis
	if len(bo.Excluded) > 0 {
		// The bounds without the exclusions, for each entry they changed
		// to say what it would have been.
		plain := bo
		plain.Excluded = nil
		unexcluded = bound.New(g, roots, plain)
	}
	located, assumed := newReasonLists(), newSharedLists[bound.Assumption]()
	if len(specs) > 0 {
		// One entry per spec, made at its size: grown by append, the list
		// of a large library's entries (libLLVM-15: 28,000 of 224 bytes)
		// was 39 MB of garbage while the graph was live. (No specs: the
		// list stays nil, as the JSON has always said.)
		res.Entries = make([]Entry, 0, len(specs))
	}
	for _, s := range specs {
		// An entry whose reasons are a list already made and located
		// takes that list, not a copy of its own (EntrySharing).
		known, _ := located.lookup(res.reasonRanks(s.Node), nil)
		// So does one whose assumptions are (without exclusions).
		var knownAs []bound.Assumption
		if unexcluded == nil {
			knownAs, _ = assumed.lookup(res.Bounds.AssumptionRanks(s.Node), nil)
		}
		// (Without a bound, a program's entry gets the lower bound's
		// chain for its path: provedAtLeast.)
		b := res.Bounds.EntrySharingPathless(s, known, knownAs, vt == nil)
		if unexcluded != nil {
			b.Assumptions = excludedEffect(b, unexcluded.Entry(s))
		}
		e := res.entryResultWith(b, !sameList(b.Reasons, known), knownAs == nil)
		// Equal lists, located alike (lineAt reads only the address): one.
		if ranks := res.reasonRanks(s.Node); len(ranks) == len(e.Reasons) {
			e.Reasons = located.share(ranks, nil, e.Reasons)
		}
		if unexcluded == nil {
			// (With exclusions, each entry's list says what it would
			// have been without them: not shared.) The list is the
			// ranks' items, located, one "excluded" per function.
			e.Assumptions = assumed.share(res.Bounds.AssumptionRanks(s.Node), nil, e.Assumptions)
		}
		res.Entries = append(res.Entries, e)
	}
	phase("entries")
	var listAhead *functionsAhead
	if fewEntries(specs) {
		listAhead = startFunctions(res, ahead, vt != nil) // (threadsbeside.go: beside the lower bounds)
	}
	nr, lo, pl := early.finish(res)
	// With ResultOnly, the entries' paths are written out once the graph
	// is gone (chainPaths).
	paths := newChainPaths(res, lo, opts.ResultOnly)
	if vt == nil {
		res.provedAtLeastAll(pl, paths)
	}
	phase("lower bounds")
	if !fewEntries(specs) {
		listAhead = startFunctions(res, ahead, vt != nil) // (threadsbeside.go)
	}
	for i := range res.Entries {
		e := res.Entries[i]
		e.PathNodes = paths.pathNodes(i, e.PathNodes)
		res.Entries[i].NeverReturns = nr.onPath(e)
	}
	res.actionable(specs, bo)
	if opts.OwnCode {
		res.ownCode(specs, bo, lo)
	}
	if vt != nil {
		res.Interrupts = interrupts(f, res, vt, opts.Interrupts)
		keepFaultPaths(res)
	} else if traps != nil {
		res.Interrupts = riscvInterrupts(res, traps, cfg, opts.Interrupts.Groups)
	}
	phase("actionable")
	res.Threads, res.Functions = threadsAndFunctions(res, ahead, listAhead, opts)
	for _, m := range g.Modules[1:] {
		res.Libraries = append(res.Libraries, m.File.Path)
	}
	res.MissingLibraries = append(res.MissingLibraries, g.Missing...)
	opts.Libraries.Release(f)
	if opts.ResultOnly {
		res.Graph, res.Bounds = nil, nil
	}
	phase("functions")
	paths.expandPending(res.Entries)
	phase("paths")
	return res, nil
}

// sourceLines is srcloc.Load's answer.
type sourceLines struct {
	table *srcloc.Table
	err   error
}

// excludedEffect returns the entry's assumptions with its "excluded" ones
// kept only when the exclusion changed the entry, each then saying what
// the entry would have been without it.
func excludedEffect(with, without bound.Entry) []bound.Assumption {
	changed := with.Bounded != without.Bounded || with.AtLeast != without.AtLeast
	was := &bound.Outcome{Bounded: without.Bounded, AtLeast: without.AtLeast}
	if without.Bounded {
		v := without.Bound
		was.Bound = &v
	}
	var out []bound.Assumption
	for _, a := range with.Assumptions {
		if a.Kind == bound.AssumeExcluded {
			if !changed {
				continue
			}
			a.WithoutExclusion = was
		}
		out = append(out, a)
	}
	return out
}

func (res *Result) entryResult(b bound.Entry) Entry { return res.entryResultWith(b, true, true) }

// entryResultWith is entryResult; without locateReasons (locate), the
// reasons (the assumptions) are a list located before: a shared list is
// never written again.
func (res *Result) entryResultWith(b bound.Entry, locateReasons, locate bool) Entry {
	e := Entry{Name: b.Name, Kind: b.Kind, Node: b.Node, Bounded: b.Bounded, AtLeast: b.AtLeast, Reasons: b.Reasons, Assumptions: b.Assumptions}
	if e.Reasons == nil {
		e.Reasons = []bound.Reason{}
	}
	if e.Assumptions == nil {
		e.Assumptions = []bound.Assumption{}
	}
	if b.Bounded {
		v := b.Bound
		e.Bound = &v
	}
	if locateReasons {
		res.locateReasons(e.Reasons)
	}
	for i := range e.Assumptions {
		if a := &e.Assumptions[i]; locate && a.Library == "" {
			a.File, a.Line = res.lineAt(a.Addr)
		}
	}
	e.Path, e.Steps, e.PathNodes = res.pathSteps(b.Path)
	if r := b.AfterReset; r != nil {
		p := &ResetPart{AtLeast: r.AtLeast, BeforeResetAtLeast: b.Relative, Function: r.Function, Addr: r.Addr, Detail: r.Detail, Stack: r.Stack}
		if b.Bounded {
			after, before := r.AtLeast, b.Relative
			p.Bound, p.BeforeReset = &after, &before
		}
		p.File, p.Line = res.lineAt(r.Addr)
		p.Path, p.Steps, _ = res.pathSteps(r.Path)
		e.AfterReset = p
	}
	return e
}

// pathSteps gives a worst path's names, frames and nodes.
func (res *Result) pathSteps(path []bound.Step) ([]string, []PathStep, []int) {
	if len(path) == 0 {
		return nil, nil, nil
	}
	// Made to the path's length (a large library's entries keep a million
	// steps; see chainSteps).
	names, steps, nodes := make([]string, 0, len(path)), make([]PathStep, 0, len(path)), make([]int, 0, len(path))
	for _, st := range path {
		names = append(names, st.Name)
		nodes = append(nodes, st.Node)
		ps := PathStep{Function: st.Name, Frame: st.Frame, RedZone: st.RedZone, Kind: st.Kind.String(), TailCall: st.TailCall,
			CallerKept: st.Kept, Recursion: st.Cycle, Depth: st.Depth}
		if n := res.Graph.Nodes[st.Node]; n.Module == res.Graph.Modules[0] && n.Func != nil {
			if l, ok := res.Lines.Func(n.Func.Addr); ok {
				ps.File, ps.Line = l.File, l.Line
			}
		}
		steps = append(steps, ps)
	}
	return names, steps, nodes
}

// userRoots are the nodes of the entries the user named (--entry or
// stackscope.toml), not taken from the vector table.
func userRoots(specs []bound.Spec) []int {
	var out []int
	for _, s := range specs {
		if s.Kind == "user" || s.Kind == "config" {
			out = append(out, s.Node)
		}
	}
	return out
}

// locateReasons gives the reasons in the analysed file their source lines.
func (res *Result) locateReasons(reasons []bound.Reason) {
	for i := range reasons {
		if r := &reasons[i]; r.Library == "" {
			r.File, r.Line = res.lineAt(r.Addr)
		}
	}
}

// sameList says whether a and b are the same list (not only equal).
func sameList[T any](a, b []T) bool {
	return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0]
}

// lineAt gives the source line of an address of the analysed file.
func (res *Result) lineAt(addr uint64) (string, int) {
	if addr == 0 {
		return "", 0
	}
	l, _ := res.Lines.At(addr)
	return l.File, l.Line
}

// functions lists the main module's functions in address order. With
// release (Options.ResultOnly: it is the graph's last reader), it lets
// each node's frame, edges and call sites go once it has read them, so
// that the list (libLLVM-15: 37 MB) takes the place of the graph's 170
// MB of edges and call sites instead of adding to them; what a callee's
// name needs (QualifiedName) stays.
func functions(g *callgraph.Graph, lines *srcloc.Table, release, onDemand bool) []Function {
	main := g.Modules[0]
	listed := func(n *callgraph.Node) bool { return n.Module == main && n.Func != nil && n.Summary == "" }
	// Made at its size: the program's copies of functions (one per
	// constant callback) are nodes past its functions, and growing the
	// list of /usr/bin/node's 77,000 moved 15 MB.
	count := 0
	for _, n := range g.Nodes {
		if listed(n) {
			count++
		}
	}
	out := make([]Function, count)
	// Written once per page first (pages.Touch): the list is filled
	// beside the lower bounds, often while a collection marks, and then
	// the write barrier of each entry's copy read its page first, and the
	// copy faulted again to write it (perf, node: 3,458 write-protect
	// faults here, each with a TLB flush to the other core).
	pages.Touch(out, func(fn *Function) { fn.Node = 0 })
	out = out[:0]
	names := newCalleeNames(g, onDemand)
	for id, n := range g.Nodes {
		if listed(n) {
			out = append(out, functionOf(id, n, names, lines))
		}
		if release {
			releaseNode(n)
		}
	}
	// In the order sort.Slice on the list gives (functions at one address,
	// copies of a function, included), each moved once.
	permute.SortByAddr(out, func(fn *Function) uint64 { return fn.Addr })
	return out
}

// functionOf is node id's entry in the list of functions.
func functionOf(id int, n *callgraph.Node, names *calleeNames, lines *srcloc.Table) Function {
	fr := n.Frame
	fn := Function{Node: id,
		Addr: n.Func.Addr, Size: n.Func.Size, FrameKind: fr.Kind.String(),
		FrameAtLeast: fr.Size, RedZone: fr.RedZone, Source: n.Func.Source, Calls: []string{},
		IndirectCallSites: []uint64{},
	}
	if fr.Kind == frame.Static {
		v := fr.Size
		fn.Frame = &v
	} else {
		fn.Reason = fr.Reason
	}
	if names.onDemand {
		fn.node, fn.Calls = n, nil
	} else {
		fn.Name, fn.Calls = n.Name(), names.calls(n.Edges)
	}
	// Every call through a register or memory whose target the code
	// does not name (a GOT slot names its import), resolved or not.
	for _, cs := range fr.Calls {
		if cs.Kind.Indirect() && !cs.HasSlot {
			fn.IndirectCalls++
			fn.IndirectCallSites = append(fn.IndirectCallSites, cs.Addr)
		}
	}
	fn.UnresolvedIndirect = len(n.Unresolved)
	fn.AssumedIndirect = len(n.Assumed)
	for _, a := range n.Assumed {
		if fn.AssumedMethods == nil {
			fn.AssumedMethods = map[string]int{}
		}
		fn.AssumedMethods[a.Method.String()]++
	}
	if l, ok := lines.Func(n.Func.Addr); ok {
		fn.File, fn.Line = l.File, l.Line
	}
	if m := fr.CFIMismatch; m != nil {
		fn.CFIMismatch = &CFIMismatch{PC: m.PC, CFA: m.CFA}
	}
	return fn
}

// releaseNode lets go of what a node holds beyond its name and place (what
// QualifiedName reads): its frame, edges, call sites and premises.
func releaseNode(n *callgraph.Node) {
	n.Frame = frame.Frame{}
	n.Edges, n.Unresolved, n.Assumed, n.Premises = nil, nil, nil, nil
	n.ReleaseRare()
}

// calleeNames gives the names of the functions a function calls, each
// library function's qualified name made once (callgraph.QualifiedNames):
// built per call, the same "name (library)" strings were 30 MB of
// libLLVM-15's live heap.
// Which callees a list has named already is a mark per node (seen[to] ==
// mark): a scan of the edges before each edge (they were thought short)
// was half the list's time on /usr/bin/node, whose largest functions
// make hundreds of calls.
type calleeNames struct {
	names    *callgraph.QualifiedNames
	onDemand bool // Options.NamesOnDemand: no names, no calls
	seen     []uint32
	mark     uint32
}

func newCalleeNames(g *callgraph.Graph, onDemand bool) *calleeNames {
	return &calleeNames{names: g.QualifiedNames(), onDemand: onDemand, seen: make([]uint32, len(g.Nodes))}
}

// calls are the qualified names of the nodes edges go to, each once, in
// the order of the edges, in a list of that length (never nil).
func (c *calleeNames) calls(edges []callgraph.Edge) []string {
	n := 0
	c.next()
	for _, e := range edges {
		if c.seen[e.To] != c.mark {
			c.seen[e.To] = c.mark
			n++
		}
	}
	out := make([]string, 0, n)
	c.next()
	for _, e := range edges {
		if c.seen[e.To] != c.mark {
			c.seen[e.To] = c.mark
			out = append(out, c.names.Of(e.To))
		}
	}
	return out
}

// next starts a new mark (every node unmarked).
func (c *calleeNames) next() {
	c.mark++
	if c.mark == 0 { // (wrapped: marks of 2^32 lists ago would match)
		clear(c.seen)
		c.mark = 1
	}
}

// entrySpecs picks the entry points: the user's, or the defaults for the
// kind of file (the vector table for firmware; main and the ELF entry for a
// program; the exported functions of a shared object).
func entrySpecs(f *binfile.File, g *callgraph.Graph, opts Options) ([]bound.Spec, *binfile.VectorTable, error) {
	var extra []string
	if c := opts.Config; c != nil && len(opts.Entries) == 0 && len(c.Entries) > 0 {
		if c.ReplaceEntries {
			opts.Entries = c.Entries
		} else {
			extra = c.Entries
		}
	}
	specs, vt, err := defaultEntrySpecs(f, g, opts)
	if err != nil {
		return nil, nil, err
	}
	for _, name := range extra {
		fn, ok := f.Lookup(name)
		if !ok {
			return nil, nil, &binfile.InputError{Path: opts.Config.Path, Problem: fmt.Sprintf("entry %q is not a function of %s", name, f.Path)}
		}
		fi, _ := f.FunctionIndex(fn.Addr)
		specs = append(specs, bound.Spec{Name: fn.Name(), Node: g.Node(g.Modules[0], fi), Kind: "config"})
	}
	return specs, vt, nil
}

// defaultEntrySpecs picks the user's entries or the defaults.
func defaultEntrySpecs(f *binfile.File, g *callgraph.Graph, opts Options) ([]bound.Spec, *binfile.VectorTable, error) {
	main := g.Modules[0]
	node := func(fn *binfile.Function) int {
		fi, _ := f.FunctionIndex(fn.Addr)
		return g.Node(main, fi)
	}
	vt := f.VectorTable()
	var specs []bound.Spec
	if len(opts.Entries) > 0 {
		for _, name := range opts.Entries {
			fn, ok := f.Lookup(name)
			if !ok {
				return nil, nil, &binfile.InputError{Path: f.Path, Problem: fmt.Sprintf("no function named %q (--entry)", name)}
			}
			specs = append(specs, bound.Spec{Name: fn.Name(), Node: node(fn), Kind: "user"})
		}
		return specs, vt, nil
	}
	if vt != nil {
		seen := map[uint64]bool{}
		for _, v := range vt.Vectors {
			if seen[v.Handler] {
				continue
			}
			seen[v.Handler] = true
			fn, ok := f.FunctionAt(v.Handler)
			if !ok {
				continue // reported by interrupts as a handler without a function
			}
			specs = append(specs, bound.Spec{Name: fn.Name(), Node: node(fn), Kind: binfile.ExceptionKind(v.Index)})
		}
		return specs, vt, nil
	}
	if fn, ok := f.Lookup("main"); ok {
		specs = append(specs, bound.Spec{Name: fn.Name(), Node: node(fn), Kind: "main"})
	}
	if fn, ok := f.FunctionAt(f.Entry); ok && f.Entry != 0 && !f.Shared {
		if len(specs) == 0 || specs[0].Node != node(fn) {
			specs = append(specs, bound.Spec{Name: fn.Name(), Node: node(fn), Kind: "start"})
		}
	}
	if f.Shared || (len(specs) == 0 && f.Type == elf.ET_DYN) {
		for i := range f.Functions {
			fn := &f.Functions[i]
			if fn.Exported && !fn.IFunc {
				specs = append(specs, bound.Spec{Name: fn.Name(), Node: node(fn), Kind: "export"})
			}
		}
	}
	if len(specs) == 0 {
		// Nothing conventional: every function that nothing calls.
		called := map[uint64]bool{}
		for _, n := range g.Nodes {
			for _, e := range n.Edges {
				if t := g.Nodes[e.To]; t.Func != nil {
					called[t.Func.Addr] = true
				}
			}
		}
		for i := range f.Functions {
			fn := &f.Functions[i]
			if !called[fn.Addr] && fn.Global {
				specs = append(specs, bound.Spec{Name: fn.Name(), Node: node(fn), Kind: "root"})
			}
		}
	}
	return specs, nil, nil
}
