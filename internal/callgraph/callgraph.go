// Package callgraph builds the call graph of a program and the shared
// libraries it calls into: one node per function, one edge per call, each
// edge labelled with the method that resolved it. Calls it cannot resolve
// stay on their node as unresolved call sites, never dropped.
package callgraph

import (
	"debug/elf"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/dwtypes"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/libcache"
	"github.com/stackscope/stackscope/internal/pages"
)

// Module is one ELF file in the graph: the program or a shared library.
type Module struct {
	File *binfile.File
	Name string // base name, for reports
	// nodes maps a function index in File.Functions to its node.
	nodes funcNodes
	// code maps the address of code that no symbol starts (a jump into a
	// function's cold part, a call to a local label) to its node.
	code map[uint64]int
	// pltSlots caches the GOT slot each decoded PLT stub jumps through.
	pltSlots map[uint64]uint64
	// pltLinks caches, for the resolution under way, what a call to a
	// PLT stub links to (slotLink).
	pltLinks map[uint64]slotLink
	// hub is the node standing for the module's address-taken set (see
	// takenHub), -1 until an indirect call first needs it.
	hub, hubCount int
	// hubDetail says what an assumption of the hub's set assumes
	// (takenDetail).
	hubDetail string
	// taken are the nodes of the module's own address-taken functions.
	taken []int
	// takenProtos are their prototypes (takenPrototypes).
	takenProtos []takenPrototype
	// runTimeLookups: the module's private symbol lookups and a loader
	// are reachable; its hubs reach the code of objects loaded at run
	// time (dlsym.go).
	runTimeLookups bool
	// narrowed caches the hubs of narrowed target sets (see narrow).
	narrowed map[string]narrowed
	// vtableHubs are the vtable slots' among them (vtableHub).
	vtableHubs map[vtableHubKey]narrowed
	dwarf      *dwtypes.Info
	dwarfOnce  sync.Once // (dwarfOf)
	// rtldWords are the addresses of its ld.so mutex words
	// (rtldMutexWordAddrs), found once.
	rtldWords     []uint64
	rtldWordsOnce sync.Once
	// wideVtable is the offset of glibc's _wide_vtable in struct
	// _IO_wide_data (0 not read yet, -1 not known; libioforeign.go).
	wideVtable int64
	// helper is what the model of vfprintf's helper stream knows of the
	// module (libiohelper.go).
	helper libioHelper
}

// Node is a function, or an external: an imported function no library on
// the search path defines.
type Node struct {
	Module   *Module // nil for an external
	Func     *binfile.Function
	name     string // "": Func's (Name)
	Frame    frame.Frame
	External bool
	// Hub marks the node that stands for a module's address-taken set:
	// no code, no frame; its edges go to the set's functions.
	Hub   bool
	Edges []Edge
	// Unresolved are indirect call sites whose targets are not known.
	Unresolved []frame.CallSite
	// Assumed are indirect calls given edges by assumption (address-taken).
	Assumed []Assumption
	// rare holds the lists few nodes have (BadTargets, ExcReturns; nil when
	// both are empty): 40 bytes less in every node, and a graph keeps a
	// node per function (libLLVM-15 and its libraries: 158,000).
	rare *nodeRare
	// Summary marks a node that stands for a model of code rather than
	// the code (MethodLibcStart: the __libc_start_main summary and its
	// parts, see ModelStart); it is no function of its own.
	Summary string
	// Premises are what an entry that reaches the node rests on, beyond
	// its code (see ModelRuntime).
	Premises []Premise
	// RecursionDepth, when not 0, is the most activations of the node's
	// recursive cycle a model proved or premised (see Premises): the
	// bound takes it as a [[recursion]] depth (ldnloaded.go).
	RecursionDepth int64
}

// Name is the node's name: its function's demangled name (demangled when
// first asked for: binfile.Function.Name), unless the node was given one.
func (n *Node) Name() string {
	if n.name == "" && n.Func != nil {
		return n.Func.Name()
	}
	return n.name
}

// NamedBy is the function whose name (binfile.Function.Name) is the
// node's, or nil when the node has a name of its own or no function.
func (n *Node) NamedBy() *binfile.Function {
	if n.name == "" {
		return n.Func
	}
	return nil
}

// CName is the node's name when that is a C name, else "" (see
// binfile.Function.CName: matching C names without demangling).
func (n *Node) CName() string {
	if n.name == "" && n.Func != nil {
		return n.Func.CName()
	}
	return binfile.CName(n.name)
}

// NewNode is a node with this name and frame and nothing else (for tests
// of what reads a graph).
func NewNode(name string, fr frame.Frame) *Node { return &Node{name: name, Frame: fr} }

// nodeRare is the part of a node that few nodes have (Node.rare).
type nodeRare struct {
	badTargets []frame.CallSite
	excReturns []ExcReturn
}

// BadTargets are the node's direct calls to addresses that start no known
// function.
func (n *Node) BadTargets() []frame.CallSite {
	if n.rare == nil {
		return nil
	}
	return n.rare.badTargets
}

// ExcReturns are the node's indirect jumps taken for Cortex-M exception
// returns (see EndAtExcReturn): they have no edges.
func (n *Node) ExcReturns() []ExcReturn {
	if n.rare == nil {
		return nil
	}
	return n.rare.excReturns
}

// ReleaseRare lets go of the node's BadTargets and ExcReturns (for a
// caller done with the graph's nodes one by one).
func (n *Node) ReleaseRare() { n.rare = nil }

// more is n.rare, made when n has none.
func (n *Node) more() *nodeRare {
	if n.rare == nil {
		n.rare = &nodeRare{}
	}
	return n.rare
}

// ExcReturn is an indirect jump of a handler-mode function taken for an
// exception return: the handler's use of the main stack ends there, as
// at a return (frame.ExcReturnKind says why).
type ExcReturn struct {
	Site uint64
	// Assumed: the target is an EXC_RETURN only if the code that saved
	// the restored context put one there (frame.ExcReturnContext);
	// otherwise the constant is one (frame.ExcReturnConstant).
	Assumed bool
	Detail  string
}

// EndAtExcReturn makes node id's indirect jump at site an exception
// return: its edges (to the address-taken set, a narrowed set, an
// annotated target), its unresolved call and its assumed targets go. The
// caller, which knows the processor's modes, decides that the jump runs
// in handler mode only.
func (g *Graph) EndAtExcReturn(id int, site uint64, assumed bool, detail string) {
	n := g.Nodes[id]
	n.Edges = slices.DeleteFunc(n.Edges, func(e Edge) bool { return e.Site == site })
	n.Unresolved = slices.DeleteFunc(n.Unresolved, func(cs frame.CallSite) bool { return cs.Addr == site })
	n.Assumed = slices.DeleteFunc(n.Assumed, func(a Assumption) bool { return a.Site == site })
	r := n.more()
	r.excReturns = append(r.excReturns, ExcReturn{Site: site, Assumed: assumed, Detail: detail})
}

