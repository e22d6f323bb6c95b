#!/bin/sh
# http.sh - gohttpd's test server beside nginx, under wrk, and the memory an
# idle keep-alive connection costs each.
#
#   http.sh              ("make bench-http" runs it from the build directory)
#
# Both servers run pinned to one CPU (BENCH_SERVER_CPU, default 0) with one
# worker (testserver -w 1, nginx worker_processes 1); wrk runs with one
# thread pinned to another (BENCH_CLIENT_CPU, default 1).  Scenarios, all
# GET /plaintext with its 13-byte body:
#
#   plain.c64     keep-alive, 64 connections
#   plain.c1000   keep-alive, 1000 connections
#   pipe16.c64    16 pipelined requests per write (pipeline.lua), 64 conns
#   close.c64     "Connection: close": one request per connection, 64 conns
#
# Every scenario runs BENCH_ROUNDS times on each server, interleaved (ours,
# nginx, ours, nginx, ...) so both see the same machine noise.  The table
# gives the medians of requests/s, wrk's p99 latency and the server's CPU
# time per request (utime + stime of the server's processes over the run,
# from /proc/PID/stat, divided by the responses wrk counted), and the ratio
# ours/nginx.  (wrk corrects its latencies for coordinated omission with
# an interval of duration / (responses / connections): with pipelining that
# interval is 16 times too short, so pipe16's p99 is rough, or n/a when wrk
# prints 0.)  Then each server, freshly started, gets BENCH_IDLE_CONNS idle
# keep-alive connections (each has made one request) from idleconns; the
# growth of its resident memory (Rss and Pss from /proc/PID/smaps_rollup;
# nginx: its worker) divided by the number of connections is the cost of
# one.  Kernel socket buffers are not in either figure.
#
# Environment:
#   BENCH_DURATION     seconds per wrk run (default 5)
#   BENCH_ROUNDS       runs per scenario and server (default 3)
#   BENCH_IDLE_CONNS   idle connections (default 10000; 0 skips the test)
#   BENCH_ONLY         space-separated subset of the scenarios above, and
#                      "idle" for the memory test (default: all)
#   BENCH_BUILDDIR     where idleconns is, and where bench-http.log and
#                      bench-http-results.txt are written (default: .)
#   BENCH_SRCDIR       tests/bench in the source tree (default: this dir)
#   BENCH_TESTSERVER   the test server (default: BUILDDIR/../http/testserver)
#   NGINX, WRK         the programs (default: found in PATH or /usr/sbin)
#
# nginx-light and wrk are installed with apt-get when missing and this runs
# as root or with password-less sudo; otherwise the nginx columns say n/a
# (no nginx) or the wrk scenarios are skipped (no wrk), with a message.
# Exits 1 when the test server fails to start or dies, else 0.

set -u

duration=${BENCH_DURATION:-5}
rounds=${BENCH_ROUNDS:-3}
idle_n=${BENCH_IDLE_CONNS:-10000}
only=${BENCH_ONLY:-}
scpu=${BENCH_SERVER_CPU:-0}
ccpu=${BENCH_CLIENT_CPU:-1}
builddir=${BENCH_BUILDDIR:-.}
srcdir=${BENCH_SRCDIR:-$(dirname "$0")}
builddir=$(cd "$builddir" && pwd) || exit 2
srcdir=$(cd "$srcdir" && pwd) || exit 2
testserver=${BENCH_TESTSERVER:-$builddir/../http/testserver}
idleconns=$builddir/idleconns
log=$builddir/bench-http.log
results=$builddir/bench-http-results.txt
me=http.sh
# shellcheck source=tests/bench/bench-lib.sh
. "$srcdir/bench-lib.sh"
load_before=$(loadavg)
steal_before=$(steal_ticks)

selected() {
    [ -z "$only" ] && return 0
    for o in $only; do
        [ "$o" = "$1" ] && return 0
    done
    return 1
}

for f in "$testserver" "$idleconns"; do
    if [ ! -x "$f" ]; then
        say "http.sh: $f is not built (make tests/http/testserver" \
            "tests/bench/idleconns)"
        exit 2
    fi
done

find_tools
pin_cpus

# --- Descriptors: the idle test needs idle_n on each side, wrk 1000.
# (ulimit -H, -S and -n are not POSIX, but dash and bash have them.)
# shellcheck disable=SC3045
hard=$(ulimit -Hn)
need=$((idle_n + 1024))
[ "$need" -lt 4096 ] && need=4096
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    need=$hard
    if [ "$idle_n" -gt $((hard - 1024)) ]; then
        idle_n=$((hard - 1024))
        [ "$idle_n" -lt 0 ] && idle_n=0
        say "http.sh: ulimit -Hn is $hard: $idle_n idle connections only"
    fi
