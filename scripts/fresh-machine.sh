#!/bin/sh
# A new user's first hour, checked on a fresh Debian 12 machine: makes a
# bookworm root with debootstrap, copies in this machine's Go (as a user
# who "has Go" has it: /usr/local/go, on PATH through /etc/profile.d), clones
# this checkout's current branch into the user's home, and there follows
# only the README: install, the example, ./scripts/test.sh (which must
# install everything by itself), a firmware of one's own and the CI
# commands. Each step prints "-- ok" or "-- FAIL"; the exit status is 1 when
# one failed. Slow (debootstrap, apt, the whole suite): not in test.sh.
#
# Usage (as root, with network): scripts/fresh-machine.sh [--as user|root] [ROOT]
#   --as user (default): a user with sudo, as the README's test command implies
#   --as root: everything as root
#   FRESH_CORPORA=DIR (environment): copy the test corpora to ../shared/corpora
#   ROOT: where the new root goes (default /var/tmp/stackscope-fresh); an
#   existing Debian root there is reused (delete it for a fresh machine).
# Only committed changes are checked: it clones the branch. Mounts (proc,
# sys, dev/pts, dev/shm) are removed on exit; ROOT stays for a look
# afterwards.
set -eu

# inside runs in the chroot, in the clone, as the user: the README's steps.
inside() {
    fails=0
    # check STATUS WHAT CMD...: runs CMD, which must exit STATUS.
    check() {
        want=$1 what=$2
        shift 2
        echo "== $what: $*"
        set +e
        "$@"
        got=$?
        set -e
        if [ "$got" = "$want" ]; then
            echo "-- ok: $what (exit $got)"
        else
            echo "-- FAIL: $what: exit $got, expected $want"
            fails=$((fails + 1))
        fi
    }
    warns=0
    # warn WHAT CMD...: a step that may fail for reasons outside the
    # checkout (a module proxy that does not serve the module): reported,
    # not counted as a failure.
    warn() {
        what=$1
        shift
        echo "== $what: $*"
        if "$@"; then echo "-- ok: $what"; else
            echo "-- WARN: $what failed"
            warns=$((warns + 1))
        fi
    }
    repo=$(pwd)
    echo "fresh-machine: $(id -un) in $repo, $(go version), $(git log -1 --format='%h %s')"

    # Install, as the README says.
    warn "install (go install @latest; needs the module on the proxy)" env CGO_ENABLED=0 go install github.com/stackscope/stackscope/cmd/stackscope@latest
    check 0 "install (go install in the checkout)" env CGO_ENABLED=0 go install ./cmd/stackscope
    check 127 "not on PATH before the README's export" sh -c 'command -v stackscope >/dev/null || exit 127'
    export PATH="$PATH:$(go env GOPATH)/bin"
    check 0 "stackscope on PATH" stackscope version
    check 0 "build in a checkout" go build ./cmd/stackscope

    # Try it: the README's example, and its output as the README shows it.
    go run ./cmd/stackscope analyze examples/firmware/firmware.elf >/tmp/example.txt 2>&1 || true
    cat /tmp/example.txt
    awk '/^    go run .\/cmd\/stackscope analyze examples/{f=1} f&&/^```$/{n++; next} f&&n==1&&!/^\.\.\.$/{print} n==2{exit}' README.md >/tmp/example.readme
    check 0 "the example's output is the README's" sh -c 'head -n "$(wc -l </tmp/example.readme)" /tmp/example.txt | diff -u /tmp/example.readme -'
    check 1 "layout of the example (UNSAFE on purpose)" go run ./cmd/stackscope layout examples/firmware/firmware.elf --ld examples/firmware/link.ld --svg /tmp/map.svg
    check 0 "the map" test -s /tmp/map.svg
    check 0 "run a program" stackscope run -- ls /
    check 0 "minstack" stackscope minstack -- ls /
    check 1 "report of the example (UNSAFE layout: exit 1)" stackscope report -o /tmp/stack.html examples/firmware/firmware.elf
    check 0 "the report" test -s /tmp/stack.html

    # Run the tests: installs what they need, fetches sources, the suite.
    start=$(date +%s)
    check 0 "./scripts/test.sh" ./scripts/test.sh
    echo "fresh-machine: test.sh took $(($(date +%s) - start)) s"

    # Use it on your firmware: one written here as a user would, built
    # with the toolchain test.sh installed.
    own_firmware "$HOME/myfw"
    cd "$HOME/myfw"
    check 0 "analyze my firmware" stackscope analyze --exclude vAssertCalled build/firmware.elf
    check 0 "layout of my firmware" stackscope layout --ld link.ld build/firmware.elf
    printf '[memory]\nld = "link.ld"\n' >stackscope.toml
    check 0 "report of my firmware ([memory] in the working directory)" stackscope report -o stack.html build/firmware.elf
    check 0 "the report" test -s stack.html
    mv stackscope.toml build/stackscope.toml
    sed -i 's|"link.ld"|"../link.ld"|' build/stackscope.toml
    check 0 "layout of my firmware ([memory] beside the ELF)" stackscope layout build/firmware.elf

    # Use it in CI.
    check 0 "budget 8K" stackscope analyze --budget 8K build/firmware.elf
    check 1 "budget 64 (exceeded)" stackscope analyze --budget 64 build/firmware.elf
    cp build/firmware.elf old.elf
    build_firmware -DLOG_LINE=512
    check 1 "diff, grown past 256 B" stackscope diff --max-growth 256 old.elf build/firmware.elf
    check 0 "diff, within 5%" stackscope diff --max-growth 5% old.elf old.elf
    build_firmware
    check 0 "SARIF with the layout" sh -c 'stackscope analyze --format sarif --with-layout --ld link.ld build/firmware.elf >stack.sarif'
    check 0 "the SARIF log" grep -q '"version": *"2.1.0"' stack.sarif
    check 0 "completion" sh -c 'stackscope completion bash >/dev/null'

    echo "fresh-machine: $fails step(s) failed, $warns warning(s)"
    [ "$fails" = 0 ]
}

