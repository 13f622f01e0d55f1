/* Linked with -Wl,-init=myinit: DT_INIT, not .init_array. */
#include <locale.h>
void myinit(void) { setlocale(LC_ALL, ""); }
int libfn(int x) { return x + 1; }