fi
# shellcheck disable=SC3045
ulimit -Sn "$need" 2>/dev/null || say "http.sh: cannot raise ulimit -n to $need"
# shellcheck disable=SC3045
nofile=$(ulimit -n)

# --- Servers.
mem_kb() { # PID FIELD: Rss or Pss from smaps_rollup (Rss: VmRSS fallback)
    if [ -r "/proc/$1/smaps_rollup" ]; then
        awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/smaps_rollup"
    elif [ "$2" = Rss ]; then
        awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
    else
        echo n/a
    fi
}
# probe PORT: one request through idleconns, within 2 s.
probe() {
    "$idleconns" -n 1 -t 2 127.0.0.1 "$1" </dev/null >/dev/null 2>&1
}

# start_ours: sets ours_pid and ours_port.
start_ours() {
    rm -f "$tmp/ours.port"
    # shellcheck disable=SC2086
    $spin "$testserver" -w 1 -p "$tmp/ours.port" -o max_requests=1000000 \
        -o max_conns=20000 -o idle_timeout=600000 >>"$tmp/ours.err" 2>&1 &
    ours_pid=$!
    pids="$pids $ours_pid"
    wait_until "$ours_pid" 100 test -s "$tmp/ours.port"
    ours_port=$(cat "$tmp/ours.port" 2>/dev/null)
    if [ -z "$ours_port" ] || ! wait_ready "$ours_pid" "$ours_port"; then
        say "http.sh: the test server did not start:"
        sed 's/^/    /' "$tmp/ours.err" >&2
        exit 1
    fi
}

nginx_conf() { # PORT
    cat <<EOF
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $nofile;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events {
    worker_connections $((nofile - 64));
}
http {
    access_log off;
    server_tokens off;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    server {
        listen 127.0.0.1:$1 backlog=511;
        location = /plaintext {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
EOF
}

# --- wrk runs.
scenarios() { # NAME CONNECTIONS MODE
    cat <<EOF
plain.c64 64 keepalive
plain.c1000 1000 keepalive
pipe16.c64 64 pipeline
close.c64 64 close
EOF
}

# run_wrk NAME SERVER ROUND PORT CONNS MODE: wrk_round on /plaintext, MODE
# (pipeline, close or plain) choosing wrk's extra arguments.
run_wrk() {
    case $6 in
    pipeline) set -- "$1" "$2" "$3" "$4" "$5" -s "$srcdir/pipeline.lua" ;;
    close) set -- "$1" "$2" "$3" "$4" "$5" -H "Connection: close" ;;
    *) set -- "$1" "$2" "$3" "$4" "$5" ;;
    esac
    name=$1 side=$2 round=$3 port=$4 conns=$5
    shift 5
    wrk_round "$name" "$side" "$round" "$port" "$conns" /plaintext "$@"
}

# check_alive SIDE: if the test server died, say so and start another.
check_alive() {
    if [ "$1" = ours ] && ! kill -0 "$ours_pid" 2>/dev/null; then
        say "http.sh: the test server died:"
        tail -n 20 "$tmp/ours.err" | sed 's/^/    /' >&2
        crashed=1
        forget_pid "$ours_pid"
        start_ours
    fi
}

crashed=0
: >"$tmp/res"
echo "gohttpd vs nginx ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs," \
    "${duration}s x $rounds rounds, server on CPU $scpu, wrk on CPU $ccpu)" \
    >"$tmp/head"
if [ $have_wrk = 1 ]; then
    start_ours
    [ $have_nginx = 1 ] && start_nginx
    # Not a pipeline: a restarted server's pid must reach this shell.
    scenarios >"$tmp/scenarios"
    while read -r name conns mode; do
        selected "$name" || continue
        say "== $name: $rounds round(s), gohttpd then nginx"
        r=1
        while [ $r -le "$rounds" ]; do
            run_wrk "$name" ours $r "$ours_port" "$conns" "$mode"
            check_alive ours
            if [ $have_nginx = 1 ]; then
                run_wrk "$name" nginx $r "$nginx_port" "$conns" "$mode"
            fi
            r=$((r + 1))
        done
        sleep 1 # let the sockets of the last run wind down
    done <"$tmp/scenarios"
    grep -q '^[^ ]* ours FAIL' "$tmp/res" && crashed=1
    stop "$ours_pid"
    [ $have_nginx = 1 ] && stop "$nginx_pid"
