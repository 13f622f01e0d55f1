/* setlocale through a pointer from dlsym: the call gets the program's address-taken set ({bye}). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <locale.h>
#include <wchar.h>
#include <stdio.h>
#include <stdlib.h>
static void bye(void) { fputws(L"h\xe9llo\n", stdout); }
int main(void) {
	char *(*set)(int, const char *) = (char *(*)(int, const char *))dlsym(RTLD_DEFAULT, "setlocale");
	atexit(bye);
	if (set) set(LC_ALL, "");
	exit(0);
}
