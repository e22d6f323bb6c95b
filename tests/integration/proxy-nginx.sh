#!/bin/sh
# proxy-nginx.sh - a real nginx in front of two gohttpd instances, with
# the shipped examples conf/deploy/nginx-site.conf and
# conf/deploy/gohttpd-behind-nginx.conf (only their ports and paths
# changed): clients come from 127.0.0.2 and 127.0.0.3 (nginx and a direct
# client from 127.0.0.1 would all look alike), nginx from 127.0.0.1, the
# one trusted proxy.  A handler (tests/plugins/whoami.c) and the access
# log see the client's address, not nginx's; a spoofed X-Forwarded-For
# through nginx is ignored (nginx appends the real address, the walk
# stops at the first untrusted one); X-Forwarded-For sent straight to
# gohttpd from an untrusted peer is ignored; X-Forwarded-Proto and the
# request ID come through; both instances serve, over nginx's keep-alive
# upstream connections.
#
# Run by "make check"; skipped without nginx; see daemon-lib.sh.

set -u
. "${srcdir:-.}/tests/integration/daemon-lib.sh"

nginx=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$nginx" ] || ! command -v python3 >/dev/null 2>&1; then
    echo "$me: no nginx or python3: skipped"
    exit 77
fi
build_plugin whoami || {
    not_ok "the whoami plugin builds"
    finish
    exit
}

pa=$(free_port)
pb=$(free_port)
pf=$(free_port)
deploy=$srcdir/conf/deploy

# The shipped instance configuration, with a route to whoami added.
cp "$deploy/gohttpd-behind-nginx.conf" "$tmp/gohttpd.conf"
sed -i "s|\.\./\.\./www|$srcdir/www|" "$tmp/gohttpd.conf"
cat >>"$tmp/gohttpd.conf" <<EOC
route /whoami {
    handler $tmp/whoami.so;
}
EOC

# up NAME PORT: start an instance; sets pid_NAME.
up() {
    if start_daemon "$1" -c "$tmp/gohttpd.conf" -l "127.0.0.1:$2" \
        -g "$as_root access_log $tmp/$1.access combined_id; server_header gohttpd-$1;"; then
        eval "pid_$1=\$pid"
        return 0
    fi
    return 1
}
own_listen=1
if ! up a "$pa" || ! up b "$pb"; then
    not_ok "both gohttpd instances start" "$(cat "$tmp"/*.err)"
    finish
    exit
fi

# The shipped site, on free ports, inside a minimal nginx.conf.
sed -e "s/127\.0\.0\.1:8080/127.0.0.1:$pf/" \
    -e "s/127\.0\.0\.1:8081/127.0.0.1:$pa/" \
    -e "s/127\.0\.0\.1:8082/127.0.0.1:$pb/" \
    -e '/proxy_pass/a\        add_header X-Nginx-ID $request_id always;' \
    "$deploy/nginx-site.conf" >"$tmp/site.conf"
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx.conf" <<EOC
daemon off;
master_process off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx.err warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    include $tmp/site.conf;
}
EOC
"$nginx" -p "$tmp/nginx" -c "$tmp/nginx.conf" >"$tmp/nginx.out" 2>&1 &
npid=$!
pids="$pids $npid"
i=0
until curl -s -m 1 -o /dev/null "http://127.0.0.1:$pf/" || [ $i -ge 50 ]; do
    sleep 0.1
    i=$((i + 1))
done

# via ARGS...: GET /whoami through nginx; the body (headers in $tmp/h).
via() {
    curl -s -m 5 -D "$tmp/h" "$@" "http://127.0.0.1:$pf/whoami"
}

out=$(via --interface 127.0.0.2)
case $out in
client=127.0.0.2\ peer=127.0.0.1\ *) ok "a handler sees the client, not nginx ($out)" ;;
*) not_ok "a handler sees the client, not nginx" "got: $out" \
       "$(cat "$tmp/nginx.err" 2>/dev/null)" ;;
esac
check "... the scheme nginx reports (X-Forwarded-Proto)" "scheme=http" \
    "$(echo "$out" | tr ' ' '\n' | grep '^scheme=')"
check "... nginx's \$request_id as its request ID" \
    "id=$(sed -n 's/^X-Nginx-ID: \([0-9a-f]*\).*/\1/p' "$tmp/h")" \
    "$(echo "$out" | tr ' ' '\n' | grep '^id=')"

out=$(via --interface 127.0.0.2 -H 'X-Forwarded-For: 203.0.113.9')
check "a spoofed X-Forwarded-For through nginx is ignored" \
    "client=127.0.0.2" "$(echo "$out" | cut -d' ' -f1)"
out=$(curl -s -m 5 --interface 127.0.0.3 -H 'X-Forwarded-For: 203.0.113.9' \
    "http://127.0.0.1:$pa/whoami")
check "X-Forwarded-For straight from an untrusted peer is ignored" \
    "client=127.0.0.3 peer=127.0.0.3" "$(echo "$out" | cut -d' ' -f1-2)"

# Load through nginx from 127.0.0.3: both instances serve it, and their
# access logs name 127.0.0.3, never nginx.
: >"$tmp/codes"
for r in 1 2 3 4 5 6 7 8 9 10; do
    curl -s -m 5 --interface 127.0.0.3 -o /dev/null \
        -w '%{http_code}\n' \
        "http://127.0.0.1:$pf/index.html" >>"$tmp/codes"
done
check "10 requests through nginx: all 200" "10" "$(grep -c '^200$' "$tmp/codes")"
for inst in a b; do
    if ! wait_for_grep 'GET /index.html' "$tmp/$inst.access" 30; then
        not_ok "instance $inst served some of them (round robin)"
    elif grep 'GET /index.html' "$tmp/$inst.access" | grep -qv '^127\.0\.0\.3 '; then
        not_ok "$inst's access log names the client" \
            "$(grep 'GET /index.html' "$tmp/$inst.access")"
    else
        ok "$inst's access log names the client, not nginx"
    fi
done
check_grep "... with the request ID (combined_id)" \
    '^127\.0\.0\.3 .*"GET /index.html HTTP/1.0\?1\?.*" 200 .* "[0-9a-f]\{32\}"$' \
    "$tmp/a.access"

kill -TERM "$npid" 2>/dev/null
wait "$npid" 2>/dev/null
for inst in a b; do
    eval "pid=\$pid_$inst"
    stop_daemon TERM
    check "instance $inst exits 0" 0 "$status"
done
finish
