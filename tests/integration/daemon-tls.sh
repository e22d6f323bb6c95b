#!/bin/sh
# daemon-tls.sh - HTTPS listeners of the daemon, driven with curl and
# openssl s_client: TLS 1.3 and 1.2 handshakes, TLS 1.1 refused, ALPN,
# SNI picking the right certificate, resumption (tickets and session IDs),
# mTLS (a good client in, a bad one and none out, the subject in the
# access log), keep-alive and pipelining, a 1 MiB file intact, SIGHUP with
# a new certificate under a client loop (no failed request, new
# connections see it), bad certificate/key pairs refused naming the file
# (-t, and on reload the old ones stay), a stalled handshake cut at its
# deadline, plain HTTP sent to the TLS port answered with a 400, OCSP
# stapling refreshed from its file (a bad file refused by -t, and on a
# refresh the last good response kept), and tls block errors at
# file:line:col.
#
# Every key and certificate is made here, at run time.  Run by "make
# check"; see daemon-lib.sh.  Skips (77) without the openssl command.

set -u
. "${srcdir:-.}/tests/integration/daemon-lib.sh"

if ! command -v openssl >/dev/null 2>&1; then
    echo "$me: no openssl command: skipped"
    exit 77
fi

# ---- keys and certificates ----

# mkcert NAME CN [CA]: an ECDSA P-256 key and certificate, self-signed or
# signed by CA (its .pem and .key), valid for two days.
mkcert() {
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$tmp/$1.key" -out "$tmp/$1.csr" -subj "/CN=$2" \
        2>>"$tmp/openssl.log" || return 1
    if [ -n "${3:-}" ]; then
        openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/$3.pem" \
            -CAkey "$tmp/$3.key" -CAcreateserial -days 2 \
            -out "$tmp/$1.pem" 2>>"$tmp/openssl.log"
    else
        openssl x509 -req -in "$tmp/$1.csr" -signkey "$tmp/$1.key" \
            -days 2 -out "$tmp/$1.pem" 2>>"$tmp/openssl.log"
    fi
}

# An expired certificate needs explicit dates: openssl ca can set them.
mkexpired() {
    mkdir -p "$tmp/cadb" && : >"$tmp/cadb/index.txt" &&
        echo 01 >"$tmp/cadb/serial" &&
        printf '[ca]\ndefault_ca=c\n[c]\ndatabase=%s\nnew_certs_dir=%s\nserial=%s\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' \
            "$tmp/cadb/index.txt" "$tmp/cadb" "$tmp/cadb/serial" \
            >"$tmp/ca.cnf" &&
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
            -nodes -keyout "$tmp/old.key" -out "$tmp/old.csr" \
            -subj /CN=old 2>>"$tmp/openssl.log" &&
        openssl ca -batch -config "$tmp/ca.cnf" -selfsign \
            -keyfile "$tmp/old.key" -in "$tmp/old.csr" -out "$tmp/old.pem" \
            -startdate 20200101000000Z -enddate 20200102000000Z -notext \
            >>"$tmp/openssl.log" 2>&1
}

# mkocsp STATUS OUT: an OCSP response (V good, R revoked) for ocsp.pem,
# signed by its CA (cca), as "openssl ocsp" answers from an index file.
mkocsp() {
    serial=$(openssl x509 -in "$tmp/ocsp.pem" -noout -serial | cut -d= -f2)
    revoked=
    [ "$1" = R ] && revoked=200101000000Z
    printf '%s	301231000000Z	%s	%s	unknown	/CN=ocsp.test
' "$1" \
        "$revoked" "$serial" >"$tmp/ocsp-index.txt"
    openssl ocsp -index "$tmp/ocsp-index.txt" -rsigner "$tmp/cca.pem" \
        -rkey "$tmp/cca.key" -CA "$tmp/cca.pem" -issuer "$tmp/cca.pem" \
        -cert "$tmp/ocsp.pem" -respout "$2" -ndays 1 \
        >>"$tmp/openssl.log" 2>&1
}

if ! { mkcert site localhost && mkcert site2 localhost &&
       mkcert other other.test && mkcert cca "Client CA" &&
       mkcert alice alice cca && mkcert mallory mallory && mkexpired &&
       mkcert ocsp ocsp.test cca && mkocsp V "$tmp/ocsp.der" &&
       mkocsp R "$tmp/ocsp-revoked.der"; }; then
    not_ok "test keys and certificates are made" \
        "$(tail -n 5 "$tmp/openssl.log")"
    finish
    exit 1
