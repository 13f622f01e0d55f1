/* dlsym reaches glibc's do_sym, whose call of ld.so's
 * _dl_audit_symbind_alt (lazily bound in libc.so.6) runs only under
 * LD_AUDIT (lazyresolver_test.go). */
#define _GNU_SOURCE
#include <dlfcn.h>

int main(void)
{
	return dlsym(RTLD_DEFAULT, "puts") ? 0 : 1;
}
