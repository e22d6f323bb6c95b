#!/bin/sh
# proxy-haproxy.sh - two gohttpd instances behind a real HAProxy, as a
# rolling deploy runs them, with the shipped examples
# conf/deploy/haproxy.cfg and conf/deploy/gohttpd-behind-haproxy.conf
# (ports, paths and check interval changed): HAProxy checks /readyz every 200 ms and sends
# the PROXY protocol v2 header (send-proxy-v2) on every connection, health
# checks included; gohttpd's listeners require it.  Under a steady load of
# keep-alive requests through HAProxy, each instance in turn gets SIGTERM
# (it drains: /readyz 503 while it still serves, HAProxy takes it out,
# then it stops), is started again and taken back in; not one request may
# fail.  The access log shows the client's address (127.0.0.2), from the
# PROXY header, not HAProxy's (127.0.0.1).
#
# Run by "make check"; skipped without haproxy or python3; see
# daemon-lib.sh.

set -u
. "${srcdir:-.}/tests/integration/daemon-lib.sh"

for tool in haproxy python3; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "$me: no $tool: skipped"
        exit 77
    fi
done

pa=$(free_port)
pb=$(free_port)
pf=$(free_port)

deploy=$srcdir/conf/deploy
# The shipped examples, on free ports, checking every 200 ms instead of
# every second (drain_delay shortened to match), HAProxy logging to
# stderr (it says why it takes a server out).
sed "s|\.\./\.\./www|$srcdir/www|" "$deploy/gohttpd-behind-haproxy.conf" \
    >"$tmp/gohttpd.conf"
sed -e "s/127\.0\.0\.1:8080/127.0.0.1:$pf/" \
    -e "s/127\.0\.0\.1:8081/127.0.0.1:$pa/" \
    -e "s/127\.0\.0\.1:8082/127.0.0.1:$pb/" \
    -e 's/inter 1s/inter 200ms/' \
    -e '/^global/a\    log stderr format raw local0 notice' \
    -e '/^defaults/a\    log global' \
    "$deploy/haproxy.cfg" >"$tmp/haproxy.cfg"

own_listen=1
# up NAME: start instance NAME; sets its pid variable (pid_a, pid_b).
up() {
    eval "p=\$p$1"
    if start_daemon "$1" -c "$tmp/gohttpd.conf" -l "127.0.0.1:$p" \
        -g "$as_root access_log $tmp/$1.access combined_id; server_header gohttpd-$1; drain_delay 1500ms;"; then
        eval "pid_$1=\$pid"
        return 0
    fi
    return 1
}

if ! up a || ! up b; then
    not_ok "both gohttpd instances start"
    finish
    exit
fi
haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.out" 2>&1 &
hpid=$!
pids="$pids $hpid"

# served_by: which instance answers GET / through HAProxy ("" if none).
served_by() {
    curl -s -m 2 -o /dev/null -w '%header{server}' \
        "http://127.0.0.1:$pf/" 2>/dev/null
}
# wait_both: until HAProxy sends requests to both instances (10 s).
wait_both() {
    i=0 seen=
    while [ $i -lt 100 ]; do
        s=$(served_by)
        case " $seen " in *" $s "*) ;; *) seen="$seen $s" ;; esac
        case $seen in
        *gohttpd-a*gohttpd-b* | *gohttpd-b*gohttpd-a*) return 0 ;;
        esac
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

if wait_both; then
    ok "HAProxy sends traffic to both instances (PROXY v2, /readyz checks)"
else
    not_ok "HAProxy sends traffic to both instances" \
        "$(cat "$tmp/haproxy.out")" "$(cat "$tmp/a.err" "$tmp/b.err")"
    finish
    exit
fi

# The load: keep-alive connections of 20 requests each, one after the
# other, until $tmp/stop appears; one "status server" line per request.
load_format='%{http_code} %header{server}\n'
keepalive_load "$tmp/load.out" 20 "http://127.0.0.1:$pf/index.html" \
    -m 5 --interface 127.0.0.2

# restart NAME: SIGTERM it, wait for its exit, start it again, and wait
# until HAProxy uses it again.
restart() {
    eval "pid=\$pid_$1"
    stop_daemon TERM
    check "$1 drains and exits 0 under load" 0 "$status"
    # Taken out by its readiness (503), not by a refused connection.
    check_grep "HAProxy took $1 out on its 503 from /readyz" \
        "Server gohttpd/$1 is DOWN, reason: Layer7 wrong status, code: 503" \
        "$tmp/haproxy.out"
    mv "$tmp/$1.err" "$tmp/$1.err.old"
    if up "$1" && wait_both; then
        ok "$1 is back in the pool"
    else
        not_ok "$1 is back in the pool" "$(cat "$tmp/$1.err")"
    fi
}

sleep 1
restart a
sleep 0.5
restart b
sleep 1
touch "$tmp/stop"
wait "$load_pid"

total=$(wc -l <"$tmp/load.out")
bad=$(grep -vc '^200 ' "$tmp/load.out")
if [ "$total" -ge 100 ] && [ "$bad" -eq 0 ]; then
    ok "rolling restart: $total requests, none failed"
else
    not_ok "rolling restart: no failed request" \
        "$total requests, $bad failed:" "$(grep -v '^200 ' "$tmp/load.out" |
            sort | uniq -c)"
fi
check "both instances served the load" "2" \
    "$(cut -d' ' -f2 "$tmp/load.out" | sort -u | grep -c gohttpd)"

# The load came from 127.0.0.2, HAProxy from 127.0.0.1.
for inst in a b; do
    if grep 'GET /index.html' "$tmp/$inst.access" | grep -qv '^127\.0\.0\.2 '; then
        not_ok "$inst's access log has the client from the PROXY header" \
            "$(grep 'GET /index.html' "$tmp/$inst.access" | head -n 5)"
    else
        check_grep "$inst's access log has the client from the PROXY header" \
            '^127\.0\.0\.2 - - .*"GET /index.html HTTP/1.1" 200' \
            "$tmp/$inst.access"
    fi
done

kill -TERM "$hpid" 2>/dev/null
wait "$hpid" 2>/dev/null
for inst in a b; do
    eval "pid=\$pid_$inst"
    stop_daemon TERM
done
finish
