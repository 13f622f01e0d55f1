/* ARMv6-M frames over 508 bytes: GCC allocates them with ldr rX, =-N;
 * add sp, rX (the only SP adjustment by more than 508 bytes ARMv6-M has)
 * and releases them with movs/lsls or another literal and add sp, rX.
 * TestThumbV6MLargeFrames compares the analyzer's frames with .su. */
__attribute__((noinline)) void use(volatile char *p, int n) { p[n & 7] = (char)n; }

int kib(int n) { char buf[1024]; use(buf, n); return buf[n & 1023]; }
int odd(int n) { volatile char buf[1237]; buf[n] = 1; return buf[n + 3]; }
int huge(int n) { char buf[70000]; use(buf, n); return buf[n]; }
int mixed(int n)
{
    char buf[600];
    volatile int x[40];
    x[3] = n;
    use(buf, x[3]);
    return buf[0] + x[5];
}
/* A run-time amount stays dynamic. */
int vla(int n) { char a[n]; use(a, n); return a[0]; }

int join_add(int n);
int main(void) { return kib(1) + odd(2) + huge(3) + mixed(4) + vla(5) + join_add(6); }