// Edge is one call from a node.
//
// The one-byte fields come last: a graph holds millions of edges
// (libLLVM-15: 1.8 million), and each padded to its own word took 56
// bytes instead of 48.
type Edge struct {
	To    int
	Site  uint64
	Depth int64 // the caller's depth at the call (frame.CallSite.Depth)
	// Method says how the target was found: MethodDirect, MethodPLT
	// (through the PLT, by the imported symbol's name), MethodGOT (call
	// [rip+X]), MethodIfunc (an implementation the GNU ifunc resolver can
	// return), or the method of a model or of an indirect call's set.
	Method Method
	Kind   frame.CallKind
	// AfterReset: the call comes after the caller set SP to the top of
	// the main stack; Depth is measured from that top.
	AfterReset bool
}

// Graph is the whole call graph.
type Graph struct {
	Arch    binfile.Arch
	Decoder isa.Decoder
	// noLinkRegister: Decoder has no link register, so no frame the
	// graph walks returns elsewhere (frame.Frame.ReturnsElsewhere, which
	// the walker sets only through one), and checkReturn need not read
	// the callee's node at each edge (often a cache miss: with
	// cutLibcFatal's, 16 ms of node's resolution, perf). Set by Build;
	// false, the safe value, in a graph made otherwise.
	noLinkRegister bool
	Modules        []*Module
	Nodes          []*Node
	// emptyInit is the index plus one of the node the calls of empty init
	// and fini loops go to (0: none made yet).
	emptyInit int
	// lookupHub is the index plus one of the hub of the functions dlsym
	// can return, once a lookup is reachable (dlsym.go; 0: not made).
	lookupHub int
	// runTimeNode is the index plus one of the node of the functions of
	// objects loaded at run time (dlsym.go; 0: not made).
	runTimeNode int
	// reachRounds counts ModelReachableTables' walks of the graph (a
	// test's measure of the rounds its fixpoint took).
	reachRounds int
	// Missing lists DT_NEEDED libraries that could not be found.
	Missing []string

	opts Options
	// spareIndex is the caller index's arrays the last argModel gave
	// back (argcallback.go's callerIndex).
	spareIndexMu sync.Mutex
	spareIndex   *callerIndex

	dataMu     sync.Mutex
	data       map[*binfile.File][]frame.Range
	cases      map[*binfile.File]map[uint64]frame.CaseHelper
	calls      map[*binfile.File]*fileCalls
	search     binfile.LibrarySearch
	libsLoaded bool
	libsOpened chan openedLibraries // (libopen.go)
	externals  map[string]int
	// lazyResolvers are the nodes standing for ld.so's lazy-binding
	// resolver, one per lazy slot (see linkLazy).
	lazyResolvers map[lazyKey]int
	pending       []int
	// cloneOf maps each copy of a chain function to its original (see
	// specialiseArgumentCallbacks).
	cloneOf map[int]int
	// mainStack is the firmware's vector table (nil otherwise): its
	// initial SP is the top of the main stack (frame.Input.MainStackTop).
	mainStack *binfile.VectorTable

	// ifuncs keeps what each ifunc resolver was proved to return
	// (ifuncret.go): linkIFunc asks once per call site.
	ifuncs map[*binfile.Function]ifuncReturns
	// ifuncUnproved are the calls of ifuncs whose resolver's returns
	// are not proved: no address-taken set stands for their targets.
	ifuncUnproved map[ifuncSite]string

	// linearTables keeps, per function and jumps asked about, where
	// its jump tables land (decodeLinear, tableTargetsOnce; nil: not all
	// read), under dataMu.
	linearTables map[tablesKey]map[uint64][]uint64
	// prototypeScratch is prototypeHub's list of the functions that fit,
	// kept between calls (the resolution asks one at a time).
	prototypeScratch []int
	// recent keeps the last few linear decodes and flows made
	// (recentAnswers; argshared.go's derived).
	recent recentAnswers
	// fatal: glibc's fatal-error functions and the calls into them not
	// followed (libcfatal.go).
	fatal libcFatal

	// resolver is ld.so's lazy-binding resolver modelled on this CPU
	// (lazyresolver.go).
	resolver resolverModel
	// exitHandlers are the [exit handlers] nodes (libcstart.go).
	exitHandlers []exitHandlers
	// Loaded is the number of objects the program's namespace holds,
	// when ModelLoadedObjects proved it (ldnloaded.go).
	Loaded LoadedObjects
	// escaping keeps escapingImports' answers (importroots.go).
	escaping escapingCache
	// directSites keeps, per module, the direct calls and jumps into its
	// functions (argdirect.go).
	directSites map[*Module]directSites
	// directAhead waits for the direct sites of a module being found on
	// another goroutine (startDirectCallSites, argdirect.go).
	directAhead map[*Module]func() directSites
	// modelsAhead waits for the file-pure answers the models will ask
	// for, made on another goroutine (startModelsAhead, modelsahead.go).
	modelsAhead func() struct{}
	// modelsAheadMade is how many answers startModelsAhead made (for a test).
	modelsAheadMade int
	// gconvAhead waits for the gconv model's step calls being read on
	// another goroutine (startGconvAhead, gconvahead.go); gconvAheadMade
	// is how many it read (for a test).
	gconvAhead     func() int
	gconvAheadMade int
	// BesideLastModels, when set, is called by ModelRuntime before its
	// last models (ModelReachableTables and what follows), which run on
	// its goroutine alone and leave a core idle (/usr/bin/node: about
	// 0.06 s): it may start work on another goroutine there, reading the
	// graph only while it is called, not from that goroutine.
	BesideLastModels func()
	// indexed receive the panic (or nil) of each of startIndexing's
	// goroutines (resolveahead.go).
	indexed []chan any
	// imports keeps where each module's imported symbols are defined
	// (importDefinition).
	imports map[importKey]importDef
	// pltLinked are the modules whose pltLinks are set.
	pltLinked []*Module
	// direct hands Build's resolution the program's direct calls' targets,
	// looked up ahead (directahead.go; nil: none).
	direct *directAhead
	// directHinted counts the nodes resolved with those answers (a test's).
	directHinted int
	// ahead walks the libraries' frames while Build resolves the edges
	// (walkahead.go; nil: never started; after Build, stopped, with the
	// frames not taken yet).
	ahead *aheadWalker
	// aheadTook counts the frames the resolution took from it.
	aheadTook int
	// dwarfAhead: the program's DWARF types were loaded ahead
	// (loadProgramDWARFAhead).
	dwarfAhead bool
	// interp is the path the program's PT_INTERP names (interpOK: it
	// has one), read once (isInterpreter: the resolution asks at every
	// call through a lazy slot, and a read of the file each time was 0.4
	// s of 117 programs' analysis).
	interpOnce sync.Once
	interp     string
	interpOK   bool
}

