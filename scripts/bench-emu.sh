#!/usr/bin/env bash
# Measures what `stackscope run FIRMWARE.elf` costs over QEMU alone: the emu
# tests' firmware (internal/emu/testdata, MODE=3: the deep call path N
# times, then a semihosting exit) on mps2-an385, timed with the same QEMU
# command line stackscope uses (the same -icount) without stackscope, and
# under `stackscope run` (static analysis, QEMU started halted behind its
# GDB stub, the main stack painted and read back, endless-loop checks),
# by default (one run) and with --deepest (a second run with the
# watchpoint ratchet for the deepest paths).
# Prints a Markdown table; docs/PERFORMANCE.md ("## run (firmware)") has
# the figures.
#
# Usage: scripts/bench-emu.sh [RUNS]   (default 5; the minimum is reported)
set -euo pipefail
runs=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
td="$root/internal/emu/testdata"
sed 's/FLASH_ORIGIN/0/; s/FLASH_LENGTH/4M/; s/RAM_ORIGIN/0x20000000/; s/RAM_LENGTH/4M/' "$td/link.ld.in" > "$work/same.ld"
# "apart": the startup code (where the semihosting call and the HardFault
# handler are) in its own 1 KiB page, as in any firmware larger than this
# toy. QEMU 7.2 runs code that shares a 1 KiB page with a GDB breakpoint
# one instruction at a time (accel/tcg check_for_breakpoints), and
# stackscope sets breakpoints on the semihosting calls (to read the stacks
# before SYS_EXIT ends QEMU) and on a HardFault handler that loops.
sed 's/\.text : { \*(\.text\*)/.text : { *startup.o(.text*) . = ALIGN(1024); *(.text*)/' "$work/same.ld" > "$work/apart.ld"
(cd "$root" && go build -o "$work/stackscope" ./cmd/stackscope)

time1() {
	local out
	out=$( { TIMEFORMAT='%R'; time "$@" >/dev/null 2>&1; } 2>&1 )
	echo "$out"
}
minof() { sort -n | head -1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr), $(qemu-system-arm --version | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs: $runs, plain and under stackscope interleaved; the minimum wall time is reported"
echo
echo "| firmware run | code layout | qemu-system-arm alone | stackscope run | ratio | stackscope run --deepest (the ratchet's second run) | ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
cflags=(-mcpu=cortex-m3 -mthumb -O2 -g -fno-tree-loop-distribute-patterns -ffreestanding -nostdlib -nostartfiles)
arm-none-eabi-gcc "${cflags[@]}" -c -o "$work/startup.o" "$td/startup.c"
for spec in "20000 apart" "200000 apart" "20000 same"; do
	set -- $spec
	iters=$1 layout=$2
	fw="$work/fw$iters$layout.elf"
	arm-none-eabi-gcc "${cflags[@]}" -c -DMODE=3 -DITERATIONS=$iters -o "$work/app.o" "$td/app.c"
	arm-none-eabi-gcc "${cflags[@]}" -T "$work/$layout.ld" -o "$fw" "$work/startup.o" "$work/app.o"
	# The command line of internal/emu's QEMUArgs (the JSON report's "qemu").
	qemu=(qemu-system-arm -M mps2-an385 -nographic -monitor none
		-chardev stdio,id=stackscope-out,mux=on -serial chardev:stackscope-out
		-semihosting-config enable=on,target=native,chardev=stackscope-out -icount shift=3,sleep=off -kernel "$fw")
	"$work/stackscope" run --format json -o "$work/run.json" "$fw" >/dev/null 2>&1 || true
	grep -q '"shift=3,sleep=off"' "$work/run.json" || { echo "bench-emu.sh: stackscope's QEMU command line changed; update this script" >&2; exit 1; }
	plain=() ; once=() ; traced=()
	for _ in $(seq "$runs"); do
		plain+=("$(time1 "${qemu[@]}")")
		once+=("$(time1 "$work/stackscope" run "$fw")")
		traced+=("$(time1 "$work/stackscope" run --deepest "$fw")")
	done
	p=$(printf '%s\n' "${plain[@]}" | minof)
	o=$(printf '%s\n' "${once[@]}" | minof)
	s=$(printf '%s\n' "${traced[@]}" | minof)
	echo "| path x $iters | $layout | ${p} s | ${o} s | $(awk -v a="$o" -v b="$p" 'BEGIN{printf "%.2fx", a/b}') | ${s} s | $(awk -v a="$s" -v b="$p" 'BEGIN{printf "%.2fx", a/b}') |"
done
