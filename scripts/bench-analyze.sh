#!/bin/sh
# Speed and memory of `stackscope analyze` against `objdump -d` on the same
# file, in the same run, interleaved (minimum of N runs each).
# Usage: scripts/bench-analyze.sh [FILE] [N]   (default /usr/bin/node, 3)
set -eu
cd "$(dirname "$0")/.."
file=${1:-/usr/bin/node}
n=${2:-3}
bin=$(mktemp -d)/stackscope
go build -o "$bin" ./cmd/stackscope
measure() { # prints "seconds maxrss_kb" of one run of the command
    /usr/bin/time -f "%e %M" "$@" > /dev/null 2> /tmp/bench-analyze.$$ || true
    tail -n 1 /tmp/bench-analyze.$$
}
best_obj=999999 best_ss=999999 rss_obj=0 rss_ss=0
i=0
while [ $i -lt "$n" ]; do
    set -- $(measure objdump -d "$file"); t=$1 m=$2
    best_obj=$(echo "$t $best_obj" | awk '{print ($1<$2)?$1:$2}'); rss_obj=$m
    set -- $(measure "$bin" analyze "$file"); t=$1 m=$2
    best_ss=$(echo "$t $best_ss" | awk '{print ($1<$2)?$1:$2}'); rss_ss=$m
    i=$((i + 1))
done
rm -f /tmp/bench-analyze.$$
text=$(printf "%d" "0x$(readelf -SW "$file" | awk '$2==".text" {print $6}')")
echo "file: $file (.text $((text / 1048576)) MiB), $(nproc) cores, best of $n"
echo "objdump -d:          ${best_obj} s, peak RSS $((rss_obj / 1024)) MiB"
echo "stackscope analyze:  ${best_ss} s, peak RSS $((rss_ss / 1024)) MiB"
echo "speed-up: $(echo "$best_obj $best_ss" | awk '{printf "%.1fx", $1/$2}')"
