/* Fixture of TestPLTStubNames (internal/analysis/pltstub_test.go): a
 * program that passes an imported function, strcmp, to qsort as a
 * pointer. Built without PIE, the pointer is the address of strcmp@plt
 * (the canonical PLT entry), and qsort's call through it runs the stub.
 *   gcc -O2 -no-pie -fno-pie -o pltptr pltptr.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *words[] = {"pear", "apple", "fig"};

int main(void)
{
	int (*cmp)(const char *, const char *) = strcmp;
	qsort(words, 3, sizeof words[0], (int (*)(const void *, const void *))cmp);
	puts(words[0]);
	return 0;
}