// Options control how the graph is built.
type Options struct {
	// FollowLibraries follows PLT calls into the DT_NEEDED libraries.
	FollowLibraries bool
	// LibPaths are searched before the system's library directories.
	LibPaths []string
	// StackAlign is the ABI stack alignment (see frame.Input).
	StackAlign int64
	// Workers is the number of goroutines computing frames (0: all cores).
	Workers int
	// Annotations name indirect-call targets (stackscope.toml).
	Annotations []Annotation
	// Strict leaves indirect calls without annotated or proved targets
	// unresolved instead of assuming the address-taken set.
	Strict bool
	// AuditHooks keeps the calls ld.so's _dl_audit_* hooks make to an
	// audit library's callbacks, which run only under LD_AUDIT (see
	// ModelRuntime).
	AuditHooks bool
	// Libraries, when not nil, opens the shared libraries and keeps their
	// functions' frames, for the programs analysed after this one.
	Libraries *libcache.Cache
}

// Build computes the frame of every function of main and the call edges
// from each; library functions are added as calls reach them.
func Build(main *binfile.File, dec isa.Decoder, opts Options) *Graph {
	g := &Graph{Arch: main.Arch, Decoder: dec, opts: opts, externals: map[string]int{}, noLinkRegister: !hasLinkRegister(dec)}
	g.search.Extra = opts.LibPaths
	g.mainStack = main.VectorTable()
	m := g.addModule(main)
	g.startOpeningLibraries()                                                                 // (libopen.go) while the program's frames are walked
	g.startIndexing(func() { main.Lookup(""); main.AddressTaken(); main.IndexVtableSlots() }) // the same, and more (resolveahead.go)
	g.loadProgramDWARFAhead(m)                                                                // its DWARF types, the same
	idx := make([]int, len(main.Functions))
	for i := range main.Functions {
		idx[i] = i
	}
	g.addNodes(m, idx)
	opts.Libraries.ProgramWalked(main, opts.StackAlign) // its cache entry written from now, beside what follows
	Phase("program walk")
	g.startWalkingAhead(g.workers())      // the libraries' frames, the same (walkahead.go)
	g.startDirectAhead(main, g.workers()) // the program's direct calls' targets (directahead.go)
	g.resolvePending()
	g.stopDirectAhead()
	g.stopWalkingAhead()
	g.finishIndexing()
	return g
}

// Phase marks the end of a part of Build for the phase timing of
// docs/PERFORMANCE.md (STACKSCOPE_PHASES=1; internal/analysis sets it):
// the program's walk, on every core, is then told apart from the
// resolution that follows it, mostly on one.
var Phase = func(name string) {}

func (g *Graph) addModule(f *binfile.File) *Module {
	m := &Module{File: f, Name: filepath.Base(f.Path), nodes: newFuncNodes(len(f.Functions)), code: map[uint64]int{}, pltSlots: map[uint64]uint64{}, hub: -1}
	g.Modules = append(g.Modules, m)
	return m
}

// addNodes creates nodes for functions fns of m, computing their frames in
// parallel, and queues them for edge resolution.
func (g *Graph) addNodes(m *Module, fns []int) {
	// The nodes are made in a slab (nodeSlab) and each frame is walked
	// straight into its node: a table of frames walked, then copied into nodes
	// made one by one, was 21 MB (and 77,000 allocations more) on
	// /usr/bin/node, made, faulted in and copied once. The frames walked
	// ahead (walkahead.go) are copied straight into their nodes too.
	nodes := newNodeSlab(len(fns))
	walk := g.takeAhead(m, fns, func(i int) *frame.Frame { return &nodes.at(i).Frame }) // (walkahead.go: nil, none walked ahead)
	if walk == nil {
		walk = make([]int, len(fns))
		for i := range walk {
			walk[i] = i
		}
	}
	workers := g.workers()
	if len(walk) < 64 {
		workers = 1
	}
	if workers == 1 {
		// Walked here: a goroutine of its own for the one function a
		// call reaches (nodeFor) parked the resolution until it ended,
		// some 200 times on libLLVM-15, for the same work.
		for _, i := range walk {
			nodes.at(i).Frame = g.analyzeFunction(m.File, &m.File.Functions[fns[i]])
		}
		walk = nil
	}
	// The workers take the next function from a shared counter. (A
	// channel fed by this goroutine left a core idle: with both cores
	// walking, the feeder ran only once a worker found the channel empty
	// and parked, some 10,000 times on libLLVM.)
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < workers && len(walk) > 0; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := next.Add(1) - 1; k < int64(len(walk)); k = next.Add(1) - 1 {
				i := walk[k]
				nodes.at(i).Frame = g.analyzeFunction(m.File, &m.File.Functions[fns[i]])
			}
		}()
	}
	wg.Wait()
	for i, fi := range fns {
		n := nodes.at(i)
		n.Module, n.Func = m, &m.File.Functions[fi]
		id := len(g.Nodes)
		g.Nodes = append(g.Nodes, n)
		m.nodes.set(fi, id)
		if len(n.Frame.Leaves) > 0 {
			g.modelLongjmp(id) // (longjmp.go)
		}
		if movesInLoop(g.Arch, n.Frame) {
			g.modelCountedLoop(id) // (countedloop.go)
		}
		g.pending = append(g.pending, id)
	}
}

// nodeSlab holds a module's new nodes in chunks of nodeSlabChunk, each
// written once per page (pages.Touch) as soon as it is made.
//
// Why chunks: a slab this large (34 MB on /usr/bin/node) is often the
// allocation that starts a collection, whose mark workers then read the
// slab on the other core while Touch writes it; every page they read
// first maps the zero page, and Touch's write to it is a write-protect
// fault with a TLB flush to the other core (perf, one run of node: 3,231
// such faults on the slab, 0.08 s of CPU). A chunk is touched
// before the next is made, so a collection the next one starts finds
// every earlier page written.
type nodeSlab [][]Node

// nodeSlabChunk is the nodes of a chunk: 225 KB, 55 pages.
const nodeSlabChunk = 512

func newNodeSlab(n int) nodeSlab {
	s := make(nodeSlab, 0, (n+nodeSlabChunk-1)/nodeSlabChunk)
	for n > 0 {
		chunk := make([]Node, min(n, nodeSlabChunk))
		pages.Touch(chunk, func(n *Node) { n.RecursionDepth = 0 })
		s = append(s, chunk)
		n -= len(chunk)
	}
	return s
}

// at is the i-th node of the slab.
func (s nodeSlab) at(i int) *Node { return &s[i/nodeSlabChunk][i%nodeSlabChunk] }

// workers is the number of goroutines that walk frames.
func (g *Graph) workers() int {
	if g.opts.Workers > 0 {
		return g.opts.Workers
	}
	return runtime.GOMAXPROCS(0)
}

func (g *Graph) analyzeFunction(f *binfile.File, fn *binfile.Function) frame.Frame {
	return g.strictStackArgs(f, fn, g.cachedFrame(f, fn)) // (stackargs.go)
}

