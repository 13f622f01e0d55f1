package thumb

import (
	"bufio"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/testutil"
)

// The C program compiled for every CPU and optimisation level. It exercises
// the prologue and epilogue shapes GCC emits (r7 frames at -O0, large and
// huge frames, VLAs and alloca, varargs, switch tables, FP callee-saved
// registers) and pulls in newlib's printf, memcpy, strlen, qsort, malloc,
// setjmp/longjmp and libm, so that real library code is decoded too.
const objdumpC = `
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <stdarg.h>
#include <setjmp.h>
#include <math.h>

volatile int sink;
struct big { int a[40]; };

int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int vla(int n) {
	int a[n];
	for (int i = 0; i < n; i++) a[i] = i * i;
	return a[n / 2];
}

int use_alloca(int n) {
	char *p = __builtin_alloca(n);
	memset(p, 1, n);
	return p[n - 1];
}

int bigframe(int x) { volatile char buf[5000]; buf[x] = 1; return buf[x + 1]; }
int hugeframe(int x) { volatile char buf[70000]; buf[x] = 1; return buf[x + 1]; }
int oddframe(int x) { volatile char buf[1237]; buf[x] = 1; return buf[x + 3]; }

int sw(int x, int y) {
	switch (x) {
	case 0: return y + 5;
	case 1: return y * 7;
	case 2: return y - 9;
	case 3: return fib(y);
	case 4: return vla(y);
	case 5: return y << 3;
	case 6: return y / 3;
	case 7: return y % 11;
	case 8: return -y;
	case 9: return y ^ 0x55;
	}
	return 0;
}

#define BIG(n) case n: sink = n; fib(n); sink += y * n; printf("%d %d %d\n", n, y, sink); break;
int swbig(int x, int y) {
	switch (x) {
	BIG(0) BIG(1) BIG(2) BIG(3) BIG(4) BIG(5) BIG(6) BIG(7) BIG(8) BIG(9)
	BIG(10) BIG(11) BIG(12) BIG(13) BIG(14) BIG(15) BIG(16) BIG(17) BIG(18) BIG(19)
	}
	return sink;
}

int sumv(int n, ...) {
	va_list ap;
	int s = 0;
	va_start(ap, n);
	for (int i = 0; i < n; i++) s += va_arg(ap, int);
	va_end(ap);
	return s;
}

double fmath(double a, float b) { return sqrt(a) * b + sinf(b) + (double)b / a; }
float fsum(float *v, int n) { float s = 0; for (int i = 0; i < n; i++) s += v[i] * v[i]; return s; }
long long lldiv_(long long a, long long b) { return a / b + a % b; }
int callfp(int (*f)(int), int x) { return f(x) + 1; }
int tailfp(int (*f)(int), int x) { return f(x); }
struct big retbig(int x) { struct big b; for (int i = 0; i < 40; i++) b.a[i] = x + i; return b; }
int takebig(struct big b) { return b.a[3] + b.a[39]; }

static jmp_buf jb;
int sj(int x) { if (setjmp(jb)) return 1; if (x) longjmp(jb, 1); return 0; }

static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int many(int a, int b, int c, int d, int e, int f, int g) {
	int r = a * b + c * d + e * f + g;
	sink = r;
	return fib(r & 7) + r;
}

int main(int argc, char **argv) {
	char buf[64];
	int v[8] = {5, 3, 1, 4, 7, 2, 6, 0};
	float fv[4] = {1, 2, 3, 4};
	qsort(v, 8, sizeof v[0], cmp);
	sprintf(buf, "%d %f %s", v[0], fmath(2.0, 3.0f), argv[0]);
	memcpy(buf + 1, buf, 10);
	char *p = malloc(strlen(buf) + 1);
	strcpy(p, buf);
	printf("%s %d %d %d\n", p, sumv(3, 1, 2, 3), sw(argc, 3), swbig(argc, 4));
	free(p);
	sink = bigframe(argc) + hugeframe(argc) + oddframe(argc) + use_alloca(argc + 10);
	sink += (int)lldiv_(argc * 1000000007LL, 13) + callfp(fib, 5) + tailfp(vla, 7);
	sink += takebig(retbig(argc)) + sj(argc) + many(1, 2, 3, 4, 5, 6, 7) + (int)fsum(fv, 4);
	return strcmp(buf, "x");
}
`

