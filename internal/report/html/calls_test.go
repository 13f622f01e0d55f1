package html

import (
	"bytes"
	"encoding/json"
	stdhtml "html"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/report"
	"github.com/stackscope/stackscope/internal/testutil"
)

// callsFixture: a call chain (main -> top -> mid -> leaf), a function
// called from several places (leaf), calls through function pointers
// narrowed by prototype (dispatch, sink) and one that is not (untyped, no
// prototype: the address-taken set, of which dispatch's set is a part).
const callsFixture = `
__attribute__((noinline)) int leaf(int x) { volatile char b[64]; b[x & 63] = x; return b[1]; }
__attribute__((noinline)) int mid(int x) { volatile char b[128]; b[x & 127] = x; return b[2] + leaf(x); }
__attribute__((noinline)) int top(int x) { return mid(x) + leaf(x + 1); }
__attribute__((noinline)) int cb_a(int x) { volatile char b[200]; b[x & 127] = x; return b[3]; }
__attribute__((noinline)) int cb_b(int x) { return leaf(x) * 2; }
__attribute__((noinline)) int cb_c(int x) { return x + 3; }
__attribute__((noinline)) int cb_d(int x) { return mid(x) - 1; }
__attribute__((noinline)) void say(const char *s) { volatile char b[32]; b[0] = s[0]; }
int (*volatile table[4])(int) = { cb_a, cb_b, cb_c, cb_d };
void (*volatile sink)(const char *) = say;
int (*volatile untyped)();
__attribute__((noinline)) int dispatch(int x) { return table[x & 3](x); }
int main(int argc, char **argv) { untyped = (int (*)())cb_c; sink(argv[0]); return top(argc) + dispatch(argc) + untyped(argc); }
`

// buildCallsFixture compiles callsFixture in a new directory as calls.c;
// it returns the directory and the binary. A moved build's DWARF names
// /nonexistent/checkout instead of the directory, as a build made in a
// checkout that is not on this machine.
func buildCallsFixture(t *testing.T, moved bool) (dir, bin string) {
	t.Helper()
	gcc := testutil.RequireTool(t, "gcc")
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, "calls.c"), []byte(callsFixture), 0o644)
	bin = filepath.Join(dir, "calls")
	args := []string{"-std=gnu11", "-O1", "-g", "-o", bin, "calls.c"} // gnu11: () declares no prototype
	if moved {
		args = append(args, "-fdebug-prefix-map="+dir+"=/nonexistent/checkout")
	}
	testutil.Run(t, dir, gcc, args...)
	return dir, bin
}

// callsDriver runs after the page's script: it shows every row, and
// reads back from the DOM what each row's callers and callees cell, the
// sets table and every link on the page hold, into <pre id="driver">.
const callsDriver = `<script>
(function () {
  const more = document.getElementById("more");
  // Bounded: a page whose script failed never hides the button.
  for (let i = 0; i < 100 && more.style.display !== "none"; i++) more.click();
  // Open every folded list (a summary builds its list when clicked).
  for (let round = 0; round < 3; round++)
    document.querySelectorAll("#functions details:not([open]) > summary, #sets details:not([open]) > summary").forEach(s => s.click());
  const item = li => {
    const a = li.querySelector(".fn, .set"), s = li.querySelector(".src");
    return { name: a.textContent, href: a.getAttribute("href") || "", set: a.classList.contains("set"),
      src: s ? s.textContent : "", srcHref: s ? (s.getAttribute("href") || "") : "" };
  };
  const lists = cell => [...cell.querySelectorAll(".reflist")].map(l => ({ title: l.querySelector("h5").textContent, items: [...l.querySelectorAll("li")].map(item) }));
  const out = { rows: [], sets: [], hrefs: [], ids: [] };
  document.querySelectorAll("#functions tbody tr").forEach(tr => {
    out.rows.push({ id: tr.id, src: tr.cells[4].textContent, lists: lists(tr.querySelector("td.calls")) });
  });
  document.querySelectorAll("#sets tbody tr").forEach(tr => out.sets.push({ id: tr.id, name: tr.cells[0].textContent, found: tr.cells[1].textContent,
    size: tr.cells[2].textContent, lists: lists(tr) }));
  document.querySelectorAll("a[href]").forEach(a => out.hrefs.push(a.getAttribute("href")));
  document.querySelectorAll("[id]").forEach(e => out.ids.push(e.id));
  const pre = document.createElement("pre"); pre.id = "driver"; pre.textContent = JSON.stringify(out);
  document.body.append(pre);
})();
</script>
</body>`

