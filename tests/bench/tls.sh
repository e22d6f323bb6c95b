#!/bin/sh
# tls.sh - HTTPS: the gohttpd daemon beside nginx, with the same ECDSA
# P-256 certificate, on keep-alive requests and on new connections.
#
#   tls.sh               ("make bench-tls" runs it from the build directory)
#
# Both servers serve one temporary document root (a 1 KiB file; the static
# handler's precompressed lookups off, as nginx's gzip_static is by
# default: BENCH_PRECOMPRESSED=on to turn them on) over TLS
# (1.2 and 1.3, each server's default ciphers; session tickets on and a
# session cache: nginx "ssl_session_cache shared:SSL:10m"), pinned to one
# CPU (BENCH_SERVER_CPU, default 0) with one worker; the clients run on
# another CPU (BENCH_CLIENT_CPU, default 1).  Scenarios:
#
#   ka.c64     wrk over https, 64 keep-alive connections, GET /1k.bin:
#              requests/s and the server's CPU per request
#   plain.c64  the same over plain HTTP (a second listener of each
#              server, port + 1 for nginx): the row "tls us/req" is
#              ka.c64's CPU per request less this one's, what TLS adds
#   full       BENCH_TLS_CLIENTS (default 4) "openssl s_time -new" at
#              once: a new connection and a full TLS 1.3 handshake for
#              every request (GET /1k.bin, HTTP/1.0)
#   resumed    the same with "s_time -reuse": resumed handshakes
#
# For the handshake scenarios the table gives connections per second (all
# clients together, over the wall time) and the server's CPU time per
# connection (utime + stime over the run / connections).  With two cores,
# the clients' own handshake work (an ECDSA verify costs more than the
# server's sign) can bound the rate, so the CPU per connection is the
# figure that compares the servers' work.  Each scenario runs BENCH_ROUNDS
# times on each server, interleaved; the medians are shown with the ratio
# ours/nginx, then the targets: CPU per request <= nginx's, full and
# resumed handshakes per second >= nginx's.
#
# Environment: BENCH_DURATION (seconds per run, default 5), BENCH_ROUNDS
# (default 3), BENCH_ONLY (a subset of the scenarios), BENCH_TLS_CLIENTS,
# BENCH_BUILDDIR, BENCH_SRCDIR, BENCH_GOHTTPD, NGINX, WRK as static.sh.
# Needs curl and openssl; nginx-light and wrk are installed as static.sh
# does.  Exits 1 when gohttpd fails to start or dies, else 0 (targets are
# reported, not enforced).

set -u

duration=${BENCH_DURATION:-5}
rounds=${BENCH_ROUNDS:-3}
only=${BENCH_ONLY:-}
nclients=${BENCH_TLS_CLIENTS:-4}
scpu=${BENCH_SERVER_CPU:-0}
ccpu=${BENCH_CLIENT_CPU:-1}
builddir=${BENCH_BUILDDIR:-.}
srcdir=${BENCH_SRCDIR:-$(dirname "$0")}
builddir=$(cd "$builddir" && pwd) || exit 2
srcdir=$(cd "$srcdir" && pwd) || exit 2
gohttpd=${BENCH_GOHTTPD:-$builddir/../../server/gohttpd}
log=$builddir/bench-tls.log
results=$builddir/bench-tls-results.txt
me=tls.sh
scheme=https
# shellcheck source=tests/bench/bench-lib.sh
. "$srcdir/bench-lib.sh"
load_before=$(loadavg)
steal_before=$(steal_ticks)

if [ ! -x "$gohttpd" ]; then
    say "$me: $gohttpd is not built (make server/gohttpd handlers/static.la)"
    exit 2
fi
for t in curl openssl; do
    command -v $t >/dev/null 2>&1 || {
        say "$me: no $t"
        exit 2
    }
done
find_tools
pin_cpus

mkdir -p "$tmp/www"
head -c 1024 /dev/urandom >"$tmp/www/1k.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$tmp/site.key" -out "$tmp/site.pem" -days 2 \
    -subj /CN=localhost 2>>"$log" || exit 2
