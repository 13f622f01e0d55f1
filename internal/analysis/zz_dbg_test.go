package analysis

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

func TestZZHubCallers(t *testing.T) {
	prog := os.Getenv("ZZPROG")
	if prog == "" {
		t.Skip()
	}
	res, err := Run(prog, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := res.Graph
	reached := reachableFrom(g, entryNode(t, res, "main"))
	var out []string
	for id := range reached {
		n := g.Nodes[id]
		for _, e := range n.Edges {
			to := g.Nodes[e.To]
			if to.Hub && strings.Contains(to.Name, "address-taken") {
				out = append(out, fmt.Sprintf("%s %#x -> %s", n.Name, e.Site, to.Name))
			}
		}
	}
	sort.Strings(out)
	for _, l := range out {
		fmt.Println(l)
	}
}
