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
	for i, s := range specs {
		e := &res.Entries[i]
		reach := res.reachedThrough(s.Node, bo)
		never := map[string]bool{}
		for _, n := range e.NeverReturns {
			never[n.Function] = true
		}
		for j := range e.Reasons {
			r := &e.Reasons[j]
			r.Group = ReasonGroup(*r)
			r.Suggestion = res.suggestion(*r, reach[reasonKey(*r)], never)
		}
	}
}

// ReasonGroup is the group a reason is shown in: its kind and function.
func ReasonGroup(r bound.Reason) string { return r.Kind + " " + r.Function }

func reasonKey(r bound.Reason) string {
	return fmt.Sprintf("%s\x00%s\x00%x", r.Kind, r.Function, r.Addr)
}

// reachedThrough maps each reason a library call of the entry's own code
// reaches to those calls' nodes (the first three).
func (res *Result) reachedThrough(id int, bo bound.Options) map[string][]int {
	out := map[string][]int{}
	for _, lib := range res.libraryCalls(id, bo) {
		b := res.Bounds.Entry(bound.Spec{Name: res.Graph.Nodes[lib].Name, Node: lib})
		for _, r := range b.Reasons {
			k := reasonKey(r)
			if len(out[k]) < 3 {
				out[k] = append(out[k], lib)
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
			call.Name, call.Name, where))
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
