#!/bin/sh
# daemon-static.sh - the static handler and error_page through the real
# daemon, with curl, over a document root made in the temporary directory:
# conditional requests (304, 412), ranges (206, 416, If-Range, several
# ranges answered whole), precompressed .gz siblings and Vary, every way
# out of the root we know of (never the secret beside it), dotfiles,
# directories (redirect, index, 403, an escaped listing), content types,
# HEAD, 405, Cache-Control, and error_page: its checks at load, the page
# for a missing file and for an unrouted path, HEAD, and a reload that
# reads the page again.
#
# Run by "make check"; see daemon-lib.sh.

set -u
. "${srcdir:-.}/tests/integration/daemon-lib.sh"

if ! command -v gzip >/dev/null 2>&1; then
    echo "$me: no gzip: skipped"
    exit 77
fi

# ---- the document root, and a secret beside it ----
root=$tmp/root
secret=TOPSECRET-7f3a9
mkdir -p "$root/sub" "$root/noindex" "$root/.hidden" "$tmp/outside"
echo "$secret" >"$tmp/secret.txt"
echo "$secret" >"$tmp/outside/secret.txt"
printf '0123456789abcdefghij' >"$root/a.txt"
printf '0123456789abcdefghij' >"$root/written.txt" # times left as written
echo '<p>html</p>' >"$root/a.html"
echo 'p { color: red }' >"$root/a.css"
echo 'var a = 1;' >"$root/a.js"
echo '{"a": 1}' >"$root/a.json"
printf '\211PNG\r\n\032\n' >"$root/a.png"
echo 'unknown' >"$root/a.xyz"
echo 'sub index' >"$root/sub/index.html"
echo 'in noindex' >"$root/noindex/file.txt"
echo "$secret" >"$root/.secret"
echo "$secret" >"$root/.hidden/file.txt"
echo 'escaped' >"$root/<b>&\"x.txt"
ln -s "$tmp/outside/secret.txt" "$root/link-out"
ln -s ../secret.txt "$root/link-up"
ln -s a.txt "$root/link-in"
ln -s "$root/a.txt" "$root/link-abs"
echo 'plain text, not compressed' >"$root/gz.txt"
gzip -c "$root/gz.txt" >"$root/gz.txt.gz"
head -c 1048576 /dev/urandom >"$root/big.bin"
# An old modification time, so that the date conditions have room.
touch -d '2020-01-02 03:04:05 UTC' "$root/a.txt"

cat >"$tmp/404.html" <<'EOF'
<!DOCTYPE html><title>custom 404</title><p>custom not found page</p>
EOF

cat >"$tmp/static.conf" <<EOC
listen 127.0.0.1:0;
$as_root
error_page 404 $tmp/404.html;
route /files/ {
    handler       static;
    root          $root;
    cache_control "public, max-age=60";
}
route /list/ {
    handler static;
    root    $root;
    listing on;
}
EOC

# ---- error_page is checked when the configuration loads ----
t_bad() { # NAME EXPECTED-MESSAGE: -t on $tmp/NAME.conf fails, saying so
    "$gohttpd" -t -c "$tmp/$1.conf" >"$tmp/$1.t" 2>&1
    check "-t rejects $1.conf" 1 $?
    check_grep "-t names the place and the problem in $1.conf" "$2" \
        "$tmp/$1.t"
}
bad_page() { # NAME ERROR-PAGE-ARGS
    printf 'listen 127.0.0.1:0;\n  error_page %s;\n' "$2" >"$tmp/$1.conf"
}
bad_page missing "404 $tmp/nosuch.html"
t_bad missing "missing.conf:2:3: error_page: $tmp/nosuch.html: No such file"
bad_page dir "404 $tmp"
t_bad dir "dir.conf:2:3: error_page: $tmp: not a regular file"
head -c 70000 /dev/zero >"$tmp/huge.html"
bad_page huge "404 $tmp/huge.html"
t_bad huge "huge.conf:2:3: error_page: .*70000 bytes, more than the 64k"
bad_page code "399 $tmp/404.html"
t_bad code 'code.conf:2:3: error_page: expected a status code from 400 to 599, found "399"'
bad_page word "40x $tmp/404.html"
t_bad word 'found "40x"'
bad_page nopath "404"
t_bad nopath "nopath.conf:2:3: error_page: expected 2 to 64 arguments"
"$gohttpd" -t -c "$tmp/static.conf" >"$tmp/good.t" 2>&1
check "-t accepts the test configuration" 0 $?

