/*
 * check_http_proxy.c - deploying behind a proxy: the forwarded-header walk
 * on its own (gh__fwd_walk: spoofing, chains of trusted hops, the
 * non-recursive mode, the hop limit, malformed entries, RFC 7239 Forwarded
 * with quoted IPv6, ports and obfuscated identifiers), then end to end on
 * an in-process server: PROXY protocol v1 and v2 listeners (the header's
 * address reaches handlers and the access log, request bytes in the same
 * write survive, refusals: no header, garbage, a peer not allowed, a
 * header too slow), trusted_proxies with X-Forwarded-For, -Proto and
 * -Host, and request IDs (generated, accepted from a trusted peer only,
 * refused when malformed).
 */
#include "check_gh.h"

#include <pthread.h>

#include "http_client.h"
#include "http/forwarded.h"

#define MS(n) ((int64_t)(n) * GH_MILLISECOND)
#define DL(ms) (gh_now() + gh_test_slack(MS(ms)))

/* ---- the walk ---- */

static gh_netlist_t *nl(const char *text)
{
    gh_netlist_t *l;
    char err[128];

    ck_assert_msg(gh_netlist_new(&l, text, err, sizeof(err)) == 0, "%s", err);
    return l;
}

/* Walk values (NULL-terminated) as kind from peer; the client as text. */
static const char *walk(const char *trusted, int kind, bool recursive,
                        uint32_t max, const char *peer, const char **values,
                        gh__fwd_t *f)
{
    static char out[80];
    char ip[INET6_ADDRSTRLEN];
    int n = 0;

    while (values[n])
        n++;
    *f = (gh__fwd_t){.trusted = nl(trusted), .kind = kind,
                     .recursive = recursive, .max_hops = max,
                     .values = values, .nvalues = n};
    if (strchr(peer, ':')) {
        f->client.in6.sin6_family = AF_INET6;
        inet_pton(AF_INET6, peer, &f->client.in6.sin6_addr);
        f->client_len = sizeof(f->client.in6);
    } else {
        f->client.in.sin_family = AF_INET;
        inet_pton(AF_INET, peer, &f->client.in.sin_addr);
        f->client_len = sizeof(f->client.in);
    }
    gh__fwd_walk(f);
    gh_netlist_free((gh_netlist_t *)f->trusted);
    if (f->client.sa.sa_family == AF_INET) {
        inet_ntop(AF_INET, &f->client.in.sin_addr, ip, sizeof(ip));
        snprintf(out, sizeof(out), "%s:%d", ip, ntohs(f->client.in.sin_port));
    } else {
        inet_ntop(AF_INET6, &f->client.in6.sin6_addr, ip, sizeof(ip));
        snprintf(out, sizeof(out), "[%s]:%d", ip,
                 ntohs(f->client.in6.sin6_port));
    }
    return out;
}

#define XFF(peer, ...)                                                     \
    walk("10.0.0.0/8 ::1", GH__FWD_XFF, true, 32, peer,                    \
         (const char *[]){__VA_ARGS__, NULL}, &f)
#define FWD(peer, ...)                                                     \
    walk("10.0.0.0/8 ::1", GH__FWD_FORWARDED, true, 32, peer,              \
         (const char *[]){__VA_ARGS__, NULL}, &f)

START_TEST(untrusted_peer_is_not_believed)
{
    gh__fwd_t f;

    ck_assert_str_eq(XFF("192.0.2.1", "203.0.113.7"), "192.0.2.1:0");
    ck_assert_int_eq(f.hops, 0);
    ck_assert_str_eq(FWD("192.0.2.1", "for=203.0.113.7;proto=https"),
                     "192.0.2.1:0");
    ck_assert_ptr_null(f.proto);
}
END_TEST

