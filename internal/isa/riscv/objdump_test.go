package riscv

import (
	"bufio"
	"debug/elf"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/isa"
	"github.com/stackscope/stackscope/internal/testutil"
)

// objdumpC is compiled for RV32IMAC and RV64IMAC at -O0, -O2 and -Os and
// linked with picolibc, so that the comparison also covers the library's
// code (printf, the soft-float routines, libgcc's -msave-restore
// millicode). It has the shapes the frame walk depends on: frames over the
// 12-bit immediate, a VLA and alloca, a switch that becomes a jump table,
// calls and tail calls through pointers, varargs.
const objdumpC = `
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <stdarg.h>
#include <setjmp.h>

volatile int sink;
struct big { int a[40]; };

int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
int vla(int n) { int a[n]; for (int i = 0; i < n; i++) a[i] = i * i; return a[n / 2]; }
int use_alloca(int n) { char *p = __builtin_alloca(n); memset(p, 1, n); return p[n - 1]; }
int bigframe(int x) { volatile char buf[5000]; buf[x] = 1; return buf[x + 1]; }
int hugeframe(int x) { volatile char buf[70000]; buf[x] = 1; return buf[x + 1]; }
int oddframe(int x) { volatile char buf[2037]; buf[x] = 1; return buf[x + 3]; }

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

int sumv(int n, ...) {
	va_list ap;
	int s = 0;
	va_start(ap, n);
	for (int i = 0; i < n; i++) s += va_arg(ap, int);
	va_end(ap);
	return s;
}

long long lldiv_(long long a, long long b) { return a / b + a % b; }
double fmath(double a, float b) { return a * b + (double)b / a; }
int callfp(int (*f)(int), int x) { return f(x) + 1; }
int tailfp(int (*f)(int), int x) { return f(x); }
struct big retbig(int x) { struct big b; for (int i = 0; i < 40; i++) b.a[i] = x + i; return b; }
int takebig(struct big b) { return b.a[3] + b.a[39]; }

static jmp_buf jb;
int sj(int x) { if (setjmp(jb)) return 1; if (x) longjmp(jb, 1); return 0; }

static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int main(int argc, char **argv) {
	char buf[64];
	int v[8] = {5, 3, 1, 4, 7, 2, 6, 0};
	qsort(v, 8, sizeof v[0], cmp);
	sprintf(buf, "%d %s %g", v[0], argv[0], fmath(2.0, 3.0f));
	char *p = malloc(strlen(buf) + 1);
	strcpy(p, buf);
	printf("%s %d %d\n", p, sumv(3, 1, 2, 3), sw(argc, 3));
	free(p);
	sink = bigframe(argc) + hugeframe(argc) + oddframe(argc) + use_alloca(argc + 10);
	sink += (int)lldiv_(argc * 1000000007LL, 13) + callfp(fib, 5) + tailfp(vla, 7);
	sink += takebig(retbig(argc)) + sj(argc);
	return 0;
}
`

// objdumpAsm has the encodings a compiler rarely emits; it is assembled
// (not linked) for each architecture, with -mno-relax so that call and
// tail keep their auipc+jalr pairs.
const objdumpAsm = `
	.text
	.globl asmfunc
	.type asmfunc, @function
asmfunc:
	addi sp, sp, -32
	c.addi16sp sp, -64
	c.addi16sp sp, 64
	c.addi4spn a0, sp, 16
	addi s0, sp, 32
	addi sp, s0, -32
	mv sp, s0
	mv s0, sp
	addi s0, s0, 8
	li t0, 4096
	sub sp, sp, t0
	add sp, sp, t0
	lui t0, 2
	andi sp, sp, -16
	lw sp, 0(a0)
	mv sp, a0
	sw ra, 28(sp)
	lw ra, 28(sp)
	sw s0, -4(s0)
	lbu a0, 3(sp)
	sh a0, 2(sp)
	flw fa0, 4(sp)
	fsw fa0, 8(sp)
	fld fa0, 8(sp)
	fsd fa0, 16(sp)
	csrw mtvec, t0
	csrs mstatus, 8
	csrr a0, mcause
	wfi
	fence
	ecall
	ebreak
	call asmfunc
	tail asmfunc
	jal asmfunc
	j asmfunc
	jal t0, asmfunc
	jalr a5
	jr a5
	jalr 8(a5)
	beqz a0, 1f
	bne a0, a1, 1f
1:	mret
	sret
	unimp
	.2byte 0
	ret
	.size asmfunc, .-asmfunc
`

