#!/bin/sh
# autogen.sh - generate configure and the Makefile.in files from a git
# checkout (release tarballs already contain them).
set -e

if ! command -v autoreconf >/dev/null 2>&1; then
    echo "autogen.sh: autoreconf not found:" \
         "apt-get install autoconf automake libtool pkg-config" >&2
    exit 1
fi
if ! command -v libtoolize >/dev/null 2>&1; then
    echo "autogen.sh: libtoolize not found: apt-get install libtool" >&2
    exit 1
fi

cd "$(dirname "$0")"
autoreconf -fi
