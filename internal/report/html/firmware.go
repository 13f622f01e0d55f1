package html

import (
	"fmt"
	"math"
	"strings"

	"github.com/stackscope/stackscope/internal/emu"
	"github.com/stackscope/stackscope/internal/size"
)

// htmlFwStack is one stack of a firmware run (`stackscope run
// FIRMWARE.elf`), in the units of run's own table; the script builds its
// rows and its deepest path (Path) from the page's data.
type htmlFwStack struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Peak     string `json:"peak"`
	Size     string `json:"size"`
	Headroom string `json:"headroom"`
	Bound    string `json:"bound"`
	Check    string `json:"check"`
	Bad      bool   `json:"bad"`
	// Notes say why a stack was not measured, what its bound adds up, or
	// why it has no deepest path.
	Notes []string `json:"notes"`
	// Deepest is the write that reached the peak ("" without --deepest);
	// Path the measured frames beside the static worst path, outermost
	// first.
	Deepest string       `json:"deepest,omitempty"`
	Path    []htmlFwStep `json:"path"`
}

// htmlFwStep is one row of a deepest path: the measured frame and the
// static worst path's function at the same level.
type htmlFwStep struct {
	Measured string `json:"m,omitempty"`
	Frame    string `json:"frame,omitempty"`
	Source   string `json:"src,omitempty"`
	Static   string `json:"s,omitempty"`
}

// fwStack is one stack of a firmware run as the page shows it: the check
// is the one run's text table makes (a peak above a bounded static bound
// is an analysis bug, never "holds").
func fwStack(s *emu.StackResult) htmlFwStack {
	hs := htmlFwStack{Name: s.Name, Kind: s.Kind, Peak: "-", Size: size.FormatCapacity(s.Size), Headroom: "-", Check: "not measured",
		Bound: "not bounded", Notes: []string{}, Path: []htmlFwStep{}}
	if s.Peak != nil {
		hs.Peak = size.Format(*s.Peak)
		hs.Headroom = fwHeadroom(s.Size, *s.Peak)
		hs.Check = "no static bound"
		switch {
		case s.Overflowed:
			hs.Peak, hs.Headroom, hs.Check, hs.Bad = "≥ "+size.Format(s.Size), "none", "OVERFLOWED", true
		case s.BoundExceeded():
			hs.Check, hs.Bad = fmt.Sprintf("ANALYSIS BUG: %s over the bound", size.Format(*s.Peak-*s.StaticBound)), true
		case s.StaticBound != nil:
			hs.Check = "bound holds"
		}
	}
	if s.StaticBound != nil {
		hs.Bound = size.Format(*s.StaticBound)
	} else if s.StaticAtLeast > 0 {
		hs.Bound = "≥ " + size.Format(s.StaticAtLeast)
	}
	if s.NotMeasured != "" {
		hs.Notes = append(hs.Notes, "not measured: "+s.NotMeasured)
	}
	if s.Note != "" {
		hs.Notes = append(hs.Notes, s.Note)
	}
	if s.Peak != nil && s.ResetBound != nil && s.StaticBound != nil && *s.StaticBound != *s.ResetBound {
		hs.Notes = append(hs.Notes, "the static bound is the reset path's "+size.Format(*s.ResetBound)+" plus the interrupt levels; the run measures only what ran")
	}
	d := s.Deepest
	if d == nil {
		if s.DeepestNote != "" && s.Peak != nil {
			hs.Notes = append(hs.Notes, "no deepest path: "+s.DeepestNote)
		}
		for _, fn := range s.StaticPath {
			hs.Path = append(hs.Path, htmlFwStep{Static: fn})
		}
		return hs
	}
	loc := ""
	if d.File != "" {
		loc = fmt.Sprintf(" (%s:%d)", d.File, d.Line)
	}
	hs.Deepest = fmt.Sprintf("deepest write %s at %#x in %s%s, sp %#x", size.Format(d.Depth), d.PC, d.Function, loc, d.SP)
	if d.Note != "" {
		hs.Deepest += "; " + d.Note
	}
	n := len(d.Backtrace)
	for i := 0; i < max(n, len(s.StaticPath)); i++ {
		var st htmlFwStep
		if i < n {
			f := d.Backtrace[n-1-i] // the backtrace is innermost first
			st.Measured, st.Frame = f.Function, size.Format(f.Size)
			if f.File != "" {
				st.Source = fmt.Sprintf("%s:%d", f.File, f.Line)
			}
		}
		if i < len(s.StaticPath) {
			st.Static = s.StaticPath[i]
		}
		hs.Path = append(hs.Path, st)
	}
	return hs
}

