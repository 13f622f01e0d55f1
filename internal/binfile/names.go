package binfile

import (
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/ianlancetaylor/demangle"
)

// Name is the function's name demangled: its link name when that is not
// a C++ or Rust symbol (a C name is its own demangled form), else
// Demangle(LinkName), made on the first call and kept (a text report
// prints a few hundred of a C++ program's 77,000 names; demangling them
// all when the file was opened was a tenth of its analysis). Safe from
// any goroutine: every caller gets the same string.
func (fn *Function) Name() string {
	slot := fn.name
	if slot == nil {
		return fn.LinkName
	}
	if p := slot.demangled.Load(); p != nil {
		return *p
	}
	name := Demangle(fn.LinkName)
	if slot.demangled.CompareAndSwap(nil, &name) {
		return name
	}
	return *slot.demangled.Load()
}

// nameSlot is where a function whose link name is mangled keeps its
// demangled name, once made (Function.Name), and whether its link name
// cannot demangle to a C name (notPlain: mayDemanglePlain said false),
// once known: CName is then "" without looking at the link name again.
// Asked of every node by the models, the lower bounds and the threads'
// search, each time over the whole of a long C++ name, that question was
// 0.05 s of /usr/bin/node's CPU after the build (profiles); Lookup's
// first call answers it for every function of the file.
type nameSlot struct {
	demangled atomic.Pointer[string]
	notPlain  atomic.Bool
}

// CName is the function's name when that is a C name, else "": Name()
// if its part before any '@' (a version, "abort@GLIBC_2.2.5") has only the
// characters of a C symbol (letters, digits, '_', '.', '$') and does not
// start as a mangled one does (_Z, _R, __Z). For a matcher that accepts
// only C names (a model's "malloc", "main"), match(fn.CName()) is
// match(fn.Name()), without demangling the names of a C++ program that
// cannot demangle to a C name (mayDemanglePlain): a text report then
// demangles little more than the names it prints.
func (fn *Function) CName() string {
	if slot := fn.name; slot != nil && !fn.renamed && slot.notPlain.Load() {
		// Known not to demangle to a C name: its demangled name, if
		// made (startAssumedNames, a report), is not read, where
		// reading it was a cache miss per node of the threads' search
		// and the lower bounds' names (profiles: most of CName's
		// 0.03 s a run on node).
		return ""
	}
	if slot := fn.name; slot != nil && slot.demangled.Load() == nil && slot.notPlainLink(fn.LinkName) {
		// Demangled, it is either itself (the demangler failed:
		// mangled) or no C name.
		return ""
	}
	return CName(fn.Name())
}

// mayDemanglePlain is mayDemanglePlain(fn.LinkName), remembered in its
// slot once false (Lookup's first call asks it of every function).
func (fn *Function) mayDemanglePlain() bool {
	if fn.name == nil {
		return mayDemanglePlain(fn.LinkName)
	}
	return !fn.name.notPlainLink(fn.LinkName)
}

// notPlainLink is !mayDemanglePlain(link), link being the slot's
// function's link name, remembered once true.
func (slot *nameSlot) notPlainLink(link string) bool {
	if slot.notPlain.Load() {
		return true
	}
	if mayDemanglePlain(link) {
		return false
	}
	slot.notPlain.Store(true)
	return true
}

// CName is name when that is a C name (see Function.CName), else "":
// when plainSymbol(baseName(name)) and the base is not mangled. One pass,
// which stops at the first character no C name has: a demangled C++
// name ("v8::internal::Isolate::Init(...)") is left at its first ':',
// where finding its '@' first (baseName) read all of it, the most of
// node's strings.IndexByte (profiles, issue 19).
func CName(name string) string {
	base := name
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '@' && i > 0 {
			base = name[:i]
			break
		}
		if !symbolChar(c) {
			return ""
		}
	}
	if mangled(base) {
		return ""
	}
	return name
}

// baseName is name without a version: its part before the first '@' not
// at its start ("__libc_start_main@@GLIBC_2.34": a symbol's link name),
// the whole name when it is all version.
func baseName(name string) string {
	if i := strings.IndexByte(name, '@'); i > 0 {
		return name[:i]
	}
	return name
}

// LinkMangled says whether the link name is a C++ or Rust symbol's
// (mangled), without reading it when the function has the slot of its
// demangled name from Open (demangleSlots gives one to each mangled link
// name): a reader that only matches C names can pass such a function's
// link name over without a cache miss on it.
func (fn *Function) LinkMangled() bool {
	if fn.name != nil && !fn.renamed {
		return true
	}
	return mangled(fn.LinkName)
}

// NotYetDemangled says whether Name would demangle the link name now:
// for a reader that can tell from the link name that the demangled name
// cannot match (see callgraph's noReturnFunction).
func (fn *Function) NotYetDemangled() bool {
	return fn.name != nil && fn.name.demangled.Load() == nil
}

// MayDemangleToCName says whether the link name may demangle to a C
// name (mayDemanglePlain); false means Name is the link name itself (the
// demangler failed on it) or no C name.
func (fn *Function) MayDemangleToCName() bool { return fn.mayDemanglePlain() }