// objdumpAsm holds hand-written ARMv8-M Mainline code with the encodings a
// compiler rarely emits; it is assembled (not linked) for cortex-m33.
const objdumpAsm = `
	.syntax unified
	.thumb
	.text
	.globl asmfunc
	.type asmfunc, %function
asmfunc:
2:	push {r4, r5, r6, r7, lr}
	push.w {r4-r11, lr}
	pop.w {r4-r11, pc}
	str.w r4, [sp, #-4]!
	ldr.w r4, [sp], #4
	ldr.w pc, [sp], #4
	stmdb sp!, {r0, r1}
	ldmia sp!, {r0, r1, r2}
	stmia sp!, {r0, r1}
	ldmdb sp!, {r0, r1}
	strd r4, r5, [sp, #-8]!
	ldrd r4, r5, [sp], #8
	ldrd r4, r5, [sp, #8]
	strd r4, r5, [sp, #-16]
	ldrd r0, r1, [r7, #-8]
	vpush {d8-d10}
	vpop {d8-d10}
	vpush {s16-s18}
	vpop {s16}
	vstmdb sp!, {s0-s1}
	vldmia sp!, {d0}
	vstr d0, [sp, #16]
	vldr s0, [r7, #-12]
	sub sp, #16
	add sp, #508
	sub.w sp, sp, #4096
	add.w sp, sp, #0x10000
	subw sp, sp, #4095
	addw sp, sp, #1234
	add sp, r3
	sub.w sp, sp, r3
	add.w sp, sp, r3, lsl #2
	mov sp, r7
	.inst.w 0xf1a70d18 @ sub.w sp, r7, #24
	.inst.w 0xf2a70d18 @ subw sp, r7, #24
	.inst.w 0xf1070d10 @ add.w sp, r7, #16
	mov r7, sp
	add r7, sp, #8
	add.w r7, sp, #1024
	addw r7, sp, #1025
	mov.w r7, sp
	mov.w sp, r7
	mov r7, r0
	ldr r7, [sp, #4]
	ldm r0!, {r1, r7}
	mov sp, r0
	ldr sp, [r0]
	msr MSP, r0
	msr PSP, r0
	msr CONTROL, r0
	mrs r0, MSP
	ldr.w pc, [r3, #4]
	ldr.w pc, [pc, #8]
	mov pc, r3
	add pc, r3
	bx r3
	blx r3
	blxns r3
	bxns lr
	sg
	tt r0, r1
	ldrex r0, [r1]
	strex r2, r0, [r1]
	lda r0, [r1]
	stlex r2, r0, [r1]
	vlstm r0
	vlldm r0
	cpsid i
	wfi
	isb
	dsb
	dmb
	udf #0
	udf.w #0
	bkpt #0
	svc #0
	vmrs APSR_nzcv, fpscr
	vmov r0, r1, d0
	cbz r0, 1f
	cbnz r3, 1f
	it eq
	popeq {r4, pc}
	itte ne
	addne sp, #8
	subne sp, #8
	moveq r7, sp
1:	tbb [pc, r3]
	tbh [pc, r3, lsl #1]
	bl 2b
	b.w 2b
	bne.w 2b
	bx lr
	.size asmfunc, .-asmfunc
`

type cpuConfig struct {
	name  string
	flags []string
}

var cpuConfigs = []cpuConfig{
	{"cortex-m0", []string{"-mcpu=cortex-m0", "-mthumb"}},
	{"cortex-m3", []string{"-mcpu=cortex-m3", "-mthumb"}},
	{"cortex-m4", []string{"-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"}},
	{"cortex-m33", []string{"-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"}},
}

// objLine is one instruction as arm-none-eabi-objdump -d prints it.
type objLine struct {
	addr uint64
	size int    // 2 or 4, from the hex column
	mn   string // mnemonic as printed (beq.n, popeq, ldmia.w)
	ops  string // operands, without the trailing comment
	line string
}

var objLineRE = regexp.MustCompile(`^\s*([0-9a-f]+):\t([0-9a-f]{4}(?: [0-9a-f]{4})?|[0-9a-f]{8}) *\t(\S+)(?:\t(.*))?$`)

func parseObjdump(t *testing.T, out string) []objLine {
	t.Helper()
	var lines []objLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := objLineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		mn := m[3]
		if strings.HasPrefix(mn, ".") || strings.HasPrefix(mn, ";") || strings.Contains(sc.Text(), "<UNDEFINED>") {
			continue // data in code (.word/.short/.byte) or an undefined encoding
		}
		addr, _ := strconv.ParseUint(m[1], 16, 64)
		size := 2
		if len(m[2]) > 4 {
			size = 4
		}
		ops := m[4]
		if i := strings.Index(ops, "@"); i >= 0 {
			ops = ops[:i]
		}
		if i := strings.Index(ops, ";"); i >= 0 {
			ops = ops[:i]
		}
		lines = append(lines, objLine{addr: addr, size: size, mn: mn, ops: strings.TrimSpace(ops), line: sc.Text()})
	}
	return lines
}

// execSections returns the bytes of an ELF file's executable sections.
type section struct {
	addr uint64
	data []byte
}

