/* RISC-V firmware with trap handlers, for riscv_test.go's
   TestRISCVTrapHandlers:

   riscv64-unknown-elf-gcc -march=rv32imac -mabi=ilp32 -O2 -fstack-usage \
       --specs=picolibc.specs -o traps traps.c

   main installs vec_table in mtvec (vectored mode); trap_entry, timer_isr
   and ext_isr are __attribute__((interrupt)) handlers (mret), and ext_isr
   sets mstatus.MIE again, so traps can nest on its stack; default_isr (an
   endless loop, no mret) is found only through the table. */
#define NOINLINE __attribute__((noinline))
/* CSR instructions need Zicsr, which -march=rv32imac (the multilib
   picolibc is built for) does not name in binutils 2.40. */
#define CSR(s) ".option push\n.option arch, +zicsr\n" s "\n.option pop"

volatile int ticks, events;

NOINLINE int work(int x) { volatile int a[20]; a[x & 7] = x; return a[3] + x; }
NOINLINE int deep(int x) { volatile int b[30]; b[x & 7] = work(x); return b[1]; }

void __attribute__((interrupt("machine"))) timer_isr(void) { ticks += work(ticks); }

void __attribute__((interrupt("machine"))) ext_isr(void) {
	__asm__ volatile(CSR("csrs mstatus, 8"));
	events += deep(events);
}

/* The direct-mode trap entry: dispatches on mcause. */
void __attribute__((interrupt("machine"), aligned(4))) trap_entry(void) {
	unsigned long cause;
	__asm__ volatile(CSR("csrr %0, mcause") : "=r"(cause));
	if (cause & 0x7) ticks++;
	else events++;
}

/* The vector table: one jump per cause (vectored mode). */
__asm__(".section .text.vectors, \"ax\"\n"
	".balign 64\n"
	".globl vec_table\n"
	"vec_table:\n"
	".option push\n.option norvc\n"
	"\tj trap_entry\n"
	"\tj timer_isr\n"
	"\tj ext_isr\n"
	"\tj default_isr\n"
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
	return deep(3);
}
