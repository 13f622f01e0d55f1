package srcloc

import (
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// build compiles testdata/lines.c with cc and flags into dir and opens it.
func build(t *testing.T, cc string, flags ...string) (string, *elf.File) {
	t.Helper()
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/lines.c")
	out := filepath.Join(dir, "lines")
	args := append([]string{"-g", "-fstack-usage", "-o", out, src}, flags...)
	testutil.Run(t, dir, cc, args...)
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return out, f
}

// functionSymbols maps each function symbol's name to its address (the
// Thumb bit cleared).
func functionSymbols(t *testing.T, f *elf.File) map[string]uint64 {
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Value != 0 {
			v := s.Value
			if f.Machine == elf.EM_ARM {
				v &^= 1
			}
			out[s.Name] = v
		}
	}
	return out
}

type target struct {
	name    string
	cc      string
	addr2ln string
	flags   []string
}

func targets() []target {
	var ts []target
	for _, o := range []string{"-O0", "-O2", "-Os"} {
		ts = append(ts, target{"x86" + o, "gcc", "addr2line", []string{o}})
		ts = append(ts, target{"thumb" + o, "arm-none-eabi-gcc", "arm-none-eabi-addr2line",
			[]string{o, "-mcpu=cortex-m4", "-mthumb", "-specs=nosys.specs"}})
	}
	return ts
}

// TestFunctionsAtTheirDeclaration: every function the compiler lists in its
// -fstack-usage file is placed at the file and line that file gives.
func TestFunctionsAtTheirDeclaration(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			testutil.RequireTool(t, tg.cc)
			out, f := build(t, tg.cc, tg.flags...)
			tab, err := Load(f, out)
			if err != nil || tab == nil {
				t.Fatalf("Load: %v, %v", tab, err)
			}
			syms := functionSymbols(t, f)
			checked := 0
			for _, su := range testutil.ParseSU(t, filepath.Dir(out)) {
				addr, ok := syms[su.Function]
				if !ok || filepath.Base(su.File) != "lines.c" {
					continue
				}
				want := suLine(t, filepath.Dir(out), su.Function)
				got, ok := tab.Func(addr)
				if !ok || filepath.Base(got.File) != "lines.c" || got.Line != want {
					t.Errorf("%s at %#x: got %v, want lines.c:%d", su.Function, addr, got, want)
				}
				checked++
			}
			if checked < 3 {
				t.Fatalf("only %d functions checked", checked)
			}
		})
	}
}

// suLine reads the declaration line of fn from the .su files in dir.
func suLine(t *testing.T, dir, fn string) int {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.su"))
	for _, m := range matches {
		data, _ := os.ReadFile(m)
		for _, l := range strings.Split(string(data), "\n") {
			f := strings.SplitN(strings.SplitN(l, "\t", 2)[0], ":", 4)
			if len(f) == 4 && testutil.SUName(f[3]) == fn {
				n, _ := strconv.Atoi(f[1])
				return n
			}
		}
	}
	t.Fatalf("%s not in the .su files", fn)
	return 0
}

// TestAddressesAgreeWithAddr2line: every byte (halfword on ARM) through
// .text gets the line binutils' addr2line gives.
func TestAddressesAgreeWithAddr2line(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			testutil.RequireTool(t, tg.cc)
			a2l := testutil.RequireTool(t, tg.addr2ln)
			out, f := build(t, tg.cc, tg.flags...)
			tab, err := Load(f, out)
			if err != nil || tab == nil {
				t.Fatalf("Load: %v, %v", tab, err)
			}
			var addrs []string
			var pcs []uint64
			for name, a := range functionSymbols(t, f) {
				sym := symbolSize(f, name)
				step := uint64(1)
				if f.Machine == elf.EM_ARM {
					step = 2
				}
				for off := uint64(0); off < sym; off += step {
					pcs = append(pcs, a+off)
					addrs = append(addrs, strconv.FormatUint(a+off, 16))
				}
			}
			outb, err := exec.Command(a2l, append([]string{"-e", out}, addrs...)...).Output()
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(outb)), "\n")
			if len(lines) != len(pcs) {
				t.Fatalf("addr2line gave %d lines for %d addresses", len(lines), len(pcs))
			}
			agree, known := 0, 0
			for i, l := range lines {
				l = strings.SplitN(l, " ", 2)[0] // drop " (discriminator N)"
				if strings.HasPrefix(l, "??") || strings.HasSuffix(l, ":?") {
					continue
				}
				known++
				// addr2line keeps "dir/../x" as written; compare clean paths.
				if k := strings.LastIndexByte(l, ':'); k > 0 {
					l = filepath.Clean(l[:k]) + l[k:]
				}
				got, ok := tab.At(pcs[i])
				if ok && got.String() == l {
					agree++
				} else if known-agree <= 5 {
					t.Errorf("%#x: got %q, addr2line %q", pcs[i], got, l)
				}
			}
			if known < 30 || agree != known {
				t.Errorf("%d of %d addresses agree with addr2line", agree, known)
			}
		})
	}
}

