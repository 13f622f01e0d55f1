package callgraph

import (
	"fmt"
	"slices"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// glibc's fatal-error paths, not followed from glibc's own code.
//
// libc checks its own state everywhere: malloc's heap checks
// (malloc_printerr), internal assertions (assert in get_nprocs's
// next_line, in pthread_mutex_lock, ...), FORTIFY and stack-protector
// failures. On every one of those paths the process prints a message and
// aborts: the path runs once, at the end of the process, and never returns
// into the code that called it. Followed, they put __assert_fail's message
// formatting (__dcigettext's alloca, vfprintf's printf_positional) and
// __libc_message's alloca loop under every malloc and every mutex lock of
// a trivial program, which is then NOT BOUNDED for a path it can only take
// on its way to SIGABRT. So a call from glibc's own code (libc.so.6 or
// ld.so) into one of these functions is not followed: the edge goes to a
// marker node that carries the premise "libc's internal checks hold", which
// every entry reaching such a call lists once. The residual risk, said in
// the premise: the fatal path still uses stack (a deep one there dies of
// SIGSEGV instead of SIGABRT: dead either way), and a SIGABRT handler the
// program installs runs below it, uncounted (abort raises SIGABRT first);
// such a handler that returns into the program by longjmp continues it.
// The program's own calls (its assert, its __stack_chk_fail) and other
// libraries' calls are followed as before (--exclude sets them aside), and
// so are a fatal-error function's calls to the one that reports its error,
// which such a path makes (__assert_fail to __assert_fail_base, not
// __libc_message's stack-protector check); --strict keeps every edge.
//
// The functions are found by name: the names of libc6-dbg's .symtab when
// it is installed, else .dynsym's, which exports __assert_fail,
// __assert_perror_fail, __libc_fatal, __fortify_fail, __chk_fail and
// __stack_chk_fail (libc's internal calls go to hidden aliases at the same
// addresses). Without the debug file malloc_printerr and __libc_message
// (static) have no name: calls to them are followed, as before.

// PremiseLibcChecks is the kind of the premise that glibc's internal
// checks hold: its calls into its fatal-error functions are not followed.
const PremiseLibcChecks = "libc-checks"

// libcFatalFuncs are glibc's functions that never return and end the
// process with a message (glibc 2.36's source; older and newer names too):
// __assert_fail, __assert_perror_fail and __assert_fail_base format the
// message and call abort (assert/assert.c); __libc_fatal calls
// __libc_message with do_abort (sysdeps/posix/libc_fatal.c);
// __fortify_fail, __chk_fail and __stack_chk_fail(_local) end in it too
// (debug/); malloc_printerr (static, malloc/malloc.c) does since 2.27;
// __malloc_assert (malloc.c of some versions) prints and aborts; ld.so's own
// __assert_fail, __chk_fail and __libc_fatal (elf/dl-minimal.c) call
// _dl_fatal_printf, which prints and calls _exit(127); so does fatal_error
// (static, elf/dl-error-skeleton.c, one copy in ld.so and one in libc),
// where _dl_signal_error and _dl_signal_exception go when no catcher is
// set: a symbol lookup error during lazy binding ends there, after
// formatting errno's text with __strerror_r and gettext. __libc_message_impl
// (a later glibc's) is declared _Noreturn. Not here: __libc_message, which
// in 2.36 returns unless its action has do_abort (see libcMessageAborts);
// _dl_signal_error and _dl_signal_exception longjmp to a catcher (dlopen's
// errors) when there is one, and return into the loader.
var libcFatalFuncs = []string{
	"__assert_fail", "__assert_perror_fail", "__assert_fail_base",
	"__libc_fatal", "__libc_message_impl",
	"__fortify_fail", "__fortify_fail_abort", "__chk_fail", "__stack_chk_fail", "__stack_chk_fail_local",
	"malloc_printerr", "__malloc_assert",
	"_dl_fatal_printf", "fatal_error",
}

// libcChecks are the fatal-error functions a failed check calls first;
// the others report the error for them (__assert_fail_base,
// __fortify_fail, __libc_fatal, __libc_message, _dl_fatal_printf).
var libcChecks = []string{"__assert_fail", "__assert_perror_fail", "__chk_fail", "__stack_chk_fail", "__stack_chk_fail_local",
	"malloc_printerr", "__malloc_assert", "fatal_error"}

// libcMessage is glibc's message function that aborts only when asked to
// (glibc 2.36: __libc_message (enum action, fmt, ...), which returns when
// action lacks do_abort, bit 0).
const libcMessage = "__libc_message"

// libcFatal is what the graph knows of glibc's fatal-error functions.
type libcFatal struct {
	// funcs maps a glibc module to the addresses of its fatal-error
	// functions and their names (nil: not glibc).
	funcs map[*Module]map[uint64]string
	// marker is the index plus one of the marker node (0: none yet).
	marker int
	// calls counts the cut calls per target name (the premise names the
	// most called first).
	calls map[string]int
	sites map[fatalSite]bool
	// lastInto is into's answer when the premise's text was last made.
	lastInto string
}

// fatalSite is a call site of a module (by its index in Graph.Modules).
type fatalSite struct {
	module int
	site   uint64
}

// cutLibcFatal says whether the call cs of node from to node to is a call
// from glibc's code into one of its fatal-error functions, and when it is,
// returns the marker node the edge goes to instead and records it.
func (g *Graph) cutLibcFatal(from, to int, cs frame.CallSite) (int, bool) {
	if g.opts.Strict || g.Arch != binfile.ArchX86_64 {
		return 0, false
	}
	// The caller first: most calls are the program's, and its node is
	// the one being resolved, while the callee's is anywhere in memory
	// (read first, it was often a cache miss: with checkReturn's, 16 ms
	// of node's resolution, perf).
	caller := g.Nodes[from]
	if caller.Func == nil || caller.Hub || caller.External || caller.Module == nil || caller.Module == g.Modules[0] {
		return 0, false
	}
	callee := g.Nodes[to]
	if callee.Func == nil || callee.Hub || callee.Module == nil || g.libcFatalFuncs(caller.Module) == nil {
		return 0, false
	}
	name, ok := g.libcFatalFuncs(callee.Module)[callee.Func.Addr]
	if !ok {
		return 0, false
	}
	if _, fatal := g.libcFatalFuncs(caller.Module)[caller.Func.Addr]; fatal && !slices.Contains(libcChecks, name) {
		// One fatal-error function calling the next that reports the
		// error (__assert_fail's __assert_fail_base, __libc_fatal's
		// __libc_message): the path of a call the program makes itself,
		// followed whole. A check inside it (__libc_message's stack
		// protector calling __stack_chk_fail) is cut as anywhere.
		return 0, false
	}
	if name == libcMessage && !g.libcMessageAborts(caller, cs) {
		return 0, false
	}
	f := &g.fatal
	if f.marker == 0 {
		g.Nodes = append(g.Nodes, &Node{Module: caller.Module, name: "[glibc's fatal-error paths: not followed]",
			Frame: frame.Frame{Kind: frame.Static}, Summary: MethodLibcFatal.String()})
		f.marker = len(g.Nodes)
		f.calls = map[string]int{}
		f.sites = map[fatalSite]bool{}
	}
	if k := (fatalSite{slices.Index(g.Modules, caller.Module), cs.Addr}); !f.sites[k] {
		f.sites[k] = true
		f.calls[name]++
		// The text changes only with the names it gives: made again for
		// every cut call, it was 0.3-0.4 s of 117 programs' analysis.
		if into := f.into(); into != f.lastInto {
			f.lastInto = into
			g.Nodes[f.marker-1].Premises = []Premise{{Kind: PremiseLibcChecks, Detail: libcChecksDetail(into)}}
		}
	}
	return f.marker - 1, true
}

// into names the functions calls are cut into, for the premise: the two
// most called (by name among equals), and how many more. (Found in one
// pass over the counts, not sorted: it is asked at every call cut.)
func (f *libcFatal) into() string {
	var first, second string
	before := func(a, b string) bool { // a is named before b
		if f.calls[a] != f.calls[b] {
			return f.calls[a] > f.calls[b]
		}
		return a < b
	}
	for n := range f.calls {
		switch {
		case first == "" || before(n, first):
			first, second = n, first
		case second == "" || before(n, second):
			second = n
		}
	}
	switch len(f.calls) {
	case 0:
		return ""
	case 1:
		return first
	case 2:
		return first + ", " + second
	}
	return fmt.Sprintf("%s, %s and %d more", first, second, len(f.calls)-2)
}

// libcChecksDetail is the premise's text: into which functions calls are
// cut (into).
func libcChecksDetail(into string) string {
	// Neither a count nor a first call: they would be of all the code
	// analysed, not of the entry that lists the premise.
	return fmt.Sprintf("libc's internal checks hold: calls from glibc's own code into its fatal-error functions (%s) are not followed: "+
		"each prints a message and ends the process (abort; _exit in ld.so), and a SIGABRT handler the program installs is not counted; --strict follows them",
		into)
}

// libcFatalFuncs returns module m's fatal-error functions by address, nil
// when m is not glibc's libc.so.6 or ld.so (which define
// gnu_get_libc_version and _dl_fatal_printf).
func (g *Graph) libcFatalFuncs(m *Module) map[uint64]string {
	f := &g.fatal
	if fns, ok := f.funcs[m]; ok {
		return fns
	}
	if f.funcs == nil {
		f.funcs = map[*Module]map[uint64]string{}
	}
	var fns map[uint64]string
	_, libc := m.File.Lookup("gnu_get_libc_version")
	_, rtld := m.File.Lookup("_dl_fatal_printf")
	if m != g.Modules[0] && (libc || rtld) {
		fns = map[uint64]string{}
		for _, name := range append(slices.Clone(libcFatalFuncs), libcMessage) {
			if fn, ok := m.File.Lookup(name); ok {
				if _, dup := fns[fn.Addr]; !dup {
					fns[fn.Addr] = name
				}
			}
		}
	}
	f.funcs[m] = fns
	return fns
}

// libcMessageAborts says whether the call cs of node n to __libc_message
// aborts: its first argument (rdi), the action in glibc 2.36, is
// a constant with do_abort (bit 0) set (every call of Debian's 2.36 passes
// 1). Anything else is not proved, and the call is followed: a later
// glibc's __libc_message (fmt, ...) too.
func (g *Graph) libcMessageAborts(n *Node, cs frame.CallSite) bool {
	const rdi = 7
	e, ok := g.argumentDef(n.Module, n, cs.Addr, rdi)
	if !ok {
		return false
	}
	return e.DefKind == isa.DefConst && e.DefValue&1 != 0
}
