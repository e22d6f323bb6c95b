#!/bin/sh
# daemon-reload.sh - SIGHUP reloads without failing a request: a client
# keeps sending keep-alive requests through five reloads and sees only
# 200s; a route that the new configuration adds answers; a broken
# configuration is refused and the old one keeps serving; a changed listen
# directive opens the new socket and closes the old one; a reload naming
# another pid_file (or none) leaves the pid file where it was written.
#
# Run by "make check"; see daemon-lib.sh.

set -u
. "${srcdir:-.}/tests/integration/daemon-lib.sh"

if ! build_plugin hello; then
    not_ok "tests/plugins/hello.c builds out of tree"
    finish
    exit 1
fi

# write_conf GREETING [EXTRA-ROUTE-GREETING [LISTEN-FLAGS]]
write_conf() {
    {
        echo "listen 127.0.0.1:0 ${3:-};"
        echo "error_log $tmp/error.log info;"
        echo "$as_root"
        echo "route /hello { handler $tmp/hello.so; greeting $1; }"
        if [ -n "${2:-}" ]; then
            echo "route /added { handler $tmp/hello.so; greeting $2; }"
        fi
    } >"$tmp/gohttpd.conf.new"
    mv "$tmp/gohttpd.conf.new" "$tmp/gohttpd.conf"
}

write_conf v1
watch=$tmp/error.log
own_listen=yes
if ! start_daemon reload -c "$tmp/gohttpd.conf"; then
    not_ok "the daemon starts"
    finish
    exit 1
fi
check "v1 answers" "200 v1 1" "$(get /hello)"

# The client: 40 keep-alive requests per curl, again and again.
keepalive_load "$tmp/codes" 40 "http://127.0.0.1:$port/hello"

sleep 0.3
for r in 1 2 3 4 5; do
    if [ $((r % 2)) = 1 ]; then
        write_conf "v$r" "added$r"
    else
        write_conf "v$r"
    fi
    reload_and_wait
    sleep 0.2
done
touch "$tmp/stop"
wait "$load_pid"

total=$(wc -l <"$tmp/codes")
bad=$(grep -cv '^200$' "$tmp/codes")
check "no request failed during 5 reloads ($total requests)" 0 "$bad"
[ "$total" -ge 200 ] && ok "the client kept going ($total >= 200)" ||
    not_ok "the client kept going" "only $total requests"
check_grep "five reloads were logged" 'reloaded:' "$tmp/error.log"
check "five reloads succeeded" 5 "$(grep -c 'reloaded:' "$tmp/error.log")"
check "the last configuration serves" "v5" "$(get /hello | cut -d' ' -f2)"
check "a route added by a reload answers" "added5" \
    "$(get /added | cut -d' ' -f2)"
check_grep "retired instances were finished (fini)" 'hello: served' \
    "$tmp/error.log"

# A broken configuration changes nothing.
printf 'listen 127.0.0.1:0;\nroute /hello {\n  handler %s/hello.so;\n  greeting;\n' \
    "$tmp" >"$tmp/gohttpd.conf"
reload_and_wait
check_grep "a broken configuration is refused with its place" \
    'reload failed.*gohttpd.conf:' "$tmp/error.log"
check "and the old one keeps serving" "v5" "$(get /hello | cut -d' ' -f2)"

# A changed listen directive: the new socket opens, the old one closes.
old=$port
write_conf v6 "" reuseport
reload_and_wait
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
           "$tmp/error.log" | tail -n 1)
if [ "$port" != "$old" ]; then
    ok "the new listener has its own port"
else
    not_ok "the new listener has its own port" "still $old"
fi
check "the new listener answers" "v6" "$(get /hello | cut -d' ' -f2)"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' \
           "http://127.0.0.1:$old/hello")
check "the old listener is closed" "000" "$code"

stop_daemon TERM
check "SIGTERM after reloads exits 0" 0 "$status"

# ---- pid_file: a reload does not move it ----
# The pid file stays where it was written until the restart: SIGTERM
# removes that one, not the path a reload named (which may be another
# instance's), and the warning compares with what runs, so going back to
# the path in force is not warned about.

# pf_conf DIRECTIVE: a configuration with this pid_file line
pf_conf() {
    {
        echo "listen 127.0.0.1:0;"
        echo "error_log $tmp/pf.log info;"
        echo "$as_root"
        echo "$1"
        echo "route /hello { handler $tmp/hello.so; greeting pf; }"
    } >"$tmp/pf.conf.new"
    mv "$tmp/pf.conf.new" "$tmp/pf.conf"
}
pf_warned() {
    grep -c 'reload: pid_file changes at the next restart' "$tmp/pf.log"
}
exists() {
    test -e "$1" && echo yes || echo no
}

echo "not ours" >"$tmp/pf-two.pid"
pf_conf "pid_file pf-one.pid;"
watch=$tmp/pf.log
if start_daemon pf -c "$tmp/pf.conf"; then
    check "pid_file: the first path holds the pid" "$pid" \
        "$(cat "$tmp/pf-one.pid")"
    pf_conf "pid_file pf-two.pid;"
    reload_and_wait "$tmp/pf.log"
    check "pid_file: a reload to another path is warned about" 1 \
        "$(pf_warned)"
    pf_conf "pid_file pf-one.pid;"
    reload_and_wait "$tmp/pf.log"
    check "pid_file: back to the path in force: no new warning" 1 \
        "$(pf_warned)"
    pf_conf "pid_file pf-two.pid;"
    reload_and_wait "$tmp/pf.log"
    check "pid_file: away from it again: warned again" 2 "$(pf_warned)"
    check "pid_file: three reloads succeeded" 3 \
        "$(grep -c 'reloaded:' "$tmp/pf.log")"
    stop_daemon TERM
    check "pid_file: SIGTERM exits 0" 0 "$status"
    check "pid_file: SIGTERM removes the file it wrote" no \
        "$(exists "$tmp/pf-one.pid")"
    check "pid_file: ... and leaves the reloaded path alone" "not ours" \
        "$(cat "$tmp/pf-two.pid" 2>&1)"
else
    not_ok "pid_file: the daemon starts"
fi

# pid_file off by a reload: the file written is still the one removed.
rm -f "$tmp/pf.log"
pf_conf "pid_file pf-one.pid;"
if start_daemon pfoff -c "$tmp/pf.conf"; then
    pf_conf "pid_file off;"
    reload_and_wait "$tmp/pf.log"
    check "pid_file off by a reload is warned about" 1 "$(pf_warned)"
    stop_daemon TERM
    check "pid_file off: SIGTERM removes the file it wrote" no \
        "$(exists "$tmp/pf-one.pid")"
    if grep -q 'cannot remove' "$tmp/pf.log"; then
        not_ok "pid_file off: no failed removal" \
            "$(grep 'cannot remove' "$tmp/pf.log")"
    else
        ok "pid_file off: no failed removal"
    fi
else
    not_ok "pid_file off: the daemon starts"
fi
finish