// cachedFrame is fn's frame from the library cache, or walked and stored
// there.
func (g *Graph) cachedFrame(f *binfile.File, fn *binfile.Function) frame.Frame {
	// A library's frame depends on the library alone (libcache); so does
	// a Linux program's, whose walk has no main stack (firmware) or
	// start-up stack model (RISC-V) of its own.
	var store *libcache.Frames
	switch {
	case f != g.Modules[0].File:
		store = g.opts.Libraries.Frames(f, g.opts.StackAlign)
	case g.mainStack == nil && (f.Arch == binfile.ArchX86_64 || f.Arch == binfile.ArchARM64):
		store = g.opts.Libraries.ProgramFrames(f, g.opts.StackAlign)
	}
	if fr, ok := store.Get(fn.Addr, fn.Size); ok {
		return fr
	}
	fr := g.walkFunction(f, fn)
	store.Put(fn.Addr, fn.Size, fr)
	return fr
}

// libraryStore is the library cache's store for module m: nil for the
// program itself (or without a cache), whose answers are not kept.
func (g *Graph) libraryStore(m *Module) *libcache.Frames {
	if m == g.Modules[0] {
		return nil
	}
	return g.opts.Libraries.Frames(m.File, g.opts.StackAlign)
}

// walkFunction computes the frame of fn from its code.
func (g *Graph) walkFunction(f *binfile.File, fn *binfile.Function) frame.Frame {
	return g.walkFunctionWith(f, fn, nil)
}

// walkFunctionWith is walkFunction with more the caller knows (a model's
// bound on a run-time SP move, see ldnloaded.go) set on the input by more.
func (g *Graph) walkFunctionWith(f *binfile.File, fn *binfile.Function, more func(*frame.Input)) frame.Frame {
	code, err := f.Code(fn.Addr, fn.Size)
	if err != nil {
		return frame.Frame{Kind: frame.Unknown, Reason: fmt.Sprintf("code not readable: %v", err), ReasonAddr: fn.Addr}
	}
	in := frame.Input{Addr: fn.Addr, Code: code, Decoder: g.Decoder, StackAlign: g.opts.StackAlign, DataInCode: g.dataInCode(f)}
	if f.Arch == binfile.ArchThumb {
		in.Tail = literalTail(f, fn.Addr+fn.Size)
	}
	c := g.callsOf(f)
	in.Continue, in.CFA = c.continueFn, c.cfaFn
	if vt := g.mainStack; vt != nil && f == g.Modules[0].File {
		in.MainStackTop, in.HasMainStack = vt.InitialSP, true
	}
	in.CaseHelpers = g.caseHelpers(f)
	g.setX86Calls(f, &in)
	setMillicode(f, &in)
	g.setRISCVNoReturn(f, &in)
	if f == g.Modules[0].File {
		setRISCVStack(f, &in)
	}
	if more != nil {
		// A copy: &in given to a function value would move in, and so
		// every walk's Input, to the heap.
		moved := in
		// (A model's walk is not cached, so it follows --strict itself;
		// see strictStackArgs for the cached one.)
		moved.StrictArgs = g.opts.Strict
		more(&moved)
		return frame.Analyze(moved)
	}
	return frame.Analyze(in)
}

// continueCode is frame.Input.Continue for f: the code at addr, when a
// jump goes there into code no function starts.
func continueCode(f *binfile.File, addr uint64) ([]byte, bool) {
	if _, isFunction := f.FunctionIndex(addr); isFunction || f.InPLT(addr) || !f.IsExecutable(addr) {
		return nil, false
	}
	code, err := f.Code(addr, min(f.CodeEnd(addr)-addr, maxContinuation))
	return code, err == nil
}

// caseHelpers finds libgcc's switch helpers in f by their names, once per
// file (Thumb only): a call to one is a jump table (frame.CaseTable). In a
// file without their symbols the helpers are not known, and a call to one
// is caught another way: the helper changes LR before it returns through
// it (frame.Frame.ReturnsElsewhere), and its caller is then Unknown.
func (g *Graph) caseHelpers(f *binfile.File) map[uint64]frame.CaseHelper {
	if f.Arch != binfile.ArchThumb {
		return nil
	}
	g.dataMu.Lock()
	defer g.dataMu.Unlock()
	if m, ok := g.cases[f]; ok {
		return m
	}
	var m map[uint64]frame.CaseHelper
	for name, h := range frame.CaseHelperNames {
		if fn, ok := f.Lookup(name); ok {
			if m == nil {
				m = map[uint64]frame.CaseHelper{}
			}
			m[fn.Addr] = h
		}
	}
	if g.cases == nil {
		g.cases = map[*binfile.File]map[uint64]frame.CaseHelper{}
	}
	g.cases[f] = m
	return m
}

// literalTail returns the bytes from end (a function's end) to the next
// function or the end of the executable section, at most maxLiteralReach:
// where the assembler may have put the function's literal pool past its
// symbol's size. Nothing when a function starts at end.
func literalTail(f *binfile.File, end uint64) []byte {
	if _, inFunction := f.Containing(end); inFunction || !f.IsExecutable(end) {
		return nil
	}
	code, err := f.Code(end, min(f.CodeEnd(end)-end, maxLiteralReach))
	if err != nil {
		return nil
	}
	return code
}

// maxLiteralReach is how far past an instruction a Thumb literal load can
// read (ldr.w rX, [pc, #4095]).
const maxLiteralReach = 4096

// maxContinuation caps the code a jump into the middle of other code can
// bring into a walk: a cold part or shared epilogue is short, and code
// past the cap that the walk reaches makes the frame unknown, not wrong.
const maxContinuation = 16 << 10

// dataInCode converts the file's data ranges once per file.
func (g *Graph) dataInCode(f *binfile.File) []frame.Range {
	g.dataMu.Lock()
	defer g.dataMu.Unlock()
	if r, ok := g.data[f]; ok {
		return r
	}
	r := make([]frame.Range, len(f.DataInCode))
	for i, d := range f.DataInCode {
		r[i] = frame.Range{Begin: d.Begin, End: d.End}
	}
	if g.data == nil {
		g.data = map[*binfile.File][]frame.Range{}
	}
	g.data[f] = r
	return r
}

// nodeFor returns the node of function index fi in m, creating it.
func (g *Graph) nodeFor(m *Module, fi int) int {
	if id, ok := m.nodes.get(fi); ok {
		return id
	}
	if g.ahead != nil {
		g.queueAhead(m) // (walkahead.go)
	}
	g.addNodes(m, []int{fi})
	id, _ := m.nodes.get(fi)
	return id
}

