#!/bin/sh
# static.sh - the gohttpd daemon's static handler beside nginx serving the
# same files, under wrk.
#
#   static.sh            ("make bench-static" runs it from the build directory)
#
# Both servers serve one temporary document root holding a 4 KiB and a
# 1 MiB file, pinned to one CPU (BENCH_SERVER_CPU, default 0) with one
# worker (gohttpd -w 1; nginx worker_processes 1, sendfile on, otherwise
# its defaults: no open_file_cache); wrk runs with one thread pinned to
# another CPU (BENCH_CLIENT_CPU, default 1), keep-alive.  gohttpd runs
# server/gohttpd with the static plugin as configured by default
# (precompressed on: it looks for .br and .gz siblings, as Vary needs;
# the open-file cache on: a file whose ctime is 2 s old is kept in memory,
# so after the first seconds of the first round the 4 KiB file goes from
# memory, each request asking inotify with one ioctl whether the file or
# a directory on its way changed (cache_watch on), which nginx's
# open_file_cache, off here as by default, has no counterpart for; and
# notsent_lowat 16k on the listener, which nginx has no setting for: the
# 1 MiB file then leaves from gohttpd's CPU instead of being transmitted
# as wrk's ACKs arrive, on wrk's CPU, wrk's being the busy one.  With
# net.ipv4.tcp_notsent_lowat=16384 nginx gets the same speed-up, and the
# same longer p99: the tail comes with the mark, not with the server).
# Scenarios:
#
#   4k.c64     GET /4k.bin, 64 connections
#   1m.c16     GET /1m.bin, 16 connections
#
# Every scenario runs BENCH_ROUNDS times on each server, interleaved (ours,
# nginx, ours, nginx, ...).  The table gives the medians of requests/s,
# wrk's p99 latency, the server's CPU time per request (utime + stime from
# /proc/PID/stat over the run, divided by the responses wrk counted) and
# MiB/s read by wrk, with the ratio ours/nginx, then the targets: CPU per
# 4 KiB request <= 0.7x nginx's, 1 MiB throughput >= 1.35x, p99 <= nginx's.
# The helpers are http.sh's, in bench-lib.sh.
#
# Environment:
#   BENCH_DURATION     seconds per wrk run (default 5)
#   BENCH_ROUNDS       runs per scenario and server (default 3)
#   BENCH_ONLY         space-separated subset of the scenarios (default: all)
#   BENCH_BUILDDIR     where bench-static.log and bench-static-results.txt
#                      are written (default: .)
#   BENCH_SRCDIR       tests/bench in the source tree (default: this dir)
#   BENCH_GOHTTPD      the daemon (default: BUILDDIR/../../server/gohttpd)
#   NGINX, WRK         the programs (default: found in PATH or /usr/sbin)
#
# Needs curl (to see that a server is up).  nginx-light and wrk are
# installed as http.sh does.  Exits 1 when gohttpd fails to start or dies,
# else 0 (the targets are reported, not enforced).

set -u

duration=${BENCH_DURATION:-5}
rounds=${BENCH_ROUNDS:-3}
only=${BENCH_ONLY:-}
scpu=${BENCH_SERVER_CPU:-0}
ccpu=${BENCH_CLIENT_CPU:-1}
builddir=${BENCH_BUILDDIR:-.}
srcdir=${BENCH_SRCDIR:-$(dirname "$0")}
builddir=$(cd "$builddir" && pwd) || exit 2
srcdir=$(cd "$srcdir" && pwd) || exit 2
gohttpd=${BENCH_GOHTTPD:-$builddir/../../server/gohttpd}
log=$builddir/bench-static.log
results=$builddir/bench-static-results.txt
me=static.sh
# shellcheck source=tests/bench/bench-lib.sh
. "$srcdir/bench-lib.sh"
load_before=$(loadavg)
steal_before=$(steal_ticks)

if [ ! -x "$gohttpd" ]; then
    say "$me: $gohttpd is not built (make server/gohttpd handlers/static.la)"
    exit 2
fi
if ! command -v curl >/dev/null 2>&1; then
    say "$me: no curl (apt-get install curl)"
    exit 2
fi
find_tools
pin_cpus
[ $have_wrk = 1 ] || exit 0

# The document root both servers serve.
mkdir -p "$tmp/www"
head -c 4096 /dev/urandom >"$tmp/www/4k.bin"
head -c 1048576 /dev/urandom >"$tmp/www/1m.bin"
# nginx's worker runs as nobody when started as root.
chmod 755 "$tmp" "$tmp/www" && chmod 644 "$tmp/www/4k.bin" "$tmp/www/1m.bin"

probe() { # PORT: the 4 KiB file, within 2 s
    curl -s -o /dev/null -m 2 -f "http://127.0.0.1:$1/4k.bin"
}

