package x86

import (
	"bufio"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/testutil"
)

// objInst is one instruction as objdump -d prints it (AT&T syntax).
type objInst struct {
	addr     uint64
	len      int
	mnemonic string   // without prefixes such as notrack, bnd, lock, rep, data16
	ops      []string // operands in AT&T order (destination last)
	comment  string   // text after '#', e.g. the address of a rip-relative operand
	line     string
}

// textSection returns the bytes and address of an ELF file's .text.
func textSection(t testing.TB, path string) ([]byte, uint64) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	s := f.Section(".text")
	if s == nil {
		t.Fatalf("%s has no .text", path)
	}
	data, err := s.Data()
	if err != nil {
		t.Fatalf("%s .text: %v", path, err)
	}
	return data, s.Addr
}

// instPrefixes are words objdump prints before the mnemonic.
var instPrefixes = map[string]bool{
	"rep": true, "repz": true, "repnz": true, "repe": true, "repne": true,
	"lock": true, "notrack": true, "bnd": true, "data16": true, "addr32": true,
	"cs": true, "ds": true, "ss": true, "es": true, "fs": true, "gs": true,
	"xacquire": true, "xrelease": true,
}

// splitOperands splits an AT&T operand list on the commas outside parentheses.
func splitOperands(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// parseAsm splits "notrack jmp *%rax  # comment" into its parts.
func parseAsm(text string) (mnemonic string, ops []string, comment string) {
	if i := strings.Index(text, "#"); i >= 0 {
		comment = strings.TrimSpace(text[i+1:])
		text = text[:i]
	}
	if i := strings.Index(text, "<"); i >= 0 { // "call 1130 <puts@plt>"
		text = text[:i]
	}
	fields := strings.Fields(text)
	for len(fields) > 1 && (instPrefixes[fields[0]] || strings.HasPrefix(fields[0], "rex")) {
		fields = fields[1:]
	}
	if len(fields) == 0 {
		return "", nil, comment
	}
	mnemonic = fields[0]
	if len(fields) > 1 {
		ops = splitOperands(strings.Join(fields[1:], ""))
	}
	return mnemonic, ops, comment
}

// runObjdump disassembles path's .text and calls fn for every instruction.
func runObjdump(t testing.TB, path string, fn func(objInst)) {
	t.Helper()
	objdump := testutil.RequireTool(t, "objdump")
	cmd := exec.Command(objdump, "-d", "-z", "-w", "-j", ".text", path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		// "  1a:\t48 63 df             \tmovslq %edi,%rbx"
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) < 3 || !strings.HasSuffix(parts[0], ":") {
			continue
		}
		addr, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(parts[0], ":")), 16, 64)
		if err != nil {
			continue
		}
		n := len(strings.Fields(parts[1]))
		mn, ops, comment := parseAsm(parts[2])
		fn(objInst{addr: addr, len: n, mnemonic: mn, ops: ops, comment: comment, line: strings.TrimSpace(line)})
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("objdump %s: %v", path, err)
	}
}

// compareStats counts what a comparison checked.
type compareStats struct {
	insts, targets, slots, refs, spWrites, spDeltas, fpWrites, accesses int
	bad                                                                 int // objdump "(bad)"
	outside                                                             int // not inside a function symbol
	failures                                                            []string
}

func (s *compareStats) fail(format string, args ...any) {
	s.failures = append(s.failures, fmt.Sprintf(format, args...))
}

func isReg(op string, names ...string) bool {
	for _, n := range names {
		if op == n {
			return true
		}
	}
	return false
}

var spRegs = []string{"%rsp", "%esp", "%sp", "%spl"}
var fpRegs = []string{"%rbp", "%ebp", "%bp", "%bpl"}

// parseImm parses "$0x18" (two's complement 64-bit as objdump prints it).
func parseImm(op string) (int64, bool) {
	if !strings.HasPrefix(op, "$0x") {
		return 0, false
	}
	v, err := strconv.ParseUint(op[3:], 16, 64)
	return int64(v), err == nil
}

