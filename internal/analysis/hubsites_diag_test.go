package analysis

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestHubSitesDiag is a diagnostic, not an assertion: with
// STACKSCOPE_HUBSITES=path-of-program (or "we": the write+exit program
// built here) it lists, for main, every indirect call site whose edge goes
// to libc's or ld.so's address-taken hub (--strict: every unresolved
// indirect call), grouped by function, with the path from main that
// reaches the function without passing through such a hub
// (STACKSCOPE_HUBPATH=name: and the path to the function of that name).
func TestHubSitesDiag(t *testing.T) {
	target := os.Getenv("STACKSCOPE_HUBSITES")
	if target == "" {
		t.Skip("SKIPPED: a diagnostic; set STACKSCOPE_HUBSITES=we or a program's path")
	}
	if target == "we" {
		gcc := testutil.RequireTool(t, "gcc")
		dir := t.TempDir()
		src := filepath.Join(dir, "we.c")
		os.WriteFile(src, []byte("#include <unistd.h>\n#include <stdlib.h>\nint main(void){static const char m[]=\"hi\\n\"; write(1,m,3); exit(0);}\n"), 0o644)
		target = filepath.Join(dir, "we")
		testutil.Run(t, dir, gcc, "-O2", "-Wl,-z,now", "-o", target, src)
	}
	for _, strict := range []bool{false, true} {
		res, err := Run(target, Options{Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		g := res.Graph
		ids := g.NodesNamed(envOr("STACKSCOPE_HUBFROM", "main"))
		if len(ids) == 0 {
			t.Fatal("no main")
		}
		isTakenHub := func(id int) bool {
			n := g.Nodes[id]
			return n.Hub && strings.HasPrefix(n.Name(), "[any of ")
		}
		parent := map[int]int{ids[0]: -1}
		queue := []int{ids[0]}
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			for _, e := range g.Nodes[id].Edges {
				if _, ok := parent[e.To]; ok || isTakenHub(e.To) {
					continue
				}
				parent[e.To] = id
				queue = append(queue, e.To)
			}
		}
		type site struct {
			fn   string
			addr uint64
			to   string
		}
		var sites []site
		byFn := map[int][]site{}
		listed := map[int]bool{} // a function's copies (per constant callback) count once
		for id := range parent {
			n := g.Nodes[id]
			if n.Module == nil || listed[g.Original(id)] {
				continue
			}
			listed[g.Original(id)] = true
			if strict {
				for _, cs := range n.Unresolved {
					s := site{n.Name(), cs.Addr, "unresolved"}
					byFn[id] = append(byFn[id], s)
					sites = append(sites, s)
				}
				continue
			}
			for _, e := range n.Edges {
				if isTakenHub(e.To) && e.Method == callgraph.MethodAddressTaken {
					s := site{n.Name(), e.Site, g.Nodes[e.To].Module.Name}
					byFn[id] = append(byFn[id], s)
					sites = append(sites, s)
				}
			}
		}
		var fns []int
		for id := range byFn {
			fns = append(fns, id)
		}
		sort.Slice(fns, func(i, j int) bool { return g.Nodes[fns[i]].Name() < g.Nodes[fns[j]].Name() })
		var b strings.Builder
		fmt.Fprintf(&b, "strict=%v: %d sites in %d functions\n", strict, len(sites), len(fns))
		for _, id := range fns {
			var path []string
			for p := id; p >= 0; p = parent[p] {
				path = append(path, g.Nodes[p].Name())
			}
			for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
				path[i], path[j] = path[j], path[i]
			}
			var addrs []string
			for _, s := range byFn[id] {
				addrs = append(addrs, fmt.Sprintf("%#x->%s", s.addr, s.to))
			}
			sort.Strings(addrs)
			fmt.Fprintf(&b, "  %-32s (%s) %s\n      via %s\n", g.Nodes[id].Name(), g.Nodes[id].Module.Name, strings.Join(addrs, " "), strings.Join(path, " -> "))
		}
		// STACKSCOPE_HUBPATH=name: also the path from main to each node
		// of that name that avoids the address-taken hubs.
		if want := os.Getenv("STACKSCOPE_HUBPATH"); want != "" {
			for id := range parent {
				if g.Nodes[id].Name() != want {
					continue
				}
				var path []string
				for p := id; p >= 0; p = parent[p] {
					path = append([]string{g.Nodes[p].Name()}, path...)
				}
				fmt.Fprintf(&b, "path to %s: %s\n", want, strings.Join(path, " -> "))
				for _, e := range g.Nodes[id].Edges {
					fmt.Fprintf(&b, "    edge %#x -> %s (%s)\n", e.Site, g.Nodes[e.To].Name(), e.Method)
				}
			}
		}
		t.Log("\n" + b.String())
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
