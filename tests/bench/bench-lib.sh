# bench-lib.sh - what the HTTP benchmarks against nginx (http.sh,
# static.sh) share; sourced, not run.
#
# Sourcing it makes a temporary directory $tmp, removed at exit after every
# process listed in $pids is stopped by its pid, and gives: say (to stderr
# and the log), loadavg, steal_ticks and steal_pct (steal.sh), find_tools
# (nginx and wrk, installed with apt-get when we may), pin_cpus,
# cpu_ticks, wait_ready, stop, start_nginx, wrk_result (wrk's output as
# result lines) and the table helpers median, values and row.
#
# The script sets before sourcing: me (its name, for messages), log (the
# raw log, emptied here), duration, rounds, scpu and ccpu; and it defines
# probe PORT (one request; 0 when it was answered) and nginx_conf PORT
# before it calls wait_ready or start_nginx.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gh-bench-${me%.sh}.XXXXXX") || exit 2
pids=
cleanup() {
    for p in $pids; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in $pids; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
: >"$log"
say() { echo "$@" | tee -a "$log" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'; }
# shellcheck source=tests/bench/steal.sh
. "$srcdir/steal.sh"

# --- Tools: nginx and wrk, installed when we may.
find_prog() {
    command -v "$1" 2>/dev/null && return 0
    [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1" && return 0
    return 1
}
apt_install() {
    if [ "$(id -u)" -eq 0 ]; then
        sudo=
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo -n"
    else
        return 1
    fi
    say "$me: installing $*"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive \
        apt-get install -q -y --no-install-recommends "$@" >>"$log" 2>&1
}
# find_tools: sets NGINX and WRK (or leaves them empty), have_nginx and
# have_wrk (1 or 0).
find_tools() {
    NGINX=${NGINX:-$(find_prog nginx)}
    WRK=${WRK:-$(find_prog wrk)}
    missing=
    [ -n "$NGINX" ] || missing="$missing nginx-light"
    [ -n "$WRK" ] || missing="$missing wrk"
    if [ -n "$missing" ]; then
        # shellcheck disable=SC2086
        if ! apt_install $missing; then
            say "$me: cannot install$missing (not root, no password-less" \
                "sudo, or apt-get failed; see $log)"
        fi
        NGINX=${NGINX:-$(find_prog nginx)}
        WRK=${WRK:-$(find_prog wrk)}
    fi
    have_nginx=1 have_wrk=1
    [ -n "$NGINX" ] || {
        have_nginx=0
        say "$me: no nginx: only gohttpd is measured (apt-get install nginx-light)"
    }
    [ -n "$WRK" ] || {
        have_wrk=0
        say "$me: no wrk: the throughput scenarios are skipped (apt-get install wrk)"
    }
}
# pin_cpus: spin and cpin prefix the server's and wrk's command lines.
pin_cpus() {
    if command -v taskset >/dev/null 2>&1 && taskset -c "$scpu" true 2>/dev/null &&
        taskset -c "$ccpu" true 2>/dev/null; then
        spin="taskset -c $scpu" cpin="taskset -c $ccpu"
    else
        spin='' cpin=''
        say "$me: cannot pin to CPUs $scpu and $ccpu: running unpinned"
    fi
}

# --- Servers.
cpu_ticks() { # PID...: utime + stime of the processes, in clock ticks
    for p in "$@"; do
        sed 's/.*) //' "/proc/$p/stat" 2>/dev/null
    done | awk '{ t += $12 + $13 } END { print t + 0 }'
}
# wait_until PID TENTHS CMD...: every 0.1 s run CMD until it succeeds (0),
# or PID is gone or TENTHS tenths of a second passed (1).
wait_until() {
    wpid=$1 wmax=$2 i=0
    shift 2
    while [ $i -lt "$wmax" ]; do
        "$@" && return 0
        kill -0 "$wpid" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
# wait_ready PID PORT: until the server answers (0) or dies / 10 s pass (1).
wait_ready() {
    wait_until "$1" 100 probe "$2"
}
forget_pid() {
    np=
    for p in $pids; do
        [ "$p" = "$1" ] || np="$np $p"
    done
    pids=$np
}
# stop PID: SIGTERM, wait up to 10 s, then SIGKILL.
stop() {
    kill -TERM "$1" 2>/dev/null
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    forget_pid "$1"
}

# start_nginx: sets nginx_pid (the master), nginx_worker and nginx_port,
# with the configuration nginx_conf PORT writes, in $tmp/nginx.  The port
# is a free one below the ephemeral range, found by trying.
start_nginx() {
    mkdir -p "$tmp/nginx"
    for try in 1 2 3 4 5 6 7 8; do
        nginx_port=$((20000 + ($$ * 7 + try * 997) % 10000))
        nginx_conf "$nginx_port" >"$tmp/nginx/nginx.conf"
        # shellcheck disable=SC2086
        $spin "$NGINX" -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" \
            -e "$tmp/nginx/error.log" >>"$tmp/nginx/stderr" 2>&1 &
        nginx_pid=$!
        pids="$pids $nginx_pid"
        if wait_ready "$nginx_pid" "$nginx_port"; then
            nginx_worker=$(pgrep -P "$nginx_pid" | head -n 1)
            [ -n "$nginx_worker" ] && return 0
        fi
        stop "$nginx_pid"
    done
    say "$me: nginx did not start:"
    tail -n 5 "$tmp/nginx/error.log" "$tmp/nginx/stderr" >&2
    have_nginx=0
    return 1
}

# --- Results: "NAME SIDE KEY VALUE" lines in $tmp/res.

# wrk_result NAME SIDE TICKS: wrk's output in $tmp/wrk.out, with the server
# CPU ticks it took, as result lines: rps, p99_ms, cpu_us (per response),
# mb_s (body and head bytes read per second, MiB) and errors.
wrk_result() {
    awk -v n="$1" -v s="$2" -v dt="$3" -v hz="$hz" '
        function ms(v) {
            if (v ~ /us$/) return v / 1000
            if (v ~ /ms$/) return v + 0
            if (v ~ /m$/) return v * 60000
            if (v ~ /s$/) return v * 1000
            return v + 0
        }
        function mib(v) {
            if (v ~ /GB$/) return v * 1024
            if (v ~ /MB$/) return v + 0
            if (v ~ /KB$/) return v / 1024
            return v / 1048576
        }
        / requests in / { req = $1 }
        /^Requests\/sec:/ { rps = $2 }
        /^Transfer\/sec:/ { mbs = mib($2) }
        $1 == "99%" { p99 = ms($2) }
        /Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx/ { err += $NF }
        END {
            print n, s, "rps", rps
            # wrk 4.1 prints a 99% of 0 when its correction for
            # coordinated omission spills below the smallest sample.
            if (p99 > 0) print n, s, "p99_ms", p99
            if (req > 0) print n, s, "cpu_us", dt * 1e6 / hz / req
            if (mbs != "") print n, s, "mb_s", mbs
            print n, s, "errors", err + 0
        }' "$tmp/wrk.out" >>"$tmp/res"
}

# median NAME SIDE KEY: the median over the rounds; FAIL if one failed.
median() {
    awk -v n="$1" -v s="$2" -v k="$3" '
        $1 == n && $2 == s && $3 == "FAIL" { fail = 1 }
        $1 == n && $2 == s && $3 == k && $4 != "" { v[c++] = $4 + 0 }
        END {
            if (fail) { print "FAIL"; exit }
            if (c == 0) { print "n/a"; exit }
            for (i = 1; i < c; i++)
                for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
                    t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
                }
            print (c % 2) ? v[int(c / 2)] : (v[c / 2 - 1] + v[c / 2]) / 2
        }' "$tmp/res"
}
# values NAME SIDE KEY: every round's value, for the log.
values() {
    awk -v n="$1" -v s="$2" -v k="$3" '$1 == n && $2 == s && $3 == k { printf "%s ", $4 }' "$tmp/res"
}
row() { # NAME KEY LABEL FORMAT
    o=$(median "$1" ours "$2") n=$(median "$1" nginx "$2")
    echo "# $1 $2: ours $(values "$1" ours "$2")| nginx $(values "$1" nginx "$2")" >>"$log"
    awk -v name="$1" -v label="$3" -v fmt="$4" -v o="$o" -v n="$n" 'BEGIN {
        isnum = "^-?[0-9.]+(e[-+]?[0-9]+)?$"
        os = o ~ isnum ? sprintf(fmt, o) : o
        ns = n ~ isnum ? sprintf(fmt, n) : n
        r = (o ~ isnum && n ~ isnum && n + 0 != 0) ? sprintf("%.2f", o / n) : "-"
        printf "%-12s %-14s %12s %12s %10s\n", name, label, os, ns, r
    }'
}

# wrk_round NAME SERVER ROUND PORT CONNS PATH [WRK-ARG...]: one wrk run
# (to ${scheme:-http}://...)
# against SERVER (ours or nginx), with the server's CPU ticks around it;
# appends "NAME SERVER key value" lines to $tmp/res (wrk_result).
wrk_round() {
    name=$1 side=$2 round=$3 port=$4 conns=$5 path=$6
    shift 6
    if [ "$side" = ours ]; then spids=$ours_pid; else spids="$nginx_pid $nginx_worker"; fi
    # shellcheck disable=SC2086
    t0=$(cpu_ticks $spids)
    # shellcheck disable=SC2086
    timeout --kill-after=5 $((duration + 60)) $cpin "$WRK" -t 1 -c "$conns" \
        -d "${duration}s" --timeout 5s --latency "$@" \
        "${scheme:-http}://127.0.0.1:$port$path" </dev/null >"$tmp/wrk.out" 2>&1
    rc=$?
    # shellcheck disable=SC2086
    t1=$(cpu_ticks $spids)
    {
        echo "## $name $side round $round (wrk exit $rc, server ticks $t0 -> $t1)"
        cat "$tmp/wrk.out"
    } >>"$log"
    if [ $rc -ne 0 ]; then
        say "$me: $name ($side, round $round): wrk failed (exit $rc)"
        echo "$name $side FAIL 1" >>"$tmp/res"
        return
    fi
    wrk_result "$name" "$side" $((t1 - t0))
}

# run_daemon: start $gohttpd -w 1 with $tmp/gohttpd.conf (pinned by $spin),
# its error log in $tmp/ours.err; sets ours_pid and waits (10 s at most)
# until it says it started.  The caller reads its ports from the log.
run_daemon() {
    : >"$tmp/ours.err"
    # shellcheck disable=SC2086
    $spin "$gohttpd" -w 1 -c "$tmp/gohttpd.conf" >/dev/null \
        2>>"$tmp/ours.err" &
    ours_pid=$!
    pids="$pids $ours_pid"
    wait_until "$ours_pid" 100 grep -q 'started (pid' "$tmp/ours.err"
}

# daemon_failed: say why gohttpd did not start, and exit 1.
daemon_failed() {
    say "$me: gohttpd did not start:"
    sed 's/^/    /' "$tmp/ours.err" >&2
    exit 1
}

# nginx_http_head CONNECTIONS: the start of an nginx.conf serving static
# files with one worker, up to inside the http block (the caller adds
# its own settings and server block, and the closing brace).
nginx_http_head() {
    cat <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events {
    worker_connections $1;
}
http {
    access_log off;
    server_tokens off;
    sendfile on;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
    default_type application/octet-stream;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
EOF
}
