#!/bin/sh
# daemon-systemd.sh - the daemon under a (simulated) systemd: sockets
# passed with LISTEN_FDS are served (one adopted by address, one by
# fd_name, one no listen directive names), the address of the fd_name
# listener is not bound, a passed socket that is not a listening stream
# one is refused, NOTIFY_SOCKET hears READY=1, RELOADING=1 then
# READY=1 around a reload (good or bad), STOPPING=1 on SIGTERM, and the
# passed sockets still listen after the daemon stopped (the manager keeps
# them).  LISTEN_PID naming another process leaves the daemon to bind; an
# abstract NOTIFY_SOCKET (@name) works too.
#
# Run by "make check"; see daemon-lib.sh.  Needs python3 (else skipped):
# tests/integration/sd-helper.py plays systemd's part.

set -u
. "${srcdir:-.}/tests/integration/daemon-lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
    echo "$me: no python3: skipped"
    exit 77
fi
helper="$srcdir/tests/integration/sd-helper.py"

# The notify socket's reader (30 s at most): each message, then "--".
python3 "$helper" notify "$tmp/notify" "$tmp/notes" 30 &
pids="$pids $!"
i=0
while [ ! -S "$tmp/notify" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done

# notes_have PATTERN: wait (5 s at most) for a notification line.
notes_have() {
    wait_for_grep "$1" "$tmp/notes" 50
}
# notes_count PATTERN
notes_count() {
    grep -c -- "$1" "$tmp/notes" 2>/dev/null || true
}

NOTIFY_SOCKET=$tmp/notify python3 "$helper" activate "$tmp/ports" \
    web:api:extra:bad tcp "unix:$tmp/api.sock" tcp udp -- "$gohttpd" \
    -c "$tmp/gohttpd.conf" >"$tmp/sd.out" 2>"$tmp/sd.err" &
pid=$!
pids="$pids $pid"
wait_for_grep . "$tmp/ports.keeper" 100
pids="$pids $(cat "$tmp/ports.keeper" 2>/dev/null)"
web=$(sed -n 1p "$tmp/ports")
extra=$(sed -n 2p "$tmp/ports")
cat >"$tmp/gohttpd.conf" <<EOC
listen 127.0.0.1:$web;
listen unix:$tmp/never.sock { fd_name api; }
error_log $tmp/error.log info;
$as_root
route / { handler static; root $(cd "$srcdir/www" && pwd); }
EOC
touch "$tmp/ports.go"
if ! wait_for_grep 'started (pid' "$tmp/error.log"; then
    not_ok "the daemon starts with passed sockets" "$(cat "$tmp/sd.err")"
    finish
    exit 1
fi
ok "the daemon starts with passed sockets"

port=$web
check "the socket adopted by address serves" "200 <!DOCTYPE html>" \
    "$(get /)"
check "the socket adopted by fd_name serves" "200" \
    "$(curl -s -m 10 -o /dev/null -w '%{http_code}' \
        --unix-socket "$tmp/api.sock" http://x/)"
port=$extra
check "the socket no listen names serves too" "200 <!DOCTYPE html>" \
    "$(get /)"
check_grep "it is logged as such" \
    "inherited fd 5 (127.0.0.1:$extra) named extra, which no listen" \
    "$tmp/error.log"
check_grep "a passed socket that does not listen is refused" \
    "LISTEN_FDS: fd 6 named bad is not a listening stream socket: closed" \
    "$tmp/sd.err"
check "fd_name's listener binds no address of its own" "absent" \
    "$([ -e "$tmp/never.sock" ] && echo present || echo absent)"

if notes_have 'READY=1'; then ok "READY=1 once serving"; else
    not_ok "READY=1 once serving" "$(cat "$tmp/notes" 2>/dev/null)"; fi
check_grep "with MAINPID" "^MAINPID=$pid\$" "$tmp/notes"

kill -HUP "$pid"
notes_have 'STATUS=reloaded'
check_grep "RELOADING=1 at the reload" '^RELOADING=1$' "$tmp/notes"
check_grep "with MONOTONIC_USEC" '^MONOTONIC_USEC=[0-9][0-9]*$' "$tmp/notes"
check "READY=1 again after it" "2" "$(notes_count '^READY=1$')"
port=$web
check "the adopted socket serves after the reload" "200 <!DOCTYPE html>" \
    "$(get /)"

echo "bogus_directive;" >>"$tmp/gohttpd.conf"
kill -HUP "$pid"
notes_have 'STATUS=reload failed'
check "a failed reload: RELOADING=1 then READY=1 too" "2 3" \
    "$(notes_count '^RELOADING=1$') $(notes_count '^READY=1$')"
check_grep "its STATUS says the running configuration stays" \
    'STATUS=reload failed, the running configuration stays: .*conf:6:1' \
    "$tmp/notes"

stop_daemon TERM
check "SIGTERM: exit status 0" "0" "$status"
check_grep "STOPPING=1 on SIGTERM" '^STOPPING=1$' "$tmp/notes"
# The manager's copy still listens: a connection waits in the backlog
# (curl times out, 28) instead of being refused (7).
curl -s -m 1 -o /dev/null "http://127.0.0.1:$web/"
check "the passed socket still listens after the stop" "28" "$?"

# LISTEN_PID naming another process: not ours, so bind as configured.
# And an abstract NOTIFY_SOCKET ("@name").
abstract="@gh-test-notify-$$"
python3 "$helper" notify "$abstract" "$tmp/notes2" 30 &
pids="$pids $!"
sleep 0.5
LISTEN_PID=1 LISTEN_FDS=1 NOTIFY_SOCKET=$abstract \
    start_daemon notours -g "$as_root" -r "$srcdir/www"
check "LISTEN_PID of another process: the daemon binds its own" \
    "200 <!DOCTYPE html>" "$(get /)"
if wait_for_grep '^READY=1$' "$tmp/notes2" 50; then
    ok "an abstract NOTIFY_SOCKET hears READY=1"; else
    not_ok "an abstract NOTIFY_SOCKET hears READY=1" \
        "$(tail -n 5 "$tmp/notours.err")"; fi
stop_daemon TERM

finish
