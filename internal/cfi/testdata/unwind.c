/* Functions with known frames for TestUnwindAt, built for Thumb with -g
 * (.debug_frame) and -fstack-usage: a leaf that keeps LR in its register, a
 * non-leaf that saves it, one with a larger frame. */
volatile int sink;

__attribute__((noinline)) int leaf(int x)
{
    return x * 3 + 1;
}

__attribute__((noinline)) int caller(int x)
{
    volatile int buf[6];
    for (int i = 0; i < 6; i++)
        buf[i] = leaf(x + i);
    return buf[x % 6];
}

__attribute__((noinline)) int big(int x)
{
    volatile int buf[40];
    for (int i = 0; i < 40; i++)
        buf[i] = caller(i + x);
    return buf[x % 40];
}

void _start(void)
{
    sink = big(sink);
    for (;;)
        ;
}
