#!/bin/sh
# http-curl.sh - the HTTP server end to end, driven by curl.
#
# Starts tests/http/testserver on 127.0.0.1 (a free port, read from its
# port file) and checks with curl: GET, HEAD, 404, 405 with Allow, a route
# parameter, request bodies (Content-Length, chunked, Expect: 100-continue,
# over max_body: 413), a streamed chunked response, a 4 MiB response,
# keep-alive reuse, HTTP/1.0, a panicking handler (500, and the server goes
# on), and a graceful stop on SIGTERM that lets an in-flight request finish.
#
# Run by "make check" with top_builddir exported; exits 77 (skipped) without
# curl.  Temporary files go to a mktemp directory; every process started is
# stopped by its pid on exit; every wait is bounded.

set -u

top_builddir=${top_builddir:-.}
server=$top_builddir/tests/http/testserver

if ! command -v curl >/dev/null 2>&1; then
    echo "http-curl.sh: no curl: skipped"
    exit 77
fi
if [ ! -x "$server" ]; then
    echo "http-curl.sh: $server is not built" >&2
    exit 99
fi

. "${srcdir:-.}/tests/integration/tap.sh"

# Start the server and read its port, within 10 s.
"$server" -l 127.0.0.1:0 -p "$tmp/port" -w 2 -g 5000 >"$tmp/server.log" 2>&1 &
spid=$!
pids="$pids $spid"
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
done
port=$(cat "$tmp/port" 2>/dev/null)
if [ -z "$port" ]; then
    echo "http-curl.sh: the test server did not start:" >&2
    cat "$tmp/server.log" >&2
    exit 99
fi
url=http://127.0.0.1:$port

# c ARGS...: curl, silent but for errors, never through a proxy, bounded.
c() {
    curl -sS --noproxy '*' --max-time 20 "$@"
}
# hdr NAME FILE: the value of header NAME in a curl -D dump (last response).
hdr() {
    tr -d '\r' <"$2" | awk -v n="$1" '
        /^HTTP\// { delete v }
        { i = index($0, ":") }
        i > 0 && tolower(substr($0, 1, i - 1)) == tolower(n) {
            s = substr($0, i + 1); sub(/^[ \t]+/, "", s); v[n] = s
        }
        END { print v[n] }'
}
# status FILE: the status code of the last response in a curl -D dump.
status() {
    tr -d '\r' <"$1" | awk '/^HTTP\// { s = $2 } END { print s }'
}
# stat NAME: a counter from /stats.
stat() {
    c "$url/stats" | awk -v k="$1" '$1 == k { print $2 }'
}

# --- GET, HEAD, errors, routes.
c -D "$tmp/h" -o "$tmp/b" "$url/plaintext"
check "GET /plaintext: 200" 200 "$(status "$tmp/h")"
check "GET /plaintext: body" "Hello, World!" "$(cat "$tmp/b")"
check "GET /plaintext: Content-Length 13" 13 "$(hdr Content-Length "$tmp/h")"
check "GET /plaintext: Server" gohttpd "$(hdr Server "$tmp/h")"
date=$(hdr Date "$tmp/h")
case $date in
[MTWFS][a-z][a-z]", "[0-9][0-9]" "[A-Z][a-z][a-z]" "[0-9][0-9][0-9][0-9]" "[0-9][0-9]:[0-9][0-9]:[0-9][0-9]" GMT")
    ok "GET /plaintext: Date in IMF-fixdate" ;;
*) not_ok "GET /plaintext: Date in IMF-fixdate" "got: '$date'" ;;
esac

# HEAD, then a GET on the same connection: a body sent after the HEAD
# response would be read as the start of the next response.
c -I -D "$tmp/h" -o /dev/null "$url/plaintext" --next -sS --max-time 20 \
    -o "$tmp/b" -w '%{num_connects}' "$url/plaintext" >"$tmp/nc"