START_TEST(chain_is_walked_past_trusted_hops_only)
{
    gh__fwd_t f;

    ck_assert_str_eq(XFF("10.0.0.1", "203.0.113.7, 10.0.0.2,10.0.0.3"),
                     "203.0.113.7:0");
    ck_assert_int_eq(f.hops, 3);
    /* What the client wrote left of its own address is ignored. */
    ck_assert_str_eq(XFF("10.0.0.1", "6.6.6.6, 10.9.9.9, 203.0.113.7, "
                         "10.0.0.2"), "203.0.113.7:0");
    /* Every hop trusted: the leftmost. */
    ck_assert_str_eq(XFF("10.0.0.1", "10.1.1.1, 10.0.0.2"), "10.1.1.1:0");
    /* Several fields are one list. */
    ck_assert_str_eq(XFF("10.0.0.1", "6.6.6.6, 203.0.113.7", "10.0.0.2"),
                     "203.0.113.7:0");
    /* IPv6, brackets and ports. */
    ck_assert_str_eq(XFF("::1", "[2001:db8::7]:4711"), "[2001:db8::7]:4711");
    ck_assert_str_eq(XFF("::1", "2001:db8::7"), "[2001:db8::7]:0");
    ck_assert_str_eq(XFF("::1", "192.0.2.9:8080"), "192.0.2.9:8080");
    /* A v4-mapped trusted peer. */
    ck_assert_str_eq(XFF("::ffff:10.0.0.1", "192.0.2.9"), "192.0.2.9:0");
}
END_TEST

START_TEST(non_recursive_takes_the_rightmost)
{
    gh__fwd_t f;

    ck_assert_str_eq(walk("10.0.0.0/8", GH__FWD_XFF, false, 32, "10.0.0.1",
                          (const char *[]){"203.0.113.7, 10.0.0.2", NULL},
                          &f),
                     "10.0.0.2:0");
    ck_assert_int_eq(f.hops, 1);
}
END_TEST

START_TEST(malformed_entries_stop_at_the_last_good_address)
{
    gh__fwd_t f;

    ck_assert_str_eq(XFF("10.0.0.1", "203.0.113.7, junk, 10.0.0.2"),
                     "10.0.0.2:0");
    ck_assert_str_eq(XFF("10.0.0.1", "203.0.113.7,, 10.0.0.2"),
                     "10.0.0.2:0");
    ck_assert_str_eq(XFF("10.0.0.1", "203.0.113.7, 10.0.0.2:99999"),
                     "10.0.0.1:0");
    ck_assert_str_eq(XFF("10.0.0.1", "[2001:db8::1"), "10.0.0.1:0");
    ck_assert_str_eq(XFF("10.0.0.1", "1.2.3.4.5"), "10.0.0.1:0");
    ck_assert_str_eq(XFF("10.0.0.1", ""), "10.0.0.1:0");
    ck_assert_str_eq(XFF("10.0.0.1", "203.0.113.7 10.0.0.2"), "10.0.0.1:0");
    ck_assert_int_eq(f.hops, 0);
}
END_TEST

START_TEST(hops_are_bounded)
{
    char many[64 * 12];
    gh__fwd_t f;
    size_t o = 0;

    /* 40 trusted hops after the client: with 32 looked at, the walk ends
     * on a trusted one and never sees the client. */
    o += (size_t)sprintf(many, "203.0.113.7");
    for (int i = 0; i < 40; i++)
        o += (size_t)sprintf(many + o, ", 10.0.0.%d", i + 1);
    ck_assert_str_eq(XFF("10.0.0.1", many), "10.0.0.9:0");
    ck_assert_int_eq(f.hops, 32);
    ck_assert_str_eq(walk("10.0.0.0/8", GH__FWD_XFF, true, 64, "10.0.0.1",
                          (const char *[]){many, NULL}, &f),
                     "203.0.113.7:0");
    ck_assert_int_eq(f.hops, 41);
}
END_TEST

