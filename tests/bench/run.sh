#!/bin/sh
# run.sh - run gohttpd's runtime micro-benchmarks, each C program beside its
# Go twin, and print a table of medians against the targets.
#
#   run.sh [--quick] [--rounds N] [--only "NAME ..."]
#
# Every benchmark runs ROUNDS times, interleaved (C, Go, C, Go, ...), so
# both see the same machine noise; the table shows the median of each side,
# the ratio C/Go, whether the C median meets the target and, where the
# target is a speed, whether C/Go meets the target's ratio to Go's figure
# on the machine the targets were set on ("vs Go": the same goal, fair on
# a machine that runs Go slower or faster today); a last row checks that
# no result with 2 workers is over 2x the one with 1.  Above the table:
# the load average and the hypervisor's steal time over the run (on a VM
# whose CPUs are taken away for a millisecond or two at a time, a tail
# latency such as sleep10k_p99 shows it), and the round trip of a cache
# line between two CPUs, probed before every round (bench_xcore: where the
# hypervisor gives the two vCPUs no shared cache, work that crosses
# workers costs several times more, and rows with 2 workers show it).  "make bench" runs this script;
# it can also be run by hand from the build directory.
#
# Environment:
#   BENCH_BUILDDIR  where the bench_* programs are (default: .), and where the
#                   Go programs, bench.log and bench-results.txt are written
#   BENCH_SRCDIR    tests/bench in the source tree (default: this script's dir)
#   GO              the go command (default: go); Go columns say n/a without it
#   BENCH_QUICK=1   same as --quick: smaller N, 2 rounds, 2 s idle test,
#                   the sieve up to the 2000th prime instead of the 10,000th
#   BENCH_ROUNDS    rounds per benchmark (default 5; 3 for park1m, idle and
#                   the sieve)
#   BENCH_ONLY      space-separated subset of: yield spawn spawn2 spawn_b1k spawn_b100
#                   park100k park1m sleep10k pingpong idle
#                   chan.w1 chan.w2 select.w1 select.w2 sieve.w1 sieve.w2
#                   mutex.w1 mutex.w2
#                   ring.1k.w1 ring.10k.w1 ring.100k.w1 (and .w2 for each);
#                   a name up to a dot stands for all its variants, so
#                   "ring" is all six ring runs and "ring.1k" both of 1k's
#   BENCH_STRICT=1  exit 1 when a target is missed (default: only on crashes)
#
# Programs print "key value" lines.  Raw output of every run, and the stderr
# of failed runs, go to bench.log.

set -u

quick=${BENCH_QUICK:-0}
rounds=${BENCH_ROUNDS:-}
only=${BENCH_ONLY:-}
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --rounds) rounds=$2; shift ;;
    --rounds=*) rounds=${1#--rounds=} ;;
    --only) only=$2; shift ;;
    --only=*) only=${1#--only=} ;;
    -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
case $quick in 0 | "") quick=0 ;; *) quick=1 ;; esac

builddir=${BENCH_BUILDDIR:-.}
srcdir=${BENCH_SRCDIR:-$(dirname "$0")}
builddir=$(cd "$builddir" && pwd) || exit 2
srcdir=$(cd "$srcdir" && pwd) || exit 2
GO=${GO:-go}
log=$builddir/bench.log
results=$builddir/bench-results.txt
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gh-bench.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

if [ "$quick" = 1 ]; then
    n_yield=1000000 n_spawn=100000 n_pingpong=20000 idle_s=2
    n_chan=100000 n_msgs=1000000 n_sieve=2000 n_mutex=1000000
    rounds_long=${rounds:-1} rounds=${rounds:-2}
else
    n_yield=10000000 n_spawn=1000000 n_pingpong=200000 idle_s=10
    n_chan=1000000 n_msgs=10000000 n_sieve=10000 n_mutex=10000000
    rounds_long=${rounds:-3} rounds=${rounds:-5}
fi
# The sieve's targets are for the 10,000th prime: a quick run only reports.
if [ "$n_sieve" = 10000 ]; then
    sieve_label=sieve10k sieve_t1='<=5' sieve_t2='<=3' sieve_r1=11.1 sieve_r2=3.4
else
    sieve_label=sieve$n_sieve sieve_t1=- sieve_t2=- sieve_r1=- sieve_r2=-