check "HEAD /plaintext: 200" 200 "$(tr -d '\r' <"$tmp/h" | awk '/^HTTP\// { print $2; exit }')"
check "HEAD /plaintext: Content-Length 13" 13 "$(tr -d '\r' <"$tmp/h" | awk 'tolower($1) == "content-length:" { print $2; exit }')"
check "HEAD then GET on one connection: body" "Hello, World!" "$(cat "$tmp/b")"
check "HEAD then GET on one connection: no second connect" 0 "$(cat "$tmp/nc")"

check "GET /nope: 404" 404 "$(c -o /dev/null -w '%{http_code}' "$url/nope")"

c -D "$tmp/h" -o /dev/null -X POST "$url/plaintext"
check "POST /plaintext: 405" 405 "$(status "$tmp/h")"
allow=$(hdr Allow "$tmp/h")
case ", $allow," in
*", GET,"*) ok "405 Allow lists GET ($allow)" ;;
*) not_ok "405 Allow lists GET" "got: '$allow'" ;;
esac

check "GET /users/42" "user 42" "$(c "$url/users/42")"

# --- Request bodies.
c -D "$tmp/h" -o "$tmp/b" --data-binary 'hello, echo' "$url/echo"
check "POST /echo: body back" "hello, echo" "$(cat "$tmp/b")"
check "POST /echo: X-Body-Length" 11 "$(hdr X-Body-Length "$tmp/h")"

# 100,000 bytes of varied text.
awk 'BEGIN { for (i = 0; i < 12500; i++) printf "%07d\n", i }' >"$tmp/100k"
c -D "$tmp/h" -o "$tmp/b" --data-binary @"$tmp/100k" \
    -H 'Transfer-Encoding: chunked' "$url/echo"
check "chunked upload: 200" 200 "$(status "$tmp/h")"
check "chunked upload: X-Body-Length" 100000 "$(hdr X-Body-Length "$tmp/h")"
if cmp -s "$tmp/100k" "$tmp/b"; then ok "chunked upload: body back"
else not_ok "chunked upload: body back" "$(wc -c <"$tmp/b") bytes differ"; fi

# 512 KiB with Expect: 100-continue (under the default max_body of 1 MiB).
head -c 524288 /dev/zero | tr '\0' 'a' >"$tmp/512k"
c -D "$tmp/h" -o "$tmp/b" --data-binary @"$tmp/512k" \
    -H 'Expect: 100-continue' "$url/echo"
if tr -d '\r' <"$tmp/h" | grep -q '^HTTP/1.1 100'; then ok "Expect: 100-continue: interim 100"
else not_ok "Expect: 100-continue: interim 100" "$(tr -d '\r' <"$tmp/h" | grep '^HTTP/')"; fi
check "Expect: 100-continue: 200" 200 "$(status "$tmp/h")"
if cmp -s "$tmp/512k" "$tmp/b"; then ok "Expect: 100-continue: 512 KiB back"
else not_ok "Expect: 100-continue: 512 KiB back" "got $(wc -c <"$tmp/b") bytes"; fi

# 2 MiB is over max_body: 413, announced by Content-Length, with and without
# Expect, and found out while reading a chunked body.
head -c 2097152 /dev/zero | tr '\0' 'a' >"$tmp/2m"
check "2 MiB with Expect: 413" 413 "$(c -o /dev/null -w '%{http_code}' \
    --data-binary @"$tmp/2m" -H 'Expect: 100-continue' "$url/echo" 2>"$tmp/err")"
check "2 MiB with Content-Length: 413" 413 "$(c -o /dev/null -w '%{http_code}' \
    --data-binary @"$tmp/2m" -H 'Expect:' "$url/echo" 2>>"$tmp/err")"
check "2 MiB chunked: 413" 413 "$(c -o /dev/null -w '%{http_code}' \
    --data-binary @"$tmp/2m" -H 'Expect:' -H 'Transfer-Encoding: chunked' \
    "$url/echo" 2>>"$tmp/err")"
[ -s "$tmp/err" ] && sed 's/^/#   curl: /' "$tmp/err"

# --- Responses.
c -D "$tmp/h" -o "$tmp/b" "$url/stream?n=5"
check "GET /stream: Transfer-Encoding chunked" chunked "$(hdr Transfer-Encoding "$tmp/h")"
check "GET /stream: body" "$(printf 'chunk %d\n' 0 1 2 3 4)" "$(cat "$tmp/b")"

