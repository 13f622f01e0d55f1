/* A call through dlsym's pointer to an exported function of a library the
   program links (libdlsym_lib_deep.so's deep, a 64 KiB frame) whose address
   the program never takes. small's address is taken, so the call has an
   address-taken set ({small}) that does not hold deep (TestDlsymPointer). */
#define _GNU_SOURCE
#include <dlfcn.h>
static int n;
static void small(void) { n++; }
void (*volatile hook)(void) = small;
int main(void) {
	void (*f)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "deep");
	if (f)
		f();
	hook();
	return n;
}
