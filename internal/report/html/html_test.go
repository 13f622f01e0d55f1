package html

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	stdhtml "html"
	"html/template"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/bound"
	"github.com/stackscope/stackscope/internal/layout"
	"github.com/stackscope/stackscope/internal/testutil"
	"github.com/stackscope/stackscope/internal/trace"
)

// htmlFixture is a C++ program whose demangled names hold markup-like
// text (templates: "<", ">", "&"): the page must show them as text.
const htmlFixture = `
#include <cstring>
template <typename T> struct Box { T v[64]; };
template <typename T> __attribute__((noinline)) int fill(Box<T> &b, int n) {
	for (int i = 0; i < 64; i++) b.v[i] = (T)(n + i);
	return (int)b.v[n & 63];
}
template <int N> __attribute__((noinline)) int deep(int x) { volatile char buf[N]; buf[x % N] = 1; return buf[0] + fill(*new Box<long>, x); }
__attribute__((noinline)) int rec(int n) { return n <= 0 ? 0 : rec(n - 1) + 1; }
int main(int argc, char **) { Box<char> b; return fill(b, argc) + deep<1000>(argc) + rec(argc); }
`

func buildHTMLFixture(t *testing.T) string {
	t.Helper()
	gxx := testutil.RequireTool(t, "g++")
	dir := t.TempDir()
	src := filepath.Join(dir, "tmpl.cpp")
	os.WriteFile(src, []byte(htmlFixture), 0o644)
	bin := filepath.Join(dir, "tmpl")
	testutil.Run(t, dir, gxx, "-O1", "-g", "-Wl,-z,now", "-o", bin, src)
	return bin
}

// hostileFixture is a C program whose functions objcopy renames to markup
// (hostileNames): a symbol name is any bytes a binary's author chose.
// spin recurses, so that its name is also a reason's, with a link.
const hostileFixture = `
__attribute__((noinline)) int victim(int n) { volatile char b[300]; b[n & 255] = 1; return b[3]; }
__attribute__((noinline)) int other(int n) { volatile char b[40]; b[n & 31] = 1; return b[1] + victim(n); }
__attribute__((noinline)) int spin(int n) { return n <= 0 ? 0 : spin(n - 1) + 1; }
int main(int argc, char **argv) { return other(argc) + spin(argc); }
`

var hostileNames = map[string]string{
	"victim": `</script><img src=x onerror=document.body.dataset.pwned=1>`,
	"other":  `<b onmouseover="x">&amp;</b>`,
	"spin":   `"'><svg onload=document.body.dataset.pwned=2>`,
}

func buildHostileFixture(t *testing.T) string {
	t.Helper()
	gcc := testutil.RequireTool(t, "gcc")
	objcopy := testutil.RequireTool(t, "objcopy")
	dir := t.TempDir()
	src := filepath.Join(dir, "hostile.c")
	os.WriteFile(src, []byte(hostileFixture), 0o644)
	plain := filepath.Join(dir, "plain")
	testutil.Run(t, dir, gcc, "-O1", "-g", "-o", plain, src)
	args := []string{}
	for from, to := range hostileNames {
		args = append(args, "--redefine-sym", from+"="+to)
	}
	bin := filepath.Join(dir, "hostile")
	testutil.Run(t, dir, objcopy, append(args, plain, bin)...)
	return bin
}

