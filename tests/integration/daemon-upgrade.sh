#!/bin/sh
# daemon-upgrade.sh - SIGUSR2 starts a new gohttpd that takes the
# listening sockets over while the old one finishes: under a client
# sending one-request connections all along, not one fails; the old pid
# exits 0, the new one serves and holds the pid file.  An upgrade whose
# new process fails (a broken configuration) leaves the old one serving
# with its pid file; one whose new process does not come up within
# upgrade_timeout is killed; a second SIGUSR2, or a SIGHUP, meanwhile is
# refused.
#
# Run by "make check"; see daemon-lib.sh.  Needs python3 (the client,
# tests/integration/sd-helper.py), else skipped.

set -u
. "${srcdir:-.}/tests/integration/daemon-lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
    echo "$me: no python3: skipped"
    exit 77
fi
helper="$srcdir/tests/integration/sd-helper.py"
www=$(cd "$srcdir/www" && pwd)

# write_conf [EXTRA-LINE]
write_conf() {
    cat >"$tmp/gohttpd.conf" <<EOC
listen 127.0.0.1:0;
error_log $tmp/error.log info;
pid_file ${pidf:-$tmp/gohttpd.pid};
upgrade_timeout 5s;
$as_root
route / { handler static; root $www; }
${1:-}
EOC
}

# gone PID: wait (10 s at most) for PID to have exited.
gone() {
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    ! kill -0 "$1" 2>/dev/null
}

# new_pid: the pid of the last "started" line of the error log.
new_pid() {
    sed -n 's/.*started (pid \([0-9]*\),.*/\1/p' "$tmp/error.log" | tail -n 1
}

write_conf
watch=$tmp/error.log
own_listen=yes
if ! start_daemon upgrade -c "$tmp/gohttpd.conf"; then
    not_ok "the daemon starts"
    finish
    exit 1
fi
old=$pid
check "the pid file names it" "$old" "$(cat "$tmp/gohttpd.pid")"

# The client, until $tmp/stop exists (30 s at most).
python3 "$helper" load "$port" 30 "$tmp/load" "$tmp/stop" &
client=$!
pids="$pids $client"
sleep 1
kill -USR2 "$old"
if wait_for_grep 'upgrade: took over from pid' "$tmp/error.log"; then
    ok "SIGUSR2: a new process takes over"
else
    not_ok "SIGUSR2: a new process takes over" "$(tail -n 20 "$tmp/error.log")"
fi
wait_for_grep 'started (pid' "$tmp/error.log"
new=$(new_pid)
pids="$pids $new"
wait "$old"
check "the old process exits with status 0" "0" "$?"
sleep 1 # the new one alone, under load
touch "$tmp/stop"
wait "$client"
read -r served failures <"$tmp/load" || { served=0 failures=x; }
check "no request failed during the upgrade" "0" "$failures"
if [ "$served" -ge 100 ]; then
    ok "the client kept going ($served requests)"
else
    not_ok "the client kept going" "only $served requests" \
        "$(head -n 5 "$tmp/load.errors")"
fi
[ "$failures" = 0 ] || sed 's/^/# /' "$tmp/load.errors" | head -n 5

check "the new process is another one" "yes" \
    "$([ -n "$new" ] && [ "$new" != "$old" ] && echo yes)"
check "the new process serves on the same port" "200 <!DOCTYPE html>" \
    "$(get /)"
check "the pid file names the new process" "$new" \
    "$(cat "$tmp/gohttpd.pid")"
check_grep "the old one said so" \
    "upgrade: new process $new is ready; this one (pid $old) stops" \
    "$tmp/error.log"

# A broken configuration: the new process exits, the old one stays.
write_conf "bogus_directive;"
kill -USR2 "$new"
if wait_for_grep "upgrade failed: pid $new goes on serving" "$tmp/error.log"
then ok "a failing new process: the upgrade fails"; else
    not_ok "a failing new process: the upgrade fails" \
        "$(tail -n 20 "$tmp/error.log")"; fi
check_grep "its exit status is logged" \
    "upgrade: new process [0-9]* exited with status 1" "$tmp/error.log"
check "the running one still serves" "200 <!DOCTYPE html>" "$(get /)"
check "and still holds the pid file" "$new" "$(cat "$tmp/gohttpd.pid")"

# A new process that hangs (its error log, a FIFO nobody reads, blocks
# its start): a second SIGUSR2 is refused; upgrade_timeout kills it.
mkfifo "$tmp/fifo"
write_conf "error_log $tmp/fifo;"
# Wait for this upgrade's own "started" line (earlier upgrades left
# theirs): two SIGUSR2 pending at once would be delivered as one.
started=$(grep -c 'upgrade: new process [0-9]* started' "$tmp/error.log")
kill -USR2 "$new"
i=0
while [ "$(grep -c 'upgrade: new process [0-9]* started' "$tmp/error.log")" \
        -le "$started" ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill -USR2 "$new"
if wait_for_grep "SIGUSR2: an upgrade is already under way" "$tmp/error.log"
then ok "a second SIGUSR2 meanwhile is refused"; else
    not_ok "a second SIGUSR2 meanwhile is refused" \
        "$(tail -n 20 "$tmp/error.log")"; fi
kill -HUP "$new"
if wait_for_grep "SIGHUP: reload refused: an upgrade is under way" \
    "$tmp/error.log"; then ok "so is a reload meanwhile"; else
    not_ok "so is a reload meanwhile" "$(tail -n 20 "$tmp/error.log")"; fi
if wait_for_grep "not ready within upgrade_timeout: killing" \
    "$tmp/error.log" 100; then ok "upgrade_timeout gives the new one up"
else not_ok "upgrade_timeout gives the new one up" \
    "$(tail -n 20 "$tmp/error.log")"; fi
wait_for_grep "upgrade failed: pid $new goes on serving" "$tmp/error.log"
check "the running one still serves after it" "200 <!DOCTYPE html>" \
    "$(get /)"

# An upgrade whose configuration names another pid file: the new process
# writes that one, and the old one removes its own, which nobody holds.
pidf=$tmp/other.pid
write_conf
kill -USR2 "$new"
if wait_for_grep "upgrade: new process [0-9]* is ready; this one (pid $new)" \
    "$tmp/error.log" 100; then ok "an upgrade to another pid_file"
else not_ok "an upgrade to another pid_file" \
    "$(tail -n 20 "$tmp/error.log")"; fi
older=$new
new=$(new_pid)
pids="$pids $new"
if gone "$older"; then ok "... the old process exits"; else
    not_ok "... the old process exits"; fi
check "... and its pid file is gone, not left stale" "absent" \
    "$([ -e "$tmp/gohttpd.pid" ] && echo present || echo absent)"
check "... the new pid file names the new process" "$new" \
    "$(cat "$pidf" 2>/dev/null)"

kill -TERM "$new"
if gone "$new"; then ok "SIGTERM stops the new process"; else
    not_ok "SIGTERM stops the new process"; fi
check "its pid file is removed" "absent" \
    "$([ -e "$pidf" ] && echo present || echo absent)"
# Every process wrote its stderr there, the new ones included (whose exit
# status this shell cannot see): no sanitizer report in a sanitizer build.
check "no sanitizer report from any of the processes" "" \
    "$(grep -E 'Sanitizer|runtime error' "$tmp/upgrade.err" | head -n 3)"

finish
