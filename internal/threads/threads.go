// Package threads finds the threads and tasks a program creates (pthreads,
// clone, FreeRTOS and Zephyr tasks), each with its entry function and the
// stack size it is given, and judges each against its entry's stack bound.
package threads

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"iter"
	"sort"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
	sz "github.com/stackscope/stackscope/internal/size"
)

// DefaultPthreadStack is glibc's default thread stack size when the
// attributes give none: the RLIMIT_STACK soft limit of the process (ulimit
// -s), 8 MiB on most systems.
const DefaultPthreadStack = 8 << 20

// PthreadStackMin is glibc's PTHREAD_STACK_MIN on x86-64 Linux:
// pthread_attr_setstacksize and pthread_attr_setstack refuse less (other
// targets: glibcFacts).
const PthreadStackMin = 16384

// Site is one place the program creates a thread or task.
type Site struct {
	// Creator is the function called (pthread_create, clone,
	// xTaskCreate, xTaskCreateStatic, k_thread_create) or K_THREAD_DEFINE
	// for a Zephyr thread defined statically.
	Creator string
	// CreatedBy is the function containing the call (or the static
	// definition's symbol); Addr is the call instruction (0 when static).
	CreatedBy string
	Addr      uint64
	// Entry is the entry function; EntryNode its call-graph node, -1 with
	// EntryWhy when it is not known.
	Entry     string
	EntryAddr uint64
	EntryNode int
	EntryWhy  string
	// Size is the stack in bytes when SizeKnown; SizeSource says where it
	// came from, SizeWhy why it is not known. Default marks a platform
	// default taken because no constant size was given.
	Size      int64
	SizeKnown bool
	// SizeMin: the stack is at least Size (PTHREAD_STACK_MIN when the size
	// is set elsewhere or at run time), which proves ok, never overflow.
	SizeMin    bool
	Default    bool
	SizeSource string
	SizeWhy    string
	// SizeWhyAt is the call after which the size was lost (a callee that
	// may have written it), 0 when none: the report gives its line.
	SizeWhyAt uint64
	// Context is what the platform puts on the same stack besides the
	// entry's calls (Cortex-M exception frame and saved registers), with
	// ContextNote saying what it counts.
	Context     int64
	ContextNote string
	// StackBuffer is the data symbol of a static stack (xTaskCreateStatic's
	// buffer), "" when none is known: the emulator paints it.
	StackBuffer string
}

// creatorKind maps the creation functions to the way their arguments are read.
var creatorKind = map[string]string{
	"pthread_create":         "pthread",
	"__pthread_create_2_1":   "pthread",
	"thrd_create":            "c11",
	"clone":                  "clone",
	"__clone":                "clone",
	"xTaskCreate":            "freertos",
	"xTaskCreateStatic":      "freertos-static",
	"k_thread_create":        "zephyr",
	"z_impl_k_thread_create": "zephyr",
}

// allocators return a block of the size in argument SizeArg (times
// argument MulArg when MulArg >= 0).
var allocators = map[string][2]int{
	"malloc":        {0, -1},
	"calloc":        {0, 1},
	"valloc":        {0, -1},
	"pvalloc":       {0, -1},
	"memalign":      {1, -1},
	"aligned_alloc": {1, -1},
	"mmap":          {1, -1},
	"mmap64":        {1, -1},
	"pvPortMalloc":  {0, -1},
	"k_malloc":      {0, -1},
}

// baseName strips a symbol version and a library qualifier.
func baseName(n string) string {
	if i := strings.IndexByte(n, '@'); i > 0 {
		n = n[:i]
	}
	return n
}

// maxKnownName is the longest name nodeNames gives: every one of its
// callers looks the names up among C functions' names (creatorKind,
// allocators, attrPreserving, the pthread_attr functions), all shorter
// (TestKnownNamesAreShort).
const maxKnownName = 64

