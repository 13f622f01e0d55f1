package x86

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/testutil"
)

const stackClashC = `
void use(char *);
int page(int n) { char buf[5000]; use(buf); return buf[n]; }
int k100(int n) { char buf[100 * 1024]; use(buf); return buf[n]; }
int odd(int n) { char buf[100 * 1024 + 123]; use(buf); return buf[n]; }
int m3(int n) { char buf[3 * 1024 * 1024]; use(buf); return buf[n]; }
int two(int n) { char a[70000], b[9000]; use(a); use(b); return a[n] + b[n]; }
`

// simulate walks a straight-line function the way the frame analysis does,
// using only the decoded effects, and returns the deepest stack depth (bytes
// below the SP at entry, return address excluded). The stack-clash probe loop
// (lea r11,[rsp-N]; loop: sub rsp,4096; or [rsp],0; cmp rsp,r11; jne loop)
// is taken to exit with SP at the saved limit, as the analysis does.
func simulate(t *testing.T, name string, code []byte, addr uint64) int64 {
	t.Helper()
	var d Decoder
	var depth, maxDepth, fpDepth, limit int64
	fpOK, limitOK, sawLimit := false, false, false
	for off := 0; off < len(code); {
		pc := addr + uint64(off)
		e, err := d.Decode(code[off:], pc)
		if err != nil {
			t.Fatalf("%s+%#x: %v", name, off, err)
		}
		switch e.SP {
		case isa.SPAdd:
			depth -= e.SPDelta
		case isa.SPFromFP:
			if !fpOK {
				t.Fatalf("%s+%#x: SP from FP without a frame pointer", name, off)
			}
			depth = fpDepth - e.SPDelta
		case isa.SPNone:
		default:
			t.Fatalf("%s+%#x: unexpected SP effect %v", name, off, e.SP)
		}
		if depth > maxDepth {
			maxDepth = depth
		}
		if e.SetsFP {
			fpOK, fpDepth = true, depth-e.FPOffset
		} else if e.ClobbersFP {
			fpOK = false
		}
		if e.SavesSPLimit {
			limitOK, limit, sawLimit = true, depth-e.SPLimitOffset, true
		}
		switch e.Flow {
		case isa.FlowCondJump:
			if e.Target < pc {
				// The probe loop's back edge: SP ends at the limit.
				if !limitOK || depth > limit {
					t.Fatalf("%s+%#x: backward branch without a probe limit (depth %d, limit %d)", name, off, depth, limit)
				}
				depth, limitOK = limit, false
				if depth > maxDepth {
					maxDepth = depth
				}
			}
		case isa.FlowReturn:
			if depth != 0 {
				t.Errorf("%s+%#x: returns with depth %d", name, off, depth)
			}
			if strings.Contains(name, "k100") || strings.Contains(name, "m3") {
				if !sawLimit {
					t.Errorf("%s: no SavesSPLimit (probe loop) seen", name)
				}
			}
			return maxDepth
		case isa.FlowJump, isa.FlowStop, isa.FlowIndirectJump:
			t.Fatalf("%s+%#x: not a straight-line function (%v)", name, off, e.Flow)
		}
		off += e.Len
	}
	t.Fatalf("%s: no return", name)
	return 0
}

// TestStackClashProbeLoops compiles functions with large frames under
// -fstack-clash-protection and checks that walking the decoded effects,
// with the probe loop bounded by SavesSPLimit, gives exactly the frame size
// GCC reports with -fstack-usage.
func TestStackClashProbeLoops(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sc.c"), []byte(stackClashC), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flags := range [][]string{
		{"-O0"}, {"-O0", "-fomit-frame-pointer"},
		{"-O2"}, {"-O2", "-fno-omit-frame-pointer"},
		{"-Os"}, {"-Os", "-fno-omit-frame-pointer"},
		{"-O2", "-fstack-protector-strong"},
	} {
		label := strings.Join(flags, " ")
		args := append(append([]string{}, flags...), "-fstack-clash-protection", "-fstack-usage", "-c", "sc.c", "-o", "sc.o")
		testutil.Run(t, dir, gcc, args...)
		su := map[string]int64{}
		data, err := os.ReadFile(filepath.Join(dir, "sc.su"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			f := strings.Fields(line) // sc.c:3:5:k100	102416	static
			if len(f) != 3 || f[2] != "static" {
				t.Fatalf("%s: unexpected .su line %q", label, line)
			}
			n, _ := strconv.ParseInt(f[1], 10, 64)
			su[f[0][strings.LastIndex(f[0], ":")+1:]] = n
		}
		f, err := elf.Open(filepath.Join(dir, "sc.o"))
		if err != nil {
			t.Fatal(err)
		}
		text, err := f.Section(".text").Data()
		if err != nil {
			t.Fatal(err)
		}
		syms, _ := f.Symbols()
		checked := 0
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) != elf.STT_FUNC {
				continue
			}
			want, ok := su[s.Name]
			if !ok {
				t.Fatalf("%s: %s missing from .su", label, s.Name)
			}
			got := simulate(t, label+" "+s.Name, text[s.Value:s.Value+s.Size], s.Value)
			if got+8 != want { // .su counts the return address
				t.Errorf("%s %s: decoded frame %d + 8, gcc -fstack-usage %d", label, s.Name, got, want)
			}
			checked++
		}
		f.Close()
		if checked != len(su) {
			t.Errorf("%s: checked %d of %d functions", label, checked, len(su))
		}
	}
}