// parseMem parses "d(%base)" with no index; d may be "-0x10" or empty.
func parseMem(op string) (base string, disp int64, ok bool) {
	i := strings.Index(op, "(")
	if i < 0 || !strings.HasSuffix(op, ")") || strings.Contains(op, ",") || strings.Contains(op, ":") {
		return "", 0, false
	}
	base = op[i+1 : len(op)-1]
	d := op[:i]
	if d == "" {
		return base, 0, true
	}
	neg := strings.HasPrefix(d, "-")
	d = strings.TrimPrefix(d, "-")
	if !strings.HasPrefix(d, "0x") {
		return "", 0, false
	}
	v, err := strconv.ParseUint(d[2:], 16, 64)
	if err != nil {
		return "", 0, false
	}
	disp = int64(v)
	if neg {
		disp = -disp
	}
	return base, disp, true
}

func hasPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// readsOnlyLast reports AT&T mnemonics whose last operand is not written.
func readsOnlyLast(mn string) bool {
	return hasPrefix(mn, "cmp", "test", "push", "call", "jmp") || mn == "bt" || mn == "btq" || mn == "btl" || mn == "btw" ||
		hasPrefix(mn, "ucomis", "comis", "ptest", "vptest", "vucomis", "vcomis", "wrfsbase", "wrgsbase")
}

// branch mnemonics with a direct target printed as a hex address.
func isBranch(mn string) bool {
	return mn == "call" || mn == "jmp" || mn == "callq" || mn == "jmpq" || strings.HasPrefix(mn, "j") ||
		strings.HasPrefix(mn, "loop") || mn == "xbegin"
}

// funcRanges returns the [start, end) ranges of the sized function symbols
// of an ELF file's symbol table, sorted by start.
func funcRanges(t testing.TB, path string) [][2]uint64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("%s: no symbol table: %v", path, err)
	}
	var r [][2]uint64
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Size > 0 {
			r = append(r, [2]uint64{s.Value, s.Value + s.Size})
		}
	}
	sort.Slice(r, func(i, j int) bool { return r[i][0] < r[j][0] })
	return r
}

// compareObjdump decodes every instruction objdump shows in path's .text and
// checks the length, targets, slots, and writes to rsp and rbp. With funcOnly,
// only instructions inside sized function symbols are compared: large
// binaries such as node keep constant tables in .text (OpenSSL's assembly),
// which objdump decodes as garbage including encodings no compiler emits.
func compareObjdump(t testing.TB, path string, funcOnly bool) *compareStats {
	t.Helper()
	text, base := textSection(t, path)
	var ranges [][2]uint64
	if funcOnly {
		ranges = funcRanges(t, path)
	}
	ri := 0
	var dec Decoder
	st := &compareStats{}
	runObjdump(t, path, func(o objInst) {
		if o.addr < base || o.addr >= base+uint64(len(text)) {
			return
		}
		if funcOnly {
			// objdump's addresses increase, so one pass over the ranges.
			for ri < len(ranges) && ranges[ri][1] <= o.addr {
				ri++
			}
			if ri == len(ranges) || o.addr < ranges[ri][0] || o.addr+uint64(o.len) > ranges[ri][1] {
				st.outside++
				return
			}
		}
		// "(bad)" and a lone REX prefix ("rex.WB") are how objdump shows
		// bytes that are not an instruction (data inside .text).
		if o.mnemonic == "(bad)" || strings.HasPrefix(o.mnemonic, "rex") {
			st.bad++
			return
		}
		st.insts++
		eff, err := dec.Decode(text[o.addr-base:], o.addr)
		if err != nil {
			st.fail("%s: decode error %v", o.line, err)
			return
		}
		if eff.Len != o.len {
			st.fail("%s: len %d, objdump %d", o.line, eff.Len, o.len)
			return
		}
		checkFlow(st, o, eff)
		checkSP(st, o, eff)
		checkFP(st, o, eff)
		checkAccess(st, o, eff)
		checkRef(st, o, eff)
	})
	return st
}