fi

: >"$log"
say() { echo "$@" | tee -a "$log" >&2; }
# The machine's load before and after: a busy machine explains odd numbers.
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'; }
# shellcheck source=tests/bench/steal.sh
. "$srcdir/steal.sh"
load_before=$(loadavg)
steal_before=$(steal_ticks)

# --- Go twins: built offline, nothing written to $HOME or the source tree.
have_go=0
if command -v "$GO" >/dev/null 2>&1; then
    have_go=1
    gotmp=$(mktemp -d "$builddir/.gobuild.XXXXXX") || exit 2
    for p in yield spawn park sleep pingpong idle chan select ring sieve \
        mutex; do
        if ! env GOCACHE="$gotmp/cache" GOPATH="$gotmp/path" GO111MODULE=off \
            GOENV=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off \
            "$GO" build -o "$builddir/go_$p" "$srcdir/go/$p.go" \
            >>"$log" 2>&1; then
            say "run.sh: go build $p.go failed (see $log)"
            have_go=0
        fi
    done
    chmod -R u+w "$gotmp" 2>/dev/null
    rm -rf "$gotmp"
else
    say "run.sh: '$GO' not found: Go columns will say n/a"
fi

# --- The benchmarks: NAME ROUNDS TIMEOUT C-PROGRAM GO-PROGRAM ARGS...
bench_list() {
    cat <<EOF
yield     $rounds      120 bench_yield    go_yield    -n $n_yield
spawn     $rounds      300 bench_spawn    go_spawn    -w 1 -n $n_spawn
spawn2    $rounds      300 bench_spawn    go_spawn    -w 2 -n $n_spawn
spawn_b1k $rounds      300 bench_spawn    go_spawn    -w 1 -b 1000 -n $n_spawn
spawn_b100 $rounds     300 bench_spawn    go_spawn    -w 1 -b 100 -n $n_spawn
park100k  $rounds      120 bench_park     go_park     -n 100000
park1m    $rounds_long 300 bench_park     go_park     -n 1000000
sleep10k  $rounds      120 bench_sleep    go_sleep    -n 10000
pingpong  $rounds      300 bench_pingpong go_pingpong -n $n_pingpong
idle      $rounds_long 120 bench_idle     go_idle     -w 8 -s $idle_s
chan.w1   $rounds      300 bench_chan     go_chan     -w 1 -n $n_chan -m $n_msgs
chan.w2   $rounds      300 bench_chan     go_chan     -w 2 -n $n_chan -m $n_msgs
select.w1 $rounds      120 bench_select   go_select   -w 1 -n $n_chan
select.w2 $rounds      120 bench_select   go_select   -w 2 -n $n_chan
ring.1k.w1 $rounds     120 bench_ring     go_ring     -w 1 -n 1000 -h 1000000
ring.1k.w2 $rounds     120 bench_ring     go_ring     -w 2 -n 1000 -h 1000000
ring.10k.w1 $rounds    120 bench_ring     go_ring     -w 1 -n 10000 -h 1000000
ring.10k.w2 $rounds    120 bench_ring     go_ring     -w 2 -n 10000 -h 1000000
ring.100k.w1 $rounds   120 bench_ring     go_ring     -w 1 -n 100000 -h 1000000
ring.100k.w2 $rounds   120 bench_ring     go_ring     -w 2 -n 100000 -h 1000000
sieve.w1  $rounds_long 300 bench_sieve    go_sieve    -w 1 -n $n_sieve
sieve.w2  $rounds_long 300 bench_sieve    go_sieve    -w 2 -n $n_sieve
mutex.w1  $rounds      120 bench_mutex    go_mutex    -w 1 -n $n_mutex
mutex.w2  $rounds      120 bench_mutex    go_mutex    -w 2 -n $n_mutex
EOF
}

