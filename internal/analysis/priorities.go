package analysis

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/threads"
)

// Cortex-M exception priorities, read from the code: constant stores to the
// NVIC's interrupt priority registers (IPR, one byte per IRQ), the SCB's
// system handler priority registers (SHPR1-3, one byte per exception 4-15)
// and AIRCR's PRIGROUP field, wherever they are in the image.

const (
	iprBase  = 0xE000E400 // NVIC_IPR0: byte n is IRQ n (exception 16+n)
	iprEnd   = 0xE000E4F0
	shprBase = 0xE000ED18 // SHPR1: byte n is exception 4+n
	shprEnd  = 0xE000ED24
	// AIRCR (aircrAddr) is declared with the software reset, noreturn.go.
	vectKey  = 0x05FA // AIRCR ignores a write without it in bits 31:16
	scsStart = 0xE000E000
	scsEnd   = 0xE000F000
)

// contextDepth bounds how many calls deep a function's stores are followed
// with its caller's constant arguments (an out-of-line NVIC_SetPriority
// called from a wrapper called from main is 2).
const contextDepth = 4

// VectorPriority is one vector's priority and where it comes from.
type VectorPriority struct {
	Vector    string `json:"vector"`
	Exception int    `json:"exception"`
	// Priority is set when it is certain: fixed (NMI -2, HardFault -1),
	// the one value the code writes, or 0, the reset value, when nothing
	// can write it. Group is its group priority under PRIGROUP.
	Priority *int     `json:"priority"`
	Group    *int     `json:"group"`
	Source   string   `json:"source"` // fixed, code, reset, assumed
	Where    []string `json:"where,omitempty"`
	// Assumed says why the priority is not known (the handler is then on
	// a level of its own).
	Assumed string `json:"assumed,omitempty"`
}

// prioWrite is one store to a priority byte: its value (known) or why not.
type prioWrite struct {
	val   int
	known bool
	where string
	why   string
}

// priorities is what the code writes to the priority registers.
type priorities struct {
	writes map[int][]prioWrite // by exception number
	taint  []string            // stores that could write any of them
	// prigroup is PRIGROUP; prigroupWhere the stores that set it.
	prigroup      int
	prigroupWhere []string
	prigroupWhy   string
}

// findPriorities collects the priority writes of the whole image.
func findPriorities(res *Result) *priorities {
	p := &priorities{writes: map[int][]prioWrite{}}
	g := res.Graph
	if g == nil || len(g.Modules) == 0 {
		return p
	}
	c := &collector{res: res, g: g, p: p, done: map[string]bool{}, taken: map[uint64]bool{}}
	for _, a := range g.Modules[0].File.AddressTaken() {
		c.taken[a] = true
	}
	c.callers = callersOf(g)
	c.plain = map[int][]threads.Store{}
	var aircr []prioWrite
	c.aircr = &aircr
	calls := map[int][]threads.Call{}
	for id, n := range g.Nodes {
		if n.Module == g.Modules[0] && n.Func != nil && !n.Hub {
			c.plain[id], calls[id] = threads.Scan(g, id, nil)
		}
	}
	for id, n := range g.Nodes {
		if n.Module != g.Modules[0] || n.Func == nil || n.Hub {
			continue
		}
		if c.uncertain(c.plain[id]) && c.contextual(id) {
			continue // its stores are read at each call, with the call's arguments
		}
		c.record(id, c.plain[id], "")
		c.follow(calls[id], 1)
	}
	p.resolveGrouping(aircr)
	p.withoutMainExtension(g.Modules[0].File)
	return p
}

// withoutMainExtension drops PRIGROUP when the core may not have it:
// AIRCR's bits 10:8 exist only with the Main Extension (ARMv7-M, ARMv8-M
// mainline); ARMv6-M and ARMv8-M baseline keep them RES0 and ignore the
// write, so the handlers nest by their whole priority, as under PRIGROUP
// 0. Measured on QEMU's microbit (TestNestedInterruptsMeasured's PRIGROUP
// variant): PRIGROUP 7 written on a Cortex-M0, IRQs at 0x80 and 0x40 still
// nest. An image without build attributes may be for such a core: PRIGROUP
// is then taken as 0 too, the finest grouping, so the total stays a bound.
func (p *priorities) withoutMainExtension(f *binfile.File) {
	if len(p.prigroupWhere) == 0 {
		return // nothing written: 0 already
	}
	var why string
	switch f.ARMCPUArch() {
	case 11, 12: // Tag_CPU_arch v6-M, v6S-M
		why = "ARMv6-M has no PRIGROUP (AIRCR bits 10:8 are reserved): the write at %s is ignored"
	case 16: // v8-M baseline
		why = "ARMv8-M baseline has no PRIGROUP (AIRCR bits 10:8 are reserved): the write at %s is ignored"
	case 0:
		why = "the image names no CPU architecture (no build attributes), and ARMv6-M has no PRIGROUP: the write at %s may be ignored"
	default:
		return
	}
	p.prigroupWhy = fmt.Sprintf(why, strings.Join(p.prigroupWhere, ", "))
	p.prigroup, p.prigroupWhere = 0, nil
}

