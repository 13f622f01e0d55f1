#!/bin/sh
# The whole test suite, on a fresh Debian machine with Go: installs with
# apt-get whatever the tests need when it is missing, then runs go vet and
# go test. Extra arguments go to `go test` (for example -run Thumb -v).
set -eu
cd "$(dirname "$0")/.."

# command-or-file : Debian package
needs="
gcc:gcc
g++:g++
objdump:binutils
readelf:binutils
nm:binutils
objcopy:binutils
strip:binutils
as:binutils
awk:mawk
arm-none-eabi-gcc:gcc-arm-none-eabi
arm-none-eabi-g++:gcc-arm-none-eabi
arm-none-eabi-objdump:binutils-arm-none-eabi
arm-none-eabi-ld:binutils-arm-none-eabi
arm-none-eabi-as:binutils-arm-none-eabi
arm-none-eabi-nm:binutils-arm-none-eabi
arm-none-eabi-addr2line:binutils-arm-none-eabi
arm-none-eabi-objcopy:binutils-arm-none-eabi
/usr/lib/arm-none-eabi/newlib/libc.a:libnewlib-arm-none-eabi
/usr/lib/arm-none-eabi/newlib/libstdc++.a:libstdc++-arm-none-eabi-newlib
riscv64-unknown-elf-gcc:gcc-riscv64-unknown-elf
riscv64-unknown-elf-objdump:binutils-riscv64-unknown-elf
riscv64-unknown-elf-nm:binutils-riscv64-unknown-elf
/usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs:picolibc-riscv64-unknown-elf
riscv64-linux-gnu-gcc:gcc-riscv64-linux-gnu
riscv64-linux-gnu-objdump:binutils-riscv64-linux-gnu
dpkg-source:dpkg-dev
dot:graphviz
chromium:chromium
gdb:gdb
musl-gcc:musl-tools
/usr/share/doc/libc6-dbg/copyright:libc6-dbg
tclsh:tcl
make:make
qemu-system-arm:qemu-system-arm
qemu-system-riscv32:qemu-system-misc
qemu-system-riscv64:qemu-system-misc
aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu
aarch64-linux-gnu-objdump:binutils-aarch64-linux-gnu
/usr/aarch64-linux-gnu/lib/libc.so.6:libc6-arm64-cross
/usr/aarch64-linux-gnu/include/stdio.h:libc6-dev-arm64-cross
/usr/riscv64-linux-gnu/lib/libc.so.6:libc6-riscv64-cross
/usr/riscv64-linux-gnu/include/stdio.h:libc6-dev-riscv64-cross
qemu-aarch64:qemu-user
qemu-riscv64:qemu-user
"
missing=""
for pair in $needs; do
    what=${pair%%:*}
    pkg=${pair#*:}
    case "$what" in
    /*) [ -e "$what" ] && continue ;;
    *) command -v "$what" >/dev/null 2>&1 && continue ;;
    esac
    case "$missing " in
    *" $pkg "*) ;; # one package gives several commands
    *) missing="$missing $pkg" ;;
    esac
done
if [ -n "$missing" ]; then
    echo "test.sh: installing$missing" >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Real code bases from Debian's source packages, for the comparisons with
# GCC on code that is not in this repo.
./scripts/fetch-sources.sh zlib lua5.4 sqlite3 >/dev/null

# Tests fail, rather than skip, when a tool they need is missing.
export STACKSCOPE_REQUIRE_TOOLS=1
go vet ./...
# "go install" must build anywhere: the static commands on every OS, run and
# minstack saying plainly where they cannot work.
for target in darwin/arm64 windows/amd64 linux/arm64; do
    GOOS=${target%/*} GOARCH=${target#*/} CGO_ENABLED=0 go build -o /dev/null ./cmd/stackscope
done
go test -count=1 -timeout 30m "$@" ./...