func checkFlow(st *compareStats, o objInst, eff isa.Effect) {
	mn := o.mnemonic
	if !isBranch(mn) || len(o.ops) != 1 {
		return
	}
	op := o.ops[0]
	if strings.HasPrefix(op, "*") {
		want := isa.FlowIndirectJump
		if strings.HasPrefix(mn, "call") {
			want = isa.FlowIndirectCall
		}
		if eff.Flow != want {
			st.fail("%s: flow %v, want %v", o.line, eff.Flow, want)
		}
		if strings.Contains(op, "(%rip)") {
			st.slots++
			slot, err := strconv.ParseUint(strings.Fields(o.comment + " x")[0], 16, 64)
			if err != nil || !eff.HasSlot || eff.Slot != slot {
				st.fail("%s: slot %#x (has %v), objdump %q", o.line, eff.Slot, eff.HasSlot, o.comment)
			}
		}
		return
	}
	target, err := strconv.ParseUint(op, 16, 64)
	if err != nil {
		return
	}
	st.targets++
	var want isa.Flow
	switch {
	case strings.HasPrefix(mn, "call"):
		want = isa.FlowCall
	case strings.HasPrefix(mn, "jmp"):
		want = isa.FlowJump
	default:
		want = isa.FlowCondJump
	}
	if eff.Flow != want || !eff.HasTarget || eff.Target != target {
		st.fail("%s: flow %v target %#x (has %v), objdump %#x", o.line, eff.Flow, eff.Target, eff.HasTarget, target)
	}
}

// isPushPop reports whether mn is push or pop (base) with an optional size or
// flags suffix: push, pushq, pushw, pushf, pushfq, pushfw (not popcnt).
func isPushPop(mn, base string) bool {
	switch strings.TrimPrefix(mn, base) {
	case "", "q", "w", "f", "fq", "fw":
		return strings.HasPrefix(mn, base)
	}
	return false
}

// writesReg reports whether objdump's instruction writes one of regs as an
// explicit operand.
func writesReg(o objInst, regs []string) bool {
	if len(o.ops) == 0 {
		return false
	}
	last := o.ops[len(o.ops)-1]
	if len(o.ops) == 1 && hasPrefix(o.mnemonic, "mul", "div", "imul", "idiv") {
		return false // one-operand forms write rdx:rax
	}
	if isReg(last, regs...) && !readsOnlyLast(o.mnemonic) {
		return true
	}
	if len(o.ops) == 3 && o.mnemonic == "mulx" && isReg(o.ops[1], regs...) {
		return true // mulx src, lo, hi: both lo and hi are written
	}
	if hasPrefix(o.mnemonic, "xchg", "xadd") {
		for _, op := range o.ops {
			if isReg(op, regs...) {
				return true
			}
		}
	}
	return false
}

