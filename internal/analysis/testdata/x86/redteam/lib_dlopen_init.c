/* Linked with -Wl,-init=myinit: DT_INIT, not .init_array. */
#include <dlfcn.h>
void myinit(void) { dlopen("libm.so.6", RTLD_NOW); }
int libfn(int x) { return x + 1; }
