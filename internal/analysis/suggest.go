package analysis

import (
	"fmt"
	"strings"

	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
)

// Each reason gets a group (its kind and function: the report shows a
// group on one line) and, where one exists, what a person can do about
// it, in the words of stackscope.toml or of the tool that fixes it. A
// reason inside a library is reached through a call of the program's own
// code: the fix names that call ([[frame]] on printf, not on an internal
// function of vfprintf).

// actionable fills the group and suggestion of every reason of every
// entry, threads too.
func (res *Result) actionable(specs []bound.Spec, bo bound.Options) {
	rt := newReachedThrough(res, bo)
	sk := newSuggestionKeys(res)
	memo := suggestionMemo{other: map[suggestionKey]int32{}}
	var texts []string
	lists := newReasonLists()
	var ids []int32
	for i, s := range specs {
		e := &res.Entries[i]
		// The functions on the entry's path that never return (at most
		// one from onPath): compared by name, reason by reason, and put
		// in a map only for a suggestion to be made (a map per entry,
		// and a lookup per reason, were half of actionable on
		// libLLVM-15).
		var never map[string]bool
		isNever := func(name string) bool {
			for _, n := range e.NeverReturns {
				if n.Function == name {
					return true
				}
			}
			return false
		}
		reach := rt.first(s.Node, e.Reasons)
		ids = ids[:0]
		ranks := res.reasonRanks(s.Node)
		shareable := len(ranks) == len(e.Reasons)
		for j, r := range e.Reasons {
			var through []int
			lib, ok := reach[reasonKeyOf(r)]
			if ok {
				through = []int{lib}
			} else {
				lib = -1
			}
			// The suggestion depends on these alone (see suggestion);
			// entries share most of their reasons.
			rank := int32(-1)
			if shareable {
				rank = ranks[j]
			}
			k := suggestionKey{sk.of(r, rank), int32(lib), len(e.NeverReturns) > 0 && isNever(r.Function)}
			id, done := memo.get(k)
			if !done {
				if never == nil {
					never = map[string]bool{}
					for _, n := range e.NeverReturns {
						never[n.Function] = true
					}
				}
				id = int32(len(texts))
				texts = append(texts, res.suggestion(r, through, never))
				texts = append(texts, ReasonGroup(r))
				memo.put(k, id)
			}
			ids = append(ids, id)
		}
		if shareable {
			// An entry with the same list and suggestions came before:
			// its list, without making this one (libLLVM-15 made 840 MB
			// of lists only to drop them here).
			if done, ok := lists.lookup(ranks, ids); ok {
				e.Reasons = done
				continue
			}
		}
		// A new list: the entry's may be shared with other entries
		// (sharedLists, share.go), whose suggestions can differ.
		out := make([]bound.Reason, len(e.Reasons))
		for j, r := range e.Reasons {
			r.Suggestion, r.Group = texts[ids[j]], texts[ids[j]+1]
			out[j] = r
		}
		if shareable {
			out = lists.share(ranks, ids, out)
		}
		e.Reasons = out
	}
}

// suggestionKey is what a reason's suggestion and group are made of:
// the reason's own part (reasonSuggestionKey, numbered by
// suggestionKeys), the library call that reaches it and whether its
// function never returns (for the entry at hand).
type suggestionKey struct {
	reason  int32
	through int32
	never   bool
}

// suggestionMemo maps a suggestion's key to the index of its texts: by
// the reason's number alone for a reason no library call reaches in an
// entry with no function that never returns (most of a large library's
// millions), else through a map.
type suggestionMemo struct {
	plain []int32 // plain[reason] is 1 + the index (0: none yet)
	other map[suggestionKey]int32
}

func (m *suggestionMemo) get(k suggestionKey) (int32, bool) {
	if k.through < 0 && !k.never {
		if int(k.reason) < len(m.plain) && m.plain[k.reason] > 0 {
			return m.plain[k.reason] - 1, true
		}
		return 0, false
	}
	id, ok := m.other[k]
	return id, ok
}

func (m *suggestionMemo) put(k suggestionKey, id int32) {
	if k.through < 0 && !k.never {
		for int(k.reason) >= len(m.plain) {
			m.plain = append(m.plain, 0)
		}
		m.plain[k.reason] = id + 1
		return
	}
	m.other[k] = id
}

