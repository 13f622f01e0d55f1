/* The never-returns check's levels (x86calls.go): die ends by exit
   (level 1), fatal by die (level 2), fatal_deep by fatal (level 3: past
   what is looked at, so taken to return), and may_die returns on one
   path. Built by TestNeverAcrossLevels: gcc -O2 -fno-inline. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) void die(int code) { fprintf(stderr, "fatal\n"); exit(code); }
__attribute__((noinline)) void fatal(const char *msg) { fputs(msg, stderr); die(2); }
__attribute__((noinline)) void fatal_deep(const char *msg) { fputs("deep: ", stderr); fatal(msg); }
__attribute__((noinline)) int may_die(int x) { if (x < 0) die(3); return x * 2; }

int main(int argc, char **argv) {
	if (argc > 3) fatal_deep(argv[1]);
	if (argc > 2) fatal(argv[1]);
	return may_die(argc - 2);
}