// SetName gives the function a name of its own, kept as it is (not
// demangled). It must be called before the function is shared.
func (fn *Function) SetName(name string) {
	if name == fn.LinkName && !mangled(name) {
		fn.name, fn.renamed = nil, false
		return
	}
	fn.name = new(nameSlot)
	fn.name.demangled.Store(&name)
	fn.renamed = true
}

// NameKey is what Name depends on, without demangling: the link name,
// or the name SetName gave (own true). Name is a function of the link
// name alone otherwise, so a hash of the function table over NameKey
// says what one over Name would, for one build of stackscope (libcache's
// entries; demangling a C++ program's names for it was 0.4 s of node's
// run).
func (fn *Function) NameKey() (name string, own bool) {
	if fn.renamed {
		return fn.Name(), true
	}
	return fn.LinkName, false
}

// mangled says whether Demangle may change name (a C++ or Rust symbol).
func mangled(name string) bool {
	return strings.HasPrefix(name, "_Z") || strings.HasPrefix(name, "_R") || strings.HasPrefix(name, "__Z")
}

// Demangle turns a C++ or Rust symbol into a readable name; other names are
// returned unchanged, and so is a name the demangler fails on (it reports
// failures as errors; a panic, a bug of it, is taken as one: names are
// demangled when a reader asks, long after the file was opened).
func Demangle(name string) (readable string) {
	if !mangled(name) {
		return name
	}
	defer func() {
		if recover() != nil {
			readable = name
		}
	}()
	return demangle.Filter(name)
}

// demangleSlots gives each function whose link name is mangled the slot
// its demangled name will be kept in (Function.Name), once f.Functions is
// in its final order.
func (f *File) demangleSlots() {
	f.indexMangled()
	f.demangled = make([]nameSlot, len(f.mangled))
	for k, i := range f.mangled {
		f.Functions[i].name = &f.demangled[k]
	}
}

// indexMangled lists the functions whose link names are mangled, and
// forgets what Lookup found among their demangled names (NameFunction
// renames and inserts functions).
func (f *File) indexMangled() {
	f.mangled = f.mangled[:0]
	for i := range f.Functions {
		if mangled(f.Functions[i].LinkName) {
			f.mangled = append(f.mangled, i)
		}
	}
	f.demangledAll = nil
}

// Lookup returns the function with this link name, demangled name or
// alias: the first of f.Functions with one of them.
//
// The names of the map are the link names and aliases, which need no
// demangling. A demangled name can only differ from its link name for a
// mangled one (f.mangled), and a name with only the characters of a C
// symbol before any '@' (plainSymbol: the names the analysis looks up) is
// the demangled name of only the few mangled symbols mayDemanglePlain
// accepts, which are demangled once, on the first lookup. Any other name (a C++ name,
// "ns::f(int)", as a person may give one) makes Lookup demangle every
// name, once.
func (f *File) Lookup(name string) (*Function, bool) {
	f.namesOnce.Do(func() {
		f.names = firstIndexByName(f.Functions)
		f.plainDemangled = map[string]int{}
		for _, i := range f.mangled {
			fn := &f.Functions[i]
			if !fn.mayDemanglePlain() {
				continue
			}
			if n := fn.Name(); n != fn.LinkName {
				if _, dup := f.plainDemangled[n]; !dup {
					f.plainDemangled[n] = i
				}
			}
		}
	})
	i, ok := f.names[name]
	if !ok {
		i = len(f.Functions)
	}
	j, demangled := f.plainDemangled[name]
	if !plainSymbol(baseName(name)) {
		j, demangled = f.firstDemangledAs(name)
	}
	if demangled && j < i {
		i, ok = j, true
	}
	if !ok {
		return nil, false
	}
	return &f.Functions[i], true
}

// firstIndexByName maps each link name and alias of fns to the index
// of the first function with it (its link name before its aliases, in
// order). Assigned from the last name to the first, so that the first
// stays: one assignment per name, where asking first whether the name
// was there made two (half of the 36 ms a run of the index of node's
// names, in the profiles).
//
// It also asks mayDemanglePlain of each function with a demangled
// name's slot while the link name is in the cache from its hashing, so
// that Lookup's pass over the mangled names finds the answer remembered
// (notPlain) instead of reading each name from memory again: node's
// 7 MB of names do not stay in the cache between the two passes.
func firstIndexByName(fns []Function) map[string]int {
	count := len(fns)
	for i := range fns {
		count += len(fns[i].Aliases)
	}
	// (At most that many names: node's 77,000 functions have 7,700
	// aliases. Made for twice the functions, the map was 2 MB larger,
	// cleared, and faulted in.)
	names := make(map[string]int, count)
	for i := len(fns) - 1; i >= 0; i-- {
		fn := &fns[i]
		for k := len(fn.Aliases) - 1; k >= 0; k-- {
			names[fn.Aliases[k]] = i
		}
		names[fn.LinkName] = i
		if fn.name != nil && !fn.renamed { // (a mangled link name, one of f.mangled)
			fn.mayDemanglePlain()
		}
	}
	return names
}

