#!/bin/sh
# daemon-basic.sh - the gohttpd daemon from its command line: -v, -h, -t
# with good and bad configurations (the error names file:line:col), serving
# www/ from conf/gohttpd.conf, -r DIR with no configuration file, -g, the
# access log, SIGTERM with a slow request in flight (it completes, the exit
# status is 0, the pid file goes), SIGUSR1 reopening a moved log file and
# SIGQUIT dumping goroutines to the error log.
#
# Run by "make check"; see daemon-lib.sh.

set -u
. "${srcdir:-.}/tests/integration/daemon-lib.sh"

# ---- the command line ----
out=$("$gohttpd" -v 2>&1)
check "-v prints the version" "0 gohttpd" "$? $(echo "$out" | cut -d' ' -f1)"
"$gohttpd" -h >"$tmp/h" 2>&1
check "-h exits 0" 0 $?
check_grep "-h describes -r" '-r DIR' "$tmp/h"
"$gohttpd" -x >"$tmp/x" 2>&1
check "an unknown option exits 1" 1 $?
"$gohttpd" -w 0 >"$tmp/w" 2>&1
check "-w 0 exits 1" 1 $?
check_grep "-w 0 says why" 'expected 1 to 1024 workers' "$tmp/w"

# ---- -t ----
"$gohttpd" -t -c "$conf" >"$tmp/t" 2>&1
check "-t accepts conf/gohttpd.conf" 0 $?
check_grep "-t says it is ok" 'is ok' "$tmp/t"

# t_bad NAME EXPECTED-MESSAGE: -t on $tmp/NAME.conf fails with the message
t_bad() {
    "$gohttpd" -t -c "$tmp/$1.conf" >"$tmp/$1.t" 2>&1
    check "-t rejects $1.conf" 1 $?
    check_grep "-t names the place in $1.conf" "$2" "$tmp/$1.t"
}
printf 'workers 2;\n}\nlisten 127.0.0.1:0;\n' >"$tmp/syntax.conf"
t_bad syntax "syntax.conf:2:1: unexpected '}'"
printf 'workers 2;\n  wrokers 3;\n' >"$tmp/unknown.conf"
t_bad unknown "unknown.conf:2:3: wrokers: unknown directive"
printf 'listen 127.0.0.1:0;\nworkers many;\n' >"$tmp/value.conf"
t_bad value 'value.conf:2:1: workers: expected a number, found "many"'
printf 'listen 127.0.0.1:0;\nroute / {\n  handler static;\n  root %s;\n  max_ag 1h;\n}\n' \
    "$srcdir/www" >"$tmp/setting.conf"
t_bad setting "setting.conf:5:3: max_ag: unknown setting for handler static"
printf 'listen 127.0.0.1:0;\nroute / {\n  handler nosuch;\n}\n' \
    >"$tmp/plugin.conf"
t_bad plugin 'plugin.conf:2:1: route /: no plugin "nosuch"'
printf 'listen 127.0.0.1:0;\ninclude %s/missing.conf;\n' "$tmp" \
    >"$tmp/include.conf"
t_bad include "include.conf:2:"
printf 'listen 127.0.0.1:0;\nlinger_timeout 0;\n' >"$tmp/linger.conf"
t_bad linger "linger.conf:2:1: linger_timeout: must be more than 0"
printf 'listen 127.0.0.1:0;\nlinger_bytes 0;\n' >"$tmp/lingerb.conf"
t_bad lingerb "lingerb.conf:2:1: linger_bytes: must be more than 0"
printf 'workers 1;\n' >"$tmp/nolisten.conf"
t_bad nolisten "no listen directive"