fi
cp "$tmp/site.pem" "$tmp/live.pem"
cp "$tmp/site.key" "$tmp/live.key"

mkdir -p "$tmp/www"
echo hello >"$tmp/www/index.html"
head -c 1048576 /dev/urandom >"$tmp/www/big.bin"

# ---- the daemon: a TLS listener and an mTLS one ----

write_conf() {
    cat >"$tmp/gohttpd.conf.new" <<EOF
$as_root
error_log $tmp/error.log info;
access_log $tmp/access.log json;
listen 127.0.0.1:0 {
    tls {
        certificate live.pem;
        key live.key;
        sni other.test other.pem other.key;
        sni ocsp.test ocsp.pem ocsp.key ocsp.der;
        handshake_timeout 1s;
    }
}
listen 127.0.0.1:0 {
    tls {
        certificate site.pem;
        key site.key;
        verify_client on;
        client_ca cca.pem;
    }
}
listen 127.0.0.1:0 {
    proxy_protocol on;          # HAProxy in TCP mode, send-proxy, TLS here
    tls {
        certificate live.pem;
        key live.key;
    }
}
route / { handler static; root www; }
EOF
    mv "$tmp/gohttpd.conf.new" "$tmp/gohttpd.conf"
}

write_conf
watch=$tmp/error.log
own_listen=yes
if ! start_daemon tls -c "$tmp/gohttpd.conf"; then
    not_ok "the daemon starts with two TLS listeners"
    finish
    exit 1
fi
ports=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (tls).*/\1/p' \
            "$tmp/error.log")
port=$(echo "$ports" | sed -n 1p)
mport=$(echo "$ports" | sed -n 2p)
pport=$(echo "$ports" | sed -n 3p)
check "the three listeners say they speak TLS" 3 "$(echo "$ports" | wc -l)"

# ---- a PROXY header before the handshake ----
# The header is read byte-exact: the ClientHello right behind it, in the
# same packet, must reach OpenSSL whole.
pp_tls=$(python3 - "$pport" <<'PYEOF'
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
hdr = b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 443\r\n"
# MSG_MORE: the kernel holds the header until the ClientHello joins it,
# so both arrive in one segment.
s.send(hdr, socket.MSG_MORE)
t = ctx.wrap_socket(s, server_hostname="localhost")
t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    b = t.recv(65536)
    if not b:
        break
    data += b
print(data.split(b"\r\n", 1)[0].decode())
PYEOF
)
check "PROXY v1 then TLS on one listener: served" "HTTP/1.1 200 OK" "$pp_tls"
wait_for_grep '"remote":"203.0.113.7"' "$tmp/access.log" 30
check_grep "... and the access log has the client from the header" \
    '"remote":"203.0.113.7"' "$tmp/access.log"

url=https://127.0.0.1:$port

# sclient PORT ARGS...: s_client's report of one request, in $tmp/sc.out
sclient() {
    p=$1
    shift
    printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
        timeout 10 openssl s_client -connect "127.0.0.1:$p" -ign_eof "$@" \
            >"$tmp/sc.out" 2>&1
}

# ---- versions, ALPN, SNI ----

code=$(curl -sk -m 10 --tlsv1.3 -o "$tmp/body" -w '%{http_code}' "$url/")
check "curl over TLS 1.3 gets the page" "200 hello" \
    "$code $(cat "$tmp/body")"
sclient "$port" -tls1_3
check_grep "s_client: TLS 1.3 negotiated" "Protocol *: TLSv1.3" "$tmp/sc.out"
sclient "$port" -tls1_2
check_grep "s_client: TLS 1.2 negotiated" "Protocol *: TLSv1.2" "$tmp/sc.out"
check_grep "TLS 1.2 uses an ECDHE AEAD suite" "Cipher is ECDHE-.*GCM\|Cipher is ECDHE-.*CHACHA" \
    "$tmp/sc.out"
sclient "$port" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0'
# (s_client prints the version it asked for even when refused.)
if ! grep -q "Cipher is (NONE)" "$tmp/sc.out"; then
    not_ok "TLS 1.1 is refused" "$(tail -n 5 "$tmp/sc.out")"
else
    check_grep "TLS 1.1 is refused with a protocol_version alert" \
        "alert protocol version" "$tmp/sc.out"
