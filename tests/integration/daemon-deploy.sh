#!/bin/sh
# daemon-deploy.sh - what a load balancer in front relies on: the health
# and readiness paths (answered without a route, 405 for other methods,
# kept out of the access log unless health_log, renamed or turned off,
# readiness that follows a plugin's own check: the kv store with every
# queue full), the drain on SIGTERM (readiness 503 at once while
# everything else is still served for drain_delay, then no new
# connections, the request in flight finished with Connection: close,
# exit 0; a second SIGTERM cuts the drain short), and a Unix-domain
# listener's owner, group and mode (a stale socket file replaced, a live
# one refused).
#
# Run by "make check"; see daemon-lib.sh.

set -u
. "${srcdir:-.}/tests/integration/daemon-lib.sh"

cat >"$tmp/d.conf" <<EOC
$as_root
access_log $tmp/access.log common;
drain_delay 2500ms;
shutdown_timeout 10s;
route /slow/ {                  # one worker, 2 s a job
    handler kv;
    workers 1;
    queue   1;
    delay   2s;
    timeout 5s;
}
route /slower/ {                # outlives the drain
    handler kv;
    delay   4s;
    timeout 8s;
}
route / {
    handler static;
    root    $srcdir/www;
}
EOC

# ---- the health and readiness paths ----
if ! start_daemon health -c "$tmp/d.conf"; then
    not_ok "gohttpd starts"
    finish
    exit
fi
check "/healthz: 200 ok" "200 ok" "$(get /healthz)"
check "/readyz: 200 ready" "200 ready" "$(get /readyz)"
check "/readyz?probe=1: the query does not matter" "200 ready" \
    "$(get '/readyz?probe=1')"
check "POST /readyz: 405" "405" \
    "$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST \
        "http://127.0.0.1:$port/readyz")"
curl -s -m 10 -D "$tmp/h" -o /dev/null "http://127.0.0.1:$port/readyz"
check_grep "it says Cache-Control: no-store" '^Cache-Control: no-store' \
    "$tmp/h"
get /index.html >/dev/null
wait_for_grep 'GET /index.html' "$tmp/access.log" 30
if grep -q 'healthz\|readyz' "$tmp/access.log"; then
    not_ok "probes stay out of the access log (health_log off)" \
        "$(cat "$tmp/access.log")"
else
    ok "probes stay out of the access log (health_log off)"
fi

# ---- readiness follows the kv plugin's check ----
for k in a b c; do
    curl -s -m 10 -o /dev/null -X PUT -d v "http://127.0.0.1:$port/slow/$k" &
    pids="$pids $!"
done
sleep 0.5 # one job runs, one waits, the third was turned away
check "every kv queue full: /readyz 503 and why" \
    "503 not ready: route /slow/ (kv): every worker's queue is full" \
    "$(get /readyz)"
i=0
while [ "$(get /readyz)" != "200 ready" ] && [ $i -lt 60 ]; do
    sleep 0.1
    i=$((i + 1))
done
check "... and ready again once the queue drains" "200 ready" \
    "$(get /readyz)"

# ---- the drain ----
kill -TERM "$pid"
sleep 0.3
check "SIGTERM: /readyz 503 at once" "503 not ready: draining" \
    "$(get /readyz)"
check "... /healthz still 200 (alive)" "200 ok" "$(get /healthz)"
check "... other paths still served" "200" \
    "$(get /index.html | cut -d' ' -f1)"
# A request that outlives the drain: it finishes, told to close.
curl -s -m 10 -D "$tmp/slow.h" -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$port/slower/x" >"$tmp/slow.code" 2>/dev/null &
slow=$!
sleep 2.6 # the drain (2.5 s) is over: the listener is closed
check "after drain_delay: no new connection" "000" \
    "$(curl -s -m 5 -o /dev/null -w '%{http_code}' \
        "http://127.0.0.1:$port/index.html")"
wait "$slow"
check "the request in flight is answered" "404" "$(cat "$tmp/slow.code")"
check_grep "... with Connection: close" '^Connection: close' "$tmp/slow.h"
stop_daemon TERM
check "the drained daemon exits 0" 0 "$status"
check_grep "the error log tells of the drain" 'draining: not ready' \
    "$tmp/health.err"

# ---- a second SIGTERM ends a long drain ----
printf '%s\naccess_log off;\ndrain_delay 1h;\nroute / {\n handler static;\n root %s;\n}\n' \
    "$as_root" "$srcdir/www" >"$tmp/long.conf"
if start_daemon long -c "$tmp/long.conf"; then
    kill -TERM "$pid"
    wait_for_grep 'draining: not ready' "$tmp/long.err" 30
    check "drain_delay 1h: still serving" "200" \
        "$(get /index.html | cut -d' ' -f1)"
    stop_daemon TERM
    check "a second SIGTERM stops it at once, exit 0" 0 "$status"
    check_grep "... saying so" 'the drain ends now' "$tmp/long.err"
else
    not_ok "gohttpd starts with drain_delay 1h"