type drivenItem struct {
	Name, Href, Src, SrcHref string
	Set                      bool
}

type drivenList struct {
	Title string
	Items []drivenItem
}

type drivenPage struct {
	Rows []struct {
		ID, Src string
		Lists   []drivenList
	}
	Sets []struct {
		ID, Name, Found, Size string
		Lists                 []drivenList
	}
	Hrefs, IDs []string
}

// drive writes the page with driver added, opens it in Chromium and
// returns what the driver read.
func drive(t *testing.T, page []byte, path, driver string) drivenPage {
	t.Helper()
	os.WriteFile(path, []byte(strings.Replace(string(page), "</body>", driver, 1)), 0o644)
	var got drivenPage
	readDriver(t, path, &got)
	return got
}

// readDriver opens the page at path in Chromium and decodes into v what
// its driver script left in <pre id="driver">; a console message fails.
func readDriver(t *testing.T, path string, v any) {
	t.Helper()
	dom, console := chromiumDOM(t, "file://"+path)
	if len(console) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
	}
	m := regexp.MustCompile(`<pre id="driver">(.*)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatal("the driver left no result: the page's script failed?")
	}
	if err := json.Unmarshal([]byte(stdhtml.UnescapeString(m[1])), v); err != nil {
		t.Fatal(err)
	}
}

// jsonCallGraph is the call graph as `analyze --format json` writes it.
type jsonCallGraph struct {
	Functions []struct {
		Name    string
		Addr    uint64
		Calls   []string
		Methods map[string]int `json:"assumed_indirect_methods"`
	}
}

// TestHTMLCallersCallees: in Chromium, each function's row lists as
// callees the JSON's calls and as callers the functions whose JSON calls
// name it, plus the indirect-call sets it is a member of; each local one
// shows its declaration's file:line (srcloc's), each set its members once
// in the sets table. Every link on the page goes to an element it has,
// and the page, made inside the source tree, links source lines to the
// file relative to itself.
func TestHTMLCallersCallees(t *testing.T) {
	dir, bin := buildCallsFixture(t, false)
	t.Chdir(dir)
	res, err := analysis.Run(bin, analysis.Options{NoLibraries: true})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(res)
	var cg jsonCallGraph
	if err := json.Unmarshal(js, &cg); err != nil {
		t.Fatal(err)
	}
	// The sets, from the call graph: name -> member names.
	sets := map[string][]string{}
	for _, n := range res.Graph.Nodes {
		if n.Hub && n.Module == res.Graph.Modules[0] {
			for _, e := range n.Edges {
				sets[n.Name()] = append(sets[n.Name()], res.Graph.QualifiedName(e.To))
			}
		}
	}
	// How each set was found, as its callers' JSON says.
	methods := map[string][]string{}
	for _, f := range cg.Functions {
		for _, c := range f.Calls {
			if _, ok := sets[c]; ok {
				for m := range f.Methods {
					methods[c] = append(methods[c], m)
				}
			}
		}
	}
	local := map[string]bool{}
	declared := map[string]string{} // function -> file:line, from srcloc
	for _, f := range cg.Functions {
		local[f.Name] = true
		if l, ok := res.Lines.Func(f.Addr); ok {
			declared[f.Name] = report.SourceLine(l.File, l.Line)
		}
	}
	wantCallees, wantCallers := map[string][]string{}, map[string][]string{}
	for _, f := range cg.Functions {
		wantCallees[f.Name] = f.Calls
		for _, c := range f.Calls {
			wantCallers[c] = append(wantCallers[c], f.Name)
		}
	}
	for name, members := range sets {
		for _, m := range members {
			wantCallers[m] = append(wantCallers[m], name)
		}
	}
	// The fixture must give the test something to check.
	if len(sets) == 0 || !slices.Contains(wantCallees["top"], "mid") || len(wantCallers["leaf"]) < 3 {
		t.Fatalf("the fixture's graph lacks a set or the chain: sets %v, top calls %v, leaf called by %v", sets, wantCallees["top"], wantCallers["leaf"])
	}

	var b bytes.Buffer
	out := filepath.Join(dir, "report", "calls.html")
	os.Mkdir(filepath.Dir(out), 0o755)
	if err := Write(&b, Input{Analysis: res, Output: out}); err != nil {
		t.Fatal(err)
	}
	if len(sets) < 2 || !strings.Contains(b.String(), `"base":`) {
		t.Fatalf("the page writes no set against another (%d sets): the test would not check that the script rebuilds it", len(sets))
	}
	got := drive(t, b.Bytes(), out, callsDriver)
	if len(got.Rows) != len(cg.Functions) {
		t.Fatalf("%d rows shown, want all %d", len(got.Rows), len(cg.Functions))
	}
	for _, row := range got.Rows {
		name := strings.TrimPrefix(row.ID, "fn-")
		lists := map[string][]drivenItem{}
		for _, l := range row.Lists {
			lists[strings.Fields(l.Title)[0]] = l.Items // "called by (2)", "calls (3)"
		}
		for _, c := range []struct {
			list string
			want []string
		}{{"called", wantCallers[name]}, {"calls", wantCallees[name]}} {
			var names []string
			for _, it := range lists[c.list] {
				names = append(names, it.Name)
				checkItem(t, name, it, local, declared, sets)
			}
			if !sameSet(names, c.want) {
				t.Errorf("%s: %s %q, want %q (the JSON's call graph)", name, c.list, names, c.want)
			}
		}
	}
	if len(got.Sets) != len(sets) {
		t.Errorf("%d sets shown, want %d", len(got.Sets), len(sets))
	}
	for _, s := range got.Sets {
		members := sets[s.Name]
		var shown []string
		for _, l := range s.Lists {
			if strings.HasPrefix(l.Title, "may call") {
				for _, it := range l.Items {
					shown = append(shown, it.Name)
				}
			}
		}
		found := slices.ContainsFunc(methods[s.Name], func(m string) bool { return strings.HasSuffix(s.Found, "by "+m) })
		if !sameSet(shown, members) || s.Size != itoa(len(members)) || !found {
			t.Errorf("set %s: members %q, size %s, found %q; want %q by one of %q", s.Name, shown, s.Size, s.Found, members, methods[s.Name])
		}
	}
	// Every link goes to an element of the page, or to a source file
	// that exists, at a line it has.
	ids := map[string]bool{}
	for _, id := range got.IDs {
		ids[id] = true
	}
	sourceLinks := 0
	for _, h := range got.Hrefs {
		switch {
		case strings.HasPrefix(h, "#fn="):
			fn, _ := url.PathUnescape(strings.TrimPrefix(h, "#fn="))
			if !ids["fn-"+fn] {
				t.Errorf("link %s: no row fn-%s", h, fn)
			}
		case strings.HasPrefix(h, "#"):
			if !ids[h[1:]] {
				t.Errorf("link %s: no element %s", h, h[1:])
			}
		default:
			sourceLinks++
			file, line, _ := strings.Cut(h, "#L")
			if strings.Contains(file, ":") || !existsLine(filepath.Join(filepath.Dir(out), file), line) {
				t.Errorf("source link %q: want a relative link to an existing file and line", h)
			}
		}
	}
	if sourceLinks == 0 {
		t.Errorf("no source link on a page made inside the source tree")
	}
}

// checkItem: a caller or callee links to its row and shows srcloc's
// file:line (a function of the file), or to its set's row (a set).
func checkItem(t *testing.T, row string, it drivenItem, local map[string]bool, declared map[string]string, sets map[string][]string) {
	t.Helper()
	switch {
	case it.Set:
		if _, ok := sets[it.Name]; !ok || !strings.HasPrefix(it.Href, "#set-") {
			t.Errorf("%s: set %q links to %q", row, it.Name, it.Href)
		}
	case local[it.Name]:
		if it.Href != "#fn="+url.PathEscape(it.Name) && it.Href != "#fn="+it.Name {
			t.Errorf("%s: %s links to %q", row, it.Name, it.Href)
		}
		if it.Src != declared[it.Name] {
			t.Errorf("%s: %s shown at %q, srcloc says %q", row, it.Name, it.Src, declared[it.Name])
		}
		if it.Src != "" && !strings.HasSuffix(it.SrcHref, "#L"+it.Src[strings.LastIndex(it.Src, ":")+1:]) {
			t.Errorf("%s: %s's source %s links to %q", row, it.Name, it.Src, it.SrcHref)
		}
	default:
		if it.Href != "" {
			t.Errorf("%s: %s is no function of the file, yet links to %q", row, it.Name, it.Href)
		}
	}
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Compact(slices.Sorted(slices.Values(a))), slices.Compact(slices.Sorted(slices.Values(b))))
}

// existsLine reports whether file exists and has line (a number).
func existsLine(file, line string) bool {
	text, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	n := 0
	for _, c := range line {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n >= 1 && n <= bytes.Count(text, []byte("\n"))+1
}

// pageLinks is the page data's map of source links.
func pageLinks(t *testing.T, page string) map[string]string {
	t.Helper()
	m := regexp.MustCompile(`<script id="data" type="application/json">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no data block")
	}
	var d struct{ Links map[string]string }
	if err := json.Unmarshal([]byte(m[1]), &d); err != nil {
		t.Fatal(err)
	}
	return d.Links
}

