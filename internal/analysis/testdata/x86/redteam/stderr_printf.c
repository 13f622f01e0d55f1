/* Baseline: printf to stderr (unbuffered: vfprintf's helper stream), no handler registered. */
#include <stdio.h>
int main(int argc, char **argv) { (void)argv; fprintf(stderr, "%d\n", argc); return 0; }