c -o "$tmp/b" "$url/big?kb=4096"
check "GET /big?kb=4096: 4 MiB" 4194304 "$(wc -c <"$tmp/b" | tr -d ' ')"
check "GET /big?kb=4096: all x" 0 "$(tr -d x <"$tmp/b" | wc -c | tr -d ' ')"

# --- Keep-alive: 50 requests on one connection.
before=$(stat total)
set --
i=0
while [ $i -lt 50 ]; do
    set -- "$@" -o /dev/null "$url/plaintext" # -o holds for one URL
    i=$((i + 1))
done
c -w '%{num_connects} %{http_code}\n' "$@" >"$tmp/ka"
after=$(stat total)
check "keep-alive: 50 responses 200" 50 "$(grep -c ' 200$' "$tmp/ka")"
check "keep-alive: one connect for 50 requests" 1 \
    "$(awk '{ s += $1 } END { print s }' "$tmp/ka")"
# The two /stats requests are a connection each, and the 50 one more.
check "keep-alive: conns_total grew by one" 2 "$((after - before))"

# --- HTTP/1.0.
c -0 -D "$tmp/h" -o "$tmp/b" "$url/plaintext"
check "HTTP/1.0 GET: 200" 200 "$(status "$tmp/h")"
check "HTTP/1.0 GET: body" "Hello, World!" "$(cat "$tmp/b")"
check "HTTP/1.0 GET: Content-Length 13" 13 "$(hdr Content-Length "$tmp/h")"
check "HTTP/1.0 GET: Connection: close" close "$(hdr Connection "$tmp/h")"
check "HTTP/1.0: a connection per request" 2 "$(c -0 -o /dev/null \
    -o /dev/null -w '%{num_connects}\n' "$url/plaintext" "$url/plaintext" |
    awk '{ s += $1 } END { print s }')"
check "HTTP/1.0 keep-alive: one connection for two" 1 "$(c -0 -o /dev/null \
    -o /dev/null -H 'Connection: keep-alive' -w '%{num_connects}\n' "$url/plaintext" \
    "$url/plaintext" | awk '{ s += $1 } END { print s }')"

# --- A panicking handler.
check "GET /panic: 500" 500 "$(c -o /dev/null -w '%{http_code}' "$url/panic")"
check "after the panic: still serving" "Hello, World!" "$(c "$url/plaintext")"

# --- Graceful stop: an in-flight request finishes, then the server exits 0.
c -o "$tmp/slept" -w '%{http_code}' "$url/sleep?ms=1000" >"$tmp/slept.code" \
    2>"$tmp/slept.err" &
cpid=$!
pids="$pids $cpid"
# Wait (up to 5 s) until the server has the request: two open connections,
# the sleeper's and the one asking.
i=0
while [ "$(stat open)" != 2 ] && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
if kill -0 "$cpid" 2>/dev/null && [ $i -lt 50 ]; then
    ok "SIGTERM: /sleep in flight"
else
    not_ok "SIGTERM: /sleep in flight" "the server never saw it, or it ended"
fi
kill -TERM "$spid"
i=0
while kill -0 "$spid" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
if kill -0 "$spid" 2>/dev/null; then
    not_ok "SIGTERM: server exits within 10 s"
    rc=none
else
    ok "SIGTERM: server exits within 10 s"
    wait "$spid"
    rc=$?
fi
check "SIGTERM: exit status 0" 0 "$rc"
i=0
while kill -0 "$cpid" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
wait "$cpid" 2>/dev/null
check "SIGTERM: in-flight /sleep got 200" 200 "$(cat "$tmp/slept.code")"
check "SIGTERM: in-flight /sleep body" slept "$(cat "$tmp/slept")"

echo "1..$n"
if [ $failed -ne 0 ]; then
    echo "# $failed of $n checks failed; server log:"
    sed 's/^/#   /' "$tmp/server.log"
    exit 1
fi
exit 0