# Values that start-up, or the first request, would trip on: -t refuses
# them too, at the directive.
printf 'listen 127.0.0.1:0;\nstack_size 24k;\n' >"$tmp/stack.conf"
t_bad stack "stack.conf:2:1: stack_size: must be at least 32k"
printf 'listen 127.0.0.1:0;\nstack_size 1;\n' >"$tmp/stack1.conf"
t_bad stack1 "stack1.conf:2:1: stack_size: must be at least 32k"
for h in Content-Length transfer-encoding CONNECTION Keep-Alive \
    Proxy-Connection te Trailer Upgrade host Date Server Content-Type \
    Expect; do
    printf 'listen 127.0.0.1:0;\n  request_id_header %s;\n' "$h" \
        >"$tmp/rid-$h.conf"
    t_bad "rid-$h" "rid-$h.conf:2:3: request_id_header: \"$h\" is a \
header the server sets or reads itself (for framing and the connection)"
done
printf 'listen 127.0.0.1:0;\nserver_header "a\001b";\n' >"$tmp/srvctl.conf"
t_bad srvctl "srvctl.conf:2:1: server_header: must not contain a \
control character (byte 0x01)"
printf 'listen 127.0.0.1:0;\nserver_header "a\177";\n' >"$tmp/srvdel.conf"
t_bad srvdel "srvdel.conf:2:1: server_header: must not contain a \
control character (byte 0x7f)"
printf 'listen 127.0.0.1:99999;\n' >"$tmp/port.conf"
t_bad port "port.conf:1:1: listen: \"127.0.0.1:99999\": the port must be \
a number from 0 to 65535"
printf 'listen 127.0.0.1:8o;\n' >"$tmp/portx.conf"
t_bad portx 'portx.conf:1:1: listen: "127.0.0.1:8o": the port must be'
printf 'listen 127.0.0.1;\n' >"$tmp/noport.conf"
t_bad noport 'noport.conf:1:1: listen: "127.0.0.1": expected HOST:PORT'
printf 'workers 1;\nlisten [::1:8080;\n' >"$tmp/bracket.conf"
t_bad bracket "bracket.conf:2:1: listen: \"\\[::1:8080\": '\\[' without"
printf 'listen []:8080;\n' >"$tmp/v6empty.conf"
t_bad v6empty 'v6empty.conf:1:1: listen: "\[\]:8080": expected an IPv6'
printf 'listen unix:;\n' >"$tmp/unix0.conf"
t_bad unix0 'unix0.conf:1:1: listen: "unix:": expected a path after unix:'
long=/tmp/$(printf '%0107d' 0).sock
printf 'listen unix:%s;\n' "$long" >"$tmp/unixlong.conf"
t_bad unixlong 'unixlong.conf:1:1: listen: .*longer than 107 bytes'
"$gohttpd" -t -c "$conf" -l 127.0.0.1:65536 >"$tmp/l.t" 2>&1
check "-t rejects -l with a port over 65535" 1 $?
check_grep "... naming -l" '^gohttpd: -l 127.0.0.1:65536: the port' \
    "$tmp/l.t"
printf 'listen 127.0.0.1:0;\nuser gohttpd-no-such-user;\n' >"$tmp/user.conf"
t_bad user 'user.conf:2:1: user: no user "gohttpd-no-such-user"'
printf 'listen 127.0.0.1:0;\nuser %s gohttpd-no-such-group;\n' \
    "$(id -un)" >"$tmp/group.conf"
t_bad group 'group.conf:2:1: user: no group "gohttpd-no-such-group"'

# ... and what is near those limits passes.
printf '%s;\n' 'listen 127.0.0.1:65535' 'listen [::1]:0' 'listen :0' \
    'listen unix:/tmp/gohttpd-edges.sock' 'stack_size 32k' \
    'request_id_header X-Trace-ID' "server_header \"gohttpd$(printf '\t')x\"" \
    >"$tmp/edges.conf"
"$gohttpd" -t -c "$tmp/edges.conf" >"$tmp/edges.t" 2>&1
check "-t accepts the values at the limits" "0" "$?"

# ---- serving www/ with the default configuration ----
if start_daemon www -c "$conf" -g "$as_root access_log stdout combined;"; then
    ok "gohttpd starts with conf/gohttpd.conf"
    index=$(curl -s -m 10 "http://127.0.0.1:$port/")
    want=$(cat "$srcdir/www/index.html")
    check "GET / is www/index.html" "$want" "$index"
    check "a missing file is 404" "404" "$(get /no/such/file | cut -d' ' -f1)"
    curl -s -m 10 -o /dev/null -A 'test-agent/1.0' "http://127.0.0.1:$port/"
    wait_for_grep 'test-agent/1.0' "$tmp/www.out" 30
    check_grep "the access log has the request in combined format" \
        '"GET / HTTP/1.1" 200 .* "-" "test-agent/1.0"' "$tmp/www.out"
    stop_daemon TERM
    check "SIGTERM stops it with status 0" 0 "$status"
else
    not_ok "gohttpd starts with conf/gohttpd.conf"
fi

# ---- -r DIR: no configuration file ----
mkdir "$tmp/site" && echo "served by -r" >"$tmp/site/hello.txt"
chmod 755 "$tmp" "$tmp/site"
chmod 644 "$tmp/site/hello.txt"
if start_daemon r -r "$tmp/site" -g "$as_root server_header test-srv;"; then
    check "-r serves the directory" "200 served by -r" "$(get /hello.txt)"
    hdr=$(curl -s -m 10 -D - -o /dev/null "http://127.0.0.1:$port/hello.txt" |
          tr -d '\r' | sed -n 's/^Server: //p')
    check "-g overrides a setting" "test-srv" "$hdr"
    stop_daemon TERM