// knownBase is baseName(n) when that is at most maxKnownName long; ok is
// false when it is longer, found without reading past that length: a
// large C++ program's names are mostly much longer (/usr/bin/node: finding
// the '@' in every callee's names was 0.05 s of the threads' search).
func knownBase(n string) (base string, ok bool) {
	head := n[:min(len(n), maxKnownName+1)]
	if i := strings.IndexByte(head, '@'); i > 0 {
		return n[:i], true
	}
	// No '@' in the head, or one first: baseName(n) is n.
	return n, len(n) <= maxKnownName
}

// nodeNames are the names a node answers to, those longer than
// maxKnownName left out. (An iterator, not a list: kindOf asks about
// every node of the graph, and a list for each was 260,000 allocations on
// libLLVM-15.)
func nodeNames(n *callgraph.Node) iter.Seq[string] {
	return func(yield func(string) bool) {
		if b, ok := knownBase(n.CName()); ok && !yield(b) { // (its readers match C names)
			return
		}
		if n.Func == nil {
			return
		}
		// A mangled link name is no C name (TestKnownNamesAreShort):
		// passed over unread, where reading node's C++ link names
		// was most of the 28 ms of the names' search (profiles).
		if !n.Func.LinkMangled() {
			if b, ok := knownBase(n.Func.LinkName); ok && !yield(b) {
				return
			}
		}
		for _, a := range n.Func.Aliases {
			if b, ok := knownBase(a); ok && !yield(b) {
				return
			}
		}
	}
}

// kindOf returns the creation function a node is (the public name when
// it has several: clone rather than __clone) and its kind.
func kindOf(n *callgraph.Node) (string, string) {
	if n == nil {
		return "", ""
	}
	best, kind := "", ""
	for name := range nodeNames(n) {
		if k, ok := creatorKind[name]; ok && (best == "" || strings.HasPrefix(best, "_") && !strings.HasPrefix(name, "_")) {
			best, kind = name, k
		}
	}
	return best, kind
}

func allocOf(n *callgraph.Node) (string, [2]int, bool) {
	for name := range nodeNames(n) {
		if a, ok := allocators[name]; ok {
			return name, a, true
		}
	}
	return "", [2]int{}, false
}