# own_firmware DIR writes a small Cortex-M3 firmware of one's own into DIR
# (startup, linker script with the stack first in RAM, two interrupts at
# different priorities, an assert handler) and builds it.
own_firmware() {
    mkdir -p "$1/build"
    cd "$1"
    cat >link.ld <<'EOF'
/* 128K flash, 20K RAM; the stack first in RAM, so an overflow faults. */
ENTRY(Reset_Handler)
MEMORY
{
    FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 128K
    RAM (rwx)  : ORIGIN = 0x20000000, LENGTH = 20K
}
SECTIONS
{
    .vectors : { KEEP(*(.vectors)) } > FLASH
    .text : { *(.text*) *(.rodata*) . = ALIGN(4); } > FLASH
    .stack (NOLOAD) : { . = ALIGN(8); . += 2K; _estack = .; } > RAM
    _sidata = LOADADDR(.data);
    .data : { _sdata = .; *(.data*) . = ALIGN(4); _edata = .; } > RAM AT > FLASH
    .bss : { _sbss = .; *(.bss*) *(COMMON) . = ALIGN(4); _ebss = .; } > RAM
}
EOF
    cat >startup.c <<'EOF'
#include <stdint.h>
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);
void Reset_Handler(void);
void Fault_Handler(void);
void EXTI0_IRQHandler(void);
void ADC1_2_IRQHandler(void);

__attribute__((section(".vectors"), used))
void (*const vectors[16 + 19])(void) = {
    (void (*)(void))&_estack, Reset_Handler,
    Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    [16 + 6] = EXTI0_IRQHandler,
    [16 + 18] = ADC1_2_IRQHandler,
};

void Reset_Handler(void)
{
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;)
        *dst++ = *src++;
    for (uint32_t *dst = &_sbss; dst < &_ebss;)
        *dst++ = 0;
    main();
    for (;;)
        ;
}

/* Resets the chip: no stack used (it may be what overflowed). */
__attribute__((naked)) void Fault_Handler(void)
{
    __asm volatile("ldr r0, =0xE000ED0C\n ldr r1, =0x05FA0004\n str r1, [r0]\n b .");
}
EOF
    cat >app.c <<'EOF'
#include <stdint.h>
#ifndef LOG_LINE
#define LOG_LINE 32
#endif
#define NVIC_IPR ((volatile uint8_t *)0xE000E400)
#define NVIC_ISER0 (*(volatile uint32_t *)0xE000E100)
#define ADC_DR (*(volatile uint32_t *)0x4001244C)
#define GPIO_IDR (*(volatile uint32_t *)0x40010808)

volatile uint32_t samples[64], edges, logged;

void vAssertCalled(const char *file, int line)
{
    (void)file; (void)line;
    for (;;)
        ;
}
#define ASSERT(c) ((c) ? (void)0 : vAssertCalled(__FILE__, __LINE__))

