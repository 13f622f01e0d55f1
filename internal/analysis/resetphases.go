package analysis

import (
	"sort"

	"github.com/stackscope/stackscope/internal/bound"
)

// Phase is one way the main stack is used when code sets SP to its top
// (a reset, see frame.Reset): the stack before is given back and what
// follows starts from depth 0.
type Phase struct {
	// Name is "startup" (the reset path up to the SP reset), "scheduler"
	// (what the reset path runs after it), or "<handler> after reset".
	Name string `json:"name"`
	// Path is the phase's own depth (at least, when not bounded) and
	// Handlers the heaviest handler of each priority level that can
	// preempt it, adding Adds with their exception frames.
	Path     int64    `json:"path"`
	Handlers []string `json:"handlers"`
	Adds     int64    `json:"adds"`
	AtLeast  int64    `json:"at_least"`
	// Function and Addr are where SP is reset (not for startup).
	Function string `json:"function,omitempty"`
	Addr     uint64 `json:"addr,omitempty"`
}

// resetPhases makes the main-stack total the largest of:
//   - startup: the reset path before its SP reset plus every level (as
//     without a reset: which handlers can fire before the scheduler
//     enables interrupts cannot be proved in general);
//   - scheduler: the reset path's part after the reset, from depth 0,
//     plus every level;
//   - for a handler that resets SP (a stackless HardFault handler): its
//     part after the reset plus the levels that can still preempt it. Its
//     exception frame and the code before the reset are already its level
//     in the other phases.
func resetPhases(in *Interrupts, reset bound.Entry, handlers map[string]bound.Entry) {
	var all int64
	var allNames []string
	for _, l := range in.Levels {
		all += l.Adds
		allNames = append(allNames, l.Heaviest)
	}
	add := func(p Phase) {
		p.AtLeast = p.Path + p.Adds
		in.Phases = append(in.Phases, p)
	}
	// The startup phase: what the total was before, Relative-based.
	add(Phase{Name: "startup", Path: in.TotalAtLeast - all, Handlers: allNames, Adds: all})
	if r := reset.AfterReset; r != nil {
		add(Phase{Name: "scheduler", Path: r.AtLeast, Handlers: allNames, Adds: all, Function: r.Function, Addr: r.Addr})
	}
	names := make([]string, 0, len(handlers))
	for name := range handlers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := handlers[name].AfterReset
		lv := preemptors(in, name)
		p := Phase{Name: name + " after reset", Path: r.AtLeast, Function: r.Function, Addr: r.Addr, Handlers: []string{}}
		for _, l := range lv {
			p.Handlers = append(p.Handlers, l.Heaviest)
			p.Adds += l.Adds
		}
		add(p)
	}
	best := 0
	for i, p := range in.Phases {
		if p.AtLeast > in.Phases[best].AtLeast {
			best = i
		}
	}
	in.TotalAtLeast = in.Phases[best].AtLeast
	in.Applies = in.Phases[best].Name
}

// preemptors are the levels that can preempt handler name: for a handler
// of HardFault alone, NMI's (HardFault's priority is -1, only NMI's -2 is
// higher); for NMI alone, none; otherwise every level but its own. A
// handler on several levels (vectors of different priorities) runs at one
// of them, which one is not known, and the others may preempt it there:
// only its lightest level is left out, which gives the largest sum.
func preemptors(in *Interrupts, name string) []Level {
	var h Handler
	for _, x := range in.Handlers {
		if x.Name == name {
			h = x
		}
	}
	only := func(vec string) bool {
		for _, v := range h.Vectors {
			if v != vec {
				return false
			}
		}
		return len(h.Vectors) > 0
	}
	own := -1 // the one level of its own left out
	for i, l := range in.Levels {
		if contains(l.Handlers, name) && (own < 0 || l.Adds < in.Levels[own].Adds) {
			own = i
		}
	}
	var out []Level
	for i, l := range in.Levels {
		switch {
		case only("NMI"):
		case only("HardFault"):
			if levelHasVector(in, l, "NMI") {
				out = append(out, l)
			}
		case i != own:
			out = append(out, l)
		}
	}
	return out
}

func levelHasVector(in *Interrupts, l Level, vec string) bool {
	for _, h := range in.Handlers {
		if contains(l.Handlers, h.Name) && contains(h.Vectors, vec) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