// reasonSuggestionKey is the part of a suggestion's making that is the
// reason's own.
type reasonSuggestionKey struct {
	reasonKey
	library string
	lazy    bool
}

// suggestionKeys numbers the reasons' own parts of their suggestions
// (reasonSuggestionKey), each bound rank's once: libLLVM-15's entries
// hold millions of reasons of a few thousand ranks, and searching each
// one's detail for "lazy binding" and hashing its strings into the memo
// was most of actionable.
type suggestionKeys struct {
	ids map[reasonSuggestionKey]int32
	// ofRank[rank] is 1 + the number of the rank's key (0: not made).
	ofRank []int32
}

func newSuggestionKeys(res *Result) *suggestionKeys {
	sk := &suggestionKeys{ids: map[reasonSuggestionKey]int32{}}
	if res.Bounds != nil {
		sk.ofRank = make([]int32, res.Bounds.Reasons())
	}
	return sk
}

// of numbers reason r, which is the bound's reason of rank rank (-1:
// none, or not known).
func (sk *suggestionKeys) of(r bound.Reason, rank int32) int32 {
	if rank >= 0 && int(rank) < len(sk.ofRank) {
		if id := sk.ofRank[rank]; id > 0 {
			return id - 1
		}
	}
	k := reasonSuggestionKey{reasonKeyOf(r), r.Library, strings.Contains(r.Detail, "lazy binding")}
	id, ok := sk.ids[k]
	if !ok {
		id = int32(len(sk.ids))
		sk.ids[k] = id
	}
	if rank >= 0 && int(rank) < len(sk.ofRank) {
		sk.ofRank[rank] = id + 1
	}
	return id
}

// ReasonGroup is the group a reason is shown in: its kind and function.
func ReasonGroup(r bound.Reason) string { return r.Kind + " " + r.Function }

// reasonKey identifies a reason across the entries that reach it.
type reasonKey struct {
	kind, function string
	addr           uint64
}

func reasonKeyOf(r bound.Reason) reasonKey { return reasonKey{r.Kind, r.Function, r.Addr} }

// reachedThrough finds, for the reasons inside libraries that an entry
// reaches, the first library call of the entry's own code (in the order
// of libraryCalls) that reaches each: the call a suggestion names. It
// stops walking the own code as soon as every such reason has its call,
// and reads the calls' reasons by rank instead of building their
// entries: a shared object with tens of thousands of exported functions
// spent most of its analysis here.
type reachedThrough struct {
	res *Result
	bo  bound.Options
	// keys numbers the distinct reason keys; keyOf is the key number of
	// each reason rank (bound.Analysis.ReasonRanks).
	keys  map[reasonKey]int32
	keyOf []int32
	// seen marks the nodes walked for the current entry (== stamp).
	seen  []uint32
	stamp uint32
}

func newReachedThrough(res *Result, bo bound.Options) *reachedThrough {
	rt := &reachedThrough{res: res, bo: bo, keys: map[reasonKey]int32{}}
	if res.Bounds == nil {
		return rt
	}
	rt.keyOf = make([]int32, res.Bounds.Reasons())
	for i := range rt.keyOf {
		rt.keyOf[i] = rt.key(reasonKeyOf(res.Bounds.ReasonAt(int32(i))))
	}
	rt.seen = make([]uint32, len(res.Graph.Nodes))
	return rt
}

func (rt *reachedThrough) key(k reasonKey) int32 {
	id, ok := rt.keys[k]
	if !ok {
		id = int32(len(rt.keys))
		rt.keys[k] = id
	}
	return id
}