func symbolSize(f *elf.File, name string) uint64 {
	syms, _ := f.Symbols()
	for _, s := range syms {
		if s.Name == name {
			return s.Size
		}
	}
	return 0
}

// TestNoDebugInformation: a stripped file has no table and answers nothing.
func TestNoDebugInformation(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	out, _ := build(t, "gcc", "-O2", "-s")
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := DebugRoots
	DebugRoots = nil
	defer func() { DebugRoots = old }()
	tab, err := Load(f, out)
	if tab != nil || err != nil {
		t.Fatalf("stripped file: table %v, error %v", tab, err)
	}
	if _, ok := tab.Func(0x1000); ok {
		t.Fatal("a nil table answered")
	}
}

// TestSeparateDebugFile: the line table of a stripped file is found in its
// build-ID debug file, as gdb finds it.
func TestSeparateDebugFile(t *testing.T) {
	testutil.RequireTool(t, "gcc")
	objcopy := testutil.RequireTool(t, "objcopy")
	out, f := build(t, "gcc", "-O2", "-Wl,--build-id")
	id := buildID(f)
	if len(id) == 0 {
		t.Fatal("no build ID")
	}
	root := t.TempDir()
	h := strings.ToLower(strings.TrimSpace(hex.EncodeToString(id)))
	dbg := filepath.Join(root, ".build-id", h[:2], h[2:]+".debug")
	os.MkdirAll(filepath.Dir(dbg), 0o755)
	testutil.Run(t, ".", objcopy, "--only-keep-debug", out, dbg)
	testutil.Run(t, ".", objcopy, "--strip-debug", out)
	old := DebugRoots
	DebugRoots = []string{root}
	defer func() { DebugRoots = old }()
	sf, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	tab, err := Load(sf, out)
	if err != nil || tab == nil || tab.Source != dbg {
		t.Fatalf("Load: table %v, error %v", tab, err)
	}
	addr := functionSymbols(t, sf)["work"]
	if l, ok := tab.Func(addr); !ok || l.Line != 23 {
		t.Fatalf("work at %v, want lines.c:23", l)
	}
}

// BenchmarkLoad reads the line table and declarations of stackscope itself
// (a Go program of about 8 MB with compressed DWARF), built first:
// go test -run XXX -bench Load ./internal/srcloc
func BenchmarkLoad(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "stackscope")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/stackscope").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tab, err := Load(f, bin)
		if err != nil || tab == nil {
			b.Fatal(tab, err)
		}
		if i == 0 {
			b.ReportMetric(float64(tab.Rows()), "rows")
			b.ReportMetric(float64(len(tab.funcs)), "functions")
		}
	}
}

// TestCompDir: each file name's compilation directory is the directory
// the compiler ran in (DW_AT_comp_dir), also after -fdebug-prefix-map
// moved it to a path that is not on this machine.
func TestCompDir(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	for _, moved := range []bool{false, true} {
		dir := t.TempDir()
		src, _ := os.ReadFile("testdata/lines.c")
		os.WriteFile(filepath.Join(dir, "lines.c"), src, 0o644)
		args := []string{"-g", "-o", "lines", "lines.c"}
		want := dir
		if moved {
			want = "/nonexistent/checkout"
			args = append(args, "-fdebug-prefix-map="+dir+"="+want)
		}
		testutil.Run(t, dir, gcc, args...)
		f, err := elf.Open(filepath.Join(dir, "lines"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		tab, err := Load(f, "lines")
		if err != nil || tab == nil {
			t.Fatalf("table %v, error %v", tab, err)
		}
		name := filepath.Join(want, "lines.c") // debug/dwarf joins the unit's directory
		if got := tab.CompDir(name); got != want {
			t.Errorf("moved %v: CompDir(%q) = %q, want %q", moved, name, got, want)
		}
		if got := tab.CompDir("/no/such/file.c"); got != "" {
			t.Errorf("CompDir of a file the table does not name: %q", got)
		}
	}
	var none *Table
	if none.CompDir("x.c") != "" {
		t.Error("a nil table answered")
	}
}
