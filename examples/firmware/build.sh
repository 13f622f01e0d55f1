#!/bin/sh
# Rebuilds firmware.elf, the example that the README analyses. Needs
# arm-none-eabi-gcc (Debian: apt-get install gcc-arm-none-eabi).
# It compiles from the repository's root and maps that directory to "." in
# the debug information, so that the source lines read
# examples/firmware/app.c:76 in every checkout (run stackscope from the
# root), not a path of the machine that built it.
set -e
cd "$(dirname "$0")/../.."
arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb -O2 -g -fstack-usage -ffreestanding -nostdlib \
    -Wall -ffile-prefix-map="$(pwd)"=. -T examples/firmware/link.ld -Wl,--gc-sections \
    -o examples/firmware/firmware.elf examples/firmware/startup.c examples/firmware/app.c -lgcc
