/* Dense switches for TestThumbCaseHelpers. On ARMv6-M and ARMv8-M
 * Baseline GCC (at -Os, or with -fpic) compiles them into a bounds check,
 * a call to one of libgcc's __gnu_thumb1_case_* helpers and the table,
 * inline after the call. Which helper depends on how far the cases lie
 * from the table (GCC's CASE_VECTOR_SHORTEN_MODE for Thumb-1):
 *   _uqi  every case after the table, within 512 bytes
 *   _sqi  a case before it, all within 256 bytes either way
 *   _uhi  every case after it, within 8 KB
 *   _shi  a case before it, all within 4 KB either way
 *   _si   farther
 * The leaves c0..c7 have frames of different sizes, so that the deepest
 * case is visible in the bound.
 * The test reads which helper each switch uses from objdump. */
volatile int sink;
volatile unsigned sel = 3;

#define LEAF(n, size) \
    __attribute__((noinline)) void c##n(void) { volatile char b[size]; b[0] = 1; sink = b[size - 1]; }
LEAF(0, 24)
LEAF(1, 120)
LEAF(2, 480)
LEAF(3, 64)
LEAF(4, 200)
LEAF(5, 16)
LEAF(6, 320)
LEAF(7, 8)

/* Straight-line filler that makes a case body long. */
#define S4(x) sink = (x); sink = (x) + 1; sink = (x) + 2; sink = (x) + 3;
#define S16(x) S4(x) S4((x) + 4) S4((x) + 8) S4((x) + 12)
#define S64(x) S16(x) S16((x) + 16) S16((x) + 32) S16((x) + 48)
#define S256(x) S64(x) S64((x) + 64) S64((x) + 128) S64((x) + 192)
#define S1K(x) S256(x) S256((x) + 1) S256((x) + 2) S256((x) + 3)

/* _uqi: small cases after the table. */
__attribute__((noinline)) void sw_uqi(int x)
{
    switch (x) {
    case 0: c0(); break;
    case 1: c1(); break;
    case 2: c2(); break;
    case 3: c3(); break;
    case 4: c4(); break;
    case 5: c5(); break;
    case 6: c6(); break;
    }
    sink = 3;
}

/* _uqi, the index not in r0: case 10 is table entry 0 (subs, then a copy
 * into r0 before the compare). */
__attribute__((noinline)) void sw_offset(int a, int x)
{
    switch (x) {
    case 10: c0(); break;
    case 11: c6(); break;
    case 12: c2(); break;
    case 13: c3(); break;
    case 14: c4(); break;
    case 15: c5(); break;
    case 16: c1(); break;
    }
    sink = a;
}

/* _sqi: case 0 goes back to the top, before the table. */
__attribute__((noinline)) void sw_sqi(int x)
{
again:
    x = sel;
    c7();
    switch (x) {
    case 0: goto again;
    case 1: c1(); break;
    case 2: c2(); break;
    case 3: c3(); break;
    case 4: c4(); break;
    case 5: c5(); break;
    case 6: c6(); break;
    }
    sink = 3;
}

/* _uhi: a long case, all after the table. */
__attribute__((noinline)) void sw_uhi(int x)
{
    switch (x) {
    case 0: c0(); break;
    case 1: c1(); S256(1) break;
    case 2: c2(); break;
    case 3: c3(); break;
    case 4: c4(); break;
    case 5: c5(); break;
    case 6: c6(); break;
    }
    sink = 3;
}

/* _shi: case 0 goes back over long code before the table. */
__attribute__((noinline)) void sw_shi(int x)
{
again:
    x = sel;
    c7();
    S256(7)
    switch (x) {
    case 0: goto again;
    case 1: c1(); S64(1) break;
    case 2: c2(); break;
    case 3: c3(); break;
    case 4: c4(); break;
    case 5: c5(); break;
    case 6: c6(); break;
    }
    sink = 3;
}

/* _si: a case more than 8 KB after the table. */
__attribute__((noinline)) void sw_si(int x)
{
    switch (x) {
    case 0: c0(); break;
    case 1: c1(); S1K(1) S1K(2) S1K(3) break;
    case 2: c2(); break;
    case 3: c3(); break;
    case 4: c4(); break;
    case 5: c5(); break;
    case 6: c6(); break;
    }
    sink = 3;
}

/* More than 256 cases: the bound is in a register (cmp r0, r2), and the
 * default is too far for bhi.n: bls to a branch over a literal pool.
 * (Each case stores its own value, so that GCC cannot merge them.) */
#define C4(n, f) case (n): f(); sink = (n); break; case (n) + 1: sink = (n) + 1; break; \
    case (n) + 2: sink = (n) + 2; break; case (n) + 3: sink = (n) + 3; break;
#define C16(n, f) C4(n, f) C4((n) + 4, c1) C4((n) + 8, c4) C4((n) + 12, c7)
#define C64(n, f) C16(n, f) C16((n) + 16, c0) C16((n) + 32, c3) C16((n) + 48, c5)
__attribute__((noinline)) void sw_many(unsigned x)
{
    switch (x) {
    C64(0, c2) C64(64, c6) C64(128, c1) C64(192, c4) C64(256, c0)
    }
    sink = 3;
}

int main(void)
{
    sw_uqi(sel);
    sw_offset(1, sel);
    sw_sqi(sel);
    sw_uhi(sel);
    sw_shi(sel);
    sw_si(sel);
    sw_many(sel);
    for (;;)
        ;
}

void Reset_Handler(void) { main(); }