// TestHTMLHostileNames: functions named with markup (a script's end tag,
// an event handler, an attribute's quote) are shown and never run: the
// page holds no tag of theirs, only its own two scripts.
func TestHTMLHostileNames(t *testing.T) {
	res, err := analysis.Run(buildHostileFixture(t), analysis.Options{NoLibraries: true})
	if err != nil {
		t.Fatal(err)
	}
	// The names must reach the page's input, or the test proves nothing.
	names := map[string]bool{}
	for _, f := range res.Functions {
		names[f.Name] = true
	}
	for _, n := range hostileNames {
		if !names[n] {
			t.Fatalf("the analysis has no function %q", n)
		}
	}
	if reasonOf(res, hostileNames["spin"]) == nil {
		t.Fatalf("no reason names %q", hostileNames["spin"])
	}
	var b bytes.Buffer
	if err := Write(&b, Input{Analysis: res}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, "<script"); n != 2 {
		t.Errorf("%d <script> tags, want 2 (the data and the code)", n)
	}
	for _, tag := range []string{"</script><img", "<img", "<svg onload", "<b onmouseover"} {
		if strings.Contains(page, tag) {
			t.Errorf("the page holds %q from a function's name", tag)
		}
	}
}

func reasonOf(r *analysis.Result, fn string) *bound.Reason {
	for _, e := range r.Entries {
		for i := range e.Reasons {
			if e.Reasons[i].Function == fn {
				return &e.Reasons[i]
			}
		}
	}
	return nil
}

// TestHTMLEscapes: every name is data, never markup: the page has exactly
// its own two scripts, and template names reach the data block escaped.
func TestHTMLEscapes(t *testing.T) {
	bin := buildHTMLFixture(t)
	res, err := analysis.Run(bin, analysis.Options{NoLibraries: true})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(&b, Input{Analysis: res}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, "<script"); n != 2 {
		t.Errorf("%d <script> tags, want 2 (the data and the code)", n)
	}
	if !strings.Contains(page, `int deep\u003c1000\u003e(int)`) {
		t.Errorf("the template name deep<1000>(int) is not in the data block, escaped")
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "src=\"") {
		t.Errorf("the page refers to something outside itself")
	}
}

// chromiumDOM loads url in headless Chromium: the DOM after the scripts
// ran, and every console message (an error, an uncaught exception).
func chromiumDOM(t *testing.T, url string) (dom string, console []string) {
	t.Helper()
	bin := testutil.RequireTool(t, "chromium")
	var stderr bytes.Buffer
	// A page whose script loops never finishes loading: the test fails
	// after a while instead of hanging with Chromium left running.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(chromiumFlags(t), "--enable-logging=stderr", "--v=0", "--dump-dom", url)...)
	cmd.WaitDelay = 10 * time.Second
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v\n%s", err, stderr.String())
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, ":CONSOLE") || strings.Contains(l, "Uncaught") {
			console = append(console, l)
		}
	}
	return string(out), console
}

func chromiumFlags(t *testing.T) []string {
	return []string{"--headless", "--disable-gpu", "--no-sandbox", "--user-data-dir=" + t.TempDir(), "--window-size=1400,2400"}
}

// chromium renders a page headless: it returns the DOM after the scripts
// ran and every console message, and writes a screenshot.
func chromium(t *testing.T, page, png string) (dom string, console []string) {
	t.Helper()
	dom, console = chromiumDOM(t, "file://"+page)
	shot := exec.Command(testutil.RequireTool(t, "chromium"), append(chromiumFlags(t), "--screenshot="+png, "file://"+page)...)
	shot.Dir = filepath.Dir(png)
	if msg, err := shot.CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, msg)
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 10000 {
		t.Fatalf("no screenshot at %s", png)
	}
	return dom, console
}