else
    not_ok "-r serves a directory"
fi

# ---- SIGTERM with a slow request in flight; the pid file ----
if build_plugin hello; then
    cat >"$tmp/slow.conf" <<EOC
listen 127.0.0.1:0;
pid_file $tmp/gohttpd.pid;
shutdown_timeout 10s;
$as_root
route /slow {
    handler $tmp/hello.so;
    greeting slow;
    delay 1500ms;
}
EOC
    if start_daemon slow -c "$tmp/slow.conf"; then
        check "the pid file holds the pid" "$pid" "$(cat "$tmp/gohttpd.pid")"
        curl -s -m 10 "http://127.0.0.1:$port/slow" >"$tmp/slow.body" &
        cpid=$!
        pids="$pids $cpid"
        sleep 0.5
        stop_daemon TERM
        wait "$cpid"
        check "a request in flight at SIGTERM completes" "slow 1" \
            "$(cat "$tmp/slow.body")"
        check "and the daemon exits 0" 0 "$status"
        check "the pid file is removed" "no" \
            "$(test -e "$tmp/gohttpd.pid" && echo yes || echo no)"
    else
        not_ok "the slow configuration starts"
    fi
else
    not_ok "tests/plugins/hello.c builds out of tree"
fi

# ---- SIGUSR1 reopens the logs; SIGQUIT dumps goroutines ----
cat >"$tmp/logs.conf" <<EOC
listen 127.0.0.1:0;
error_log $tmp/error.log info;
access_log $tmp/access.log common;
$as_root
route / {
    handler static;
    root $tmp/site;
}
EOC
watch=$tmp/error.log
if start_daemon logs -c "$tmp/logs.conf"; then
    get /hello.txt?before >/dev/null
    wait_for_grep 'hello.txt?before' "$tmp/access.log" 30
    mv "$tmp/access.log" "$tmp/access.log.1"
    kill -USR1 "$pid"
    wait_for_grep 'reopening' "$tmp/error.log" 30
    sleep 0.3
    get /hello.txt?after >/dev/null
    wait_for_grep 'hello.txt?after' "$tmp/access.log" 30
    check_grep "before SIGUSR1: the moved file" 'hello.txt?before' \
        "$tmp/access.log.1"
    check_grep "after SIGUSR1: a new file at the old path" \
        '"GET /hello.txt?after HTTP/1.1" 200' "$tmp/access.log"
    kill -QUIT "$pid"
    # Not 'goroutine': the notice before the dump says it too, and the
    # dump itself may still be on its way (it was, under ASan).
    wait_for_grep 'acceptor' "$tmp/error.log" 100
    check_grep "SIGQUIT dumps goroutines to the error log" 'acceptor' \
        "$tmp/error.log"
    stop_daemon TERM
    check "it still stops with status 0" 0 "$status"
else
    not_ok "the logs configuration starts"
fi
watch=

# ---- started as root: the privilege drop ----
if [ "$(id -u)" = 0 ] && nobody=$(id -u nobody 2>/dev/null); then
    printf 'listen 127.0.0.1:0;\nuser nobody;\nroute / { handler static; root %s; }\n' \
        "$tmp/site" >"$tmp/drop.conf"
    chmod 644 "$tmp/drop.conf"
    if start_daemon drop -c "$tmp/drop.conf"; then
        uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
        check "started as root, it runs as nobody" "$nobody" "$uid"
        check "and still serves" "200 served by -r" "$(get /hello.txt)"
        stop_daemon TERM
    else
        not_ok "it starts as root with user nobody"
    fi
    printf 'listen 127.0.0.1:0;\nuser root;\nroute / { handler static; root %s; }\n' \
        "$tmp/site" >"$tmp/root.conf"
    "$gohttpd" -c "$tmp/root.conf" >"$tmp/root.out" 2>&1
    check "user root is refused" 1 $?
    check_grep "saying why" 'refusing to run handlers as root' "$tmp/root.out"
    t_bad root 'root.conf:2:1: user: "root" has uid 0: refusing to run'
    "$gohttpd" -t -c "$tmp/root.conf" -g 'allow_root on;' >"$tmp/root.t" 2>&1
    check "-t accepts user root with allow_root on (from -g)" 0 $?
else
    echo "# not root: the privilege drop is not tested"
fi

finish