# The table rows: NAME KEY UNIT TARGET (<=x, <x, or - for information only)
# GOREF LABEL.  NAME is the benchmark above whose output holds KEY.  GOREF
# is Go 1.19's figure on the machine the targets were set on (the issue's
# reference figures; - where the target is not about speed): TARGET/GOREF
# is then the goal as a ratio to Go, which the "vs Go" column checks
# against C/Go of this run, so that a slower or busier machine than the
# reference one moves both sides alike.  Two labels that differ only in
# "(1w" and "(2w" form a pair for the check that 2 workers are never more
# than 2x slower than 1.
row_list() {
    cat <<'EOF'
yield     yield_ns         ns/yield <=15   48    yield
spawn     spawn_ns         ns/g     -      -     spawn(1w,all-alive)
spawn2    spawn_ns         ns/g     -      -     spawn(2w,all-alive)
spawn_b1k spawn_ns         ns/g     -      -     spawn(1w,batch1k)
spawn_b100 spawn_ns        ns/g     <=25   114   spawn(1w,warm,batch100)
park100k  park_spawn_us    us/g     -      -     park100k_spawn
park100k  park_rss_bytes   B/g      -      -     park100k_rss
park1m    park_spawn_us    us/g     <=2.5  2.8   park1m_spawn
park1m    park_rss_bytes   B/g      <=4200 -     park1m_rss
park1m    park_wake_ms     ms       -      -     park1m_wake
park1m    park_idle_rss_mb MB       -      -     park1m_rss_idle1.5s
sleep10k  sleep_p50_ms     ms       <=1.1  -     sleep10k_p50
sleep10k  sleep_p99_ms     ms       <=2    -     sleep10k_p99
sleep10k  sleep_max_ms     ms       -      -     sleep10k_max
sleep10k  sleep_wall_ms    ms       -      -     sleep10k_wall
pingpong  pingpong_ns      ns/rt    -      -     pingpong
idle      idle_cpu_ms      ms       <10    -     idle_cpu
idle      idle_ctxsw       switches -      -     idle_ctxsw
chan.w1   chan_unbuf_ns    ns/rt    <=80   240   chan_unbuf(1w)
chan.w2   chan_unbuf_ns    ns/rt    <=200  262   chan_unbuf(2w)
chan.w1   chan_buf1_ns     ns/msg   -      -     chan_buf1/1(1w)
chan.w2   chan_buf1_ns     ns/msg   <=30   48    chan_buf1/1(2w)
chan.w1   chan_buf4_ns     ns/msg   -      -     chan_buf4/4(1w)
chan.w2   chan_buf4_ns     ns/msg   <=25   31    chan_buf4/4(2w)
select.w1 select_ns        ns/rt    <=100  323   select2(1w)
select.w2 select_ns        ns/rt    -      -     select2(2w)
ring.1k.w1 ring_ns         ns/hop   <=50   125   ring1k(1w)
ring.1k.w2 ring_ns         ns/hop   -      -     ring1k(2w)
ring.10k.w1 ring_ns        ns/hop   <=120  334   ring10k(1w)
ring.10k.w2 ring_ns        ns/hop   -      -     ring10k(2w)
ring.100k.w1 ring_ns       ns/hop   <=200  412   ring100k(1w)
ring.100k.w2 ring_ns       ns/hop   -      -     ring100k(2w)
EOF
    # The sieve's rows depend on its size.
    cat <<EOF
sieve.w1  sieve_s          s        $sieve_t1 $sieve_r1 $sieve_label(1w)
sieve.w2  sieve_s          s        $sieve_t2 $sieve_r2 $sieve_label(2w)
sieve.w1  sieve_prime      prime    -      -     ${sieve_label}_prime
EOF
    cat <<'EOF'
mutex.w1  mutex_ns         ns/op    -      -     mutex8g(1w)
mutex.w2  mutex_ns         ns/op    <=12   13.8  mutex8g(2w)
EOF
}

# selected NAME: whether BENCH_ONLY asks for NAME, by its full name or by
# a part of it that ends before a dot (ring.1k.w2: ring, ring.1k).
selected() {
    [ -z "$only" ] && return 0
    for o in $only; do
        case $1 in "$o" | "$o".*) return 0 ;; esac
    done
    return 1
}

