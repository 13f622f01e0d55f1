package analysis

import (
	"fmt"
	"strings"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/config"
)

// The main-stack total of RISC-V firmware (machine mode, one hart). A trap
// taken while mstatus.MIE is set runs on the stack it interrupts, and
// clears MIE: a handler that never sets MIE again runs with traps off to
// its end, so at most one such handler is on the stack at once, and only
// on top. A handler that sets MIE again (in its code or in a function it
// calls) can be interrupted by any handler, itself included when its
// source can fire again: the code does not show how often, so without a
// declaration that nesting has no limit. The declarations:
//   - [interrupts] groups: the handlers of one group cannot preempt each
//     other (one PLIC/CLIC priority level, the threshold raised to it
//     before MIE is set): at most one of a group's re-enabling handlers
//     is on the stack;
//   - [[recursion]] function = HANDLER depth = N: at most N activations
//     of a re-enabling handler are on the stack.
// Total = reset path + each group's heaviest re-enabling handler + each
// other re-enabling handler times its depth + the heaviest handler that
// does not re-enable (the one on top).

// ModelRISCV is Interrupts.Model for RISC-V machine-mode traps.
const ModelRISCV = "riscv-machine"

// Level bases of the RISC-V model (Level.Basis).
const (
	basisTop       = "top"        // handlers that do not set MIE again: one at a time, on top
	basisReenables = "re-enables" // one re-enabling handler, Depth times (0: no limit known)
)

// Reenable is where a trap handler may set mstatus.MIE again.
type Reenable struct {
	// Function writes mstatus at Addr; Path is the calls from the handler
	// to it (the handler alone when it is the writer).
	Function string   `json:"function"`
	Addr     uint64   `json:"addr"`
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	Path     []string `json:"path"`
}

// riscvAssumptions are what the RISC-V total rests on (said in the text
// and in the JSON).
var riscvAssumptions = []string{
	"machine mode on one hart: the hardware enters a trap on the stack it interrupts (a switch to another stack is the handler's own code, which its bound follows)",
	"no exception (ecall, a fault) is taken inside a trap handler",
}

// riscvInterrupts is the main-stack total of a RISC-V image with trap
// handlers: the ELF entry's path and the handlers by the nesting model.
func riscvInterrupts(res *Result, tr *riscvTraps, cfg *config.Config, groups [][]string) *Interrupts {
	f := res.File
	in := &Interrupts{Model: ModelRISCV, VectorTable: strings.Join(tr.tables, "; "), Bounded: true,
		Handlers: []Handler{}, Unbounded: []string{}, Priorities: []VectorPriority{}}
	in.Assumes = append(append([]string{}, riscvAssumptions...), restoreAssumptions(res, tr)...)
	if fn, ok := f.FunctionAt(f.Entry); ok && f.Entry != 0 {
		fi, _ := f.FunctionIndex(fn.Addr)
		e := res.Bounds.Entry(bound.Spec{Name: fn.Name(), Node: res.Graph.Node(res.Graph.Modules[0], fi)})
		// The larger of the parts before and after an SP reset (la sp,
		// __stack): before it, SP is whatever the loader left.
		in.TotalAtLeast += e.AtLeast
		if e.Bounded {
			v := e.Bound
			in.Reset = &v
		} else {
			in.Bounded = false
			in.Unbounded = append(in.Unbounded, e.Name)
		}
	} else {
		in.Bounded = false
		in.Unbounded = append(in.Unbounded, fmt.Sprintf("reset (no function at the ELF entry %#x)", f.Entry))
	}
	groupOf, depthOf := riscvDeclarations(res, tr, cfg, groups)
	var top *Level
	var grouped = map[int]*Level{}
	var levels []*Level
	for _, th := range tr.handlers {
		e := res.Bounds.Entry(bound.Spec{Name: th.name, Node: th.node})
		h := Handler{Name: th.name, Kind: "trap", Vectors: th.how, Bounded: e.Bounded, AtLeast: e.AtLeast}
		if e.Bounded {
			v := e.Bound
			h.Bound = &v
		} else {
			in.Bounded = false
			in.Unbounded = append(in.Unbounded, th.name)
		}
		h.Reenables = reenables(res, tr, th)
		h.OwnStack = trapStack(res, e)
		var l *Level
		switch gi, inGroup := groupOf[th.addr]; {
		case h.Reenables == nil:
			if top == nil {
				top = &Level{Basis: basisTop}
			}
			l = top
			h.PrioritySource = "does not set MIE again: runs on top, one at a time"
		case inGroup:
			if grouped[gi] == nil {
				grouped[gi] = &Level{Basis: "configured"}
				levels = append(levels, grouped[gi])
			}
			l = grouped[gi]
			h.PrioritySource = "configured group"
		default:
			l = &Level{Basis: basisReenables, Depth: depthOf[th.addr]}
			levels = append(levels, l)
			if l.Depth > 0 {
				h.PrioritySource = fmt.Sprintf("[[recursion]] depth %d", l.Depth)
			} else {
				h.PrioritySource = "sets MIE again, no limit declared"
				in.Bounded = false
				in.Unbounded = append(in.Unbounded, th.name+" nesting in itself")
				in.Reasons = append(in.Reasons, fmt.Sprintf("%s sets mstatus.MIE again (%s): any trap, %s itself included, can then nest on its stack, and the code shows no limit; "+
					"fix: [interrupts] groups = [[%q, ...]] (handlers that cannot preempt each other: one PLIC/CLIC priority level) or [[recursion]] function = %q depth = N",
					th.name, reenableWhere(*h.Reenables), th.name, th.name, th.name))
			}
		}
		l.Handlers = append(l.Handlers, h.Name)
		adds := h.AtLeast * max(l.Depth, 1)
		if l.Heaviest == "" || adds > l.Adds {
			l.Heaviest, l.Adds = h.Name, adds
		}
		in.Handlers = append(in.Handlers, h)
	}
	if top != nil {
		levels = append(levels, top)
	}
	index := map[*Level]int{}
	for i, l := range levels {
		index[l] = i
		in.Levels = append(in.Levels, *l)
		in.TotalAtLeast += l.Adds
	}
	for i := range in.Handlers {
		h := &in.Handlers[i]
		for li, l := range in.Levels {
			for _, name := range l.Handlers {
				if name == h.Name {
					h.Level = li
					h.Levels = append(h.Levels, li)
				}
			}
		}
	}
	if in.Bounded {
		v := in.TotalAtLeast
		in.Total = &v
	}
	return in
}