type collector struct {
	res     *Result
	g       *callgraph.Graph
	p       *priorities
	aircr   *[]prioWrite
	done    map[string]bool
	taken   map[uint64]bool
	callers map[int][]callgraph.Edge
	plain   map[int][]threads.Store // each function's stores, its arguments not known
}

// callersOf lists every edge into each node.
func callersOf(g *callgraph.Graph) map[int][]callgraph.Edge {
	m := map[int][]callgraph.Edge{}
	for _, n := range g.Nodes {
		for _, e := range n.Edges {
			m[e.To] = append(m[e.To], e)
		}
	}
	return m
}

// contextual reports a function only ever called directly (its address is
// never taken): its stores can be read once per call, with the constant
// arguments of that call.
func (c *collector) contextual(id int) bool {
	n := c.g.Nodes[id]
	if c.taken[n.Func.Addr] || len(c.callers[id]) == 0 {
		return false
	}
	for _, e := range c.callers[id] {
		if e.Method != callgraph.MethodDirect {
			return false
		}
	}
	return true
}

// follow reads, with their arguments, the callees that need them: those
// whose priority stores depend on something not known in the callee alone,
// and those given an address of the System Control Space.
func (c *collector) follow(calls []threads.Call, depth int) {
	for _, call := range calls {
		if call.Callee < 0 || c.g.Nodes[call.Callee].Func == nil || c.g.Nodes[call.Callee].Module != c.g.Modules[0] {
			continue
		}
		if !(c.uncertain(c.plain[call.Callee]) && c.contextual(call.Callee)) && !scsArgument(call.Args) {
			continue
		}
		key := fmt.Sprint(call.Callee, call.Args)
		if c.done[key] {
			continue
		}
		c.done[key] = true
		where := c.where(call.At)
		if depth > contextDepth {
			c.p.taint = append(c.p.taint, fmt.Sprintf("%s, called at %s, sets priorities more than %d calls deep", c.g.Nodes[call.Callee].Name(), where, contextDepth))
			continue
		}
		stores, calls := threads.Scan(c.g, call.Callee, call.Args[:])
		c.record(call.Callee, stores, fmt.Sprintf(" (%s called at %s)", c.g.Nodes[call.Callee].Name(), where))
		c.follow(calls, depth+1)
	}
}

func scsArgument(args [4]threads.Word) bool {
	for _, a := range args {
		if a.Kind == threads.WordNear || a.Kind == threads.WordConst && a.Value >= scsStart && a.Value < scsEnd {
			return true
		}
	}
	return false
}

// uncertain reports stores that may write a priority register with
// something not known: through an SCS address plus an unknown offset, or
// a value that is not a constant.
func (c *collector) uncertain(stores []threads.Store) bool {
	for _, s := range stores {
		if s.Addr.Kind == threads.WordNear {
			return true
		}
		if s.Addr.Value < aircrAddr+4 && s.Addr.Value+uint32(s.Size) > aircrAddr && !aircrWrite(s, "").known {
			return true
		}
		for i := 0; i < max(s.Size, 1); i++ {
			if _, ok := priorityByte(s.Addr.Value + uint32(i)); ok {
				if _, ok := lane(s, i); !ok {
					return true
				}
			}
		}
	}
	return false
}

// priorityByte maps a byte address to the exception whose priority it holds.
func priorityByte(a uint32) (int, bool) {
	switch {
	case a >= iprBase && a < iprEnd:
		return 16 + int(a-iprBase), true
	case a >= shprBase && a < shprEnd:
		return 4 + int(a-shprBase), true
	}
	return 0, false
}

// laneUnchanged is lane's answer for a byte a read-modify-write leaves as it was.
const laneUnchanged = -1

// lane is byte i of a store's value: known (0-255), laneUnchanged, or not
// known (false).
func lane(s threads.Store, i int) (int, bool) {
	v := s.Val
	shift := 8 * uint(i)
	switch v.Kind {
	case threads.WordConst:
		return int(v.Value>>shift) & 0xFF, true
	case threads.WordLoaded:
		m := (v.Mask >> shift) & 0xFF
		switch {
		case m == 0xFF:
			return int(v.Bits>>shift) & 0xFF, true
		case m == 0 && v.From == uint64(s.Addr.Value) && v.Size == s.Size:
			return laneUnchanged, true
		}
	}
	return 0, false
}