START_TEST(forwarded_quoted_ipv6_ports_proto_and_host)
{
    gh__fwd_t f;

    ck_assert_str_eq(FWD("10.0.0.1", "for=\"[2001:db8:cafe::17]:4711\";"
                         "proto=https;host=\"example.com:8443\""),
                     "[2001:db8:cafe::17]:4711");
    ck_assert_int_eq((int)f.proto_len, 5);
    ck_assert(strncmp(f.proto, "https", 5) == 0);
    ck_assert(strncmp(f.host, "example.com:8443", f.host_len) == 0);
    /* RFC 7239's own example; names are case-insensitive, and proto=
     * comes from the element that named the client. */
    ck_assert_str_eq(FWD("10.0.0.1", "for=192.0.2.60;proto=http;"
                         "by=203.0.113.43", "For=10.0.0.7;Proto=https"),
                     "192.0.2.60:0");
    ck_assert(strncmp(f.proto, "http", f.proto_len) == 0 &&
              f.proto_len == 4);
    /* A quoted comma does not split an element. */
    ck_assert_str_eq(FWD("10.0.0.1", "for=192.0.2.61;host=\"a,b\", "
                         "for=10.0.0.2"), "192.0.2.61:0");
}
END_TEST

START_TEST(forwarded_obfuscated_and_unknown_end_the_walk)
{
    gh__fwd_t f;

    ck_assert_str_eq(FWD("10.0.0.1", "for=198.51.100.17, for=_hidden, "
                         "for=10.0.0.2"), "10.0.0.2:0");
    ck_assert_str_eq(FWD("10.0.0.1", "for=198.51.100.17, for=unknown"),
                     "10.0.0.1:0");
    ck_assert_str_eq(FWD("10.0.0.1", "for=\"_gazonk\""), "10.0.0.1:0");
    /* An obfuscated port keeps the address. */
    ck_assert_str_eq(FWD("10.0.0.1", "for=\"[2001:db8::9]:_p1\""),
                     "[2001:db8::9]:0");
    /* No for= at all, but a proto= from the proxy in front. */
    ck_assert_str_eq(FWD("10.0.0.1", "proto=https"), "10.0.0.1:0");
    ck_assert(f.proto && strncmp(f.proto, "https", 5) == 0);
}
END_TEST

START_TEST(forwarded_malformed_elements_are_refused)
{
    static const char *bad[] = {
        "for=\"[2001:db8::1\"", "for=\"[2001:db8::1]:\"", "for=1.2.3.4;;",
        "for=", "for", "=1.2.3.4", "for=\"1.2.3.4", "for=1.2.3.4 x",
        "for=\"1.2.3\\.4\"", "for=[2001:db8::1]", /* brackets unquoted */
    };
    gh__fwd_t f;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(strcmp(FWD("10.0.0.1", bad[i]), "10.0.0.1:0") == 0,
                      "accepted %s", bad[i]);
}
END_TEST

/* ---- end to end ---- */

static gh_server_t *srv;
static struct sockaddr_storage srv_ss;
static socklen_t srv_sslen;

typedef struct acc_entry {
    char client[64], peer[64], id[140];
    int status;
} acc_entry_t;

static pthread_mutex_t acc_mu = PTHREAD_MUTEX_INITIALIZER;
static acc_entry_t acc[16];
static atomic_int acc_n;

static void addr_text(const struct sockaddr *sa, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(out, n, "%s:%d", ip, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(out, n, "[%s]:%d", ip, ntohs(in6->sin6_port));
    } else {
        snprintf(out, n, "family %d", sa->sa_family);
    }
}

static void acc_log(void *u, const gh_access_t *a)
{
    int i = atomic_load(&acc_n);

    if (i >= 16)
        return;
    pthread_mutex_lock(&acc_mu);
    addr_text(a->client, acc[i].client, sizeof(acc[i].client));
    addr_text(a->peer, acc[i].peer, sizeof(acc[i].peer));
    snprintf(acc[i].id, sizeof(acc[i].id), "%s",
             a->request_id ? a->request_id : "(none)");
    acc[i].status = a->status;
    pthread_mutex_unlock(&acc_mu);
    atomic_store(&acc_n, i + 1);
}

