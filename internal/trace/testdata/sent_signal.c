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
		/* The shell waits for a line on a pipe before it kills: the
		 * parent has printed by then, whatever the scheduling. */
		char *args[] = {"sh", "-c", "read go; kill -SEGV $PPID", NULL};
		int fds[2];
		pid_t pid;
		posix_spawn_file_actions_t fa;
		if (pipe(fds) != 0)
			return 1;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
		posix_spawn_file_actions_addclose(&fa, fds[1]);
		if (posix_spawn(&pid, "/bin/sh", &fa, NULL, args, environ) != 0) {
			perror("posix_spawn");
			return 1;
		}
		printf("spawned %d\n", (int)pid);
		fflush(stdout);
		if (write(fds[1], "go\n", 3) != 3)
			return 1;
		wait_here();
	}
	return poke(NULL);
}
