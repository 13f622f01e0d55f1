#!/bin/sh
# Analyses 30 common /usr/bin programs (Debian's stripped builds) and prints
# one line each: main found (by name, or from _start's code), the first
# entry, whether main is on the deepest entry's path, whether any entry's
# path goes through ld.so's _dl_audit_* hooks, that entry's at_least, its
# number of reasons and of distinct reason functions, and the first three
# steps of its deepest known path; then the totals.
# Usage: scripts/sweep-programs.sh    (STACKSCOPE=path/to/binary, LIMIT=300)
set -eu
cd "$(dirname "$0")/.."
bin=${STACKSCOPE:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$bin" ]; then
    bin=$tmp/stackscope
    go build -o "$bin" ./cmd/stackscope
fi
go build -o "$tmp/summary" ./scripts/sweepsummary
programs="gzip bzip2 xz sed grep find sort tar diff cmp wc md5sum ls cp cat head tail cut tr uniq date env stat readlink basename dirname od sha256sum base64 touch"
found=0 onpath=0 audit=0 n=0
for p in $programs; do
    path=$(command -v "$p" || true)
    if [ -z "$path" ]; then
        printf '%-10s not installed\n' "$p"
        continue
    fi
    n=$((n + 1))
    # Exit 1 (a finding) is normal here; 2 and above are errors.
    st=0
    timeout "${LIMIT:-300}" "$bin" analyze --format json "$path" > "$tmp/out.json" 2> "$tmp/err" || st=$?
    if [ "$st" -gt 1 ]; then
        printf '%-10s exit %s: %s\n' "$p" "$st" "$(head -c 200 "$tmp/err")"
        continue
    fi
    line=$("$tmp/summary" < "$tmp/out.json")
    # The text a person reads: under main's "why", the lines that state a
    # reason or a library's group of them (fix: and names: lines, the
    # suggestions under them, not counted), and all lines.
    timeout "${LIMIT:-300}" "$bin" analyze "$path" > "$tmp/out.txt" 2>/dev/null || true
    counts=$(awk '/^main: /{m=1} m && /^  why \(/{w=1; next} w && /^  deepest known path/{exit} w{all++; if ($1 !~ /^(fix|names)/) r++} END{printf "%d %d", r, all}' "$tmp/out.txt")
    set -- $counts
    echo "$1" >> "$tmp/reasonlines"
    echo "$2" >> "$tmp/whylines"
    printf '%-10s %s reason-lines=%s why-lines=%s\n' "$p" "$line" "$1" "$2"
    case "$line" in *"main=yes"*) found=$((found + 1)) ;; esac
    case "$line" in *"on-path=yes"*) onpath=$((onpath + 1)) ;; esac
    case "$line" in *"audit=yes"*) audit=$((audit + 1)) ;; esac
done
echo "main found: $found/$n; main on the deepest path: $onpath/$n; a path through _dl_audit_*: $audit/$n"
median() { sort -n "$1" | awk '{v[NR]=$1} END{if (NR==0) print "-"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
if [ -s "$tmp/reasonlines" ]; then
    echo "main's why in the text, median: $(median "$tmp/reasonlines") reason lines, $(median "$tmp/whylines") lines with the fix and names lines"
fi
