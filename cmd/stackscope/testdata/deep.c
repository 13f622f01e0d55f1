/* A second small program for the run-record checks: not outerr.c, so its
   build ID differs. Build: gcc -O0 -o deep deep.c */
#include <stdio.h>

static int down(int n) {
    volatile char buf[256];
    buf[0] = (char)n;
    return n ? down(n - 1) + buf[0] : 0;
}

int main(void) {
    printf("%d\n", down(20));
    return 0;
}