type target struct {
	name  string
	xlen  int
	flags []string
	asm   string // -march for objdumpAsm, which has floating-point loads and stores
}

var targets = []target{
	{"rv32imac", 32, []string{"-march=rv32imac", "-mabi=ilp32"}, "-march=rv32imafdc"},
	{"rv64imac", 64, []string{"-march=rv64imac", "-mabi=lp64"}, "-march=rv64imafdc"},
}

// buildObjdumpFixtures compiles objdumpC for every target and
// optimisation level and assembles objdumpAsm; it returns the files and
// the decoder width of each.
func buildObjdumpFixtures(t *testing.T) map[string]int {
	t.Helper()
	gcc := testutil.RequireTool(t, "riscv64-unknown-elf-gcc")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.c"), []byte(objdumpC), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.s"), []byte(objdumpAsm), 0o644); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, tg := range targets {
		// (-mno-relax: the linker keeps every call's and tail call's
		// auipc+jalr pair instead of turning it into a jal.)
		for _, opt := range []string{"-O0", "-O2", "-Os", "-mno-relax"} {
			name := tg.name + opt
			args := append(append([]string{}, tg.flags...), opt, "--specs=picolibc.specs", "--oslib=semihost", "-o", name, "t.c")
			if opt == "-mno-relax" {
				args = append(args, "-O2", "-Wl,--no-relax")
			}
			testutil.Run(t, dir, gcc, args...)
			out[filepath.Join(dir, name)] = tg.xlen
		}
		obj := tg.name + "-asm.o"
		testutil.Run(t, dir, gcc, append(append([]string{}, tg.flags...), "-mno-relax", tg.asm, "-c", "-o", obj, "a.s")...)
		out[filepath.Join(dir, obj)] = tg.xlen
	}
	return out
}

// objLine is one instruction as riscv64-unknown-elf-objdump -d prints it.
type objLine struct {
	addr   uint64
	size   int
	mn     string
	ops    string
	target uint64 // a branch's target, when printed
	line   string
}

var (
	objLineRE = regexp.MustCompile(`^\s*([0-9a-f]+):\t([0-9a-f]{4}|[0-9a-f]{8}) +\t(\S+)(?:\t(.*))?$`)
	targetRE  = regexp.MustCompile(`(?:^|,)([0-9a-f]+) <`)
	commentRE = regexp.MustCompile(`# ([0-9a-f]+) <`) // the target objdump works out for a jalr after an auipc
	memOpRE   = regexp.MustCompile(`^[^,]+,(-?\d+)\((sp|s0)\)$`)
	spImmRE   = regexp.MustCompile(`^sp,sp,(-?\d+)$`)
)

func parseObjdump(t *testing.T, out string) []objLine {
	t.Helper()
	var lines []objLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := objLineRE.FindStringSubmatch(sc.Text())
		if m == nil || strings.HasPrefix(m[3], ".") {
			continue // not an instruction, or one objdump does not know (.2byte, .4byte)
		}
		addr, _ := strconv.ParseUint(m[1], 16, 64)
		ops := m[4]
		if i := strings.Index(ops, "#"); i >= 0 {
			ops = ops[:i]
		}
		l := objLine{addr: addr, size: len(m[2]) / 2, mn: m[3], ops: strings.TrimSpace(ops), line: sc.Text()}
		if tm := targetRE.FindStringSubmatch(l.ops); tm != nil {
			l.target, _ = strconv.ParseUint(tm[1], 16, 64)
		} else if tm := commentRE.FindStringSubmatch(m[4]); tm != nil && (l.mn == "jalr" || l.mn == "jr" || l.mn == "ld" || l.mn == "lw") {
			l.target, _ = strconv.ParseUint(tm[1], 16, 64)
		}
		lines = append(lines, l)
	}
	return lines
}

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

var condBranches = map[string]bool{"beq": true, "bne": true, "blt": true, "bge": true, "bltu": true, "bgeu": true,
	"beqz": true, "bnez": true, "blez": true, "bgez": true, "bltz": true, "bgtz": true, "bgt": true, "ble": true, "bgtu": true, "bleu": true}