// codeNode returns a node for code at addr that starts no known function
// but lies in executable code: it is analysed like a function that runs
// from addr to the end of the function containing it. A jump there is a
// tail call in effect: the code runs on the jumping function's SP.
func (g *Graph) codeNode(m *Module, addr uint64) (int, bool) {
	if id, ok := m.code[addr]; ok {
		return id, true
	}
	if m.File.InPLT(addr) {
		if id, ok := g.pltNode(m, addr); ok {
			return id, true
		}
		// A stub whose slot is not known: walked as code, as before.
	}
	if !m.File.IsExecutable(addr) {
		return 0, false
	}
	end := m.File.CodeEnd(addr)
	if end <= addr {
		return 0, false
	}
	name := fmt.Sprintf("code_%x", addr)
	if parent, ok := m.File.Containing(addr); ok {
		name = fmt.Sprintf("%s+%#x", parent.Name(), addr-parent.Addr)
	}
	fn := &binfile.Function{LinkName: name, Addr: addr, Size: end - addr, Source: "jump-target"}
	id := len(g.Nodes)
	g.Nodes = append(g.Nodes, &Node{Module: m, Func: fn, name: name, Frame: g.analyzeFunction(m.File, fn)})
	m.code[addr] = id
	g.pending = append(g.pending, id)
	return id, true
}

func (g *Graph) resolvePending() {
	for len(g.pending) > 0 {
		id := g.pending[0]
		g.pending = g.pending[1:]
		g.resolveEdges(id)
	}
	// The answers kept for this resolution (importDefinition) go with
	// it: libLLVM-15's live heap has little room left under the soft
	// memory limit (docs/PERFORMANCE.md, fifth pass). Written only when
	// set: a settled graph's Resolve (bound.New's) then only reads, and
	// bounds on several goroutines do not race (analysis: the threads'
	// bound beside the entries').
	if g.imports != nil {
		g.imports = nil
	}
	for _, m := range g.pltLinked {
		m.pltLinks = nil
	}
	if g.pltLinked != nil {
		g.pltLinked = nil
	}
}

func (g *Graph) resolveEdges(id int) {
	n := g.Nodes[id]
	if n.External || n.Hub {
		return
	}
	m := n.Module
	hints := g.directHints(id, len(n.Frame.Calls)) // (directahead.go: nil, none)
	for k, cs := range n.Frame.Calls {
		switch {
		case !cs.Kind.Indirect():
			if fi, ok := g.directTarget(m, cs, hints, k); ok {
				g.addEdge(id, g.nodeFor(m, fi), cs, MethodDirect)
				continue
			}
			if m.File.InPLT(cs.Target) && g.linkPLT(id, m, cs) {
				continue
			}
			if to, ok := g.codeNode(m, cs.Target); ok {
				g.addEdge(id, to, cs, MethodDirect)
				continue
			}
			n.more().badTargets = append(n.more().badTargets, cs)
		case cs.HasSlot:
			if _, ok := g.linkSlot(id, m, cs.Slot, cs, MethodGOT); !ok {
				n.Unresolved = append(n.Unresolved, cs)
			}
		case g.Arch == binfile.ArchThumb && isConstant(cs.From):
			g.linkConstant(id, m, cs)
		case g.linkGOTLoad(id, m, cs):
		default:
			n.Unresolved = append(n.Unresolved, cs)
		}
	}
	g.resolveIndirect(id)
}

// directTarget returns the index of the function of m that the direct
// call cs (call site k of its node) targets: hints[k] when the program's
// calls were looked up ahead (directahead.go), m.File's answer otherwise.
func (g *Graph) directTarget(m *Module, cs frame.CallSite, hints []int32, k int) (int, bool) {
	if hints != nil {
		return int(hints[k]), hints[k] >= 0
	}
	return m.File.FunctionIndex(cs.Target)
}

// linkGOTLoad links an indirect call through a register loaded from a
// GOT slot (`mov rax,[rip+slot]; test rax,rax; je 1f; call rax`, crt's
// calls of __gmon_start__ and the TM clone tables): to the symbol's
// definition as a call through the slot would be. A weak import no module
// defines leaves the slot 0; the code tests it before the call, which
// never happens (a call of address 0 would fault): no edge, no reason.
func (g *Graph) linkGOTLoad(id int, m *Module, cs frame.CallSite) bool {
	v := cs.From
	if g.Arch != binfile.ArchX86_64 || v == nil || v.Kind != frame.ValueLoad || v.Off != 0 || v.Indexed ||
		v.Addr == nil || !isConstant(v.Addr) {
		return false
	}
	slot := uint64(v.Addr.Off)
	name, ok := m.File.Slots[slot]
	if !ok {
		return false
	}
	if m.File.WeakImport(name) && !g.definedAnywhere(name) {
		return true
	}
	_, ok = g.linkSlot(id, m, slot, cs, MethodGOT)
	return ok
}

// definedAnywhere says whether the program or a library defines name.
func (g *Graph) definedAnywhere(name string) bool {
	if g.opts.FollowLibraries {
		g.loadLibraries()
	}
	for _, mod := range g.Modules {
		if fn, ok := mod.File.Lookup(name); ok && (mod == g.Modules[0] || fn.Exported) {
			return true
		}
	}
	return !g.opts.FollowLibraries // libraries not followed: not known
}

// isConstant says whether an indirect call's target is a constant the
// code loads, not an element of a table.
func isConstant(v *frame.Value) bool {
	return v != nil && v.Kind == frame.ValueConst && !v.Indexed
}

// linkConstant links a Thumb call or branch through a register that the
// straight-line code before it sets to a constant (`ldr r2, =f; bx r2`,
// as FreeRTOS demos' HardFault_Handler does, or movw/movt; blx): it is a
// direct call or tail call to the function that starts there. The Thumb
// decoder names every register an instruction writes (isa.Effect
// DefAlso), so the slice that found the constant is a proof, and the edge
// stands even with --strict. A constant without the Thumb bit, or one
// that starts no function, stays an unresolved call, with its address in
// Target.
func (g *Graph) linkConstant(id int, m *Module, cs frame.CallSite) {
	c := uint64(uint32(cs.From.Off))
	if c&1 == 1 {
		if fi, ok := m.File.FunctionIndex(c &^ 1); ok {
			g.addEdge(id, g.nodeFor(m, fi), cs, MethodConstant)
			return
		}
	}
	cs.Target = c
	n := g.Nodes[id]
	n.Unresolved = append(n.Unresolved, cs)
}

func (g *Graph) addEdge(from, to int, cs frame.CallSite, method Method) {
	kind := cs.Kind
	switch kind {
	case frame.IndirectCall:
		kind = frame.Call
	case frame.IndirectTailCall:
		kind = frame.TailCall
	}
	if marker, ok := g.cutLibcFatal(from, to, cs); ok {
		to, method = marker, MethodLibcFatal
	}
	n := g.Nodes[from]
	if n.Edges == nil {
		if n.Edges = g.directEdges(from); n.Edges == nil { // (directahead.go: nil, none)
			n.Edges = make([]Edge, 0, edgeRoom(n))
		}
	}
	n.Edges = append(n.Edges, Edge{To: to, Site: cs.Addr, Kind: kind, Depth: cs.Depth, Method: method, AfterReset: cs.AfterReset})
	g.checkReturn(from, to, cs)
}

