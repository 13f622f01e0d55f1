#!/usr/bin/env bash
# Juliet-style CWE-121 comparison: each scripts/cwe121/*.c case is built
#   hardened: gcc -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2  -> run under `stackscope run`
#   asan:     gcc -O0 -g -fsanitize=address                             -> run plainly; ASan's verdict
# and the verdicts are compared: "overrun" when stackscope classifies a
# stack-buffer-overrun (or ASan reports a stack-buffer-* error), "none" when
# the program ends cleanly; ASan's kinds map to classes as in
# scripts/asan-kind.sh (any other report, SEGV included, is "other"). The
# same ASan build under stackscope is checked too.
# docs/run.md records the figures.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/stackscope" ./cmd/stackscope)

verdict_ss() { # json file -> class, function
	python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
c=d["crash"]
print("none -" if c is None else ("overrun" if c["class"]=="stack-buffer-overrun" else c["class"])+" "+(c["function"] or "?"))' "$1"
}

agree=0; total=0; agree_asan=0
printf '| case | stackscope (hardened build) | function | ASan | stackscope on the ASan build | agree |\n'
printf '| --- | --- | --- | --- | --- | --- |\n'
for src in "$root"/scripts/cwe121/*.c; do
	name=$(basename "$src" .c)
	gcc -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2 -w -o "$work/$name.hard" "$src"
	gcc -O0 -g -fsanitize=address -w -o "$work/$name.asan" "$src"
	"$work/stackscope" run --format json -o "$work/$name.json" -- "$work/$name.hard" >/dev/null 2>&1 || true
	read -r ss fn < <(verdict_ss "$work/$name.json")
	read -r kind class < <( ("$work/$name.asan" 2>&1 >/dev/null || true) | "$root/scripts/asan-kind.sh")
	asan=$class
	[ "$class" = stack-buffer-overrun ] && asan=overrun
	"$work/stackscope" run --format json -o "$work/$name.asan.json" -- "$work/$name.asan" >/dev/null 2>&1 || true
	read -r ssa _ < <(verdict_ss "$work/$name.asan.json")
	total=$((total + 1))
	ok=no
	if [ "$ss" = "$asan" ]; then ok=yes; agree=$((agree + 1)); fi
	if [ "$ssa" = "$asan" ]; then agree_asan=$((agree_asan + 1)); fi
	printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$ss" "$fn" "$kind" "$ssa" "$ok"
done
echo
echo "stackscope on hardened builds agrees with ASan on $agree of $total cases; on the ASan builds, $agree_asan of $total."