func execSections(t *testing.T, path string) []section {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []section
	for _, s := range f.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_EXECINSTR == 0 {
			continue
		}
		data, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, section{s.Addr, data})
	}
	return out
}

func codeAt(secs []section, addr uint64) []byte {
	for _, s := range secs {
		if addr >= s.addr && addr-s.addr < uint64(len(s.data)) {
			return s.data[addr-s.addr:]
		}
	}
	return nil
}

var conds = map[string]bool{"eq": true, "ne": true, "cs": true, "hs": true, "cc": true, "lo": true, "mi": true, "pl": true,
	"vs": true, "vc": true, "hi": true, "ls": true, "ge": true, "lt": true, "gt": true, "le": true, "al": true}

// baseMnemonics are the mnemonics the comparison looks at; others are only
// checked for length, decodability and the SP/r7/PC write rules.
var baseMnemonics = []string{
	"vpush", "vpop", "vstmdb", "vldmia", "vstmia", "vldmdb", "vldr", "vstr",
	"push", "pop", "stmdb", "stmfd", "ldmia", "ldmfd", "ldmdb", "stmia", "stmea", "ldm", "stm",
	"ldrsb", "ldrsh", "ldrb", "ldrh", "ldrd", "ldr", "strb", "strh", "strd", "str",
	"addw", "subw", "add", "sub", "mov", "cbz", "cbnz", "tbb", "tbh", "blxns", "bxns", "blx", "bx", "bl", "b", "udf",
}

// splitMnemonic returns the base mnemonic and whether it carried a condition.
func splitMnemonic(mn string) (string, bool) {
	mn = strings.TrimSuffix(strings.TrimSuffix(mn, ".w"), ".n")
	for _, b := range baseMnemonics {
		if !strings.HasPrefix(mn, b) {
			continue
		}
		rest := mn[len(b):]
		if rest == "" {
			return b, false
		}
		if conds[rest] {
			return b, true
		}
		if strings.HasPrefix(b, "b") {
			continue // bls is b+ls, not bl+s
		}
		if rest == "s" {
			return b, false
		}
		if len(rest) == 3 && rest[0] == 's' && conds[rest[1:]] {
			return b, true
		}
	}
	return mn, false
}

// normBase maps the ARMv8-M non-secure branches to their plain forms.
func normBase(b string) string {
	return strings.TrimSuffix(strings.TrimSuffix(b, "ns"), "ns")
}

var regRangeRE = regexp.MustCompile(`^([rsd])(\d+)-[rsd](\d+)$`)

// regList parses "{r4, r5, lr}" or "{d8-d10}": the number of registers, the
// size of each, and the names.
func regList(t *testing.T, s string) (n int, size int64, names map[string]bool) {
	i, j := strings.Index(s, "{"), strings.Index(s, "}")
	if i < 0 || j < i {
		return 0, 0, nil
	}
	names = map[string]bool{}
	size = 4
	for _, r := range strings.Split(s[i+1:j], ",") {
		r = strings.TrimSpace(r)
		if m := regRangeRE.FindStringSubmatch(r); m != nil {
			a, _ := strconv.Atoi(m[2])
			b, _ := strconv.Atoi(m[3])
			for k := a; k <= b; k++ {
				names[fmt.Sprintf("%s%d", m[1], k)] = true
				n++
			}
			if m[1] == "d" {
				size = 8
			}
			continue
		}
		if strings.HasPrefix(r, "d") {
			size = 8
		}
		names[r] = true
		n++
	}
	return n, size, names
}

var (
	immRE     = regexp.MustCompile(`#(-?)(0x[0-9a-f]+|\d+)`)
	memRE     = regexp.MustCompile(`\[(sp|r7)(?:, #(-?\d+))?\]$`)
	targetRE  = regexp.MustCompile(`(?:^|, )([0-9a-f]+) <`)
	preRE     = regexp.MustCompile(`\[sp, #(-?\d+)\]!$`)
	postRE    = regexp.MustCompile(`\[sp\], #(-?\d+)$`)
	accessLen = map[string]int64{"ldr": 4, "str": 4, "ldrb": 1, "strb": 1, "ldrsb": 1, "ldrh": 2, "strh": 2, "ldrsh": 2, "ldrd": 8, "strd": 8}
)

func parseImm(s string) (int64, bool) {
	m := immRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseInt(m[2], 0, 64)
	if err != nil {
		return 0, false
	}
	if m[1] == "-" {
		v = -v
	}
	return v, true
}

// maxFails is how many mismatches per binary are printed
// (STACKSCOPE_THUMB_MAXFAILS overrides it when investigating).
var maxFails = func() int {
	if n, err := strconv.Atoi(os.Getenv("STACKSCOPE_THUMB_MAXFAILS")); err == nil {
		return n
	}
	return 40
}()