chmod 755 "$tmp" "$tmp/www" && chmod 644 "$tmp/www/1k.bin" \
    "$tmp/site.pem" "$tmp/site.key"

probe() { # PORT: the file over TLS, within 2 s
    curl -sk -o /dev/null -m 2 -f "https://127.0.0.1:$1/1k.bin"
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
listen 127.0.0.1:0 {
    tls {
        certificate $tmp/site.pem;
        key         $tmp/site.key;
    }
}
route / {
    handler static;
    root    $tmp/www;
    precompressed ${BENCH_PRECOMPRESSED:-off};
}
EOF
    run_daemon
    ours_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (tls).*/\1/p' \
                    "$tmp/ours.err" | tail -n 1)
    ours_plain=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
                     "$tmp/ours.err" | tail -n 1)
    if [ -z "$ours_port" ] || ! wait_ready "$ours_pid" "$ours_port"; then
        daemon_failed
    fi
}

nginx_conf() { # PORT
    nginx_http_head 4096
    cat <<EOF
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
    server {
        listen 127.0.0.1:$1 ssl backlog=511;
        listen 127.0.0.1:$(($1 + 1));
        ssl_certificate $tmp/site.pem;
        ssl_certificate_key $tmp/site.key;
        root $tmp/www;
    }
}
EOF
}

# stime_round NAME SIDE ROUND PORT MODE: nclients "s_time MODE" at once;
# result lines conns_s (all together, per wall second) and cpu_us (server
# CPU per connection).
stime_round() {
    name=$1 side=$2 round=$3 port=$4 mode=$5
    if [ "$side" = ours ]; then spids=$ours_pid; else spids="$nginx_pid $nginx_worker"; fi
    # shellcheck disable=SC2086
    t0=$(cpu_ticks $spids)
    w0=$(date +%s%N)
    c=1
    cpids=
    while [ $c -le "$nclients" ]; do
        # shellcheck disable=SC2086
        timeout --kill-after=5 $((duration + 30)) $cpin openssl s_time \
            -connect "127.0.0.1:$port" "$mode" -time "$duration" \
            -www /1k.bin </dev/null >"$tmp/stime.$c" 2>&1 &
        cpids="$cpids $!"
        c=$((c + 1))
    done
    fail=0
    for p in $cpids; do
        wait "$p" || fail=1
    done
    w1=$(date +%s%N)
    # shellcheck disable=SC2086
    t1=$(cpu_ticks $spids)
    conns=$(cat "$tmp"/stime.* | sed -n 's/^\([0-9]*\) connections in [0-9]* real seconds.*/\1/p' |
                awk '{ s += $1 } END { print s + 0 }')
    echo "## $name $side round $round: $conns connections, server ticks $t0 -> $t1, wall $(((w1 - w0) / 1000000)) ms" >>"$log"
    if [ "$fail" = 1 ] || [ "$conns" -eq 0 ]; then
        say "$me: $name ($side, round $round): s_time failed"
        tail -n 3 "$tmp"/stime.* >>"$log"
        echo "$name $side FAIL 1" >>"$tmp/res"
        return
    fi
    awk -v n="$name" -v s="$side" -v c="$conns" -v w="$((w1 - w0))" \
        -v dt="$((t1 - t0))" -v hz="$hz" 'BEGIN {
            print n, s, "conns_s", c / (w / 1e9)
            print n, s, "cpu_us", dt * 1e6 / hz / c
        }' >>"$tmp/res"
}

scenarios() { # NAME KIND ARG
    cat <<EOF
ka.c64 wrk 64
plain.c64 plain 64
full stime -new
resumed stime -reuse
EOF
}
selected() {
    [ -z "$only" ] && return 0
    for o in $only; do
        [ "$o" = "$1" ] && return 0
    done
    return 1
}
run_one() { # NAME KIND ARG SIDE ROUND PORT
    if [ "$2" = wrk ]; then
        [ $have_wrk = 1 ] && wrk_round "$1" "$4" "$5" "$6" "$3" /1k.bin
    elif [ "$2" = plain ]; then
        if [ "$4" = ours ]; then p=$ours_plain; else p=$(($6 + 1)); fi
        scheme=http
        [ $have_wrk = 1 ] && wrk_round "$1" "$4" "$5" "$p" "$3" /1k.bin
        scheme=https
    else
        stime_round "$1" "$4" "$5" "$6" "$3"
    fi
}