func checkSP(st *compareStats, o objInst, eff isa.Effect) {
	mn := o.mnemonic
	if hasPrefix(mn, "call", "ret", "lcall", "lret", "iret", "sysret", "int", "syscall", "jmp", "ljmp") {
		if eff.SP != isa.SPNone && !hasPrefix(mn, "lcall") {
			st.fail("%s: call/ret reports SP %v", o.line, eff.SP)
		}
		return
	}
	want, wantDelta, checkDelta := isa.SPNone, int64(0), false
	switch {
	case isPushPop(mn, "push"):
		want, wantDelta, checkDelta = isa.SPAdd, -8, true
		if strings.HasSuffix(mn, "w") || len(o.ops) == 1 && strings.HasPrefix(o.ops[0], "%") && !strings.HasPrefix(o.ops[0], "%r") && !isReg(o.ops[0], "%fs", "%gs") {
			wantDelta = -2
		}
	case isPushPop(mn, "pop"):
		want, wantDelta, checkDelta = isa.SPAdd, 8, true
		if strings.HasSuffix(mn, "w") || len(o.ops) == 1 && strings.HasPrefix(o.ops[0], "%") && !strings.HasPrefix(o.ops[0], "%r") && !isReg(o.ops[0], "%fs", "%gs") {
			wantDelta = 2
		}
		if len(o.ops) == 1 && isReg(o.ops[0], spRegs...) {
			want, checkDelta = isa.SPUnknown, false
		}
	case mn == "leave" || mn == "leaveq":
		want, wantDelta, checkDelta = isa.SPFromFP, 8, true
	case hasPrefix(mn, "enter"):
		want = isa.SPAdd
	case writesReg(o, spRegs):
		want = isa.SPUnknown // at least: not SPNone
		if len(o.ops) == 2 && o.ops[1] == "%rsp" {
			src := o.ops[0]
			imm, isImm := parseImm(src)
			mbase, mdisp, isMem := parseMem(src)
			switch {
			case (mn == "sub" || mn == "add") && isImm:
				want, wantDelta, checkDelta = isa.SPAdd, imm, true
				if mn == "sub" {
					wantDelta = -imm
				}
			case (mn == "sub" || mn == "add") && strings.HasPrefix(src, "%r"):
				want = isa.SPDynamic
			case mn == "and" && isImm:
				want = isa.SPAlign
				if imm >= 0 || (-imm)&(-imm-1) != 0 {
					want = isa.SPUnknown
				}
			case mn == "lea" && isMem && mbase == "%rsp":
				want, wantDelta, checkDelta = isa.SPAdd, mdisp, true
			case mn == "lea" && isMem && mbase == "%rbp":
				want, wantDelta, checkDelta = isa.SPFromFP, mdisp, true
			case mn == "mov" && src == "%rbp":
				want, wantDelta, checkDelta = isa.SPFromFP, 0, true
			}
		}
	}
	if want == isa.SPNone {
		if eff.SP != isa.SPNone {
			st.fail("%s: SP %v but objdump shows no write to rsp", o.line, eff.SP)
		}
		return
	}
	st.spWrites++
	if eff.SP == isa.SPNone {
		st.fail("%s: writes rsp but SP none", o.line)
		return
	}
	if want != isa.SPUnknown && eff.SP != want {
		st.fail("%s: SP %v, want %v", o.line, eff.SP, want)
		return
	}
	if checkDelta {
		st.spDeltas++
		if eff.SPDelta != wantDelta {
			st.fail("%s: SP delta %d, want %d", o.line, eff.SPDelta, wantDelta)
		}
	}
}

func checkFP(st *compareStats, o objInst, eff isa.Effect) {
	mn := o.mnemonic
	writes := writesReg(o, fpRegs) && !isPushPop(mn, "push")
	if isPushPop(mn, "pop") && len(o.ops) == 1 && isReg(o.ops[0], fpRegs...) || mn == "leave" || mn == "leaveq" || hasPrefix(mn, "enter") {
		writes = true
	}
	if !writes {
		if eff.SetsFP || eff.ClobbersFP {
			st.fail("%s: SetsFP %v ClobbersFP %v but objdump shows no write to rbp", o.line, eff.SetsFP, eff.ClobbersFP)
		}
		return
	}
	st.fpWrites++
	switch {
	case mn == "mov" && len(o.ops) == 2 && o.ops[0] == "%rsp" && o.ops[1] == "%rbp":
		if !eff.SetsFP || eff.FPOffset != 0 || eff.ClobbersFP {
			st.fail("%s: want SetsFP 0, got %+v", o.line, eff)
		}
	case hasPrefix(mn, "enter"):
		if !eff.SetsFP {
			st.fail("%s: want SetsFP", o.line)
		}
	default:
		if !eff.SetsFP && !eff.ClobbersFP {
			st.fail("%s: writes rbp, neither SetsFP nor ClobbersFP", o.line)
		}
	}
	if !eff.UsesFP {
		st.fail("%s: writes rbp, UsesFP not set", o.line)
	}
}