// writesFirstOperand reports whether an instruction writes the register
// objdump prints as its first operand.
func writesFirstOperand(mn, base string) bool {
	if strings.HasPrefix(mn, "strex") || strings.HasPrefix(mn, "stlex") {
		return true // the status register
	}
	if base == "b" || base == "bl" {
		return false
	}
	for _, p := range []string{"str", "stm", "vst", "ldm", "vldm", "fldm", "fstm", "cmp", "cmn", "tst", "teq",
		"push", "vpush", "pop", "vpop", "msr", "pld", "pli", "vcmp", "vmsr", "stl", "tbb", "tbh", "cbz", "cbnz",
		"bx", "blx", "it", "udf", "bkpt", "svc", "cps", "nop", "wfi", "wfe", "sev", "yield", "dsb", "dmb", "isb",
		"clrex", "sg", "mcr", "ldc", "stc", "cdp", "vlstm", "vlldm", "cf"} {
		if strings.HasPrefix(mn, p) {
			return false
		}
	}
	return true
}

// rejection counts the encodings of one mnemonic the decoder rejects.
type rejection struct {
	n        int
	examples []string
}

// legacyCoprocessor reports an A-profile FPA or Maverick mnemonic that
// objdump prints for an encoding M-profile processors execute as a generic
// coprocessor instruction (MRRC, LDC, ...), with different operands.
func legacyCoprocessor(mn string) bool {
	for _, p := range []string{"ldf", "stf", "lfm", "sfm", "cf"} {
		if strings.HasPrefix(mn, p) {
			return true
		}
	}
	return false
}

// isLongMultiply reports a multiply that writes two registers (RdLo, RdHi).
func isLongMultiply(mn string) bool {
	for _, p := range []string{"umull", "smull", "umlal", "smlal", "smlsld", "umaal"} {
		if strings.HasPrefix(mn, p) {
			return true
		}
	}
	return false
}

// mrcWrites reports whether an mrc/mrc2/mrrc/mrrc2 writes register reg
// ("mrc 7, 0, r7, cr0, cr1, {0}", "mrrc 7, 1, r0, sp, cr5").
func mrcWrites(mn, ops, reg string) bool {
	if !strings.HasPrefix(mn, "mrc") && !strings.HasPrefix(mn, "mrrc") {
		return false
	}
	parts := strings.Split(ops, ", ")
	if len(parts) > 2 && parts[2] == reg {
		return true
	}
	return strings.HasPrefix(mn, "mrrc") && len(parts) > 3 && parts[3] == reg
}

// objdumpStats counts what the comparison covered.
type objdumpStats struct {
	binaries, insts, spChecks, targetChecks, accessChecks, fpChecks, literalChecks, defChecks int
}