// record files a function's stores (suffix says in which call's context).
func (c *collector) record(id int, stores []threads.Store, suffix string) {
	for _, s := range stores {
		where := c.where(s.At) + suffix
		if s.Addr.Kind == threads.WordNear {
			if s.Addr.Value >= scsStart && s.Addr.Value < scsEnd {
				c.p.taint = append(c.p.taint, fmt.Sprintf("a store at %s to %#x plus an offset not known", where, s.Addr.Value))
			}
			continue
		}
		a := s.Addr.Value
		if s.Size == 0 {
			if a >= scsStart && a < scsEnd {
				c.p.taint = append(c.p.taint, fmt.Sprintf("a store of several registers at %s to %#x", where, a))
			}
			continue
		}
		if a < aircrAddr+4 && a+uint32(s.Size) > aircrAddr {
			*c.aircr = append(*c.aircr, aircrWrite(s, where))
		}
		for i := 0; i < s.Size; i++ {
			exc, ok := priorityByte(a + uint32(i))
			if !ok {
				continue
			}
			v, known := lane(s, i)
			switch {
			case known && v == laneUnchanged:
			case known:
				c.p.writes[exc] = append(c.p.writes[exc], prioWrite{val: v, known: true, where: where})
			default:
				c.p.writes[exc] = append(c.p.writes[exc], prioWrite{where: where, why: "a value that is not a constant"})
			}
		}
	}
}

// aircrWrite reads PRIGROUP (bits 10:8) from a store to AIRCR; val -1: the
// write is ignored (no VECTKEY).
func aircrWrite(s threads.Store, where string) prioWrite {
	w := prioWrite{where: where}
	if s.Size != 4 || s.Addr.Value != aircrAddr {
		w.why = "a store that is not a word"
		return w
	}
	var known, bits uint32
	switch s.Val.Kind {
	case threads.WordConst:
		known, bits = 0xFFFFFFFF, s.Val.Value
	case threads.WordLoaded:
		known, bits = s.Val.Mask, s.Val.Bits
	default:
		w.why = "a value that is not a constant"
		return w
	}
	if known>>16 == 0xFFFF && bits>>16 != vectKey {
		w.val, w.known = -1, true // ignored by the hardware
		return w
	}
	if known>>16 != 0xFFFF || known&0x700 != 0x700 {
		w.why = "a value whose PRIGROUP or VECTKEY bits are not constants"
		return w
	}
	w.val, w.known = int(bits>>8&7), true
	return w
}

// resolveGrouping sets PRIGROUP: 0 at reset; the one value written; or,
// when the writes disagree or are not known, 0 again: the finest grouping,
// under which the most handlers nest, so the total stays a bound.
func (p *priorities) resolveGrouping(ws []prioWrite) {
	vals := map[int]bool{}
	for _, w := range ws {
		switch {
		case !w.known:
			p.prigroupWhy = fmt.Sprintf("written with %s at %s", w.why, w.where)
		case w.val >= 0:
			vals[w.val] = true
			p.prigroupWhere = append(p.prigroupWhere, w.where)
		}
	}
	if p.prigroupWhy == "" && len(vals) > 1 {
		p.prigroupWhy = "written with different values at " + strings.Join(p.prigroupWhere, ", ")
	}
	if p.prigroupWhy != "" {
		p.prigroupWhere = nil
		return
	}
	for v := range vals {
		p.prigroup = v
	}
}

// where names an instruction by its source line (or address) and function.
func (c *collector) where(addr uint64) string {
	fn := ""
	if f, ok := c.g.Modules[0].File.FunctionAt(addr); ok {
		fn = " in " + f.Name()
	}
	if l, ok := c.res.Lines.At(addr); ok {
		return fmt.Sprintf("%s:%d%s", filepath.Base(l.File), l.Line, fn)
	}
	return fmt.Sprintf("%#x%s", addr, fn)
}

