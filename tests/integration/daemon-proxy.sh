#!/bin/sh
# daemon-proxy.sh - the daemon behind a proxy: bad settings are refused by
# -t with file:line:col; PROXY protocol v1 and v2 headers (sent raw by a
# small python3 client) give the address that the access log shows and
# that the status plugin's allow list judges; a listener that wants a
# header closes plain HTTP and peers not in proxy_protocol_from, and logs
# it; X-Forwarded-For from a trusted peer is honoured and, once a reload
# makes the peer untrusted, ignored; the reload also changes who may send
# a PROXY header to a kept listener; request IDs are generated, taken from
# a trusted peer, and logged.
#
# Run by "make check"; see daemon-lib.sh.  Skipped without python3.

set -u
. "${srcdir:-.}/tests/integration/daemon-lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
    echo "$me: no python3: skipped"
    exit 77
fi

# ---- settings refused by -t ----
t_bad() { # NAME TEXT EXPECTED-MESSAGE
    printf 'listen 127.0.0.1:0%s\n' "$2" >"$tmp/$1.conf"
    "$gohttpd" -t -c "$tmp/$1.conf" >"$tmp/$1.t" 2>&1
    check "-t rejects $1" 1 $?
    check_grep "... saying where and why" "$3" "$tmp/$1.t"
}
t_bad trusted ';
trusted_proxies 10.0.0.0/8 10.0.0.0/33;' \
    '2:1: trusted_proxies: "10.0.0.0/33": the prefix length must be a number from 0 to 32'
t_bad trusted-name ';
trusted_proxies 127.0.0.1 localhost;' \
    '2:1: trusted_proxies: "localhost" is not an IP address or network (e.g. 10.0.0.0/8, ::1, unix)'
t_bad header ';
real_ip_header X-Client;' \
    '2:1: real_ip_header: expected X-Forwarded-For, X-Real-IP or Forwarded, found "X-Client"'
t_bad recursive ';
real_ip_recursive maybe;' '2:1: real_ip_recursive: expected on or off'
t_bad hops ';
max_forwarded_hops 65;' '2:1: max_forwarded_hops: must be between 1 and 64'
t_bad rid ';
request_id_header "X Request";' \
    '2:1: request_id_header: expected a header name'
t_bad pp ' {
  proxy_protocol maybe;
}' '2:3: proxy_protocol: expected on or off, found "maybe"'
t_bad pp-from ' {
  proxy_protocol on;
  proxy_protocol_from 10.0.0.0/8 ::1/200;
}' '3:3: proxy_protocol_from: "::1/200": the prefix length must be a number from 0 to 128'
t_bad pp-timeout ' {
  proxy_protocol on;
  proxy_protocol_timeout 0;
}' '3:3: proxy_protocol_timeout: must be more than 0'
t_bad pp-alone ' {
  proxy_protocol_from 10.0.0.0/8;
}' '2:3: proxy_protocol_from: needs "proxy_protocol on;" in the same listen block'

# ---- a raw client ----
# send.py PORT FILE: connect, send FILE's bytes, read until the server
# closes or 3 s pass; print the status line, the X-Request-ID and the
# body's first line, or "closed" when nothing came back.
cat >"$tmp/send.py" <<'EOP'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(open(sys.argv[2], "rb").read())
s.settimeout(3)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except (socket.timeout, ConnectionResetError):
    pass
if not data:
    print("closed")
    sys.exit(0)
head, _, body = data.partition(b"\r\n\r\n")
lines = head.decode("latin-1").split("\r\n")
rid = [l.split(":", 1)[1].strip() for l in lines[1:]
       if l.lower().startswith("x-request-id:")]
print(lines[0].split(" ")[1], rid[0] if rid else "-",
      body.decode("latin-1").split("\n")[0][:40])
EOP
# v1 FILE SRC REQUEST-HEADERS: a PROXY v1 header from SRC, then a GET of
# /who/json with the headers.
req() { # FILE PATH EXTRA-HEADERS
    printf 'GET %s HTTP/1.1\r\nHost: t\r\n%bConnection: close\r\n\r\n' \
        "$2" "$3" >>"$1"
}
v1() { # FILE SRC PATH
    printf 'PROXY TCP4 %s 127.0.0.1 40000 80\r\n' "$2" >"$1"
    req "$1" "$3" ""
}
v2() { # FILE SRC PATH: a PROXY v2 TCP4 header, with a TLV
    python3 -c 'import socket, struct, sys
body = socket.inet_aton(sys.argv[2]) + socket.inet_aton("127.0.0.1")
body += struct.pack(">HH", 40001, 80) + b"\x01\x00\x02h2"
sys.stdout.buffer.write(b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" +
                        struct.pack(">H", len(body)) + body)' x "$2" >"$1"
    req "$1" "$3" ""
}
send() { python3 "$tmp/send.py" "$1" "$2"; }