// compare checks every instruction objdump printed against the decoder.
//
// With lenient set (for encodings that no compiler emits), a decode error is
// counted in rejected rather than reported: the manual calls many of those
// encodings UNPREDICTABLE, and rejecting one only makes a frame unknown.
func compare(t *testing.T, name string, secs []section, lines []objLine, st *objdumpStats, lenient bool, rejected map[string]rejection) {
	t.Helper()
	var d Decoder
	fails := 0
	fail := func(l objLine, e isa.Effect, format string, args ...any) {
		fails++
		if fails <= maxFails {
			t.Errorf("%s: %s\n\t%s\n\tgot %+v", name, fmt.Sprintf(format, args...), l.line, e)
		}
	}
	for _, l := range lines {
		code := codeAt(secs, l.addr)
		if code == nil {
			t.Fatalf("%s: no code at %#x", name, l.addr)
		}
		st.insts++
		e, err := d.Decode(code, l.addr)
		if err != nil {
			if lenient {
				r := rejected[l.mn]
				r.n++
				if len(r.examples) < 3 {
					r.examples = append(r.examples, strings.TrimSpace(l.line[strings.Index(l.line, ":")+1:]))
				}
				rejected[l.mn] = r
				continue
			}
			fail(l, e, "decode error %v", err)
			continue
		}
		if e.Len != l.size {
			fail(l, e, "length %d, objdump %d", e.Len, l.size)
			continue
		}
		if lenient && legacyCoprocessor(l.mn) {
			continue
		}
		base, cond := splitMnemonic(l.mn)
		if base == "bxns" || base == "blxns" {
			base = normBase(base)
		}
		ops := l.ops
		first := ops
		if i := strings.Index(ops, ","); i >= 0 {
			first = ops[:i]
		}
		n, rsize, names := regList(t, ops)
		writesFirst := writesFirstOperand(l.mn, base)
		second := ""
		if parts := strings.SplitN(ops, ", ", 3); len(parts) > 1 {
			second = parts[1]
		}

		// 1. SP deltas of the stack-adjusting instructions.
		want, haveWant := int64(0), false
		switch base {
		case "push", "vpush":
			want, haveWant = -int64(n)*rsize, true
		case "pop", "vpop":
			want, haveWant = int64(n)*rsize, true
		case "stmdb", "stmfd", "ldmdb", "vstmdb", "vldmdb":
			if strings.HasPrefix(ops, "sp!") {
				want, haveWant = -int64(n)*rsize, true
			}
		case "ldmia", "ldmfd", "ldm", "stmia", "stmea", "stm", "vldmia", "vstmia":
			if strings.HasPrefix(ops, "sp!") {
				want, haveWant = int64(n)*rsize, true
			}
		case "add", "sub", "addw", "subw":
			if (ops == "sp, "+ops[4:] && strings.HasPrefix(ops, "sp, #")) || strings.HasPrefix(ops, "sp, sp, #") {
				if v, ok := parseImm(ops); ok {
					if strings.HasPrefix(base, "sub") {
						v = -v
					}
					want, haveWant = v, true
				}
			}
		case "ldr", "str", "ldrb", "strb", "ldrh", "strh", "ldrd", "strd", "ldrsb", "ldrsh":
			if m := preRE.FindStringSubmatch(ops); m != nil {
				want, _ = strconv.ParseInt(m[1], 10, 64)
				haveWant = true
			} else if m := postRE.FindStringSubmatch(ops); m != nil {
				want, _ = strconv.ParseInt(m[1], 10, 64)
				haveWant = true
			}
		}
		if haveWant {
			st.spChecks++
			if names["sp"] {
				if e.SP != isa.SPUnknown {
					fail(l, e, "SP loaded: want SPUnknown")
				}
			} else if e.SP != isa.SPAdd || e.SPDelta != want {
				fail(l, e, "SP delta: want SPAdd %d", want)
			}
		}

		// 2. Anything that writes SP is not SPNone.
		writesSP := haveWant || (first == "sp" && writesFirst) || ((base == "ldrd" || isLongMultiply(l.mn)) && second == "sp") || mrcWrites(l.mn, ops, "sp") || (names["sp"] && !strings.HasPrefix(base, "st") && base != "push") ||
			strings.HasPrefix(ops, "sp!") || preRE.MatchString(ops) || postRE.MatchString(ops) ||
			strings.HasPrefix(l.mn, "msr") && (strings.HasPrefix(ops, "MSP,") || strings.HasPrefix(ops, "PSP,") || strings.HasPrefix(ops, "CONTROL,"))
		if writesSP {
			st.spChecks++
			if e.SP == isa.SPNone && ops != "sp, sp" {
				fail(l, e, "writes SP but SPNone")
			}
		} else if e.SP != isa.SPNone && !(e.SP == isa.SPAdd && e.SPDelta == 0) && ops != "sp, sp" {
			fail(l, e, "does not write SP but %v", e.SP)
		}
		if (ops == "sp, r7" && base == "mov" || strings.HasPrefix(ops, "sp, r7, #") && (base == "add" || base == "sub" || base == "addw" || base == "subw")) && e.SP != isa.SPFromFP {
			fail(l, e, "want SPFromFP")
		}

		// 3. r7.
		writesFP := (first == "r7" && writesFirst) || mrcWrites(l.mn, ops, "r7") || (names["r7"] && (base == "pop" || strings.HasPrefix(base, "ldm"))) ||
			strings.HasPrefix(ops, "r7!") || strings.HasPrefix(ops, "[r7], #") || strings.HasSuffix(ops, "[r7, #") ||
			strings.Contains(ops, "[r7, #") && strings.HasSuffix(ops, "]!") ||
			((base == "ldrd" || isLongMultiply(l.mn) ||
				strings.HasPrefix(l.mn, "vmov") && !strings.HasPrefix(ops, "s") && !strings.HasPrefix(ops, "d")) && second == "r7")
		if writesFP {
			st.fpChecks++
			switch {
			case ops == "r7, sp" && base == "mov":
				if !e.SetsFP || e.FPOffset != 0 {
					fail(l, e, "want SetsFP 0")
				}
			case strings.HasPrefix(ops, "r7, sp, #") && (base == "add" || base == "addw" || base == "sub" || base == "subw"):
				v, _ := parseImm(ops)
				if strings.HasPrefix(base, "sub") {
					v = -v
				}
				if !e.SetsFP || e.FPOffset != v {
					fail(l, e, "want SetsFP %d", v)
				}
			case ops == "r7, r7":
			case (strings.HasPrefix(ops, "r7, #") || strings.HasPrefix(ops, "r7, r7, #")) &&
				(base == "add" || base == "addw" || base == "sub" || base == "subw"):
				v, _ := parseImm(ops)
				if strings.HasPrefix(base, "sub") {
					v = -v
				}
				if !e.AdjustsFP || e.FPDelta != v {
					fail(l, e, "want AdjustsFP %d", v)
				}
			default:
				if !e.ClobbersFP {
					fail(l, e, "writes r7: want ClobbersFP")
				}
			}
		} else if e.ClobbersFP || e.SetsFP || e.AdjustsFP {
			// Objdump's operand syntax does not show every r7 write
			// (multiplies, ldrd's second register...); only report a
			// SetsFP that objdump does not explain.
			if e.SetsFP || e.AdjustsFP {
				fail(l, e, "SetsFP/AdjustsFP on an instruction that does not write r7")
			}
		}

		// 4. Control flow.
		if m := targetRE.FindStringSubmatch(ops); m != nil && (base == "b" || base == "bl" || base == "cbz" || base == "cbnz") {
			st.targetChecks++
			tgt, _ := strconv.ParseUint(m[1], 16, 64)
			if !e.HasTarget || e.Target != tgt {
				fail(l, e, "target: want %#x", tgt)
			}
			switch {
			case base == "bl":
				if e.Flow != isa.FlowCall {
					fail(l, e, "bl: want FlowCall")
				}
			case base == "cbz" || base == "cbnz":
				if e.Flow != isa.FlowCondJump {
					fail(l, e, "cbz: want FlowCondJump")
				}
			case cond:
				if e.Flow != isa.FlowCondJump && e.Flow != isa.FlowJump {
					fail(l, e, "b<cond>: want FlowCondJump")
				}
			default:
				if e.Flow != isa.FlowJump {
					fail(l, e, "b: want FlowJump")
				}
			}
		} else if e.HasTarget {
			fail(l, e, "target on a non-branch")
		}
		switch {
		case base == "bx" && ops == "lr":
			if e.Flow != isa.FlowReturn {
				fail(l, e, "bx lr: want FlowReturn")
			}
		case base == "bx":
			if e.Flow != isa.FlowIndirectJump {
				fail(l, e, "bx: want FlowIndirectJump")
			}
		case base == "blx" && !strings.Contains(ops, "<"):
			if e.Flow != isa.FlowIndirectCall {
				fail(l, e, "blx: want FlowIndirectCall")
			}
		case base == "tbb" || base == "tbh":
			if e.Flow != isa.FlowIndirectJump || !e.JumpTable {
				fail(l, e, "tbb/tbh: want jump table")
			}
		case names["pc"] && (base == "pop" || ((base == "ldmia" || base == "ldm" || base == "ldmfd") && strings.HasPrefix(ops, "sp!"))):
			if e.Flow != isa.FlowReturn {
				fail(l, e, "pop pc: want FlowReturn")
			}
		case first == "pc" && writesFirst && !strings.HasPrefix(base, "ldrb") && !strings.HasPrefix(base, "ldrh") &&
			!strings.HasPrefix(base, "ldrs"):
			// (Byte and halfword loads into PC are memory hints that
			// execute as NOPs.)
			if e.Flow == isa.FlowNext {
				fail(l, e, "writes PC but FlowNext")
			}
		case base == "udf":
			if e.Flow != isa.FlowStop {
				fail(l, e, "udf: want FlowStop")
			}
		case strings.HasPrefix(l.mn, "it") && len(l.mn) <= 5 && strings.Trim(l.mn[2:], "te") == "":
			if e.CondNext != len(l.mn)-1 {
				fail(l, e, "%s: want CondNext %d", l.mn, len(l.mn)-1)
			}
		case e.Flow != isa.FlowNext && base != "b" && base != "bl" && base != "cbz" && base != "cbnz" &&
			!names["pc"] && !strings.Contains(ops, "pc") && base != "blx":
			fail(l, e, "unexpected flow %v", e.Flow)
		}

		// 5. SP- and r7-relative accesses without writeback.
		if sz, ok := accessLen[base]; ok && first != "pc" {
			if m := memRE.FindStringSubmatch(ops); m != nil {
				st.accessChecks++
				off, _ := strconv.ParseInt(m[2], 10, 64)
				wantBase := isa.BaseSP
				if m[1] == "r7" {
					wantBase = isa.BaseFP
				}
				if e.Access != wantBase || e.AccessOff != off || e.AccessSize != sz {
					fail(l, e, "access: want %v %d size %d", wantBase, off, sz)
				}
			}
		}
		if base == "vldr" || base == "vstr" {
			if m := memRE.FindStringSubmatch(ops); m != nil {
				st.accessChecks++
				off, _ := strconv.ParseInt(m[2], 10, 64)
				sz := int64(4)
				if strings.HasPrefix(ops, "d") {
					sz = 8
				}
				if e.Access == isa.BaseNone || e.AccessOff != off || e.AccessSize != sz {
					fail(l, e, "vldr/vstr access: want %d size %d", off, sz)
				}
			}
		}

		// 6. PC-relative loads name the literal they read: the address
		// objdump prints in its comment.
		// (A byte or halfword load into PC is a memory hint that reads
		// nothing; objdump prints the literal forms of the unprivileged
		// loads, whose encodings with PC as base are the literal loads,
		// as ldrbt, ldrht...)
		hint := first == "pc" && base != "ldr"
		if litLoad[strings.TrimSuffix(base, "t")] && litRE.MatchString(ops) && !hint {
			st.literalChecks++
			m := litCommentRE.FindStringSubmatch(l.line)
			switch {
			case e.LiteralSize == 0:
				fail(l, e, "PC-relative load without Literal")
			case m != nil:
				if a, _ := strconv.ParseUint(m[1], 16, 64); a != e.Literal {
					fail(l, e, "literal at %#x, objdump says %#x", e.Literal, a)
				}
			}
		} else if e.LiteralSize != 0 {
			fail(l, e, "Literal on an instruction that reads no literal")
		}

		// 7. Every core register the instruction writes is named in
		// DefReg or DefAlso (isa.CompleteDefs: the frame walk's slices
		// over Thumb code are proofs because of it).
		for _, r := range coreWrites(l.mn, base, ops, first, second, writesFirst, names) {
			st.defChecks++
			if !(e.DefKind != isa.DefNone && int(e.DefReg) == r) && e.DefAlso&(1<<uint(r)) == 0 {
				fail(l, e, "writes r%d, which DefReg/DefAlso do not name", r)
			}
		}
	}
	if fails > maxFails {
		t.Errorf("%s: %d mismatches in all", name, fails)
	}
}

