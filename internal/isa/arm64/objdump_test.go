package arm64

import (
	"debug/elf"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/testutil"
)

// objdumpLine is one instruction line of objdump -d: address, word,
// mnemonic, operands.
var objdumpLine = regexp.MustCompile(`^\s*([0-9a-f]+):\t([0-9a-f]{8}) \t(\S+)\t?([^/<]*)(?:<[^>]*>)?`)

var (
	gprOperand = regexp.MustCompile(`^[xw]([0-9]|[12][0-9]|30)$`)
	spImm      = regexp.MustCompile(`^(add|sub)\tsp, sp, #0x([0-9a-f]+)(, lsl #12)?$`)
	preIndex   = regexp.MustCompile(`\[sp, #(-?[0-9]+)\]!$`)
	postIndex  = regexp.MustCompile(`\[sp\], #(-?[0-9]+)$`)
	writeback  = regexp.MustCompile(`\[(x[0-9]+)(?:, #-?[0-9]+\]!|\], #)`)
)

// TestAgainstObjdump decodes every instruction of the AArch64 fixture
// (testdata/arm64/frames.c of the analysis package, at -O0, -O2 and -Os,
// dynamic, and statically linked with glibc: LSE atomics, SVE, MTE) and
// compares with aarch64-linux-gnu-objdump: every instruction objdump
// decodes decodes; every direct branch's target and kind; every SP move
// objdump spells out (sub/add sp, sp, #n{, lsl #12}; pre- and post-index
// on sp); no SP effect where objdump's text does not write SP; and every
// general-purpose register objdump shows an instruction writing is named
// by the Def fields (CompleteDefs).
func TestAgainstObjdump(t *testing.T) {
	cc := testutil.RequireTool(t, "aarch64-linux-gnu-gcc")
	objdump := testutil.RequireTool(t, "aarch64-linux-gnu-objdump")
	src, _ := filepath.Abs("../../analysis/testdata/arm64/frames.c")
	for _, flags := range [][]string{{"-O0"}, {"-O2"}, {"-Os"}, {"-O2", "-fstack-clash-protection"}, {"-O2", "-static"}} {
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bin := filepath.Join(dir, "prog")
			testutil.Run(t, dir, cc, append([]string{"-o", bin, src}, flags...)...)
			checkBinary(t, bin, testutil.Run(t, dir, objdump, "-d", bin))
		})
	}
}

