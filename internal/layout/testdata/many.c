/* Many small functions, for a -ffunction-sections build whose linker script
 * (unmerged.ld) does not merge .text.*: each function keeps an output
 * section of its own, as hundreds do in some vendor builds. */
#define F(n)                                                  \
    __attribute__((noinline)) int many_##n(int x)             \
    {                                                         \
        volatile int a[n];                                    \
        for (int i = 0; i < n; i++)                           \
            a[i] = x + i;                                     \
        return a[n - 1];                                      \
    }                                                         \
    const char many_name_##n[] = "many_" #n;
F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10)
F(11) F(12) F(13) F(14) F(15) F(16) F(17) F(18) F(19) F(20)
