// Killed by SIGTERM: stackscope must exit with 143.
// Build: gcc -O0 -o sigterm sigterm.c
#include <signal.h>
#include <unistd.h>
int main(void) {
	kill(getpid(), SIGTERM);
	pause();
	return 0;
}
