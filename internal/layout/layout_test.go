package layout

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/ldscript"
	"github.com/stackscope/stackscope/internal/testutil"
)

// Fixtures are built at test time from testdata:
//
//	arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb -O2 -g -ffreestanding -nostdlib \
//	    -T testdata/<layout>.ld -o fw.elf startup.c support.c hardfault_<c|naked>.c <app|rtos>.c -lgcc
//
// top_gap.ld: stack at the top of RAM above a gap (unsafe); after_bss.ld:
// stack section right after .bss (unsafe); start.ld: stack first in RAM (safe).
func buildFirmware(t *testing.T, dir, ld, handler, app string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs("testdata")
	out := filepath.Join(dir, ld+"-"+handler+"-"+app+".elf")
	testutil.Run(t, dir, cc, "-mcpu=cortex-m3", "-mthumb", "-O2", "-g", "-ffreestanding", "-nostdlib",
		"-T", filepath.Join(td, ld+".ld"), "-o", out,
		filepath.Join(td, "startup.c"), filepath.Join(td, "support.c"),
		filepath.Join(td, "hardfault_"+handler+".c"), filepath.Join(td, app+".c"), "-lgcc")
	return out
}

// nmObject is a data object as arm-none-eabi-nm lists it: the reference the
// overflow path is checked against.
type nmObject struct {
	name       string
	addr, size uint64
}

func nmObjects(t *testing.T, elf string) []nmObject {
	t.Helper()
	nm := testutil.RequireTool(t, "arm-none-eabi-nm")
	out := testutil.Run(t, filepath.Dir(elf), nm, "-S", "--defined-only", elf)
	var objs []nmObject
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || !strings.ContainsAny(f[2], "bBdD") {
			continue
		}
		a, _ := strconv.ParseUint(f[0], 16, 64)
		s, _ := strconv.ParseUint(f[1], 16, 64)
		objs = append(objs, nmObject{f[3], a, s})
	}
	return objs
}

// below lists the objects in [lo, hi), highest address first.
func below(objs []nmObject, lo, hi uint64) []string {
	var in []nmObject
	for _, o := range objs {
		if o.addr >= lo && o.addr < hi {
			in = append(in, o)
		}
	}
	sort.Slice(in, func(i, j int) bool { return in[i].addr > in[j].addr })
	var names []string
	for _, o := range in {
		names = append(names, o.name)
	}
	return names
}

// memoryOf is the memory map of a fixture's linker script.
func memoryOf(t *testing.T, ld string) *MemoryMap {
	t.Helper()
	regions, err := ldscript.ParseFile(filepath.Join("testdata", ld+".ld"))
	if err != nil {
		t.Fatal(err)
	}
	return &MemoryMap{From: ld + ".ld (test)", Regions: regions}
}

// TestFirmwareLayouts: each fixture with and without its linker script's
// memory map. Without the map a verdict is UNSAFE or UNKNOWN, never SAFE.
func TestFirmwareLayouts(t *testing.T) {
	cases := []struct {
		ld, handler    string
		noMap, withMap string // the verdicts
		top, size      uint64
		limitFrom      string
		firstKind      string // kind of the first overflow hit
	}{
		{"top_gap", "c", Unsafe, Unsafe, 0x20004000, 0x600, "symbol __StackLimit", "unused"},
		{"top_gap", "naked", Unsafe, Unsafe, 0x20004000, 0x600, "symbol __StackLimit", "unused"},
		{"after_bss", "c", Unsafe, Unsafe, 0, 0x800, "symbol _sstack", "bss"},
		{"after_bss", "naked", Unsafe, Unsafe, 0, 0x800, "symbol _sstack", "bss"},
		{"start", "c", Unknown, Safe, 0x20000400, 0x400, "symbol __stack_start__", ""},
		{"start", "naked", Unknown, Safe, 0x20000400, 0x400, "symbol __stack_start__", ""},
	}
	dir := t.TempDir()
	for _, c := range cases {
		fw := ""
		for _, withMap := range []bool{false, true} {
			name := c.ld + "-" + c.handler + "-nomap"
			opts, verdict := Options{}, c.noMap
			if withMap {
				name = c.ld + "-" + c.handler + "-ld"
				opts, verdict = Options{Memory: memoryOf(t, c.ld)}, c.withMap
			}
			t.Run(name, func(t *testing.T) {
				if fw == "" {
					fw = buildFirmware(t, dir, c.ld, c.handler, "app")
				}
				r, err := Analyze(fw, opts)
				if err != nil {
					t.Fatal(err)
				}
				checkLayout(t, fw, r, verdict, c.top, c.size, c.limitFrom, c.firstKind)
				if withMap != (r.MemoryMap != nil) {
					t.Errorf("memory map %+v", r.MemoryMap)
				}
				checkHeadroom(t, fw, r)
				checkFaultHandlers(t, r, c.handler)
			})
		}
	}
}

