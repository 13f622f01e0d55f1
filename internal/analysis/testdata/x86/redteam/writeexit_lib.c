/* write + exit, and a call of the library's libfn (which may load objects). */
#include <unistd.h>
#include <stdlib.h>
int libfn(int);
int main(int argc, char **argv) { (void)argv; write(1, "x\n", 2); exit(libfn(argc)); }
