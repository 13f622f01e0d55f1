#!/usr/bin/env bash
# Compares `stackscope run`'s crash classes with AddressSanitizer's on the
# Juliet C/C++ test suite's CWE-121 (stack-based buffer overflow) cases.
#
# Usage: scripts/juliet-cwe121.sh JULIET_DIR [VARIANTS]
#   JULIET_DIR holds the suite's CWE121_*.c files (any layout: they are
#   found with find) and its testcasesupport files (io.c, std_testcase.h,
#   std_testcase_io.h, std_thread.c, std_thread.h). Nothing is downloaded:
#   bring the suite yourself (NIST SARD, or a mirror of it).
#   VARIANTS is a space-separated list of flow variants to take from every
#   flaw family (default "01 11": the plain flow and a global-flag flow).
#
# Each bad case (-DOMITGOOD -DINCLUDEMAIN) is built twice:
#   plain: gcc -O0 -g -fstack-protector-strong  -> run under stackscope run
#   asan:  gcc -O0 -g -fsanitize=address        -> run plainly, ASan's report,
#          and under stackscope run (which passes ASan's report through)
# PLAIN_CFLAGS replaces the plain build's flags, e.g.
#   PLAIN_CFLAGS="-O1 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2"
# Socket cases (which wait for a peer) are left out; stdin is /dev/null and
# each run has a 10 s timeout. ASan's kind is mapped to our classes by
# scripts/asan-kind.sh: stack-buffer-overflow, stack-buffer-underflow,
# dynamic-stack-buffer-overflow -> stack-buffer-overrun; stack-overflow ->
# stack-overflow; any other report (SEGV and the other caught signals too)
# -> other. The table compares the classes where both builds crash.
# The plain build also runs without stackscope: its exit status must be the
# one stackscope run passes through (the last line counts mismatches).
set -euo pipefail
juliet=$(cd "${1:?usage: $0 JULIET_DIR [VARIANTS]}" && pwd)
variants=${2:-"01 11"}
plain_cflags=${PLAIN_CFLAGS:-"-O0 -g -fstack-protector-strong"}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/stackscope" ./cmd/stackscope)

support=$(dirname "$(find "$juliet" -name std_testcase.h | head -1)")
[ -f "$support/io.c" ] || { echo "no testcasesupport (io.c, std_testcase.h) under $juliet" >&2; exit 2; }
extra="$support/io.c"
[ -f "$support/std_thread.c" ] && extra="$extra $support/std_thread.c"

# One case per family and variant: the single-file cases (no _01a/_01b
# splits), C only.
cases=()
for v in $variants; do
	while IFS= read -r f; do cases+=("$f"); done < <(find "$juliet" -name "CWE121_*_${v}.c" -o -name "CWE121_*_${v}_omitgood.c" | grep -v socket | sort)
done
[ ${#cases[@]} -gt 0 ] || { echo "no CWE121 cases for variants $variants under $juliet" >&2; exit 2; }

ss_class() { # stackscope run --format json -o file -> "class function"
	python3 -c '
import json,sys
try:
    d=json.load(open(sys.argv[1]))
except Exception:
    print("error -"); sys.exit()
c=d.get("crash")
print("none -" if c is None else c["class"]+" "+(c.get("function") or "?"))' "$1"
}

printf '| case | stackscope (plain build) | function | ASan | class agrees | stackscope on the ASan build |\n| --- | --- | --- | --- | --- | --- |\n'
status_mismatch=0 n=0 both=0 agree=0 only_asan=0 only_plain=0 neither=0 build_fail=0 asan_reports=0 asan_agree=0 asan_signals=0 both_signal=0 agree_signal=0
declare -A disagree
for src in "${cases[@]}"; do
	name=$(basename "$src" .c)
	name=${name#CWE121_Stack_Based_Buffer_Overflow__}
	name=${name%_omitgood}
	if ! gcc $plain_cflags -w -I"$support" -DINCLUDEMAIN -DOMITGOOD -o "$work/p" "$src" $extra -lpthread -lm 2>/dev/null ||
	   ! gcc -O0 -g -w -fsanitize=address -I"$support" -DINCLUDEMAIN -DOMITGOOD -o "$work/a" "$src" $extra -lpthread -lm 2>/dev/null; then
		build_fail=$((build_fail + 1)); continue
	fi
	n=$((n + 1))
	ss_status=0 plain_status=0
	timeout 10 "$work/stackscope" run --format json -o "$work/p.json" -- "$work/p" </dev/null >/dev/null 2>&1 || ss_status=$?
	{ timeout 10 "$work/p" </dev/null >/dev/null 2>&1; } 2>/dev/null || plain_status=$? # (no "Aborted" from bash)
	[ "$ss_status" = "$plain_status" ] || { status_mismatch=$((status_mismatch + 1)); echo "exit status: $name: $plain_status plainly, $ss_status under stackscope run" >&2; }
	read -r ss fn < <(ss_class "$work/p.json")
	read -r kind asan < <( (ASAN_OPTIONS=detect_leaks=0 timeout 10 "$work/a" </dev/null 2>&1 >/dev/null || true) | "$root/scripts/asan-kind.sh")
	timeout 10 "$work/stackscope" run --format json -o "$work/a.json" -- env ASAN_OPTIONS=detect_leaks=0 "$work/a" </dev/null >/dev/null 2>&1 || true
	read -r ssa _ < <(ss_class "$work/a.json")
	if [ "$asan" != none ]; then
		asan_reports=$((asan_reports + 1))
		case "$kind" in [A-Z]*) asan_signals=$((asan_signals + 1)) ;; esac
		[ "$ssa" = "$asan" ] && asan_agree=$((asan_agree + 1))
	fi
	ok=""
	if [ "$ss" = none ] || [ "$ss" = error ]; then
		if [ "$asan" = none ]; then neither=$((neither + 1)); else only_asan=$((only_asan + 1)); fi
	elif [ "$asan" = none ]; then
		only_plain=$((only_plain + 1))
	else
		both=$((both + 1))
		if [ "$ss" = "$asan" ]; then agree=$((agree + 1)); ok=yes; else ok=NO; disagree["$ss vs $kind"]=$(( ${disagree["$ss vs $kind"]:-0} + 1 )); fi
		# A caught signal is ASan's report of a crash in which it saw no
		# memory error first: counted apart too, so that the agreement on
		# the errors ASan did name stays visible.
		case "$kind" in [A-Z]*)
			both_signal=$((both_signal + 1))
			[ "$ok" = yes ] && agree_signal=$((agree_signal + 1)) ;;
		esac
	fi
	printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$ss" "$fn" "$kind" "$ok" "$ssa"
done
echo
echo "cases built and run: $n (build failures: $build_fail)"
echo "both builds crash: $both; classes agree: $agree"
echo "  of them, ASan's report is a caught signal in $both_signal (classes agree in $agree_signal); where ASan named a memory error, classes agree in $((agree - agree_signal)) of $((both - both_signal))"
echo "only the ASan build reports: $only_asan; only the plain build crashes: $only_plain; neither: $neither"
echo "ASan builds: ASan reports in $asan_reports (a signal ASan caught, SEGV, BUS, FPE or ILL, in $asan_signals); stackscope run on them gives ASan's class in $asan_agree"
echo "plain builds whose exit status differs under stackscope run: $status_mismatch"
for k in "${!disagree[@]}"; do echo "disagreement (stackscope vs ASan): $k: ${disagree[$k]}"; done
