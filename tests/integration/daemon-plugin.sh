#!/bin/sh
# daemon-plugin.sh - handler plugins from outside the tree: one built with
# `cc -shared -fPIC ... $(pkg-config --cflags --libs gohttpd)` against
# this build tree loads and serves (with its settings, and its unknown
# settings refused); one built for another handler ABI is refused with a
# message naming the file and both ABI numbers, by -t and at start-up.
#
# Run by "make check"; see daemon-lib.sh.

set -u
. "${srcdir:-.}/tests/integration/daemon-lib.sh"

if ! command -v pkg-config >/dev/null 2>&1; then
    echo "$me: no pkg-config: skipped"
    exit 77
fi

if build_plugin hello; then
    ok "an out-of-tree plugin builds with pkg-config"
else
    not_ok "an out-of-tree plugin builds with pkg-config"
fi

cat >"$tmp/hello.conf" <<EOC
listen 127.0.0.1:0;
$as_root
route /hi GET {
    handler $tmp/hello.so;
    greeting "hello, plugin";
}
EOC
"$gohttpd" -t -c "$tmp/hello.conf" >"$tmp/t.hello" 2>&1
check "-t accepts the plugin's configuration" 0 $?
if start_daemon hello -c "$tmp/hello.conf"; then
    check "the out-of-tree plugin serves" "200 hello, plugin 1" "$(get /hi)"
    check "its state lives across requests" "200 hello, plugin 2" \
        "$(get /hi)"
    code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST \
               "http://127.0.0.1:$port/hi")
    check "the route's method list is enforced" 405 "$code"
    stop_daemon TERM
    check_grep "fini runs at shutdown" 'hello: served 2 requests' \
        "$tmp/hello.err"
else
    not_ok "the daemon starts with the plugin"
fi

# Plugin settings are checked like the daemon's own.
cat >"$tmp/badval.conf" <<EOC
listen 127.0.0.1:0;
route /hi {
    handler $tmp/hello.so;
    delay soon;
}
EOC
"$gohttpd" -t -c "$tmp/badval.conf" >"$tmp/t.badval" 2>&1
check "-t rejects a bad plugin setting" 1 $?
check_grep "naming file:line:col and the key" \
    'badval.conf:4:5: delay: expected a duration' "$tmp/t.badval"

# Another ABI.
# badabi.c claims GH_HANDLER_ABI + 41.
abi=$(sed -n 's/^#define GH_HANDLER_ABI \([0-9]*\)$/\1/p' \
    "${srcdir:-.}/lib/include/gohttpd/handler.h")
if build_plugin badabi; then
    printf 'listen 127.0.0.1:0;\nroute / {\n  handler %s/badabi.so;\n}\n' \
        "$tmp" >"$tmp/badabi.conf"
    "$gohttpd" -t -c "$tmp/badabi.conf" >"$tmp/t.badabi" 2>&1
    check "-t refuses a plugin built for another ABI" 1 $?
    check_grep "naming the file and both ABI numbers" \
        "badabi.so: built for handler ABI $((abi + 41)), but this gohttpd has handler ABI $abi" \
        "$tmp/t.badabi"
    "$gohttpd" -c "$tmp/badabi.conf" >"$tmp/s.badabi" 2>&1
    check "start-up refuses it too" 1 $?
    check_grep "with the same message" "built for handler ABI $((abi + 41))" \
        "$tmp/s.badabi"
else
    not_ok "tests/plugins/badabi.c builds"
fi

# A plugin that blocks its worker thread is reported, with its stack.
if build_plugin blocker; then
    cat >"$tmp/blocker.conf" <<EOC
listen 127.0.0.1:0;
$as_root
stall_limit 100ms;
route /block {
    handler $tmp/blocker.so;
    block 400ms;
}
EOC
    if start_daemon blocker -c "$tmp/blocker.conf"; then
        check "a handler that blocks its thread still answers" "200 done" \
            "$(get /block)"
        wait_for_grep "let go after" "$tmp/blocker.err"
        stop_daemon TERM
        check_grep "the stall is a warning naming the goroutine" \
            '\[warn\] worker [0-9]*: goroutine [0-9]* .*has kept it for' \
            "$tmp/blocker.err"
        check_grep "and the request its handler serves" \
            'goroutine [0-9]* (serving "GET /block") has kept it for' \
            "$tmp/blocker.err"
        check_grep "with the plugin's frames" \
            'stack: .*nanosleep.* <- block_thread+0x.* <- blocker_serve+0x' \
            "$tmp/blocker.err"
        check_grep "and a notice when it lets go" \
            '\[notice\] worker [0-9]*: goroutine [0-9]* .*let go after about' \
            "$tmp/blocker.err"
    else
        not_ok "the daemon starts with the blocking plugin"
    fi
else
    not_ok "tests/plugins/blocker.c builds"
fi
printf 'listen 127.0.0.1:0;\nstall_limit 5ms;\n' >"$tmp/stall.conf"
"$gohttpd" -t -c "$tmp/stall.conf" >"$tmp/t.stall" 2>&1
check "-t rejects a stall_limit below 10ms" 1 $?
check_grep "naming file:line:col" \
    'stall.conf:2:1: stall_limit: must be off, or between 10ms and 1h' \
    "$tmp/t.stall"
printf 'listen 127.0.0.1:0;\nstall_limit off;\n' >"$tmp/stalloff.conf"
"$gohttpd" -t -c "$tmp/stalloff.conf" >"$tmp/t.stalloff" 2>&1
check "-t accepts stall_limit off" 0 $?

finish