func checkBinary(t *testing.T, bin, dis string) {
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	code := func(addr uint64) []byte {
		for _, s := range f.Sections {
			if s.Flags&elf.SHF_EXECINSTR != 0 && addr >= s.Addr && addr+4 <= s.Addr+s.Size {
				b := make([]byte, 4)
				if _, err := s.ReadAt(b, int64(addr-s.Addr)); err == nil {
					return b
				}
			}
		}
		return nil
	}
	n, errs := 0, 0
	for _, line := range strings.Split(dis, "\n") {
		m := objdumpLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		addr, _ := strconv.ParseUint(m[1], 16, 64)
		mn, ops := m[3], strings.TrimSpace(m[4])
		b := code(addr)
		if b == nil {
			t.Fatalf("%#x: no code", addr)
		}
		n++
		e, err := Decoder{}.Decode(b, addr)
		if mn == ".inst" {
			continue // objdump does not know it either
		}
		if err != nil {
			t.Errorf("%#x %s %s: %v", addr, mn, ops, err)
			if errs++; errs > 30 {
				t.Fatal("too many")
			}
			continue
		}
		if why := compare(e, addr, mn, ops); why != "" {
			t.Errorf("%#x %s\t%s: %s (effect %+v)", addr, mn, ops, why, e)
			if errs++; errs > 30 {
				t.Fatal("too many")
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d instructions in objdump's output", n)
	}
	t.Logf("%d instructions agree with objdump", n)
}

// compare says how the decoder's effect e disagrees with objdump's text.
func compare(e isa.Effect, addr uint64, mn, ops string) string {
	if e.Len != 4 {
		return "length not 4"
	}
	args := splitOperands(ops)
	// Branches.
	flow := map[string]isa.Flow{"b": isa.FlowJump, "bl": isa.FlowCall, "cbz": isa.FlowCondJump, "cbnz": isa.FlowCondJump,
		"tbz": isa.FlowCondJump, "tbnz": isa.FlowCondJump, "br": isa.FlowIndirectJump, "blr": isa.FlowIndirectCall, "ret": isa.FlowReturn}
	want, branch := flow[mn]
	if strings.HasPrefix(mn, "b.") {
		want, branch = isa.FlowCondJump, true
		if mn == "b.al" || mn == "b.nv" {
			want = isa.FlowJump
		}
	}
	if mn == "ret" && len(args) == 1 && args[0] != "x30" {
		want = isa.FlowIndirectJump
	}
	switch {
	case branch && e.Flow != want:
		return "flow " + e.Flow.String() + ", objdump: " + want.String()
	case !branch && e.Flow != isa.FlowNext && mn != "udf" && mn != "brk" && mn != "hlt":
		return "flow " + e.Flow.String() + " for a non-branch"
	}
	if branch && want != isa.FlowIndirectJump && want != isa.FlowIndirectCall && want != isa.FlowReturn {
		target, err := strconv.ParseUint(strings.TrimSpace(args[len(args)-1]), 16, 64)
		if err != nil || !e.HasTarget || e.Target != target {
			return "branch target differs from objdump's " + args[len(args)-1]
		}
	}
	// SP moves.
	whole := mn + "\t" + ops
	var delta int64
	spKnown := true
	switch {
	case spImm.MatchString(whole):
		s := spImm.FindStringSubmatch(whole)
		delta, _ = strconv.ParseInt(s[2], 16, 64)
		if s[3] != "" {
			delta <<= 12
		}
		if s[1] == "sub" {
			delta = -delta
		}
	case preIndex.MatchString(ops):
		delta, _ = strconv.ParseInt(preIndex.FindStringSubmatch(ops)[1], 10, 64)
	case postIndex.MatchString(ops):
		delta, _ = strconv.ParseInt(postIndex.FindStringSubmatch(ops)[1], 10, 64)
	default:
		spKnown = false
	}
	writesSP := len(args) > 0 && args[0] == "sp" && !isStore(mn) && mn != "cmp" && mn != "cmn"
	switch {
	case spKnown && (e.SP != isa.SPAdd || e.SPDelta != delta):
		return "SP effect differs: objdump moves SP by " + strconv.FormatInt(delta, 10)
	case !spKnown && !writesSP && e.SP != isa.SPNone:
		return "an SP effect where objdump shows no write of SP"
	case !spKnown && writesSP && e.SP == isa.SPNone:
		return "objdump writes SP, the decoder does not"
	}
	if whole == "mov\tsp, x29" && (e.SP != isa.SPFromFP || e.SPDelta != 0) {
		return "mov sp, x29 is not SPFromFP 0"
	}
	if (whole == "mov\tx29, sp") && (!e.SetsFP || e.FPOffset != 0) {
		return "mov x29, sp does not set FP"
	}
	// Registers written.
	for _, r := range written(mn, args) {
		if !names(e, r) {
			return "writes " + r + ", which the defs do not name"
		}
	}
	if m := writeback.FindStringSubmatch(ops); m != nil && !names(e, m[1]) {
		return "writes back " + m[1] + ", which the defs do not name"
	}
	return ""
}

// splitOperands splits objdump's operands at the commas outside brackets.
func splitOperands(ops string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range ops {
		switch c {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(ops[start:i]))
				start = i + 1
			}
		}
	}
	if s := strings.TrimSpace(ops[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

func isStore(mn string) bool {
	return strings.HasPrefix(mn, "st") || strings.HasPrefix(mn, "prf")
}

// written lists the general-purpose registers objdump's text shows an
// instruction writing.
func written(mn string, args []string) []string {
	var out []string
	add := func(i int) {
		if i < len(args) && gprOperand.MatchString(args[i]) {
			out = append(out, args[i])
		}
	}
	switch {
	case mn == "bl" || mn == "blr":
		return []string{"x30"}
	case strings.HasPrefix(mn, "stxr") || strings.HasPrefix(mn, "stlxr") || strings.HasPrefix(mn, "stxp") || strings.HasPrefix(mn, "stlxp"):
		add(0) // the status
	case strings.HasPrefix(mn, "cas"):
		add(0)
		if strings.HasPrefix(mn, "casp") {
			add(1) // (objdump writes the pair as x0, x1)
		}
	case strings.HasPrefix(mn, "swp") || isAtomicLoad(mn):
		add(1)
	case isStore(mn), strings.HasPrefix(mn, "b"), strings.HasPrefix(mn, "cb"), strings.HasPrefix(mn, "tb"),
		mn == "cmp", mn == "cmn", mn == "tst", strings.HasPrefix(mn, "ccm"), strings.HasPrefix(mn, "fcm"),
		mn == "msr", mn == "sys", mn == "dc", mn == "ic", mn == "at", mn == "tlbi", mn == "ret", mn == "hint",
		mn == "nop", strings.HasPrefix(mn, "paci"), strings.HasPrefix(mn, "auti"), mn == "isb", mn == "dmb", mn == "dsb",
		mn == "svc", mn == "udf", mn == "brk", mn == "hlt", mn == "setffr", mn == "wrffr", mn == "cmpp":
	case strings.HasPrefix(mn, "ldp") || strings.HasPrefix(mn, "ldnp") || strings.HasPrefix(mn, "ldxp") || strings.HasPrefix(mn, "ldaxp"):
		add(0)
		add(1)
	default:
		add(0)
	}
	return out
}

// isAtomicLoad: the LSE ld<op> atomics, which return the old value in
// their second operand (ldadd, ldclr, ldeor, ldset, ldsmax, ldsmin,
// ldumax, ldumin, with their a/l/b/h suffixes).
func isAtomicLoad(mn string) bool {
	for _, op := range []string{"ldadd", "ldclr", "ldeor", "ldset", "ldsmax", "ldsmin", "ldumax", "ldumin"} {
		if strings.HasPrefix(mn, op) {
			return true
		}
	}
	return false
}

// names says whether e's defs name register r (x5 or w5).
func names(e isa.Effect, r string) bool {
	n, _ := strconv.Atoi(r[1:])
	return e.DefKind != isa.DefNone && int(e.DefReg) == n || e.DefAlso&(1<<uint(n)) != 0
}