fi

# ---- renamed and disabled probe paths, and health_log ----
printf '%s\naccess_log %s common;\nhealth_path off;\nready_path /lb;\nhealth_log on;\nroute / {\n handler static;\n root %s;\n}\n' \
    "$as_root" "$tmp/access2.log" "$srcdir/www" >"$tmp/paths.conf"
if start_daemon paths -c "$tmp/paths.conf"; then
    check "health_path off: /healthz goes to the routes (404)" "404" \
        "$(get /healthz | cut -d' ' -f1)"
    check "ready_path /lb: 200 ready" "200 ready" "$(get /lb)"
    wait_for_grep 'GET /lb ' "$tmp/access2.log" 30
    check_grep "health_log on: the probe is logged" 'GET /lb HTTP' \
        "$tmp/access2.log"
    stop_daemon
else
    not_ok "gohttpd starts with renamed probe paths"
fi
printf 'listen 127.0.0.1:0;\nready_path healthz;\n' >"$tmp/badpath.conf"
"$gohttpd" -t -c "$tmp/badpath.conf" >"$tmp/badpath.t" 2>&1
check "-t rejects a probe path without /" 1 $?
check_grep "... naming the place" 'badpath.conf:2:1: ready_path: expected a path starting with /' \
    "$tmp/badpath.t"

# ---- a Unix-domain listener: owner, group, mode ----
sock=$tmp/http.sock
group=$(id -gn)
printf '%s\naccess_log off;\nlisten unix:%s {\n  group %s;\n  mode 0660;\n}\nroute / {\n handler static;\n root %s;\n}\n' \
    "$as_root" "$sock" "$group" "$srcdir/www" >"$tmp/unix.conf"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
    "$sock" 2>/dev/null # a stale socket file, as a crash leaves
own_listen=1
if start_daemon unix -c "$tmp/unix.conf"; then
    check "the stale socket file is replaced; served over it" "200" \
        "$(curl -s -m 10 -o /dev/null -w '%{http_code}' --unix-socket \
            "$sock" http://localhost/index.html)"
    check "mode 0660, group $group" "660 $group" \
        "$(stat -c '%a %G' "$sock")"
    upid=$pid
    "$gohttpd" -c "$tmp/unix.conf" >"$tmp/unix2.out" 2>&1
    check "a second daemon on a live socket fails" 1 $?
    check_grep "... saying the address is in use" 'address already in use' \
        "$tmp/unix2.out"
    pid=$upid
    stop_daemon
    check "the socket file is removed at exit" "gone" \
        "$([ -e "$sock" ] && echo there || echo gone)"
else
    not_ok "gohttpd starts on a Unix socket"
fi
unset own_listen
printf 'listen 127.0.0.1:0 {\n  mode 0600;\n}\n' >"$tmp/tcpmode.conf"
"$gohttpd" -t -c "$tmp/tcpmode.conf" >"$tmp/tcpmode.t" 2>&1
check "-t rejects mode on a TCP listener" 1 $?
check_grep "... naming the place" 'tcpmode.conf:2:3: mode: only for a unix: listener' \
    "$tmp/tcpmode.t"
printf 'listen unix:/tmp/x.sock {\n  mode 999;\n}\n' >"$tmp/badmode.conf"
"$gohttpd" -t -c "$tmp/badmode.conf" >"$tmp/badmode.t" 2>&1
check_grep "-t rejects mode 999" 'badmode.conf:2:3: mode: expected an octal mode' \
    "$tmp/badmode.t"

# ---- notsent_lowat: TCP listeners only, 1 byte to 64m or off ----
lowat_t() { # NAME BODY: gohttpd -t on "listen ADDR { BODY }", output in NAME.t
    printf '%s\n' "$2" >"$tmp/$1.conf"
    "$gohttpd" -t -c "$tmp/$1.conf" >"$tmp/$1.t" 2>&1
}
lowat_t lowat 'listen 127.0.0.1:0 {
  notsent_lowat 32k;
}
listen [::1]:0 {
  notsent_lowat off;
}'
check "-t accepts notsent_lowat 32k and off" 0 $?
lowat_t lowat0 'listen 127.0.0.1:0 {
  notsent_lowat 0;
}'
check_grep "-t rejects notsent_lowat 0" \
    'lowat0.conf:2:3: notsent_lowat: must be at least 1 (or off)' "$tmp/lowat0.t"
lowat_t lowatbig 'listen 127.0.0.1:0 {
  notsent_lowat 65m;
}'
check_grep "-t rejects notsent_lowat over 64m" \
    'lowatbig.conf:2:3: notsent_lowat: must be at most 67108864' "$tmp/lowatbig.t"
lowat_t lowatunix 'listen unix:/tmp/x.sock {
  notsent_lowat 16k;
}'
check_grep "-t rejects notsent_lowat on a unix: listener" \
    'lowatunix.conf:2:3: notsent_lowat: only for a TCP listener' "$tmp/lowatunix.t"

finish
