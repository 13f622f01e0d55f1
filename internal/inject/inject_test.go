package inject

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestMinimumByConstruction: recursion of depth N through a frame of F
// bytes (F from gcc -fstack-usage). What the program needs besides the
// recursion (startup, main, printf) is the same at every depth, so the
// minima at two depths must differ by (N2-N1)*F, within one page; and the
// failure just below each minimum is a stack overflow in the recursion.
func TestMinimumByConstruction(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/recurse.c")
	bin := filepath.Join(dir, "recurse")
	testutil.Run(t, dir, gcc, "-O2", "-fstack-usage", "-o", bin, src)
	frame := suFrame(t, dir, "recurse")

	minimum := func(depth int) *Result {
		t.Helper()
		res, err := Find(Options{Path: bin, Args: []string{bin, strconv.Itoa(depth)},
			Env: []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}, NormalLimit: 8 << 20})
		if err != nil {
			t.Fatalf("depth %d: %v", depth, err)
		}
		if res.Minimum == nil || !res.Confirmed {
			t.Fatalf("depth %d: no confirmed minimum: %+v", depth, res)
		}
		if f := res.FailureBelow; f == nil || f.Class != "stack-overflow" || f.Function != "recurse" {
			t.Fatalf("depth %d: failure below the minimum %+v, want a stack overflow in recurse", depth, f)
		}
		return res
	}
	const n1, n2 = 200, 1500
	r1, r2 := minimum(n1), minimum(n2)
	page := int64(os.Getpagesize())
	got := int64(*r2.Minimum) - int64(*r1.Minimum)
	want := int64(n2-n1) * frame
	if d := got - want; d < -page || d > page {
		t.Errorf("minima %d and %d differ by %d, want (%d-%d)*%d = %d within a page", *r1.Minimum, *r2.Minimum, got, n2, n1, frame, want)
	}
	// The minimum covers the peak measured at the normal limit, and is
	// within a page of it plus what argv, envp and auxv take.
	for _, r := range []*Result{r1, r2} {
		if int64(*r.Minimum) < int64(r.Peak) || int64(*r.Minimum) > int64(r.Peak)+int64(r.StartUse)+2*page {
			t.Errorf("minimum %d vs peak %d (+%d at exec)", *r.Minimum, r.Peak, r.StartUse)
		}
	}
	// Deterministic: the same minimum again.
	if again := minimum(n1); *again.Minimum != *r1.Minimum {
		t.Errorf("depth %d: minimum %d, then %d", n1, *r1.Minimum, *again.Minimum)
	}
}

func suFrame(t *testing.T, dir, fn string) int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "recurse.su"))
	if err != nil {
		matches, _ := filepath.Glob(filepath.Join(dir, "*.su"))
		if len(matches) == 0 {
			t.Fatalf("no .su file: %v", err)
		}
		data, _ = os.ReadFile(matches[0])
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 && strings.HasSuffix(f[0], ":"+fn) {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	t.Fatalf("no .su line for %s in %s", fn, data)
	return 0
}