// coreNames numbers objdump's names of r0-r12 and lr.
var coreNames = map[string]int{"sb": 9, "sl": 10, "fp": 11, "ip": 12, "lr": 14}

func coreReg(s string) (int, bool) {
	s = strings.TrimSuffix(s, "!")
	if n, ok := coreNames[s]; ok {
		return n, true
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(s, "r")); err == nil && strings.HasPrefix(s, "r") && n >= 0 && n <= 14 && n != 13 {
		return n, true
	}
	return 0, false
}

// coreWrites lists the core registers other than SP and PC that objdump's
// text shows an instruction writes: its first operand (for the mnemonics
// that write it), the second of ldrd, the long multiplies and vmov to two
// core registers, an ldm or pop list, a writeback base, mrc's destination.
func coreWrites(mn, base, ops, first, second string, writesFirst bool, list map[string]bool) []int {
	var out []int
	add := func(s string) {
		if r, ok := coreReg(s); ok {
			out = append(out, r)
		}
	}
	if strings.HasPrefix(mn, "mrc") || strings.HasPrefix(mn, "mrrc") {
		parts := strings.Split(ops, ", ")
		if len(parts) > 2 {
			add(parts[2])
		}
		if strings.HasPrefix(mn, "mrrc") && len(parts) > 3 {
			add(parts[3])
		}
		return out
	}
	if strings.HasPrefix(mn, "vmrs") && first == "APSR_nzcv" {
		return nil
	}
	if writesFirst && !strings.HasPrefix(mn, "ldc") && !legacyCoprocessor(mn) {
		add(first)
		_, core := coreReg(first)
		if base == "ldrd" || isLongMultiply(mn) || strings.HasPrefix(mn, "vmov") && core && strings.Count(ops, ",") >= 2 {
			add(second)
		}
	}
	if base == "pop" || strings.HasPrefix(base, "ldm") {
		for r := range list {
			add(r)
		}
	}
	if strings.HasSuffix(first, "!") || strings.Contains(ops, "]!") || strings.Contains(ops, "], ") && !strings.Contains(ops, "], {") {
		// (ldc/stc's "[rN], {option}" is the unindexed form.)
		// A writeback base: ldm/stm rN!, pre- and post-indexed forms.
		b := first
		if i := strings.Index(ops, "["); i >= 0 {
			b = strings.TrimRight(strings.SplitN(ops[i+1:], "]", 2)[0], "!")
			b = strings.SplitN(b, ",", 2)[0]
		}
		add(b)
	}
	return out
}