static void log_line(const char *what, uint32_t v)
{
    char line[LOG_LINE];
    int n = 0;
    while (*what && n < LOG_LINE - 12)
        line[n++] = *what++;
    for (int i = 0; i < 8; i++)
        line[n++] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
    line[n] = 0;
    for (int i = 0; i < n; i++)
        logged += (uint8_t)line[i];
}

void EXTI0_IRQHandler(void)
{
    edges++;
    log_line("edge ", edges);
}

void ADC1_2_IRQHandler(void)
{
    static unsigned next;
    ASSERT(next < 64);
    samples[next] = ADC_DR;
    next = (next + 1) % 64;
}

int main(void)
{
    NVIC_IPR[6] = 0x80;  /* EXTI0 below ADC */
    NVIC_IPR[18] = 0x40;
    NVIC_ISER0 = (1u << 6) | (1u << 18);
    for (;;) {
        uint32_t sum = 0;
        for (int i = 0; i < 64; i++)
            sum += samples[i];
        log_line("sum ", sum + GPIO_IDR);
    }
}
EOF
    build_firmware
}

build_firmware() {
    arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb -O2 -g -ffreestanding -nostdlib -Wall \
        -T link.ld -Wl,--gc-sections "$@" -o build/firmware.elf startup.c app.c -lgcc
}

if [ "${1:-}" = --inside ]; then
    inside
    exit
fi

as=user
if [ "${1:-}" = --as ]; then
    as=$2
    shift 2
fi
case "$as" in user | root) ;; *)
    echo "fresh-machine: --as takes user or root, not $as" >&2
    exit 2
    ;;
esac
root=${1:-/var/tmp/stackscope-fresh}
if [ "$(id -u)" != 0 ]; then
    echo "fresh-machine: run it as root (debootstrap, chroot and mount need it)" >&2
    exit 2
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
branch=$(git -C "$repo" rev-parse --abbrev-ref HEAD)
goroot=$(go env GOROOT)

if [ -e "$root/etc/debian_version" ]; then
    echo "fresh-machine: reusing the Debian root in $root (delete it for a fresh machine)"
else
    command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
    debootstrap --include=ca-certificates,git,sudo bookworm "$root" http://deb.debian.org/debian
fi

unmount() {
    for m in dev/shm dev/pts sys proc; do
        if mountpoint -q "$root/$m"; then umount "$root/$m" || umount -l "$root/$m"; fi
    done
}
trap unmount EXIT
trap 'exit 130' INT TERM
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
# The root's own device nodes (debootstrap made them), not this machine's
# /dev: what runs as root in there (apt, the suite) cannot remove or
# replace a device of the host, and nothing on the host can break it.
# Pseudo-terminals from a devpts of its own (its /dev/ptmx opens ../pts).
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts"
mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
cp /etc/resolv.conf "$root/etc/resolv.conf"
grep -qs "$(hostname)" "$root/etc/hosts" || echo "127.0.1.1 $(hostname)" >>"$root/etc/hosts" # sudo looks it up
# This network's own certificate authorities (a TLS-inspecting proxy's),
# which every machine on it needs to reach the Go proxy.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null
fi

# Go as go.dev/doc/install leaves it: /usr/local/go, its bin on PATH.
rm -rf "$root/usr/local/go"
cp -a "$goroot" "$root/usr/local/go"
echo 'export PATH=$PATH:/usr/local/go/bin' >"$root/etc/profile.d/go.sh"

user=root home=/root
if [ "$as" = user ]; then
    user=newuser home=/home/newuser
    chroot "$root" id "$user" >/dev/null 2>&1 || chroot "$root" useradd -m -s /bin/bash "$user"
    echo "$user ALL=(ALL) NOPASSWD:ALL" >"$root/etc/sudoers.d/$user"
fi
rm -rf "$root$home/stackscope"
git clone -q --branch "$branch" "$repo" "$root$home/stackscope"
# FRESH_CORPORA=DIR: the test corpora (FreeRTOS-Kernel, ...) where the
# README says to put them, ../shared/corpora from the checkout; without it
# the tests that need them must skip, each with one line.
if [ -n "${FRESH_CORPORA:-}" ]; then
    rm -rf "$root$home/shared"
    mkdir -p "$root$home/shared"
    cp -a "$FRESH_CORPORA" "$root$home/shared/corpora"
fi
chroot "$root" chown -R "$user:" "$home"

# A login shell: the environment a user has, not this one's (GOFLAGS...).
chroot "$root" su - "$user" -c 'cd stackscope && ./scripts/fresh-machine.sh --inside'
