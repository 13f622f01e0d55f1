/* RISC-V machine-mode firmware for riscv_test.go's
   TestRISCVMainStackTotal: its own _start (no crt0: picolibc's runs the
   init array through pointers), a deep path from main, and four trap
   handlers in a vectored mtvec table (CLINT causes):

   riscv64-unknown-elf-gcc -march=rv32imac -mabi=ilp32 -O2 -fstack-usage \
       --specs=picolibc.specs -nostartfiles -o nest nest.c

   timer_isr (cause 7) and exc_isr (exceptions, cause 0) leave mstatus.MIE
   clear (timer_isr clears it again, exc_isr sets MPP bits only); ext_isr
   (cause 11) sets MIE again in a function it calls (enable_nesting),
   soft_isr (cause 3) itself with a register holding 8. -DNO_NEST removes
   both. main sets MIE too: it is not a handler. */
#define NOINLINE __attribute__((noinline))
/* CSR instructions need Zicsr, which -march=rv32imac (the multilib
   picolibc is built for) does not name in binutils 2.40. */
#define CSR(s) ".option push\n.option arch, +zicsr\n" s "\n.option pop"

volatile int ticks, events, soft, faults;

NOINLINE int level3(int x) { volatile int a[40]; a[x & 15] = x; return a[2] + x; }
NOINLINE int level2(int x) { volatile int a[24]; a[x & 15] = level3(x); return a[1]; }
NOINLINE int level1(int x) { volatile int a[16]; a[x & 7] = level2(x + 1); return a[0]; }
NOINLINE int tick_work(int x) { volatile int a[12]; a[x & 7] = x; return a[3]; }
NOINLINE void enable_nesting(void) { __asm__ volatile(CSR("csrsi mstatus, 8")); }

void __attribute__((interrupt("machine"))) timer_isr(void) {
	__asm__ volatile(CSR("csrci mstatus, 8"));
	ticks += tick_work(ticks);
}

void __attribute__((interrupt("machine"))) ext_isr(void) {
#ifndef NO_NEST
	enable_nesting();
#endif
	events += level2(events);
}

void __attribute__((interrupt("machine"))) soft_isr(void) {
#ifndef NO_NEST
	__asm__ volatile(CSR("csrs mstatus, %0") ::"r"(8));
#endif
	soft += tick_work(soft) + level3(soft);
}

void __attribute__((interrupt("machine"))) exc_isr(void) {
	unsigned long epc;
	__asm__ volatile(CSR("csrr %0, mepc") : "=r"(epc));
	__asm__ volatile(CSR("csrw mepc, %0\n\tcsrs mstatus, %1") ::"r"(epc + 4), "r"(0x1800));
	faults++;
}

/* The reset code and the vector table (vectored mode: one jump per
   cause; causes without a handler go to default_isr). */
__asm__(".section .text.init, \"ax\"\n"
	".globl _start\n"
	".type _start, @function\n"
	"_start:\n"
	".option push\n.option norelax\n"
	"\tla sp, __stack\n"
	".option pop\n"
	"\tcall main\n"
	"1:\tj 1b\n"
	".size _start, .-_start\n"
	".section .text.vectors, \"ax\"\n"
	".balign 64\n"
	".globl vec_table\n"
	"vec_table:\n"
	".option push\n.option norvc\n"
	"\tj exc_isr\n"
	"\tj default_isr\n\tj default_isr\n"
	"\tj soft_isr\n"
	"\tj default_isr\n\tj default_isr\n\tj default_isr\n"
	"\tj timer_isr\n"
	"\tj default_isr\n\tj default_isr\n\tj default_isr\n"
	"\tj ext_isr\n"
	".option pop\n"
	".globl default_isr\n"
	".type default_isr, @function\n"
	"default_isr:\n"
	"\tj default_isr\n"
	".size default_isr, .-default_isr\n"
	".text\n");

int main(void) {
	/* vec_table + 1: mode 01, vectored. */
	__asm__ volatile(CSR("la t0, vec_table + 1\n\tcsrw mtvec, t0") ::: "t0");
	__asm__ volatile(CSR("csrsi mstatus, 8"));
	for (;;)
		events += level1(events);
}
