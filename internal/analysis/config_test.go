package analysis

import (
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestConfigAnnotations: declared recursion depths give exact bounds, a
// declared frame closes an external call, and an annotation whose code
// changed is ignored with a warning.
func TestConfigAnnotations(t *testing.T) {
	dir := t.TempDir()
	bin := buildX86(t, dir, []string{"-O2"}, true, "reasons.c")
	su := suFrames(testutil.ParseSU(t, dir))
	cfg, err := config.Parse("test.toml", []byte(`
[[recursion]]
function = "fact"
depth = 5

[[recursion]]
function = "pong"
depth = 3

[[frame]]
function = "external_function"
bytes = 1000
`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(bin, Options{Entries: []string{"fact", "ping", "calls_external"}, Config: cfg, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	requirePathSums(t, res)
	check := func(name string, want int64) {
		t.Helper()
		e := entry(t, res, name)
		if !e.Bounded || *e.Bound != want {
			t.Errorf("%s: bounded %v bound %s, want %d; reasons %s", name, e.Bounded, show(e.Bound), want, reasonSummary(e))
		}
		if len(e.Assumptions) == 0 {
			t.Errorf("%s: the declaration it rests on is not listed", name)
		}
	}
	// fact calls only itself: five activations.
	check("fact", 5*su["fact"])
	// ping <-> pong: three trips around the two-function cycle.
	check("ping", 3*(su["ping"]+su["pong"]))
	check("calls_external", su["calls_external"]+1000)
	var pinned bool
	for _, w := range res.Warnings {
		pinned = pinned || strings.Contains(w, "not pinned")
	}
	if !pinned {
		t.Errorf("no warning about unpinned annotations: %v", res.Warnings)
	}

	stale, _ := config.Parse("test.toml", []byte("[[recursion]]\nfunction = \"fact\"\ndepth = 5\nhash = \"sha256:0000000000000000\"\n"))
	res, err = Run(bin, Options{Entries: []string{"fact"}, Config: stale, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	requirePathSums(t, res)
	if e := entry(t, res, "fact"); e.Bounded || !strings.Contains(reasonSummary(e), "recursion@fact") {
		t.Errorf("stale annotation was trusted: %+v", e)
	}
	var ignored bool
	for _, w := range res.Warnings {
		ignored = ignored || strings.Contains(w, "IGNORED")
	}
	if !ignored {
		t.Errorf("no warning about the stale annotation: %v", res.Warnings)
	}
}
