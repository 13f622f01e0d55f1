#!/usr/bin/env bash
# Measures what `stackscope run` costs: a CPU-bound C program (one thread, and
# four threads), timed plain, under `stackscope run`, and under
# `valgrind --tool=massif --stacks=yes` (the usual way to measure stack peaks).
# Prints a Markdown table; docs/PERFORMANCE.md ("## run") has the figures.
#
# Usage: scripts/bench-run.sh [RUNS]   (default 5; the median is reported)
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

# median of RUNS measurements of a command: prints "WALL CPU" in seconds,
# CPU being user+system time of the command and everything it waited for
# (the traced program included), which other load on the machine disturbs
# far less than wall-clock time.
median() {
	local walls=() cpus=()
	for _ in $(seq "$runs"); do
		local out
		out=$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>&1; } 2>&1 )
		set -- "$@"
		walls+=("$(echo "$out" | awk '{print $1}')")
		cpus+=("$(echo "$out" | awk '{print $2 + $3}')")
	done
	printf '%s %s\n' \
		"$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
		"$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr)"
echo "runs: $runs (median)"
echo
echo "| workload | plain wall / CPU | stackscope run wall / CPU | overhead wall / CPU | valgrind massif --stacks=yes wall | massif slowdown |"
echo "| --- | --- | --- | --- | --- | --- |"
for spec in "1 1600000000" "4 400000000"; do
	set -- $spec
	read -r pw pc < <(median "$work/cpu" "$1" "$2")
	read -r tw tc < <(median "$work/stackscope" run -- "$work/cpu" "$1" "$2")
	vg="n/a"; slow="n/a"
	if command -v valgrind >/dev/null; then
		# massif is slow: a tenth of the work, scaled up, one run.
		read -r vw _ < <(runs=1 median valgrind --tool=massif --stacks=yes --massif-out-file="$work/massif.out" "$work/cpu" "$1" $(( $2 / 10 )))
		vw=$(echo "$vw * 10" | bc)
		slow=$(echo "scale=1; $vw / $pw" | bc)x
		vg=$(printf '%.2f s (1/10 of the work, x10)' "$vw")
	fi
	ow=$(echo "scale=1; ($tw - $pw) * 100 / $pw" | bc)
	oc=$(echo "scale=1; ($tc - $pc) * 100 / $pc" | bc)
	printf '| %s thread(s) x %s iterations | %.3f s / %.3f s | %.3f s / %.3f s | %s%% / %s%% | %s | %s |\n' "$1" "$2" "$pw" "$pc" "$tw" "$tc" "$ow" "$oc" "$vg" "$slow"
done
# The fixed cost of starting stackscope and tracing a program that does nothing.
read -r pw pc < <(median /bin/true)
read -r tw tc < <(median "$work/stackscope" run -- /bin/true)
printf '| /bin/true (fixed cost) | %.3f s / %.3f s | %.3f s / %.3f s | +%.3f s / +%.3f s | | |\n' "$pw" "$pc" "$tw" "$tc" "$(echo "$tw - $pw" | bc)" "$(echo "$tc - $pc" | bc)"
