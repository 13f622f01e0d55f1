package html

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/size"
	"github.com/stackscope/stackscope/internal/testutil"
)

// bigFrames: frames on both sides of 10 KiB and of 1 MiB, so that the
// page writes sizes in bytes, KiB and MiB.
const bigFrames = `
__attribute__((noinline)) int small(int x) { volatile char b[3000]; b[x & 1023] = x; return b[1]; }
__attribute__((noinline)) int kib(int x) { volatile char b[79000]; b[x & 1023] = x; return b[2] + small(x); }
__attribute__((noinline)) int mib(int x) { volatile char b[1100000]; b[x & 1023] = x; return b[3] + kib(x); }
int main(int argc, char **argv) { return mib(argc) + small(argc); }
`

// sizeDriver calls the page's own formatters over the values in
// VALUES (decimal strings, read as BigInt; those within 2^53 also as
// Numbers, as the page's data gives them), and reads back the function
// table's size cells.
const sizeDriver = `<script>
(function () {
  const values = VALUES;
  const out = { need: [], capacity: [], needNum: [], capacityNum: [], rows: [] };
  for (const v of values) {
    out.need.push(formatSize(BigInt(v)));
    out.capacity.push(formatCapacity(BigInt(v)));
    const n = Number(v);
    out.needNum.push(Number.isSafeInteger(n) ? formatSize(n) : "");
    out.capacityNum.push(Number.isSafeInteger(n) ? formatCapacity(n) : "");
  }
  document.getElementById("more").click();
  document.querySelectorAll("#functions tbody tr").forEach(tr => out.rows.push([tr.cells[0].textContent, tr.cells[1].textContent, tr.cells[3].textContent]));
  out.headings = [...document.querySelectorAll(".entry h3")].map(h => h.textContent);
  const pre = document.createElement("pre"); pre.id = "driver"; pre.textContent = JSON.stringify(out);
  document.body.append(pre);
})();
</script>
</body>`

// sizeValues are the sizes the formatters are checked on: the edges of
// each unit and of rounding, the extremes of int64, and random sizes of
// every magnitude.
func sizeValues() []int64 {
	v := []int64{0, 1, 999, 1000, 1023, 1024, 3040, 10239, 10240, 10241, 10342, 65688, 79258, 1048524, 1048575,
		1048576, 1048577, 10<<20 - 1, 1<<30 - 1, 1 << 30, 1<<40 + 1, 1 << 53, 1<<53 + 1, 1 << 62, math.MaxInt64,
		-1, -10240, -65688, -(1 << 53), math.MinInt64 + 1, math.MinInt64}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		bits := r.IntN(63)
		v = append(v, r.Int64N(int64(1)<<bits+1))
	}
	return v
}

// TestHTMLSizesInChromium: the page's script writes sizes as the text
// output does: its formatters, run in Chromium, agree with size.Format
// (needs, rounded up) and size.FormatCapacity (capacities, rounded down)
// on every value of sizeValues, and the function table and the entries'
// headings show each frame and bound as size.Format writes it.
func TestHTMLSizesInChromium(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "big.c"), []byte(bigFrames), 0o644)
	bin := filepath.Join(dir, "big")
	testutil.Run(t, dir, gcc, "-O1", "-g", "-o", bin, "big.c")
	res, err := analysis.Run(bin, analysis.Options{NoLibraries: true})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(&b, Input{Analysis: res}); err != nil {
		t.Fatal(err)
	}
	values := sizeValues()
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = fmt.Sprintf("%q", fmt.Sprint(v))
	}
	driver := strings.Replace(sizeDriver, "VALUES", "["+strings.Join(quoted, ",")+"]", 1)
	page := filepath.Join(t.TempDir(), "sizes.html")
	os.WriteFile(page, []byte(strings.Replace(b.String(), "</body>", driver, 1)), 0o644)
	var got struct {
		Need, Capacity, NeedNum, CapacityNum []string
		Rows                                 [][3]string
		Headings                             []string
	}
	readDriver(t, page, &got)
	if len(got.Need) != len(values) {
		t.Fatalf("%d results for %d values", len(got.Need), len(values))
	}
	for i, v := range values {
		need, capacity := size.Format(v), size.FormatCapacity(v)
		if got.Need[i] != need || got.Capacity[i] != capacity {
			t.Errorf("%d: the page writes %q (need), %q (capacity); size writes %q, %q", v, got.Need[i], got.Capacity[i], need, capacity)
		}
		if got.NeedNum[i] != "" && (got.NeedNum[i] != need || got.CapacityNum[i] != capacity) {
			t.Errorf("%d as a Number: the page writes %q, %q; size writes %q, %q", v, got.NeedNum[i], got.CapacityNum[i], need, capacity)
		}
	}
	// The table and the headings: every frame and bound through it.
	byName := map[string]analysis.Function{}
	for _, f := range res.Functions {
		byName[f.Name] = f
	}
	units := map[string]bool{}
	for _, row := range got.Rows {
		f, ok := byName[row[0]]
		if !ok {
			t.Fatalf("row %q is no function", row[0])
		}
		want := size.Format(f.FrameAtLeast)
		if f.FrameKind != "static" {
			want = f.FrameKind + " ≥ " + want
		}
		if f.RedZone > 0 {
			want += " (+" + size.Format(f.RedZone) + " red zone)"
		}
		if row[1] != want {
			t.Errorf("%s: frame %q, want %q", f.Name, row[1], want)
		}
		units[strings.Fields(strings.TrimPrefix(row[1], f.FrameKind+" ≥ "))[1]] = true
		if res.Bounds.Analysed(f.Node) {
			below := size.Format(res.Bounds.Value(f.Node))
			if !res.Bounds.Bounded(f.Node) {
				below = "≥ " + below
			}
			if row[2] != below {
				t.Errorf("%s: worst below %q, want %q", f.Name, row[2], below)
			}
		}
	}
	if !units["B"] || !units["KiB"] || !units["MiB"] {
		t.Errorf("the fixture's frames are written in %v, want B, KiB and MiB", units)
	}
	for i, e := range res.Entries {
		if e.Bounded && !strings.Contains(got.Headings[i], size.Format(*e.Bound)+" worst case") {
			t.Errorf("entry %s: heading %q, want its bound %s", e.Name, got.Headings[i], size.Format(*e.Bound))
		}
	}
}