if ! start_daemon static -c "$tmp/static.conf"; then
    not_ok "the daemon starts with the static configuration"
    finish
    exit 1
fi
base=http://127.0.0.1:$port

# req PATH [CURL-ARGS...]: fetch; the status in $code, the head in $tmp/h,
# the body in $tmp/b.  The path goes out as it is (--path-as-is).
req() {
    p=$1
    shift
    rm -f "$tmp/h" "$tmp/b"
    code=$(curl -s -m 10 --path-as-is -D "$tmp/h" -o "$tmp/b" \
               -w '%{http_code}' "$@" "$base$p" 2>/dev/null)
    touch "$tmp/h" "$tmp/b"
}
# header NAME: the value of the field NAME in $tmp/h ("" if absent)
header() {
    awk -v n="$1" '
        { sub(/\r$/, "") }
        tolower(substr($0, 1, length(n) + 1)) == tolower(n) ":" {
            v = substr($0, length(n) + 2); sub(/^[ \t]*/, "", v)
        }
        END { print v }' "$tmp/h"
}
body() { cat "$tmp/b"; }
# head_bytes PATH: HEAD PATH on a connection the server then closes, and
# how many bytes came after the head (0 unless a body was sent).  curl
# cannot tell: it drops what follows a HEAD's head.  Perl is the raw
# client ("no perl" when it is missing).
head_bytes() {
    command -v perl >/dev/null 2>&1 || { echo "no perl"; return; }
    perl -MIO::Socket::INET -e '
        alarm 10;
        my $s = IO::Socket::INET->new("127.0.0.1:$ARGV[0]") or die;
        print $s "HEAD $ARGV[1] HTTP/1.1\r\nHost: t\r\n" .
                 "Connection: close\r\n\r\n";
        local $/; my $all = <$s>;
        my $i = index($all, "\r\n\r\n");
        print $i < 0 ? "no head" : length($all) - $i - 4, "\n";
    ' "$port" "$1"
}

# ---- a file, its validators, conditional requests ----
req /files/a.txt
check "a file is served" "200 0123456789abcdefghij" "$code $(body)"
etag=$(header ETag)
lm=$(header Last-Modified)
check "Last-Modified is the file's time" "Thu, 02 Jan 2020 03:04:05 GMT" "$lm"
check "it has a strong ETag" yes \
    "$(echo "$etag" | grep -q '^"[0-9a-f-]*"$' && echo yes || echo no)"
check "Accept-Ranges: bytes" bytes "$(header Accept-Ranges)"
check "Cache-Control from the route" "public, max-age=60" \
    "$(header Cache-Control)"
req /files/a.txt -H "If-None-Match: $etag"
check "If-None-Match with its ETag: 304, no body" "304 0" \
    "$code $(wc -c <"$tmp/b")"
check "a 304 keeps the ETag" "$etag" "$(header ETag)"
req /files/a.txt -H 'If-None-Match: "other", W/"x"'
check "If-None-Match with other tags: 200" 200 "$code"
req /files/a.txt -H "If-Modified-Since: $lm"
check "If-Modified-Since its own date: 304" 304 "$code"
req /files/a.txt -H 'If-Modified-Since: Sat, 01 Jan 2005 00:00:00 GMT'
check "If-Modified-Since an older date: 200" 200 "$code"
req /files/a.txt -H 'If-Match: "nope"'
check "If-Match with another tag: 412" 412 "$code"
req /files/a.txt -H "If-Match: $etag"
check "If-Match with its tag: 200" 200 "$code"
req /files/a.txt -H 'If-Unmodified-Since: Mon, 01 Jan 2001 00:00:00 GMT'
check "If-Unmodified-Since an older date: 412" 412 "$code"
req /files/a.txt -H "If-Unmodified-Since: $lm"
check "If-Unmodified-Since its own date: 200" 200 "$code"

# ---- ranges ----
req /files/a.txt -H 'Range: bytes=0-4'
check "a single range: 206 and the bytes" "206 01234" "$code $(body)"
check "its Content-Range" "bytes 0-4/20" "$(header Content-Range)"
req /files/a.txt -H 'Range: bytes=-5'
check "a suffix range: the last bytes" "206 fghij bytes 15-19/20" \
    "$code $(body) $(header Content-Range)"
req /files/a.txt -H 'Range: bytes=17-'
check "an open-ended range" "206 hij bytes 17-19/20" \
    "$code $(body) $(header Content-Range)"
req /files/a.txt -H 'Range: bytes=20-'
check "an unsatisfiable range: 416 with the size" "416 bytes */20" \
    "$code $(header Content-Range)"
