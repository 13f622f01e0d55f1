// SIGSEGV three ways: sent by the program to itself with kill() ("self"),
// by a shell it spawns ("shell": posix_spawn of /bin/sh running
// `kill -SEGV $PPID`, so the sender is another process, and the spawned
// child exec's a new program), or raised by a real fault ("fault").
// Build: gcc -O0 -g -o sent_signal sent_signal.c
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static void wait_here(void) {
	for (;;)
		pause();
}

static int poke(volatile int *p) {
	*p = 1; // p is NULL: SIGSEGV, SEGV_MAPERR
	return 0;
}

int main(int argc, char **argv) {
	const char *mode = argc > 1 ? argv[1] : "self";
	if (strcmp(mode, "self") == 0) {
		kill(getpid(), SIGSEGV);
		wait_here();
	}
	if (strcmp(mode, "shell") == 0) {
		char *args[] = {"sh", "-c", "kill -SEGV $PPID", NULL};
		pid_t pid;
		if (posix_spawn(&pid, "/bin/sh", NULL, NULL, args, environ) != 0) {
			perror("posix_spawn");
			return 1;
		}
		printf("spawned %d\n", (int)pid);
		fflush(stdout);
		wait_here();
	}
	return poke(NULL);
}
