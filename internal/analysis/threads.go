package analysis

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/threads"
)

// Thread is one thread or task the program creates, judged against the
// bound of its entry function (the "threads" key of the JSON).
type Thread struct {
	Entry     string `json:"entry"`
	CreatedBy string `json:"created_by"`
	// Creator is the function called (pthread_create, clone, xTaskCreate,
	// xTaskCreateStatic, k_thread_create) or K_THREAD_DEFINE.
	Creator string `json:"creator"`
	// Site is the address of the call (0 for a static definition).
	Site uint64 `json:"site"`
	// File and Line are where Site is in the source (DWARF).
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// StackSize is null when not found; SizeSource says where it came
	// from (a configured budget, an argument, an allocation, a symbol, a
	// default); DefaultSize marks a platform default.
	StackSize *int64 `json:"stack_size"`
	// SizeAtLeast: the stack is only known to be at least StackSize (a
	// pthread whose size is set elsewhere or at run time: glibc's minimum).
	SizeAtLeast bool   `json:"size_at_least,omitempty"`
	SizeSource  string `json:"size_source"`
	DefaultSize bool   `json:"default_size,omitempty"`
	// StackBuffer is the data symbol of a static stack, when known.
	StackBuffer string `json:"stack_buffer,omitempty"`
	// Bound is the entry's worst case (null when not bounded); AtLeast a
	// depth it certainly reaches. Context is what the platform adds on the
	// same stack (Cortex-M exception frame, saved registers).
	Bound       *int64 `json:"bound"`
	AtLeast     int64  `json:"at_least"`
	Context     int64  `json:"context,omitempty"`
	ContextNote string `json:"context_note,omitempty"`
	// Status is "ok", "overflow" or "unknown"; Verdict the text ("overflow
	// by at least 312 bytes"); Over the bytes over; Reason why unknown.
	Status  string         `json:"status"`
	Verdict string         `json:"verdict"`
	Over    int64          `json:"over,omitempty"`
	Reason  string         `json:"reason,omitempty"`
	Path    []string       `json:"path"`
	Reasons []bound.Reason `json:"reasons"`
	// AfterEntry (pthreads): what glibc's start_thread runs on the same
	// stack after the entry returns, from the entry's CFA as Bound is.
	AfterEntry *AfterEntry `json:"after_entry,omitempty"`
	// Need is what the verdict compares with the stack: Context plus the
	// larger of Bound and AfterEntry's bound; with NeedAtLeast, a depth
	// the code certainly reaches instead (one of them has no bound).
	Need        int64 `json:"need"`
	NeedAtLeast bool  `json:"need_at_least,omitempty"`
}

// findThreads finds the threads and tasks of the analysed file and judges
// each against its entry's bound. Thread entries are usually reached only
// through the creation call, so they get their own bound analysis with
// the same options. A [budgets.threads] entry (by entry function name)
// replaces the stack size found in the code.
func findThreads(res *Result, opts Options) []Thread { return findThreadsWith(res, opts, nil) }