# run_one NAME SIDE ROUND TIMEOUT PROGRAM ARGS...: keep its "key value"
# lines in $tmp/NAME.SIDE (as "ROUND key value"), or a FAIL line.
run_one() {
    name=$1 side=$2 round=$3 tmo=$4 prog=$5
    shift 5
    out=$tmp/out.$$ err=$tmp/err.$$
    timeout --kill-after=10 "$tmo" "$prog" "$@" >"$out" 2>"$err"
    rc=$?
    {
        echo "## $name $side round $round: $prog $* (exit $rc)"
        cat "$out"
    } >>"$log"
    if [ $rc -ne 0 ]; then
        [ $rc -eq 124 ] && why="timed out after ${tmo}s" || why="exit $rc"
        [ $rc -gt 128 ] && [ $rc -ne 124 ] && why="killed by signal $((rc - 128))"
        say "run.sh: $name ($side, round $round) FAILED: $why"
        sed 's/^/    /' "$err" | tail -n 20 | tee -a "$log" >&2
        echo "$round FAIL $why" >>"$tmp/$name.$side"
        return
    fi
    [ -s "$err" ] && sed 's/^/  stderr: /' "$err" >>"$log"
    awk -v r="$round" 'NF == 2 { print r, $1, $2 }' "$out" >>"$tmp/$name.$side"
}

# xcore_probe NAME ROUND: the cache line's round trip between two CPUs
# (bench_xcore) right before the round, kept in $tmp/NAME.X.  It takes a
# few milliseconds, and says which placement of the CPUs the round ran in.
xcore_probe() {
    [ -x "$builddir/bench_xcore" ] || return 0
    timeout 10 "$builddir/bench_xcore" 2>>"$log" |
        awk -v r="$2" 'NF == 2 { print r, $1, $2 }' >>"$tmp/$1.X"
}

bench_list | while read -r name nr tmo cprog goprog args; do
    selected "$name" || continue
    say "== $name: $nr round(s), C then Go"
    r=1
    while [ $r -le "$nr" ]; do
        xcore_probe "$name" $r
        # shellcheck disable=SC2086
        run_one "$name" C $r "$tmo" "$builddir/$cprog" $args
        if [ $have_go = 1 ]; then
            # shellcheck disable=SC2086
            run_one "$name" Go $r "$tmo" "$builddir/$goprog" $args
        fi
        r=$((r + 1))
    done
