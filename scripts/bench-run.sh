#!/usr/bin/env bash
# Measures what `stackscope run` costs: a CPU-bound C program (one thread, and
# four threads), timed plain, under `stackscope run`, and under
# `valgrind --tool=massif --stacks=yes` (the usual way to measure stack peaks).
# Prints a Markdown table; docs/PERFORMANCE.md ("## run") has the figures.
#
# Usage: scripts/bench-run.sh [RUNS]   (default 5; the minimum is reported)
set -euo pipefail
runs=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/cpu.c" <<'C'
/* CPU-bound: a sieve and a hash loop, in N threads, no syscalls inside. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
static long iters;
static void *work(void *arg) {
	uint64_t h = (uintptr_t)arg + 1;
	for (long i = 0; i < iters; i++) {
		h ^= h << 13; h ^= h >> 7; h ^= h << 17;
		if ((h & 0xff) == 0) h += i;
	}
	return (void *)(uintptr_t)(h & 1);
}
int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 1;
	iters = argc > 2 ? atol(argv[2]) : 400000000L;
	pthread_t t[64];
	long sum = 0;
	for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, work, (void *)(long)i);
	for (int i = 0; i < n; i++) { void *r; pthread_join(t[i], &r); sum += (long)r; }
	printf("%ld\n", sum);
	return 0;
}
C
gcc -O2 -pthread -o "$work/cpu" "$work/cpu.c"
(cd "$root" && go build -o "$work/stackscope" ./cmd/stackscope)

# time1 CMD...: prints "WALL CPU" seconds for one run. CPU is user+system
# time of the command and everything it waited for (the traced program
# included); other load on the machine disturbs it far less than wall time.
time1() {
	local out
	out=$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>&1; } 2>&1 )
	echo "$out" | awk '{printf "%s %.3f\n", $1, $2 + $3}'
}
# minimum of a column of numbers: the run least disturbed by other load
minof() { sort -n | head -1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs: $runs, plain and traced interleaved; the minimum is reported"
echo
echo "| workload | plain wall / CPU | stackscope run wall / CPU | overhead wall / CPU | massif --stacks=yes (1/10 of the work) vs plain at that size | massif slowdown |"
echo "| --- | --- | --- | --- | --- | --- |"
for spec in "1 800000000" "4 200000000"; do
	set -- $spec
	: > "$work/p"; : > "$work/t"
	for _ in $(seq "$runs"); do
		time1 "$work/cpu" "$1" "$2" >> "$work/p"
		time1 "$work/stackscope" run -- "$work/cpu" "$1" "$2" >> "$work/t"
	done
	pw=$(cut -d' ' -f1 "$work/p" | minof); pc=$(cut -d' ' -f2 "$work/p" | minof)
	tw=$(cut -d' ' -f1 "$work/t" | minof); tc=$(cut -d' ' -f2 "$work/t" | minof)
	vg="n/a"; slow="n/a"
	if command -v valgrind >/dev/null; then
		small=$(( $2 / 10 ))
		: > "$work/s"
		for _ in 1 2 3; do time1 "$work/cpu" "$1" "$small" >> "$work/s"; done
		sw=$(cut -d' ' -f1 "$work/s" | minof)
		read -r vw _ < <(time1 valgrind --tool=massif --stacks=yes --massif-out-file="$work/massif.out" "$work/cpu" "$1" "$small")
		slow=$(echo "scale=1; $vw / $sw" | bc)x
		vg=$(printf '%.2f s vs %.3f s' "$vw" "$sw")
	fi
	ow=$(echo "scale=1; ($tw - $pw) * 100 / $pw" | bc)
	oc=$(echo "scale=1; ($tc - $pc) * 100 / $pc" | bc)
	printf '| %s thread(s) x %s iterations | %.3f s / %.3f s | %.3f s / %.3f s | %s%% / %s%% | %s | %s |\n' "$1" "$2" "$pw" "$pc" "$tw" "$tc" "$ow" "$oc" "$vg" "$slow"
done
# The fixed cost of starting stackscope and tracing a program that does nothing.
: > "$work/p"; : > "$work/t"
for _ in $(seq "$runs"); do
	time1 /bin/true >> "$work/p"
	time1 "$work/stackscope" run -- /bin/true >> "$work/t"
done
pw=$(cut -d' ' -f1 "$work/p" | minof); pc=$(cut -d' ' -f2 "$work/p" | minof)
tw=$(cut -d' ' -f1 "$work/t" | minof); tc=$(cut -d' ' -f2 "$work/t" | minof)
printf '| /bin/true (fixed cost) | %.3f s / %.3f s | %.3f s / %.3f s | +%.3f s / +%.3f s | | |\n' "$pw" "$pc" "$tw" "$tc" "$(echo "$tw - $pw" | bc)" "$(echo "$tc - $pc" | bc)"
