#!/bin/sh
# check-man.sh - the man pages say what the headers say, render cleanly,
# and their examples work.
#
#   1. groff -man -ww -z (and mandoc -T lint, when installed) print
#      nothing for any page (sections 3, 5 and 8);
#   2. every GH_API function of lib/include is named in the NAME section of
#      a page, and every name there except the page's own has an alias page
#      man/alias/NAME.3 in the build tree (".so man3/PAGE.3");
#   3. every example block (.EX/.EE) that holds a main() is unescaped,
#      compiled with this build's flags against the headers, linked with
#      lib/libgohttpd, and run: it must exit 0.  A block that holds a
#      handler plugin (a line starting GH_HANDLER_DEFINE) is built as the
#      daemon's plugins are, with -fPIC -shared, and a loader opens it as
#      the daemon does (dlopen RTLD_NOW | RTLD_LOCAL), checks its entry and
#      runs its init, with an empty route block, and its fini.
#
# Environment (set by AM_TESTS_ENVIRONMENT; see man/Makemodule.am):
# top_srcdir, top_builddir, CC, GH_MAN_CFLAGS, GH_MAN_LDFLAGS.  Writes only
# under a mktemp directory.  Exit 0 pass, 1 fail, 77 skip (no library).
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
CC=${CC:-cc}
GH_MAN_CFLAGS=${GH_MAN_CFLAGS:--Wall -Wextra -Wno-unused-parameter -pthread}
GH_MAN_LDFLAGS=${GH_MAN_LDFLAGS:--pthread}
mandir=$top_srcdir/man
libdir=$(cd "$top_builddir/lib/.libs" 2>/dev/null && pwd) || libdir=
timeout_s=60

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-man.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

failed=0
fail() {
    echo "FAIL: $*"
    failed=1
}

pages=$(cd "$mandir" && ls *.3)
allpages=$(cd "$mandir" && ls *.3 *.5 *.8 2>/dev/null)

# ---- 1. rendering ----
if command -v groff >/dev/null 2>&1; then
    for p in $allpages; do
        groff -man -ww -z "$mandir/$p" >"$tmp/lint" 2>&1
        if [ -s "$tmp/lint" ]; then
            fail "groff warns about $p:"
            cat "$tmp/lint"
        fi
    done
    echo "checked: groff -man -ww -z"
else
    echo "SKIP (part): groff not installed"
fi
if command -v mandoc >/dev/null 2>&1; then
    for p in $allpages; do
        if ! mandoc -T lint -W warning "$mandir/$p" >"$tmp/lint" 2>&1 ||
            [ -s "$tmp/lint" ]; then
            fail "mandoc -T lint warns about $p:"
            cat "$tmp/lint"
        fi
    done
    echo "checked: mandoc -T lint"
fi

# ---- 2. every public function has a page, every name an alias ----
# NAME sections as "page name" lines.
for p in $pages; do
    names=$(sed -n '/^\.SH NAME/,/^\.SH/{/^\.SH/d;p;}' "$mandir/$p" |
        tr '\n' ' ' | sed 's/ \\-.*//; s/,/ /g')
    for n in $names; do
        echo "$p $n"
    done
done >"$tmp/names"

for h in "$top_srcdir"/lib/include/gohttpd/*.h \
         "$top_srcdir"/lib/include/gohttpd/version.h.in; do
    sed -n 's/^GH_API[^(]*[ *]\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' "$h"
done | sort -u >"$tmp/api"
[ -s "$tmp/api" ] || fail "no GH_API function found in lib/include"
while read -r fn; do
    grep -q " $fn\$" "$tmp/names" || fail "$fn is in no man page's NAME"
done <"$tmp/api"

while read -r page name; do
    [ "$name.3" = "$page" ] && continue
    alias=$top_builddir/man/alias/$name.3
    if [ ! -f "$alias" ]; then
        fail "no alias page $alias (NAME of $page; make all)"
    elif [ "$(cat "$alias")" != ".so man3/$page" ]; then
        fail "$alias does not source man3/$page"
    fi
done <"$tmp/names"
echo "checked: $(wc -l <"$tmp/api") functions named," \
     "$(wc -l <"$tmp/names") names with pages or aliases"

# ---- 3. the examples compile and run ----
if [ -z "$libdir" ] || [ ! -e "$libdir/libgohttpd.so" ]; then
    echo "SKIP (part): $top_builddir/lib/.libs/libgohttpd.so not built"
    [ "$failed" = 0 ] && exit 77
    exit 1
fi

run_with_timeout() {
    if command -v timeout >/dev/null 2>&1; then
        timeout "$timeout_s" "$@"
    else
        "$@"
    fi
}

# The loader for plugin examples, built on first use: "" until then.
loader=
build_loader() {
    cat >"$tmp/plugin-load.c" <<'EOC'
/* Open a handler plugin as gohttpd does, check its entry, run its init
 * with an empty route block, then its fini. */