req /files/a.txt -H 'Range: bytes=0-4' -H "If-Range: $etag"
check "If-Range with its ETag: the range" "206 01234" "$code $(body)"
req /files/a.txt -H 'Range: bytes=0-4' -H 'If-Range: "stale"'
check "If-Range with another ETag: the whole file" \
    "200 0123456789abcdefghij" "$code $(body)"
# a.txt's mtime was set by hand (touch -d): its date says nothing of what
# the file held then (RFC 9110 8.8.2.2), so If-Range with it fails safe.
req /files/a.txt -H 'Range: bytes=0-4' -H "If-Range: $lm"
check "If-Range with the date of a touched file: the whole file" \
    "200 0123456789abcdefghij" "$code $(body)"
# written.txt's date is a strong validator once it is 2 s old.
while [ "$(date +%s)" -le $(($(stat -c %Z "$root/written.txt") + 2)) ]; do
    sleep 0.2
done
req /files/written.txt
wlm=$(header Last-Modified)
req /files/written.txt -H 'Range: bytes=0-4' -H "If-Range: $wlm"
check "If-Range with the date of a settled file: the range" "206 01234" \
    "$code $(body)"
req /files/a.txt -H 'Range: bytes=0-1,5-6'
check "several ranges: the whole file with 200 (as documented)" \
    "200 0123456789abcdefghij" "$code $(body)"
req /files/big.bin
check "the 1 MiB file whole" "200 1048576 same" \
    "$code $(header Content-Length) $(cmp -s "$tmp/b" "$root/big.bin" &&
                                     echo same)"
req /files/big.bin -H 'Range: bytes=1048000-'
tail -c 576 "$root/big.bin" >"$tmp/tail"
check "a range at the end of the 1 MiB file" "206 bytes 1048000-1048575/1048576 same" \
    "$code $(header Content-Range) $(cmp -s "$tmp/b" "$tmp/tail" && echo same)"

# ---- precompressed siblings ----
req /files/gz.txt -H 'Accept-Encoding: gzip, deflate'
check "gzip accepted: the .gz, Content-Encoding, Vary" \
    "200 gzip Accept-Encoding same" \
    "$code $(header Content-Encoding) $(header Vary) $(cmp -s "$tmp/b" \
        "$root/gz.txt.gz" && echo same)"
check "the type of the file asked for, not of .gz" \
    "text/plain; charset=utf-8" "$(header Content-Type)"
req /files/gz.txt -H 'Accept-Encoding: gzip;q=0, identity'
check "gzip refused: the plain file, still Vary" \
    "200 plain text, not compressed Accept-Encoding" \
    "$code $(body) $(header Vary)"
check "and no Content-Encoding" "" "$(header Content-Encoding)"
req /files/gz.txt
check "no Accept-Encoding: the plain file" "200 plain text, not compressed" \
    "$code $(body)"
req /files/a.txt -H 'Accept-Encoding: gzip'
check "no sibling: no Vary" "" "$(header Vary)"

# ---- no way out of the root ----
# out PATH: 400, 403 or 404, and never the secret
out() {
    req "$1"
    got=$code
    grep -q "$secret" "$tmp/b" && got="$code with the secret"
    case $got in
    400 | 403 | 404) got=refused ;;
    esac
    check "$1 is refused" refused "$got"
}
out '/files/../secret.txt'
out '/files/sub/../../secret.txt'
out '/files/%2e%2e/secret.txt'
out '/files/%2E%2E/%2e%2e/secret.txt'
out '/files/..%2fsecret.txt'
out '/files/%2e%2e%2fsecret.txt'
out '/files/sub%2f..%2f..%2fsecret.txt'
out '/files/a.txt%00'
out '/files/%00../secret.txt'
out '/files//secret.txt'
out "/files/$tmp/secret.txt"
out '/files/..\secret.txt'
out '/files/..%5csecret.txt'
out '/files/link-out'
out '/files/link-up'
out '/files/.secret'
out '/files/.hidden/file.txt'
out '/files/%2esecret'
req /files/link-in
check "a symbolic link inside the root is followed" \
    "200 0123456789abcdefghij" "$code $(body)"
req /files/link-abs
check "so is an absolute one that points inside" \
    "200 0123456789abcdefghij" "$code $(body)"

# ---- directories ----
req '/files/sub?x=1'
check "a directory without '/': 301 to it, query kept" "301 /files/sub/?x=1" \
    "$code $(header Location)"