// of is the priority of exception number exc.
func (p *priorities) of(exc int) VectorPriority {
	vp := VectorPriority{Vector: binfile.ExceptionName(exc), Exception: exc}
	set := func(v, grp int) { vp.Priority, vp.Group = &v, &grp }
	switch exc {
	case 2, 3: // NMI, HardFault
		set(exc-4, exc-4)
		vp.Source = "fixed"
		return vp
	}
	vp.Source = "assumed"
	if len(p.taint) > 0 {
		vp.Assumed = p.taint[0]
		if len(p.taint) > 1 {
			vp.Assumed += fmt.Sprintf(" (and %d more such stores)", len(p.taint)-1)
		}
		return vp
	}
	vals := map[int]bool{}
	var seen []string
	for _, w := range p.writes[exc] {
		if !w.known {
			vp.Assumed = fmt.Sprintf("written with %s at %s", w.why, w.where)
			return vp
		}
		if !vals[w.val] {
			seen = append(seen, fmt.Sprintf("%d at %s", w.val, w.where))
		}
		vals[w.val] = true
		vp.Where = append(vp.Where, w.where)
	}
	switch len(vals) {
	case 0:
		set(0, 0)
		vp.Source = "reset"
	case 1:
		for v := range vals {
			set(v, v>>(p.prigroup+1))
		}
		vp.Source = "code"
	default:
		vp.Where = nil
		vp.Assumed = "written with different values: " + strings.Join(seen, ", ")
	}
	return vp
}

// levelKey identifies a nesting level: a configured group, a group
// priority, or one handler's own level.
type levelKey struct {
	kind  int // 0 configured, 1 priority, 2 own
	value int
}

// assignLevels puts each handler on the levels of its vectors' group
// priorities (a handler serving vectors of different priorities is on
// each), a configured group's level, or, when a vector's priority is not
// known, a level of its own; and returns the levels in order: configured,
// then by priority (most urgent first), then the handlers' own.
func assignLevels(in *Interrupts, vectors map[string][]int, p *priorities, cfg InterruptConfig) {
	group := map[string]int{}
	for i, grp := range cfg.Groups {
		for _, name := range grp {
			group[name] = i
		}
	}
	keysOf := make([][]levelKey, len(in.Handlers))
	for hi := range in.Handlers {
		h := &in.Handlers[hi]
		if gi, ok := group[h.Name]; ok {
			keysOf[hi] = []levelKey{{0, gi}}
			h.PrioritySource = "configured group"
			continue
		}
		seen := map[levelKey]bool{}
		first := len(in.Priorities)
		for _, exc := range vectors[h.Name] {
			vp := p.of(exc)
			in.Priorities = append(in.Priorities, vp)
			k := levelKey{2, hi}
			if vp.Group != nil {
				k = levelKey{1, *vp.Group}
			}
			if !seen[k] {
				seen[k] = true
				keysOf[hi] = append(keysOf[hi], k)
			}
		}
		mine := in.Priorities[first:]
		h.PrioritySource = summarizeSources(mine)
		h.Priority = commonPriority(mine)
	}
	var keys []levelKey
	seen := map[levelKey]bool{}
	for _, ks := range keysOf {
		for _, k := range ks {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.SliceStable(keys, func(i, j int) bool {
		if keys[i].kind != keys[j].kind {
			return keys[i].kind < keys[j].kind
		}
		return keys[i].value < keys[j].value
	})
	index := map[levelKey]int{}
	in.Levels = nil
	for i, k := range keys {
		index[k] = i
		l := Level{Basis: [...]string{"configured", "priority", "assumed"}[k.kind]}
		if k.kind == 1 {
			v := k.value
			l.Priority = &v
		}
		in.Levels = append(in.Levels, l)
	}
	for hi := range in.Handlers {
		h := &in.Handlers[hi]
		for i, k := range keysOf[hi] {
			lv := index[k]
			if i == 0 {
				h.Level = lv
			}
			h.Levels = append(h.Levels, lv)
			l := &in.Levels[lv]
			l.Handlers = append(l.Handlers, h.Name)
			if l.Heaviest == "" || h.AtLeast > l.Adds {
				l.Heaviest, l.Adds = h.Name, h.AtLeast
			}
		}
	}
	if p.prigroupWhy != "" {
		in.PriorityGrouping = "PRIGROUP taken as 0, the finest grouping: " + p.prigroupWhy
	} else if len(p.prigroupWhere) > 0 {
		in.PriorityGrouping = fmt.Sprintf("PRIGROUP %d, set at %s", p.prigroup, strings.Join(p.prigroupWhere, ", "))
	}
}

// commonPriority is the priority all of vps have, or nil.
func commonPriority(vps []VectorPriority) *int {
	var p *int
	for _, vp := range vps {
		if vp.Priority == nil || p != nil && *p != *vp.Priority {
			return nil
		}
		p = vp.Priority
	}
	return p
}

// summarizeSources says in a few words where a handler's priorities come from.
func summarizeSources(vps []VectorPriority) string {
	var parts []string
	seen := map[string]bool{}
	for _, vp := range vps {
		s := vp.Source
		switch vp.Source {
		case "code":
			s = "code: " + strings.Join(vp.Where, ", ")
		case "assumed":
			s = "assumed: " + vp.Assumed
		case "reset":
			s = "reset value (never written)"
		}
		if !seen[s] {
			seen[s] = true
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}