/* The body: "peer client scheme host id". */
static int h_who(void *u, gh_req_t *req, gh_resp_t *resp)
{
    char peer[64], client[64], body[400];
    const char *host = gh_req_host(req), *id = gh_req_id(req);
    socklen_t len;
    int n;

    addr_text(gh_req_peer(req, &len), peer, sizeof(peer));
    addr_text(gh_req_client(req, &len), client, sizeof(client));
    n = snprintf(body, sizeof(body), "%s %s %s %s %s", peer, client,
                 gh_req_scheme(req), host ? host : "-", id ? id : "-");
    return gh_resp_send(resp, body, (size_t)n);
}

static void opts(gh_server_opts_t *o)
{
    gh_server_opts_init(o);
    o->header_timeout = 5 * GH_SECOND;
    o->idle_timeout = 5 * GH_SECOND;
    o->access_log = acc_log;
}

static void start(const gh_server_opts_t *o, const gh_listen_opts_t *lo)
{
    int rc;

    atomic_store(&acc_n, 0);
    ck_assert_int_eq(gh_server_new(&srv, o, h_who, NULL), 0);
    rc = gh_server_listen(srv, "127.0.0.1:0", lo);
    ck_assert_msg(rc == 0, "listen: %s", gh_err_name(rc));
    ck_assert_int_eq(gh_server_addr(srv, 0, &srv_ss, &srv_sslen), 0);
    ck_assert_int_eq(gh_server_start(srv), 0);
}

static void stop(void)
{
    gh_server_shutdown(srv, gh_deadline_in(gh_test_slack(3 * GH_SECOND)));
    gh_server_free(srv);
    srv = NULL;
}

/* Send n raw bytes on a new connection and read one response's body. */
static char *ask(hc_conn_t *c, const void *raw, size_t n, hc_resp_t *r)
{
    int rc;

    hc_connect(c, &srv_ss, srv_sslen);
    ck_assert_int_eq(hc_send_raw(c, raw, n), 0);
    rc = hc_response(c, r, false, DL(3000));
    ck_assert_msg(rc == 0, "no response: %s", hc_err(rc));
    ck_assert_int_eq(r->status, 200);
    return r->body;
}

/* The server closes c without a byte of answer. */
static void refused(hc_conn_t *c, const char *what)
{
    int rc = hc_closed(c, DL(3000));

    ck_assert_msg(rc == 0, "%s: %s", what,
                  rc == 1 ? "got an answer" : "stayed open");
    ck_assert_int_eq(c->len, 0);
}

#define REQ "GET / HTTP/1.1\r\nHost: t\r\n\r\n"

static const gh_listen_opts_t pp_on = {.proxy_protocol = true};

START_TEST(proxy_v1_address_reaches_handler_and_log)
{
    const char msg[] = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n" REQ;
    gh_server_opts_t o;
    hc_conn_t c;
    hc_resp_t r;
    char *body;

    opts(&o);
    start(&o, &pp_on);
    /* The header and the request in one write: nothing of it is lost. */
    body = ask(&c, msg, sizeof(msg) - 1, &r);
    ck_assert_msg(strncmp(body, "192.0.2.1:56324 192.0.2.1:56324 http t -",
                          40) == 0, "%s", body);
    hc_resp_free(&r);
    /* Later requests on the connection keep the address. */
    hc_send(&c, REQ);
    ck_assert_int_eq(hc_response(&c, &r, false, DL(3000)), 0);
    ck_assert(strncmp(r.body, "192.0.2.1:56324 ", 16) == 0);
    hc_resp_free(&r);
    hc_close(&c);
    stop();
    ck_assert_int_eq(atomic_load(&acc_n), 2);
    ck_assert_str_eq(acc[0].client, "192.0.2.1:56324");
    ck_assert_str_eq(acc[0].peer, "192.0.2.1:56324");
}
END_TEST

