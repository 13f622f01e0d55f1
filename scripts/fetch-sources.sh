#!/bin/sh
# Fetches real C code bases from Debian's source packages for the tests
# that compare the analyzer with GCC on code that is not in this repo.
# Usage: scripts/fetch-sources.sh [PACKAGE...]   (default: zlib)
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
ls -d "$dest"/*/
