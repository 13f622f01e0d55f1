#!/bin/sh
# The library cache and many files in one process: analysing the ELF files
# of a directory
#   A  one `stackscope analyze --no-cache FILE` per file (no sharing at all),
#   B  one `stackscope analyze -r DIR`-style invocation, cold cache,
#   C  the same invocation again, warm cache (B's entries),
#   D  one invocation per file with C's warm cache,
# interleaved round by round (A B C D, A B C D, ...), each round with a new
# empty cache; wall and CPU (user+sys) of each, best of N rounds.
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

now() { date +%s.%N; }
cpu() { # user+sys seconds of this shell's children so far
    times | awk 'NR == 2 { split($1, u, "m"); split($2, s, "m"); sub("s", "", u[2]); sub("s", "", s[2]); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }'
}
# run NAME COMMAND...: appends "NAME wall cpu" to $work/times
run() {
    name=$1; shift
    c0=$(cpu); t0=$(now)
    "$@" > /dev/null 2>&1 || true
    t1=$(now); c1=$(cpu)
    echo "$name $(echo "$t1 $t0" | awk '{print $1 - $2}') $(echo "$c1 $c0" | awk '{print $1 - $2}')" >> "$work/times"
}
perfile() { # XDG FLAGS...: one invocation per file
    xdg=$1; shift
    while read -r f; do XDG_CACHE_HOME=$xdg "$bin" analyze --format json "$@" "$f"; done < "$work/files"
}
together() { # XDG: one invocation for all files
    XDG_CACHE_HOME=$1 xargs "$bin" analyze --format json < "$work/files"
}

: > "$work/times"
i=0
while [ $i -lt "$n" ]; do
    xdg=$work/cache$i
    mkdir -p "$xdg"
    run A perfile "$xdg" --no-cache
    run B together "$xdg"
    run C together "$xdg"
    run D perfile "$xdg"
    i=$((i + 1))
done
best() { awk -v k="$1" -v c="$2" '$1 == k && (b == "" || $c < b) { b = $c } END { print b }' "$work/times"; }
echo "dir: $dir, $count ELF files (every $every), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), best of $n"
for k in A B C D; do
    case $k in
    A) what="one invocation per file, --no-cache" ;;
    B) what="one invocation, cold cache" ;;
    C) what="one invocation, warm cache" ;;
    D) what="one invocation per file, warm cache" ;;
    esac
    printf "%s  %-38s wall %8.2f s  cpu %8.2f s\n" "$k" "$what" "$(best $k 2)" "$(best $k 3)"
done
echo "A/B (many files in one process, cold): wall $(echo "$(best A 2) $(best B 2)" | awk '{printf "%.1fx", $1/$2}'), cpu $(echo "$(best A 3) $(best B 3)" | awk '{printf "%.1fx", $1/$2}')"
echo "B/C (warm cache against cold):          wall $(echo "$(best B 2) $(best C 2)" | awk '{printf "%.1fx", $1/$2}'), cpu $(echo "$(best B 3) $(best C 3)" | awk '{printf "%.1fx", $1/$2}')"
echo "A/D (warm cache, one file at a time):   wall $(echo "$(best A 2) $(best D 2)" | awk '{printf "%.1fx", $1/$2}'), cpu $(echo "$(best A 3) $(best D 3)" | awk '{printf "%.1fx", $1/$2}')"
