# daemon-lib.sh - shared by the tests that run the real gohttpd daemon
# (sourced, not run).  Gives, on top of tap.sh ($tmp, ok/not_ok/check,
# cleanup by pid): start_daemon (on a free loopback port, read from the
# daemon's own "listening on" line), stop_daemon, get and build_plugin.
#
# Needs top_builddir and srcdir (make check exports both); exits 77 when
# curl is missing.

top_builddir=${top_builddir:-.}
srcdir=${srcdir:-.}
gohttpd=$top_builddir/server/gohttpd
conf=$srcdir/conf/gohttpd.conf
me=$(basename "$0")

if ! command -v curl >/dev/null 2>&1; then
    echo "$me: no curl: skipped"
    exit 77
fi
if [ ! -x "$gohttpd" ]; then
    echo "$me: $gohttpd is not built" >&2
    exit 99
fi

. "$srcdir/tests/integration/tap.sh"

# Root would drop to nobody, who may not read a checkout under /root.
as_root=
if [ "$(id -u)" = 0 ]; then
    as_root='allow_root on;'
fi

# wait_for_grep PATTERN FILE [TENTHS]: poll until FILE has PATTERN.
wait_for_grep() {
    i=0
    while [ $i -lt "${3:-100}" ]; do
        grep -q -- "$1" "$2" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# start_daemon NAME ARGS...: run gohttpd ARGS with -l 127.0.0.1:0 (unless
# $own_listen is set: then the configuration's listen directives hold);
# stdout to $tmp/NAME.out, stderr to $tmp/NAME.err.  Sets
# $pid and $port (the first listener's), read from the error log: $watch
# when set (a configured error_log), else $tmp/NAME.err.  Fails if it does
# not come up within 10 s.
start_daemon() {
    name=$1
    shift
    if [ -n "${own_listen:-}" ]; then
        "$gohttpd" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    else
        "$gohttpd" -l 127.0.0.1:0 "$@" >"$tmp/$name.out" \
            2>"$tmp/$name.err" &
    fi
    pid=$!
    pids="$pids $pid"
    log=${watch:-$tmp/$name.err}
    if ! wait_for_grep 'started (pid' "$log"; then
        echo "# $name did not start:"
        sed 's/^/#   /' "$tmp/$name.err" "$log"
        return 1
    fi
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
               "$log" | tail -n 1)
    return 0
}

# stop_daemon [SIGNAL]: signal $pid and wait (10 s at most) for it to
# exit; sets $status to its exit status (or 124 if it had to be killed).
stop_daemon() {
    kill -"${1:-TERM}" "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        status=124
    else
        wait "$pid" 2>/dev/null
        status=$?
    fi
}

# free_port: a TCP port free on 127.0.0.1 right now (for configurations
# that must name their port, e.g. a proxy's upstream that is restarted).
free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# reload_and_wait [LOG]: SIGHUP $pid, then wait (10 s at most) until LOG
# (default $tmp/error.log) has one more "reloaded:" or "reload failed".
reload_and_wait() {
    rlog=${1:-$tmp/error.log}
    before=$(grep -c -E 'reloaded:|reload failed' "$rlog")
    kill -HUP "$pid"
    i=0
    while [ "$(grep -c -E 'reloaded:|reload failed' "$rlog")" -le "$before" ] &&
        [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}

# keepalive_load OUT N URL [CURL-ARGS...]: in the background, curl N
# keep-alive requests of URL per connection, connection after connection,
# until $tmp/stop appears; one line per request into OUT: its status, or
# what $load_format says (a curl -w format).  Sets $load_pid.
keepalive_load() {
    out=$1 count=$2 url=$3
    shift 3
    urls=
    i=0
    while [ $i -lt "$count" ]; do
        urls="$urls -o /dev/null $url"
        i=$((i + 1))
    done
    fmt='%{http_code}\n'
    [ -n "${load_format:-}" ] && fmt=$load_format
    (
        while [ ! -e "$tmp/stop" ]; do
            # shellcheck disable=SC2086
            curl -s -m 20 -w "$fmt" "$@" $urls
        done
    ) >"$out" 2>&1 &
    load_pid=$!
    pids="$pids $load_pid"
}

# get PATH [CURL-ARGS...]: "STATUS BODY" of GET http://127.0.0.1:$port/PATH
get() {
    p=$1
    shift
    curl -s -m 10 -o "$tmp/body" -w '%{http_code}' "$@" \
        "http://127.0.0.1:$port$p" 2>/dev/null
    printf ' %s' "$(head -c 200 "$tmp/body" 2>/dev/null | head -n 1)"
}

finish() {
    echo "1..$n"
    [ "$failed" -eq 0 ]
}

# build_plugin NAME: build tests/plugins/NAME.c out of tree, the way a
# third party would, against this build tree (gohttpd-uninstalled.pc), into
# $tmp/NAME.so.  Returns 1 (saying why) when it cannot.
build_plugin() {
    cc=${CC:-cc}
    flags=$(PKG_CONFIG_PATH="$top_builddir/lib${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
            pkg-config --cflags --libs gohttpd) || return 1
    # shellcheck disable=SC2086
    $cc -shared -fPIC -o "$tmp/$1.so" "$srcdir/tests/plugins/$1.c" $flags \
        >"$tmp/$1.cc.log" 2>&1 || {
        echo "# building $1.so failed:"
        sed 's/^/#   /' "$tmp/$1.cc.log"
        return 1
    }
}
