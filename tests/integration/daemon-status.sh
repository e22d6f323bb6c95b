#!/bin/sh
# daemon-status.sh - the status plugin in the real daemon: bad settings
# are refused by -t naming the setting; the JSON parses and its counters
# move with requests; the Prometheus text passes a strict checker (sample
# syntax, HELP and TYPE for every family, _total counters, cumulative
# histogram buckets ending in le="+Inf" equal to _count); peers outside
# "allow" get 403 while Unix-domain peers pass; the goroutine lists name
# the acceptor and obey "goroutines off"; the dashboard is one page that
# loads nothing from elsewhere.
#
# Run by "make check"; see daemon-lib.sh.  python3 is used for the JSON
# checks when present (they are skipped, saying so, when it is not).

set -u
. "${srcdir:-.}/tests/integration/daemon-lib.sh"

have_python=no
command -v python3 >/dev/null 2>&1 && have_python=yes

# ---- settings refused by -t ----
t_bad() { # NAME SETTING EXPECTED-MESSAGE
    printf 'listen 127.0.0.1:0;\nroute /s/ {\n  handler status;\n  %s\n}\n' \
        "$2" >"$tmp/$1.conf"
    "$gohttpd" -t -c "$tmp/$1.conf" >"$tmp/$1.t" 2>&1
    check "-t rejects $2" 1 $?
    check_grep "... saying why" "$3" "$tmp/$1.t"
}
t_bad prefix 'allow 10.0.0.0/33;' \
    '4:3: allow: "10.0.0.0/33": the prefix length must be a number from 0 to 32'
t_bad addr 'allow 127.0.0.1 localhost;' \
    '4:3: allow: "localhost" is not an IP address or network'
t_bad v6prefix 'allow ::1/129;' 'the prefix length must be a number from 0 to 128'
t_bad format 'format xml;' \
    '4:3: format: "xml" is not one of dashboard, json, prometheus'
t_bad flag 'goroutines maybe;' '4:3: goroutines'
t_bad max 'goroutines_max 0;' '4:3: goroutines_max'
t_bad typo 'alow all;' 'alow: unknown setting for handler status'

# ---- the daemon with a few status routes ----
sock=$tmp/gh.sock
cat >"$tmp/status.conf" <<EOC
listen 127.0.0.1:0;
listen unix:$sock;
access_log off;
$as_root
route /status/ {
    handler status;
}
route /metrics {
    handler status;
    format  prometheus;
}
route /private/ {
    handler status;
    allow   10.0.0.0/8 192.168.0.0/16;
}
route /v6only/ {
    handler status;
    allow   ::1;
}
route /quiet/ {
    handler status;
    goroutines off;
}
EOC
own_listen=1
if ! start_daemon status -c "$tmp/status.conf"; then
    not_ok "the daemon starts with status routes"
    finish
    exit
fi

# json_get EXPR: evaluate the Python expression EXPR on the JSON in
# $tmp/body (as j).
json_get() {
    python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(eval("(" + sys.argv[2] + ")"))' "$tmp/body" "$1"
}

# ---- JSON ----
check "GET /status/json is 200" 200 "$(get /status/json | cut -d' ' -f1)"
if [ "$have_python" = yes ]; then
    check "it parses as JSON with the expected sections" "True" \
        "$(json_get 'all(k in j for k in ("version", "uptime",
            "connections", "requests", "bytes", "latency", "goroutines",
            "workers", "stacks", "blocking_threads", "stalls", "timeouts",
            "accept_pauses"))')"
    before=$(json_get 'j["requests"]["total"]')
    for i in 1 2 3 4 5; do
        get /status/nothing-here >/dev/null
    done
    get /status/json >/dev/null
    check "requests.total moved by the 6 requests since" \
        "$((before + 6))" "$(json_get 'j["requests"]["total"]')"
    check "the 404s are counted as 4xx" "True" \
        "$(json_get 'j["requests"]["4xx"] >= 5')"
    check "the latency buckets add up to the count" "True" \
        "$(json_get 'sum(j["latency"]["counts"]) == j["latency"]["count"]
                      and len(j["latency"]["counts"])
                          == len(j["latency"]["bounds_us"]) + 1')"
    check "p50 <= p90 <= p99, all estimated" "True" \
        "$(json_get 'j["latency"]["p50_ms"] is not None and
            j["latency"]["p50_ms"] <= j["latency"]["p90_ms"]
            <= j["latency"]["p99_ms"]')"
    check "goroutines by state add up" "True" \
        "$(json_get 'sum(j["goroutines"][k] for k in ("running",
            "runnable", "waiting")) == j["goroutines"]["total"]')"
    check "one entry per worker, with its run queue" "True" \
        "$(json_get 'len(j["workers"]) >= 1 and all("runq" in w and
            "switches" in w for w in j["workers"])')"