// firstDemangledAs is the index of the first function with a mangled link
// name whose demangled name is name, whose part before any '@' is not
// plainSymbol (see Lookup).
func (f *File) firstDemangledAs(name string) (int, bool) {
	if len(f.mangled) == 0 {
		return 0, false
	}
	f.demangleMu.Lock()
	defer f.demangleMu.Unlock()
	if f.demangledAll == nil {
		f.demangledAll = make(map[string]int, len(f.mangled))
		for _, i := range f.mangled {
			if n := f.Functions[i].Name(); n != f.Functions[i].LinkName {
				if _, dup := f.demangledAll[n]; !dup {
					f.demangledAll[n] = i
				}
			}
		}
	}
	i, ok := f.demangledAll[name]
	return i, ok
}

// plainSymbol says whether name has only the characters of a C symbol:
// letters, digits, '_', '.' and '$'.
func plainSymbol(name string) bool {
	for i := 0; i < len(name); i++ {
		if !symbolChar(name[i]) {
			return false
		}
	}
	return true
}

// symbolChar says whether c is one of the characters of a C symbol.
func symbolChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '$'
}

// mayDemanglePlain says whether a mangled symbol may demangle to a name
// whose part before any '@' plainSymbol accepts, from its form alone,
// without demangling it. The
// demangler prints a function's parameters in parentheses, nested names
// with "::", templates with '<', special names ("vtable for") and clone
// suffixes with spaces: what is left is a lone identifier, in C++
// _Z[L]<length><identifier> or _ZN[L]<length><identifier>E, or anything of
// a C++20 module (moduleAttached), in Rust (v0) a crate root,
// _R[<version>]C...; anything else is a lone name only if
// the demangler fails, and then it is the link name. (FuzzDemangledCNames
// and TestDemangledCNames hold the demangler to it; a form missed here
// would let Lookup and CName miss a function whose name demangles to a C
// name.)
func mayDemanglePlain(link string) bool {
	if moduleAttached(link) || strings.Contains(link, "$SP$") || strings.Contains(link, "@") {
		return true // an '@' of the demangled name (Rust's legacy symbols write it $SP$)
	}
	rest, ok := strings.CutPrefix(link, "_R")
	if ok {
		rest = rest[leadingDigits(rest):]
		return strings.HasPrefix(rest, "C")
	}
	rest, ok = strings.CutPrefix(link, "_Z")
	if !ok {
		rest, ok = strings.CutPrefix(link, "__Z")
	}
	return ok && loneIdentifier(rest)
}

// moduleAttached says whether a mangled name may name something of a
// C++20 module: the demangler prints "f@mod(int)", whose part before '@'
// is a lone identifier whatever follows. The module is W[P]<length><name>.
func moduleAttached(link string) bool {
	for i := strings.IndexByte(link, 'W'); i >= 0 && i+1 < len(link); {
		next := link[i+1]
		if next >= '0' && next <= '9' || next == 'P' {
			return true
		}
		j := strings.IndexByte(link[i+1:], 'W')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// loneIdentifier says whether s is [N][L][H]...<length><identifier> (or an
// operator's two letters), then maybe
// a Rust (legacy) symbol's hash, 17h<16 hex digits>, and nothing the
// demangler prints: digits, '_', 'n' and 'E' (discriminators, the end of a
// nested name).
func loneIdentifier(s string) bool {
	for len(s) > 0 && qualifierLetter(s[0]) { // nesting, linkage, qualifiers
		s = s[1:]
	}
	if len(s) > 2 && s[0] == 'v' && s[1] >= '0' && s[1] <= '9' {
		s = s[2:] // a vendor's operator: "operator" and its name
	}
	_, tail, ok := cutSourceName(s)
	if !ok {
		if len(s) < 2 {
			return false
		}
		tail = s[2:] // an operator's code: "dt" is "operator."
	}
	if hash, rest, ok := cutSourceName(tail); ok && len(hash) == 17 && hash[0] == 'h' {
		tail = rest
	}
	for i := 0; i < len(tail); i++ {
		if c := tail[i]; !(c >= '0' && c <= '9' || c == '_' || c == 'n' || c == 'E') {
			return false
		}
	}
	return true
}

// qualifierLetter says whether c is one of the letters loneIdentifier
// passes over before the name: N, L, H, K, V, r, R, O.
func qualifierLetter(c byte) bool {
	switch c {
	case 'N', 'L', 'H', 'K', 'V', 'r', 'R', 'O':
		return true
	}
	return false
}

// leadingDigits is how many decimal digits s starts with. (A loop, not
// strings.TrimLeft with a cutset, which builds the cutset's table at
// each call: mayDemanglePlain asks this of each of node's 77,000
// mangled names.)
func leadingDigits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// cutSourceName cuts <length><identifier> off the start of s.
func cutSourceName(s string) (id, rest string, ok bool) {
	digits := leadingDigits(s)
	if digits == 0 {
		return "", s, false
	}
	n, err := strconv.Atoi(s[:digits])
	if err != nil || n <= 0 || digits+n > len(s) {
		return "", s, false
	}
	return s[digits : digits+n], s[digits+n:], true
}
