#!/bin/sh
# Runs `stackscope analyze` over every ELF file under the given directories
# (default /usr/bin and /usr/lib/x86_64-linux-gnu) and reports exit statuses,
# panics and timeouts. Any status other than 0, 1 or 2, any Go panic and any
# run over the time limit is a failure.
# Usage: scripts/sweep.sh [DIR...]    (STACKSCOPE=path/to/binary, JOBS=2, LIMIT=120)
set -eu
cd "$(dirname "$0")/.."
bin=${STACKSCOPE:-}
if [ -z "$bin" ]; then
    bin=$(mktemp -d)/stackscope
    go build -o "$bin" ./cmd/stackscope
fi
dirs=${*:-/usr/bin /usr/lib/x86_64-linux-gnu}
out=$(mktemp -d)
find $dirs -type f -size +0 2>/dev/null | while read -r f; do
    head -c 4 "$f" 2>/dev/null | grep -q 'ELF' && echo "$f"
done > "$out/files"
echo "sweep: $(wc -l < "$out/files") ELF files; logs in $out" >&2
# One line per file: status path
xargs -P "${JOBS:-2}" -I{} sh -c '
    err=$(timeout "${LIMIT:-120}" "$0" analyze --format json "$1" 2>&1 >/dev/null); st=$?
    case "$err" in *"panic:"*|*"goroutine "*) st=panic ;; esac
    echo "$st $1"
' "$bin" {} < "$out/files" > "$out/results"
awk '{print $1}' "$out/results" | sort | uniq -c | sort -rn
bad=$(awk '$1 != 0 && $1 != 1 && $1 != 2' "$out/results")
if [ -n "$bad" ]; then
    echo "sweep: FAILURES (status other than 0/1/2, panic, or 124 = timeout):"
    echo "$bad"
    exit 1
fi
echo "sweep: every file exited 0, 1 or 2, no panic"