// findThreadsWith is findThreads, the threads' entries bounded by the
// entries' bound when it covers them (entries: nil, or see entriesBound).
func findThreadsWith(res *Result, opts Options, entries *entriesBound) []Thread {
	out := []Thread{}
	g := res.Graph
	if g == nil {
		return out
	}
	sites := threads.Find(g)
	if len(sites) == 0 {
		return out
	}
	var roots []int
	for _, s := range sites {
		if s.EntryNode >= 0 {
			roots = append(roots, s.EntryNode)
		}
	}
	// glibc's start_thread: its other calls are analysed with the entries
	// (afterEntryPart) when the program creates a pthread.
	var ae threads.AfterEntry
	pthreads := false
	for _, s := range sites {
		pthreads = pthreads || s.Pthread() && s.EntryNode >= 0
	}
	if pthreads {
		ae = threads.StartThread(g, g.Decoder.ReturnAddressSize())
		roots = append(roots, afterEntryRoots(ae)...)
	}
	var ba *bound.Analysis
	var bo bound.Options
	if len(roots) > 0 {
		cfg := opts.Config
		if cfg == nil {
			cfg = checkAnnotations(res.File, nil, &res.Warnings)
		}
		bo = boundOptions(g, cfg)
		if ba = entries.forRoots(bo, roots); ba != nil {
			res.threadsSharedBound = true
		} else {
			ba = bound.New(g, roots, bo)
		}
	}
	var after *AfterEntry
	if pthreads {
		after = afterEntryPart(res, g, ae, ba, bo)
	}
	trapCtx := riscvTrapContext(res)
	for _, s := range sites {
		s = withTrapContext(trapCtx, s)
		t := Thread{Entry: s.Entry, CreatedBy: s.CreatedBy, Creator: s.Creator, Site: s.Addr, SizeSource: s.SizeSource,
			DefaultSize: s.Default, SizeAtLeast: s.SizeMin, StackBuffer: s.StackBuffer, Context: s.Context, ContextNote: s.ContextNote, Path: []string{}, Reasons: []bound.Reason{}}
		t.File, t.Line = res.lineAt(s.Addr)
		var b bound.Entry
		var lower int64 // the entry's certain depth (threads.LowerBound)
		if s.EntryNode >= 0 && ba != nil {
			b = ba.Entry(bound.Spec{Name: s.Entry, Node: s.EntryNode, Kind: "thread"})
			e := res.entryResult(b)
			t.Bound, t.AtLeast, t.Path, t.Reasons = e.Bound, e.AtLeast, e.Path, e.Reasons
			if !b.Bounded {
				// Without a bound, judge by a depth the entry certainly
				// reaches: a chain of calls the code names (the bound's
				// own lower bound may go through assumed targets).
				lb, steps := threads.LowerBound(g, s.EntryNode, threads.LowerOptions{Excluded: bo.Excluded, Overrides: bo.Overrides})
				b.AtLeast, t.AtLeast, t.Path = lb, lb, nil
				lower = lb
				for _, st := range steps {
					t.Path = append(t.Path, st.Name)
				}
			}
			if t.Path == nil {
				t.Path = []string{}
			}
			if s.Pthread() && after != nil {
				t.AfterEntry = after
				if b.Bounded && (!after.Counted || after.Bound == nil) {
					lower, _ = threads.LowerBound(g, s.EntryNode, threads.LowerOptions{Excluded: bo.Excluded, Overrides: bo.Overrides})
				}
				b = withAfterEntry(b, lower, after)
				if !after.Counted {
					t.Reasons = append([]bound.Reason{b.Reasons[0]}, t.Reasons...) // the part not counted
				}
			}
		}
		var override int64
		if c := opts.Config; c != nil {
			if v, ok := c.Budgets.Threads[s.Entry]; ok && v > 0 {
				override = int64(v)
				t.SizeSource = "[budgets.threads] in " + c.Path
				t.DefaultSize, t.SizeAtLeast = false, false
			}
		}
		v := judgeWithTrapContext(trapCtx, s, threads.Judge(s, b, override))
		if s.SizeKnown || override > 0 {
			size := s.Size
			if override > 0 {
				size = override
			}
			t.StackSize = &size
			if file, line := res.lineAt(s.SizeWhyAt); s.SizeMin && override == 0 && s.SizeWhyAt != 0 && file != "" {
				// the attributes were lost at a call: say which one
				t.SizeSource += fmt.Sprintf(" (the call at %s:%d)", file, line)
			}
		} else {
			t.SizeSource = "not found: " + s.SizeWhy
			if file, line := res.lineAt(s.SizeWhyAt); s.SizeWhyAt != 0 && file != "" {
				t.SizeSource += fmt.Sprintf(" (the call at %s:%d)", file, line)
				v.Why += fmt.Sprintf(" (the call at %s:%d)", file, line)
			}
		}
		t.Status, t.Verdict, t.Over, t.Reason = v.Status, v.Text(), v.Over, v.Why
		t.Need, t.NeedAtLeast = v.Need, !b.Bounded
		out = append(out, t)
	}
	return out
}