fi

sclient "$port" -alpn http/1.1
check_grep "ALPN agrees on http/1.1" "ALPN protocol: http/1.1" "$tmp/sc.out"
sclient "$port" -alpn h2
check_grep "a client offering only h2 gets no_application_protocol" \
    "alert no application protocol" "$tmp/sc.out"

sclient "$port" -servername other.test
check_grep "SNI other.test gets its certificate" "subject=CN *= *other.test" \
    "$tmp/sc.out"
sclient "$port" -servername unknown.test
check_grep "an unknown name gets the default" "subject=CN *= *localhost" \
    "$tmp/sc.out"
sclient "$port"
check_grep "no name gets the default" "subject=CN *= *localhost" \
    "$tmp/sc.out"

# ---- OCSP stapling, refreshed from the file ----

sclient "$port" -servername ocsp.test -status
check_grep "OCSP: the response is stapled" "Cert Status: good" "$tmp/sc.out"
sleep 1.1 # a new mtime, and past the once-a-second look at the file
cp "$tmp/ocsp-revoked.der" "$tmp/ocsp.der.new"
mv "$tmp/ocsp.der.new" "$tmp/ocsp.der"
sclient "$port" -servername ocsp.test -status
check_grep "OCSP: a refreshed file is stapled without a reload" \
    "Cert Status: revoked" "$tmp/sc.out"
sleep 1.1
cp "$tmp/ocsp.der" "$tmp/ocsp-keep.der"
cp "$tmp/ocsp.pem" "$tmp/ocsp.der.new" # a certificate, not a response
mv "$tmp/ocsp.der.new" "$tmp/ocsp.der"
sclient "$port" -servername ocsp.test -status
check_grep "OCSP: a bad refresh keeps the last good response stapled" \
    "Cert Status: revoked" "$tmp/sc.out"
wait_for_grep "ocsp response .*ocsp.der: not a DER OCSP response" \
    "$tmp/error.log" 30
check_grep "... and the error log names the file" \
    "ocsp response .*ocsp.der: not a DER OCSP response" "$tmp/error.log"
cp "$tmp/ocsp-keep.der" "$tmp/ocsp.der"
sclient "$port" -status
if grep -q "Cert Status:" "$tmp/sc.out"; then
    not_ok "OCSP: nothing stapled for a certificate without a response"
else
    ok "OCSP: nothing stapled for a certificate without a response"
fi

# ---- resumption ----

for v in tls1_3 tls1_2; do
    rm -f "$tmp/sess.pem"
    sclient "$port" "-$v" -sess_out "$tmp/sess.pem"
    sclient "$port" "-$v" -sess_in "$tmp/sess.pem"
    check_grep "resumption over $v" "^Reused," "$tmp/sc.out"
done
rm -f "$tmp/sess.pem"
sclient "$port" -tls1_2 -no_ticket -sess_out "$tmp/sess.pem"
sclient "$port" -tls1_2 -no_ticket -sess_in "$tmp/sess.pem"
check_grep "TLS 1.2 resumption by session ID (the cache)" "^Reused," \
    "$tmp/sc.out"

# ---- keep-alive, pipelining, a large file ----

out=$(curl -sk -m 10 -o /dev/null -o /dev/null -o /dev/null \
          -w '%{http_code}/%{num_connects} ' "$url/" "$url/" "$url/")
check "keep-alive: three requests on one connection" \
    "200/1 200/0 200/0 " "$out"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /index.html HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    timeout 10 openssl s_client -connect "127.0.0.1:$port" -quiet -ign_eof \
        >"$tmp/pipe.out" 2>/dev/null
check "pipelining: three answers to three requests in one write" 3 \
    "$(grep -c 'HTTP/1.1 200' "$tmp/pipe.out")"

curl -sk -m 20 -o "$tmp/big.got" "$url/big.bin"
check "a 1 MiB file arrives intact over TLS" \
    "$(sha256sum <"$tmp/www/big.bin")" "$(sha256sum <"$tmp/big.got")"

# ---- plain HTTP to the TLS port ----

code=$(curl -s -m 5 -o "$tmp/body" -w '%{http_code}' "http://127.0.0.1:$port/")
check "plain HTTP to the TLS port gets a 400" 400 "$code"
check_grep "... saying the port speaks TLS" "speaks TLS" "$tmp/body"