func checkLayout(t *testing.T, fw string, r *Report, verdict string, top, size uint64, limitFrom, firstKind string) {
	t.Helper()
	st := r.Stack
	if st == nil {
		t.Fatal("no stack")
	}
	if r.Verdict != verdict {
		t.Errorf("verdict %q, want %q (%s)", r.Verdict, verdict, r.VerdictReason)
	}
	if top != 0 && st.Top != top {
		t.Errorf("top %#x, want %#x", st.Top, top)
	}
	if st.Size != size || st.Top-st.Limit != size || st.Grows != "down" {
		t.Errorf("stack %#x-%#x size %#x grows %s, want size %#x", st.Limit, st.Top, st.Size, st.Grows, size)
	}
	if st.LimitFrom != limitFrom || !st.LimitFound {
		t.Errorf("limit from %q, want %q", st.LimitFrom, limitFrom)
	}
	objs := nmObjects(t, fw)
	switch verdict {
	case Safe, Unknown:
		if len(r.OverflowInto) != 0 {
			t.Errorf("%s layout has an overflow path %+v", verdict, r.OverflowInto)
		}
		if len(below(objs, 0, st.Limit)) != 0 {
			t.Errorf("nm shows objects below the stack")
		}
		if verdict == Unknown && !strings.Contains(r.VerdictReason, "--ld FILE.ld") {
			t.Errorf("unknown without saying how to prove it: %s", r.VerdictReason)
		}
		if verdict == Safe && r.OverflowEnd != "start of RAM" {
			t.Errorf("safe: overflow end %q", r.OverflowEnd)
		}
	case Unsafe:
		if len(r.OverflowInto) == 0 || r.OverflowInto[0].Kind != firstKind {
			t.Fatalf("overflow path %+v, want first %s", r.OverflowInto, firstKind)
		}
		// Every object below the limit, in the order the overflow
		// reaches them, exactly as nm lists them.
		var got []string
		for _, h := range r.OverflowInto {
			got = append(got, h.Symbols...)
		}
		want := below(objs, 0, st.Limit)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("overflow symbols %v, want %v", got, want)
		}
		if got[0] != "rx_buffer" { // the last object of .bss
			t.Errorf("first symbol %s, want rx_buffer", got[0])
		}
		var kinds []string
		for _, h := range r.OverflowInto {
			kinds = append(kinds, h.Kind)
			if h.Kind == "unused" && h.Assumed != (r.MemoryMap == nil) {
				t.Errorf("unused RAM assumed=%v with memory map %v", h.Assumed, r.MemoryMap != nil)
			}
		}
		wantKinds := "bss,data"
		if firstKind == "unused" {
			wantKinds = "unused," + wantKinds
		}
		if strings.Join(kinds, ",") != wantKinds {
			t.Errorf("overflow kinds %v, want %s", kinds, wantKinds)
		}
	}
}