// The loads that can read a literal, the operand of one, and objdump's
// comment with the literal's address: "@ (5394 <f+0x70>)" or "@ 0x5394".
var (
	litLoad      = map[string]bool{"ldr": true, "ldrb": true, "ldrh": true, "ldrsb": true, "ldrsh": true, "ldrd": true, "vldr": true}
	litRE        = regexp.MustCompile(`\[pc(, #-?\d+)?\]$`)
	litCommentRE = regexp.MustCompile(`@ \(?(?:0x)?([0-9a-f]+)`)
)

// TestObjdump builds C and assembly with arm-none-eabi-gcc for Cortex-M0, M3,
// M4 (hard float) and M33 at -O0, -O2 and -Os, linked against newlib, and
// compares every instruction arm-none-eabi-objdump -d prints with the
// decoder.
func TestObjdump(t *testing.T) {
	gcc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	objdump := testutil.RequireTool(t, "arm-none-eabi-objdump")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prog.c"), []byte(objdumpC), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hand.s"), []byte(objdumpAsm), 0o644); err != nil {
		t.Fatal(err)
	}
	var st objdumpStats
	check := func(name, path string) {
		secs := execSections(t, path)
		lines := parseObjdump(t, testutil.Run(t, dir, objdump, "-d", path))
		if len(lines) == 0 {
			t.Fatalf("%s: objdump printed no instructions", name)
		}
		st.binaries++
		compare(t, name, secs, lines, &st, false, nil)
	}

	testutil.Run(t, dir, gcc, "-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16", "-c", "hand.s", "-o", "hand.o")
	check("hand.o", filepath.Join(dir, "hand.o"))

	opts := []string{"-O0", "-O2", "-Os"}
	if testing.Short() {
		opts = []string{"-O2"}
	}
	for _, c := range cpuConfigs {
		for _, o := range opts {
			name := c.name + o
			out := filepath.Join(dir, name+".elf")
			args := append(append([]string{}, c.flags...), o, "-g0", "--specs=nosys.specs", "prog.c", "-o", out, "-lm")
			testutil.Run(t, dir, gcc, args...)
			check(name, out)
		}
	}
	t.Logf("compared %d instructions from %d binaries: %d SP checks, %d branch targets, %d stack accesses, %d r7 writes, %d literals, %d register writes named",
		st.insts, st.binaries, st.spChecks, st.targetChecks, st.accessChecks, st.fpChecks, st.literalChecks, st.defChecks)
	if st.insts < 10000 {
		t.Errorf("only %d instructions compared", st.insts)
	}
}