// fwHeadroom is what is left of the stack, as a capacity (rounded down)
// and a share (rounded down): larger than it is would look safer.
func fwHeadroom(sz, peak int64) string {
	if sz <= 0 || peak >= sz {
		return "none"
	}
	return fmt.Sprintf("%s (%.1f%%)", size.FormatCapacity(sz-peak), math.Floor(1000*float64(sz-peak)/float64(sz))/10)
}

// fwRunBad: a stack overflowed or exceeded its bound, or the firmware
// crashed (the run's exit status 1 cases, without the firmware's own).
func fwRunBad(r *emu.Result) bool {
	for i := range r.Stacks {
		if r.Stacks[i].Overflowed || r.Stacks[i].BoundExceeded() {
			return true
		}
	}
	switch r.Stop.Kind {
	case "hardfault", emu.StopLockup, emu.StopQEMUDied:
		return true
	}
	return false
}

// fwStopLine is how the run ended, as run's text says it.
func fwStopLine(r *emu.Result) string {
	s := "stop: " + r.Stop.Kind + ", " + r.Stop.Detail
	if r.Stop.Where != "" && r.Stop.Kind != "until" {
		s += ", at " + r.Stop.Where
	}
	return s
}

// htmlInjection is an injected overflow's timeline (`stackscope inject`),
// filled in by the template: each step in the order it happened.
type htmlInjection struct {
	File      string
	Headline  string
	Bad       bool
	Setting   string // the board and the stack
	Guard     string
	Differs   string
	Steps     []htmlInjStep
	Verdict   string
	Predicted string
	Disagree  string
	Warnings  []string
}

// htmlInjStep is one step of the timeline: Name is its kind (fired,
// first-write, objects, fault, handler, end), Text what happened, Fn the
// function it happened in (a link to its row when the table has it),
// Lines its backtrace or details, Objects the objects written.
type htmlInjStep struct {
	Name    string
	Title   string
	Text    string
	Fn      string
	Lines   []string
	Objects []htmlInjObject
}

// htmlInjObject is an object written below the stack limit: how many
// words, and which code wrote it first.
type htmlInjObject struct {
	Object, By, Fn string
	Words          int
}