// wantFlow is the control flow objdump's mnemonic and operands imply.
func wantFlow(l objLine) isa.Flow {
	switch {
	case condBranches[l.mn]:
		return isa.FlowCondJump
	case l.mn == "j":
		return isa.FlowJump
	case l.mn == "jal" && !strings.Contains(l.ops, ","), l.mn == "jal" && strings.HasPrefix(l.ops, "ra,"):
		return isa.FlowCall
	case l.mn == "jal" && strings.HasPrefix(l.ops, "t0,"):
		return isa.FlowCall // millicode, AltLink
	case l.mn == "ret", l.mn == "mret", l.mn == "sret":
		return isa.FlowReturn
	case l.mn == "jr" && l.ops == "ra":
		return isa.FlowReturn
	case l.mn == "jr":
		return isa.FlowIndirectJump
	case l.mn == "jalr" && strings.HasPrefix(l.ops, "zero,"):
		return isa.FlowIndirectJump
	case l.mn == "jalr":
		return isa.FlowIndirectCall
	case l.mn == "unimp", l.mn == "c.unimp":
		return isa.FlowStop
	}
	return isa.FlowNext
}

// accessSizes are the bytes each load or store mnemonic moves.
var accessSizes = map[string]int64{"lb": 1, "lbu": 1, "sb": 1, "lh": 2, "lhu": 2, "sh": 2, "lw": 4, "lwu": 4, "sw": 4, "flw": 4, "fsw": 4,
	"ld": 8, "sd": 8, "fld": 8, "fsd": 8}

// TestObjdumpAgreement decodes every instruction objdump prints in the
// test binaries and checks the decoder agrees on its length, its control
// flow and branch target, its SP adjustment by an immediate, and the
// offset and size of every sp- and s0-relative load and store. A call or
// tail pair (auipc + jalr through the same register) is one instruction
// of 8 bytes for the decoder: its target must be the one objdump prints
// on the jalr.
func TestObjdumpAgreement(t *testing.T) {
	objdump := testutil.RequireTool(t, "riscv64-unknown-elf-objdump")
	files := buildObjdumpFixtures(t)
	for path, xlen := range files {
		t.Run(filepath.Base(path), func(t *testing.T) { checkObjdump(t, objdump, path, xlen) })
	}
}

