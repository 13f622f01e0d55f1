#include <locale.h>
__attribute__((constructor)) static void init(void) { setlocale(LC_ALL, ""); }
int libfn(int x) { return x + 1; }
