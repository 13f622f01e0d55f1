package analysis

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// caseFixtures are the switches of testdata/switch/switch.c and the helper
// GCC picks for each at -Os on ARMv6-M and ARMv8-M Baseline.
var caseFixtures = map[string]string{
	"sw_uqi":    "__gnu_thumb1_case_uqi",
	"sw_offset": "__gnu_thumb1_case_uqi",
	"sw_sqi":    "__gnu_thumb1_case_sqi",
	"sw_uhi":    "__gnu_thumb1_case_uhi",
	"sw_shi":    "__gnu_thumb1_case_shi",
	"sw_si":     "__gnu_thumb1_case_si",
	"sw_many":   "__gnu_thumb1_case_uhi",
}

// buildSwitch compiles testdata/switch (with extra sources) into dir.
func buildSwitch(t *testing.T, dir string, flags []string, extra ...string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs(filepath.Join("testdata", "switch"))
	out := filepath.Join(dir, "sw.elf")
	args := append([]string{"-mthumb", "-g", "-fstack-usage", "-nostdlib", "-T", filepath.Join(td, "link.ld"), "-o", out,
		filepath.Join(td, "switch.c")}, flags...)
	for _, e := range extra {
		args = append(args, filepath.Join(td, e))
	}
	testutil.Run(t, dir, cc, append(args, "-lgcc")...)
	return out
}

var (
	disFunc = regexp.MustCompile(`^[0-9a-f]+ <([^>]+)>:$`)
	disCall = regexp.MustCompile(`^\s*([0-9a-f]+):\s.*\tbl\t[0-9a-f]+ <([^>+]+)>$`)
)

// disassembly splits objdump -d output by function.
func disassembly(t *testing.T, dir, elf string) map[string][]string {
	t.Helper()
	out := testutil.Run(t, dir, testutil.RequireTool(t, "arm-none-eabi-objdump"), "-d", elf)
	fns := map[string][]string{}
	cur := ""
	for _, l := range strings.Split(out, "\n") {
		if m := disFunc.FindStringSubmatch(l); m != nil {
			cur = m[1]
			continue
		}
		if cur != "" && strings.TrimSpace(l) != "" {
			fns[cur] = append(fns[cur], l)
		}
	}
	return fns
}

// blCalls are the functions a function's disassembly calls with bl, and
// where. (objdump knows the tables are data, from the $d mapping symbols,
// so these are real calls.)
func blCalls(lines []string) map[string][]uint64 {
	calls := map[string][]uint64{}
	for _, l := range lines {
		if m := disCall.FindStringSubmatch(l); m != nil {
			a, _ := strconv.ParseUint(m[1], 16, 64)
			calls[m[2]] = append(calls[m[2]], a)
		}
	}
	return calls
}

// TestThumbCaseHelpers: a switch compiled into a call to one of libgcc's
// __gnu_thumb1_case_* helpers with its table inline after the call (every
// helper kind, on Cortex-M0 and M23) is bounded by the function's .su
// frame plus its deepest case, and every case's callee is among its calls.
// At -O2 and -O0 GCC uses other forms (a table of addresses and mov pc, or
// compares); the same holds.
func TestThumbCaseHelpers(t *testing.T) {
	names := make([]string, 0, len(caseFixtures))
	for n := range caseFixtures {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, cpu := range []string{"cortex-m0", "cortex-m23"} {
		for _, opt := range []string{"-O0", "-O2", "-Os"} {
			cpu, opt := cpu, opt
			t.Run(strings.TrimPrefix(cpu, "cortex-")+opt, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				fw := buildSwitch(t, dir, []string{"-mcpu=" + cpu, opt})
				dis := disassembly(t, dir, fw)
				su := suFrames(testutil.ParseSU(t, dir))
				res, err := Run(fw, Options{Entries: names})
				if err != nil {
					t.Fatal(err)
				}
				requirePathSums(t, res)
				requireAllEqual(t, compareWithSU(res, testutil.ParseSU(t, dir)))
				entries := map[string]Entry{}
				for _, e := range res.Entries {
					entries[e.Name] = e
				}
				functions := map[string]Function{}
				for _, f := range res.Functions {
					functions[f.Name] = f
				}
				for _, name := range names {
					calls := blCalls(dis[name])
					helper := ""
					deepest, deepestName := int64(-1), ""
					for callee := range calls {
						if strings.HasPrefix(callee, "__gnu_thumb1_case_") {
							helper = callee
							continue
						}
						if su[callee] > deepest {
							deepest, deepestName = su[callee], callee
						}
					}
					if opt == "-Os" && helper != caseFixtures[name] {
						t.Errorf("%s: objdump shows %q, want %s: the fixture does not test what it claims", name, helper, caseFixtures[name])
					}
					if helper != "" {
						t.Logf("%s: %s", name, helper)
					}
					// The deepest case must be deeper than the helper's own
					// push (at most 8 bytes), or the bound would not show it.
					if deepest <= 8 {
						t.Fatalf("%s: no case calls a function with a frame over 8 bytes (calls %v)", name, calls)
					}
					e := entries[name]
					want := su[name] + deepest
					if !e.Bounded || *e.Bound != want {
						t.Errorf("%s: bound %s, want .su %d + %s %d = %d; reasons %v", name, show(e.Bound), su[name], deepestName, deepest, want, e.Reasons)
					}
					got := map[string]bool{}
					for _, c := range functions[name].Calls {
						got[c] = true
					}
					for callee := range calls {
						if !got[callee] {
							t.Errorf("%s: calls %s (objdump) but the analysis lists only %v", name, callee, functions[name].Calls)
						}
					}
					if len(got) != len(calls) {
						t.Errorf("%s: the analysis lists calls %v, objdump %v", name, functions[name].Calls, calls)
					}
				}
				if opt == "-Os" {
					// sw_many's bound is in a register (more than 256
					// cases) and its default is reached by bls over a b.
					if !regexp.MustCompile(`\tcmp\tr\d+, r\d+`).MatchString(strings.Join(dis["sw_many"], "\n")) {
						t.Errorf("sw_many: no register compare: the fixture does not test what it claims")
					}
				}
			})
		}
	}
}