static const uint8_t sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

START_TEST(proxy_v2_sent_byte_by_byte_then_the_request)
{
    uint8_t h[16 + 36] = {0};
    gh_server_opts_t o;
    hc_conn_t c;
    hc_resp_t r;
    int rc;

    memcpy(h, sig, 12);
    h[12] = 0x21, h[13] = 0x21, h[15] = 36;
    inet_pton(AF_INET6, "2001:db8::17", h + 16);
    inet_pton(AF_INET6, "2001:db8::1", h + 32);
    h[48] = 0x12, h[49] = 0x34, h[51] = 80;
    opts(&o);
    start(&o, &pp_on);
    hc_connect(&c, &srv_ss, srv_sslen);
    for (size_t i = 0; i < sizeof(h); i++) {
        ck_assert_int_eq(hc_send_raw(&c, h + i, 1), 0);
        usleep(1000);
    }
    hc_send(&c, REQ);
    rc = hc_response(&c, &r, false, DL(3000));
    ck_assert_msg(rc == 0, "%s", hc_err(rc));
    ck_assert_msg(strncmp(r.body, "[2001:db8::17]:4660 ", 20) == 0, "%s",
                  r.body);
    hc_resp_free(&r);
    hc_close(&c);
    stop();
}
END_TEST

START_TEST(proxy_v2_local_keeps_the_real_peer)
{
    uint8_t msg[16 + sizeof(REQ) - 1];
    gh_server_opts_t o;
    hc_conn_t c;
    hc_resp_t r;

    memcpy(msg, sig, 12);
    msg[12] = 0x20, msg[13] = 0, msg[14] = 0, msg[15] = 0;
    memcpy(msg + 16, REQ, sizeof(REQ) - 1);
    opts(&o);
    start(&o, &pp_on);
    ck_assert(strncmp(ask(&c, msg, sizeof(msg), &r), "127.0.0.1:", 10) == 0);
    hc_resp_free(&r);
    hc_close(&c);
    stop();
}
END_TEST

START_TEST(proxy_listener_refuses_plain_http_and_garbage)
{
    gh_server_opts_t o;
    hc_conn_t c;

    opts(&o);
    start(&o, &pp_on);
    hc_connect(&c, &srv_ss, srv_sslen);
    hc_send(&c, REQ);
    refused(&c, "plain HTTP");
    hc_close(&c);
    hc_connect(&c, &srv_ss, srv_sslen);
    hc_send(&c, "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n" REQ);
    refused(&c, "a bad port");
    hc_close(&c);
    stop();
    ck_assert_int_eq(atomic_load(&acc_n), 0); /* no HTTP answer at all */
}
END_TEST

START_TEST(proxy_from_other_peers_is_refused_at_once)
{
    gh_listen_opts_t lo = {.proxy_protocol = true,
                           .proxy_protocol_from = "10.0.0.0/8 ::1"};
    gh_server_opts_t o;
    hc_conn_t c;
    hc_resp_t r;
    int64_t t0;

    opts(&o);
    start(&o, &lo);
    t0 = gh_now();
    hc_connect(&c, &srv_ss, srv_sslen);
    hc_send(&c, "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\n" REQ);
    refused(&c, "peer not allowed");
    ck_assert(gh_now() - t0 < gh_test_slack(MS(1000)));
    hc_close(&c);
    /* Allowed once the list says so (a reload). */
    lo.proxy_protocol_from = "127.0.0.0/8";
    ck_assert_int_eq(gh_server_listener_update(srv, 0, &lo), 0);
    ck_assert(strncmp(ask(&c, "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\n"
                          REQ, 39 + sizeof(REQ) - 1, &r),
                      "192.0.2.1:1 ", 12) == 0);
    hc_resp_free(&r);
    hc_close(&c);
    /* Off: plain HTTP again. */
    lo.proxy_protocol = false;
    ck_assert_int_eq(gh_server_listener_update(srv, 0, &lo), 0);
    ck_assert(strncmp(ask(&c, REQ, sizeof(REQ) - 1, &r), "127.0.0.1:", 10)
              == 0);
    hc_resp_free(&r);
    hc_close(&c);
    lo = (gh_listen_opts_t){.proxy_protocol = true,
                            .proxy_protocol_from = "10.0.0.300"};
    ck_assert_int_eq(gh_server_listener_update(srv, 0, &lo), GH_EINVAL);
    ck_assert_int_eq(gh_server_listener_update(srv, 7, &lo), GH_EINVAL);
    stop();
}
END_TEST

