#!/bin/sh
# run-corpus.sh - replay the seed corpus of each fuzz target (built with
# standalone_main.c, see tests/fuzz/Makemodule.am): every input must run
# without the target aborting and, in sanitizer builds, without a report.
#
# Environment (set by AM_TESTS_ENVIRONMENT): top_srcdir, top_builddir.
# Reads the corpus from the source tree and writes nothing there (the
# target's include sandbox goes under $TMPDIR).  Exit 0 pass, 1 fail.
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
status=0

for target in conf proxy forwarded http router static; do
    exe=$top_builddir/tests/fuzz/fuzz_$target
    corpus=$top_srcdir/tests/fuzz/corpus/$target
    if [ ! -x "$exe" ]; then
        echo "FAIL: $exe not built"
        status=1
        continue
    fi
    # stdin from /dev/null: a target must never wait for input.
    if "$exe" "$corpus" </dev/null; then
        echo "PASS: fuzz_$target over $corpus"
    else
        echo "FAIL: fuzz_$target over $corpus (status $?)"
        status=1
    fi
done
exit $status
