# tap.sh - TAP-style checks for the shell integration tests (sourced, not
# run): ok, not_ok, check, check_grep, and a temporary directory $tmp whose
# cleanup on exit first kills, by pid, every process listed in $pids.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gh-test.XXXXXX") || exit 99
pids=
cleanup() {
    for p in $pids; do
        kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

n=0 failed=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    shift
    for l in "$@"; do
        echo "#   $l"
    done
}
# check DESCRIPTION EXPECTED GOT
check() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        not_ok "$1" "expected: $2" "got:      $3"
    fi
}
# check_grep DESCRIPTION PATTERN FILE
check_grep() {
    if grep -q -- "$2" "$3"; then
        ok "$1"
    else
        not_ok "$1" "no line matching: $2" "in $3:" "$(tail -n 20 "$3")"
    fi
}