crashed=0
: >"$tmp/res"
start_ours
[ $have_nginx = 1 ] && start_nginx
scenarios >"$tmp/scenarios"
while read -r name kind arg; do
    selected "$name" || continue
    say "== $name: $rounds round(s), gohttpd then nginx"
    r=1
    while [ $r -le "$rounds" ]; do
        run_one "$name" "$kind" "$arg" ours $r "$ours_port"
        if ! kill -0 "$ours_pid" 2>/dev/null; then
            say "$me: gohttpd died:"
            tail -n 20 "$tmp/ours.err" | sed 's/^/    /' >&2
            crashed=1
            forget_pid "$ours_pid"
            start_ours
        fi
        [ $have_nginx = 1 ] && run_one "$name" "$kind" "$arg" nginx $r "$nginx_port"
        r=$((r + 1))
    done
    sleep 1
done <"$tmp/scenarios"
grep -q '^[^ ]* ours FAIL' "$tmp/res" && crashed=1
stop "$ours_pid"
[ $have_nginx = 1 ] && stop "$nginx_pid"

target() { # LABEL NAME KEY OP GOAL
    o=$(median "$2" ours "$3") n=$(median "$2" nginx "$3")
    awk -v l="$1" -v o="$o" -v n="$n" -v op="$4" -v g="$5" 'BEGIN {
        if (o !~ /^[0-9.]+$/ || n !~ /^[0-9.]+$/ || n + 0 == 0) {
            printf "target %-32s n/a\n", l; exit
        }
        r = o / n
        met = (op == "<=") ? (r <= g) : (r >= g)
        printf "target %-32s ours/nginx %.2f (%s %.2f): %s\n", l, r, op, g,
            met ? "met" : "missed"
    }'
}
{
    printf '%-12s %-14s %12s %12s %10s\n' scenario metric gohttpd nginx ours/nginx
    row ka.c64 rps "req/s" "%.0f"
    row ka.c64 p99_ms "p99 ms" "%.2f"
    row ka.c64 cpu_us "cpu us/req" "%.2f"
    row plain.c64 rps "req/s" "%.0f"
    row plain.c64 cpu_us "cpu us/req" "%.2f"
    for side in ours nginx; do
        t=$(median ka.c64 $side cpu_us) p=$(median plain.c64 $side cpu_us)
        echo "tls $side $(awk -v t="$t" -v p="$p" 'BEGIN { print t - p }')"
    done >"$tmp/incr"
    awk '{ v[$2] = $3 } END {
        printf "%-12s %-14s %12.2f %12.2f %10s\n", "ka-plain", "tls us/req",
            v["ours"], v["nginx"],
            (v["nginx"] > 0) ? sprintf("%.2f", v["ours"] / v["nginx"]) : "-"
    }' "$tmp/incr"
    for s in full resumed; do
        row "$s" conns_s "conns/s" "%.0f"
        row "$s" cpu_us "cpu us/conn" "%.1f"
    done
    if [ $have_nginx = 1 ]; then
        selected ka.c64 && target "keep-alive: CPU per request" ka.c64 cpu_us "<=" 1
        selected full && target "full handshakes per second" full conns_s ">=" 1
        selected full && target "full handshakes: CPU per conn" full cpu_us "<=" 1
        selected resumed && target "resumed handshakes per second" resumed conns_s ">=" 1
        selected resumed && target "resumed: CPU per conn" resumed cpu_us "<=" 1
    fi
} >"$tmp/table"
{
    echo "gohttpd HTTPS vs nginx ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc)" \
        "CPUs, ${duration}s x $rounds rounds, server on CPU $scpu, clients" \
        "on CPU $ccpu, $nclients s_time clients, $(openssl version | cut -d' ' -f1-2))"
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
