/* Stack need known by construction: recursion of depth N (argv[1]) through
 * a function whose frame gcc -fstack-usage reports. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) int recurse(int n)
{
    volatile char pad[1000];
    pad[n % 1000] = (char)n;
    return n ? recurse(n - 1) + pad[n % 1000] : 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10;
    printf("%d\n", recurse(n));
    return 0;
}
