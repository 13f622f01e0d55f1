package analysis

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/bound"
)

// Hardware exception frames on Cortex-M: r0-r3, r12, lr, pc, xPSR; with the
// FPU context also s0-s15, FPSCR and a reserved word. Entry may add 4 bytes
// to align SP to 8.
const (
	basicExceptionFrame    = 32
	extendedExceptionFrame = 104
	alignmentPadding       = 4
)

// InterruptConfig is the Cortex-M nesting model: handlers listed in one
// group share a priority level and cannot preempt each other.
type InterruptConfig struct {
	Groups [][]string
}

// Interrupts is the main-stack total for firmware: the reset path plus
// every handler that can be active at once.
type Interrupts struct {
	ExceptionFrame int64     `json:"exception_frame"`
	FPContext      bool      `json:"fp_context"`
	InitialSP      uint64    `json:"initial_sp"`
	VectorTable    string    `json:"vector_table"`
	Handlers       []Handler `json:"handlers"`
	Reset          *int64    `json:"reset"`
	// Total is null when any part is not bounded; TotalAtLeast is then a
	// lower bound.
	Total        *int64   `json:"total"`
	TotalAtLeast int64    `json:"total_at_least"`
	Bounded      bool     `json:"bounded"`
	Levels       []Level  `json:"levels"`
	Unbounded    []string `json:"unbounded"`
	// Priorities are the vectors' priorities as read from the code (see
	// priorities.go); PriorityGrouping says how PRIGROUP was found.
	Priorities       []VectorPriority `json:"priorities"`
	PriorityGrouping string           `json:"priority_grouping,omitempty"`
	// Phases, when some code sets SP to the top of the main stack, are
	// the ways the stack is used (see resetPhases); Total is the largest,
	// named by Applies. Reset is then the startup phase's path alone.
	Phases  []Phase `json:"phases,omitempty"`
	Applies string  `json:"applies,omitempty"`
	// Model is ModelRISCV for RISC-V traps (riscvtotal.go); empty for
	// Cortex-M. Reasons say why the nesting is not bounded, each with its
	// fix; Assumes, what the total rests on.
	Model   string   `json:"model,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	Assumes []string `json:"assumes,omitempty"`
}

// Handler is one distinct exception or interrupt handler.
type Handler struct {
	Name    string   `json:"name"`
	Kind    string   `json:"kind"`
	Vectors []string `json:"vectors"`
	Bounded bool     `json:"bounded"`
	// Bound includes the exception frame and alignment padding.
	Bound   *int64 `json:"bound"`
	AtLeast int64  `json:"at_least"`
	Level   int    `json:"level"`
	// Levels are all the levels it is on: one per group priority of its
	// vectors (Level is the first).
	Levels []int `json:"levels"`
	// Priority is set when all its vectors have one known priority;
	// PrioritySource says where the priorities come from.
	Priority       *int   `json:"priority"`
	PrioritySource string `json:"priority_source"`
	// Reenables is where a RISC-V trap handler may set mstatus.MIE again
	// (then traps nest on its stack); nil when it cannot.
	Reenables *Reenable `json:"reenables_interrupts,omitempty"`
	// OwnStack is the stack a RISC-V trap handler switches to (riscvisr.go);
	// nil when it runs on the stack it interrupts.
	OwnStack *TrapStack `json:"own_stack,omitempty"`
}

// Level is a priority level: only its heaviest handler counts.
type Level struct {
	Handlers []string `json:"handlers"`
	Heaviest string   `json:"heaviest"`
	Adds     int64    `json:"adds"`
	// Basis: "priority" (Priority is the group priority of its
	// handlers), "configured" (a stackscope.toml group) or "assumed" (a
	// handler whose priority is not known, on a level of its own).
	Basis    string `json:"basis"`
	Priority *int   `json:"priority"`
	// Depth is, on RISC-V, how many activations of a re-enabling handler
	// the level counts ([[recursion]]; 0: no limit declared, counted once
	// in the lower bound).
	Depth int64 `json:"depth,omitempty"`
}

func interrupts(f *binfile.File, res *Result, vt *binfile.VectorTable, cfg InterruptConfig) *Interrupts {
	in := &Interrupts{ExceptionFrame: basicExceptionFrame, InitialSP: vt.InitialSP, VectorTable: vt.Section, Bounded: true, Handlers: []Handler{}, Unbounded: []string{}}
	if f.UsesFloatingPoint() {
		in.ExceptionFrame, in.FPContext = extendedExceptionFrame, true
	}
	extra := in.ExceptionFrame + alignmentPadding
	byHandler := map[uint64]*Handler{}
	vectors := map[string][]int{} // exception numbers by handler name
	var resetAddr uint64
	var order []uint64
	for _, v := range vt.Vectors {
		if v.Index == 1 {
			resetAddr = v.Handler
			continue
		}
		h, ok := byHandler[v.Handler]
		if !ok {
			name := fmt.Sprintf("handler@%#x", v.Handler)
			if fn, ok := f.FunctionAt(v.Handler); ok {
				name = fn.Name()
			}
			h = &Handler{Name: name, Kind: binfile.ExceptionKind(v.Index), Level: -1}
			byHandler[v.Handler] = h
			order = append(order, v.Handler)
		}
		h.Vectors = append(h.Vectors, binfile.ExceptionName(v.Index))
		vectors[h.Name] = append(vectors[h.Name], v.Index)
	}
	entryOf := func(addr uint64) (bound.Entry, bool) {
		fn, ok := f.FunctionAt(addr)
		if !ok {
			return bound.Entry{}, false
		}
		fi, _ := f.FunctionIndex(fn.Addr)
		node := res.Graph.Node(res.Graph.Modules[0], fi)
		return res.Bounds.Entry(bound.Spec{Name: fn.Name(), Node: node}), true
	}
	resetEntry, haveReset := entryOf(resetAddr)
	afterReset := map[string]bound.Entry{}
	if e, ok := resetEntry, haveReset; ok {
		// Without an SP reset Relative is the whole entry; with one, the
		// part after it is a phase of its own (resetPhases).
		in.TotalAtLeast += e.Relative
		if e.Bounded {
			v := e.Relative
			in.Reset = &v
		} else {
			in.Bounded = false
			in.Unbounded = append(in.Unbounded, e.Name)
		}
	} else {
		in.Bounded = false
		in.Unbounded = append(in.Unbounded, fmt.Sprintf("reset handler at %#x (no function there)", resetAddr))
	}
	for _, addr := range order {
		h := byHandler[addr]
		e, ok := entryOf(addr)
		if ok {
			// What the handler adds on top of what it interrupted: the
			// part before any SP reset (the rest is a phase of its own).
			h.AtLeast = e.Relative + extra
			h.Bounded = e.Bounded
			if e.Bounded {
				v := e.Relative + extra
				h.Bound = &v
			}
			if e.AfterReset != nil {
				afterReset[h.Name] = e
			}
		} else {
			h.AtLeast = extra
		}
		if !h.Bounded {
			in.Bounded = false
			in.Unbounded = append(in.Unbounded, h.Name)
		}
		in.Handlers = append(in.Handlers, *h)
	}
	// Priority levels: configured groups, the priorities the code sets,
	// and a level of its own for each handler whose priority is not known.
	assignLevels(in, vectors, findPriorities(res), cfg)
	var levels []Level
	for _, l := range in.Levels {
		if len(l.Handlers) > 0 {
			levels = append(levels, l)
			in.TotalAtLeast += l.Adds
		}
	}
	in.Levels = levels
	if haveReset && resetEntry.AfterReset != nil || len(afterReset) > 0 {
		resetPhases(in, resetEntry, afterReset)
	}
	if in.Bounded {
		v := in.TotalAtLeast
		in.Total = &v
	}
	return in
}