// riscvDeclarations reads the nesting declarations: the group of each
// handler named in [interrupts] groups, and the [[recursion]] depth of
// each handler named there (by address: any of a function's names will
// do). A group name that is no trap handler is a warning.
func riscvDeclarations(res *Result, tr *riscvTraps, cfg *config.Config, groups [][]string) (map[uint64]int, map[uint64]int64) {
	f := res.File
	isHandler := map[uint64]bool{}
	for _, th := range tr.handlers {
		isHandler[th.addr] = true
	}
	groupOf := map[uint64]int{}
	for gi, grp := range groups {
		for _, name := range grp {
			fn, ok := f.Lookup(name)
			if !ok || !isHandler[fn.Addr] {
				res.Warnings = append(res.Warnings, fmt.Sprintf("[interrupts] groups names %s, which is not a trap handler of %s; ignored", name, f.Path))
				continue
			}
			groupOf[fn.Addr] = gi
		}
	}
	depthOf := map[uint64]int64{}
	if cfg != nil {
		for _, r := range cfg.Recursion {
			if fn, ok := f.Lookup(r.Function); ok && isHandler[fn.Addr] {
				depthOf[fn.Addr] = r.Depth
			}
		}
	}
	return groupOf, depthOf
}

// reenables finds, among the handler and the functions it reaches, one
// that may set mstatus.MIE (the nearest, by calls), or nil.
func reenables(res *Result, tr *riscvTraps, th trapHandler) *Reenable {
	g := res.Graph
	parent := map[int]int{th.node: -1}
	queue := []int{th.node}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		n := g.Nodes[id]
		if n.Module == g.Modules[0] && n.Func != nil {
			if at, ok := tr.writers[n.Func.Addr]; ok {
				r := &Reenable{Function: n.Name(), Addr: at}
				r.File, r.Line = res.lineAt(at)
				for p := id; p >= 0; p = parent[p] {
					r.Path = append([]string{g.Nodes[p].Name()}, r.Path...)
				}
				return r
			}
		}
		for _, e := range n.Edges {
			if _, seen := parent[e.To]; !seen {
				parent[e.To] = id
				queue = append(queue, e.To)
			}
		}
	}
	return nil
}

// reenableWhere says where a handler sets MIE: "csrs at 0x... in f
// (file:line), called through a -> f".
func reenableWhere(r Reenable) string {
	s := fmt.Sprintf("mstatus written at %#x in %s", r.Addr, r.Function)
	if r.File != "" {
		s += fmt.Sprintf(" (%s:%d)", shortFile(r.File), r.Line)
	}
	if len(r.Path) > 1 {
		s += ", called " + strings.Join(r.Path, " -> ")
	}
	return s
}

// shortFile is a source file's base name, for a one-line reason.
func shortFile(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}
