#include <dlfcn.h>
int libfn(int x) { return dlopen("libm.so.6", RTLD_NOW) != 0 ? x : 0; }
