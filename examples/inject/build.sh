#!/bin/sh
# Builds the example firmware (../firmware) again in two more layouts for
# docs/inject.md, into OUT (default: /tmp/stackscope-inject):
#   after_bss.elf    the stack directly after .bss, the example's handlers
#   fixed-c.elf      the stack first in RAM, the example's C HardFault handler
#   fixed-naked.elf  the stack first in RAM, the stackless handler here
# The example's own HardFault handler is renamed away with -D for the last.
set -e
here=$(cd "$(dirname "$0")" && pwd)
fw=$here/../firmware
out=${OUT:-/tmp/stackscope-inject}
mkdir -p "$out"
cc="arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb -O2 -g -ffreestanding -nostdlib -Wl,--gc-sections"
$cc -T "$here/link_after_bss.ld" -o "$out/after_bss.elf" "$fw/startup.c" "$fw/app.c" -lgcc
$cc -T "$here/link_fixed.ld" -o "$out/fixed-c.elf" "$fw/startup.c" "$fw/app.c" -lgcc
$cc -c -DHardFault_Handler=app_HardFault_Handler -o "$out/app-nohandler.o" "$fw/app.c"
$cc -T "$here/link_fixed.ld" -o "$out/fixed-naked.elf" "$fw/startup.c" "$out/app-nohandler.o" "$here/hardfault_naked.c" -lgcc
echo "$out: after_bss.elf fixed-c.elf fixed-naked.elf"