#include <dlfcn.h>
#include <stdio.h>

#include <gohttpd.h>

static int check(const char *path)
{
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    const gh_handler_t *h;
    gh_conf_section_t *conf = NULL;
    void *state = NULL;
    char err[512] = "";
    int rc;

    if (!dl) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    h = dlsym(dl, GH_HANDLER_SYMBOL);
    if (!h || h->abi != GH_HANDLER_ABI || h->size != sizeof(*h) ||
        !h->name || !h->serve) {
        fprintf(stderr, "%s: no valid %s\n", path, GH_HANDLER_SYMBOL);
        return 1;
    }
    rc = gh_conf_parse_string("route", "", 0, &conf, err, sizeof(err));
    if (rc == 0 && h->init)
        rc = h->init(conf, &state);
    if (rc != 0) {
        fprintf(stderr, "%s: init: %s\n", h->name,
                conf && gh_conf_error(conf) ? gh_conf_error(conf)
                : *err ? err : gh_strerror(rc));
        return 1;
    }
    if (h->fini)
        h->fini(state);
    gh_conf_free(conf);
    dlclose(dl);
    return 0;
}

int main(int argc, char **argv)
{
    return argc == 2 ? check(argv[1]) : 2;
}
EOC
    # shellcheck disable=SC2086 # the flags are word lists
    if $CC $GH_MAN_CFLAGS -I"$top_srcdir/lib/include" \
        -I"$top_builddir/lib/include" -o "$tmp/plugin-load" \
        "$tmp/plugin-load.c" $GH_MAN_LDFLAGS -L"$libdir" \
        -Wl,-rpath,"$libdir" -lgohttpd >"$tmp/plugin-load.cc" 2>&1; then
        loader=$tmp/plugin-load
    else
        fail "the plugin loader does not compile:"
        cat "$tmp/plugin-load.cc"
    fi
}

nex=0
for p in $pages; do
    # Blocks between .EX and .EE, one file each, with the roff escapes
    # used in the pages undone.
    awk -v out="$tmp/${p%.3}" '
        /^\.EX/ { n++; f = out "-" n ".c"; inex = 1; next }
        /^\.EE/ { inex = 0; close(f); next }
        inex { print > f }' "$mandir/$p"
    for src in "$tmp/${p%.3}"-*.c; do
        [ -f "$src" ] || continue
        exe=${src%.c}
        if grep -q '^int main(void)' "$src"; then
            out=$exe shared=
        elif grep -q '^GH_HANDLER_DEFINE(' "$src"; then
            out=$exe.so shared="-fPIC -shared"
            [ -n "$loader" ] || build_loader
            [ -n "$loader" ] || continue
        else
            continue
        fi
        sed -e 's/\\-/-/g' -e 's/\\&//g' -e "s/\\\\(aq/'/g" \
            -e 's/\\e/\\/g' "$src" >"$src.tmp" && mv "$src.tmp" "$src"
        nex=$((nex + 1))
        label="$p example ${src##*-}"
        # shellcheck disable=SC2086 # the flags are word lists
        if ! $CC $GH_MAN_CFLAGS $shared -I"$top_srcdir/lib/include" \
            -I"$top_builddir/lib/include" -o "$out" "$src" \
            $GH_MAN_LDFLAGS -L"$libdir" -Wl,-rpath,"$libdir" -lgohttpd \
            >"$exe.cc" 2>&1; then
            fail "$label does not compile:"
            cat "$exe.cc"
            continue
        fi
        if [ -s "$exe.cc" ]; then
            fail "$label compiles with warnings:"
            cat "$exe.cc"
        fi
        if [ -n "$shared" ]; then
            run_with_timeout "$loader" "$out" >"$exe.out" 2>&1
        else
            run_with_timeout "$exe" >"$exe.out" 2>&1
        fi
        rc=$?
        if [ "$rc" != 0 ]; then
            fail "$label exited with status $rc:"
            cat "$exe.out"
        else
            echo "PASS: $label"
        fi
    done
done
[ "$nex" -gt 0 ] || fail "no example with a main() found"

exit $failed