req /files/sub/
check "a directory's index.html" "200 sub index" "$code $(body)"
check "the index is text/html" "text/html; charset=utf-8" \
    "$(header Content-Type)"
req /files/noindex/
check "a directory without an index, listing off: 403" 403 "$code"
req /files/
check "the root without an index, listing off: 403" 403 "$code"
req /list/
check "listing on: 200 text/html" "200 text/html; charset=utf-8" \
    "$code $(header Content-Type)"
check_grep "the listing escapes names in the text" \
    '>&lt;b&gt;&amp;&quot;x.txt<' "$tmp/b"
check_grep "and in the link" 'href="%3Cb%3E%26%22x.txt"' "$tmp/b"
check "a raw name never reaches the page" no \
    "$(grep -q '<b>&' "$tmp/b" && echo yes || echo no)"
check_grep "directories are listed with a '/'" 'href="sub/"' "$tmp/b"
check "dotfiles and links out are not listed" no \
    "$(grep -q -e '\.secret' -e '\.hidden' -e 'link-out' "$tmp/b" &&
       echo yes || echo no)"
check "no Cache-Control on a route without it" "" "$(header Cache-Control)"
req '/list/%3Cb%3E%26%22x.txt'
check "the escaped link leads to the file" "200 escaped" "$code $(body)"

# ---- content types ----
ctype() { # FILE EXPECTED
    req "/files/$1"
    check "$1 is $2" "200 $2" "$code $(header Content-Type)"
}
ctype a.html 'text/html; charset=utf-8'
ctype a.css 'text/css; charset=utf-8'
ctype a.js 'application/javascript; charset=utf-8'
ctype a.json 'application/json; charset=utf-8'
ctype a.png 'image/png'
ctype a.txt 'text/plain; charset=utf-8'
ctype a.xyz 'application/octet-stream'

# ---- HEAD, other methods ----
req /files/a.txt -I
check "HEAD: 200 with the GET's headers" "200 20 $etag" \
    "$code $(header Content-Length) $(header ETag)"
check "HEAD sends no body" 0 "$(head_bytes /files/a.txt)"
req /files/a.txt -X POST -d x=1
check "POST: 405 with Allow" "405 GET, HEAD" "$code $(header Allow)"

# ---- the open-file cache never serves what is no longer there ----
printf 'cached version one\n' >"$root/c.txt"
cp -p "$root/c.txt" "$tmp/c.ref"
sleep 2.2 # old enough (by its ctime) for the cache to keep its bytes
req /files/c.txt
req /files/c.txt
etag1=$(header ETag)
check "a cached file is served" "200 cached version one" "$code $(body)"
# Same inode, same size, the mtime put back: only the ctime differs.
printf 'CACHED VERSION TWO\n' >"$root/c.txt"
touch -r "$tmp/c.ref" "$root/c.txt"
req /files/c.txt
check "rewritten in place with the same size and mtime: the new bytes" \
    "200 CACHED VERSION TWO" "$code $(body)"
check "and a new ETag" yes "$([ "$(header ETag)" != "$etag1" ] && echo yes)"
printf 'replaced by a rename\n' >"$tmp/c.new"
mv "$tmp/c.new" "$root/c.txt"
req /files/c.txt
check "replaced by a rename: the new file" "200 replaced by a rename" \
    "$code $(body)"
rm "$root/c.txt"
req /files/c.txt
check "deleted: 404" 404 "$code"

# ---- error_page ----
want=$(cat "$tmp/404.html")
req /files/missing.txt
check "a missing file gets the error_page, as 404" "404 $want" \
    "$code $(body)"
check "as text/html" "text/html; charset=utf-8" "$(header Content-Type)"
req /elsewhere
check "an unrouted path gets the error_page, as 404" "404 $want" \
    "$code $(body)"
req /files/missing.txt -I
check "HEAD of a missing file: 404 with the page's length" \
    "404 $(wc -c <"$tmp/404.html")" "$code $(header Content-Length)"
check "and no body" 0 "$(head_bytes /files/missing.txt)"
req /files/a.txt -H 'If-Match: "nope"'
check "a status without a page keeps the plain one" \
    "412 text/plain; charset=utf-8" "$code $(header Content-Type)"

# A reload reads the page again.
echo '<p>the new page</p>' >"$tmp/404.html"
kill -HUP "$pid"
wait_for_grep 'reloaded:' "$tmp/static.err" 100
req /nowhere
check "after a reload, the new page" "404 <p>the new page</p>" \
    "$code $(body)"
stop_daemon TERM
check "the daemon stops with status 0" 0 "$status"

finish
