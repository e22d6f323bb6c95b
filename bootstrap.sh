#!/bin/sh
# bootstrap.sh - from a fresh Debian 12 checkout to a built tree, in one step.
#
#   ./bootstrap.sh [CONFIGURE-OPTION...]
#
# 1. installs the Debian packages the build and the tests need, when any is
#    missing (apt-get, through sudo when not root);
# 2. runs ./autogen.sh (autoreconf -fi);
# 3. runs configure with the given options in the current directory, so
#    `mkdir build-asan && cd build-asan && ../bootstrap.sh --enable-sanitizers=address,undefined`
#    builds out of tree (the source tree must not be configured in place);
# 4. runs make -j2.
set -eu

srcdir=$(cd "$(dirname "$0")" && pwd)

# build: compiler, autotools, libraries.  tests: curl, groff (man lint),
# chromium (the status dashboard in a headless browser), nginx-light and
# haproxy (real reverse proxies in front), python3 (small protocol clients:
# PROXY headers, systemd's part), openssl (test certificates, s_client).
# sanitizer builds with
# gcc: the ASan, UBSan and TSan runtimes (libgcc-12-dev, pulled in by
# build-essential, has the link-time libraries).
packages="build-essential autoconf automake libtool pkg-config
          libev-dev libssl-dev check node-llhttp
          curl chromium nginx-light haproxy python3 openssl
          libasan8 libubsan1 libtsan2 groff-base"

missing=
if command -v dpkg-query >/dev/null 2>&1; then
    for p in $packages; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        case $status in
        "install ok installed") ;;
        *) missing="$missing $p" ;;
        esac
    done
else
    echo "bootstrap.sh: no dpkg-query (not Debian?): make sure these are" \
         "installed:" $packages >&2
fi

if [ -n "$missing" ]; then
    echo "bootstrap.sh: installing:$missing"
    if [ "$(id -u)" -eq 0 ]; then
        sudo=
    elif command -v sudo >/dev/null 2>&1; then
        sudo=sudo
    else
        echo "bootstrap.sh: not root and no sudo: as root, run" \
             "apt-get install$missing" >&2
        exit 1
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive \
        apt-get install -q -y --no-install-recommends $missing
fi

"$srcdir/autogen.sh"
"$srcdir/configure" "$@"
make -j2