// first maps the key of each of reasons in a library to the first library
// call of entry node id that reaches it (none: not in the map).
func (rt *reachedThrough) first(id int, reasons []bound.Reason) map[reasonKey]int {
	res, bo := rt.res, rt.bo
	need := map[int32]reasonKey{}
	for _, r := range reasons {
		if r.Library != "" {
			k := reasonKeyOf(r)
			need[rt.key(k)] = k
		}
	}
	if len(need) == 0 || res.Bounds == nil {
		return nil
	}
	out := map[reasonKey]int{}
	// found records the reasons of library call lib; it says whether
	// every reason needed has its call.
	found := func(lib int) bool {
		ranks := res.Bounds.ReasonRanks(lib)
		if ranks == nil {
			// Entry's one reason for a function not analysed.
			k := reasonKey{bound.ReasonUnknown, res.Graph.Nodes[lib].Name(), 0}
			if kid, ok := rt.keys[k]; ok {
				if want, ok := need[kid]; ok {
					out[want] = lib
					delete(need, kid)
				}
			}
			return len(need) == 0
		}
		for _, rank := range ranks {
			if want, ok := need[rt.keyOf[rank]]; ok {
				out[want] = lib
				delete(need, rt.keyOf[rank])
			}
		}
		return len(need) == 0
	}
	// The walk of libraryCalls, in its order.
	if rt.stamp == ^uint32(0) {
		clear(rt.seen)
		rt.stamp = 0
	}
	rt.stamp++
	g := res.Graph
	main := g.Modules[0]
	rt.seen[id] = rt.stamp
	stack := []int{id}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, leaf := bo.Overrides[v]; leaf {
			continue
		}
		for _, e := range g.Nodes[v].Edges {
			w := e.To
			if rt.seen[w] == rt.stamp || bo.Excluded[w] {
				continue
			}
			rt.seen[w] = rt.stamp
			if n := g.Nodes[w]; !n.External && n.Module == main {
				stack = append(stack, w)
				continue
			}
			if _, declared := bo.Overrides[w]; !declared && found(w) {
				return out
			}
		}
	}
	return out
}

// suggestion is what to do about one reason; "" when nothing fits.
// through are the program's library calls that reach it.
func (res *Result) suggestion(r bound.Reason, through []int, never map[string]bool) string {
	var fix []string
	name := r.Function
	if r.Library != "" {
		name = strings.TrimSuffix(name, " ("+r.Library+")")
	}
	switch {
	case never[r.Function]:
		fix = append(fix, fmt.Sprintf("%s never returns: if it is an error path, --exclude %s (or [[exclude]] function = %q)", name, name, name))
	case name == callgraph.LazyResolverName || strings.Contains(r.Detail, "lazy binding"):
		fix = append(fix, "link with -Wl,-z,now (every symbol bound at load time: no resolver runs on a call)")
	case r.Library != "" && len(through) > 0:
		call := res.Graph.Nodes[through[0]]
		where := "a library not found"
		if call.Module != nil {
			where = call.Module.Name
		}
		fix = append(fix, fmt.Sprintf("[[frame]] function = %q bytes = N (%s's worst case, callees included: your code's call into %s that reaches it); --own-code counts your code apart",
			call.Name(), call.Name(), where))
	case r.Kind == bound.ReasonRecursion && r.Library == "":
		fix = append(fix, fmt.Sprintf("[[recursion]] function = %q depth = N, N the deepest nesting your input allows", name))
	case r.Kind == bound.ReasonIndirect && r.Library == "":
		fix = append(fix, fmt.Sprintf("[[indirect]] function = %q site = %#x targets = [\"...\"], the functions it can call", name, r.Addr))
	case r.Kind == bound.ReasonExternal:
		fix = append(fix, fmt.Sprintf("--lib-path DIR, the directory of the library that defines %s; or [[frame]] function = %q bytes = N", name, name))
	case r.Kind == bound.ReasonDynamic || r.Kind == bound.ReasonUnknown || r.Kind == bound.ReasonRecursion:
		fix = append(fix, fmt.Sprintf("[[frame]] function = %q bytes = N, N its worst case with its callees", name))
	}
	if strings.HasPrefix(name, "sub_") {
		fix = append(fix, debugSymbols(r.Library, res.Binary))
	}
	return strings.Join(fix, "; ")
}

// debugSymbols says which package names a stripped module's functions.
func debugSymbols(lib, binary string) string {
	switch {
	case strings.HasPrefix(lib, "libc.so") || strings.HasPrefix(lib, "ld-linux") || strings.HasPrefix(lib, "libm.so"):
		return "install libc6-dbg to name glibc's sub_ functions"
	case lib != "":
		return "install the debug symbols of " + lib + " (Debian: its -dbgsym package) to name its sub_ functions"
	}
	return "install the debug symbols of " + binary + " (Debian: its -dbgsym package), or build it with -g, to name its sub_ functions"
}