// TestHTMLInChromium opens the reports of the example firmware (with its
// memory map) and of a C++ program in headless Chromium: no console
// message, and the DOM holds what the script builds: every entry's path
// rows with their bars, the function table, the memory map. Screenshots go
// to $STACKSCOPE_SCREENSHOTS when set (to look at), else a temp directory.
func TestHTMLInChromium(t *testing.T) {
	shots := os.Getenv("STACKSCOPE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	fw := "../../../examples/firmware/firmware.elf"
	fwRes, err := analysis.Run(fw, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lay, err := layout.Analyze(fw, layout.Options{Result: fwRes})
	if err != nil {
		t.Fatal(err)
	}
	cpp := buildHTMLFixture(t)
	cppRes, err := analysis.Run(cpp, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hostileRes, err := analysis.Run(buildHostileFixture(t), analysis.Options{NoLibraries: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]Input{
		"firmware": {Analysis: fwRes, Layout: lay},
		"cpp":      {Analysis: cppRes},
		"hostile":  {Analysis: hostileRes},
	} {
		t.Run(name, func(t *testing.T) {
			page := filepath.Join(t.TempDir(), name+".html")
			var b bytes.Buffer
			if err := Write(&b, in); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(page, b.Bytes(), 0o644)
			dom, console := chromium(t, page, filepath.Join(shots, name+".png"))
			if len(console) > 0 {
				t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
			}
			r := in.Analysis
			for i, e := range r.Entries {
				if !strings.Contains(dom, `id="entry-`+itoa(i)+`"`) {
					t.Errorf("entry %s not rendered", e.Name)
				}
			}
			steps := 0
			for _, e := range r.Entries {
				steps += len(e.Steps)
			}
			if n := len(regexp.MustCompile(`class="bar[ "]`).FindAllString(dom, -1)); n != steps {
				t.Errorf("%d bars, want one per worst-path step (%d)", n, steps)
			}
			rows := len(regexp.MustCompile(`<tr id="fn-`).FindAllString(dom, -1))
			if want := min(len(r.Functions), 200); rows != want {
				t.Errorf("%d function rows, want %d", rows, want)
			}
			if in.Layout != nil && !strings.Contains(dom, "<svg") {
				t.Errorf("no memory map")
			}
			if name == "cpp" && !strings.Contains(dom, "int deep&lt;1000&gt;(int)") {
				t.Errorf("the template function is not shown as text")
			}
			if name == "hostile" {
				checkHostileDOM(t, dom, page)
			}
		})
	}
}

// checkHostileDOM: the markup in function names ran nowhere and shows as
// text; a reason's link to its function (#fn=NAME) shows that one row.
func checkHostileDOM(t *testing.T, dom, page string) {
	t.Helper()
	if strings.Contains(dom, "data-pwned") || strings.Contains(dom, "<img") || strings.Contains(dom, "<svg onload") {
		t.Errorf("markup from a function's name ran")
	}
	if !strings.Contains(dom, `&lt;/script&gt;&lt;img src=x onerror=document.body.dataset.pwned=1&gt;`) {
		t.Errorf("the </script> function is not shown as text")
	}
	link := regexp.MustCompile(`<a class="fn" href="(#fn=[^"]*)">"'&gt;&lt;svg`).FindStringSubmatch(dom)
	if link == nil {
		t.Fatalf("no link from the recursion reason to its function")
	}
	linked, console := chromiumDOM(t, "file://"+page+strings.ReplaceAll(link[1], "&amp;", "&"))
	if len(console) > 0 {
		t.Errorf("console messages after following the link:\n%s", strings.Join(console, "\n"))
	}
	rows := regexp.MustCompile(`<tr id="fn-[^>]*class="highlight"><td class="fn">([^<]*)</td>`).FindAllStringSubmatch(linked, -1)
	if len(rows) != 1 || rows[0][1] != `"'&gt;&lt;svg onload=document.body.dataset.pwned=2&gt;` {
		t.Errorf("following %s shows rows %q, want the one function", link[1], rows)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// overflowFixture: a worker thread with a 64 KiB stack recurses until it
// runs off its stack; another worker ends well.
const overflowFixture = `
#include <pthread.h>
#include <string.h>
static int depth_of(const char *s, int d) {
	char scratch[512];
	memset(scratch, d, sizeof scratch);
	if (*s == '[') return depth_of(s + 1, d + 1) + scratch[d & 511] - d;
	return d;
}
static void *parser(void *arg) { return (void *)(long)depth_of(arg, 0); }
static void *idle(void *arg) { return arg; }
static char input[200000];
int main(void) {
	memset(input, '[', sizeof input - 1);
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	pthread_t t1, t2;
	pthread_create(&t2, &a, idle, 0);
	pthread_join(t2, 0);
	pthread_create(&t1, &a, parser, input);
	pthread_join(t1, 0);
	return 0;
}
`

// TestHTMLRunRecord: a real run's record, read back from its JSON as
// `report --run` reads it, shows its verdict, every thread, and the
// crash's backtrace with the recursion folded into one counted line.
func TestHTMLRunRecord(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("stackscope run is linux/amd64 only")
	}
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "overflow.c")
	os.WriteFile(src, []byte(overflowFixture), 0o644)
	bin := filepath.Join(dir, "overflow")
	testutil.Run(t, dir, gcc, "-O1", "-g", "-o", bin, src, "-lpthread")
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	ran, err := trace.Run(trace.Config{Path: bin, Args: []string{bin}, Stdin: devnull, Stdout: devnull, Stderr: devnull})
	if err != nil {
		t.Fatal(err)
	}
	if ran.Crash == nil || ran.Crash.Class != trace.ClassStackOverflow || len(ran.Threads) != 3 {
		t.Fatalf("the run: %s, %d threads; want a stack overflow in 3", ran.Verdict(), len(ran.Threads))
	}
	record, _ := json.Marshal(ran)
	var run trace.Result
	if err := json.Unmarshal(record, &run); err != nil {
		t.Fatal(err)
	}
	res, err := analysis.Run(bin, analysis.Options{NoLibraries: true})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(&b, Input{Analysis: res, Run: &run, RunFile: "run.json"}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{template.HTMLEscapeString(run.Verdict()), template.HTMLEscapeString(run.Crash.Detail)} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, th := range run.Threads {
		if !strings.Contains(page, `"tid":`+itoa(th.TID)+",") {
			t.Errorf("thread %d is not in the page's data", th.TID)
		}
	}
	// The backtrace: a few lines, one of them depth_of counted many times.
	list := regexp.MustCompile(`(?s)<ol class="backtrace">(.*?)</ol>`).FindStringSubmatch(page)
	if list == nil {
		t.Fatal("no backtrace")
	}
	lines := strings.Count(list[1], "<li>")
	folded := regexp.MustCompile(`<li>depth_of(?:\+|&#43;)0x[0-9a-f]+ \(overflow\.c:\d+\) <span class="muted">× (\d+)</span>`).FindStringSubmatch(list[1])
	if folded == nil || lines > 3 {
		t.Fatalf("the recursion is not one counted line of at most 3:\n%s", list[1])
	}
	if n, _ := strconv.Atoi(folded[1]); n < 20 || n >= len(run.Crash.Frames) {
		t.Errorf("depth_of repeats %d times of %d frames", n, len(run.Crash.Frames))
	}
}

// manyFunctions is a C program of n functions with frames of many sizes:
// more than the table shows at first.
func manyFunctions(t *testing.T, n int) string {
	t.Helper()
	gcc := testutil.RequireTool(t, "gcc")
	var src strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&src, "__attribute__((noinline)) int f_%d(int x) { volatile char b[%d]; b[x & 1] = x; return b[0]; }\n", i, 1+(i*37)%500)
	}
	src.WriteString("int main(int argc, char **argv) { return f_0(argc); }\n")
	dir := t.TempDir()
	path := filepath.Join(dir, "many.c")
	os.WriteFile(path, []byte(src.String()), 0o644)
	bin := filepath.Join(dir, "many")
	testutil.Run(t, dir, gcc, "-O1", "-g", "-o", bin, path)
	return bin
}

// tableDriver runs after the page's script, as a person would use the
// function table: sort by a heading (twice), filter, show more; it leaves
// what the table showed after each step in <pre id="driver">.
const tableDriver = `<script>
(function () {
  const out = {};
  const col = i => [...document.querySelectorAll("#functions tbody tr")].map(tr => tr.cells[i].textContent);
  const th = k => document.querySelector('#functions th[data-key="' + k + '"]');
  const count = () => document.getElementById("count").textContent;
  out.first = col(0).length; out.firstCount = count();
  document.getElementById("more").click(); out.more = col(0).length;
  th("name").click(); out.byName = col(0);
  th("name").click(); out.byNameDesc = col(0);
  th("frame").click(); out.byFrame = col(1);
  const s = document.getElementById("search");
  s.value = "F_12"; s.dispatchEvent(new Event("input"));
  out.search = col(0); out.searchCount = count();
  s.value = "ADDR"; s.dispatchEvent(new Event("input")); out.byAddr = col(0);
  const pre = document.createElement("pre"); pre.id = "driver"; pre.textContent = JSON.stringify(out);
  document.body.append(pre);
})();
</script>
</body>`

// TestHTMLTableInChromium: in Chromium, the function table of a program
// with 450 functions shows 200, then all of them; a heading sorts it (a
// second click reverses); the search box filters it by name.
func TestHTMLTableInChromium(t *testing.T) {
	const n = 450
	res, err := analysis.Run(manyFunctions(t, n), analysis.Options{NoLibraries: true})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(&b, Input{Analysis: res}); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "many.html")
	last := res.Functions[len(res.Functions)-1]
	driver := strings.Replace(tableDriver, "ADDR", fmt.Sprintf("%#x", last.Addr), 1)
	os.WriteFile(page, []byte(strings.Replace(b.String(), "</body>", driver, 1)), 0o644)
	dom, console := chromiumDOM(t, "file://"+page)
	if len(console) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
	}
	m := regexp.MustCompile(`<pre id="driver">(.*)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatal("the driver left no result: the page's script failed?")
	}
	var got struct {
		First, More                                 int
		FirstCount, SearchCount                     string
		ByName, ByNameDesc, Search, ByFrame, ByAddr []string
	}
	if err := json.Unmarshal([]byte(stdhtml.UnescapeString(m[1])), &got); err != nil {
		t.Fatal(err)
	}
	total := len(res.Functions)
	if total < n {
		t.Fatalf("%d functions analysed, want at least %d", total, n)
	}
	if got.First != 200 || !strings.Contains(got.FirstCount, "first 200 shown") || got.More != total {
		t.Errorf("rows %d (%q), after show more %d; want 200, then %d", got.First, got.FirstCount, got.More, total)
	}
	if len(got.ByName) != total || !slices.Equal(got.ByName, reversed(got.ByNameDesc)) || got.ByName[0] == got.ByNameDesc[0] {
		t.Errorf("sorting by name twice does not reverse the order")
	}
	frames := []int{}
	for _, f := range got.ByFrame {
		v, err := strconv.Atoi(strings.ReplaceAll(strings.Fields(f)[0], ",", "")) // "1,024 B"
		if err != nil {
			t.Fatalf("frame cell %q", f)
		}
		frames = append(frames, v)
	}
	if !slices.IsSortedFunc(frames, func(a, b int) int { return b - a }) || frames[0] == frames[len(frames)-1] {
		t.Errorf("sorting by frame: %v..., want largest first", frames[:10])
	}
	want := []string{}
	for _, f := range res.Functions {
		if strings.Contains(strings.ToLower(f.Name), "f_12") {
			want = append(want, f.Name)
		}
	}
	slices.Sort(want)
	if !slices.Equal(got.ByAddr, []string{last.Name}) {
		t.Errorf("search %#x shows %v, want %s", last.Addr, got.ByAddr, last.Name)
	}
	search := slices.Sorted(slices.Values(got.Search))
	if len(want) != 11 || !slices.Equal(search, want) { // f_12 and f_120..f_129, typed in capitals
		t.Errorf("search f_12 shows %v, want %v", search, want)
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}