// TestObjdumpExhaustive assembles every 16-bit encoding (except IT, whose
// effect on the following lines objdump tracks) and a sample of 32-bit
// encodings (every first halfword with random and register-targeted second
// halfwords) for Cortex-M33 with FPv5, and compares them with objdump the
// same way as TestObjdump. Encodings objdump decodes but the decoder rejects
// are listed in the log.
func TestObjdumpExhaustive(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	gcc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	objdump := testutil.RequireTool(t, "arm-none-eabi-objdump")
	dir := t.TempDir()
	var sb strings.Builder
	sb.WriteString("\t.syntax unified\n\t.thumb\n\t.text\n")
	for h := 0; h < 0xE800; h++ {
		if h&0xFF00 == 0xBF00 && h&0xF != 0 {
			continue
		}
		fmt.Fprintf(&sb, "\t.inst.n 0x%04x\n", h)
	}
	rng := uint32(12345)
	next := func() uint32 {
		rng ^= rng << 13
		rng ^= rng >> 17
		rng ^= rng << 5
		return rng
	}
	for h1 := uint32(0xE800); h1 <= 0xFFFF; h1++ {
		for k := 0; k < 24; k++ {
			h2 := next() & 0xFFFF
			switch k % 6 {
			case 1:
				h2 = h2&^0x0F00 | 0x0D00 // Rd = SP
			case 2:
				h2 = h2&^0xF000 | 0xD000 // Rt = SP
			case 3:
				h2 = h2&^0xF000 | 0xF000 // Rt = PC
			case 4:
				h2 = h2&^0x0F00 | 0x0700 // Rd = r7
			case 5:
				h2 = h2&^0xF000 | 0x7000 // Rt = r7
			}
			fmt.Fprintf(&sb, "\t.inst.w 0x%04x%04x\n", h1, h2)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "all.s"), []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, dir, gcc, "-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16", "-c", "all.s", "-o", "all.o")
	path := filepath.Join(dir, "all.o")
	lines := parseObjdump(t, testutil.Run(t, dir, objdump, "-d", path))
	var st objdumpStats
	rejected := map[string]rejection{}
	compare(t, "all.o", execSections(t, path), lines, &st, true, rejected)
	n := 0
	var list []string
	for mn, r := range rejected {
		n += r.n
		list = append(list, fmt.Sprintf("%s: %d, e.g. %s", mn, r.n, strings.Join(r.examples, " | ")))
	}
	sort.Strings(list)
	t.Logf("compared %d encodings objdump decodes; the decoder rejects %d of them (UNPREDICTABLE, or not M-profile):\n%s",
		st.insts, n, strings.Join(list, "\n"))
}