# ---- the daemon ----
write_conf() { # TRUSTED PP2-FROM
    cat >"$tmp/proxy.conf" <<EOC
$as_root
listen 127.0.0.1:0;
listen 127.0.0.1:0 {
    proxy_protocol on;
    proxy_protocol_from 127.0.0.1;
    proxy_protocol_timeout 2s;
}
listen 127.0.0.1:0 {
    proxy_protocol on;
    proxy_protocol_from $2;
}
trusted_proxies $1;
access_log $tmp/access.log json;
error_log $tmp/error.log;
route /who/ {
    handler status;
    allow   198.51.100.0/24;
}
route / {
    handler static;
    root    $srcdir/www;
}
EOC
}
write_conf "127.0.0.1 unix" "10.0.0.0/8"
own_listen=1
watch=$tmp/error.log
if ! start_daemon proxy -c "$tmp/proxy.conf"; then
    not_ok "the daemon starts with PROXY listeners"
    finish
    exit
fi
ports=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$watch")
plain=$(echo "$ports" | sed -n 1p)
pp=$(echo "$ports" | sed -n 2p)
pp2=$(echo "$ports" | sed -n 3p)
check "three listeners" 3 "$(echo "$ports" | wc -l | tr -d ' ')"

# last_log FIELD: FIELD of the access log's last line.
last_log() {
    sleep 0.3
    tail -n 1 "$tmp/access.log" | python3 -c 'import json, sys
print(json.loads(sys.stdin.read()).get(sys.argv[1], "-"))' "$1"
}

# ---- PROXY protocol ----
v1 "$tmp/a" 198.51.100.7 /who/json
out=$(send "$pp" "$tmp/a")
check "v1: the allow list sees the header's address" 200 "${out%% *}"
check "v1: the access log shows it" 198.51.100.7 "$(last_log remote)"
check "v1: and the proxy as peer" - "$(last_log peer)"
v1 "$tmp/a" 192.0.2.7 /who/json
out=$(send "$pp" "$tmp/a")
check "v1: another address outside the allow list gets 403" 403 "${out%% *}"
v2 "$tmp/a" 198.51.100.8 /who/json
out=$(send "$pp" "$tmp/a")
check "v2 with a TLV: 200" 200 "${out%% *}"
check "v2: the access log shows its address" 198.51.100.8 \
    "$(last_log remote)"
req "$tmp/plainreq" /who/json ""
check "no header: closed without an answer" closed \
    "$(send "$pp" "$tmp/plainreq")"
check_grep "... and logged" \
    'PROXY protocol: closed a connection from 127.0.0.1: no valid header' \
    "$watch"
v1 "$tmp/a" 198.51.100.7 /who/json
check "a peer not in proxy_protocol_from: closed" closed \
    "$(send "$pp2" "$tmp/a")"
check "plain HTTP on a plain listener: the peer (not allowed)" 403 \
    "$(send "$plain" "$tmp/plainreq" | cut -d' ' -f1)"

# ---- X-Forwarded-For and request IDs from a trusted peer ----
: >"$tmp/x"
req "$tmp/x" /who/json 'X-Forwarded-For: 6.6.6.6, 198.51.100.9\r\nX-Request-ID: trace-42\r\n'
out=$(send "$plain" "$tmp/x")
check "XFF from a trusted peer: the allow list sees the client" 200 \
    "${out%% *}"
check "... the log too" 198.51.100.9 "$(last_log remote)"
check "... with the proxy as peer" 127.0.0.1 "$(last_log peer)"
check "the trusted peer's request ID is echoed" trace-42 \
    "$(echo "$out" | cut -d' ' -f2)"
check "... and logged" trace-42 "$(last_log request_id)"
out=$(send "$plain" "$tmp/plainreq")
rid=$(echo "$out" | cut -d' ' -f2)
check "without one, an ID of 32 hex digits is made" 1 \
    "$(echo "$rid" | grep -c '^[0-9a-f]\{32\}$')"
check "... and logged" "$rid" "$(last_log request_id)"
check "PROXY then XFF: the header's trusted source passes it on" 200 \
    "$(: >"$tmp/b"; printf 'PROXY TCP4 127.0.0.1 127.0.0.1 1 2\r\n' \
        >"$tmp/b"; req "$tmp/b" /who/json 'X-Forwarded-For: 198.51.100.10\r\n'
       send "$pp" "$tmp/b" | cut -d' ' -f1)"
check "... logged as the client" 198.51.100.10 "$(last_log remote)"

# ---- a reload: 127.0.0.1 no longer trusted; pp2 now takes it ----
write_conf "10.0.0.0/8" "127.0.0.1"
kill -HUP "$pid"
wait_for_grep 'reloaded:' "$watch" 50
check "the reload kept the three listeners" 3 \
    "$(grep -c 'listening on' "$watch")"
out=$(send "$plain" "$tmp/x")
check "XFF from an untrusted peer is ignored" 403 "${out%% *}"
check "... the log shows the peer" 127.0.0.1 "$(last_log remote)"
check "... an untrusted peer's request ID is replaced" 1 \
    "$(echo "$out" | cut -d' ' -f2 | grep -c '^[0-9a-f]\{32\}$')"
v1 "$tmp/a" 198.51.100.7 /who/json
out=$(send "$pp2" "$tmp/a")
check "a kept listener takes the new proxy_protocol_from" 200 "${out%% *}"

stop_daemon
check "it stops cleanly" 0 "$status"
finish
