package analysis

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/callgraph"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestProgramStart: in stripped programs (glibc PIE, non-PIE and static;
// musl static) main is found from _start's code and named, it is the
// first entry, its bound equals the sum of GCC's .su frames of the
// unstripped build along main -> mid -> leaf (plus the leaf's red zone),
// the ELF entry's path goes _start -> __libc_start_main, and no path goes
// through ld.so's _dl_audit_* hooks unless asked (LDAudit).
func TestProgramStart(t *testing.T) {
	builds := []struct {
		name, cc string
		flags    []string
		dynamic  bool
	}{
		{"glibc-pie", "gcc", []string{"-O2", "-fPIE", "-pie"}, true},
		{"glibc-nopie", "gcc", []string{"-O2", "-fno-PIE", "-no-pie"}, true},
		{"glibc-static", "gcc", []string{"-O2", "-static"}, false},
		{"musl-static", "musl-gcc", []string{"-O2", "-static"}, false},
	}
	src, _ := filepath.Abs(filepath.Join("testdata", "x86", "progstart.c"))
	for _, b := range builds {
		b := b
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			cc := testutil.RequireTool(t, b.cc)
			dir := t.TempDir()
			full := filepath.Join(dir, "full")
			stripped := filepath.Join(dir, "stripped")
			testutil.Run(t, dir, cc, append([]string{"-fstack-usage", "-o", full, src}, b.flags...)...)
			testutil.Run(t, dir, cc, append([]string{"-s", "-o", stripped, src}, b.flags...)...)
			if out, err := exec.Command("file", stripped).Output(); err == nil && !strings.Contains(string(out), "stripped") {
				t.Fatalf("%s is not stripped: %s", stripped, out)
			}
			su := map[string]int64{}
			for _, l := range testutil.ParseSU(t, dir) {
				su[l.Function] = l.Bytes
			}
			for _, fn := range []string{"main", "mid", "leaf"} {
				if _, ok := su[fn]; !ok {
					t.Fatalf(".su has no %s: %v", fn, su)
				}
			}
			fullRes, err := Run(full, Options{Entries: []string{"main"}})
			if err != nil {
				t.Fatal(err)
			}
			want := su["main"] + su["mid"] + su["leaf"] + redZone(fullRes, "leaf")
			if e := fullRes.Entries[0]; !e.Bounded || *e.Bound != want {
				t.Fatalf("unstripped main: bounded %v %v, want %d from .su (%v)", e.Bounded, e.Bound, want, e.Path)
			}

			res, err := Run(stripped, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Entries) < 2 {
				t.Fatalf("entries %+v, want main and _start", res.Entries)
			}
			m := res.Entries[0]
			if m.Name != "main" || m.Kind != "main" {
				t.Fatalf("first entry %s (%s), want main", m.Name, m.Kind)
			}
			// (mid and leaf are sub_ functions here: only main is named.)
			if !m.Bounded || *m.Bound != want || len(m.Path) != 3 {
				t.Errorf("stripped main: bounded %v bound %v path %v, want %d through main -> mid -> leaf", m.Bounded, m.Bound, m.Path, want)
			}
			if m.Path[0] != "main" {
				t.Errorf("main's deepest path starts at %s", m.Path[0])
			}
			s := res.Entries[1]
			if s.Name != "_start" || s.Kind != "start" {
				t.Fatalf("second entry %s (%s), want _start", s.Name, s.Kind)
			}
			if len(s.Path) < 2 || s.Path[0] != "_start" || !strings.HasPrefix(s.Path[1], "__libc_start_main") &&
				!(b.cc == "musl-gcc" && s.Path[1] == "_start_c" && len(s.Path) > 2 && s.Path[2] == "__libc_start_main") {
				t.Errorf("_start's path %v, want _start -> __libc_start_main", s.Path)
			}
			if s.AtLeast < want {
				t.Errorf("_start at least %d, below main's bound %d", s.AtLeast, want)
			}
			checkNoAudit(t, res)
			if b.dynamic {
				// With the audit hooks asked for, the summary calls them.
				withAudit, err := Run(stripped, Options{LDAudit: true})
				if err != nil {
					t.Fatal(err)
				}
				if !summaryCalls(withAudit, "_dl_audit_preinit") {
					t.Errorf("LDAudit: the __libc_start_main summary does not call _dl_audit_preinit")
				}
				if summaryCalls(res, "_dl_audit_preinit") {
					t.Errorf("without LDAudit the summary calls _dl_audit_preinit")
				}
			}
		})
	}
}

func redZone(res *Result, name string) int64 {
	for _, f := range res.Functions {
		if f.Name == name {
			return f.RedZone
		}
	}
	return 0
}

// checkNoAudit fails when an entry's path runs through _dl_audit_*.
func checkNoAudit(t *testing.T, res *Result) {
	t.Helper()
	for _, e := range res.Entries {
		for _, p := range e.Path {
			if strings.HasPrefix(p, "_dl_audit_") {
				t.Errorf("%s's path %v goes through %s", e.Name, e.Path, p)
			}
		}
	}
}

// summaryCalls says whether the __libc_start_main summary has an edge to
// a function named name.
func summaryCalls(res *Result, name string) bool {
	g := res.Graph
	for _, n := range g.Nodes {
		if n.Summary != callgraph.MethodLibcStart.String() || !strings.HasPrefix(n.Name(), "__libc_start_main") {
			continue
		}
		for _, e := range n.Edges {
			if g.Nodes[e.To].Name() == name {
				return true
			}
		}
	}
	return false
}
