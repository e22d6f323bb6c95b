#!/bin/sh
# check_exports.sh - libgohttpd.so exports the public API and nothing else:
# every dynamic symbol it defines must match ^gh_[a-z] (so the internal
# gh__* functions and any helper that forgot "static" stay private).  In the
# manner of jansson's check-exports.
#
# Environment: top_builddir (set by AM_TESTS_ENVIRONMENT; default ".").
# Exit 0 pass, 1 fail, 77 skip (no shared library built, or no nm).
set -u

top_builddir=${top_builddir:-.}
lib=$top_builddir/lib/.libs/libgohttpd.so
NM=${NM:-nm}

if [ ! -f "$lib" ]; then
    echo "SKIP: $lib not found (built with --disable-shared?)"
    exit 77
fi
if ! command -v "$NM" >/dev/null 2>&1; then
    echo "SKIP: $NM not found"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_exports.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# Defined dynamic symbols, names only, without @VERSION suffixes; absolute
# (type A) entries are version-node names, not code or data.
if ! "$NM" -D --defined-only "$lib" >"$tmp/nm.out"; then
    echo "FAIL: $NM -D --defined-only $lib failed"
    exit 1
fi
awk 'NF >= 2 && $(NF-1) != "A" { print $NF }' "$tmp/nm.out" |
    sed 's/@.*//' | sort -u >"$tmp/symbols"

# What the linker adds to every shared object.
grep -v -E '^(_init|_fini|_edata|_end|__bss_start|__bss_start__|_bss_end__|__end__|__bss_end__|_DYNAMIC|_GLOBAL_OFFSET_TABLE_)$' \
    "$tmp/symbols" >"$tmp/ours"

if ! grep -q -E '^gh_[a-z]' "$tmp/ours"; then
    echo "FAIL: $lib exports no gh_* symbol at all; nm says:"
    cat "$tmp/nm.out"
    exit 1
fi

if grep -v -E '^gh_[a-z]' "$tmp/ours" >"$tmp/bad"; then
    echo "FAIL: $lib exports symbols outside ^gh_[a-z]:"
    sed 's/^/    /' "$tmp/bad"
    exit 1
fi

echo "PASS: $(wc -l <"$tmp/ours") exported symbols, all ^gh_[a-z]"
exit 0
