/* NSS: getaddrinfo loads its service modules with dlopen. */
#include <netdb.h>
#include <unistd.h>
#include <stdlib.h>
int main(void) { struct addrinfo *r; int e = getaddrinfo("localhost", 0, 0, &r); write(1, "x\n", 2); exit(e); }