// TestObjdumpAgreementLinux does the same for an RV64 Linux program
// (glibc's crt files, PLT stubs), built with riscv64-linux-gnu-gcc at -O2.
func TestObjdumpAgreementLinux(t *testing.T) {
	gcc := testutil.RequireTool(t, "riscv64-linux-gnu-gcc")
	objdump := testutil.RequireTool(t, "riscv64-linux-gnu-objdump")
	dir := t.TempDir()
	src := strings.ReplaceAll(objdumpC, "#include <setjmp.h>", "#include <setjmp.h>\n#include <pthread.h>")
	if err := os.WriteFile(filepath.Join(dir, "t.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, opt := range []string{"-O2", "-O0"} {
		out := filepath.Join(dir, "linux"+opt)
		testutil.Run(t, dir, gcc, opt, "-o", out, "t.c")
		t.Run(filepath.Base(out), func(t *testing.T) { checkObjdump(t, objdump, out, 64) })
	}
}

// checkObjdump compares the decoder with objdump over every instruction
// of the file at path (see TestObjdumpAgreement).
func checkObjdump(t *testing.T, objdump, path string, xlen int, objdumpArgs ...string) {
	{
		{
			d := New(xlen)
			secs := execSections(t, path)
			lines := parseObjdump(t, testutil.Run(t, filepath.Dir(path), objdump, append(append([]string{"-d"}, objdumpArgs...), path)...))
			if len(lines) < 40 {
				t.Fatalf("only %d instructions in objdump's output", len(lines))
			}
			var fails, checked, fused int
			fail := func(l objLine, format string, args ...any) {
				fails++
				if fails <= 20 {
					t.Errorf("%s: "+format, append([]any{l.line}, args...)...)
				}
			}
			for i := 0; i < len(lines); i++ {
				l := lines[i]
				code := codeAt(secs, l.addr)
				if code == nil {
					code = relocatableCode(t, path, l.addr)
				}
				e, err := d.Decode(code, l.addr)
				if err != nil {
					fail(l, "decode error: %v", err)
					continue
				}
				checked++
				if e.Len == 12 && l.mn == "auipc" && i+2 < len(lines) {
					// A PLT stub's jump through its GOT slot: the slot is
					// the address objdump works out for the load.
					ld, jr := lines[i+1], lines[i+2]
					i += 2
					fused++
					if (ld.mn != "ld" && ld.mn != "lw") || (jr.mn != "jalr" && jr.mn != "jr") {
						fail(l, "decoded as a PLT stub with %q and %q", ld.line, jr.line)
						continue
					}
					if e.Flow != isa.FlowIndirectJump || !e.HasSlot || e.Slot != ld.target {
						fail(ld, "PLT stub: flow %v, slot %#x (has %v), objdump's %#x", e.Flow, e.Slot, e.HasSlot, ld.target)
					}
					continue
				}
				if e.Len == 8 && (l.mn == "auipc" || l.mn == "lui") && strings.HasPrefix(l.ops, "sp,") && i+1 < len(lines) {
					// la sp, sym: SP set to a constant, one instruction.
					next := lines[i+1]
					i++
					fused++
					if !(next.mn == "mv" && next.ops == "sp,sp") && !strings.HasPrefix(next.ops, "sp,sp,") {
						fail(l, "decoded as a pair with %q", next.line)
					}
					if e.SP != isa.SPUnknown || e.DefReg != 2 {
						fail(l, "sp constant: SP %v, DefReg %d", e.SP, e.DefReg)
					}
					continue
				}
				if e.Len == 8 && l.mn == "auipc" && i+1 < len(lines) {
					// A call or tail pair: the jalr after it is part of it.
					next := lines[i+1]
					i++
					fused++
					if next.mn != "jalr" && next.mn != "jr" {
						fail(l, "decoded as a pair with %q", next.line)
						continue
					}
					want := wantFlow(next)
					if want == isa.FlowIndirectCall {
						want = isa.FlowCall
					} else if want == isa.FlowIndirectJump {
						want = isa.FlowJump
					}
					if e.Flow != want {
						fail(next, "pair flow %v, want %v", e.Flow, want)
					}
					if !strings.HasSuffix(path, ".o") && e.Target != next.target {
						fail(next, "pair target %#x, objdump %#x", e.Target, next.target)
					}
					continue
				}
				if e.Len != l.size {
					fail(l, "length %d, objdump %d", e.Len, l.size)
					continue
				}
				want := wantFlow(l)
				if e.Flow != want {
					fail(l, "flow %v, want %v", e.Flow, want)
				}
				if (want == isa.FlowJump || want == isa.FlowCondJump || want == isa.FlowCall) && l.target != 0 && (!e.HasTarget || e.Target != l.target) {
					fail(l, "target %#x (has %v), objdump %#x", e.Target, e.HasTarget, l.target)
				}
				if e.AltLink != (strings.HasPrefix(l.ops, "t0,") && (l.mn == "jal" || l.mn == "jalr")) {
					fail(l, "AltLink %v", e.AltLink)
				}
				if l.mn == "mv" && l.ops == "sp,sp" {
					l.mn, l.ops = "addi", "sp,sp,0" // addi sp,sp,0 (la sp,sym with a zero low part)
				}
				if m := spImmRE.FindStringSubmatch(l.ops); m != nil && (l.mn == "add" || l.mn == "addi") {
					v, _ := strconv.ParseInt(m[1], 10, 64)
					if e.SP != isa.SPAdd || e.SPDelta != v {
						fail(l, "SP %v %d, want add %d", e.SP, e.SPDelta, v)
					}
				} else if strings.HasPrefix(l.ops, "sp,") && e.SP == isa.SPAdd {
					fail(l, "SPAdd %d on an instruction that is not addi sp,sp,imm", e.SPDelta)
				}
				if size, ok := accessSizes[l.mn]; ok {
					if m := memOpRE.FindStringSubmatch(l.ops); m != nil {
						off, _ := strconv.ParseInt(m[1], 10, 64)
						base := isa.BaseSP
						if m[2] == "s0" {
							base = isa.BaseFP
						}
						if e.Access != base || e.AccessOff != off || e.AccessSize != size {
							fail(l, "access %v %d size %d, want %v %d size %d", e.Access, e.AccessOff, e.AccessSize, base, off, size)
						}
					} else if e.Access != isa.BaseNone {
						fail(l, "access %v on a load or store not relative to sp or s0", e.Access)
					}
				}
			}
			t.Logf("%d instructions checked, %d call/tail pairs", checked, fused)
			if fails > 20 {
				t.Errorf("%d mismatches in all", fails)
			}
		}
	}
}

// relocatableCode returns the bytes at addr in the .text of an object file
// (objdump prints section offsets there).
func relocatableCode(t *testing.T, path string, addr uint64) []byte {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(".text")
	if s == nil {
		return nil
	}
	data, err := s.Data()
	if err != nil || addr >= uint64(len(data)) {
		return nil
	}
	return data[addr:]
}
