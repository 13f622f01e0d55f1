#!/usr/bin/env bash
# Thread churn under `stackscope run`: N sequential pthread_create+join
# pairs (gcc -O2), timed plainly, under a minimal C ptrace supervisor that
# only resumes every stop (the same options and the same three stops per
# thread as stackscope: the creator's clone event, the new thread's first
# stop, and one breakpoint stop; the floor of any ptrace design that stops
# there), and under `stackscope run` (this tree, and BEFORE_REV if given).
# Interleaved; the minimum of RUNS is reported, wall and CPU (user+system
# of everything, the traced program included). docs/PERFORMANCE.md has the
# figures.
#
# Usage: scripts/bench-churn.sh [RUNS] [N] [BEFORE_REV]   (default 5 20000)
set -euo pipefail
runs=${1:-5}
n=${2:-20000}
before=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
cleanup() {
	[ -z "$before" ] || git -C "$root" worktree remove --force "$work/before" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/churn.c" <<'C'
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static void *work(void *a) { volatile char b[256]; b[0] = (char)(long)a; return (void *)(long)b[0]; }
int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	long s = 0;
	for (int i = 0; i < n; i++) {
		pthread_t t; void *r;
		if (pthread_create(&t, NULL, work, (void *)(long)(i & 1))) return 2;
		pthread_join(t, &r); s += (long)r;
	}
	printf("%ld\n", s);
	return 0;
}
C
cat > "$work/floor.c" <<'C'
/* Resumes every stop; TRACECLONE and TRACEEXIT as stackscope, and an int3
   on madvise's first byte is not set, so each thread stops at its clone
   event, its first SIGSTOP and its exit event: three stops, as under
   stackscope (which trades the exit event for the madvise breakpoint). */
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
	(void)argc;
	pid_t p = fork();
	if (p == 0) { ptrace(PTRACE_TRACEME, 0, 0, 0); execv(argv[1], argv + 1); _exit(127); }
	int st;
	waitpid(p, &st, 0);
	ptrace(PTRACE_SETOPTIONS, p, 0, PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL);
	ptrace(PTRACE_CONT, p, 0, 0);
	for (;;) {
		pid_t t = waitpid(-1, &st, __WALL);
		if (t < 0) return 0;
		if (WIFSTOPPED(st)) {
			int sig = WSTOPSIG(st);
			ptrace(PTRACE_CONT, t, 0, sig == SIGTRAP || sig == SIGSTOP ? 0 : sig);
		}
	}
}
C
gcc -O2 -pthread -o "$work/churn" "$work/churn.c"
gcc -O2 -o "$work/floor" "$work/floor.c"
(cd "$root" && go build -o "$work/stackscope" ./cmd/stackscope)
if [ -n "$before" ]; then
	git -C "$root" worktree add -q --detach "$work/before" "$before"
	(cd "$work/before" && go build -o "$work/stackscope-before" ./cmd/stackscope)
fi

time1() {
	local out
	out=$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>&1; } 2>&1 )
	echo "$out" | awk '{printf "%s %.3f\n", $1, $2 + $3}'
}
minof() { sort -n | head -1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$n sequential pthread_create+join; runs: $runs, interleaved; the minimum is reported"
echo
names="plain floor stackscope"
[ -z "$before" ] || names="$names before"
for name in $names; do : > "$work/t.$name"; done
for _ in $(seq "$runs"); do
	time1 "$work/churn" "$n" >> "$work/t.plain"
	time1 "$work/floor" "$work/churn" "$n" >> "$work/t.floor"
	time1 "$work/stackscope" run -- "$work/churn" "$n" >> "$work/t.stackscope"
	[ -z "$before" ] || time1 "$work/stackscope-before" run -- "$work/churn" "$n" >> "$work/t.before"
done
pw=$(cut -d" " -f1 "$work/t.plain" | minof)
echo "| run | wall | CPU | wall / plain |"
echo "| --- | --- | --- | --- |"
for name in $names; do
	w=$(cut -d' ' -f1 "$work/t.$name" | minof); c=$(cut -d' ' -f2 "$work/t.$name" | minof)
	label=$name
	case $name in
	floor) label="minimal C supervisor (3 stops per thread)" ;;
	stackscope) label="stackscope run ($(git -C "$root" rev-parse --short HEAD))" ;;
	before) label="stackscope run ($before)" ;;
	esac
	printf '| %s | %.3f s | %.3f s | %.1fx |\n' "$label" "$w" "$c" "$(echo "scale=2; $w / $pw" | bc)"
done
