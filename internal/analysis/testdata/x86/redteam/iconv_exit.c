/* iconv_open: gconv modules are loaded with dlopen. */
#include <iconv.h>
#include <unistd.h>
#include <stdlib.h>
int main(void) { iconv_t c = iconv_open("UTF-8", "ISO-8859-1"); write(1, "x\n", 2); exit(c == (iconv_t)-1); }