// injection lays an injection out as its timeline; local says which
// functions have a row in the table.
func injection(r *emu.Injection, file string, local map[string]bool) *htmlInjection {
	link := func(fn string) string {
		if local[fn] {
			return fn
		}
		return ""
	}
	hi := &htmlInjection{File: file, Headline: r.Headline(), Bad: r.Verdict != emu.VerdictContained, Verdict: r.Verdict,
		Predicted: r.Predicted, Disagree: r.Disagree, Warnings: r.Warnings,
		Setting: fmt.Sprintf("%s on QEMU %s (%s); main stack %#x-%#x (%s)", r.Firmware, r.Machine, r.CPU, r.StackLimit, r.StackTop,
			size.FormatCapacity(int64(r.StackTop-r.StackLimit))),
		Guard: r.Guard.Mechanism + ": " + r.Guard.Note, Differs: r.Guard.Differs}
	if hi.Predicted == "" {
		hi.Predicted = "no prediction"
	}
	fired := htmlInjStep{Name: "fired", Title: "fired", Text: fmt.Sprintf("--stack %d: the initial SP lowered to %#x", r.StackSize, r.FiredSP)}
	if r.Fired == "at" {
		fired.Text = fmt.Sprintf("--at %s: SP moved to %#x, %s above the limit, when it was entered", r.FiredAt, r.FiredSP, size.Format(emu.AtSlack))
		fired.Fn = link(r.FiredAt)
		if r.Restored {
			fired.Text += "; put back when it returned"
		}
	}
	hi.Steps = append(hi.Steps, fired)
	if len(r.Writes) == 0 {
		text := "nothing was written below the limit"
		if r.Guard.Mechanism == emu.GuardMPU || r.Guard.Mechanism == emu.GuardMSPLIM {
			text += ": the guard stopped the first store"
		}
		hi.Steps = append(hi.Steps, htmlInjStep{Name: "first-write", Title: "first corrupted", Text: text})
	} else {
		w := r.Writes[0]
		st := htmlInjStep{Name: "first-write", Title: "first corrupted", Fn: link(whereFunction(w.Where)),
			Text: fmt.Sprintf("%#x in %s, by %s (PC %#x), SP %#x", w.Addr, w.Object, w.Where, w.PC, w.SP)}
		if len(w.Backtrace) > 1 {
			st.Lines = w.Backtrace[1:]
		}
		hi.Steps = append(hi.Steps, st)
		objs := htmlInjStep{Name: "objects", Title: "written below the limit", Text: fmt.Sprintf("%d words in %d objects", len(r.Writes), len(r.Corrupted))}
		if r.WritesTruncated {
			objs.Text = fmt.Sprintf("the first %d writes (there were more), in %d objects", len(r.Writes), len(r.Corrupted))
		}
		count, by := map[string]int{}, map[string]string{}
		for _, wr := range r.Writes {
			if count[wr.Object] == 0 {
				by[wr.Object] = wr.Where
			}
			count[wr.Object]++
		}
		for _, c := range r.Corrupted {
			objs.Objects = append(objs.Objects, htmlInjObject{Object: c, Words: count[c], By: by[c], Fn: link(whereFunction(by[c]))})
		}
		hi.Steps = append(hi.Steps, objs)
	}
	if f := r.Fault; f == nil {
		hi.Steps = append(hi.Steps, htmlInjStep{Name: "fault", Title: "fault", Text: "none: no fault handler was entered"})
	} else {
		st := htmlInjStep{Name: "fault", Title: "fault", Fn: link(f.Handler), Text: fmt.Sprintf("%s: %s entered, SP %#x", f.Vector, f.Handler, f.SP)}
		if fs := f.Status; fs != nil {
			st.Lines = append(st.Lines, fmt.Sprintf("CFSR %#08x, HFSR %#08x: %s", fs.CFSR, fs.HFSR, strings.Join(fs.Bits, " ")))
			for _, b := range fs.Bits {
				switch b {
				case "MMARVALID":
					st.Lines = append(st.Lines, fmt.Sprintf("MMFAR %#08x (the address the MemManage fault was for)", fs.MMFAR))
				case "BFARVALID":
					st.Lines = append(st.Lines, fmt.Sprintf("BFAR %#08x (the address the BusFault was for)", fs.BFAR))
				}
			}
		}
		hi.Steps = append(hi.Steps, st)
	}
	handler := htmlInjStep{Name: "handler", Title: "then", Text: r.Handler}
	if r.LockupInstr != "" {
		handler.Lines = []string{"the handler uses the stack before it checks SP: " + r.LockupInstr}
	}
	hi.Steps = append(hi.Steps, handler, htmlInjStep{Name: "end", Title: "end", Text: r.HandlerDetail})
	return hi
}

// whereFunction is the function of a location as inject writes it
// ("work+0x1a (app.c:12)"); "" when it names only an address.
func whereFunction(where string) string {
	if i := strings.Index(where, " ("); i >= 0 {
		where = where[:i]
	}
	if i := strings.LastIndex(where, "+0x"); i > 0 {
		return where[:i]
	}
	if strings.HasPrefix(where, "0x") {
		return ""
	}
	return where
}