else
    echo "# no python3: the JSON content is not checked"
fi
curl -s -m 10 -o "$tmp/body" -H 'Accept: application/json' \
    "http://127.0.0.1:$port/status/"
check "the prefix with Accept: application/json gives JSON" '{"version":' \
    "$(head -c 11 "$tmp/body")"
curl -s -m 10 -o "$tmp/body" -H 'Accept: application/json;q=0' \
    "http://127.0.0.1:$port/status/"
check "... but not with q=0: the dashboard" '<!DOCTYPE html>' \
    "$(head -c 15 "$tmp/body")"
curl -s -m 10 -o "$tmp/body" -H 'Accept: text/html;q=0, application/json' \
    "http://127.0.0.1:$port/status/"
check "... and with text/html refused: JSON" '{"version":' \
    "$(head -c 11 "$tmp/body")"

# ---- Prometheus ----
# A strict checker of the text exposition format 0.0.4, as used here.
cat >"$tmp/prom.awk" <<'EOA'
function fail(msg) { print "line " NR ": " msg ": " $0; bad = 1 }
# The family a sample belongs to: a histogram's series drop their suffix.
function family_of(name,   base) {
    base = name
    sub(/_(bucket|sum|count)$/, "", base)
    return (base in type && type[base] == "histogram") ? base : name
}
/^# HELP / {
    if ($3 in help) fail("a second HELP")
    help[$3] = 1
    if (NF < 4) fail("HELP without text")
    next
}
/^# TYPE / {
    if ($3 in type) fail("a second TYPE")
    if ($4 !~ /^(counter|gauge|histogram|summary|untyped)$/)
        fail("unknown type")
    if (!($3 in help)) fail("TYPE before HELP")
    type[$3] = $4
    if ($4 == "counter" && $3 !~ /_total$/) fail("a counter without _total")
    next
}
/^#/ { next }
{
    label = "([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\"\\\\n])*\")"
    re = "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{(" label "(," label ")*)?\\})? " \
         "(-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?|[-+]Inf|NaN)( -?[0-9]+)?$"
    if ($0 !~ re) { fail("not a sample line"); next }
    name = $1
    sub(/\{.*/, "", name)
    fam = family_of(name)
    if (!(fam in type)) fail("a sample before its TYPE")
    samples++
    if (name ~ /_bucket$/ && type[fam] == "histogram") {
        le = $0
        if (!sub(/.*le="/, "", le)) { fail("a bucket without le"); next }
        sub(/".*/, "", le)
        v = $NF + 0
        if (fam in last && v < last[fam]) fail("buckets not cumulative")
        if (fam in lastle && le != "+Inf" && le + 0 <= lastle[fam] + 0)
            fail("le not increasing")
        last[fam] = v; lastle[fam] = le; lastname[fam] = le
    }
    if (name ~ /_count$/ && type[fam] == "histogram") {
        if (lastname[fam] != "+Inf") fail("buckets do not end in +Inf")
        if ($NF + 0 != last[fam]) fail("_count differs from the +Inf bucket")
        counted[fam] = 1
    }
}
END {
    for (f in type)
        if (type[f] == "histogram" && !(f in counted))
            fail("histogram " f " has no _count")
    if (!samples) fail("no samples")
    if (bad) exit 1
    print samples " samples"
}
EOA
hdr=$(curl -s -m 10 -D - -o "$tmp/metrics" "http://127.0.0.1:$port/metrics" |
      tr -d '\r' | sed -n 's/^Content-Type: //p')
check "/metrics has the 0.0.4 content type" \
    "text/plain; version=0.0.4; charset=utf-8" "$hdr"
if awk -f "$tmp/prom.awk" "$tmp/metrics" >"$tmp/prom.out" 2>&1; then
    ok "the Prometheus text passes the strict checker ($(cat "$tmp/prom.out"))"
else
    not_ok "the Prometheus text passes the strict checker" \
        "$(head -n 5 "$tmp/prom.out")"
fi
cat >"$tmp/badprom" <<'EOP'
# HELP x_total X.
# TYPE x_total counter
x_total 1
# HELP h H.
# TYPE h histogram
h_bucket{le="1"} 2
h_bucket{le="+Inf"} 1
h_sum 1
h_count 1
EOP
awk -f "$tmp/prom.awk" "$tmp/badprom" >/dev/null 2>&1
check "... which does fail on non-cumulative buckets" 1 $?
check_grep "the histogram ends in +Inf" \
    '^gohttpd_request_duration_seconds_bucket{le="+Inf"} [0-9]' "$tmp/metrics"
check_grep "goroutines by state" '^gohttpd_goroutines{state="waiting"} ' \
    "$tmp/metrics"
check_grep "run queue per worker" '^gohttpd_worker_run_queue{worker="0"} ' \
    "$tmp/metrics"
check_grep "stalls, a counter" '^gohttpd_stalls_total 0$' "$tmp/metrics"
check "the prefix route's metrics path works too" 200 \
    "$(get /status/metrics | cut -d' ' -f1)"

# ---- access control ----
check "a peer outside allow gets 403 (127.0.0.1 vs 10/8, 192.168/16)" 403 \
    "$(get /private/json | cut -d' ' -f1)"
check "an IPv4 peer is outside allow ::1" 403 \
    "$(get /v6only/json | cut -d' ' -f1)"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' --unix-socket "$sock" \
           "http://localhost/private/json")
check "a Unix-domain peer is always allowed" 200 "$code"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST \
           "http://127.0.0.1:$port/status/json")
check "POST is 405" 405 "$code"
check "an unknown view is 404" 404 "$(get /status/nope | cut -d' ' -f1)"

# ---- goroutines ----
check "GET /status/goroutines is 200" 200 \
    "$(get /status/goroutines | cut -d' ' -f1)"
check_grep "the dump lists the acceptor" '"http acceptor"' "$tmp/body"
check_grep "... and ends with the count" '^[0-9][0-9]* goroutines$' \
    "$tmp/body"
get /status/goroutines.json >/dev/null
if [ "$have_python" = yes ]; then
    check "the JSON list has the acceptor, waiting" "True" \
        "$(json_get 'any(g["name"] == "http acceptor" and
            g["state"] == "waiting" and g["wait"] for g in j["goroutines"])
            and j["listed"] == len(j["goroutines"]) <= j["total"]')"
fi
check "goroutines off: the list is 403" 403 \
    "$(get /quiet/goroutines | cut -d' ' -f1)"
get /quiet/json >/dev/null
check_grep "... and the JSON says so" '"goroutine_list":false' "$tmp/body"

# ---- the dashboard ----
curl -s -m 10 -D "$tmp/dash.h" -o "$tmp/dash.html" \
    "http://127.0.0.1:$port/status/"
check_grep "the dashboard is HTML" '^Content-Type: text/html' "$tmp/dash.h"
check_grep "with a CSP that allows nothing from elsewhere" \
    "^Content-Security-Policy: default-src 'none';" "$tmp/dash.h"
check_grep "it has the canvas charts" '<canvas id="ch-rps">' "$tmp/dash.html"
ext=$(grep -Eio "(src|href|url)[[:space:]]*[=(][[:space:]]*[\"']?(https?:)?//[^\"' )>]*" \
          "$tmp/dash.html" | head -n 3)
check "it loads nothing from another origin" "" "$ext"
check "no http:// or https:// URL at all" 0 \
    "$(grep -Eic 'https?://' "$tmp/dash.html")"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code} %{size_download}' -I \
           "http://127.0.0.1:$port/status/")
check "HEAD gives 200 and no body" "200 0" "$code"

stop_daemon TERM
check "the daemon stops with status 0" 0 "$status"

finish