// edgeRoom is the room a node's edge list starts with: one edge per call
// site, which most call sites get (a direct call, a resolved indirect one).
// Growing the list by doubling from one edge was 200 MB of garbage on
// libLLVM-15 (1.4 million edges), and ClipEdges copied most lists once
// more to drop the spare room; a list made to this size usually ends full.
// A call through the PLT of a module with lazily bound slots counts two:
// it gets an edge to the lazy-binding resolver too (linkLazy). Counted
// as one, the lists of libLLVM-15's 62,000 functions that call through
// its PLT grew past their room (a copy each), and most were copied once
// more by ClipEdges.
func edgeRoom(n *Node) int {
	room := len(n.Frame.Calls)
	if m := n.Module; m != nil && m.File != nil && len(m.File.LazySlots) > 0 && len(m.File.PLT) > 0 {
		for _, cs := range n.Frame.Calls {
			if !cs.Kind.Indirect() && m.File.InPLT(cs.Target) {
				room++
			}
		}
	}
	return max(room, 1)
}

// hasLinkRegister says whether the frame walker follows a link register
// with dec: the test frame.walker.analyze makes before it can set
// Frame.ReturnsElsewhere.
func hasLinkRegister(dec isa.Decoder) bool {
	d, ok := dec.(interface{ LinkRegister() int8 })
	return ok && d.LinkRegister() >= 0
}

// checkReturn makes the caller's frame Unknown when its callee does not
// return to the instruction after the call (frame.Frame.ReturnsElsewhere)
// and the caller's walk did not expect it (a case helper whose symbol the
// file does not have, or a helper of that kind under another name): the
// walk went on after the call, into bytes that may be a table, and never
// reached the code the callee really returns to.
func (g *Graph) checkReturn(from, to int, cs frame.CallSite) {
	if g.noLinkRegister {
		return // (no frame of this graph returns elsewhere)
	}
	callee, caller := g.Nodes[to], g.Nodes[from]
	if cs.Dispatch || !callee.Frame.ReturnsElsewhere || caller.Hub || caller.External {
		return
	}
	if caller.Frame.Kind == frame.Unknown {
		return // (the first reason stays)
	}
	caller.Frame.Kind = frame.Unknown
	caller.Frame.Reason = fmt.Sprintf("the call at %#x to %s does not return after the call: %s returns at %#x through a link register it changed "+
		"(a jump-table helper?); the code that runs after it is not known", cs.Addr, callee.Name(), callee.Name(), callee.Frame.ReturnsElsewhereAt())
	caller.Frame.ReasonAddr = cs.Addr
}

// linkPLT decodes the PLT stub that a call targets and links the call to
// what the stub's GOT slot will hold.
func (g *Graph) linkPLT(from int, m *Module, cs frame.CallSite) bool {
	slot, ok := g.linkPLTSlot(from, m, cs)
	if !ok {
		return false
	}
	if m.File.LazySlots[slot] && !g.isInterpreter(m) {
		g.linkLazy(from, m, slot, cs)
	}
	return true
}

// linkPLTSlot links the call to what the GOT slot of the PLT stub it
// targets will hold, and returns the slot; the stub's link is kept for
// the calls after (slotLink).
func (g *Graph) linkPLTSlot(from int, m *Module, cs frame.CallSite) (uint64, bool) {
	if link, ok := m.pltLinks[cs.Target]; ok {
		link.addEdges(g, from, cs)
		return link.slot, true
	}
	slot, ok := m.pltSlots[cs.Target]
	if !ok {
		slot = g.pltSlot(m, cs.Target)
		m.pltSlots[cs.Target] = slot
	}
	if slot == 0 {
		return 0, false
	}
	link, linked := g.linkSlot(from, m, slot, cs, MethodPLT)
	if link.holds() && keepImportDefinitions {
		if m.pltLinks == nil {
			m.pltLinks = map[uint64]slotLink{}
			g.pltLinked = append(g.pltLinked, m)
		}
		m.pltLinks[cs.Target] = link
	}
	return slot, linked
}

// slotLink is what linkSlot linked a call through a GOT slot to: the node
// of the import's definition, or its external node, with the call's
// method; or the nodes of an ifunc's implementations (MethodIfunc).
//
// Kept per PLT stub for one resolution (Module.pltLinks), it spares every
// call after the first the slot's name, the definition's search by name
// (importDefinition), the function's index and, for an ifunc, its
// resolver's answer and each implementation's index: node's program makes
// tens of thousands of PLT calls to a few thousand stubs, and libc's own
// calls to its string functions go through IRELATIVE slots (that chain
// was 0.03 s of the resolution's 0.17 s, BenchmarkResolve's cpu profile).
// The nodes kept are the ones linkSlot gives at every later call through
// the stub: the definition is importDefinition's, kept the same way (the
// modules do not change once the libraries are loaded, and an answer
// before that is the program's, which the search asks first); the
// resolver's returns are a fact of its file (resolverReturns, kept per
// file); nodeFor gives the node it made the first time, external the
// node it made for the name. An ifunc whose implementations are not known
// leaves an unresolved call with a reason (linkIFunc): not kept, each call
// makes its own. Dropped with importDefinition's at the end of the
// resolution, for the memory's sake as theirs are.
type slotLink struct {
	slot   uint64
	to     int // the one node linked, or -1
	method Method
	ifunc  []int // (to -1) the ifunc's implementations
}

// holds says whether the link holds for the calls after the first
// (slotLink): the call got its edges.
func (l slotLink) holds() bool { return l.to >= 0 || len(l.ifunc) > 0 }

// addEdges links another call through the slot as linkSlot linked the
// first.
func (l slotLink) addEdges(g *Graph, from int, cs frame.CallSite) {
	if l.to >= 0 {
		g.addEdge(from, l.to, cs, l.method)
		return
	}
	for _, to := range l.ifunc {
		g.addEdge(from, to, cs, MethodIfunc)
	}
}

// LazyResolverName names the node of ld.so's lazy-binding resolver, so that
// a [[frame]] in stackscope.toml can give it a size.
const LazyResolverName = "_dl_runtime_resolve"