// Find returns every thread and task creation in the graph's main module,
// in address order.
func Find(g *callgraph.Graph) []Site {
	if g == nil || len(g.Modules) == 0 {
		return nil
	}
	main := g.Modules[0]
	f := main.File
	var ai archInfo
	switch f.Arch {
	case binfile.ArchThumb:
		ai = thumbInfo
	case binfile.ArchX86_64:
		ai = x86Info
	case binfile.ArchARM64:
		ai = arm64Info
	case binfile.ArchRISCV64:
		ai = riscv64Info
	case binfile.ArchRISCV32:
		ai = riscv32Info
	default:
		return nil
	}
	var out []Site
	sums := newSummaries(g, ai)
	// creator memoizes whether kindOf names a node a creation function
	// (0: not asked yet, 1: no, 2: yes): asked of every call's callee, it
	// scanned the long C++ names of a large program's callees once per
	// call.
	creator := make([]int8, len(g.Nodes))
	isCreator := func(id int) bool {
		if creator[id] == 0 {
			creator[id] = 1
			if _, k := kindOf(g.Nodes[id]); k != "" {
				creator[id] = 2
			}
		}
		return creator[id] == 2
	}
	for id, n := range g.Nodes {
		if n.Module != main || n.Func == nil || n.Hub {
			continue
		}
		if isCreator(id) {
			continue // the creation machinery itself (a static build, a fake RTOS)
		}
		var want map[uint64]bool
		for _, e := range n.Edges {
			if isCreator(e.To) {
				if want == nil {
					want = map[uint64]bool{}
				}
				want[e.Site] = true
			}
		}
		if len(want) == 0 || runtimeInternal(n.Name()) { // (the name last: demangled only for a caller of a creator)
			continue
		}
		out = append(out, findIn(g, id, ai, want, sums)...)
	}
	out = append(out, zephyrStatic(g, ai)...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// runtimeInternal reports the C library's own functions that call clone
// to implement pthread_create, posix_spawn or fork in a static build:
// reserved names (two leading underscores) and a few known ones.
func runtimeInternal(name string) bool {
	switch name {
	case "create_thread", "spawni", "spawnix", "fork", "vfork", "system", "do_system":
		return true
	}
	return strings.HasPrefix(name, "__")
}

// findIn runs the propagation over one function and reads the arguments
// at each creation site in want.
func findIn(g *callgraph.Graph, id int, ai archInfo, want map[uint64]bool, sums *summaries) []Site {
	n := g.Nodes[id]
	f := n.Module.File
	code, err := f.Code(n.Func.Addr, n.Func.Size)
	if err != nil || len(code) == 0 {
		return nil
	}
	insts := decodeAll(g.Decoder, f, n.Func.Addr, code, ai, n.Frame.CaseTables)
	callees := map[uint64]*callgraph.Node{}
	for _, e := range n.Edges {
		if e.Method == callgraph.MethodLazy {
			continue // the lazy-binding resolver shares the call's site
		}
		callees[e.Site] = g.Nodes[e.To]
	}
	onCall := func(addr uint64, s *state) callEffect {
		c := callees[addr]
		if c == nil {
			return callEffect{callee: "an indirect call"}
		}
		ce := callEffect{callee: c.Name(), ret: callReturn(ai, c, s)}
		ce.attrsDone = attrCall(ai, c, addr, s, sums)
		ce.regArgs = regArgsOnly(c)
		if s.escaped {
			ce.writes = sums.of(c)
		}
		return ce
	}
	attrSafe := func(addr uint64) bool {
		c := callees[addr]
		if c == nil {
			return false
		}
		for name := range nodeNames(c) {
			if outs, ok := attrPreserving[name]; ok && len(outs) == 0 {
				return true
			}
		}
		return false
	}
	var out []Site
	at := func(addr uint64, s *state) {
		c := callees[addr]
		name, kind := kindOf(c)
		site := Site{Creator: name, CreatedBy: n.Name(), Addr: addr, EntryNode: -1}
		switch kind {
		case "pthread":
			setEntry(g, &site, ai.arg(s, 2), ai)
			pthreadSize(&site, ai.arg(s, 1), s.attrs, glibcFor(ai))
			pthreadContext(f, &site, glibcFor(ai))
		case "c11":
			setEntry(g, &site, ai.arg(s, 1), ai)
			c11Size(&site)
			pthreadContext(f, &site, glibcFor(ai))
		case "clone":
			setEntry(g, &site, ai.arg(s, 0), ai)
			cloneSize(f, &site, ai.arg(s, 1))
		case "freertos", "freertos-static":
			setEntry(g, &site, ai.arg(s, 0), ai)
			freertosSize(f, &site, ai, ai.arg(s, 2), kind == "freertos-static", ai.arg(s, 5))
		case "zephyr":
			setEntry(g, &site, ai.arg(s, 3), ai)
			zephyrSize(f, &site, ai.arg(s, 2), ai.arg(s, 1), ai)
		}
		out = append(out, site)
	}
	sweep(ai, insts, hooks{want: want, onCall: onCall, at: at, attrSafe: attrSafe}, nil)
	// A site the sweep never reached (code after data it could not get
	// past) is still a thread: say what is missing.
	seen := map[uint64]bool{}
	for _, s := range out {
		seen[s.Addr] = true
	}
	for _, a := range sortedAddrs(want) {
		if !seen[a] {
			name, _ := kindOf(callees[a])
			out = append(out, Site{Creator: name, CreatedBy: n.Name(), Addr: a, EntryNode: -1,
				EntryWhy: "the call's arguments could not be followed", SizeWhy: "the call's arguments could not be followed"})
		}
	}
	return out
}

// callReturn is what a call returns that the propagation follows: an
// allocator's block.
func callReturn(ai archInfo, c *callgraph.Node, s *state) value {
	if name, a, ok := allocOf(c); ok {
		size := ai.arg(s, a[0])
		if a[1] >= 0 {
			m := ai.arg(s, a[1])
			if size.k == vConst && m.k == vConst {
				size = constant(size.v * m.v)
			} else {
				size = unknown
			}
		}
		v := value{k: vAlloc, fn: name, n: -1}
		if size.k == vConst {
			v.n = size.v
		}
		return v
	}
	return unknown
}

// summaries computes callees' summaries once each.
type summaries struct {
	g        *callgraph.Graph
	ai       archInfo
	done     map[*callgraph.Node]*summary
	attrDone map[*callgraph.Node]*attrSummary
	// attrDepth is how many attribute summaries are being computed, one
	// inside another (see maxAttrDepth).
	attrDepth int
	reach     map[reachKey]bool
	// attrSetter is isAttrSetter's answer per node: 0 not asked yet, 1
	// no, 2 yes.
	attrSetter []int8
}

func newSummaries(g *callgraph.Graph, ai archInfo) *summaries {
	return &summaries{g: g, ai: ai, done: map[*callgraph.Node]*summary{}, attrDone: map[*callgraph.Node]*attrSummary{}, reach: map[reachKey]bool{},
		attrSetter: make([]int8, len(g.Nodes))}
}

// of returns the summary of a function of the analysed file, nil for one
// it has no code of (a library's, an external) or cannot summarize.
func (ss *summaries) of(c *callgraph.Node) *summary {
	if c == nil || c.External || c.Hub || c.Func == nil || c.Module != ss.g.Modules[0] {
		return nil
	}
	if s, ok := ss.done[c]; ok {
		return s
	}
	ss.done[c] = nil
	f := c.Module.File
	code, err := f.Code(c.Func.Addr, c.Func.Size)
	if err == nil && len(code) > 0 {
		ss.done[c] = summarize(ss.ai, decodeAll(ss.g.Decoder, f, c.Func.Addr, code, ss.ai, c.Frame.CaseTables))
	}
	return ss.done[c]
}

// decodeAll decodes the function linearly, skipping data in code: the
// file's ($d mapping symbols) and the tables of the calls to case helpers
// the frame walk read (tables). Such a call becomes an indirect jump to
// its table's targets (inst.targets), or, when the table could not be
// read, one to targets not known: the helper returns into a case, never
// to the bytes after the call, and changes no register but LR.
func decodeAll(dec isa.Decoder, f *binfile.File, base uint64, code []byte, ai archInfo, tables []frame.CaseTable) []inst {
	var out []inst
	dispatch := map[uint64]*frame.CaseTable{}
	for i := range tables {
		dispatch[tables[i].Call] = &tables[i]
	}
	for off := 0; off < len(code); {
		addr := base + uint64(off)
		end, ok := inData(f, addr)
		if !ok {
			end, ok = inTable(tables, addr)
		}
		if ok {
			if end <= addr {
				break
			}
			off = int(end - base)
			continue
		}
		e, err := dec.Decode(code[off:], addr)
		if err != nil || e.Len <= 0 {
			step := 1
			if ai.thumb {
				step = 2
			}
			// An undecodable spot: a barrier (no value flows past it).
			out = append(out, inst{addr: addr, e: isa.Effect{Len: step, Flow: isa.FlowStop}, bad: true})
			off += step
			continue
		}
		in := inst{addr: addr, e: e}
		if t, ok := dispatch[addr]; ok && e.Flow == isa.FlowCall {
			in.e.Flow, in.e.HasTarget = isa.FlowIndirectJump, false
			in.targets = t.Targets
			in.dispatch = true
		}
		switch {
		case ai.thumb:
			in.m = thumbMemOp(code[off:], e)
			thumbOps(code[off:], &in.m)
		case ai.arch == archARM64:
			in.m = arm64MemOp(code[off:], e)
			alsoWritten(ai, &in.m, e)
		case ai.arch == archRISCV64:
			in.m = riscvMemOp(code[off:off+e.Len], e)
			alsoWritten(ai, &in.m, e)
		case ai.arch == archRISCV32:
			in.m = riscv32MemOp(code[off:off+e.Len], e)
			alsoWritten(ai, &in.m, e)
		default:
			in.m = x86MemOp(code[off:off+e.Len], e.DefKind)
		}
		out = append(out, in)
		off += e.Len
	}
	return out
}

// alsoWritten adds to m's clobbers the registers an AArch64 or RISC-V
// instruction writes besides DefReg (their decoders name every one in
// DefAlso: the second register of ldp, a writeback base), except the
// ones m's own load gives a value.
func alsoWritten(ai archInfo, m *memOp, e isa.Effect) {
	for r := int8(0); r < numRegs; r++ {
		if e.DefAlso&(1<<uint(r)) == 0 || r == ai.sp || m.load && (r == m.reg || m.pair && r == m.reg2) {
			continue
		}
		m.clobbers = append(m.clobbers, r)
	}
}

// inTable returns the end of the case table holding addr.
func inTable(tables []frame.CaseTable, addr uint64) (uint64, bool) {
	for _, t := range tables {
		if addr >= t.Data.Begin && addr < t.Data.End {
			return t.Data.End, true
		}
	}
	return 0, false
}

// inData returns the end of the data-in-code range holding addr.
func inData(f *binfile.File, addr uint64) (uint64, bool) {
	r := f.DataInCode
	i := sort.Search(len(r), func(i int) bool { return r[i].End > addr })
	if i < len(r) && r[i].Begin <= addr {
		return r[i].End, true
	}
	return 0, false
}

// setEntry resolves the entry function from its argument value.
func setEntry(g *callgraph.Graph, s *Site, v value, ai archInfo) {
	if v.k != vConst {
		s.EntryWhy = "the entry function is not a constant at the call"
		return
	}
	addr := uint64(v.v)
	if ai.thumb {
		addr &^= 1
	}
	s.EntryAddr = addr
	main := g.Modules[0]
	fi, ok := main.File.FunctionIndex(addr)
	if !ok {
		s.EntryWhy = fmt.Sprintf("the entry address %#x starts no known function", addr)
		return
	}
	s.EntryNode = g.Node(main, fi)
	s.Entry = g.Nodes[s.EntryNode].Name()
}

// glibc keeps a thread's descriptor (struct pthread, 2,304 bytes on x86-64
// glibc 2.36) and its static TLS (the program's PT_TLS block and a surplus
// of 1,664 bytes for libraries) at the top of the stack it allocates for
// the thread, and start_thread's frame sits below them, so the start
// routine gets that much less than the size asked for. Leaving them out
// would call a thread "ok" that overflows.

// glibcFacts are what glibc (Debian 12's 2.36) does with a thread's stack
// on one target: PTHREAD_STACK_MIN, and what sits at the top of the stack
// above the start routine (top, measured).
type glibcFacts struct {
	stackMin int64
	top      int64
	arch     string
}

// On every target the top of a pthread's stack holds the thread
// descriptor and the static TLS (with its surplus), and below them
// start_thread's frame: the distance from the top of a stack given with
// pthread_attr_setstack to the start routine's CFA, measured under
// qemu-user with Debian 12's cross glibc 2.36 (natively on x86-64) for a
// program without TLS
// (TestThreadPthreadCross measures it again). PTHREAD_STACK_MIN is 128 KiB
// on AArch64 (64 KiB pages), 16 KiB on RV64 (bits/pthread_stack_min.h).
var (
	// x86-64: the descriptor and TLS surplus above, and start_thread's
	// own frame below them (416 B), measured the same way on the host.
	glibcX86   = glibcFacts{stackMin: PthreadStackMin, top: 4384, arch: "x86-64"}
	glibcARM64 = glibcFacts{stackMin: 131072, top: 5824, arch: "AArch64"}
	glibcRV64  = glibcFacts{stackMin: 16384, top: 5904, arch: "RV64"}
)

func glibcFor(ai archInfo) glibcFacts {
	switch ai.arch {
	case archARM64:
		return glibcARM64
	case archRISCV64:
		return glibcRV64
	}
	return glibcX86
}

func pthreadContext(f *binfile.File, s *Site, gf glibcFacts) {
	var tls int64
	for _, p := range f.ELF.Progs {
		if p.Type == elf.PT_TLS {
			tls += int64(p.Memsz)
		}
	}
	s.Context = gf.top + tls
	s.ContextNote = fmt.Sprintf("glibc's thread descriptor, static TLS and start_thread's frame (%d B on %s, measured) and this program's TLS (%d B) at the top of a pthread's stack", gf.top, gf.arch, tls)
}

func pthreadSize(s *Site, attr value, attrs map[attrKey]attrInfo, gf glibcFacts) {
	def := func(why string) {
		s.Size, s.SizeKnown, s.Default = DefaultPthreadStack, true, true
		s.SizeSource = "default: " + why + "; glibc uses RLIMIT_STACK (ulimit -s), typically 8 MiB"
	}
	if attr.k == vConst && attr.v == 0 {
		def("no attributes (NULL)")
		return
	}
	// Attributes set elsewhere, or a size computed at run time: the stack
	// may be any size glibc accepts, and it accepts none below
	// PTHREAD_STACK_MIN. That much is proved; more is not.
	least := func(why string) {
		s.Size, s.SizeKnown, s.SizeMin = gf.stackMin, true, true
		s.SizeSource = fmt.Sprintf("at least PTHREAD_STACK_MIN (%d), the smallest glibc accepts: %s", gf.stackMin, why)
	}
	k, ok := keyOf(attr)
	if !ok {
		least("attributes not known at the call")
		return
	}
	a, ok := attrs[k]
	in := ""
	if a.via != "" {
		in = " " + a.via
	}
	switch {
	case !ok:
		least("attributes not set in this function")
	case a.why != "":
		least(a.why)
		s.SizeWhyAt = a.whyAt
	case !a.set:
		def("attributes without pthread_attr_setstacksize" + in)
	case a.size.k != vConst:
		least(a.setter + " with a size that is not a constant" + in)
	case a.setter == "pthread_attr_setstacksize" && a.size.v >= 0 && a.size.v < gf.stackMin:
		// the attributes keep what they had: the default, or a size set before
		least(fmt.Sprintf("pthread_attr_setstacksize(%d)%s is below PTHREAD_STACK_MIN on %s, which glibc refuses (EINVAL)", a.size.v, in, gf.arch))
	default:
		s.Size, s.SizeKnown = a.size.v, true
		s.SizeSource = fmt.Sprintf("%s(%d)%s", a.setter, a.size.v, in)
	}
}

// c11Size: glibc's thrd_create passes pthread_create no attributes of
// the caller's (ATTR_C11_THREAD), so the thread gets the default stack.
func c11Size(s *Site) {
	s.Size, s.SizeKnown, s.Default = DefaultPthreadStack, true, true
	s.SizeSource = "default: thrd_create takes no attributes; glibc uses RLIMIT_STACK (ulimit -s), typically 8 MiB"
}

func cloneSize(f *binfile.File, s *Site, stack value) {
	switch stack.k {
	case vAlloc:
		switch {
		case stack.n < 0:
			s.SizeWhy = fmt.Sprintf("the stack comes from %s of a size that is not a constant", stack.fn)
		case stack.v <= 0:
			s.SizeWhy = fmt.Sprintf("the stack pointer is %s(%d)%+d, not the top of the block", stack.fn, stack.n, stack.v)
		case stack.v > stack.n:
			s.Size, s.SizeKnown = stack.n, true
			s.SizeSource = fmt.Sprintf("%s(%d) + %d (the stack pointer is past the end of the block)", stack.fn, stack.n, stack.v)
		default:
			s.Size, s.SizeKnown = stack.v, true
			s.SizeSource = fmt.Sprintf("%s(%d) + %d", stack.fn, stack.n, stack.v)
		}
	case vConst:
		sym, ok := symbolBelow(f, uint64(stack.v))
		if !ok {
			s.SizeWhy = fmt.Sprintf("the stack top %#x is in no known data object", stack.v)
			return
		}
		s.Size, s.SizeKnown = int64(uint64(stack.v)-sym.Value), true
		s.SizeSource = fmt.Sprintf("%s (%s), stack top at offset %d", sym.Name, sz.Format(int64(sym.Size)), s.Size)
	case vStack:
		s.SizeWhy = "the stack is a buffer on the creating function's own stack"
	default:
		s.SizeWhy = "the stack pointer is not a constant, nor malloc/calloc/mmap of a constant size plus a constant"
	}
}

// v8mContext: the image is for ARMv8-M, whose FreeRTOS ports (ARM_CM33,
// CM23, CM55...) save PSPLIM beside EXC_RETURN and r4-r11 on the task's
// stack (ARM_CM33_NTZ's PendSV: stmdb r0!, {r2-r11}, 40 B). Measured on
// QEMU's mps2-an505: a tick taken at the worker's deepest point used 620 B
// where the bound with the CM4F port's 72 B of context said 616 B.
func v8mContext(f *binfile.File) bool {
	switch f.ARMCPUArch() {
	case 16, 17: // Tag_CPU_arch v8-M baseline, v8-M mainline
		return true
	}
	return false
}

func freertosSize(f *binfile.File, s *Site, ai archInfo, depth value, static bool, buf value) {
	if ai.thumb {
		// Measured in QEMU (internal/emu's task tests): the core's 32-byte
		// frame, 4 bytes when it aligns SP to 8 on entry (STKALIGN), and
		// r4-r11 plus EXC_RETURN saved by the ARM_CM4F port's switch (the
		// ARM_CM3 and CM0 ports save 4 bytes less).
		s.Context = 72
		s.ContextNote = "Cortex-M exception frame (32 B, 4 more when the core aligns SP), r4-r11 and EXC_RETURN saved by the context switch"
		if v8mContext(f) {
			s.Context += 4
			s.ContextNote += ", and PSPLIM (the ARMv8-M ports)"
		}
		if f.UsesFloatingPoint() {
			// A task that has run an FP instruction is switched out with
			// the extended frame (S0-S15 and FPSCR: 72 B more) and the
			// port's vstmdb of S16-S31 (64 B). Which tasks do cannot be
			// told from the ELF alone, so every task is counted with it.
			s.Context += 72 + 64
			s.ContextNote += "; the image uses the FPU: the extended frame (S0-S15, FPSCR) and S16-S31 saved by the context switch, 136 B more"
		}
	}
	var bySym int64
	symName := ""
	if static && buf.k == vConst && buf.v != 0 {
		if sym, ok := symbolAt(f, uint64(buf.v)); ok && sym.Size > 0 {
			bySym, symName = int64(sym.Size), sym.Name
			s.StackBuffer = sym.Name
		}
	}
	if depth.k == vConst {
		d := depth.v
		bytes := d * ai.word
		s.Size, s.SizeKnown = bytes, true
		s.SizeSource = fmt.Sprintf("stack depth %d words x %d B", d, ai.word)
		if bySym > 0 && bySym < bytes {
			s.Size = bySym
			s.SizeSource += fmt.Sprintf("; the buffer %s is only %s", symName, sz.Format(int64(bySym)))
		} else if bySym > 0 {
			s.SizeSource += fmt.Sprintf(" in %s (%s)", symName, sz.Format(int64(bySym)))
		}
		return
	}
	if bySym > 0 {
		s.Size, s.SizeKnown = bySym, true
		s.SizeSource = fmt.Sprintf("stack buffer %s (%s); the depth argument is not a constant", symName, sz.Format(int64(bySym)))
		return
	}
	s.SizeWhy = "the stack depth is not a constant"
	if static {
		switch {
		case buf.k == vConst && buf.v == 0:
			s.SizeWhy += " and the stack buffer is NULL at the call"
		default:
			s.SizeWhy += " and the stack buffer is not a known data object"
		}
	}
	for _, v := range []value{depth, buf} {
		if v.k == vUnknown && v.fn != "" {
			s.SizeWhy += fmt.Sprintf("; it comes back from the call of %s, which may write it with a value that is not a constant", v.fn)
			s.SizeWhyAt = uint64(v.v)
			break
		}
	}
}

func zephyrSize(f *binfile.File, s *Site, size, stack value, ai archInfo) {
	if ai.thumb {
		// Zephyr keeps a thread's callee-saved (and FP callee-saved)
		// registers in its thread object, not on its stack.
		s.Context = 36
		s.ContextNote = "Cortex-M exception frame (32 B, 4 more when the core aligns SP)"
		if f.UsesFloatingPoint() {
			s.Context += 72
			s.ContextNote += "; the image uses the FPU: the extended frame (S0-S15, FPSCR) is 72 B more"
		}
	}
	var bySym int64
	symName := ""
	if stack.k == vConst {
		if sym, ok := symbolAt(f, uint64(stack.v)); ok && sym.Size > 0 {
			bySym, symName = int64(sym.Size), sym.Name
		}
	}
	switch {
	case size.k == vConst && bySym > 0 && bySym < size.v:
		s.Size, s.SizeKnown = bySym, true
		s.SizeSource = fmt.Sprintf("stack object %s (%s; the call asks for %s)", symName, sz.Format(int64(bySym)), sz.Format(int64(size.v)))
	case size.k == vConst:
		s.Size, s.SizeKnown = size.v, true
		s.SizeSource = fmt.Sprintf("stack_size argument %d", size.v)
		if bySym > 0 {
			s.SizeSource += fmt.Sprintf(" (stack object %s, %s)", symName, sz.Format(int64(bySym)))
		}
	case bySym > 0:
		s.Size, s.SizeKnown = bySym, true
		s.SizeSource = fmt.Sprintf("stack object %s (%s)", symName, sz.Format(int64(bySym)))
	default:
		s.SizeWhy = "neither the stack_size argument nor the stack object is known"
	}
}

// zephyrStatic reads K_THREAD_DEFINE's struct _static_thread_data objects
// (symbols _k_thread_data_NAME): init_thread, init_stack, init_stack_size,
// init_entry, ... with pointer-sized fields.
func zephyrStatic(g *callgraph.Graph, ai archInfo) []Site {
	f := g.Modules[0].File
	ptr := uint64(4)
	if !ai.thumb {
		ptr = 8
	}
	var out []Site
	for _, sym := range f.Symbols() {
		if t := elf.ST_TYPE(sym.Info); t != elf.STT_OBJECT && t != elf.STT_NOTYPE || !strings.HasPrefix(sym.Name, "_k_thread_data_") || sym.Size < 4*ptr {
			continue
		}
		data, err := f.Code(sym.Value, 4*ptr)
		if err != nil || uint64(len(data)) < 4*ptr {
			continue
		}
		word := func(i uint64) uint64 {
			if ptr == 4 {
				return uint64(binary.LittleEndian.Uint32(data[i*4:]))
			}
			return binary.LittleEndian.Uint64(data[i*8:])
		}
		s := Site{Creator: "K_THREAD_DEFINE", CreatedBy: strings.TrimPrefix(sym.Name, "_k_thread_data_"), EntryNode: -1}
		setEntry(g, &s, constant(int64(word(3))), ai)
		size := word(2)
		if ptr == 8 {
			size = uint64(binary.LittleEndian.Uint32(data[16:]))
		}
		zephyrSize(f, &s, constant(int64(size)), constant(int64(word(1))), ai)
		out = append(out, s)
	}
	return out
}

// dataSymbols are the file's object symbols by address.
func dataSymbols(f *binfile.File) []elf.Symbol {
	var out []elf.Symbol
	for _, s := range f.Symbols() {
		// STT_NOTYPE too: GCC emits some static arrays without a type.
		if t := elf.ST_TYPE(s.Info); (t == elf.STT_OBJECT || t == elf.STT_NOTYPE) && s.Size > 0 && !strings.HasPrefix(s.Name, "$") {
			out = append(out, s)
		}
	}
	return out
}

// symbolAt returns the data object starting at addr.
func symbolAt(f *binfile.File, addr uint64) (elf.Symbol, bool) {
	for _, s := range dataSymbols(f) {
		if s.Value == addr {
			return s, true
		}
	}
	return elf.Symbol{}, false
}

// symbolBelow returns the data object holding addr-1: a stack top given as
// the end of an array.
func symbolBelow(f *binfile.File, addr uint64) (elf.Symbol, bool) {
	for _, s := range dataSymbols(f) {
		if addr > s.Value && addr <= s.Value+s.Size {
			return s, true
		}
	}
	return elf.Symbol{}, false
}
