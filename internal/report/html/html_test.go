package html

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/layout"
	"github.com/stackscope/stackscope/internal/testutil"
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

// chromium renders a page headless: it returns the DOM after the scripts
// ran and every console message, and writes a screenshot.
func chromium(t *testing.T, page, png string) (dom string, console []string) {
	t.Helper()
	bin := testutil.RequireTool(t, "chromium")
	args := []string{"--headless", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr", "--v=0",
		"--user-data-dir=" + t.TempDir(), "--window-size=1400,2400"}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, append(args, "--dump-dom", "file://"+page)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v\n%s", err, stderr.String())
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, ":CONSOLE") {
			console = append(console, l)
		}
	}
	shot := exec.Command(bin, append(args, "--screenshot="+png, "file://"+page)...)
	shot.Dir = filepath.Dir(png)
	if msg, err := shot.CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, msg)
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 10000 {
		t.Fatalf("no screenshot at %s", png)
	}
	return string(out), console
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
	for name, in := range map[string]Input{
		"firmware": {Analysis: fwRes, Layout: lay},
		"cpp":      {Analysis: cppRes},
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
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