// TestThumbCaseHelpersUnknown: a dispatch through __gnu_thumb1_case_uqi
// whose table size no bounds check proves (hand-written assembly) makes the
// function's frame unknown, with the reason at the call; so does a helper
// without its symbol, or under another name, whatever the file's
// mapping symbols say.
func TestThumbCaseHelpersUnknown(t *testing.T) {
	dir := t.TempDir()
	fw := buildSwitch(t, dir, []string{"-mcpu=cortex-m0", "-Os"}, "bad.S")
	dis := disassembly(t, dir, fw)
	su := suFrames(testutil.ParseSU(t, dir))
	bad := []string{"no_check", "signed_check", "wrong_register", "joined"}
	res, err := Run(fw, Options{Entries: append([]string{"checked"}, bad...)})
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]Entry{}
	for _, e := range res.Entries {
		entries[e.Name] = e
	}
	functions := map[string]Function{}
	for _, f := range res.Functions {
		functions[f.Name] = f
	}
	// The control: the same table after a proper check is bounded, by the
	// function's frame and c2's.
	if e := entries["checked"]; !e.Bounded || functions["checked"].Frame == nil || *e.Bound != *functions["checked"].Frame+su["c2"] {
		t.Errorf("checked: bound %s, want its frame + c2's %d; reasons %v", show(e.Bound), su["c2"], e.Reasons)
	}
	for _, name := range bad {
		at := blCalls(dis[name])["__gnu_thumb1_case_uqi"]
		if len(at) != 1 {
			t.Fatalf("%s: calls to the helper at %v", name, at)
		}
		want := fmt.Sprintf("jump table through __gnu_thumb1_case_uqi at %#x: its size is not known", at[0])
		e := entries[name]
		if e.Bounded {
			t.Errorf("%s: bounded %d; its table's size is not known", name, *e.Bound)
		}
		found := false
		for _, r := range e.Reasons {
			if r.Kind == "unknown" && r.Function == name && r.Addr == at[0] && strings.Contains(r.Detail, want) {
				found = true
				t.Logf("%s: %s", name, r.Detail)
			}
		}
		if !found {
			t.Errorf("%s: reasons %v, want %q", name, e.Reasons, want)
		}
	}

	// Without the helper's name (symbol removed, or renamed), its caller
	// cannot expect a table: it is unknown because the helper returns
	// through a link register it changed.
	objcopy := testutil.RequireTool(t, "arm-none-eabi-objcopy")
	for _, variant := range []struct {
		name string
		args []string
		want string
	}{
		{"stripped", []string{"--strip-symbol=__gnu_thumb1_case_uqi"}, "(no function starts there) returns at"},
		{"stripped, no mapping symbols", []string{"--strip-symbol=__gnu_thumb1_case_uqi", "--discard-all"}, "(no function starts there) returns at"},
		{"renamed", []string{"--redefine-sym=__gnu_thumb1_case_uqi=my_helper"}, "my_helper returns at"},
	} {
		out := filepath.Join(dir, strings.ReplaceAll(variant.name, " ", "_")+".elf")
		testutil.Run(t, dir, objcopy, append(variant.args, fw, out)...)
		res, err := Run(out, Options{Entries: []string{"sw_uqi", "checked"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Entries {
			found := false
			for _, r := range e.Reasons {
				if r.Kind == "unknown" && r.Function == e.Name && strings.Contains(r.Detail, variant.want) && strings.Contains(r.Detail, "link register it changed") {
					found = true
				}
			}
			if e.Bounded || !found {
				t.Errorf("%s: %s: bounded %v (%s), reasons %v; want unknown, %q", variant.name, e.Name, e.Bounded, show(e.Bound), e.Reasons, variant.want)
			}
		}
	}
}