START_TEST(proxy_header_must_come_in_time)
{
    gh_listen_opts_t lo = {.proxy_protocol = true,
                           .proxy_protocol_timeout = 300 * GH_MILLISECOND};
    gh_server_opts_t o;
    gh_server_stats_t st;
    hc_conn_t c;
    int64_t t0;

    opts(&o);
    start(&o, &lo);
    hc_connect(&c, &srv_ss, srv_sslen);
    t0 = gh_now();
    hc_send(&c, "PROXY TCP4 192.0.2.1 "); /* and then nothing */
    refused(&c, "a header cut short");
    ck_assert(gh_now() - t0 >= MS(250));
    ck_assert(gh_now() - t0 < gh_test_slack(MS(2000)));
    gh_server_stats(srv, &st);
    ck_assert_uint_eq(st.timeouts, 1);
    hc_close(&c);
    stop();
    ck_assert_int_eq(gh_server_new(&srv, NULL, h_who, NULL), 0);
    lo.proxy_protocol_from = "1.2.3.4/40";
    ck_assert_int_eq(gh_server_listen(srv, "127.0.0.1:0", &lo), GH_EINVAL);
    lo.proxy_protocol_from = NULL;
    lo.proxy_protocol_timeout = -1;
    ck_assert_int_eq(gh_server_listen(srv, "127.0.0.1:0", &lo), GH_EINVAL);
    gh_server_free(srv);
}
END_TEST

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_lines[4][256];
static atomic_int log_n;

static void log_sink(void *u, int level, const char *msg, size_t len)
{
    int i = atomic_load(&log_n);

    if (!strstr(msg, "PROXY") || i >= 4)
        return;
    pthread_mutex_lock(&log_mu);
    snprintf(log_lines[i], sizeof(log_lines[i]), "%s", msg);
    pthread_mutex_unlock(&log_mu);
    atomic_store(&log_n, i + 1);
}

START_TEST(proxy_refusals_are_logged_once_per_interval)
{
    gh_server_opts_t o;
    hc_conn_t c;

    gh_log_set_sink(log_sink, NULL);
    opts(&o);
    start(&o, &pp_on);
    for (int i = 0; i < 5; i++) {
        hc_connect(&c, &srv_ss, srv_sslen);
        hc_send(&c, "garbage\r\n");
        refused(&c, "garbage");
        hc_close(&c);
    }
    stop();
    /* One line for five: a scan cannot flood the log.  The next line,
     * ten seconds on, would count the four. */
    ck_assert_int_eq(atomic_load(&log_n), 1);
    ck_assert_msg(strstr(log_lines[0], "closed a connection from "
                         "127.0.0.1: no valid header (and 0 more"),
                  "%s", log_lines[0]);
    gh_log_set_sink(NULL, NULL);
}
END_TEST

#define FWD_REQ(h)                                                         \
    "GET / HTTP/1.1\r\nHost: inner\r\n" h "\r\n"

