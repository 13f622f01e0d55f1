#include <locale.h>
int libfn(int x) { setlocale(LC_ALL, ""); return x + 1; }
