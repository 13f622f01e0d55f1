#!/usr/bin/env bash
# Measures `stackscope inject` and `stackscope minstack FIRMWARE.elf`: wall
# time of one injection on the injection tests' firmware (mps2-an385, the
# three placements with the naked HardFault handler, --at work), and of a
# firmware minstack bisection on the emu tests' firmware (the deep path
# once, then a semihosting exit; 2 KiB image stack). Prints a Markdown
# table; docs/PERFORMANCE.md ("### Fault injection on firmware") has the
# figures.
#
# Usage: scripts/bench-inject.sh [RUNS]   (default 3; the minimum is reported)
set -euo pipefail
runs=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
td="$root/internal/emu/testdata"
(cd "$root" && go build -o "$work/stackscope" ./cmd/stackscope)
cflags=(-mcpu=cortex-m3 -mthumb -O2 -g -ffreestanding -nostdlib -nostartfiles)

time1() {
	local out
	out=$( { TIMEFORMAT='%R'; time "$@" >/dev/null 2>&1 || true; } 2>&1 )
	echo "$out"
}
minof() { sort -n | head -1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr), $(qemu-system-arm --version | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs: $runs; the minimum wall time is reported"
echo
echo "| command | firmware | verdict | wall time |"
echo "| --- | --- | --- | --- |"
for ld in start gap after_bss; do
	fw="$work/$ld.elf"
	arm-none-eabi-gcc "${cflags[@]}" -T "$td/inject/$ld.ld" -o "$fw" "$td/inject/startup.c" "$td/inject/app.c" "$td/inject/hardfault_naked.c"
	verdict=$("$work/stackscope" inject --at work --ld "$td/inject/$ld.ld" "$fw" 2>&1 >/dev/null | head -1 | sed 's/^stackscope: //; s/:.*//') || true
	ts=()
	for _ in $(seq "$runs"); do ts+=("$(time1 "$work/stackscope" inject --at work --ld "$td/inject/$ld.ld" "$fw")"); done
	echo "| inject --at work | $ld, naked handler | $verdict | $(printf '%s\n' "${ts[@]}" | minof) s |"
done
sed 's/FLASH_ORIGIN/0/; s/FLASH_LENGTH/4M/; s/RAM_ORIGIN/0x20000000/; s/RAM_LENGTH/4M/' "$td/link.ld.in" > "$work/emu.ld"
fw="$work/emu.elf"
arm-none-eabi-gcc "${cflags[@]}" -fno-tree-loop-distribute-patterns -T "$work/emu.ld" -o "$fw" "$td/startup.c" "$td/app.c"
first=$("$work/stackscope" minstack "$fw" | head -1 | sed 's/^stackscope: //; s/ (.*//')
ts=()
for _ in $(seq "$runs"); do ts+=("$(time1 "$work/stackscope" minstack "$fw")"); done
nruns=$("$work/stackscope" minstack --format json "$fw" | grep -c '"size"')
echo "| minstack | emu tests' firmware, 2 KiB stack | $first, $nruns runs + oracle | $(printf '%s\n' "${ts[@]}" | minof) s |"
