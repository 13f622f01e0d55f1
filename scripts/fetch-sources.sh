#!/bin/sh
# Fetches real C code bases from Debian's source packages for the tests
# that compare the analyzer with GCC on code that is not in this repo.
# Usage: scripts/fetch-sources.sh [PACKAGE...]   (default: zlib)
# sqlite3 also gets its amalgamation built (sqlite3.c; needs tclsh).
# They land in .cache/sources/<package>-<version>/ (ignored by git).
set -eu
cd "$(dirname "$0")/.."
pkgs=${*:-zlib}
dest=.cache/sources
mkdir -p "$dest"
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    # Debian's own archive, as a deb-src entry beside the deb ones.
    $sudo sh -c 'cat > /etc/apt/sources.list.d/stackscope-src.sources' <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    $sudo apt-get update -qq
fi
command -v dpkg-source >/dev/null 2>&1 || $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev >/dev/null
for p in $pkgs; do
    if ls -d "$dest/$p"-*/ >/dev/null 2>&1; then
        continue
    fi
    (cd "$dest" && apt-get source -qq "$p" >/dev/null 2>&1) || { echo "fetch-sources: apt-get source $p failed" >&2; exit 1; }
done
# sqlite3's tests compile its amalgamation (one sqlite3.c), which
# Debian's source tree does not hold: it is generated, with tclsh.
for d in "$dest"/sqlite3-*/; do
    [ -d "$d" ] && [ ! -f "$d/sqlite3.c" ] || continue
    command -v tclsh >/dev/null 2>&1 || $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcl >/dev/null
    src=$(cd "$d" && pwd)
    bld=$(mktemp -d)
    (cd "$bld" && "$src/configure" >/dev/null 2>&1 && make sqlite3.c >/dev/null 2>&1 && cp sqlite3.c sqlite3.h "$src/") ||
        { echo "fetch-sources: building sqlite3's amalgamation in $bld failed" >&2; exit 1; }
    rm -rf "$bld"
done
ls -d "$dest"/*/
