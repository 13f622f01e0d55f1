package analysis

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/config"
)

// checkAnnotations returns the configuration with every annotation whose
// function's code no longer matches its pinned hash removed, and warns
// about each: a stale annotation must not vouch for changed code. An
// annotation without a hash is kept, with a warning that gives the hash
// to pin it with.
func checkAnnotations(f *binfile.File, c *config.Config, warnings *[]string) *config.Config {
	if c == nil {
		return &config.Config{}
	}
	out := *c
	keep := func(kind, function, hash string) bool {
		fn, ok := f.Lookup(function)
		if !ok {
			// Not in this file: a library function or an external; its
			// code cannot be checked here.
			return true
		}
		code, err := f.Code(fn.Addr, fn.Size)
		if err != nil {
			return true
		}
		now := config.CodeHash(code)
		switch {
		case hash == "":
			*warnings = append(*warnings, fmt.Sprintf("%s: the %s annotation for %s is not pinned; add hash = %q so a change to its code is noticed", c.Path, kind, function, now))
			return true
		case hash != now:
			*warnings = append(*warnings, fmt.Sprintf("%s: IGNORED the %s annotation for %s: its code changed since the annotation was written (hash %s, now %s); review it and update the hash", c.Path, kind, function, hash, now))
			return false
		}
		return true
	}
	out.Indirect = nil
	for _, in := range c.Indirect {
		if keep("indirect", in.Function, in.Hash) {
			out.Indirect = append(out.Indirect, in)
		}
	}
	out.Recursion = nil
	for _, r := range c.Recursion {
		if keep("recursion", r.Function, r.Hash) {
			out.Recursion = append(out.Recursion, r)
		}
	}
	out.Frames = nil
	for _, fr := range c.Frames {
		if keep("frame", fr.Function, fr.Hash) {
			out.Frames = append(out.Frames, fr)
		}
	}
	return &out
}

// withExcludes returns the configuration with the --exclude names added
// to its [[exclude]] tables.
func withExcludes(c *config.Config, names []string) *config.Config {
	if len(names) == 0 {
		return c
	}
	out := *c
	out.Exclude = append([]config.Exclude(nil), c.Exclude...)
	for _, name := range names {
		out.Exclude = append(out.Exclude, config.Exclude{Function: name})
	}
	return &out
}

// checkEffects warns about annotations that name nothing or change
// nothing, so that none is accepted in silence: an excluded name that is
// no function of the file or its libraries, an [[indirect]] that matched
// no indirect call whose target was unknown.
func checkEffects(f *binfile.File, g *callgraph.Graph, c *config.Config, warnings *[]string) {
	for _, x := range c.Exclude {
		if _, ok := f.Lookup(x.Function); !ok && len(g.NodesNamed(x.Function)) == 0 {
			*warnings = append(*warnings, fmt.Sprintf("exclude %q: no function of that name in %s; nothing excluded", x.Function, f.Path))
		}
	}
	for _, in := range c.Indirect {
		if !annotationUsed(g, in) {
			*warnings = append(*warnings, fmt.Sprintf("%s: the indirect annotation for %s has no effect: %s", c.Path, in.Function, whyUnused(f, in)))
		}
	}
}

// annotationUsed reports whether an [[indirect]] gave some call its targets.
func annotationUsed(g *callgraph.Graph, in config.Indirect) bool {
	for _, id := range g.NodesNamed(in.Function) {
		for _, e := range g.Nodes[id].Edges {
			if e.Method == callgraph.MethodAnnotated && (in.Site == 0 || e.Site == in.Site) {
				return true
			}
		}
	}
	return false
}

func whyUnused(f *binfile.File, in config.Indirect) string {
	if _, ok := f.Lookup(in.Function); !ok {
		return "no function of that name in " + f.Path
	}
	if in.Site != 0 {
		return fmt.Sprintf("no indirect call with an unknown target at %#x", in.Site)
	}
	return "it has no indirect call whose target is unknown, or no entry reaches it"
}

// withConfig fills options the command line left empty from the file.
func withConfig(opts Options, c *config.Config) Options {
	if len(opts.Interrupts.Groups) == 0 {
		opts.Interrupts.Groups = c.Interrupts.Groups
	}
	opts.Config = c
	opts.LDAudit = opts.LDAudit || c.LDAudit
	return opts
}

// annotations turns the [[indirect]] tables into call-graph annotations.
func annotations(c *config.Config) []callgraph.Annotation {
	var out []callgraph.Annotation
	for _, in := range c.Indirect {
		out = append(out, callgraph.Annotation{Function: in.Function, Site: in.Site, Targets: in.Targets})
	}
	return out
}

// boundOptions turns [[frame]], [[recursion]] and [[exclude]] into
// per-node facts.
func boundOptions(g *callgraph.Graph, c *config.Config) bound.Options {
	o := bound.Options{Overrides: map[int]int64{}, Depths: map[int]int64{}, Excluded: map[int]bool{}}
	for _, x := range c.Exclude {
		for _, id := range g.NodesNamed(x.Function) {
			o.Excluded[id] = true
		}
	}
	for _, fr := range c.Frames {
		for _, id := range g.NodesNamed(fr.Function) {
			o.Overrides[id] = int64(fr.Bytes)
		}
	}
	for _, r := range c.Recursion {
		for _, id := range g.NodesNamed(r.Function) {
			o.Depths[id] = r.Depth
		}
	}
	return o
}