// TestHTMLSourceLinks: a page links a source file only when it finds it:
// in the tree it is made in (relative to the page when the page is inside
// it), through the compilation directory of a build made elsewhere (its
// part below that directory, in the current one), and never when the
// file is on this machine under no name the DWARF gives.
func TestHTMLSourceLinks(t *testing.T) {
	dir, plain := buildCallsFixture(t, false)
	// The same program as if built in a checkout that is not on this
	// machine: its DWARF names /nonexistent/checkout/calls.c.
	_, moved := buildCallsFixture(t, true)
	elsewhere := t.TempDir()
	for _, c := range []struct {
		name, bin, cwd, output string
		want                   string // the link of calls.c; "" for none
	}{
		{"inside the tree, page in it", plain, dir, filepath.Join(dir, "out", "p.html"), "../calls.c"},
		{"inside the tree, page elsewhere", plain, dir, filepath.Join(elsewhere, "p.html"), "file://" + filepath.Join(dir, "calls.c")},
		{"inside the tree, standard output", plain, dir, "", "file://" + filepath.Join(dir, "calls.c")},
		{"built elsewhere, made in the tree", moved, dir, filepath.Join(dir, "p.html"), "calls.c"},
		{"built elsewhere, made outside the tree", moved, elsewhere, filepath.Join(elsewhere, "p.html"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Chdir(c.cwd)
			res, err := analysis.Run(c.bin, analysis.Options{NoLibraries: true})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := Write(&b, Input{Analysis: res, Output: c.output}); err != nil {
				t.Fatal(err)
			}
			links := pageLinks(t, b.String())
			var href string
			var shown []string
			for short, h := range links {
				shown = append(shown, short)
				if filepath.Base(short) == "calls.c" {
					href = h
				}
			}
			if href != c.want {
				t.Errorf("calls.c links to %q, want %q (links %v)", href, c.want, links)
			}
			if c.want == "" && len(links) > 0 {
				t.Errorf("a page made outside the source tree links %v", shown)
			}
		})
	}
}
