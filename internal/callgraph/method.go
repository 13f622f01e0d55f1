package callgraph

import "strconv"

// Method says how an edge's target was found (Edge.Method), or how an
// assumed indirect call's set was narrowed (Assumption.Method). It is a
// small integer, not the string it prints as, so that an Edge holds no
// pointer: a graph holds millions of edges (libLLVM-15 with its
// libraries: 1.8 million), and with a string in each the collector
// scanned every edge list at every collection, and each edge took 48
// bytes instead of 32.
type Method uint8

// The methods. MethodNone (printed "") is an edge made without one.
const (
	MethodNone Method = iota
	// MethodDirect: a direct call to a function of the same module.
	MethodDirect
	// MethodPLT: a call through the PLT, by the imported symbol's name.
	MethodPLT
	// MethodGOT: a call through the GOT (call [rip+X]).
	MethodGOT
	// MethodIfunc: an implementation the GNU ifunc resolver can return.
	MethodIfunc
	// MethodAnnotated: a target stackscope.toml gives an indirect call.
	MethodAnnotated
	// MethodInitArray: a function of a module's init or fini array,
	// called by the loop that runs them.
	MethodInitArray

	// Methods of narrowed indirect calls (Edge.Method, Assumption.Method).
	MethodAddressTaken
	MethodPrototype
	MethodVtableSlot  // recognised by the code's shape
	MethodVtableTyped // the load is of a _vptr, by DWARF

	// MethodLibioVtable is the method of the edges of a call through a
	// glibc FILE's vtable slot: the functions in that slot of the tables
	// of glibc's __libc_IO_vtables section.
	MethodLibioVtable
	// MethodStoredArgument is the method of the edges of a call through a
	// variable whose only setter stores its parameter, to the constants
	// every call of the setter passes (setterTargets: proved from the
	// code).
	MethodStoredArgument
	// MethodOwnersTable is the method of the edge of an indirect jump that
	// a function's walk reached in another function's code, and that the
	// other function's own walk takes for a jump table (see
	// linkOwnersTable).
	MethodOwnersTable
	// MethodCookieIO is the method of the edge from one of _IO_cookie_*'s
	// calls through a cookie stream's function to the hub of the
	// functions fopencookie's callers pass in that field.
	MethodCookieIO
	// MethodAtexit: an exit handler the program's modules register
	// (atexit, on_exit, __cxa_atexit ...) called by __run_exit_handlers
	// (the runtime model).
	MethodAtexit
	// MethodEmptyRegistry is the method of the edge of a call through a
	// table no reachable code fills (registries.go): to a marker node, no
	// function.
	MethodEmptyRegistry
	// MethodLibcStart is the Method of the edges of the __libc_start_main
	// summary (ModelStart).
	MethodLibcStart
	// MethodGconvStep is the method of the edge from a call through a
	// gconv step's function to the node standing for the static steps'
	// functions.
	MethodGconvStep
	// MethodGconvModule is the Method of a step call's edge to the node of
	// the gconv modules' functions (not analysed), once a module can load.
	MethodGconvModule
	// MethodConstant is the Method of an edge whose target the code loads
	// as a constant just before it branches (ldr rX,=f or movw/movt; bx/blx
	// rX).
	MethodConstant
	// MethodLazy is the Method of an edge to the lazy-binding resolver.
	MethodLazy
	// MethodSymbolLookup is the method of the edges from a hub to the
	// lookup hub, and from the lookup hub to the functions dlsym can
	// return.
	MethodSymbolLookup
	// MethodGlibcModel is the method of the edges a model of glibc's own
	// function pointers gives an indirect call (see rtldMutex).
	MethodGlibcModel
	// MethodLibcFatal is the method of the edge from glibc's code to the
	// marker that stands for its fatal-error paths.
	MethodLibcFatal
	// MethodArgument is the method of the edges the constant-argument
	// model gives (argcallback.go).
	MethodArgument

	methodCount // the number of methods; keep last
)

// methodNames are the methods' names, as reports print them.
var methodNames = [methodCount]string{
	MethodNone:           "",
	MethodDirect:         "direct",
	MethodPLT:            "plt",
	MethodGOT:            "got",
	MethodIfunc:          "ifunc",
	MethodAnnotated:      "annotated",
	MethodInitArray:      "init-array",
	MethodAddressTaken:   "address-taken",
	MethodPrototype:      "prototype",
	MethodVtableSlot:     "vtable-slot",
	MethodVtableTyped:    "vtable-slot-typed",
	MethodLibioVtable:    "libio-vtable",
	MethodStoredArgument: "stored-argument",
	MethodOwnersTable:    "owners-jump-table",
	MethodCookieIO:       "fopencookie-io",
	MethodAtexit:         "atexit-registered",
	MethodEmptyRegistry:  "empty-registry",
	MethodLibcStart:      "libc-start",
	MethodGconvStep:      "gconv-step",
	MethodGconvModule:    "gconv-module",
	MethodConstant:       "constant",
	MethodLazy:           "lazy-binding",
	MethodSymbolLookup:   "dlsym",
	MethodGlibcModel:     "glibc-model",
	MethodLibcFatal:      "libc-fatal",
	MethodArgument:       "constant-argument",
}

// String is the method's name ("direct", "plt", "address-taken" ...).
func (m Method) String() string {
	if m < methodCount {
		return methodNames[m]
	}
	return "method(" + strconv.Itoa(int(m)) + ")"
}

// MarshalText writes the method as its name, so that a JSON document that
// holds one says "direct", as it did when Method was a string.
func (m Method) MarshalText() ([]byte, error) {
	return []byte(m.String()), nil
}
