#!/usr/bin/env bash
# Thread churn under `stackscope run`: N sequential pthread_create+join
# pairs (gcc -O2), timed plainly, under a minimal C ptrace supervisor that
# only resumes every stop (the same options and the same three stops per
# thread as stackscope: the creator's clone event, the new thread's first
# stop, and one breakpoint stop; the floor of any ptrace design that stops
# there), under the same supervisor with only the two creation stops (what
# ptrace's auto-attach costs by itself), under that two-stop supervisor plus
# a seccomp user notification at each MADV_DONTNEED (the other way to hold
# an exiting thread until its stack is read), and under `stackscope run`
# (this tree, and BEFORE_REV if given).
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
   stackscope (which trades the exit event for the madvise breakpoint).
   Built with -DOPTS=PTRACE_O_TRACECLONE: the two creation stops only. */
#ifndef OPTS
#define OPTS (PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXIT)
#endif
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
	ptrace(PTRACE_SETOPTIONS, p, 0, OPTS | PTRACE_O_EXITKILL);
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
cat > "$work/notify.c" <<'C'
/* The two creation stops, and no stop at thread exit: instead the child
   installs (before exec) a seccomp filter that holds madvise(...,
   MADV_DONTNEED), glibc's last act on an exiting thread's stack, for a
   user notification that a second supervisor thread answers at once.
   The time a real tool would read the stack in is not counted. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <linux/seccomp.h>
#include <linux/filter.h>
#include <linux/audit.h>
static int lfd;
static long nnotif;
static void *notif(void *a) {
	(void)a;
	struct seccomp_notif req; struct seccomp_notif_resp resp;
	for (;;) {
		memset(&req, 0, sizeof req);
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) return 0;
		nnotif++;
		memset(&resp, 0, sizeof resp);
		resp.id = req.id; resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}
int main(int argc, char **argv) {
	(void)argc;
	int sv[2]; socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid_t p = fork();
	if (p == 0) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD|BPF_W|BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP|BPF_JEQ|BPF_K, __NR_madvise, 0, 3),
			BPF_STMT(BPF_LD|BPF_W|BPF_ABS, offsetof(struct seccomp_data, args[2])),
			BPF_JUMP(BPF_JMP|BPF_JEQ|BPF_K, MADV_DONTNEED, 0, 1),
			BPF_STMT(BPF_RET|BPF_K, SECCOMP_RET_USER_NOTIF),
			BPF_STMT(BPF_RET|BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { sizeof f / sizeof f[0], f };
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		int fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
		if (fd < 0) { perror("seccomp"); _exit(126); }
		char c = 0; struct iovec io = { &c, 1 };
		union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
		struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm->cmsg_level = SOL_SOCKET; cm->cmsg_type = SCM_RIGHTS; cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof fd);
		sendmsg(sv[1], &m, 0); close(fd);
		ptrace(PTRACE_TRACEME, 0, 0, 0); execv(argv[1], argv + 1); _exit(127);
	}
	{ char c; struct iovec io = { &c, 1 };
	  union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
	  struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b };
	  recvmsg(sv[0], &m, 0); memcpy(&lfd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof lfd); }
	pthread_t t; pthread_create(&t, 0, notif, 0);
	int st;
	waitpid(p, &st, 0);
	ptrace(PTRACE_SETOPTIONS, p, 0, PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL);
	ptrace(PTRACE_CONT, p, 0, 0);
	for (;;) {
		pid_t w = waitpid(-1, &st, __WALL);
		if (w < 0) return nnotif == 0;
		if (WIFSTOPPED(st)) {
			int sig = WSTOPSIG(st);
			ptrace(PTRACE_CONT, w, 0, sig == SIGTRAP || sig == SIGSTOP ? 0 : sig);
		}
	}
}
C
gcc -O2 -o "$work/floor" "$work/floor.c"
gcc -O2 -DOPTS=PTRACE_O_TRACECLONE -o "$work/floor2" "$work/floor.c"
gcc -O2 -pthread -o "$work/notify" "$work/notify.c"
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
names="plain floor floor2 notify stackscope"
[ -z "$before" ] || names="$names before"
for name in $names; do : > "$work/t.$name"; done
for _ in $(seq "$runs"); do
	time1 "$work/churn" "$n" >> "$work/t.plain"
	time1 "$work/floor" "$work/churn" "$n" >> "$work/t.floor"
	time1 "$work/floor2" "$work/churn" "$n" >> "$work/t.floor2"
	time1 "$work/notify" "$work/churn" "$n" >> "$work/t.notify"
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
	floor2) label="minimal C supervisor, creation stops only (2 per thread)" ;;
	notify) label="2 stops + a seccomp user notification at madvise" ;;
	stackscope) label="stackscope run ($(git -C "$root" rev-parse --short HEAD))" ;;
	before) label="stackscope run ($before)" ;;
	esac
	printf '| %s | %.3f s | %.3f s | %.1fx |\n' "$label" "$w" "$c" "$(echo "scale=2; $w / $pw" | bc)"
done