func checkAccess(st *compareStats, o objInst, eff isa.Effect) {
	mn := o.mnemonic
	if hasPrefix(mn, "lea", "nop", "prefetch", "clflush", "clwb", "cldemote", "invlpg", "bnd", "endbr") {
		if eff.Access != isa.BaseNone {
			st.fail("%s: Access reported for an instruction that reads no memory", o.line)
		}
		return
	}
	for _, op := range o.ops {
		op = strings.TrimPrefix(op, "*")
		base, disp, ok := parseMem(op)
		if !ok || (base != "%rsp" && base != "%rbp") {
			continue
		}
		st.accesses++
		want := isa.BaseSP
		if base == "%rbp" {
			want = isa.BaseFP
		}
		if isPushPop(mn, "pop") && want == isa.BaseSP {
			disp += 8
		}
		if eff.Access != want || eff.AccessOff != disp || eff.AccessSize <= 0 {
			st.fail("%s: Access %v off %d size %d, want %v off %d", o.line, eff.Access, eff.AccessOff, eff.AccessSize, want, disp)
		}
	}
}

// checkRef: lea X(%rip),%reg computes the address objdump prints after '#'.
func checkRef(st *compareStats, o objInst, eff isa.Effect) {
	if !strings.HasPrefix(o.mnemonic, "lea") || len(o.ops) != 2 || !strings.HasSuffix(o.ops[0], "(%rip)") {
		return
	}
	st.refs++
	ref, err := strconv.ParseUint(strings.Fields(o.comment + " x")[0], 16, 64)
	if err != nil || !eff.HasRef || eff.Ref != ref {
		st.fail("%s: Ref %#x (has %v), objdump %q", o.line, eff.Ref, eff.HasRef, o.comment)
	}
}

func reportStats(t *testing.T, name string, st *compareStats) {
	t.Helper()
	t.Logf("%s: %d instructions (%d objdump (bad) and %d outside functions skipped), %d direct targets, %d slots, %d rip-relative lea refs, %d rsp writes (%d deltas checked), %d rbp writes, %d stack accesses",
		name, st.insts, st.bad, st.outside, st.targets, st.slots, st.refs, st.spWrites, st.spDeltas, st.fpWrites, st.accesses)
	if st.insts == 0 {
		t.Errorf("%s: no instructions compared", name)
	}
	for i, f := range st.failures {
		if i == 400 {
			t.Errorf("... and %d more", len(st.failures)-i)
			break
		}
		t.Errorf("%s", f)
	}
}

const libcPath = "/lib/x86_64-linux-gnu/libc.so.6"

func TestObjdumpLibc(t *testing.T) {
	if _, err := os.Stat(libcPath); err != nil {
		t.Skipf("SKIPPED: %s not present", libcPath)
	}
	reportStats(t, libcPath, compareObjdump(t, libcPath, false))
}

// TestObjdumpNode compares over /usr/bin/node's 28 MB .text; it takes a while,
// so it runs only with STACKSCOPE_X86_NODE=1.
func TestObjdumpNode(t *testing.T) {
	if os.Getenv("STACKSCOPE_X86_NODE") != "1" {
		t.Skip("set STACKSCOPE_X86_NODE=1 to compare over /usr/bin/node")
	}
	reportStats(t, "/usr/bin/node", compareObjdump(t, "/usr/bin/node", true))
}