// linkLazy adds the other thing a call through a lazily bound PLT slot can
// run: on the first call, the stub enters ld.so's _dl_runtime_resolve_*
// instead, which saves the CPU's whole XSAVE state on the caller's stack
// (about 1 KB with AVX, 2.7 KB with AVX-512, 11 KB with AMX) before it
// looks the symbol up. The size is the run-time CPU's, so the frame is
// dynamic: the entry is not bounded, and says how to bound it. Measured
// on zlib's deflate: 503 bytes with LD_BIND_NOW=1, 3,383 without.
//
// One node per module with lazy slots, all named _dl_runtime_resolve (a
// [[frame]] of that name covers them all), whose reason names the module
// and the first of its slots the graph links: a program linked with -z
// now can still reach its libraries' lazy slots (glibc's libc.so.6 has
// 14: realloc, calloc, ld.so's TLS functions), and the user must know
// which module to act on. (One per slot would repeat the same fix once
// for each of a lazily bound program's imports.)
//
// Where ld.so's resolver is recognised (x86-64, glibc, not --strict nor
// --ld-audit), every lazy slot links to one node instead: the resolver's
// frame from its code with this CPU's XSAVE size, a premise, and an edge
// to _dl_fixup (lazyresolver.go).
func (g *Graph) linkLazy(from int, m *Module, slot uint64, cs frame.CallSite) {
	if g.cutGuardedAuditSlot(from, m, slot) { // (lazyresolver.go)
		return
	}
	if g.lazyResolvers == nil {
		g.lazyResolvers = map[lazyKey]int{}
	}
	key := lazyKey{m: m, audit: strings.HasPrefix(m.File.Slots[slot], "_dl_audit_")}
	id, ok := g.lazyResolvers[key]
	if !ok && m != g.Modules[0] {
		// Not for the program's own PLT: its one reason, with a fix the
		// user can apply (link with -z now), says more than the dozens of
		// ld.so's and libc's reasons _dl_fixup's paths bring (a lazily
		// bound write-only program: 1 reason against 73).
		id, ok = g.modelledResolver() // (lazyresolver.go)
	}
	if !ok {
		id = len(g.Nodes)
		fix := "link it with -Wl,-z,now"
		if m != g.Modules[0] {
			fix = "run with LD_BIND_NOW=1 (" + m.Name + " is not linked with -z now)"
		}
		// The return address and the two words the PLT stub pushes.
		// (No address: the node stands for every call through the slots.)
		// (x86-64 only: elsewhere the stub pushes nothing, and the
		// resolver's own frame is not read.)
		size := int64(0)
		if m.File.Arch == binfile.ArchX86_64 {
			size = 24
		}
		g.Nodes = append(g.Nodes, &Node{name: LazyResolverName, Frame: frame.Frame{
			Kind: frame.Dynamic,
			Size: size,
			Reason: "lazy binding in " + lazyName(m, slot) + ": the first call through a lazy slot runs ld.so's resolver, " + resolverSaves(m) +
				"; " + fix + ", or give _dl_runtime_resolve a frame in stackscope.toml",
		}})
		g.lazyResolvers[key] = id
	}
	g.addEdge(from, id, frame.CallSite{Addr: cs.Addr, Kind: frame.Call, Depth: cs.Depth}, MethodLazy)
}

// resolverSaves says what the lazy-binding resolver puts on the stack on
// m's machine. On x86-64 the size depends on the CPU it runs on (XSAVE);
// elsewhere the resolver's frame is not read from ld.so, so no size is
// claimed for it.
func resolverSaves(m *Module) string {
	if m.File.Arch == binfile.ArchX86_64 {
		return "which saves the CPU's XSAVE state on the stack (1.0-11.0 KiB, depending on the CPU)"
	}
	return "whose frame (the argument registers it saves) stackscope does not read from ld.so"
}

// isInterpreter says whether m is the program's dynamic linker (the file
// its PT_INTERP names): glibc's ld.so relocates its own PLT slots when it
// starts (_dl_start, then with lazy off in dl_main), so none of them is
// ever resolved lazily.
func (g *Graph) isInterpreter(m *Module) bool {
	g.interpOnce.Do(func() { g.interp, g.interpOK = interpreterOf(g.Modules[0].File) })
	return g.interpOK && (filepath.Base(g.interp) == m.Name || g.interp == m.File.Path)
}

// interpreterOf is the path f's PT_INTERP names.
func interpreterOf(f *binfile.File) (string, bool) {
	for _, p := range f.ELF.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			return "", false
		}
		return strings.TrimRight(string(data), "\x00"), true
	}
	return "", false
}

// lazyKey is a module with lazily bound PLT slots. The slots of ld.so's
// audit hooks (_dl_audit_*, which libc calls only under LD_AUDIT) have a
// node of their own: when the model of the program's start leaves those
// calls out, the reason of the other slots names one that is reached.
type lazyKey struct {
	m     *Module
	audit bool
}

// pltSlot decodes the PLT stub at addr and returns the GOT slot its
// indirect jump reads, or 0.
func (g *Graph) pltSlot(m *Module, addr uint64) uint64 {
	code, err := m.File.Code(addr, 32)
	if err != nil {
		return 0
	}
	// loaded[r] is the slot register r was loaded from, for a stub that
	// builds the slot's address in one register and jumps through another
	// (AArch64: adrp x16, page; ldr x17, [x16, #n]; add x16, x16, #n; br x17).
	addrs, loaded := map[int8]uint64{}, map[int8]uint64{}
	for off := 0; off < len(code); {
		e, err := g.Decoder.Decode(code[off:], addr+uint64(off))
		if err != nil || e.Len <= 0 {
			return 0
		}
		if e.Flow == isa.FlowIndirectJump && e.HasSlot {
			return e.Slot
		}
		if e.Flow == isa.FlowIndirectJump && e.HasCallReg {
			return loaded[e.CallReg]
		}
		if e.Flow != isa.FlowNext {
			return 0
		}
		for r := range int8(32) {
			if e.DefAlso&(1<<uint(r)) != 0 || e.DefKind != isa.DefNone && e.DefReg == r {
				delete(addrs, r)
				delete(loaded, r)
			}
		}
		switch {
		case e.DefKind == isa.DefAddr:
			addrs[e.DefReg] = uint64(e.DefValue)
		case e.DefKind == isa.DefLoad && e.HasMem && e.MemIndex < 0 && e.DefAlso == 0:
			if base, ok := addrs[e.MemBase]; ok {
				loaded[e.DefReg] = base + uint64(e.MemDisp)
			}
		}
		off += e.Len
	}
	return 0
}

// linkSlot links a call through GOT slot to its target: an imported symbol
// by name, or the implementations of a local ifunc (IRELATIVE). It says
// whether it did, and what it linked the call to (slotLink).
func (g *Graph) linkSlot(from int, m *Module, slot uint64, cs frame.CallSite, method Method) (slotLink, bool) {
	if name, ok := m.File.Slots[slot]; ok {
		return g.linkImport(from, m, slot, name, cs, method), true
	}
	if resolver, ok := m.File.IRelative[slot]; ok {
		if fi, ok := m.File.FunctionIndex(resolver); ok {
			return slotLink{slot: slot, to: -1, ifunc: g.linkIFunc(from, m, fi, cs)}, true
		}
	}
	return slotLink{to: -1}, false
}

// linkImport adds an edge to the definition of an imported symbol: in the
// calling module itself when it defines it, else in the first library that
// exports it, else to an external node.
func (g *Graph) linkImport(from int, m *Module, slot uint64, name string, cs frame.CallSite, method Method) slotLink {
	if def := g.importDefinition(m, name); def.mod != nil {
		return g.linkFunction(from, def.mod, slot, def.fn, cs, method)
	}
	to := g.external(name)
	g.addEdge(from, to, cs, method)
	return slotLink{slot: slot, to: to, method: method}
}