# ---- a stalled handshake is cut at handshake_timeout (1 s) ----

if command -v python3 >/dev/null 2>&1; then
    took=$(python3 - "$port" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"\x16\x03\x01")      # a ClientHello that never finishes
t = time.monotonic()
try:
    while s.recv(100):
        pass
except OSError:
    pass
print("%.1f" % (time.monotonic() - t))
EOF
)
    case $took in
    0.[5-9] | 1.* | 2.*) ok "a stalled handshake is cut at its deadline (${took}s)" ;;
    *) not_ok "a stalled handshake is cut at its deadline" "took ${took}s" ;;
    esac
else
    ok "# SKIP no python3 for the stalled handshake"
fi

# ---- mTLS ----

code=$(curl -sk -m 10 -o /dev/null -w '%{http_code}' --cert "$tmp/alice.pem" \
           --key "$tmp/alice.key" "https://127.0.0.1:$mport/")
check "mTLS: a client with a certificate from the CA gets in" 200 "$code"
code=$(curl -sk -m 10 -o /dev/null -w '%{http_code}' \
           --cert "$tmp/mallory.pem" --key "$tmp/mallory.key" \
           "https://127.0.0.1:$mport/")
check "mTLS: a self-signed client certificate is refused" 000 "$code"
code=$(curl -sk -m 10 -o /dev/null -w '%{http_code}' \
           "https://127.0.0.1:$mport/")
check "mTLS: a client without a certificate is refused" 000 "$code"
wait_for_grep "peer did not return a certificate" "$tmp/error.log" 50
check_grep "... and the error log says why" \
    "tls: handshake with 127.0.0.1 failed: peer did not return a certificate" \
    "$tmp/error.log"
wait_for_grep '"client_subject":"/CN=alice"' "$tmp/access.log" 50
check_grep "the access log names the verified client" \
    '"client_subject":"/CN=alice"' "$tmp/access.log"
check_grep "... and the TLS version and SNI of requests" \
    '"tls_version":"TLSv1.3","tls_cipher":"[A-Z_0-9]*","sni":"other.test"' \
    "$tmp/access.log"

# ---- reload: a new certificate under a client loop ----

fingerprint() { # of the certificate a new connection on $port gets
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" \
        2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null
}

old_fp=$(fingerprint)
keepalive_load "$tmp/codes" 20 "$url/" -k
sleep 0.3
cp "$tmp/site2.pem" "$tmp/live.pem"
cp "$tmp/site2.key" "$tmp/live.key"
reload_and_wait
sleep 0.3
cp "$tmp/site.pem" "$tmp/live.pem"
cp "$tmp/site.key" "$tmp/live.key"
reload_and_wait
sleep 0.3
cp "$tmp/site2.pem" "$tmp/live.pem"
cp "$tmp/site2.key" "$tmp/live.key"
reload_and_wait
sleep 0.3
touch "$tmp/stop"
wait "$load_pid"
total=$(wc -l <"$tmp/codes")
check "no request failed during three certificate reloads ($total)" 0 \
    "$(grep -cv '^200$' "$tmp/codes")"
if [ "$(grep -c 'reloaded:' "$tmp/error.log")" = 3 ]; then
    ok "three reloads succeeded"
else
    not_ok "three reloads succeeded" "$(grep 'reload' "$tmp/error.log")"
fi
new_fp=$(fingerprint)
want_fp=$(openssl x509 -in "$tmp/site2.pem" -noout -fingerprint -sha256)
check "a new connection sees the new certificate" "$want_fp" "$new_fp"
[ "$old_fp" != "$new_fp" ] && ok "... which differs from the old one" ||
    not_ok "... which differs from the old one" "$old_fp"

# A mismatched pair on reload: refused, naming the files; the old stays.
cp "$tmp/site.key" "$tmp/live.key"
reload_and_wait
check_grep "a reload with a mismatched key fails naming the files" \
    "reload failed.*key .*live.key does not match certificate .*live.pem" \
    "$tmp/error.log"
check "... and the old certificate keeps serving" "$want_fp" "$(fingerprint)"

# ---- -t refuses bad files, naming them ----