done
# (The loop above ran in a subshell: failures are read back from the files.)
crashed=0
grep -l FAIL "$tmp"/*.C >/dev/null 2>&1 && crashed=1

# median FILE KEY: the median of KEY's values, "FAIL" if a run failed,
# "n/a" if there are none.
median() {
    [ -f "$1" ] || { echo n/a; return; }
    awk -v k="$2" '
        $2 == "FAIL" { fail = 1 }
        $2 == k { v[n++] = $3 + 0 }
        END {
            if (fail) { print "FAIL"; exit }
            if (n == 0) { print "n/a"; exit }
            for (i = 1; i < n; i++)
                for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
                    t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
                }
            m = (n % 2) ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
            printf "%.6g\n", m
        }' "$1"
}

# values FILE KEY: every round's value, for the log.
values() {
    [ -f "$1" ] && awk -v k="$2" '$2 == k { printf "%s ", $3 } $2 == "FAIL" { printf "FAIL " }' "$1"
}

# scaling_check: one more row, for the rule that no result with 2 workers
# may be worse than with 1 by more than 2x.  Its medians are the worst
# 2w/1w ratio of either side over the pairs of rows in $tmp/medians
# ("LABEL C GO"); it names the worst pair, or every pair that breaks the
# rule.  Nothing when no pair was run.
scaling_check() {
    [ -f "$tmp/medians" ] || return 0
    awk '
        function num(x) { return x ~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/ }
        { c[$1] = $2; g[$1] = $3; order[n++] = $1 }
        END {
            for (i = 0; i < n; i++) {
                l2 = order[i]
                if (index(l2, "(2w") == 0) continue
                l1 = l2; sub(/\(2w/, "(1w", l1)
                if (!(l1 in c)) continue
                pairs++
                if (num(c[l1]) && num(c[l2]) && c[l1] + 0 > 0) {
                    r = c[l2] / c[l1]
                    if (!nc || r > cw) { cw = r; worst = l2 }
                    if (r > 2) bad = bad " " l2
                    nc++
                }
                if (num(g[l1]) && num(g[l2]) && g[l1] + 0 > 0) {
                    r = g[l2] / g[l1]
                    if (!ng || r > gw) gw = r
                    ng++
                }
            }
            if (!pairs) exit
            cs = nc ? sprintf("%.2f", cw) : "n/a"
            gs = ng ? sprintf("%.2f", gw) : "n/a"
            if (!nc) res = "FAIL"
            else if (bad != "") res = "MISS:" bad
            else res = "pass (worst " worst ")"
            printf "%-22s %-9s %12s %12s %8s %8s  %s\n", "2w_vs_1w_worst", "x", cs, gs, "-", "<=2", res
        }' "$tmp/medians"
}

missed=0
{
    printf '%-22s %-9s %12s %12s %8s %8s  %-6s %s\n' \
        benchmark unit "C median" "Go median" "C/Go" target result "vs Go"
    row_list | while read -r name key unit target goref label; do
        selected "$name" || continue
        c=$(median "$tmp/$name.C" "$key")
        g=$(median "$tmp/$name.Go" "$key")
        [ $have_go = 1 ] || g=n/a
        echo "# $label C: $(values "$tmp/$name.C" "$key")| Go: $(values "$tmp/$name.Go" "$key")| xcore ns: $(values "$tmp/$name.X" xcore_rt_ns)" >>"$log"
        echo "$label $c $g" >>"$tmp/medians"
        late=$(median "$tmp/$name.C" park_late)
        awk -v c="$c" -v g="$g" -v t="$target" -v late="$late" \
            -v label="$label" -v unit="$unit" -v ref="$goref" '
            function num(x) { return x ~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/ }
            BEGIN {
                ratio = (num(c) && num(g) && g + 0 != 0) ? sprintf("%.2f", c / g) : "-"
                if (t == "-") res = "info"
                else if (!num(c)) res = "FAIL"
                else {
                    op = t; sub(/[0-9.]+$/, "", op); lim = substr(t, length(op) + 1) + 0
                    ok = (op == "<=") ? (c + 0 <= lim) : (c + 0 < lim)
                    res = ok ? "pass" : "MISS"
                }
                if (label ~ /^park/ && num(late) && late + 0 > 0) res = res " (late)"
                vs = ""
                if (t != "-" && num(ref) && ratio != "-") {
                    goal = lim / ref
                    vs = sprintf("%s (C/Go <= %.2f)", (c / g <= goal) ? "pass" : "MISS", goal)
                }
                printf "%-22s %-9s %12s %12s %8s %8s  %-6s %s\n", label, unit, c, g, ratio, t, res, vs
            }'
    done
    scaling_check
} >"$tmp/table"

# xcore_summary: one line on the probes of every round.  On this kind of
# VM the two vCPUs sometimes share a core's cache (a round trip of about
# 50 ns) and sometimes not (300 ns and more), for minutes at a time; rows
# with 2 workers, the sieve's above all, follow it.
xcore_summary() {
    cat "$tmp"/*.X 2>/dev/null | awk '
        $2 == "xcore_cpus" { cpus = $3 }
        $2 == "xcore_rt_ns" { v[n++] = $3 + 0; if ($3 + 0 > 150) far++ }
        END {
            if (n == 0) exit
            for (i = 1; i < n; i++)
                for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
                    t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
                }
            printf "cache line from CPU to CPU (%s) and back: median %.0f ns," \
                " %.0f-%.0f over %d rounds; ", cpus, v[int(n / 2)], v[0], v[n - 1], n
            if (far == 0) print "the CPUs shared a cache throughout"
            else if (far == n) print "the CPUs shared no cache throughout (2w rows run slower)"
            else printf "the CPUs shared no cache in %d of the rounds" \
                " (2w rows run slower there; bench.log has the probe of each round)\n", far
        }'
}

{
    echo "gohttpd runtime benchmarks ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc 2>/dev/null || echo '?') CPUs, quick=$quick)"
    echo "load average before: $load_before, after: $(loadavg);" \
        "hypervisor steal during the run: $(steal_pct "$steal_before")"
    xcore_summary
    cat "$tmp/table"
} >"$results"
echo
cat "$results"
cat "$results" >>"$log"
echo "(raw output: $log; table: $results)"

if grep -q 'MISS\|FAIL' "$tmp/table"; then
    missed=1
fi
if [ $crashed = 1 ]; then
    echo "run.sh: a C benchmark failed" >&2
    exit 1
fi
if [ "${BENCH_STRICT:-0}" = 1 ] && [ $missed = 1 ]; then
    exit 1
fi
exit 0
