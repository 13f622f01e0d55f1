#!/bin/sh
# Makes cmd/stackscope/default.pgo, the CPU profile `go build` uses for
# profile-guided optimisation of stackscope (-pgo=auto: any `go build` or
# `go install` of ./cmd/stackscope picks it up). The profile merges
# `analyze --no-cache` runs of /usr/bin/node (twice, and once in JSON),
# the newest libLLVM and one run over every 6th ELF file of /usr/bin,
# where the machine has them. A run too short to hold a sample (the
# firmware example's) is left out: merged first, its profile made one the
# compiler refused for lack of the functions' start lines. PGO changes
# inlining and code layout only, never a result; its gain is measured in
# docs/PERFORMANCE.md. Run it again when the analysis changes much.
# Usage: scripts/pgo-profile.sh
set -eu
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -pgo=off -o "$work/stackscope" ./cmd/stackscope
run() { # NAME ARGS...: one profiled run (exit 1, a finding, is a result)
    name=$1
    shift
    STACKSCOPE_CPUPROFILE="$work/$name.prof" "$work/stackscope" "$@" > /dev/null 2>&1 || [ $? = 1 ]
}
if [ -f /usr/bin/node ]; then
    run node1 analyze --no-cache /usr/bin/node
    run node2 analyze --no-cache /usr/bin/node
    run nodejson analyze --no-cache --format json /usr/bin/node
fi
llvm=$(ls /usr/lib/x86_64-linux-gnu/libLLVM-*.so.1 2>/dev/null | sort -V | tail -n 1)
[ -n "$llvm" ] && run llvm analyze --no-cache "$llvm"
for f in /usr/bin/*; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    head -c 4 "$f" 2>/dev/null | grep -q "ELF" && echo "$f"
done | awk '(NR - 1) % 6 == 0' > "$work/files"
# shellcheck disable=SC2046 # one argument per file name
[ -s "$work/files" ] && run many analyze --no-cache $(cat "$work/files")
set -- "$work"/*.prof
if [ ! -e "$1" ]; then
    echo "pgo-profile.sh: no run made a profile (no /usr/bin/node, libLLVM or ELF file in /usr/bin?); default.pgo left as it was" >&2
    exit 1
fi
# Into place only once merged: a failed merge must not leave a profile
# that breaks every build.
go tool pprof -proto "$@" > "$work/merged.pgo"
mv "$work/merged.pgo" cmd/stackscope/default.pgo
ls -l cmd/stackscope/default.pgo