START_TEST(forwarded_for_from_a_trusted_peer_only)
{
    const char m[] = FWD_REQ("X-Forwarded-For: 6.6.6.6, 203.0.113.9\r\n"
                             "X-Forwarded-Proto: http, https\r\n"
                             "X-Forwarded-Host: www.example.com\r\n");
    gh_server_opts_t o;
    hc_conn_t c;
    hc_resp_t r;

    opts(&o);
    o.trusted_proxies = "127.0.0.1";
    start(&o, NULL);
    ck_assert_msg(strncmp(ask(&c, m, sizeof(m) - 1, &r),
                          "127.0.0.1:", 10) == 0, "%s", r.body);
    ck_assert_msg(strstr(r.body, " 203.0.113.9:0 https www.example.com -"),
                  "%s", r.body);
    hc_resp_free(&r);
    hc_close(&c);
    stop();
    ck_assert_str_eq(acc[0].client, "203.0.113.9:0");
    /* The same from a peer that is not trusted: all ignored. */
    o.trusted_proxies = "10.0.0.0/8 unix";
    start(&o, NULL);
    ask(&c, m, sizeof(m) - 1, &r);
    ck_assert_msg(strstr(r.body, " http inner -") &&
                      strstr(r.body, " 127.0.0.1:"), "%s", r.body);
    ck_assert(!strstr(r.body, "203.0.113.9"));
    hc_resp_free(&r);
    hc_close(&c);
    stop();
    o.trusted_proxies = "127.0.0.1 nonsense";
    ck_assert_int_eq(gh_server_new(&srv, &o, h_who, NULL), GH_EINVAL);
    o.trusted_proxies = NULL;
    o.real_ip_header = "X-Client";
    ck_assert_int_eq(gh_server_new(&srv, &o, h_who, NULL), GH_EINVAL);
}
END_TEST

START_TEST(proxy_header_then_forwarded_header)
{
    const char m[] = "PROXY TCP4 10.1.2.3 10.0.0.1 5000 80\r\n"
        FWD_REQ("X-Real-IP: 198.51.100.4\r\n");
    gh_listen_opts_t lo = {.proxy_protocol = true,
                           .proxy_protocol_from = "127.0.0.1"};
    gh_server_opts_t o;
    hc_conn_t c;
    hc_resp_t r;

    opts(&o);
    o.trusted_proxies = "10.0.0.0/8";
    o.real_ip_header = "x-real-ip";
    start(&o, &lo);
    ask(&c, m, sizeof(m) - 1, &r);
    ck_assert_msg(strncmp(r.body, "10.1.2.3:5000 198.51.100.4:0 ", 29) == 0,
                  "%s", r.body);
    hc_resp_free(&r);
    hc_close(&c);
    stop();
    ck_assert_str_eq(acc[0].peer, "10.1.2.3:5000");
    ck_assert_str_eq(acc[0].client, "198.51.100.4:0");
}
END_TEST