// checkHeadroom compares the headroom with the stack size minus the total
// that analysis.Run computes.
func checkHeadroom(t *testing.T, fw string, r *Report) {
	t.Helper()
	res, err := analysis.Run(fw, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := res.Interrupts
	h := r.Headroom
	if in == nil || h == nil {
		t.Fatalf("interrupts %v headroom %v", in, h)
	}
	size := int64(r.Stack.Size)
	if in.Bounded {
		if h.Bytes == nil || *h.Bytes != size-*in.Total {
			t.Errorf("headroom %v, want %d - %d", h.Bytes, size, *in.Total)
		}
		return
	}
	if h.Bytes != nil || h.Unknown == "" || h.TotalAtLeast != in.TotalAtLeast {
		t.Errorf("unbounded: headroom %+v, want unknown with at least %d", h, in.TotalAtLeast)
	}
}

func checkFaultHandlers(t *testing.T, r *Report, kind string) {
	t.Helper()
	byName := map[string]FaultHandler{}
	for _, h := range r.FaultHandlers {
		byName[h.Name] = h
	}
	hf, ok := byName["HardFault_Handler"]
	if !ok {
		t.Fatalf("no HardFault_Handler in %+v", r.FaultHandlers)
	}
	if r.FaultHandlers[0].Name != "HardFault_Handler" {
		t.Errorf("HardFault_Handler not listed first")
	}
	switch kind {
	case "c":
		if !hf.UsesStackBeforeSPCheck || hf.FirstStackUse == nil || !strings.Contains(hf.FirstStackUse.What, "push") {
			t.Errorf("C handler: %+v, want a push before any SP check", hf)
		}
	case "naked":
		if hf.UsesStackBeforeSPCheck || hf.SPCheck == nil || hf.SPCheck.What != "mov r0, sp" || hf.SPCheck.Addr != hf.Addr {
			t.Errorf("naked handler: %+v, want mov r0, sp first", hf)
		}
	}
	if hf.EndlessLoop {
		t.Errorf("HardFault_Handler is not an endless loop")
	}
	def, ok := byName["Default_Handler"]
	if !ok || !def.EndlessLoop || def.UsesStackBeforeSPCheck {
		t.Errorf("Default_Handler: %+v, want an endless loop without stack use", def)
	}
	if strings.Join(def.Vectors, ",") != "NMI,MemManage,BusFault,UsageFault,SVCall,PendSV" {
		t.Errorf("Default_Handler vectors %v", def.Vectors)
	}
	var loops []string
	for _, h := range r.EndlessLoops {
		loops = append(loops, h.Name)
	}
	if strings.Join(loops, ",") != "Default_Handler" {
		t.Errorf("endless loops %v, want Default_Handler only (SysTick_Handler returns)", loops)
	}
}

// TestRTOS: a FreeRTOS-style image whose task stacks are static arrays in
// .bss and whose main stack the linker script puts first in RAM.
func TestRTOS(t *testing.T) {
	fw := buildFirmware(t, t.TempDir(), "start", "naked", "rtos")
	r, err := Analyze(fw, Options{Memory: memoryOf(t, "start")})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Safe || r.Stack.Limit != 0x20000000 || r.Stack.Size != 0x400 {
		t.Fatalf("main stack: verdict %s, stack %+v", r.Verdict, r.Stack)
	}
	objs := nmObjects(t, fw)
	want := map[string]string{}
	for _, o := range objs {
		if !strings.Contains(strings.ToLower(o.name), "stack") {
			continue
		}
		// The object just below it, by nm.
		var b *nmObject
		for i := range objs {
			p := &objs[i]
			if p.addr+p.size <= o.addr && p.size > 0 && (b == nil || p.addr > b.addr) {
				b = p
			}
		}
		want[o.name] = ""
		if b != nil {
			want[o.name] = b.name
		}
	}
	if len(r.TaskStacks) != 3 || len(want) != 3 {
		t.Fatalf("task stacks %+v, nm %v", r.TaskStacks, want)
	}
	for _, ts := range r.TaskStacks {
		w, ok := want[ts.Name]
		if !ok || ts.Section != ".bss" {
			t.Errorf("unexpected task stack %+v", ts)
			continue
		}
		got := ""
		if ts.Below != nil {
			got = ts.Below.Name
		}
		if got != w {
			t.Errorf("%s overflows into %q, want %q", ts.Name, got, w)
		}
	}
	sizes := map[string]uint64{"uxIdleTaskStack": 512, "xSensorTaskStack": 1024, "xCommsTaskStack": 768}
	for _, ts := range r.TaskStacks {
		if sizes[ts.Name] != ts.Size {
			t.Errorf("%s size %d", ts.Name, ts.Size)
		}
	}
}

// TestPartial: an ARM image with no vector table and no stack symbols
// gives a partial report, and garbage gives an input error; never a panic.
func TestPartial(t *testing.T) {
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "bare.c")
	os.WriteFile(src, []byte("int counter;\nint f(int x) { counter += x; return counter; }\nvoid _start(void) { for (;;) f(1); }\n"), 0o644)
	out := filepath.Join(dir, "bare.elf")
	testutil.Run(t, dir, cc, "-mcpu=cortex-m3", "-mthumb", "-O2", "-nostdlib", "-o", out, src)
	r, err := Analyze(out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Stack != nil || r.Verdict != "" || len(r.Missing) == 0 || r.Failing() {
		t.Errorf("partial report: stack %+v verdict %q missing %v", r.Stack, r.Verdict, r.Missing)
	}
	bad := filepath.Join(dir, "bad.elf")
	os.WriteFile(bad, []byte("\x7fELF\x01\x01\x01garbage"), 0o644)
	if _, err := Analyze(bad, Options{}); err == nil || !strings.HasPrefix(err.Error(), bad+": ") {
		t.Errorf("garbage: %v", err)
	}
}

// TestHosted: an x86-64 program gets its segments and no verdict.
func TestHosted(t *testing.T) {
	cc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644)
	out := filepath.Join(dir, "p")
	testutil.Run(t, dir, cc, "-O1", "-o", out, src)
	r, err := Analyze(out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != "" || r.Kernel == "" || len(r.Segments) == 0 || r.Failing() {
		t.Errorf("hosted: verdict %q kernel %q segments %d", r.Verdict, r.Kernel, len(r.Segments))
	}
}

func TestReadsSP(t *testing.T) {
	cases := []struct {
		code []byte
		want string
	}{
		{[]byte{0x68, 0x46}, "mov r0, sp"},              // mov r0, sp
		{[]byte{0xe9, 0x46}, "mov r9, sp"},              // mov r9, sp
		{[]byte{0x00, 0xa8}, "add r0, sp, #0"},          // add r0, sp, #0
		{[]byte{0xef, 0xf3, 0x08, 0x80}, "mrs r0, msp"}, // mrs r0, msp
		{[]byte{0xef, 0xf3, 0x09, 0x81}, "mrs r1, psp"}, // mrs r1, psp
		{[]byte{0x4f, 0xea, 0x0d, 0x02}, "mov.w r2, sp"},
		{[]byte{0x8d, 0x45}, "cmp with sp"}, // cmp sp, r1
		{[]byte{0x80, 0xb5}, ""},            // push {r7, lr}
		{[]byte{0x85, 0x46}, ""},            // mov sp, r0
		{[]byte{0x08, 0x46}, ""},            // mov r0, r1
	}
	for _, c := range cases {
		if got := readsSP(c.code); got != c.want {
			t.Errorf("% x: %q, want %q", c.code, got, c.want)
		}
	}
}
