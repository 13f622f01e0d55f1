/* dlopen through a pointer the program holds. */
#include <dlfcn.h>
#include <stdlib.h>
void *(*volatile op)(const char *, int) = dlopen;
int main(void) { op("libm.so.6", RTLD_NOW); exit(0); }
