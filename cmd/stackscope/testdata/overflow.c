/* Overflows its stack at any limit: endless recursion with a frame the
   compiler cannot drop. Build: gcc -O0 -o overflow overflow.c */
#include <stdio.h>

static int down(int n) {
    volatile char buf[1024];
    buf[0] = (char)n;
    return down(n + 1) + buf[0];
}

int main(void) {
    printf("%d\n", down(0));
    return 0;
}