tconf() { # tconf CERT KEY: gohttpd -t's stderr for a tls block of those
    printf '%s\nlisten 127.0.0.1:0 { tls { certificate %s; key %s; } }\n' \
        "$as_root" "$1" "$2" >"$tmp/t.conf"
    "$gohttpd" -t -c "$tmp/t.conf" 2>&1
    echo "exit=$?"
}
out=$(tconf site.pem other.key)
case $out in
*"t.conf:2:"*"key $tmp/other.key does not match certificate $tmp/site.pem"*exit=1)
    ok "-t: a key that does not match its certificate, both named" ;;
*) not_ok "-t: a key that does not match its certificate" "$out" ;;
esac
out=$(tconf missing.pem site.key)
case $out in
*"certificate $tmp/missing.pem: No such file"*exit=1)
    ok "-t: a missing certificate file, named" ;;
*) not_ok "-t: a missing certificate file" "$out" ;;
esac
out=$(tconf old.pem old.key)
case $out in
*"certificate $tmp/old.pem: expired"*exit=1)
    ok "-t: an expired certificate, named" ;;
*) not_ok "-t: an expired certificate" "$out" ;;
esac
out=$(tconf site.key site.key)
case $out in
*"certificate $tmp/site.key: not a PEM certificate"*exit=1)
    ok "-t: a key given as the certificate, named" ;;
*) not_ok "-t: a key given as the certificate" "$out" ;;
esac

# tblock BODY: gohttpd -t's stderr for a tls block of BODY (line 3)
tblock() {
    printf '%s\nlisten 127.0.0.1:0 {\n    tls { %s }\n}\n' "$as_root" "$1" \
        >"$tmp/t.conf"
    "$gohttpd" -t -c "$tmp/t.conf" 2>&1
    echo "exit=$?"
}
case $(tblock "certificate site.pem;") in
*"t.conf:3:5: tls: a tls block needs certificate and key"*exit=1)
    ok "-t: a tls block without a key, at file:line:col" ;;
*) not_ok "-t: a tls block without a key" "$(tblock "certificate site.pem;")" ;;
esac
case $(tblock "certificate site.pem; key site.key; min_version TLSv1.1;") in
*"t.conf:3:47: min_version: expected TLSv1.2 or TLSv1.3"*exit=1)
    ok "-t: min_version TLSv1.1 is refused, at file:line:col" ;;
*) not_ok "-t: min_version TLSv1.1 is refused" ;;
esac
case $(tblock "certificate site.pem; key site.key; verify_client on;") in
*"tls: verify_client needs client_ca"*exit=1)
    ok "-t: verify_client without client_ca" ;;
*) not_ok "-t: verify_client without client_ca" ;;
esac
case $(tblock "certificate site.pem; key site.key; ciphers NOPE;") in
*'ciphers "NOPE": no usable cipher'*exit=1)
    ok "-t: a cipher list with nothing usable" ;;
*) not_ok "-t: a cipher list with nothing usable" ;;
esac
case $(tblock "certificate site.pem; key site.key; sesion_cache 10;") in
*"t.conf:3:47: sesion_cache: unknown setting in a tls block"*exit=1)
    ok "-t: a misspelt tls setting" ;;
*) not_ok "-t: a misspelt tls setting" ;;
esac
case $(tblock "certificate site.pem; key site.key; ocsp_response nope.der;") in
*"ocsp response $tmp/nope.der: No such file"*exit=1)
    ok "-t: a missing OCSP response file, named" ;;
*) not_ok "-t: a missing OCSP response file, named" ;;
esac
out=$(tblock "certificate ocsp.pem; key ocsp.key; ocsp_response ocsp.pem;")
case $out in
*"ocsp response $tmp/ocsp.pem: not a DER OCSP response"*exit=1)
    ok "-t: a certificate given as the OCSP response, named" ;;
*) not_ok "-t: a certificate given as the OCSP response, named" "$out" ;;
esac
out=$(tblock "certificate ocsp.pem; key ocsp.key; ocsp_response ocsp.der;")
case $out in
*"is ok"*exit=0) ok "-t: a good OCSP response is ok" ;;
*) not_ok "-t: a good OCSP response is ok" "$out" ;;
esac
out=$(tblock "certificate site.pem; key site.key; sni other.test other.pem other.key; session_cache 0; handshake_timeout 3s;")
case $out in
*"is ok"*exit=0) ok "-t: a full tls block is ok" ;;
*) not_ok "-t: a full tls block is ok" "$out" ;;
esac

stop_daemon TERM
check "SIGTERM exits 0" 0 "$status"
finish