// fixtureC is compiled at test time with many flag combinations. It has the
// shapes the stack analysis cares about: fixed frames, large frames (stack
// clash probes), VLAs and alloca (dynamic SP), realignment, calls through
// pointers and the GOT, jump tables, tail calls, varargs and noreturn calls.
const fixtureC = `
#include <alloca.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sink(void *p, int n);
int (*volatile fptr)(int);

__attribute__((noinline)) void sink(void *p, int n) { memset(p, n, 8); }

__attribute__((noinline)) int leaf(int a, int b) { int t[4] = {a, b, a + b, a - b}; return t[a & 3] * t[b & 3]; }

__attribute__((noinline)) int small(int n) { char buf[64]; sink(buf, n); return buf[n & 63]; }

__attribute__((noinline)) int big(int n) { char buf[100 * 1024]; sink(buf, n); return buf[n]; }

__attribute__((noinline)) int huge(int n) { char buf[3 * 1024 * 1024 + 24]; sink(buf, n); return buf[n]; }

__attribute__((noinline)) int vla(int n) { char buf[n]; sink(buf, n); return buf[n / 2]; }

__attribute__((noinline)) int viaalloca(int n) { char *p = alloca(n + 1); sink(p, n); return p[0]; }

__attribute__((noinline)) int aligned(int n) { _Alignas(64) char buf[128]; sink(buf, n); return buf[1]; }

__attribute__((noinline)) int sw(int n) {
	switch (n) {
	case 0: return small(n);
	case 1: return big(n);
	case 2: return vla(n + 3);
	case 3: return 7;
	case 4: return leaf(n, 2);
	case 5: return 11;
	case 6: return fptr(n);
	case 7: return 13;
	default: return -1;
	}
}

__attribute__((noinline)) int sum(int n, ...) {
	va_list ap; va_start(ap, n);
	int s = 0;
	for (int i = 0; i < n; i++) s += va_arg(ap, int);
	va_end(ap);
	return s;
}

__attribute__((noinline)) int tail(int n) { return fptr(n + 1); }

__attribute__((noinline)) int rec(int n) { return n <= 1 ? 1 : n * rec(n - 1) + rec(n - 2); }

jmp_buf jb;
__attribute__((noinline)) int jumper(int n) { if (setjmp(jb)) return 1; if (n > 3) longjmp(jb, 1); return 0; }

__attribute__((noinline, noreturn)) void die(const char *m) { fputs(m, stderr); exit(3); }

static int twice(int x) { return 2 * x; }

int main(int argc, char **argv) {
	fptr = twice;
	if (argc > 5) die("too many");
	printf("%d\n", small(argc) + big(argc) + huge(argc) + vla(argc + 4) + viaalloca(argc) + aligned(argc) +
		sw(argc) + sum(3, 1, 2, argc) + tail(argc) + rec(argc + 3) + jumper(argc) + (int)strlen(argv[0]));
	return 0;
}
`

// TestObjdumpGCC builds fixtureC with gcc at several optimisation levels and
// flag sets and compares every instruction of each executable's .text.
func TestObjdumpGCC(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	testutil.RequireTool(t, "objdump")
	dir := t.TempDir()
	src := filepath.Join(dir, "fixture.c")
	if err := os.WriteFile(src, []byte(fixtureC), 0o644); err != nil {
		t.Fatal(err)
	}
	flagSets := [][]string{
		{"-fno-omit-frame-pointer"},
		{"-fomit-frame-pointer"},
		{"-fno-omit-frame-pointer", "-fstack-protector-strong", "-fstack-clash-protection"},
		{"-fomit-frame-pointer", "-fstack-protector-strong", "-fstack-clash-protection"},
		{"-fomit-frame-pointer", "-fno-plt", "-fcf-protection=full"},
		{"-fno-omit-frame-pointer", "-fno-plt", "-fcf-protection=full", "-mavx2"},
		{"-fomit-frame-pointer", "-fstack-clash-protection", "-march=skylake-avx512", "-fno-pie", "-no-pie"},
	}
	total := 0
	for _, opt := range []string{"-O0", "-O2", "-Os"} {
		for i, flags := range flagSets {
			name := fmt.Sprintf("%s_%d", strings.TrimPrefix(opt, "-"), i)
			t.Run(name, func(t *testing.T) {
				out := filepath.Join(dir, name)
				args := append([]string{opt, "-o", out, src}, flags...)
				testutil.Run(t, dir, gcc, args...)
				st := compareObjdump(t, out, false)
				total += st.insts
				reportStats(t, strings.Join(append([]string{opt}, flags...), " "), st)
			})
		}
	}
	t.Logf("%d instructions compared over %d builds", total, 3*len(flagSets))
}
