package report

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/testutil"
)

// TestAnalyzeDOT draws a program compiled here: Graphviz accepts the file,
// every arrow of the worst path is red, the recursion's back edge is there,
// and the unresolved indirect call (with --strict) is a node of its own at
// its source line.
func TestAnalyzeDOT(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dot := testutil.RequireTool(t, "dot")
	dir := t.TempDir()
	src := filepath.Join(dir, "g.c")
	os.WriteFile(src, []byte(`
static int leaf(int x) { volatile char b[300]; b[x % 300] = 1; return b[0]; }
static int small(int x) { volatile char b[20]; b[x % 20] = 1; return b[0]; }
int rec(int n) { return n <= 0 ? 0 : rec(n - 1) + small(n); }
int (*volatile hook)(int) = small;
int mid(int x) { return leaf(x) + small(x); }
int main(int c, char **v) {
	(void)v;
	return mid(c) + rec(c) + hook(c);
}
`), 0o644)
	bin := filepath.Join(dir, "g")
	testutil.Run(t, dir, gcc, "-O1", "-g", "-fno-inline", "-o", bin, src)
	res, err := analysis.Run(bin, analysis.Options{Entries: []string{"main", "mid"}, NoLibraries: true, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := AnalyzeDOT(&b, res); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	cmd := exec.Command(dot, "-Tsvg")
	cmd.Stdin = strings.NewReader(out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dot rejects the file: %v\n%s", err, msg[:min(len(msg), 400)])
	}
	// Node ids by function name.
	ids := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^  (n\d+) \[label="([^\\"]+)`).FindAllStringSubmatch(out, -1) {
		ids[m[2]] = m[1]
	}
	for _, e := range res.Entries {
		if len(e.Path) < 2 {
			t.Fatalf("%s: path %v", e.Name, e.Path)
		}
		for i := 1; i < len(e.Path); i++ {
			from, to := ids[e.Path[i-1]], ids[e.Path[i]]
			if !regexp.MustCompile(`(?m)^  ` + from + ` -> ` + to + ` \[.*color=red`).MatchString(out) {
				t.Errorf("%s: worst-path arrow %s -> %s is not red", e.Name, e.Path[i-1], e.Path[i])
			}
		}
	}
	if !strings.Contains(out, ids["rec"]+" -> "+ids["rec"]+" ") {
		t.Errorf("no recursion arrow rec -> rec")
	}
	if !regexp.MustCompile(`unresolved indirect-call\\nat 0x[0-9a-f]+\\ng\.c:9`).MatchString(out) {
		t.Errorf("no unresolved indirect-call node at g.c:9 in:\n%s", out)
	}
}