// importDefinition finds the definition of the symbol name that module m
// imports, once per module and name (a program makes thousands of calls
// through the same slots: libLLVM-15 searched its 11 modules' names for
// each of its PLT calls). An answer kept stays right: the modules change
// only when the libraries are loaded, and an answer found before that is
// the program's, which the search asks first.
func (g *Graph) importDefinition(m *Module, name string) importDef {
	if !keepImportDefinitions {
		return g.searchDefinition(m, name)
	}
	key := importKey{m, name}
	if def, ok := g.imports[key]; ok {
		return def
	}
	def := g.searchDefinition(m, name)
	if g.imports == nil {
		g.imports = map[importKey]importDef{}
	}
	g.imports[key] = def
	return def
}

// keepImportDefinitions is false only in a test, which compares the graph
// built with and without the answers kept.
var keepImportDefinitions = true

// searchDefinition is the dynamic linker's search order: the program,
// then the libraries breadth first; a module's own definition last
// (hidden or protected).
func (g *Graph) searchDefinition(m *Module, name string) importDef {
	if fn, ok := g.Modules[0].File.Lookup(name); ok && (g.Modules[0] == m || fn.Exported) {
		return importDef{g.Modules[0], fn}
	}
	if g.opts.FollowLibraries {
		g.loadLibraries()
		for _, lib := range g.Modules[1:] {
			if fn, ok := lib.File.LookupExported(name); ok {
				return importDef{lib, fn}
			}
		}
	}
	if fn, ok := m.File.Lookup(name); ok {
		return importDef{m, fn}
	}
	return importDef{}
}

func (g *Graph) linkFunction(from int, m *Module, slot uint64, fn *binfile.Function, cs frame.CallSite, method Method) slotLink {
	fi, _ := m.File.FunctionIndex(fn.Addr)
	if fn.IFunc {
		return slotLink{slot: slot, to: -1, ifunc: g.linkIFunc(from, m, fi, cs)}
	}
	to := g.nodeFor(m, fi)
	g.addEdge(from, to, cs, method)
	return slotLink{slot: slot, to: to, method: method}
}

// linkIFunc links a call to a GNU ifunc to every implementation its resolver
// can return, as the value analysis of the resolver proves it (ifuncret.go).
// Where that is not proved the call stays an unresolved indirect call at the
// site, the resolver named by the call's target; but the calls of glibc's
// time and gettimeofday, whose resolver returns the vDSO's function or its
// own constant fallback, are linked to that fallback for the vDSO model
// (linkVDSOIFuncs) to add the vDSO's function or leave them unresolved. For
// an instruction set without the analysis, the functions whose addresses
// the resolver computes.
//
// It returns the nodes it linked the call to, in order (none: the call
// stays unresolved).
func (g *Graph) linkIFunc(from int, lib *Module, resolver int, cs frame.CallSite) (linked []int) {
	var targets []uint64
	var r ifuncReturns
	proved := false
	switch {
	case g.Arch == binfile.ArchX86_64:
		r = g.resolverReturns(lib, resolver)
		proved = r.Proved
		if proved || g.vdsoIFuncResolver(lib, resolver) {
			targets = r.Targets
		}
	default:
		targets = g.analyzeFunction(lib.File, &lib.File.Functions[resolver]).Refs
		proved = true
	}
	for _, ref := range targets {
		if fi, ok := lib.File.FunctionIndex(ref); ok && fi != resolver {
			to := g.nodeFor(lib, fi)
			g.addEdge(from, to, cs, MethodIfunc)
			linked = append(linked, to)
		}
	}
	if len(linked) == 0 {
		// The implementations could not be found: the call stays an
		// unresolved indirect call at the site, with the resolver named
		// (resolveIndirect does not assume the caller's address-taken
		// set for it: the resolver's value may come from anywhere).
		if cs.Kind == frame.TailCall || cs.Kind == frame.IndirectTailCall {
			cs.Kind = frame.IndirectTailCall
		} else {
			cs.Kind = frame.IndirectCall
		}
		g.Nodes[from].Unresolved = append(g.Nodes[from].Unresolved, cs)
		if g.ifuncUnproved == nil {
			g.ifuncUnproved = map[ifuncSite]string{}
		}
		why := r.Why
		if why == "" {
			why = "resolver " + lib.File.Functions[resolver].Name() + ": none of the addresses it returns starts a function"
		}
		cs.Target = 0 // (the ifunc's own address, no implementation: the reason says why instead)
		g.ifuncUnproved[ifuncSite{from, cs.Addr}] = why
	}
	return linked
}

// UnresolvedWhy says why the unresolved call at addr of node id has no
// target, when the graph knows more than that (an ifunc whose resolver's
// returns are not proved); "" otherwise.
func (g *Graph) UnresolvedWhy(id int, addr uint64) string {
	return g.ifuncUnproved[ifuncSite{id, addr}]
}

func (g *Graph) external(name string) int {
	if id, ok := g.externals[name]; ok {
		return id
	}
	id := len(g.Nodes)
	g.Nodes = append(g.Nodes, &Node{name: name, External: true, Frame: frame.Frame{Kind: frame.Unknown, Reason: "external function: its code was not found"}})
	g.externals[name] = id
	return id
}

// loadLibraries opens the DT_NEEDED libraries of the program, breadth first
// through their own DT_NEEDED, once.
func (g *Graph) loadLibraries() {
	if g.libsLoaded {
		return
	}
	g.libsLoaded = true
	for _, lib := range g.neededLibraries() {
		if lib.file == nil {
			g.Missing = append(g.Missing, lib.name)
			continue
		}
		g.addModule(lib.file)
	}
	sort.Strings(g.Missing)
	g.prefetchDebugLayouts() // (debugprefetch.go)
	g.prefetchLibioLayouts() // (resolveahead.go)
}

// Callers returns, for each node, the nodes that call it.
func (g *Graph) Callers() [][]int {
	out := make([][]int, len(g.Nodes))
	for id, n := range g.Nodes {
		for _, e := range n.Edges {
			out[e.To] = append(out[e.To], id)
		}
	}
	return out
}

// Resolve makes sure every node reachable from ids has its edges; library
// nodes are created lazily.
func (g *Graph) Resolve() { g.resolvePending() }

// QualifiedName is the node's name, with its library when it is not in the
// main program.
func (g *Graph) QualifiedName(id int) string {
	n := g.Nodes[id]
	if n.Module != nil && n.Module != g.Modules[0] && !n.Hub {
		return n.Name() + " (" + n.Module.Name + ")"
	}
	return n.Name()
}

// Node returns the node of function index fi of module m, creating it.
func (g *Graph) Node(m *Module, fi int) int { return g.nodeFor(m, fi) }
