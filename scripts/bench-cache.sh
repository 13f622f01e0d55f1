#!/bin/sh
# The library cache and many files in one process: analysing the ELF files
# of a directory
#   A  one `stackscope analyze --no-cache FILE` per file (no sharing at all),
#   B  one `stackscope analyze -r DIR`-style invocation, cold cache,
#   C  the same invocation again, warm cache (B's entries),
#   D  one invocation per file with C's warm cache,
# interleaved round by round (A B C D, A B C D, ...), each round with a new
# empty cache; wall and CPU (user+sys) of each, best of N rounds, and the
# peak RSS of the largest process of each way (GNU time's %M).
# Usage: scripts/bench-cache.sh [DIR] [N] [EVERY]
#   DIR default /usr/bin, N rounds default 1, EVERY: take every EVERY-th
#   ELF file of DIR in name order (default 1: all of them).
set -eu
cd "$(dirname "$0")/.."
dir=${1:-/usr/bin}
n=${2:-1}
every=${3:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$work/stackscope
go build -o "$bin" ./cmd/stackscope
# The ELF files (symbolic links to them once, by their own name).
for f in "$dir"/*; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    head -c 4 "$f" 2>/dev/null | grep -q "ELF" && echo "$f"
done | awk -v e="$every" '(NR - 1) % e == 0' > "$work/files"
count=$(wc -l < "$work/files")

# run NAME SCRIPT: runs the shell SCRIPT and appends "NAME wall cpu" (cpu:
# user+system of everything it ran) to $work/times.
run() {
    /usr/bin/time -f "$1 %e %U %S %M" -a -o "$work/times.raw" sh -c "$2" > /dev/null 2>&1 || true
    tail -n 1 "$work/times.raw" | awk '{ print $1, $2, $3 + $4, $5 }' >> "$work/times"
}
export bin work
perfile='while read -r f; do "$bin" analyze --format json $FLAGS "$f"; done < "$work/files"'
together='xargs "$bin" analyze --format json < "$work/files"'

: > "$work/times"; : > "$work/times.raw"
i=0
while [ $i -lt "$n" ]; do
    xdg=$work/cache$i
    mkdir -p "$xdg"
    export XDG_CACHE_HOME=$xdg
    export FLAGS=--no-cache
    run A "$perfile"
    export FLAGS=
    run B "$together"
    run C "$together"
    run D "$perfile"
    i=$((i + 1))
done
best() { awk -v k="$1" -v c="$2" '$1 == k && (b == "" || $c < b) { b = $c } END { print b }' "$work/times"; }
peak() { awk -v k="$1" '$1 == k && $4 > m { m = $4 } END { printf "%.0f", m / 1024 }' "$work/times"; }
echo "dir: $dir, $count ELF files (every $every), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), best of $n"
for k in A B C D; do
    case $k in
    A) what="one invocation per file, --no-cache" ;;
    B) what="one invocation, cold cache" ;;
    C) what="one invocation, warm cache" ;;
    D) what="one invocation per file, warm cache" ;;
    esac
    printf "%s  %-38s wall %8.2f s  cpu %8.2f s  peak RSS %6s MiB\n" "$k" "$what" "$(best $k 2)" "$(best $k 3)" "$(peak $k)"
done
echo "A/B (many files in one process, cold): wall $(echo "$(best A 2) $(best B 2)" | awk '{printf "%.1fx", $1/$2}'), cpu $(echo "$(best A 3) $(best B 3)" | awk '{printf "%.1fx", $1/$2}')"
echo "B/C (warm cache against cold):          wall $(echo "$(best B 2) $(best C 2)" | awk '{printf "%.1fx", $1/$2}'), cpu $(echo "$(best B 3) $(best C 3)" | awk '{printf "%.1fx", $1/$2}')"
echo "B/D (warm cache, one file at a time):   wall $(echo "$(best B 2) $(best D 2)" | awk '{printf "%.1fx", $1/$2}'), cpu $(echo "$(best B 3) $(best D 3)" | awk '{printf "%.1fx", $1/$2}')"
echo "A/D (warm cache, one file at a time):   wall $(echo "$(best A 2) $(best D 2)" | awk '{printf "%.1fx", $1/$2}'), cpu $(echo "$(best A 3) $(best D 3)" | awk '{printf "%.1fx", $1/$2}')"