# start_ours: sets ours_pid and ours_port.
start_ours() {
    as_root=
    [ "$(id -u)" = 0 ] && as_root='allow_root on;'
    cat >"$tmp/gohttpd.conf" <<EOF
$as_root
error_log    stderr notice;
max_requests 1000000;
idle_timeout 600s;
max_conns    20000;
listen 127.0.0.1:0;
route / {
    handler static;
    root    $tmp/www;
}
EOF
    run_daemon
    ours_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
                    "$tmp/ours.err" | tail -n 1)
    if [ -z "$ours_port" ] || ! wait_ready "$ours_pid" "$ours_port"; then
        daemon_failed
    fi
}

nginx_conf() { # PORT
    nginx_http_head 1024
    cat <<EOF
    server {
        listen 127.0.0.1:$1 backlog=511;
        root $tmp/www;
    }
}
EOF
}

scenarios() { # NAME CONNECTIONS PATH
    cat <<EOF
4k.c64 64 /4k.bin
1m.c16 16 /1m.bin
EOF
}
selected() {
    [ -z "$only" ] && return 0
    for o in $only; do
        [ "$o" = "$1" ] && return 0
    done
    return 1
}

crashed=0
: >"$tmp/res"
start_ours
[ $have_nginx = 1 ] && start_nginx
scenarios >"$tmp/scenarios"
while read -r name conns path; do
    selected "$name" || continue
    say "== $name: $rounds round(s), gohttpd then nginx"
    r=1
    while [ $r -le "$rounds" ]; do
        wrk_round "$name" ours $r "$ours_port" "$conns" "$path"
        if ! kill -0 "$ours_pid" 2>/dev/null; then
            say "$me: gohttpd died:"
            tail -n 20 "$tmp/ours.err" | sed 's/^/    /' >&2
            crashed=1
            forget_pid "$ours_pid"
            start_ours
        fi
        if [ $have_nginx = 1 ]; then
            wrk_round "$name" nginx $r "$nginx_port" "$conns" "$path"
        fi
        r=$((r + 1))
    done
    sleep 1 # let the sockets of the last run wind down
done <"$tmp/scenarios"
grep -q '^[^ ]* ours FAIL' "$tmp/res" && crashed=1
stop "$ours_pid"
[ $have_nginx = 1 ] && stop "$nginx_pid"

# target LABEL NAME KEY OP GOAL: "LABEL: ours/nginx R (OP GOAL): met|missed"
target() {
    o=$(median "$2" ours "$3") n=$(median "$2" nginx "$3")
    awk -v l="$1" -v o="$o" -v n="$n" -v op="$4" -v g="$5" 'BEGIN {
        if (o !~ /^[0-9.]+$/ || n !~ /^[0-9.]+$/ || n + 0 == 0) {
            printf "target %-30s n/a\n", l; exit
        }
        r = o / n
        met = (op == "<=") ? (r <= g) : (r >= g)
        printf "target %-30s ours/nginx %.2f (%s %.2f): %s\n", l, r, op, g,
            met ? "met" : "missed"
    }'
}
{
    printf '%-12s %-14s %12s %12s %10s\n' scenario metric gohttpd nginx ours/nginx
    scenarios | while read -r name conns path; do
        grep -q "^$name " "$tmp/res" || continue
        row "$name" rps "req/s" "%.0f"
        row "$name" p99_ms "p99 ms" "%.2f"
        row "$name" cpu_us "cpu us/req" "%.2f"
        row "$name" mb_s "MiB/s" "%.1f"
        e=$(awk -v n="$name" '$1 == n && $3 == "errors" { e += $4 } END { print e + 0 }' "$tmp/res")
        [ "$e" != 0 ] && row "$name" errors "errors/run" "%.0f"
    done
    if [ $have_nginx = 1 ]; then
        selected 4k.c64 && target "4 KiB: CPU per request" 4k.c64 cpu_us "<=" 0.7
        selected 4k.c64 && target "4 KiB: p99" 4k.c64 p99_ms "<=" 1
        selected 1m.c16 && target "1 MiB: throughput" 1m.c16 mb_s ">=" 1.35
        selected 1m.c16 && target "1 MiB: p99" 1m.c16 p99_ms "<=" 1
    fi
} >"$tmp/table"
{
    echo "gohttpd static vs nginx ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc)" \
        "CPUs, ${duration}s x $rounds rounds, server on CPU $scpu, wrk on" \
        "CPU $ccpu)"
    echo "load average before: $load_before, after: $(loadavg);" \
        "hypervisor steal during the run: $(steal_pct "$steal_before")"
    cat "$tmp/table"
} >"$results"
echo
cat "$results"
cat "$results" >>"$log"
echo "(raw output: $log; table: $results)"
[ $crashed = 1 ] && exit 1
exit 0
