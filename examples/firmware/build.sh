#!/bin/sh
# Rebuilds firmware.elf, the example that the README analyses. Needs
# arm-none-eabi-gcc (Debian: apt-get install gcc-arm-none-eabi).
set -e
cd "$(dirname "$0")"
arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb -O2 -g -fstack-usage -ffreestanding -nostdlib \
    -Wall -T link.ld -Wl,--gc-sections -o firmware.elf startup.c app.c -lgcc