fi

# --- Idle connections.
# idle_one SIDE PID PORT: Rss and Pss growth per connection, to $tmp/res.
idle_one() {
    side=$1 mpid=$2 port=$3
    rss0=$(mem_kb "$mpid" Rss) pss0=$(mem_kb "$mpid" Pss)
    rm -f "$tmp/ctl" && mkfifo "$tmp/ctl" || return 1
    "$idleconns" -n "$idle_n" -t 10 127.0.0.1 "$port" <"$tmp/ctl" \
        >"$tmp/idle.out" 2>"$tmp/idle.err" &
    ipid=$!
    pids="$pids $ipid"
    exec 9>"$tmp/ctl"
    wait_until "$ipid" 1200 grep -q '^ready' "$tmp/idle.out"
    ok=0
    if grep -q '^ready' "$tmp/idle.out"; then
        ok=1
        sleep 1 # let the server settle
        rss1=$(mem_kb "$mpid" Rss) pss1=$(mem_kb "$mpid" Pss)
    else
        say "http.sh: idle $side: idleconns did not get ready:"
        sed 's/^/    /' "$tmp/idle.err" >&2
    fi
    exec 9>&-
    i=0
    while kill -0 "$ipid" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    stop "$ipid"
    cat "$tmp/idle.out" "$tmp/idle.err" >>"$log"
    [ $ok = 1 ] || { echo "idle $side FAIL 1" >>"$tmp/res"; return 1; }
    alive=$(awk '$1 == "alive" { print $2 }' "$tmp/idle.out")
    echo "## idle $side: Rss $rss0 -> $rss1 kB, Pss $pss0 -> $pss1 kB," \
        "$alive of $idle_n alive at the end" >>"$log"
    awk -v s="$side" -v n="$idle_n" -v r0="$rss0" -v r1="$rss1" \
        -v p0="$pss0" -v p1="$pss1" -v a="${alive:-0}" 'BEGIN {
        print "idle", s, "rss_b", (r1 - r0) * 1024 / n
        if (p0 != "n/a" && p1 != "n/a") print "idle", s, "pss_b", (p1 - p0) * 1024 / n
        print "idle", s, "rss_mb", r1 / 1024
        print "idle", s, "lost", n - a
    }' >>"$tmp/res"
}

if [ "$idle_n" -gt 0 ] && selected idle; then
    say "== idle: $idle_n idle keep-alive connections to each server"
    start_ours
    idle_one ours "$ours_pid" "$ours_port"
    stop "$ours_pid"
    if [ $have_nginx = 1 ] && start_nginx; then
        idle_one nginx "$nginx_worker" "$nginx_port"
        stop "$nginx_pid"
    fi
fi

# --- The table.
{
    printf '%-12s %-14s %12s %12s %10s\n' scenario metric gohttpd nginx ours/nginx
    scenarios | while read -r name conns mode; do
        grep -q "^$name " "$tmp/res" || continue
        row "$name" rps "req/s" "%.0f"
        row "$name" p99_ms "p99 ms" "%.2f"
        row "$name" cpu_us "cpu us/req" "%.2f"
        e=$(awk -v n="$name" '$1 == n && $3 == "errors" { e += $4 } END { print e + 0 }' "$tmp/res")
        [ "$e" != 0 ] && row "$name" errors "errors/run" "%.0f"
    done
    if grep -q '^idle ' "$tmp/res"; then
        row idle rss_b "Rss B/conn" "%.0f"
        grep -q '^idle [a-z]* pss_b' "$tmp/res" && row idle pss_b "Pss B/conn" "%.0f"
        row idle rss_mb "Rss MB at end" "%.1f"
        l=$(awk '$1 == "idle" && $3 == "lost" { e += $4 } END { print e + 0 }' "$tmp/res")
        [ "$l" != 0 ] && row idle lost "conns closed"  "%.0f"
    fi
} >"$tmp/table"
{
    cat "$tmp/head"
    echo "load average before: $load_before, after: $(loadavg);" \
        "hypervisor steal: $(steal_pct "$steal_before"); idle test:" \
        "$idle_n connections"
    cat "$tmp/table"
} >"$results"
echo
cat "$results"
cat "$results" >>"$log"
echo "(raw output: $log; table: $results)"
[ $crashed = 1 ] && exit 1
exit 0
