#!/bin/sh
# Speed and memory of `stackscope analyze --no-cache` against `objdump -d`
# of the same file, in the same run, interleaved round by round (best of N
# runs each), on /usr/bin/node and libLLVM (the newest the machine has),
# optionally beside the stackscope of another revision ("before").
#
# Usage: scripts/bench-analyze.sh [N] [BASE] [FILE...]
#   N     runs of each command (default 2)
#   BASE  a git revision to build and measure too, e.g. main (default: none)
#   FILE  files to analyse (default /usr/bin/node and libLLVM-*.so.1)
# Environment: BENCH_TIMEOUT seconds per run (default 900; a run over it
# is reported as ">T"), BENCH_MEMORY KiB of address space per run
# (default 16 GiB: a run over it fails and is reported as failed).
#
# --no-cache: the library cache (internal/libcache) would make a second
# run of the same file a different measurement. Output goes to
# /dev/null in the default text format. Peak RSS is that of the best run.
set -eu
cd "$(dirname "$0")/.."
n=${1:-2}
base=${2:-}
[ $# -gt 2 ] && shift 2 || set --
if [ $# -eq 0 ]; then
    set -- /usr/bin/node
    llvm=$(ls /usr/lib/x86_64-linux-gnu/libLLVM-*.so.1 2>/dev/null | sort -V | tail -n 1)
    [ -n "$llvm" ] && set -- "$@" "$llvm"
fi
limit=${BENCH_TIMEOUT:-900}
memory=${BENCH_MEMORY:-16777216}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/new" ./cmd/stackscope
if [ -n "$base" ]; then
    git worktree add -q --detach "$tmp/base" "$base"
    (cd "$tmp/base" && go build -o "$tmp/old" ./cmd/stackscope)
    git worktree remove --force "$tmp/base"
fi

# measure prints "seconds cpu_seconds maxrss_kb" of one run, or
# "fail ..." when it failed or ran out of time.
measure() {
    if ( ulimit -v "$memory"; /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" \
        timeout -k 5 "$limit" "$@" > /dev/null 2> "$tmp/err" ); then
        awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$tmp/time"
    else
        code=$?
        [ "$code" = 124 ] && { echo ">$limit - -"; return; }
        # stackscope exits 1 for a finding (an unbounded entry): a result.
        if [ "$code" = 1 ] && [ -s "$tmp/time" ] && tail -n 1 "$tmp/time" | grep -q '^[0-9]'; then
            tail -n 1 "$tmp/time" | awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}'
            return
        fi
        echo "failed($code) - -"
    fi
}

# best keeps, in file $1, the line with the smallest first field.
best() {
    if [ ! -s "$1" ] || awk -v t="$2" '{exit !(t ~ /^[0-9.]+$/ && ($1 !~ /^[0-9.]+$/ || t + 0 < $1 + 0))}' "$1"; then
        echo "$2 $3 $4" > "$1"
    fi
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "best of $n, interleaved; stackscope analyze --no-cache FILE > /dev/null"
for file in "$@"; do
    rm -f "$tmp/obj" "$tmp/ssnew" "$tmp/ssold"
    i=0
    while [ "$i" -lt "$n" ]; do
        best "$tmp/obj" $(measure objdump -d "$file")
        best "$tmp/ssnew" $(measure "$tmp/new" analyze --no-cache "$file")
        [ -n "$base" ] && best "$tmp/ssold" $(measure "$tmp/old" analyze --no-cache "$file")
        i=$((i + 1))
    done
    text=$(printf "%d" "0x$(readelf -SW "$file" | awk '$2==".text" {print $6}')")
    read -r ot oc om < "$tmp/obj"
    read -r nt nc nm < "$tmp/ssnew"
    echo
    echo "$file (.text $((text / 1048576)) MiB)"
    echo "| run | wall | CPU | peak RSS | objdump -d / run |"
    echo "| --- | --- | --- | --- | --- |"
    row() { # name wall cpu rss
        rss=$4
        case "$rss" in [0-9]*) rss="$((rss / 1024)) MiB" ;; esac
        ratio=$(echo "$ot $2" | awk '$1 ~ /^[0-9.]+$/ && $2 ~ /^[0-9.]+$/ && $2 > 0 {printf "%.1fx", $1/$2; exit} {print "-"}')
        echo "| $1 | $2 s | $3 s | $rss | $ratio |"
    }
    row "objdump -d" "$ot" "$oc" "$om"
    row "stackscope analyze (this tree)" "$nt" "$nc" "$nm"
    if [ -n "$base" ]; then
        read -r bt bc bm < "$tmp/ssold"
        row "stackscope analyze ($base)" "$bt" "$bc" "$bm"
    fi
done
