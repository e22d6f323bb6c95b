#!/bin/sh
# dashboard.sh - the status plugin's dashboard in a real browser: headless
# Chromium loads /status/ from the daemon while curl loops give it some
# traffic.  The page keeps its own score (every JS error, rejected
# promise, console.error and Content-Security-Policy violation) in
# <pre id="selftest">, which --dump-dom exposes: it must report no error,
# several polls, and data points in each of its five charts.  A screenshot
# must not be empty: a page of charts compresses far worse than a blank
# page of the same size, and holds many colours.
#
# Exits 77 when Chromium (Debian package chromium) is missing.  Run by
# "make check"; see daemon-lib.sh.  Takes about ten seconds.

set -u
. "${srcdir:-.}/tests/integration/daemon-lib.sh"

chromium=
for c in chromium chromium-browser google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then
        chromium=$c
        break
    fi
done
if [ -z "$chromium" ]; then
    echo "$me: no chromium: skipped"
    exit 77
fi
limit=
command -v timeout >/dev/null 2>&1 && limit="timeout 60"

cat >"$tmp/dash.conf" <<EOC
listen 127.0.0.1:0;
access_log off;
$as_root
route /status/ {
    handler status;
}
EOC
if ! start_daemon dash -c "$tmp/dash.conf"; then
    not_ok "the daemon starts"
    finish
    exit
fi
url=http://127.0.0.1:$port/status/

# Traffic while the page polls: bounded, and stopped by removing $tmp/load.
: >"$tmp/load"
(
    i=0
    while [ -e "$tmp/load" ] && [ $i -lt 400 ]; do
        curl -s -m 5 -o /dev/null "${url}json"
        curl -s -m 5 -o /dev/null "${url}missing"
        i=$((i + 1))
    done
) &
pids="$pids $!"

# browse OUTPUT-FLAG... URL: one headless run in a fresh profile.
# Virtual time lets the page's 1 s timers run without waiting for them
# (the budget pauses while its requests are out).
browse() {
    prof=$(mktemp -d "$tmp/profile.XXXXXX")
    # shellcheck disable=SC2086
    HOME=$tmp XDG_CONFIG_HOME=$tmp XDG_CACHE_HOME=$tmp $limit "$chromium" \
        --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --disable-extensions \
        --hide-scrollbars --user-data-dir="$prof" --window-size=1280,900 \
        "$@" 2>>"$tmp/chromium.err"
}

browse --virtual-time-budget=6000 --dump-dom "$url" >"$tmp/dom.html"
check "chromium dumps the page's DOM" 0 $?
st=$(sed -n 's/.*<pre id="selftest"[^>]*>\([^<]*\)<.*/\1/p' "$tmp/dom.html")
echo "# selftest: $st"
check "the page ran its self-test with five charts" "charts=5" \
    "$(echo "$st" | cut -d' ' -f1)"
check "it met no error" "errors=0" "$(echo "$st" | cut -d' ' -f3)"
polls=$(echo "$st" | sed -n 's/.*polls=\([0-9]*\).*/\1/p')
if [ "${polls:-0}" -ge 3 ]; then
    ok "it polled the JSON $polls times"
else
    not_ok "it polled the JSON at least 3 times" "selftest: $st"
fi
points=$(echo "$st" | sed -n 's/.*points=\([0-9,]*\).*/\1/p')
empty=$(echo "$points" | tr ',' '\n' | grep -c '^0*$')
if [ -n "$points" ] && [ "$empty" -eq 0 ]; then
    ok "every chart has data points ($points)"
else
    not_ok "every chart has data points" "points: $points"
fi
check_grep "the tiles are filled in" 'class="tile"' "$tmp/dom.html"

# ---- the screenshot ----
browse --virtual-time-budget=4000 --screenshot="$tmp/dash.png" "$url" \
    >/dev/null
browse --screenshot="$tmp/blank.png" about:blank >/dev/null
dash=$(wc -c <"$tmp/dash.png" 2>/dev/null || echo 0)
blank=$(wc -c <"$tmp/blank.png" 2>/dev/null || echo 0)
if [ "$blank" -gt 0 ] && [ "$dash" -gt $((blank * 4)) ]; then
    ok "the screenshot is not a blank page ($dash bytes, blank $blank)"
else
    not_ok "the screenshot is not a blank page" \
        "dashboard $dash bytes, about:blank $blank bytes"
fi
if command -v python3 >/dev/null 2>&1 && [ "$dash" -gt 0 ]; then
    # Decode the PNG (8-bit RGB or RGBA, as Chromium writes) and count
    # the colours of its pixels.
    colours=$(python3 - "$tmp/dash.png" <<'EOP'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, hdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
w, h, depth, ctype = hdr[:4]
bpp = {2: 3, 6: 4}[ctype]
assert depth == 8
raw, stride, prev, seen = zlib.decompress(idat), w * bpp, None, set()
for y in range(h):
    row = raw[y * (stride + 1):(y + 1) * (stride + 1)]
    f, line = row[0], bytearray(row[1:])
    up = prev or bytearray(stride)
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = up[i], (up[i - bpp] if i >= bpp else 0)
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + pr) & 255
    prev = line
    if y % 4 == 0:
        for x in range(0, w, 2):
            seen.add(bytes(line[x * bpp:x * bpp + 3]))
print(len(seen))
EOP
)
    if [ "${colours:-0}" -ge 16 ]; then
        ok "the screenshot has $colours colours"
    else
        not_ok "the screenshot has many colours" "colours: ${colours:-?}"
    fi
fi

rm -f "$tmp/load"
stop_daemon TERM
check "the daemon stops with status 0" 0 "$status"
finish
