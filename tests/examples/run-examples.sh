#!/bin/sh
# run-examples.sh - run each C example and compare what it prints with what
# its Go original prints (tests/examples/NAME.expected, written from the Go
# program's output).  When the go command is installed, the Go originals are
# built and checked against the same files, so the .expected files cannot
# drift from Go's behaviour.
#
#   hello, channels, pipeline
#               output compared line for line
#   tasks       goroutines interleave, so: the sorted lines must match, each
#               "Task N started" must come before "Task N completed", and
#               "Main function is done!" must be the last line
#   workerpool  which worker takes which job varies, so: with worker numbers
#               masked the sorted lines must match, every job must be
#               started and then finished by the same worker (1-3), no
#               worker may hold two jobs at once, and the sum line must be
#               the last
#
# Environment (set by AM_TESTS_ENVIRONMENT; defaults work from the top of
# an in-tree build): top_srcdir, top_builddir.  Writes only under a mktemp
# directory.  Exit 0 pass, 1 fail, 77 skip (examples not built).
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
exdir_src=$top_srcdir/tests/examples
exdir_bin=$top_builddir/tests/examples
examples="hello channels tasks workerpool pipeline"
timeout_s=60

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-examples.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

failed=0 # any failure so far
cur=0    # a failure in the run being checked
fail() {
    echo "FAIL: $*"
    failed=1
    cur=1
}

run_with_timeout() {
    if command -v timeout >/dev/null 2>&1; then
        timeout "$timeout_s" "$@"
    else
        "$@"
    fi
}

# check_last OUTPUT-FILE LABEL LINE: the output must end with LINE.
check_last() {
    last=$(tail -n 1 "$1")
    if [ "$last" != "$3" ]; then
        fail "$2: last line is \"$last\", not \"$3\""
    fi
}

# check NAME OUTPUT-FILE LABEL: compare one run's output with NAME.expected.
check() {
    name=$1 out=$2 label=$3 expected=$exdir_src/$1.expected
    case $name in
    tasks)
        sort "$expected" >"$tmp/exp.sorted"
        sort "$out" >"$tmp/out.sorted"
        if ! cmp -s "$tmp/exp.sorted" "$tmp/out.sorted"; then
            fail "$label: lines differ from $name.expected (sorted):"
            diff -u "$tmp/exp.sorted" "$tmp/out.sorted"
            return
        fi
        for i in 1 2 3 4 5; do
            s=$(grep -n -x "Task $i started" "$out" | cut -d: -f1)
            c=$(grep -n -x "Task $i completed" "$out" | cut -d: -f1)
            if [ -z "$s" ] || [ -z "$c" ] || [ "$s" -ge "$c" ]; then
                fail "$label: \"Task $i started\" (line $s) does not precede" \
                     "\"Task $i completed\" (line $c)"
            fi
        done
        check_last "$out" "$label" "Main function is done!"
        ;;
    workerpool)
        mask='s/^worker [0-9][0-9]* /worker N /'
        sed "$mask" "$expected" | sort >"$tmp/exp.sorted"
        sed "$mask" "$out" | sort >"$tmp/out.sorted"
        if ! cmp -s "$tmp/exp.sorted" "$tmp/out.sorted"; then
            fail "$label: lines differ from $name.expected" \
                 "(sorted, worker numbers masked):"
            diff -u "$tmp/exp.sorted" "$tmp/out.sorted"
            return
        fi
        # Each job: started, then finished, by one worker that holds no
        # other job meanwhile.
        if ! awk '
            function bad(msg) { print msg; err = 1 }
            $1 == "worker" && $3 == "started" {
                if ($2 < 1 || $2 > 3) bad("no worker " $2 ": " $0)
                if (busy[$2] != "")
                    bad("worker " $2 " started job " $5 \
                        " while busy with job " busy[$2])
                busy[$2] = $5
                next
            }
            $1 == "worker" && $3 == "finished" {
                if (busy[$2] != $5)
                    bad("worker " $2 " finished job " $5 \
                        " that it had not started")
                busy[$2] = ""
            }
            END { exit err }' "$out" >"$tmp/awk.out"; then
            fail "$label: jobs not started and finished in order:"
            cat "$tmp/awk.out"
        fi
        check_last "$out" "$label" "sum of results: 30"
        ;;
    *)
        if ! cmp -s "$expected" "$out"; then
            fail "$label: output differs from $name.expected:"
            diff -u "$expected" "$out"
        fi
        ;;
    esac
}

# The C examples, all at once (they mostly sleep).
for name in $examples; do
    if [ ! -x "$exdir_bin/$name" ]; then
        echo "SKIP: $exdir_bin/$name not built (make examples)"
        exit 77
    fi
done
for name in $examples; do
    (
        run_with_timeout "$exdir_bin/$name" >"$tmp/c-$name.out" \
            2>"$tmp/c-$name.err"
        echo $? >"$tmp/c-$name.rc"
    ) &
done

# The Go originals, when go is installed.
have_go=no
if command -v go >/dev/null 2>&1; then
    have_go=yes
    # Never touch the user's caches from make check; stay offline.
    GOCACHE=$tmp/gocache GOPATH=$tmp/gopath GOPROXY=off GO111MODULE=off
    GOFLAGS='' GOTOOLCHAIN=local
    export GOCACHE GOPATH GOPROXY GO111MODULE GOFLAGS GOTOOLCHAIN
    for name in $examples; do
        if go build -o "$tmp/go-$name" "$exdir_src/$name.go" \
            >"$tmp/go-$name.build" 2>&1; then
            (
                run_with_timeout "$tmp/go-$name" >"$tmp/go-$name.out" \
                    2>"$tmp/go-$name.err"
                echo $? >"$tmp/go-$name.rc"
            ) &
        else
            fail "go build $name.go:"
            cat "$tmp/go-$name.build"
        fi
    done
else
    echo "SKIP (part): go not installed, Go originals not run"
fi
wait

for name in $examples; do
    cur=0
    rc=$(cat "$tmp/c-$name.rc")
    if [ "$rc" != 0 ]; then
        fail "C $name exited with status $rc; stderr:"
        cat "$tmp/c-$name.err"
    fi
    check "$name" "$tmp/c-$name.out" "C $name"
    [ "$cur" = 0 ] && echo "PASS: C $name"
    if [ "$have_go" = yes ] && [ -f "$tmp/go-$name.rc" ]; then
        cur=0
        rc=$(cat "$tmp/go-$name.rc")
        [ "$rc" = 0 ] || fail "Go $name exited with status $rc"
        check "$name" "$tmp/go-$name.out" "Go $name"
        [ "$cur" = 0 ] && echo "PASS: Go $name"
    fi
done

exit $failed