static bool is_hex32(const char *s)
{
    return s && strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

START_TEST(request_ids_are_generated_or_taken_from_trusted_peers)
{
    const char with_id[] = FWD_REQ("X-Request-ID: abc-123.x\r\n");
    const char bad_id[] = FWD_REQ("X-Request-ID: a b\r\n");
    gh_server_opts_t o;
    hc_conn_t c;
    hc_resp_t r;
    char first[40];
    const char *v;

    opts(&o);
    o.request_id_header = "X-Request-ID";
    start(&o, NULL);
    /* Not trusted: a new ID, each request its own. */
    ask(&c, with_id, sizeof(with_id) - 1, &r);
    v = hc_field(&r, "X-Request-ID");
    ck_assert_msg(is_hex32(v), "%s", v ? v : "(none)");
    ck_assert(strstr(r.body, v) != NULL);
    snprintf(first, sizeof(first), "%s", v);
    hc_resp_free(&r);
    hc_send(&c, REQ);
    ck_assert_int_eq(hc_response(&c, &r, false, DL(3000)), 0);
    ck_assert(is_hex32(hc_field(&r, "X-Request-ID")));
    ck_assert_str_ne(hc_field(&r, "X-Request-ID"), first);
    hc_resp_free(&r);
    /* A canned error carries one too. */
    hc_send(&c, "BAD\r\n\r\n");
    ck_assert_int_eq(hc_response(&c, &r, false, DL(3000)), 0);
    ck_assert_int_eq(r.status, 400);
    ck_assert(is_hex32(hc_field(&r, "X-Request-ID")));
    hc_resp_free(&r);
    hc_close(&c);
    stop();
    ck_assert_int_eq(atomic_load(&acc_n), 3);
    ck_assert_str_eq(acc[0].id, first);
    ck_assert(is_hex32(acc[2].id));
    /* Trusted: its ID is kept, unless malformed. */
    o.trusted_proxies = "127.0.0.0/8";
    start(&o, NULL);
    ask(&c, with_id, sizeof(with_id) - 1, &r);
    ck_assert_str_eq(hc_field(&r, "X-Request-ID"), "abc-123.x");
    hc_resp_free(&r);
    hc_close(&c);
    ask(&c, bad_id, sizeof(bad_id) - 1, &r);
    ck_assert(is_hex32(hc_field(&r, "X-Request-ID")));
    hc_resp_free(&r);
    hc_close(&c);
    stop();
    ck_assert_str_eq(acc[0].id, "abc-123.x");
    o.request_id_header = "X Request";
    ck_assert_int_eq(gh_server_new(&srv, &o, h_who, NULL), GH_EINVAL);
}
END_TEST

START_TEST(request_ids_off_by_default)
{
    gh_server_opts_t o;
    hc_conn_t c;
    hc_resp_t r;

    opts(&o);
    start(&o, NULL);
    ask(&c, REQ, sizeof(REQ) - 1, &r);
    ck_assert_ptr_null(hc_field(&r, "X-Request-ID"));
    ck_assert(strstr(r.body, " -") != NULL);
    hc_resp_free(&r);
    hc_close(&c);
    stop();
    ck_assert_str_eq(acc[0].id, "(none)");
}
END_TEST

static Suite *http_proxy_suite(void)
{
    Suite *s = suite_create("http_proxy");
    TCase *tc = tcase_create("walk");

    tcase_add_test(tc, untrusted_peer_is_not_believed);
    tcase_add_test(tc, chain_is_walked_past_trusted_hops_only);
    tcase_add_test(tc, non_recursive_takes_the_rightmost);
    tcase_add_test(tc, malformed_entries_stop_at_the_last_good_address);
    tcase_add_test(tc, hops_are_bounded);
    tcase_add_test(tc, forwarded_quoted_ipv6_ports_proto_and_host);
    tcase_add_test(tc, forwarded_obfuscated_and_unknown_end_the_walk);
    tcase_add_test(tc, forwarded_malformed_elements_are_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("server");
    gh_test_tcase_setup(tc, 20);
    tcase_add_test(tc, proxy_v1_address_reaches_handler_and_log);
    tcase_add_test(tc, proxy_v2_sent_byte_by_byte_then_the_request);
    tcase_add_test(tc, proxy_v2_local_keeps_the_real_peer);
    tcase_add_test(tc, proxy_listener_refuses_plain_http_and_garbage);
    tcase_add_test(tc, proxy_from_other_peers_is_refused_at_once);
    tcase_add_test(tc, proxy_header_must_come_in_time);
    tcase_add_test(tc, proxy_refusals_are_logged_once_per_interval);
    tcase_add_test(tc, forwarded_for_from_a_trusted_peer_only);
    tcase_add_test(tc, proxy_header_then_forwarded_header);
    tcase_add_test(tc, request_ids_are_generated_or_taken_from_trusted_peers);
    tcase_add_test(tc, request_ids_off_by_default);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(http_proxy_suite)
