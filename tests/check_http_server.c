/*
 * check_http_server.c - the HTTP server end to end: a gohttpd server runs
 * in-process (gh_server_new on 127.0.0.1:0, a gh_router_t of the handlers
 * below) and the test's main thread, which is not a worker, talks to it
 * over raw loopback sockets with http_client.h.
 *
 * Covered: keep-alive and pipelining, HTTP/1.0 framing, chunked uploads
 * and trailers, Expect: 100-continue, every limit and malformed-request
 * answer, the slowloris / slow-body / non-reading-client timeouts,
 * cancellation of a request's context on disconnect, panics, random
 * mutations of valid requests (hostile clients), graceful shutdown, EMFILE
 * back-off, response API misuse, HEAD, idle connections
 * without goroutines, the idle timeout, streaming, the router,
 * Unix-domain listeners, options replaced while running
 * (gh_server_update), listeners added and closed while running, the
 * access-log hook, and the counters (the latency histogram, gh_req_server).
 *
 * Handlers report what they saw through the atomics below (each test runs
 * in its own forked child, so they start at zero); the main thread waits
 * for them with GH_TEST_WAIT_UNTIL and asserts.  Timeouts are configured
 * short so that the whole program runs in seconds; upper bounds on time go
 * through gh_test_slack().
 */
#include "check_gh.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <dirent.h>

#include "http_client.h"

#define MS(n) ((int64_t)(n) * GH_MILLISECOND)
#define DL(ms) (gh_now() + gh_test_slack(MS(ms)))

/* ------------------------------------------------------------------ */
/* What the handlers saw                                               */
/* ------------------------------------------------------------------ */

static atomic_int h_entered;   /* a slow handler has started */
static atomic_int h_reading;   /* ... and is about to read the body */
static atomic_int h_done;      /* ... and has finished */
static atomic_long h_err;      /* its result code */
static atomic_llong h_when;    /* gh_now() when it saw it */
static atomic_int h_rc[8]; /* results of the misuse calls */

#define BIG_CHUNK (64 * 1024)
#define BIG_TOTAL (64u << 20)
static char big_chunk[BIG_CHUNK];

/* ------------------------------------------------------------------ */
/* Handlers                                                            */
/* ------------------------------------------------------------------ */

static int h_hello(void *u, gh_req_t *req, gh_resp_t *resp)
{
    gh_resp_header_set(resp, "Content-Type", "text/plain");
    return gh_resp_send(resp, "Hello, World!", 13);
}

static int h_n(void *u, gh_req_t *req, gh_resp_t *resp)
{
    char b[64];
    int n = snprintf(b, sizeof(b), "n=%s", gh_req_param(req, "i"));

    return gh_resp_send(resp, b, (size_t)n);
}

static int h_users(void *u, gh_req_t *req, gh_resp_t *resp)
{
    char b[128];
    int n = snprintf(b, sizeof(b), "user %s", gh_req_param(req, "id"));

    return gh_resp_send(resp, b, (size_t)n);
}

/* A prefix route: the path's rest, as gh_req_param(req, "*"). */
static int h_files(void *u, gh_req_t *req, gh_resp_t *resp)
{
    char b[256];
    int n = snprintf(b, sizeof(b), "rest [%s]", gh_req_param(req, "*"));

    return gh_resp_send(resp, b, (size_t)n);
}

/* The body back, its length in X-Body-Length, a trailer X-Sum echoed. */
static int h_echo(void *u, gh_req_t *req, gh_resp_t *resp)
{
    const char *body, *sum;
    char len[32];
    ssize_t n = gh_req_read_all(req, 16u << 20, &body);

    if (n < 0)
        return (int)n;
    snprintf(len, sizeof(len), "%zd", n);
    gh_resp_header_set(resp, "X-Body-Length", len);
    if ((sum = gh_req_trailer(req, "X-Sum")))
        gh_resp_header_set(resp, "X-Trailer-Sum", sum);
    return gh_resp_send(resp, body, (size_t)n);
}

/* Sleeps 300 ms before it reads the body (Expect: 100-continue). */
static int h_continue(void *u, gh_req_t *req, gh_resp_t *resp)
{
    const char *body;
    ssize_t n;

    atomic_store(&h_entered, 1);
    gh_sleep(MS(300));
    atomic_store(&h_when, gh_now());
    atomic_store(&h_reading, 1);
    if ((n = gh_req_read_all(req, 4096, &body)) < 0)
        return (int)n;
    return gh_resp_send(resp, body, (size_t)n);
}

static int h_reject413(void *u, gh_req_t *req, gh_resp_t *resp)
{
    return 413;
}

static int h_reject401(void *u, gh_req_t *req, gh_resp_t *resp)
{
    gh_resp_status(resp, 401);
    return gh_resp_send(resp, "who?", 4);
}

/* Reads the body a little at a time; records how the reading ended. */
static int h_slowbody(void *u, gh_req_t *req, gh_resp_t *resp)
{
    char b[64];
    ssize_t n;

    atomic_store(&h_entered, 1);
    while ((n = gh_req_read(req, b, sizeof(b), GH_FOREVER)) > 0)
        ;
    atomic_store(&h_when, gh_now());
    atomic_store(&h_err, (long)n);
    atomic_store(&h_done, 1);
    return n < 0 ? (int)n : gh_resp_send(resp, "got it", 6);
}

/* 64 MiB streamed; records the first write error and when it came. */
static int h_big(void *u, gh_req_t *req, gh_resp_t *resp)
{
    ssize_t n = 0;

    atomic_store(&h_entered, 1);
    for (size_t sent = 0; sent < BIG_TOTAL; sent += BIG_CHUNK)
        if ((n = gh_resp_write(resp, big_chunk, BIG_CHUNK)) < 0)
            break;
    atomic_store(&h_when, gh_now());
    atomic_store(&h_err, (long)(n < 0 ? n : 0));
    atomic_store(&h_done, 1);
    return n < 0 ? (int)n : 0;
}

/* Waits (10 s at most) for its context to be cancelled. */
static int h_ctxwait(void *u, gh_req_t *req, gh_resp_t *resp)
{
    gh_ctx_t *ctx = gh_req_ctx(req);
    int r;

    atomic_store(&h_entered, 1);
    r = gh_chan_recv_until(gh_ctx_done(ctx), NULL, gh_deadline_in(10 * GH_SECOND));
    atomic_store(&h_when, gh_now());
    atomic_store(&h_err, r == GH_ETIMEDOUT ? GH_ETIMEDOUT : gh_ctx_err(ctx));
    atomic_store(&h_done, 1);
    return gh_resp_send(resp, "done", 4);
}

static int h_panic(void *u, gh_req_t *req, gh_resp_t *resp)
{
    gh_panic("boom %d", 42);
    return 0;
}

/* Holds its worker for 300 ms without a switch, then answers. */
static int h_hog(void *u, gh_req_t *req, gh_resp_t *resp)
{
    int64_t end = gh_now() + MS(300);

    while (gh_now() < end)
        ;
    return gh_resp_send(resp, "done", 4);
}

static int h_panic_stream(void *u, gh_req_t *req, gh_resp_t *resp)
{
    gh_resp_write(resp, "partial", 7);
    gh_resp_flush(resp);
    gh_panic("mid-stream");
    return 0;
}

/* Which server is this?  (gh_req_server, checked against srv.) */
static gh_server_t *_Atomic h_server;

static int h_server_of(void *u, gh_req_t *req, gh_resp_t *resp)
{
    atomic_store(&h_server, gh_req_server(req));
    return gh_resp_send(resp, "ok", 2);
}

static int h_sleep(void *u, gh_req_t *req, gh_resp_t *resp)
{
    atomic_store(&h_entered, 1);
    gh_sleep(MS(500));
    atomic_store(&h_done, 1);
    return gh_resp_send(resp, "slept", 5);
}

/* Sleeps up to 5 s but gives up when its context is cancelled. */
static int h_sleepctx(void *u, gh_req_t *req, gh_resp_t *resp)
{
    gh_ctx_t *ctx = gh_req_ctx(req);

    atomic_store(&h_entered, 1);
    gh_chan_recv_until(gh_ctx_done(ctx), NULL, gh_deadline_in(5 * GH_SECOND));
    atomic_store(&h_when, gh_now());
    atomic_store(&h_err, gh_ctx_err(ctx));
    atomic_store(&h_done, 1);
    return gh_resp_send(resp, "late", 4);
}

/* Misuse of a response that gh_resp_send() completed. */
static int h_misuse(void *u, gh_req_t *req, gh_resp_t *resp)
{
    atomic_store(&h_rc[0], gh_resp_header_set(resp, "Connection", "close"));
    atomic_store(&h_rc[1], gh_resp_header_set(resp, "X-Evil", "a\r\nX-Injected: 1"));
    atomic_store(&h_rc[2], gh_resp_send(resp, "ok", 2));
    atomic_store(&h_rc[3], gh_resp_header_set(resp, "X-Late", "1"));
    atomic_store(&h_rc[4], gh_resp_send(resp, "again", 5));
    atomic_store(&h_rc[5], (int)gh_resp_write(resp, "more", 4));
    atomic_store(&h_done, 1);
    return 0;
}

/* The header rules: names are tokens, the framing headers and Date are the
 * server's, names compare without case, set replaces and add appends. */
static int h_headers(void *u, gh_req_t *req, gh_resp_t *resp)
{
    bool refused;

    atomic_store(&h_rc[0], gh_resp_header_set(resp, "date", "x"));
    atomic_store(&h_rc[1], gh_resp_header_add(resp, "TRANSFER-encoding", "x"));
    atomic_store(&h_rc[2], gh_resp_header_set(resp, "Bad Name", "x"));
    refused = gh_resp_header_set(resp, "", "x") == GH_EINVAL &&
              gh_resp_header_set(resp, "X(1)", "x") == GH_EINVAL &&
              gh_resp_header_set(resp, "X-Lf", "a\nb") == GH_EINVAL;
    atomic_store(&h_rc[3], refused ? 0 : -1);
    gh_resp_header_add(resp, "X-Multi", "1");
    gh_resp_header_add(resp, "x-multi", "2");
    gh_resp_header_add(resp, "X-Multiple", "keep"); /* a longer name */
    atomic_store(&h_rc[4], gh_resp_header_set(resp, "X-MULTI", "3"));
    gh_resp_header_set(resp, "X-Gone", "1");
    atomic_store(&h_rc[5], gh_resp_header_del(resp, "x-gone"));
    atomic_store(&h_rc[6], gh_resp_header_set(resp, "server", "mine"));
    atomic_store(&h_done, 1);
    return gh_resp_send(resp, "ok", 2);
}

/* Misuse of a streamed response after gh_resp_end(). */
static int h_misuse_stream(void *u, gh_req_t *req, gh_resp_t *resp)
{
    atomic_store(&h_rc[0], (int)gh_resp_write(resp, "abc", 3));
    atomic_store(&h_rc[1], gh_resp_end(resp));
    atomic_store(&h_rc[2], (int)gh_resp_write(resp, "def", 3));
    atomic_store(&h_rc[3], gh_resp_end(resp));
    atomic_store(&h_rc[4], gh_resp_header_set(resp, "X-Late", "1"));
    atomic_store(&h_done, 1);
    return 0;
}

static int h_stream(void *u, gh_req_t *req, gh_resp_t *resp)
{
    char b[32];

    for (int i = 0; i < 3; i++) {
        int n = snprintf(b, sizeof(b), "chunk %d\n", i);
        ssize_t w = gh_resp_write(resp, b, (size_t)n);
        if (w != n)
            return w < 0 ? (int)w : GH_EIO;
    }
    return 0;
}

/* Content-Length: 5, then tries to write 11 bytes. */
static int h_overlen(void *u, gh_req_t *req, gh_resp_t *resp)
{
    gh_resp_header_set(resp, "Content-Length", "5");
    atomic_store(&h_rc[0], (int)gh_resp_write(resp, "hello world", 11));
    atomic_store(&h_rc[1], (int)gh_resp_write(resp, "hello", 5));
    atomic_store(&h_done, 1);
    return 0;
}

/* The request's strings, read after the body: lengths and a checksum. */
static int h_strings(void *u, gh_req_t *req, gh_resp_t *resp)
{
    const char *body, *path, *raw, *query, *x;
    char out[256];
    unsigned sum = 0;
    ssize_t n = gh_req_read_all(req, 4096, &body);
    int len;

    if (n < 0)
        return (int)n;
    path = gh_req_path(req);
    raw = gh_req_raw_path(req);
    query = gh_req_query(req);
    x = gh_req_param(req, "x");
    for (const char *p = path; *p; p++)
        sum = sum * 31 + (unsigned char)*p;
    len = snprintf(out, sizeof(out), "%zu %zu %zu %zu %08x %s", strlen(path),
                   strlen(raw), query ? strlen(query) : 0,
                   x ? strlen(x) : 0, sum, body);
    return gh_resp_send(resp, out, (size_t)len);
}

/* Where the request says it goes: its path, query and host. */
static int h_where(void *u, gh_req_t *req, gh_resp_t *resp)
{
    const char *q = gh_req_query(req), *h = gh_req_host(req);
    char out[512];
    int len = snprintf(out, sizeof(out), "path=%s query=%s host=%s",
                       gh_req_path(req), q ? q : "(none)", h ? h : "(none)");

    return gh_resp_send(resp, out, (size_t)len);
}

static gh_router_t *make_router(void)
{
    static const struct {
        const char *methods, *pattern;
        gh_handler_fn fn;
    } routes[] = {
        {"GET", "/hello", h_hello},
        {"GET", "/n/{i}", h_n},
        {"GET", "/users/{id}", h_users},
        {"GET", "/files/", h_files},
        {"POST", "/echo", h_echo},
        {"POST", "/continue", h_continue},
        {"POST", "/reject413", h_reject413},
        {"POST", "/reject401", h_reject401},
        {"POST", "/slowbody", h_slowbody},
        {"GET", "/big", h_big},
        {"GET", "/ctxwait", h_ctxwait},
        {"GET", "/panic", h_panic},
        {"GET", "/panic-stream", h_panic_stream},
        {"GET", "/hog/", h_hog},
        {"GET", "/sleep", h_sleep},
        {"GET", "/server", h_server_of},
        {"GET", "/sleepctx", h_sleepctx},
        {"GET", "/misuse", h_misuse},
        {"GET", "/headers", h_headers},
        {"GET", "/misuse-stream", h_misuse_stream},
        {"GET", "/stream", h_stream},
        {"GET", "/overlen", h_overlen},
        {"POST", "/ignore", h_hello},
        {"POST", "/strings/{x}", h_strings},
        {"GET", "/where", h_where},
    };
    gh_router_t *r = gh_router_new();

    ck_assert_ptr_nonnull(r);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = gh_router_add(r, routes[i].methods, routes[i].pattern,
                               routes[i].fn, NULL);
        ck_assert_msg(rc == 0, "route %s: %s", routes[i].pattern,
                      gh_err_name(rc));
    }
    return r;
}

/* ------------------------------------------------------------------ */
/* The server under test                                               */
/* ------------------------------------------------------------------ */

static gh_server_t *srv;
static gh_router_t *router;
static struct sockaddr_storage srv_ss;
static socklen_t srv_sslen;

/* Defaults with every timeout short enough for a test. */
static void test_opts(gh_server_opts_t *o)
{
    gh_server_opts_init(o);
    o->header_timeout = 5 * GH_SECOND;
    o->body_timeout = 5 * GH_SECOND;
    o->write_timeout = 5 * GH_SECOND;
    o->idle_timeout = 5 * GH_SECOND;
}

static void srv_start_at(const gh_server_opts_t *o, const char *addr)
{
    gh_server_opts_t dflt;
    int rc;

    if (!o) {
        test_opts(&dflt);
        o = &dflt;
    }
    router = make_router();
    rc = gh_server_new(&srv, o, gh_router_serve, router);
    ck_assert_msg(rc == 0, "gh_server_new: %s", gh_err_name(rc));
    rc = gh_server_listen(srv, addr, NULL);
    ck_assert_msg(rc == 0, "gh_server_listen(%s): %s", addr, gh_err_name(rc));
    ck_assert_int_eq(gh_server_addr(srv, 0, &srv_ss, &srv_sslen), 0);
    rc = gh_server_start(srv);
    ck_assert_msg(rc == 0, "gh_server_start: %s", gh_err_name(rc));
}

static void srv_start(const gh_server_opts_t *o)
{
    srv_start_at(o, "127.0.0.1:0");
}

/* Shut down (the test's clients must be closed) and free. */
static int srv_stop(void)
{
    int rc = gh_server_shutdown(srv, gh_deadline_in(gh_test_slack(3 * GH_SECOND)));

    gh_server_free(srv);
    gh_router_free(router);
    srv = NULL;
    router = NULL;
    return rc;
}

static void cli(hc_conn_t *c)
{
    hc_connect(c, &srv_ss, srv_sslen);
}

static gh_server_stats_t stats(void)
{
    gh_server_stats_t st;

    gh_server_stats(srv, &st);
    return st;
}

/* Send req on c, read one response into r; asserts it arrived whole. */
static void roundtrip(hc_conn_t *c, const char *req, hc_resp_t *r)
{
    int rc;

    hc_send(c, req);
    rc = hc_response(c, r, strncmp(req, "HEAD ", 5) == 0, DL(3000));
    ck_assert_msg(rc == 0, "response to %.40s...: %s", req, hc_err(rc));
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

/* Field name of response r must be present and equal to want. */
#define assert_field(r, name, want)                                         \
    do {                                                                    \
        const char *af_v_ = hc_field((r), (name));                          \
        ck_assert_msg(af_v_ && strcmp(af_v_, (want)) == 0,                  \
                      "%s: '%s', expected '%s'", (name),                    \
                      af_v_ ? af_v_ : "(none)", (want));                    \
    } while (0)

/* The response must be the status with body, and then the server closes. */
static void expect_status_then_close(hc_conn_t *c, int status, const char *what)
{
    hc_resp_t r;
    int rc = hc_response(c, &r, false, DL(3000));

    ck_assert_msg(rc == 0, "%s: no response: %s", what, hc_err(rc));
    ck_assert_msg(r.status == status, "%s: status %d, expected %d", what,
                  r.status, status);
    rc = hc_closed(c, DL(3000));
    ck_assert_msg(rc == 0, "%s: connection %s after %d", what,
                  rc == 1 ? "sent more bytes" : "stayed open", status);
    hc_resp_free(&r);
}

/* What the access log (acc_log) saw, in order. */
#define ACC_MAX 32

typedef struct acc_entry {
    bool has_req, has_method, has_target;
    char method[16], target[160];
    int version, status, family;
    uint64_t body_bytes;
    int64_t start_wall, duration;
} acc_entry_t;

static pthread_mutex_t acc_mu = PTHREAD_MUTEX_INITIALIZER;
static acc_entry_t acc[ACC_MAX];
static atomic_int acc_n, acc_bad; /* entries; calls with a wrong udata */

static void fixture_setup(void)
{
    gh_test_rt_start();
    atomic_store(&acc_n, 0);
    atomic_store(&acc_bad, 0);
    atomic_store(&h_entered, 0);
    atomic_store(&h_reading, 0);
    atomic_store(&h_done, 0);
    atomic_store(&h_err, 0);
    atomic_store(&h_when, 0);
    for (int i = 0; i < 8; i++)
        atomic_store(&h_rc[i], 12345);
    memset(big_chunk, 'x', sizeof(big_chunk));
}

/* ------------------------------------------------------------------ */
/* 1-3: connections                                                    */
/* ------------------------------------------------------------------ */

START_TEST(keepalive_serves_1000_requests_on_one_connection)
{
    hc_conn_t c;
    hc_resp_t r;

    srv_start(NULL); /* max_requests is 1000 by default */
    cli(&c);
    for (int i = 1; i <= 1000; i++) {
        roundtrip(&c, GET("/hello"), &r);
        ck_assert_msg(r.status == 200, "request %d: status %d", i, r.status);
        ck_assert_msg(r.body_len == 13 && memcmp(r.body, "Hello, World!", 13) == 0,
                      "request %d: body '%s'", i, r.body);
        /* The last one allowed on the connection says so. */
        const char *conn = hc_field(&r, "Connection");
        if (i < 1000)
            ck_assert_msg(!conn, "request %d: Connection: %s", i, conn);
        else
            ck_assert_msg(conn && strcasecmp(conn, "close") == 0,
                          "request 1000 (max_requests): Connection: %s",
                          conn ? conn : "(none)");
        hc_resp_free(&r);
    }
    ck_assert_int_eq(hc_closed(&c, DL(2000)), 0);
    gh_server_stats_t st = stats();
    ck_assert_uint_eq(st.conns_total, 1);
    ck_assert_uint_eq(st.requests, 1000);
    ck_assert_uint_eq(st.status[2], 1000);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* The last request a connection may carry, with more pipelined behind
 * it: the client reads every response up to it and then the end of the
 * stream, not a reset that throws unread responses away (RFC 9112 9.6). */
START_TEST(last_request_with_more_pipelined_closes_without_a_reset)
{
    const char one[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
    size_t n = 300, len = strlen(one);
    char *burst = malloc(n * len);
    gh_server_opts_t o;
    hc_conn_t c;
    hc_resp_t r;

    ck_assert_ptr_nonnull(burst);
    for (size_t i = 0; i < n; i++)
        memcpy(burst + i * len, one, len);
    int fd, small = 2048;

    test_opts(&o);
    o.max_requests = 100;
    srv_start(&o);
    /* A small receive buffer, so that the responses wait in the server's
     * send queue, which a reset would throw away. */
    fd = socket(srv_ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    ck_assert_int_eq(
        hc_connect_fd(fd, (const struct sockaddr *)&srv_ss, srv_sslen), 0);
    hc_init(&c, fd);
    /* More than the server reads at once: the rest waits in its kernel
     * when it answers the 100th. */
    ck_assert_int_eq(hc_send_raw(&c, burst, n * len), 0);
    usleep(200 * 1000); /* a reset would have come by now */
    for (int i = 1; i <= 100; i++) {
        int rc = hc_response(&c, &r, false, DL(2000));
        ck_assert_msg(rc == 0, "response %d: %s", i, hc_err(rc));
        ck_assert_int_eq(r.status, 200);
        if (i == 100)
            ck_assert_msg(hc_field(&r, "Connection") &&
                              strcasecmp(hc_field(&r, "Connection"),
                                         "close") == 0,
                          "the 100th says Connection: close");
        hc_resp_free(&r);
    }
    ck_assert_int_eq(hc_closed(&c, DL(7000)), 0);
    hc_close(&c);
    free(burst);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* An absolute-form target: its path ends where its query starts, even
 * right after the authority, and its authority is the host asked for,
 * whatever Host says (RFC 9112 3.2.2; RFC 3986 3.3). */
START_TEST(absolute_form_target_gives_path_query_and_host)
{
    static const struct {
        const char *target, *host, *want; /* want NULL: 404 */
    } cases[] = {
        /* The path is "/", which has no route here: not /users/5. */
        {"http://example.org?x=/users/5", "example.org", NULL},
        {"http://example.org?/where", "example.org", NULL},
        {"http://example.org/where?x=/users/5", "evil.test",
         "path=/where query=x=/users/5 host=example.org"},
        {"HTTPS://example.org:8443/where?", "x",
         "path=/where query= host=example.org:8443"},
        {"/where?a=1", "h.test", "path=/where query=a=1 host=h.test"},
    };
    char req[512];
    hc_conn_t c;
    hc_resp_t r;

    srv_start(NULL);
    cli(&c);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
                 cases[i].target, cases[i].host);
        roundtrip(&c, req, &r);
        ck_assert_msg(r.status == (cases[i].want ? 200 : 404), "%s: %d",
                      cases[i].target, r.status);
        if (cases[i].want)
            ck_assert_str_eq(r.body, cases[i].want);
        hc_resp_free(&r);
    }
    hc_close(&c);
    /* The authority stands for Host, and is held to its rules. */
    static const char *const bad[] = {"http://user@example.org/where",
                                      "http:///where", "http://a b/where",
                                      "http://[::1/where"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n",
                 bad[i]);
        cli(&c);
        hc_send(&c, req);
        expect_status_then_close(&c, 400, bad[i]);
        hc_close(&c);
    }
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* Every response carries Date as an IMF-fixdate (RFC 9110 5.6.7), in
 * GMT, and the time it says is now. */
START_TEST(responses_carry_the_date_in_imf_fixdate)
{
    hc_conn_t c;
    hc_resp_t r;
    struct tm tm = {0};
    const char *d, *end;
    time_t before = time(NULL), after, at;

    srv_start(NULL);
    cli(&c);
    roundtrip(&c, GET("/hello"), &r);
    after = time(NULL);
    ck_assert_int_eq(r.status, 200);
    d = hc_field(&r, "Date");
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(strlen(d), 29);
    end = strptime(d, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    ck_assert_msg(end && *end == '\0', "Date: %s", d);
    at = timegm(&tm);
    ck_assert_msg(at >= before - 1 && at <= after + 1, "Date: %s", d);
    hc_resp_free(&r);
    hc_close(&c);
}
END_TEST

START_TEST(pipelined_requests_are_answered_in_order_in_few_writes)
{
    char reqs[16 * 64];
    size_t off = 0;
    hc_conn_t c;

    srv_start(NULL);
    cli(&c);
    for (int i = 0; i < 16; i++)
        off += (size_t)snprintf(reqs + off, sizeof(reqs) - off,
                                "GET /n/%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
    ck_assert_int_eq(hc_send_raw(&c, reqs, off), 0);
    for (int i = 0; i < 16; i++) {
        hc_resp_t r;
        char want[16];
        int rc = hc_response(&c, &r, false, DL(3000));
        ck_assert_msg(rc == 0, "response %d: %s", i, hc_err(rc));
        snprintf(want, sizeof(want), "n=%d", i);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, want);
        hc_resp_free(&r);
    }
    /* 16 responses of ~120 bytes fit one output batch: they should come
     * in one write, so in one or two reads; never one read each. */
    ck_assert_msg(c.reads <= 4, "16 pipelined responses took %d reads", c.reads);
    ck_assert_uint_eq(stats().conns_total, 1);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(http10_closes_unless_keepalive_asked)
{
    hc_conn_t c;
    hc_resp_t r;

    srv_start(NULL);
    cli(&c);
    roundtrip(&c, "GET /hello HTTP/1.0\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "Hello, World!");
    ck_assert_msg(!hc_field(&r, "Connection") ||
                      strcasecmp(hc_field(&r, "Connection"), "close") == 0,
                  "HTTP/1.0 without keep-alive: Connection: %s",
                  hc_field(&r, "Connection"));
    ck_assert_int_eq(hc_closed(&c, DL(1000)), 0);
    hc_resp_free(&r);
    hc_close(&c);

    cli(&c);
    for (int i = 0; i < 2; i++) {
        roundtrip(&c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "Hello, World!");
        assert_field(&r, "Connection", "keep-alive");
        ck_assert_ptr_nonnull(hc_field(&r, "Content-Length"));
        hc_resp_free(&r);
        ck_assert_msg(hc_quiet_for(&c, MS(200)),
                      "HTTP/1.0 keep-alive connection closed (request %d)", i);
    }
    ck_assert_uint_eq(stats().conns_total, 2);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 4-5: request bodies                                                 */
/* ------------------------------------------------------------------ */

START_TEST(chunked_upload_is_dechunked_with_trailer)
{
    hc_conn_t c;
    hc_resp_t r;

    srv_start(NULL);
    cli(&c);
    hc_send(&c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                "Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n");
    hc_send(&c, "5\r\nhello\r\n");
    gh_sleep(MS(20)); /* separate segments: the decoder must resume */
    hc_send(&c, "1;ext=1\r\n \r\n");
    hc_send(&c, "A\r\n0123456789\r\n");
    hc_send(&c, "0\r\nX-Sum: 123\r\n\r\n");
    ck_assert_int_eq(hc_response(&c, &r, false, DL(3000)), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "hello 0123456789");
    assert_field(&r, "X-Body-Length", "16");
    assert_field(&r, "X-Trailer-Sum", "123");
    hc_resp_free(&r);
    /* The connection is still good for the next request. */
    roundtrip(&c, GET("/hello"), &r);
    ck_assert_int_eq(r.status, 200);
    hc_resp_free(&r);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(expect_100_continue_is_sent_when_handler_reads)
{
    hc_conn_t c;
    hc_resp_t r;
    int64_t t_read, t_100;

    srv_start(NULL);
    cli(&c);
    hc_send(&c, "POST /continue HTTP/1.1\r\nHost: t\r\n"
                "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&h_entered), GH_SECOND));
    /* The handler sleeps 300 ms before reading: no 100 meanwhile. */
    ck_assert_msg(hc_quiet_for(&c, MS(200)),
                  "something arrived before the handler read the body");
    ck_assert_int_eq(hc_response(&c, &r, false, DL(2000)), 0);
    t_100 = gh_now();
    t_read = atomic_load(&h_when);
    ck_assert_int_eq(r.status, 100);
    ck_assert_msg(t_read != 0 && t_100 >= t_read,
                  "100 Continue came before the handler read");
    ck_assert_int_eq(r.body_len, 0);
    hc_resp_free(&r);
    hc_send(&c, "world");
    ck_assert_int_eq(hc_response(&c, &r, false, DL(2000)), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "world");
    hc_resp_free(&r);
    /* Kept alive. */
    roundtrip(&c, GET("/hello"), &r);
    ck_assert_int_eq(r.status, 200);
    hc_resp_free(&r);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* A final status without reading: no 100, Connection: close, closed. */
static void expect_refused(const char *path, int status)
{
    char req[256];
    hc_conn_t c;
    hc_resp_t r;
    const char *conn;

    snprintf(req, sizeof(req),
             "POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
             "Expect: 100-continue\r\n\r\n", path);
    cli(&c);
    hc_send(&c, req);
    ck_assert_int_eq(hc_response(&c, &r, false, DL(2000)), 0);
    ck_assert_msg(r.status == status, "%s: got %d (a 100 Continue must not "
                  "precede a final status the handler chose without reading)",
                  path, r.status);
    conn = hc_field(&r, "Connection");
    ck_assert_msg(conn && strcasecmp(conn, "close") == 0,
                  "%s: %d without reading the announced body should say "
                  "Connection: close, says %s", path, status,
                  conn ? conn : "(none)");
    hc_resp_free(&r);
    ck_assert_int_eq(hc_closed(&c, DL(3000)), 0);
    hc_close(&c);
}

START_TEST(expect_100_continue_is_not_sent_when_handler_refuses)
{
    srv_start(NULL);
    expect_refused("/reject413", 413);
    expect_refused("/reject401", 401);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

static char *pattern_body(size_t n)
{
    char *b = malloc(n + 1);

    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (char)('a' + (i * 7 + i / 991) % 26);
    b[n] = '\0';
    return b;
}

START_TEST(large_body_is_echoed_through_a_small_buffer)
{
    const size_t n = 300000; /* many times the input buffer */
    char head[128], *body = pattern_body(n), len[32];
    hc_conn_t c;
    hc_resp_t r;

    srv_start(NULL);
    cli(&c);
    snprintf(head, sizeof(head), "POST /echo HTTP/1.1\r\nHost: t\r\n"
             "Content-Length: %zu\r\n\r\n", n);
    hc_send(&c, head);
    ck_assert_int_eq(hc_send_raw(&c, body, n), 0);
    ck_assert_int_eq(hc_response(&c, &r, false, DL(3000)), 0);
    ck_assert_int_eq(r.status, 200);
    snprintf(len, sizeof(len), "%zu", n);
    assert_field(&r, "X-Body-Length", len);
    ck_assert_uint_eq(r.body_len, n);
    ck_assert_msg(memcmp(r.body, body, n) == 0, "echoed body differs");
    hc_resp_free(&r);
    /* The same, chunked, in uneven chunks. */
    hc_send(&c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                "Transfer-Encoding: chunked\r\n\r\n");
    for (size_t off = 0, k = 1; off < n; k = k * 3 % 9973 + 1) {
        char ch[32];
        size_t m = k < n - off ? k : n - off;
        snprintf(ch, sizeof(ch), "%zx\r\n", m);
        hc_send(&c, ch);
        ck_assert_int_eq(hc_send_raw(&c, body + off, m), 0);
        hc_send(&c, "\r\n");
        off += m;
    }
    hc_send(&c, "0\r\n\r\n");
    ck_assert_int_eq(hc_response(&c, &r, false, DL(3000)), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, n);
    ck_assert_msg(memcmp(r.body, body, n) == 0, "echoed chunked body differs");
    hc_resp_free(&r);
    free(body);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(pipelined_bodies_and_large_heads_stay_in_sync)
{
    static const char *want[] = {"hello", "n=1", "abcdef", "n=2",
                                 "Hello, World!", "n=3", "Hello, World!",
                                 "n=4"};
    char *big = pattern_body(12000), *reqs = malloc(32768);
    size_t o = 0;
    hc_conn_t c;

    ck_assert_ptr_nonnull(reqs);
    o += (size_t)sprintf(reqs + o, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                   "Content-Length: 5\r\n\r\nhello");
    o += (size_t)sprintf(reqs + o, GET("/n/1"));
    o += (size_t)sprintf(reqs + o, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n"
                                   "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n");
    o += (size_t)sprintf(reqs + o, GET("/n/2"));
    /* A head larger than the stack buffer (8 KiB): it moves to the heap. */
    o += (size_t)sprintf(reqs + o, "GET /hello HTTP/1.1\r\nHost: t\r\n"
                                   "X-Big: %s\r\n\r\n", big);
    o += (size_t)sprintf(reqs + o, GET("/n/3"));
    /* A body the handler never reads is skipped. */
    o += (size_t)sprintf(reqs + o, "POST /ignore HTTP/1.1\r\nHost: t\r\n"
                                   "Content-Length: 10\r\n\r\n0123456789");
    o += (size_t)sprintf(reqs + o, GET("/n/4"));
    srv_start(NULL);
    cli(&c);
    ck_assert_int_eq(hc_send_raw(&c, reqs, o), 0);
    for (int i = 0; i < 8; i++) {
        hc_resp_t r;
        int rc = hc_response(&c, &r, false, DL(3000));
        ck_assert_msg(rc == 0, "response %d: %s", i, hc_err(rc));
        ck_assert_msg(r.status == 200, "response %d: status %d", i, r.status);
        ck_assert_msg(strcmp(r.body, want[i]) == 0, "response %d: '%s', "
                      "expected '%s'", i, r.body, want[i]);
        hc_resp_free(&r);
    }
    ck_assert_msg(hc_quiet_for(&c, MS(100)), "extra bytes or a close");
    ck_assert_uint_eq(stats().conns_total, 1);
    free(big);
    free(reqs);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/*
 * A head big enough to move the input buffer to the heap and fill most of
 * it, with a body: making room for the body must not leave the request's
 * path or query pointing at a freed buffer.
 */
static void big_head_with_body(bool with_query)
{
    char *req = malloc(32768), *big = pattern_body(15000), *seg, want[128];
    unsigned sum = 0;
    size_t o = 0;
    hc_conn_t c;
    hc_resp_t r;

    ck_assert_ptr_nonnull(req);
    seg = malloc(7001);
    memset(seg, 'p', 7000);
    seg[7000] = '\0';
    o += (size_t)sprintf(req, "POST /strings/%s%s%s HTTP/1.1\r\nHost: t\r\n"
                              "X-Big: %s\r\nContent-Length: 5\r\n\r\nhello",
                         seg, with_query ? "?q=" : "",
                         with_query ? "qqqqqqqqqq" : "", big);
    srv_start(NULL);
    cli(&c);
    ck_assert_int_eq(hc_send_raw(&c, req, o), 0);
    ck_assert_int_eq(hc_response(&c, &r, false, DL(3000)), 0);
    ck_assert_int_eq(r.status, 200);
    for (const char *p = "/strings/"; *p; p++)
        sum = sum * 31 + (unsigned char)*p;
    for (int i = 0; i < 7000; i++)
        sum = sum * 31 + 'p';
    snprintf(want, sizeof(want), "%d %d %d %d %08x hello", 9 + 7000, 9 + 7000,
             with_query ? 12 : 0, 7000, sum);
    ck_assert_str_eq(r.body, want);
    hc_resp_free(&r);
    roundtrip(&c, GET("/n/9"), &r);
    ck_assert_str_eq(r.body, "n=9");
    hc_resp_free(&r);
    free(seg);
    free(big);
    free(req);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}

START_TEST(big_head_with_body_keeps_path_valid)
{
    big_head_with_body(false);
}
END_TEST

START_TEST(big_head_with_body_keeps_query_valid)
{
    big_head_with_body(true);
}
END_TEST

START_TEST(unread_body_over_discard_limit_closes_after_response)
{
    const size_t n = 400000;
    char head[128], *body = pattern_body(n);
    hc_conn_t c;
    hc_resp_t r;
    int rc;

    srv_start(NULL);
    cli(&c);
    snprintf(head, sizeof(head), "POST /ignore HTTP/1.1\r\nHost: t\r\n"
             "Content-Length: %zu\r\n\r\n", n);
    hc_send(&c, head);
    rc = hc_send_raw(&c, body, n);
    ck_assert_msg(rc == 0 || rc == -EPIPE || rc == -ECONNRESET, "send: %s",
                  strerror(-rc));
    ck_assert_int_eq(hc_response(&c, &r, false, DL(3000)), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "Hello, World!");
    hc_resp_free(&r);
    ck_assert_int_eq(hc_closed(&c, DL(3000)), 0);
    free(body);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 6: limits and malformed requests                                    */
/* ------------------------------------------------------------------ */

static const struct bad_case {
    const char *name;
    int status;
    const char *req; /* NULL: built by build_bad() */
} bad_cases[] = {
    {"target over max_target", 414, NULL},
    {"header bytes over max_header_bytes", 431, NULL},
    {"more fields than max_headers", 431, NULL},
    {"Content-Length over max_body", 413,
     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n"},
    {"chunked body over max_body", 413, NULL},
    {"garbage request line", 400, "HELLO THERE\r\n\r\n"},
    /* Not ending in chunked: the body's end is unknown (RFC 9112 6.3). */
    {"Transfer-Encoding: gzip", 400,
     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"},
    /* Delimited, but in a coding we do not decode. */
    {"Transfer-Encoding: gzip, chunked", 501,
     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked"
     "\r\n\r\n"},
    {"HTTP/2.0", 505, "GET /hello HTTP/2.0\r\nHost: t\r\n\r\n"},
    {"HTTP/1.2", 505, "GET /hello HTTP/1.2\r\nHost: t\r\n\r\n"},
    {"HTTP/1.1 without Host", 400, "GET /hello HTTP/1.1\r\n\r\n"},
    {"Content-Length with Transfer-Encoding", 400,
     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
     "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
    {"two different Content-Length", 400,
     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
     "Content-Length: 6\r\n\r\nhello!"},
    {"obs-fold", 400,
     "GET /hello HTTP/1.1\r\nHost: t\r\nX-A: one\r\n two\r\n\r\n"},
    {"bare CR", 400, "GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n"},
    {"bad percent-escape", 400, "GET /a%zz HTTP/1.1\r\nHost: t\r\n\r\n"},
    {"encoded NUL", 400, "GET /a%00b HTTP/1.1\r\nHost: t\r\n\r\n"},
};

/* The requests too long to write out; malloc'd. */
static char *build_bad(int i)
{
    char *b = malloc(8192);
    size_t o = 0;

    ck_assert_ptr_nonnull(b);
    switch (i) {
    case 0: /* 65 bytes of target, max_target 64 */
        o += (size_t)sprintf(b, "GET /");
        memset(b + o, 'a', 64);
        o += 64;
        sprintf(b + o, " HTTP/1.1\r\nHost: t\r\n\r\n");
        break;
    case 1: /* one field of 1100 bytes, max_header_bytes 1024 */
        o += (size_t)sprintf(b, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ");
        memset(b + o, 'v', 1100);
        o += 1100;
        sprintf(b + o, "\r\n\r\n");
        break;
    case 2: /* Host and 10 more fields, max_headers 10 */
        o += (size_t)sprintf(b, "GET /hello HTTP/1.1\r\nHost: t\r\n");
        for (int k = 0; k < 10; k++)
            o += (size_t)sprintf(b + o, "X-F%d: %d\r\n", k, k);
        sprintf(b + o, "\r\n");
        break;
    case 4: /* 3 chunks of 500 bytes, max_body 1000 */
        o += (size_t)sprintf(b, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n");
        for (int k = 0; k < 3; k++) {
            o += (size_t)sprintf(b + o, "1f4\r\n");
            memset(b + o, 'b', 500);
            o += 500;
            o += (size_t)sprintf(b + o, "\r\n");
        }
        sprintf(b + o, "0\r\n\r\n");
        break;
    default:
        ck_abort_msg("no builder for case %d", i);
    }
    return b;
}

START_TEST(bad_request_gets_its_status_and_a_close)
{
    const struct bad_case *bc = &bad_cases[_i];
    gh_server_opts_t o;
    char *built = NULL;
    hc_conn_t c;

    test_opts(&o);
    o.max_target = 64;
    o.max_header_bytes = 1024;
    o.max_headers = 10;
    o.max_body = 1000;
    srv_start(&o);
    cli(&c);
    if (!bc->req)
        built = build_bad(_i);
    hc_send(&c, bc->req ? bc->req : built);
    expect_status_then_close(&c, bc->status, bc->name);
    ck_assert_uint_eq(stats().status[bc->status / 100], 1);
    free(built);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* Send a POST announcing len bytes of body over max_body, then the body
 * itself, as a client that does not wait for an answer does: the bytes
 * sent before the server let go (all of them, or fewer when the
 * connection broke). */
static size_t upload_unwanted(hc_conn_t *c, size_t len)
{
    static char chunk[65536];
    char head[128];
    size_t sent = 0;

    memset(chunk, 'u', sizeof(chunk));
    snprintf(head, sizeof(head), "POST /echo HTTP/1.1\r\nHost: t\r\n"
             "Content-Length: %zu\r\n\r\n", len);
    hc_send(c, head);
    while (sent < len) {
        size_t n = len - sent < sizeof(chunk) ? len - sent : sizeof(chunk);
        if (hc_send_raw(c, chunk, n) < 0)
            break;
        sent += n;
    }
    return sent;
}

/*
 * An upload refused with 413 before its body was read: the server keeps
 * reading (and dropping) what the client sends, within linger_timeout and
 * linger_bytes, so a client that sends the whole body before it reads
 * gets the 413 and an orderly close, not a reset in the middle of its send.
 */
START_TEST(a_refused_upload_is_drained_within_the_linger_bounds)
{
    gh_server_opts_t o;
    hc_conn_t c;
    int64_t t0;

    test_opts(&o);
    o.max_body = 1000;
    srv_start(&o);
    cli(&c);
    /* More than the socket buffers hold (the server's grows only while
     * it reads), less than the default linger_bytes. */
    ck_assert_uint_eq(upload_unwanted(&c, 12u << 20), 12u << 20);
    expect_status_then_close(&c, 413, "12 MiB upload over max_body");
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);

    /* linger_bytes bounds what a client makes the server read. */
    test_opts(&o);
    o.max_body = 1000;
    o.linger_bytes = 64 * 1024;
    srv_start(&o);
    cli(&c);
    ck_assert_uint_lt(upload_unwanted(&c, 64u << 20), 64u << 20);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);

    /* linger_timeout bounds how long: a client that keeps sending a byte
     * at a time is cut off. */
    test_opts(&o);
    o.max_body = 1000;
    o.linger_timeout = 200 * GH_MILLISECOND;
    srv_start(&o);
    cli(&c);
    hc_send(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n"
                "\r\n");
    t0 = gh_now();
    while (gh_now() - t0 < 5 * GH_SECOND && hc_send_raw(&c, "x", 1) == 0)
        usleep(20 * 1000);
    ck_assert_int_lt(gh_now() - t0, gh_test_slack(3 * GH_SECOND));
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* The exact limits are still accepted (the bounds are inclusive). */
START_TEST(requests_exactly_at_the_limits_are_served)
{
    gh_server_opts_t o;
    char req[4096], body[1001];
    hc_conn_t c;
    hc_resp_t r;
    size_t n;

    test_opts(&o);
    o.max_target = 64;
    o.max_body = 1000;
    srv_start(&o);
    cli(&c);
    /* "/n/" + 61 digits = 64 bytes of target. */
    n = (size_t)sprintf(req, "GET /n/");
    memset(req + n, '7', 61);
    n += 61;
    sprintf(req + n, " HTTP/1.1\r\nHost: t\r\n\r\n");
    roundtrip(&c, req, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.body_len, 2 + 61);
    hc_resp_free(&r);
    memset(body, 'b', 1000);
    body[1000] = '\0';
    snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: t\r\n"
             "Content-Length: 1000\r\n\r\n%s", body);
    roundtrip(&c, req, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.body_len, 1000);
    hc_resp_free(&r);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 7-9: slow clients                                                   */
/* ------------------------------------------------------------------ */

START_TEST(slowloris_head_is_cut_at_header_timeout)
{
    static const char req[] =
        "GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    gh_server_opts_t o;
    hc_conn_t c;
    int64_t t0, elapsed;
    size_t i = 0;
    int closed = 0;
    hc_resp_t r;

    test_opts(&o);
    o.header_timeout = GH_SECOND;
    srv_start(&o);
    cli(&c);
    t0 = gh_now();
    /* A byte every 100 ms: the deadline counts from the first byte and is
     * not pushed back by bytes that keep coming. */
    while (gh_now() - t0 < gh_test_slack(MS(3000)) && i < sizeof(req) - 1) {
        struct pollfd pfd = {.fd = c.fd, .events = POLLIN};
        if (hc_send_raw(&c, req + i++, 1) < 0) {
            closed = 1;
            break;
        }
        if (poll(&pfd, 1, 100) > 0) {
            closed = 1;
            break;
        }
    }
    elapsed = gh_now() - t0;
    ck_assert_msg(closed, "still open after %.0f ms of a 1 s header timeout",
                  gh_test_ms(elapsed));
    ck_assert_msg(elapsed >= MS(950), "cut after %.0f ms, before the timeout",
                  gh_test_ms(elapsed));
    ck_assert_msg(elapsed <= gh_test_slack(MS(1500)),
                  "cut after %.0f ms (header_timeout 1 s)", gh_test_ms(elapsed));
    /* Either a 408 and a close, or just the close. */
    int rc = hc_response(&c, &r, false, DL(2000));
    if (rc == 0) {
        ck_assert_int_eq(r.status, 408);
        hc_resp_free(&r);
        ck_assert_int_eq(hc_closed(&c, DL(3000)), 0);
    } else {
        ck_assert_msg(rc == GH_ECONNRESET, "after the cut: %s", hc_err(rc));
    }
    ck_assert_uint_ge(stats().timeouts, 1);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(slow_body_times_out_with_408)
{
    gh_server_opts_t o;
    hc_conn_t c;
    int64_t t0, took;
    int sent = 0;

    test_opts(&o);
    o.body_timeout = GH_SECOND;
    o.body_min_rate = 1000;
    srv_start(&o);
    cli(&c);
    hc_send(&c, "POST /slowbody HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&h_entered), GH_SECOND));
    t0 = gh_now();
    /* A byte every 200 ms until the server answers. */
    while (!atomic_load(&h_done) && gh_now() - t0 < gh_test_slack(MS(4000))) {
        struct pollfd pfd = {.fd = c.fd, .events = POLLIN};
        if (hc_send_raw(&c, "z", 1) < 0 || poll(&pfd, 1, 200) > 0)
            break;
        sent++;
    }
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&h_done), 2 * GH_SECOND));
    took = atomic_load(&h_when) - t0;
    ck_assert_msg(atomic_load(&h_err) == GH_ETIMEDOUT,
                  "handler's gh_req_read ended with %s after %d bytes",
                  gh_err_name((int)atomic_load(&h_err)), sent);
    ck_assert_msg(took <= gh_test_slack(MS(1600)),
                  "body cut after %.0f ms (body_timeout 1 s)", gh_test_ms(took));
    ck_assert_msg(sent < 10, "%d bytes were accepted", sent);
    expect_status_then_close(&c, 408, "slow body");
    ck_assert_uint_ge(stats().timeouts, 1);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* A client whose receive buffer is small (4 KiB asked): what the server
 * writes past it waits in the server's send queue. */
static void small_window_cli(hc_conn_t *c)
{
    int small = 4096, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    ck_assert_int_eq(hc_connect_fd(fd, (struct sockaddr *)&srv_ss, srv_sslen),
                     0);
    hc_init(c, fd);
}

/* write_min_rate extends the deadline for bytes the client took in, not
 * for those that only sit in the server's send queue: a client that
 * stops reading earns nothing for them. */
START_TEST(write_rate_counts_what_the_client_took_not_what_was_queued)
{
    gh_server_opts_t o;
    hc_conn_t c;
    int64_t t0, took;

    test_opts(&o);
    o.write_timeout = GH_SECOND;
    o.write_min_rate = 4096; /* the client's ~8 KB: +1 or 2 s */
    srv_start(&o);
    small_window_cli(&c);
    t0 = gh_now();
    hc_send(&c, GET("/big"));
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&h_done), 30 * GH_SECOND));
    took = atomic_load(&h_when) - t0;
    ck_assert_int_eq(atomic_load(&h_err), GH_ETIMEDOUT);
    ck_assert_msg(took <= gh_test_slack(4 * GH_SECOND),
                  "write cut after %.0f ms (1 s + ~8 KB at 4 KB/s)",
                  gh_test_ms(took));
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(client_that_never_reads_gets_write_timeout)
{
    gh_server_opts_t o;
    hc_conn_t c;
    int64_t t0, took;
    size_t drained = 0;

    test_opts(&o);
    o.write_timeout = GH_SECOND;
    o.write_min_rate = 1u << 30; /* no extension for what it wrote */
    srv_start(&o);
    small_window_cli(&c);
    t0 = gh_now();
    hc_send(&c, GET("/big"));
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&h_done), 5 * GH_SECOND));
    took = atomic_load(&h_when) - t0;
    ck_assert_msg(atomic_load(&h_err) == GH_ETIMEDOUT,
                  "gh_resp_write to a client that never reads: %s",
                  gh_err_name((int)atomic_load(&h_err)));
    ck_assert_msg(took <= gh_test_slack(3 * GH_SECOND),
                  "write cut after %.0f ms (write_timeout 1 s)",
                  gh_test_ms(took));
    ck_assert_uint_ge(stats().timeouts, 1);
    /* What was buffered arrives, then the close (no terminal chunk). */
    for (;;) {
        ssize_t n = hc_fill(&c, DL(3000));
        if (n <= 0) {
            ck_assert_msg(n == 0 || n == -ECONNRESET,
                          "draining after the cut: %s", hc_err((int)n));
            break;
        }
        drained += c.len;
        c.len = 0;
    }
    ck_assert_msg(drained < BIG_TOTAL / 2, "%zu bytes arrived", drained);
    ck_assert(GH_TEST_WAIT_UNTIL(stats().conns_open == 0, GH_SECOND));
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 10-11: cancellation and panics                                      */
/* ------------------------------------------------------------------ */

START_TEST(client_disconnect_cancels_request_context)
{
    hc_conn_t c;
    int64_t t_close, lag;

    srv_start(NULL);
    cli(&c);
    hc_send(&c, GET("/ctxwait"));
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&h_entered), GH_SECOND));
    gh_sleep(MS(50)); /* let it park on gh_ctx_done */
    ck_assert_int_eq(atomic_load(&h_done), 0);
    t_close = gh_now();
    hc_close(&c);
    ck_assert_msg(GH_TEST_WAIT_UNTIL(atomic_load(&h_done), GH_SECOND),
                  "context not cancelled within 1 s of the disconnect");
    lag = atomic_load(&h_when) - t_close;
    ck_assert_msg(atomic_load(&h_err) == GH_ECANCELED, "gh_ctx_err: %s",
                  gh_err_name((int)atomic_load(&h_err)));
    ck_assert_msg(lag < gh_test_slack(GH_SECOND), "cancelled %.0f ms after",
                  gh_test_ms(lag));
    ck_assert(GH_TEST_WAIT_UNTIL(stats().conns_open == 0, GH_SECOND));
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* Point stderr at a file for the log; returns the saved stderr. */
static int capture_stderr(char *path)
{
    int fd, saved;

    strcpy(path, "/tmp/gh-http-log-XXXXXX");
    ck_assert_int_ge(fd = mkstemp(path), 0);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    return saved;
}

static char *restore_stderr(int saved, const char *path)
{
    static char log[8192];
    FILE *f;
    size_t n;

    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ck_assert_ptr_nonnull(f = fopen(path, "r"));
    n = fread(log, 1, sizeof(log) - 1, f);
    log[n] = '\0';
    fclose(f);
    unlink(path);
    return log;
}

START_TEST(handler_panic_gives_500_and_server_keeps_serving)
{
    char path[64], *log;
    hc_conn_t c;
    hc_resp_t r;
    int saved;

    srv_start(NULL);
    saved = capture_stderr(path);
    cli(&c);
    roundtrip(&c, GET("/panic"), &r);
    log = restore_stderr(saved, path);
    ck_assert_int_eq(r.status, 500);
    hc_resp_free(&r);
    ck_assert_msg(strstr(log, "panic") && strstr(log, "boom 42") &&
                      strstr(log, "/panic"),
                  "log: '%s'", log);
    /* The same connection may go on (nothing of the response was out). */
    roundtrip(&c, GET("/hello"), &r);
    ck_assert_int_eq(r.status, 200);
    hc_resp_free(&r);
    hc_close(&c);
    /* And a new one is served. */
    cli(&c);
    roundtrip(&c, GET("/hello"), &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "Hello, World!");
    hc_resp_free(&r);
    hc_close(&c);
    ck_assert_uint_eq(stats().status[5], 1);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* A trailer section is bounded like the header section: max_header_bytes
 * (a 5-byte body's 8 KB of trailers is fine) and max_headers, over which
 * it is a 431, not a 413 or a 400. */
START_TEST(trailers_are_bounded_like_headers)
{
    static const char pre[] = "POST /echo HTTP/1.1\r\nHost: t\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n"
                              "5\r\nhello\r\n0\r\n";
    size_t cap = 32768;
    char *req = malloc(cap);
    hc_conn_t c;
    hc_resp_t r;
    int n;

    ck_assert_ptr_nonnull(req);
    srv_start(NULL);
    /* 8200 bytes of one trailer field: within 16 KiB. */
    n = snprintf(req, cap, "%sX-Sum: %08200d\r\n\r\n", pre, 7);
    cli(&c);
    ck_assert_int_eq(hc_send_raw(&c, req, (size_t)n), 0);
    ck_assert_int_eq(hc_response(&c, &r, false, DL(3000)), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "hello");
    ck_assert_uint_eq(strlen(hc_field(&r, "X-Trailer-Sum")), 8200);
    hc_resp_free(&r);
    hc_close(&c);
    /* Over max_header_bytes. */
    n = snprintf(req, cap, "%sX-Sum: %017000d\r\n\r\n", pre, 7);
    cli(&c);
    ck_assert_int_eq(hc_send_raw(&c, req, (size_t)n), 0);
    expect_status_then_close(&c, 431, "17 KB of trailers");
    hc_close(&c);
    /* Over max_headers (100), with the head's 2 fields. */
    n = snprintf(req, cap, "%s", pre);
    for (int i = 0; i < 99; i++)
        n += snprintf(req + n, cap - (size_t)n, "X-T%d: v\r\n", i);
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
    cli(&c);
    ck_assert_int_eq(hc_send_raw(&c, req, (size_t)n), 0);
    expect_status_then_close(&c, 431, "101 fields with the trailers");
    hc_close(&c);
    free(req);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* body_timeout counts from the end of the head: a head that takes most of
 * header_timeout does not leave the body less. */
START_TEST(body_timeout_starts_when_the_head_ends)
{
    gh_server_opts_t o;
    hc_conn_t c;
    hc_resp_t r;

    test_opts(&o);
    o.header_timeout = gh_test_slack(3 * GH_SECOND);
    o.body_timeout = gh_test_slack(800 * GH_MILLISECOND);
    srv_start(&o);
    cli(&c);
    hc_send(&c, "POST /echo HTTP/1.1\r\n");
    usleep((useconds_t)(gh_test_slack(1000 * GH_MILLISECOND) / 1000));
    hc_send(&c, "Host: t\r\nContent-Length: 5\r\n\r\n");
    usleep(300 * 1000);
    hc_send(&c, "hello");
    ck_assert_int_eq(hc_response(&c, &r, false, DL(3000)), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "hello");
    hc_resp_free(&r);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* A client that ends the connection in the middle of its body gets a 400
 * if it can still read one, and is neither logged as an error nor counted
 * as a server error. */
START_TEST(client_closing_mid_body_is_a_400_not_a_500)
{
    char path[64], *log;
    gh_server_stats_t st;
    hc_conn_t c;
    int saved;

    srv_start(NULL);
    saved = capture_stderr(path);
    cli(&c);
    hc_send(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n"
                "\r\nabc");
    ck_assert_int_eq(shutdown(c.fd, SHUT_WR), 0);
    expect_status_then_close(&c, 400, "body cut short");
    hc_close(&c);
    ck_assert(GH_TEST_WAIT_UNTIL(stats().status[4] == 1, GH_SECOND));
    log = restore_stderr(saved, path);
    st = stats();
    ck_assert_uint_eq(st.status[5], 0);
    ck_assert_msg(!strstr(log, "failed"), "logged: '%s'", log);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* The stall report names the request whose handler holds the worker, and
 * a long target is cut to keep the line bounded. */
START_TEST(handler_holding_its_worker_is_reported_with_its_request)
{
    char path[64], req[512], *log, *at, *end;
    hc_conn_t c;
    hc_resp_t r;
    int saved;

    srv_start(NULL);
    ck_assert_int_eq(gh_set_stall_limit(MS(100)), 0);
    saved = capture_stderr(path);
    cli(&c);
    roundtrip(&c, GET("/hog/x?y=1"), &r);
    ck_assert_int_eq(r.status, 200);
    hc_resp_free(&r);
    snprintf(req, sizeof(req), "GET /hog/%0400d HTTP/1.1\r\nHost: t\r\n\r\n",
             0);
    roundtrip(&c, req, &r);
    ck_assert_int_eq(r.status, 200);
    hc_resp_free(&r);
    hc_close(&c);
    gh_sleep(MS(100)); /* each worker moved on: the notices are out */
    log = restore_stderr(saved, path);
    ck_assert_int_eq(gh_rt_stalls(), 2);
    /* ThreadSanitizer holds the signal back: no frames, no request. */
    if (GH_TEST_TSAN)
        return;
    ck_assert_msg(strstr(log, "(serving \"GET /hog/x?y=1\") has kept it for"),
                  "log: '%s'", log);
    ck_assert_msg(at = strstr(log, "(serving \"GET /hog/0000"), "log: '%s'",
                  log);
    ck_assert_msg(end = strstr(at, "...) has kept it for"), "log: '%s'", log);
    ck_assert_int_lt(end - at, 192);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(handler_panic_mid_stream_cuts_the_connection)
{
    char path[64];
    hc_conn_t c;
    hc_resp_t r;
    int rc, saved;

    srv_start(NULL);
    saved = capture_stderr(path);
    cli(&c);
    hc_send(&c, GET("/panic-stream"));
    rc = hc_response(&c, &r, false, DL(3000));
    restore_stderr(saved, path);
    ck_assert_int_eq(r.status, 200);
    ck_assert(r.chunked);
    ck_assert_msg(rc == GH_EIO,
                  "a stream cut by a panic must not end with a terminal "
                  "chunk: %s", hc_err(rc));
    ck_assert_str_eq(r.body, "partial");
    hc_resp_free(&r);
    hc_close(&c);
    cli(&c);
    roundtrip(&c, GET("/hello"), &r);
    ck_assert_int_eq(r.status, 200);
    hc_resp_free(&r);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Hostile clients: valid requests mutated at random                   */
/* ------------------------------------------------------------------ */

/* What the mutations start from: every route kind, every framing. */
static const char *const hostile_seeds[] = {
    GET("/hello"),
    "GET /users/42?x=1&y=%41 HTTP/1.1\r\nHost: t\r\nAccept: */*\r\n\r\n",
    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    "3;x=1\r\nabc\r\n0\r\nX-Sum: 3\r\n\r\n",
    "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
    "Content-Length: 3\r\n\r\nxyz",
    GET("/stream"),
    GET("/panic"),
    "POST /strings/a%20b?q=%41 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
    "\r\nok",
    "GET /files/a/../b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    "GET /n/7 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n",
};

/* What mutations insert: the bytes the parser's rules are about. */
static const char *const hostile_tokens[] = {
    "\r\n",
    "\n",
    "\r",
    " ",
    "\t",
    ":",
    "%",
    "%00",
    "%2f",
    "0\r\n\r\n",
    "Content-Length: 3\r\n",
    "Content-Length: 99999999999999999999\r\n",
    "Transfer-Encoding: chunked\r\n",
    "Host: u\r\n",
    "Expect: 100-continue\r\n",
    "Connection: close\r\n",
    "ffffffff\r\n",
    "HTTP/1.1",
    "\r\n\r\n",
    GET("/hello"),
};

/* A growable byte string. */
typedef struct hbytes {
    char *s;
    size_t len, cap;
} hbytes_t;

static void hbytes_insert(hbytes_t *b, size_t at, const char *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        ck_assert_ptr_nonnull(b->s = realloc(b->s, b->cap));
    }
    memmove(b->s + at + n, b->s + at, b->len - at);
    memmove(b->s + at, p, n); /* p may point into b->s before at */
    b->len += n;
}

static uint64_t hostile_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* One to three seeds back to back, then one to four mutations. */
static void hostile_input(hbytes_t *b, uint64_t *x)
{
    const size_t nseeds = sizeof hostile_seeds / sizeof hostile_seeds[0];
    const size_t ntok = sizeof hostile_tokens / sizeof hostile_tokens[0];
    int n = 1 + (int)(hostile_rand(x) % 3);

    b->len = 0;
    for (int i = 0; i < n; i++) {
        const char *sd = hostile_seeds[hostile_rand(x) % nseeds];
        hbytes_insert(b, b->len, sd, strlen(sd));
    }
    n = 1 + (int)(hostile_rand(x) % 4);
    for (int i = 0; i < n && b->len > 0; i++) {
        size_t at = hostile_rand(x) % b->len;
        size_t span = 1 + hostile_rand(x) % 8;
        const char *t;

        if (span > b->len - at)
            span = b->len - at;
        switch (hostile_rand(x) % 5) {
        case 0: /* a byte changed */
            b->s[at] = (char)hostile_rand(x);
            break;
        case 1: /* a token inserted */
            t = hostile_tokens[hostile_rand(x) % ntok];
            hbytes_insert(b, at, t, strlen(t));
            break;
        case 2: /* bytes removed */
            memmove(b->s + at, b->s + at + span, b->len - at - span);
            b->len -= span;
            break;
        case 3: /* bytes repeated */
            hbytes_insert(b, at, b->s + at, span);
            break;
        default: /* the rest cut off */
            b->len = at;
            break;
        }
    }
}

/* Send b in pieces of 1 to 64 bytes, then end our side. */
static void hostile_send(hc_conn_t *c, const hbytes_t *b, uint64_t *x)
{
    for (size_t off = 0; off < b->len;) {
        size_t n = 1 + hostile_rand(x) % 64;
        if (n > b->len - off)
            n = b->len - off;
        if (hc_send_raw(c, b->s + off, n) != 0)
            break; /* the server closed: what it sent is still read */
        off += n;
    }
    shutdown(c->fd, SHUT_WR);
}

static bool hostile_status_ok(int st)
{
    static const int known[] = {100, 200, 400, 404, 405, 413,
                                414, 431, 500, 501, 505};

    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (st == known[i])
            return true;
    return false;
}

/* One client thread's share of the hostile connections. */
typedef struct hostile_client {
    pthread_t t;
    uint64_t seed;
    long n;
    char fail[1024]; /* what went wrong, "" if nothing */
} hostile_client_t;

static void *hostile_client(void *arg)
{
    hostile_client_t *hc = arg;
    uint64_t x = hc->seed | 1;
    hbytes_t in = {0};

    for (long i = 0; i < hc->n && !hc->fail[0]; i++) {
        hc_conn_t c;
        bool closing = false;
        int rc;

        hostile_input(&in, &x);
        cli(&c);
        hostile_send(&c, &in, &x);
        for (;;) {
            hc_resp_t r;
            const char *conn;

            if ((rc = hc_response(&c, &r, false, DL(3000))) == 0) {
                conn = hc_field(&r, "Connection");
                if (closing || !hostile_status_ok(r.status))
                    snprintf(hc->fail, sizeof(hc->fail),
                             "seed %#llx, input %ld: status %d%s; input:\n"
                             "%.*s",
                             (unsigned long long)hc->seed, i, r.status,
                             closing ? " after Connection: close" : "",
                             (int)in.len, in.s);
                closing = conn && strcasecmp(conn, "close") == 0;
            }
            hc_resp_free(&r);
            if (rc != 0)
                break;
        }
        if (rc != GH_ECONNRESET && rc != -ECONNRESET && !hc->fail[0])
            snprintf(hc->fail, sizeof(hc->fail),
                     "seed %#llx, input %ld: the answers ended with %s; "
                     "input:\n%.*s",
                     (unsigned long long)hc->seed, i, hc_err(rc), (int)in.len,
                     in.s);
        hc_close(&c);
    }
    free(in.s);
    return NULL;
}

/*
 * Every answer to whatever a client sends is a well-formed response with a
 * status the server documents, never cut short; nothing follows a
 * "Connection: close"; the server closes once our side ended; and once all
 * is over no connection or goroutine is left.  Four client threads at
 * once, so the hostile connections also meet each other in the server.
 * The inputs are random but repeatable: GH_TEST_SEED picks them (a failure
 * names the seed of its thread and prints the input), GH_TEST_HOSTILE_N
 * how many connections in all (default 1500).
 */
START_TEST(mutated_requests_get_well_formed_answers_and_leak_nothing)
{
    const char *seed_env = getenv("GH_TEST_SEED");
    const char *n_env = getenv("GH_TEST_HOSTILE_N");
    uint64_t seed =
        seed_env ? strtoull(seed_env, NULL, 0) : 0x9e3779b97f4a7c15u;
    long n = n_env ? strtol(n_env, NULL, 10) : 1500;
    hostile_client_t hc[4];
    char path[64];
    int64_t g0;
    int saved;

    srv_start(NULL);
    g0 = stats().goroutines;
    saved = capture_stderr(path); /* the panics' reports */
    for (int t = 0; t < 4; t++) {
        hc[t] = (hostile_client_t){.seed = seed + (uint64_t)t, .n = n / 4};
        ck_assert_int_eq(pthread_create(&hc[t].t, NULL, hostile_client, &hc[t]),
                         0);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(hc[t].t, NULL);
    restore_stderr(saved, path);
    for (int t = 0; t < 4; t++)
        ck_assert_msg(!hc[t].fail[0], "%s", hc[t].fail);
    ck_assert_msg(GH_TEST_WAIT_UNTIL(stats().conns_open == 0, 3 * GH_SECOND),
                  "%llu connections left open",
                  (unsigned long long)stats().conns_open);
    ck_assert_msg(GH_TEST_WAIT_UNTIL(stats().goroutines <= g0, 3 * GH_SECOND),
                  "%lld goroutines, %lld before", (long long)stats().goroutines,
                  (long long)g0);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 12: graceful shutdown                                               */
/* ------------------------------------------------------------------ */

struct shutdown_call {
    int64_t deadline;
    atomic_int rc;
    atomic_int finished;
    atomic_llong when;
};

static void *shutdown_thread(void *arg)
{
    struct shutdown_call *sc = arg;

    atomic_store(&sc->rc, gh_server_shutdown(srv, sc->deadline));
    atomic_store(&sc->when, gh_now());
    atomic_store(&sc->finished, 1);
    return NULL;
}

START_TEST(shutdown_finishes_inflight_and_closes_idle)
{
    struct shutdown_call sc = {0};
    hc_conn_t idle, busy;
    hc_resp_t r;
    pthread_t th;
    int64_t t0;
    int fd, rc;

    srv_start(NULL);
    cli(&idle);
    roundtrip(&idle, GET("/hello"), &r);
    hc_resp_free(&r);
    cli(&busy);
    hc_send(&busy, GET("/sleep"));
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&h_entered), GH_SECOND));
    ck_assert(GH_TEST_WAIT_UNTIL(stats().conns_idle == 1, GH_SECOND));
    sc.deadline = gh_deadline_in(5 * GH_SECOND);
    t0 = gh_now();
    ck_assert_int_eq(pthread_create(&th, NULL, shutdown_thread, &sc), 0);

    /* The idle connection is closed at once. */
    rc = hc_closed(&idle, DL(300));
    ck_assert_msg(rc == 0, "idle keep-alive connection not closed: %s",
                  rc == 1 ? "bytes came" : hc_err(rc));
    ck_assert_msg(gh_now() - t0 < gh_test_slack(MS(300)),
                  "idle connection closed after %.0f ms",
                  gh_test_ms(gh_now() - t0));
    ck_assert_int_eq(atomic_load(&h_done), 0);
    /* New connections are refused once the listener is closed. */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    rc = hc_connect_fd(fd, (struct sockaddr *)&srv_ss, srv_sslen);
    ck_assert_msg(rc == -ECONNREFUSED, "connect during shutdown: %s",
                  rc == 0 ? "accepted" : strerror(-rc));
    if (rc == 0)
        close(fd);

    /* The in-flight request completes, and is the connection's last. */
    ck_assert_int_eq(hc_response(&busy, &r, false, DL(3000)), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "slept");
    assert_field(&r, "Connection", "close");
    hc_resp_free(&r);
    ck_assert_int_eq(hc_closed(&busy, DL(1000)), 0);

    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&sc.finished), 2 * GH_SECOND));
    pthread_join(th, NULL);
    ck_assert_int_eq(atomic_load(&sc.rc), 0);
    ck_assert_msg(atomic_load(&sc.when) - t0 < gh_test_slack(MS(1500)),
                  "shutdown took %.0f ms for a 500 ms request",
                  gh_test_ms(atomic_load(&sc.when) - t0));
    hc_close(&idle);
    hc_close(&busy);
    gh_server_free(srv);
    gh_router_free(router);
}
END_TEST

START_TEST(shutdown_past_deadline_cancels_handler_context)
{
    struct shutdown_call sc = {0};
    hc_conn_t busy;
    pthread_t th;
    int64_t t0, took;
    char path[64];
    int saved;

    srv_start(NULL);
    cli(&busy);
    hc_send(&busy, GET("/sleepctx"));
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&h_entered), GH_SECOND));
    saved = capture_stderr(path);
    t0 = gh_now();
    sc.deadline = t0 + MS(300);
    ck_assert_int_eq(pthread_create(&th, NULL, shutdown_thread, &sc), 0);
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&sc.finished), 3 * GH_SECOND));
    pthread_join(th, NULL);
    restore_stderr(saved, path);
    took = atomic_load(&sc.when) - t0;
    ck_assert_int_eq(atomic_load(&sc.rc), GH_ETIMEDOUT);
    ck_assert_msg(took >= MS(290) && took < gh_test_slack(MS(1000)),
                  "shutdown returned after %.0f ms (grace 300 ms)",
                  gh_test_ms(took));
    ck_assert(atomic_load(&h_done));
    ck_assert_msg(atomic_load(&h_err) == GH_ECANCELED, "handler's ctx: %s",
                  gh_err_name((int)atomic_load(&h_err)));
    /* Its connection was cut: at most the handler's late answer (if it
     * won the race with the cut), then the close. */
    {
        hc_resp_t r;
        int rc = hc_response(&busy, &r, false, DL(1000));
        ck_assert_msg(rc == 0 || rc == GH_ECONNRESET || rc == GH_EIO,
                      "cut connection: %s", hc_err(rc));
        if (rc == 0) {
            assert_field(&r, "Connection", "close");
            ck_assert_int_eq(hc_closed(&busy, DL(1000)), 0);
        }
        hc_resp_free(&r);
    }
    ck_assert_uint_eq(stats().conns_open, 0);
    hc_close(&busy);
    gh_server_free(srv);
    gh_router_free(router);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 13: out of descriptors                                              */
/* ------------------------------------------------------------------ */

static int max_open_fd(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int max = -1;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && atoi(e->d_name) > max)
            max = atoi(e->d_name);
    closedir(d);
    return max;
}

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

#define EMFILE_CLIENTS 16
#define EMFILE_ROOM 4 /* descriptors left for the server's accepts */

START_TEST(emfile_backs_off_without_spinning_and_recovers)
{
    int fds[EMFILE_CLIENTS], filler[1024], nfill = 0, rc;
    struct rlimit rl, low;
    gh_server_stats_t st0, st1;
    double cpu0, cpu;
    hc_conn_t c;
    hc_resp_t r;
    char path[64], *log;
    int saved;

    srv_start(NULL);
    cli(&c); /* warm up: workers, their loops, the acceptor */
    roundtrip(&c, GET("/hello"), &r);
    hc_resp_free(&r);
    hc_close(&c);
    ck_assert(GH_TEST_WAIT_UNTIL(stats().conns_open == 0, GH_SECOND));
    saved = capture_stderr(path);
    for (int i = 0; i < EMFILE_CLIENTS; i++)
        ck_assert_int_ge(fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    low = rl;
    low.rlim_cur = (rlim_t)max_open_fd() + 1 + EMFILE_ROOM;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    /* Fill the holes below the limit, then leave exactly EMFILE_ROOM. */
    while (nfill < (int)(sizeof(filler) / sizeof(filler[0])) &&
           (filler[nfill] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        nfill++;
    ck_assert_int_eq(errno, EMFILE);
    ck_assert_int_ge(nfill, EMFILE_ROOM);
    for (int i = 0; i < EMFILE_ROOM; i++)
        close(filler[--nfill]);

    /* Connections with a request (the listener defers accepting until
     * the first bytes are in): the server can accept EMFILE_ROOM of them,
     * then accept4 fails with EMFILE and the rest wait in the backlog. */
    for (int i = 0; i < EMFILE_CLIENTS; i++) {
        static const char req[] = GET("/hello");
        rc = hc_connect_fd(fds[i], (struct sockaddr *)&srv_ss, srv_sslen);
        ck_assert_msg(rc == 0, "connect %d: %s", i, strerror(-rc));
        ck_assert_int_eq(send(fds[i], req, sizeof(req) - 1, MSG_NOSIGNAL),
                         (ssize_t)sizeof(req) - 1);
    }
    if (!GH_TEST_WAIT_UNTIL(stats().accept_pauses > 0, GH_SECOND)) {
        log = restore_stderr(saved, path);
        ck_abort_msg("no accept pause (%llu open, %llu accepted); log: %.300s",
                     (unsigned long long)stats().conns_open,
                     (unsigned long long)stats().conns_total, log);
    }
    gh_server_stats(srv, &st0);
    cpu0 = cpu_seconds();
    gh_sleep(GH_SECOND);
    cpu = cpu_seconds() - cpu0;
    gh_server_stats(srv, &st1);
    ck_assert_msg(cpu < 0.5, "%.2f s of CPU in 1 s out of descriptors", cpu);
    ck_assert_msg(st1.accept_pauses - st0.accept_pauses <= 20,
                  "%llu accept pauses in 1 s",
                  (unsigned long long)(st1.accept_pauses - st0.accept_pauses));
    ck_assert_uint_le(st1.conns_open, EMFILE_ROOM);
    ck_assert_uint_le(st1.conns_total, 1 + EMFILE_ROOM);

    /* The clients go away (the limit and the filler stay): the server
     * closes their connections, drains the backlog and recovers by
     * itself, within its longest pause (1 s). */
    for (int i = 0; i < EMFILE_CLIENTS; i++)
        close(fds[i]);
    cli(&c);
    hc_send(&c, GET("/hello"));
    rc = hc_response(&c, &r, false, DL(4000));
    log = restore_stderr(saved, path);
    ck_assert_msg(rc == 0, "a new connection after EMFILE: %s", hc_err(rc));
    ck_assert_msg(strstr(log, "accept paused"), "not logged: '%s'", log);
    ck_assert_int_eq(r.status, 200);
    hc_resp_free(&r);
    hc_close(&c);
    while (nfill > 0)
        close(filler[--nfill]);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 14-15: the response API                                             */
/* ------------------------------------------------------------------ */

/* GET path on c: the handler ran to its end and answered 200 "ok". */
static void roundtrip_ok(hc_conn_t *c, const char *path, hc_resp_t *r)
{
    char req[256];

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    roundtrip(c, req, r);
    ck_assert(atomic_load(&h_done));
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body, "ok");
}

START_TEST(response_api_misuse_is_refused)
{
    hc_conn_t c;
    hc_resp_t r;

    srv_start(NULL);
    cli(&c);
    roundtrip_ok(&c, "/misuse", &r);
    ck_assert_ptr_null(hc_field(&r, "X-Evil"));
    ck_assert_ptr_null(hc_field(&r, "X-Injected"));
    ck_assert_ptr_null(hc_field(&r, "X-Late"));
    hc_resp_free(&r);
    ck_assert_int_eq(atomic_load(&h_rc[0]), GH_EINVAL); /* Connection */
    ck_assert_int_eq(atomic_load(&h_rc[1]), GH_EINVAL); /* CRLF */
    ck_assert_int_eq(atomic_load(&h_rc[2]), 0);
    ck_assert_int_eq(atomic_load(&h_rc[3]), GH_ESENT);  /* header after */
    ck_assert_int_eq(atomic_load(&h_rc[4]), GH_ESENT);  /* send twice */
    ck_assert_int_eq(atomic_load(&h_rc[5]), GH_ESENT);  /* write after */

    atomic_store(&h_done, 0);
    roundtrip(&c, GET("/misuse-stream"), &r);
    ck_assert(atomic_load(&h_done));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "abc");
    hc_resp_free(&r);
    ck_assert_int_eq(atomic_load(&h_rc[0]), 3);
    ck_assert_int_eq(atomic_load(&h_rc[1]), 0);
    ck_assert_int_eq(atomic_load(&h_rc[2]), GH_ESENT); /* write after end */
    ck_assert_int_eq(atomic_load(&h_rc[3]), GH_ESENT); /* end twice */
    ck_assert_int_eq(atomic_load(&h_rc[4]), GH_ESENT); /* header after */
    /* The connection is intact. */
    roundtrip(&c, GET("/hello"), &r);
    ck_assert_int_eq(r.status, 200);
    hc_resp_free(&r);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* How many fields of r are called name (any case). */
static int field_count(const hc_resp_t *r, const char *name)
{
    int n = 0;

    for (int i = 0; i < r->nfields; i++)
        n += strcasecmp(r->names[i], name) == 0;
    return n;
}

START_TEST(response_headers_follow_the_rules)
{
    hc_conn_t c;
    hc_resp_t r;

    srv_start(NULL);
    cli(&c);
    roundtrip_ok(&c, "/headers", &r);
    ck_assert_int_eq(atomic_load(&h_rc[0]), GH_EINVAL); /* Date */
    ck_assert_int_eq(atomic_load(&h_rc[1]), GH_EINVAL); /* Transfer-Encoding */
    ck_assert_int_eq(atomic_load(&h_rc[2]), GH_EINVAL); /* not a token */
    ck_assert_int_eq(atomic_load(&h_rc[3]), 0);         /* the same, and LF */
    ck_assert_int_eq(atomic_load(&h_rc[4]), 0);
    ck_assert_int_eq(atomic_load(&h_rc[5]), 0);
    ck_assert_int_eq(atomic_load(&h_rc[6]), 0);
    ck_assert_int_eq(field_count(&r, "Date"), 1);
    ck_assert_int_eq(field_count(&r, "Transfer-Encoding"), 0);
    ck_assert_str_eq(hc_field(&r, "Content-Length"), "2");
    /* set replaced both values added before it, whatever their case */
    ck_assert_int_eq(field_count(&r, "X-Multi"), 1);
    ck_assert_str_eq(hc_field(&r, "X-Multi"), "3");
    ck_assert_str_eq(hc_field(&r, "X-Multiple"), "keep");
    ck_assert_int_eq(field_count(&r, "X-Gone"), 0);
    /* the handler's Server replaces the configured one */
    ck_assert_int_eq(field_count(&r, "Server"), 1);
    ck_assert_str_eq(hc_field(&r, "Server"), "mine");
    ck_assert_int_eq(field_count(&r, "Bad Name"), 0);
    hc_resp_free(&r);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* The bucket a latency falls in, from the public bounds. */
static int bucket_of(int64_t ns)
{
    static const uint32_t bounds[GH_LATENCY_BUCKETS - 1] =
        GH_LATENCY_BOUNDS_US;
    int i = 0;

    while (i < GH_LATENCY_BUCKETS - 1 && ns > bounds[i] * GH_MICROSECOND)
        i++;
    return i;
}

START_TEST(stats_histogram_counts_every_response_by_latency)
{
    int slow = bucket_of(MS(500) + 1); /* the first over 500 ms */
    uint64_t fast = 0, total = 0;
    gh_server_stats_t st;
    int64_t t0 = gh_now();
    hc_conn_t c;
    hc_resp_t r;

    srv_start(NULL);
    cli(&c);
    for (int i = 0; i < 20; i++) {
        roundtrip(&c, GET("/hello"), &r);
        hc_resp_free(&r);
    }
    roundtrip(&c, GET("/server"), &r); /* 200 */
    hc_resp_free(&r);
    roundtrip(&c, GET("/nowhere"), &r); /* 404 */
    hc_resp_free(&r);
    for (int i = 0; i < 2; i++) {
        roundtrip(&c, GET("/sleep"), &r); /* at least 500 ms each */
        hc_resp_free(&r);
    }
    hc_close(&c);
    cli(&c); /* the server's own answer to a malformed head counts too */
    roundtrip(&c, "BAD\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 400);
    hc_resp_free(&r);
    hc_close(&c);

    ck_assert_ptr_eq(atomic_load(&h_server), srv);
    /* A response is counted just after it went out: the client may read
     * it first. */
    ck_assert(GH_TEST_WAIT_UNTIL(stats().requests == 25, GH_SECOND));
    st = stats();
    ck_assert_uint_eq(st.status[4], 2);
    for (int i = 0; i < GH_LATENCY_BUCKETS; i++) {
        total += st.latency[i];
        fast += i < slow ? st.latency[i] : 0;
    }
    ck_assert_uint_eq(total, st.requests);
    ck_assert_uint_eq(fast, 23);
    ck_assert_uint_ge(st.latency_sum_ns, 2 * (uint64_t)MS(500));
    ck_assert_uint_lt(st.latency_sum_ns, (uint64_t)(gh_now() - t0));
    ck_assert_int_ge(st.created, t0); /* created by srv_start */
    ck_assert_int_le(st.created, gh_now());
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(head_gets_length_but_no_body)
{
    hc_conn_t c;
    hc_resp_t r;

    srv_start(NULL);
    cli(&c);
    roundtrip(&c, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    assert_field(&r, "Content-Length", "13");
    hc_resp_free(&r);
    ck_assert_msg(hc_quiet_for(&c, MS(100)), "bytes after a HEAD response");
    /* The next request on the connection parses correctly. */
    roundtrip(&c, GET("/hello"), &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "Hello, World!");
    hc_resp_free(&r);
    /* HEAD of a streamed response: no chunks either. */
    roundtrip(&c, "HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    hc_resp_free(&r);
    roundtrip(&c, GET("/n/5"), &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "n=5");
    hc_resp_free(&r);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 16-17: idle connections                                             */
/* ------------------------------------------------------------------ */

#define IDLE_CONNS 200

START_TEST(idle_connections_hold_no_goroutine)
{
    static hc_conn_t cs[IDLE_CONNS];
    gh_server_stats_t st;
    int64_t g0;
    hc_resp_t r;

    srv_start(NULL);
    gh_sleep(MS(50));
    g0 = stats().goroutines;
    for (int i = 0; i < IDLE_CONNS; i++) {
        cli(&cs[i]);
        roundtrip(&cs[i], GET("/hello"), &r);
        ck_assert_int_eq(r.status, 200);
        hc_resp_free(&r);
    }
    ck_assert_msg(GH_TEST_WAIT_UNTIL(stats().conns_idle == IDLE_CONNS, GH_SECOND),
                  "conns_idle %llu, expected %d",
                  (unsigned long long)stats().conns_idle, IDLE_CONNS);
    st = stats();
    ck_assert_uint_eq(st.conns_open, IDLE_CONNS);
    ck_assert_msg(st.goroutines - g0 < 20,
                  "%lld goroutines for %d idle connections (%lld before)",
                  (long long)(st.goroutines - g0), IDLE_CONNS, (long long)g0);
    for (int i = 0; i < IDLE_CONNS; i++) {
        char req[64];
        snprintf(req, sizeof(req), "GET /n/%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
        roundtrip(&cs[i], req, &r);
        ck_assert_int_eq(r.status, 200);
        ck_assert_int_eq(atoi(r.body + 2), i);
        hc_resp_free(&r);
    }
    ck_assert_uint_eq(stats().conns_total, IDLE_CONNS);
    for (int i = 0; i < IDLE_CONNS; i++)
        hc_close(&cs[i]);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(idle_keepalive_connection_closes_after_idle_timeout)
{
    gh_server_opts_t o;
    hc_conn_t c;
    hc_resp_t r;
    int64_t t0, took;

    test_opts(&o);
    o.idle_timeout = MS(300);
    srv_start(&o);
    cli(&c);
    roundtrip(&c, GET("/hello"), &r);
    t0 = gh_now();
    hc_resp_free(&r);
    ck_assert_int_eq(hc_closed(&c, DL(2000)), 0);
    took = gh_now() - t0;
    ck_assert_msg(took >= MS(250) && took <= gh_test_slack(MS(700)),
                  "closed %.0f ms after the response (idle_timeout 300 ms)",
                  gh_test_ms(took));
    ck_assert(GH_TEST_WAIT_UNTIL(stats().conns_open == 0, GH_SECOND));
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(silent_new_connection_closes_after_header_timeout)
{
    gh_server_opts_t o;
    hc_conn_t c;
    int64_t t0, took;

    test_opts(&o);
    o.header_timeout = MS(300);
    srv_start(&o);
    t0 = gh_now();
    cli(&c);
    /* The listener defers accepting (TCP_DEFER_ACCEPT) for the header
     * timeout rounded up to whole seconds; the server's own header
     * timeout runs from the accept: about 1.3 s in all. */
    ck_assert_int_eq(hc_closed(&c, DL(4000)), 0);
    took = gh_now() - t0;
    ck_assert_msg(took >= MS(250) && took <= gh_test_slack(MS(2500)),
                  "closed after %.0f ms (header_timeout 300 ms)",
                  gh_test_ms(took));
    ck_assert(GH_TEST_WAIT_UNTIL(stats().conns_open == 0, GH_SECOND));
    ck_assert_uint_eq(stats().timeouts, 1);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(max_conns_defers_accepting_until_one_closes)
{
    gh_server_opts_t o;
    hc_conn_t a, b, x;
    hc_resp_t r;
    int rc;

    test_opts(&o);
    o.max_conns = 2;
    srv_start(&o);
    cli(&a);
    roundtrip(&a, GET("/n/1"), &r);
    hc_resp_free(&r);
    cli(&b);
    roundtrip(&b, GET("/n/2"), &r);
    hc_resp_free(&r);
    /* The third waits in the backlog: no answer while two are open. */
    cli(&x);
    hc_send(&x, GET("/n/3"));
    ck_assert_msg(hc_quiet_for(&x, MS(300)), "served over max_conns");
    ck_assert_uint_eq(stats().conns_open, 2);
    ck_assert_uint_ge(stats().accept_pauses, 1);
    hc_close(&a);
    rc = hc_response(&x, &r, false, DL(2500));
    ck_assert_msg(rc == 0, "not served after a slot freed: %s", hc_err(rc));
    ck_assert_str_eq(r.body, "n=3");
    hc_resp_free(&r);
    hc_close(&b);
    hc_close(&x);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 18-20: streaming, the router, Unix sockets                          */
/* ------------------------------------------------------------------ */

START_TEST(streamed_response_is_chunked_or_close_delimited)
{
    hc_conn_t c;
    hc_resp_t r;

    srv_start(NULL);
    cli(&c);
    roundtrip(&c, GET("/stream"), &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(r.chunked);
    ck_assert(!r.has_length);
    ck_assert_str_eq(r.body, "chunk 0\nchunk 1\nchunk 2\n");
    hc_resp_free(&r);
    roundtrip(&c, GET("/hello"), &r); /* still open */
    ck_assert_int_eq(r.status, 200);
    hc_resp_free(&r);
    hc_close(&c);

    cli(&c);
    roundtrip(&c, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(!r.chunked);
    ck_assert(r.until_close);
    ck_assert_str_eq(r.body, "chunk 0\nchunk 1\nchunk 2\n");
    ck_assert_msg(!hc_field(&r, "Connection") ||
                      strcasecmp(hc_field(&r, "Connection"), "close") == 0,
                  "close-delimited body with Connection: %s",
                  hc_field(&r, "Connection"));
    hc_resp_free(&r);
    hc_close(&c);

    cli(&c);
    roundtrip(&c, GET("/overlen"), &r);
    ck_assert_int_eq(atomic_load(&h_rc[0]), GH_EMSGSIZE);
    ck_assert_int_eq(atomic_load(&h_rc[1]), 5);
    ck_assert_int_eq(r.status, 200);
    assert_field(&r, "Content-Length", "5");
    ck_assert_str_eq(r.body, "hello");
    hc_resp_free(&r);
    roundtrip(&c, GET("/hello"), &r); /* the framing held */
    ck_assert_int_eq(r.status, 200);
    hc_resp_free(&r);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(router_answers_404_405_and_binds_params)
{
    hc_conn_t c;
    hc_resp_t r;
    const char *allow;

    srv_start(NULL);
    cli(&c);
    roundtrip(&c, GET("/nowhere"), &r);
    ck_assert_int_eq(r.status, 404);
    hc_resp_free(&r);
    roundtrip(&c, "DELETE /users/7 HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 405);
    allow = hc_field(&r, "Allow");
    ck_assert_msg(allow && strstr(allow, "GET"), "Allow: %s", allow);
    hc_resp_free(&r);
    roundtrip(&c, GET("/users/42"), &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "user 42");
    hc_resp_free(&r);
    roundtrip(&c, GET("/users/a%20b"), &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "user a b");
    hc_resp_free(&r);
    roundtrip(&c, GET("/files/a/b%20c.txt"), &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "rest [a/b c.txt]");
    hc_resp_free(&r);
    roundtrip(&c, GET("/files/"), &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "rest []");
    hc_resp_free(&r);
    roundtrip(&c, GET("/users/42"), &r); /* an exact route: no "*" */
    ck_assert_int_eq(r.status, 200);
    hc_resp_free(&r);
    /* Still keep-alive after the error answers. */
    ck_assert_uint_eq(stats().conns_total, 1);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(unix_socket_listener_serves_requests)
{
    char dir[] = "/tmp/gh-http-XXXXXX", addr[128], *path;
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    struct stat st;
    hc_conn_t c;
    hc_resp_t r;
    int fd, rc;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(addr, sizeof(addr), "unix:%s/s.sock", dir);
    path = addr + 5;
    srv_start_at(NULL, addr);
    ck_assert_int_eq(srv_ss.ss_family, AF_UNIX);
    strcpy(un.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    rc = hc_connect_fd(fd, (struct sockaddr *)&un, sizeof(un));
    ck_assert_msg(rc == 0, "connect %s: %s", path, strerror(-rc));
    hc_init(&c, fd);
    roundtrip(&c, GET("/hello"), &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "Hello, World!");
    hc_resp_free(&r);
    roundtrip(&c, GET("/users/x"), &r);
    ck_assert_str_eq(r.body, "user x");
    hc_resp_free(&r);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
    ck_assert_msg(stat(path, &st) < 0, "socket file left behind");
    rmdir(dir);
}
END_TEST

START_TEST(unix_socket_file_gets_mode_and_a_live_one_is_kept)
{
    char dir[] = "/tmp/gh-http-XXXXXX", addr[128], *path;
    gh_listen_opts_t lo = {.unix_mode = 0640, .unix_chown = true,
                           .unix_uid = (uid_t)-1, .unix_gid = getgid()};
    struct stat st;
    int rc;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(addr, sizeof(addr), "unix:%s/s.sock", dir);
    path = addr + 5;
    router = make_router();
    ck_assert_int_eq(gh_server_new(&srv, NULL, gh_router_serve, router), 0);
    ck_assert_int_eq(gh_server_listen(srv, addr, &lo), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0640);
    ck_assert_uint_eq(st.st_gid, getgid());
    /* Someone accepts on it: a second listen must not take it away. */
    rc = gh_server_listen(srv, addr, NULL);
    ck_assert_msg(rc == GH_EADDRINUSE, "listen on a live socket: %s",
                  gh_err_name(rc));
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(srv_stop(), 0);
    ck_assert_msg(stat(path, &st) < 0, "socket file left behind");
    rmdir(dir);
}
END_TEST

/* What another process holding the socket (an upgrade's new gohttpd, or
 * systemd) sees: the socket still listens, its file is still there. */
START_TEST(shared_listener_is_left_listening_by_shutdown)
{
    char dir[] = "/tmp/gh-http-XXXXXX", addr[128], *path;
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    struct stat st;
    int other, fd, got, rc;
    int64_t t0;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(addr, sizeof(addr), "unix:%s/s.sock", dir);
    path = addr + 5;
    srv_start_at(NULL, addr);
    other = gh_server_listener_dup(srv, 0, 100);
    ck_assert_msg(other >= 100, "dup: %d", other);
    ck_assert_int_eq(fcntl(other, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    ck_assert_int_eq(gh_server_listener_dup(srv, 7, 100), GH_EINVAL);
    ck_assert_int_eq(gh_server_listener_share(srv, 7), GH_EINVAL);
    ck_assert_int_eq(gh_server_listener_share(srv, 0), 0);
    t0 = gh_now();
    ck_assert_int_eq(srv_stop(), 0);
    /* The acceptor is not woken by shutdown(2): within a second. */
    ck_assert_msg(gh_now() - t0 < gh_test_slack(2 * GH_SECOND),
                  "shutdown took %lld ms", (long long)((gh_now() - t0) /
                                                       GH_MILLISECOND));
    ck_assert_msg(stat(path, &st) == 0, "the socket file was removed");
    strcpy(un.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    rc = connect(fd, (struct sockaddr *)&un, sizeof(un));
    ck_assert_msg(rc == 0, "connect after the shutdown: %s", strerror(errno));
    got = accept4(other, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_msg(got >= 0, "the other holder's accept: %s", strerror(errno));
    close(got);
    close(fd);
    close(other);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* The TCP_NOTSENT_LOWAT an accepted connection of listener 0 starts with:
 * accepted here from a duplicate of the listening socket (the server is
 * not started, so nothing else accepts). */
static int accepted_lowat(void)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int lfd, c, a, v = -1;
    socklen_t vl = sizeof(v);

    lfd = gh_server_listener_dup(srv, 0, 100);
    ck_assert_int_ge(lfd, 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(c, 0);
    ck_assert_int_eq(connect(c, (struct sockaddr *)&ss, len), 0);
    /* TCP_DEFER_ACCEPT: acceptable once bytes are in. */
    ck_assert_int_eq(write(c, "G", 1), 1);
    a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    ck_assert_msg(a >= 0, "accept: %s", strerror(errno));
    ck_assert_int_eq(getsockopt(a, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &vl),
                     0);
    close(a);
    close(c);
    close(lfd);
    return v;
}

/* Large bodies go out from the server's thread as the client reads (see
 * server.c): 16 KiB unless the listener says otherwise, and a kept
 * listener takes a new value on update. */
START_TEST(tcp_connections_get_the_notsent_low_water_mark)
{
    gh_listen_opts_t lo = {.notsent_lowat = 65536};

    router = make_router();
    ck_assert_int_eq(gh_server_new(&srv, NULL, gh_router_serve, router), 0);
    ck_assert_int_eq(gh_server_listen(srv, "127.0.0.1:0", NULL), 0);
    ck_assert_int_eq(accepted_lowat(), 16384);
    ck_assert_int_eq(gh_server_listener_update(srv, 0, &lo), 0);
    ck_assert_int_eq(accepted_lowat(), 65536);
    lo.notsent_lowat = -1; /* the system's: the socket holds 0 */
    ck_assert_int_eq(gh_server_listener_update(srv, 0, &lo), 0);
    ck_assert_int_eq(accepted_lowat(), 0);
    gh_server_free(srv);
    srv = NULL;

    lo.notsent_lowat = 4096;
    ck_assert_int_eq(gh_server_new(&srv, NULL, gh_router_serve, router), 0);
    ck_assert_int_eq(gh_server_listen(srv, "127.0.0.1:0", &lo), 0);
    ck_assert_int_eq(accepted_lowat(), 4096);
    gh_server_free(srv);
    srv = NULL;
    gh_router_free(router);
    router = NULL;
}
END_TEST

/* ------------------------------------------------------------------ */
/* 20: options replaced while running (gh_server_update)               */
/* ------------------------------------------------------------------ */

/* "GET /files/aaa... HTTP/1.1" with a target of tlen bytes. */
static void long_get(char *out, size_t cap, size_t tlen)
{
    size_t o = (size_t)snprintf(out, cap, "GET /files/");

    ck_assert_uint_lt(tlen + 64, cap);
    memset(out + o, 'a', tlen - 7);
    o += tlen - 7;
    snprintf(out + o, cap - o, " HTTP/1.1\r\nHost: t\r\n\r\n");
}

START_TEST(update_applies_to_new_sessions_and_spares_open_ones)
{
    char server[32] = "updated/2", req[512], two[1024];
    gh_server_opts_t o, bad;
    hc_conn_t a, b;
    hc_resp_t r;
    int rc;

    srv_start(NULL);
    cli(&a);
    roundtrip(&a, GET("/hello"), &r);
    assert_field(&r, "Server", "gohttpd");
    hc_resp_free(&r);

    /* a's next session starts in a handler that sleeps; a pipelined
     * request with a 100-byte target waits behind it in the buffer. */
    long_get(req, sizeof(req), 100);
    snprintf(two, sizeof(two), "%s%s", GET("/sleep"), req);
    hc_send(&a, two);
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&h_entered), MS(3000)));

    test_opts(&o);
    o.max_target = 64;
    o.server_header = server;
    bad = o;
    bad.max_target = 0;
    ck_assert_int_eq(gh_server_update(srv, &bad), GH_EINVAL);
    bad = o;
    bad.server_header = "x\r\nInjected: 1";
    ck_assert_int_eq(gh_server_update(srv, &bad), GH_EINVAL);
    ck_assert_int_eq(gh_server_update(srv, NULL), GH_EINVAL);
    ck_assert_int_eq(gh_server_update(NULL, &o), GH_EINVAL);
    ck_assert_int_eq(gh_server_update(srv, &o), 0);
    strcpy(server, "clobbered"); /* copied: the caller's is free again */

    /* The session in flight finishes with the limits it began with. */
    rc = hc_response(&a, &r, false, DL(3000));
    ck_assert_msg(rc == 0, "sleep: %s", hc_err(rc));
    ck_assert_str_eq(r.body, "slept");
    hc_resp_free(&r);
    rc = hc_response(&a, &r, false, DL(3000));
    ck_assert_msg(rc == 0, "pipelined long target: %s", hc_err(rc));
    ck_assert_int_eq(r.status, 200);
    hc_resp_free(&r);

    /* A new connection gets the new limit and Server header. */
    cli(&b);
    hc_send(&b, req);
    expect_status_then_close(&b, 414, "target over the updated max_target");
    hc_close(&b);
    cli(&b);
    roundtrip(&b, GET("/hello"), &r);
    assert_field(&r, "Server", "updated/2");
    hc_resp_free(&r);
    hc_close(&b);

    /* The old keep-alive connection still works, now under the new
     * options (its next request starts a new session). */
    roundtrip(&a, GET("/hello"), &r);
    ck_assert_int_eq(r.status, 200);
    assert_field(&r, "Server", "updated/2");
    hc_resp_free(&r);
    hc_send(&a, req);
    expect_status_then_close(&a, 414, "old connection, new session");
    hc_close(&a);

    /* No Server header at all. */
    o.server_header = NULL;
    ck_assert_int_eq(gh_server_update(srv, &o), 0);
    cli(&b);
    roundtrip(&b, GET("/hello"), &r);
    ck_assert_ptr_null(hc_field(&r, "Server"));
    hc_resp_free(&r);
    hc_close(&b);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 21: the access log                                                  */
/* ------------------------------------------------------------------ */

static void copy_str(char *d, size_t cap, const char *s, bool *has)
{
    *has = s != NULL;
    snprintf(d, cap, "%s", s ? s : "");
}

static void acc_log(void *udata, const gh_access_t *a)
{
    acc_entry_t *e;
    int i;

    if (udata != &acc_n)
        atomic_fetch_add(&acc_bad, 1);
    pthread_mutex_lock(&acc_mu);
    i = atomic_load(&acc_n);
    if (i < ACC_MAX) {
        e = &acc[i];
        e->has_req = a->req != NULL;
        copy_str(e->method, sizeof(e->method), a->method, &e->has_method);
        copy_str(e->target, sizeof(e->target), a->target, &e->has_target);
        e->version = a->version;
        e->status = a->status;
        e->body_bytes = a->body_bytes;
        e->start_wall = a->start_wall;
        e->duration = a->duration;
        e->family = a->peer && a->peer_len ? a->peer->sa_family : -1;
    }
    atomic_store(&acc_n, i + 1);
    pthread_mutex_unlock(&acc_mu);
}

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * GH_SECOND + ts.tv_nsec;
}

/* Wait for n entries and return entry i (a copy). */
static acc_entry_t acc_get(int n, int i)
{
    acc_entry_t e;

    ck_assert_msg(GH_TEST_WAIT_UNTIL(atomic_load(&acc_n) >= n, MS(3000)),
                  "access log: %d entries, expected %d",
                  atomic_load(&acc_n), n);
    pthread_mutex_lock(&acc_mu);
    e = acc[i];
    pthread_mutex_unlock(&acc_mu);
    return e;
}

#define assert_acc(e, meth, tgt, st, bytes)                                 \
    do {                                                                    \
        ck_assert_msg((e).has_method && strcmp((e).method, (meth)) == 0,    \
                      "method '%s'", (e).method);                           \
        ck_assert_msg((e).has_target && strcmp((e).target, (tgt)) == 0,     \
                      "target '%s'", (e).target);                           \
        ck_assert_int_eq((e).status, (st));                                 \
        ck_assert_uint_eq((e).body_bytes, (bytes));                         \
        ck_assert((e).has_req);                                             \
        ck_assert_int_eq((e).version, 11);                                  \
    } while (0)

static void acc_opts(gh_server_opts_t *o)
{
    test_opts(o);
    o->access_log = acc_log;
    o->access_udata = &acc_n;
}

START_TEST(access_log_reports_each_response_once)
{
    gh_server_opts_t o;
    int64_t before, after;
    acc_entry_t e;
    hc_conn_t c;
    hc_resp_t r;
    size_t nf_len;
    int rc;

    acc_opts(&o);
    srv_start(&o);
    /* A connection that closes without a byte is not logged. */
    cli(&c);
    hc_close(&c);

    cli(&c);
    before = wall_ns();
    roundtrip(&c, GET("/hello"), &r);
    after = wall_ns();
    hc_resp_free(&r);
    e = acc_get(1, 0);
    assert_acc(e, "GET", "/hello", 200, 13);
    ck_assert_int_eq(e.family, AF_INET);
    ck_assert_msg(e.start_wall >= before - MS(50) && e.start_wall <= after,
                  "start_wall %lld outside [%lld, %lld]",
                  (long long)e.start_wall, (long long)before,
                  (long long)after);
    ck_assert_msg(e.duration >= 0 && e.duration <= after - before + MS(50),
                  "duration %lld", (long long)e.duration);

    roundtrip(&c, GET("/nope?x=1"), &r); /* the router's 404 */
    ck_assert_int_eq(r.status, 404);
    nf_len = r.body_len;
    hc_resp_free(&r);
    e = acc_get(2, 1);
    assert_acc(e, "GET", "/nope?x=1", 404, nf_len);

    roundtrip(&c, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    hc_resp_free(&r);
    e = acc_get(3, 2);
    assert_acc(e, "HEAD", "/hello", 200, 0);

    roundtrip(&c, GET("/stream"), &r); /* chunked: the payload only */
    hc_resp_free(&r);
    e = acc_get(4, 3);
    assert_acc(e, "GET", "/stream", 200, 24);

    /* A pipelined pair: two reports, in order. */
    hc_send(&c, GET("/n/1") GET("/n/22"));
    for (int i = 0; i < 2; i++) {
        rc = hc_response(&c, &r, false, DL(3000));
        ck_assert_msg(rc == 0, "pipelined %d: %s", i, hc_err(rc));
        hc_resp_free(&r);
    }
    e = acc_get(6, 4);
    assert_acc(e, "GET", "/n/1", 200, 3);
    e = acc_get(6, 5);
    assert_acc(e, "GET", "/n/22", 200, 4);

    /* Garbage: the server's own 400, with nothing parsed. */
    hc_close(&c);
    cli(&c);
    hc_send(&c, "HELLO THERE\r\n\r\n");
    rc = hc_response(&c, &r, false, DL(3000));
    ck_assert_msg(rc == 0, "garbage: %s", hc_err(rc));
    ck_assert_int_eq(r.status, 400);
    e = acc_get(7, 6);
    ck_assert(!e.has_method && !e.has_target && !e.has_req);
    ck_assert_int_eq(e.version, 0);
    ck_assert_int_eq(e.status, 400);
    ck_assert_uint_eq(e.body_bytes, r.body_len);
    ck_assert_int_eq(e.family, AF_INET);
    hc_resp_free(&r);
    hc_close(&c);

    ck_assert_int_eq(srv_stop(), 0);
    ck_assert_int_eq(atomic_load(&acc_n), 7);
    ck_assert_int_eq(atomic_load(&acc_bad), 0);
}
END_TEST

/* Every malformed-request answer is reported, exactly once. */
START_TEST(access_log_reports_refused_requests)
{
    const struct bad_case *bc = &bad_cases[_i];
    gh_server_opts_t o;
    char *built = NULL;
    acc_entry_t e;
    hc_conn_t c;
    hc_resp_t r;
    int rc;

    acc_opts(&o);
    o.max_target = 64;
    o.max_header_bytes = 1024;
    o.max_headers = 10;
    o.max_body = 1000;
    srv_start(&o);
    cli(&c);
    if (!bc->req)
        built = build_bad(_i);
    hc_send(&c, bc->req ? bc->req : built);
    rc = hc_response(&c, &r, false, DL(3000));
    ck_assert_msg(rc == 0, "%s: %s", bc->name, hc_err(rc));
    e = acc_get(1, 0);
    ck_assert_msg(e.status == bc->status, "%s: logged %d", bc->name,
                  e.status);
    ck_assert_uint_eq(e.body_bytes, r.body_len);
    /* Parsed far enough for a handler's turn: then method and target. */
    ck_assert(e.has_method == e.has_req && e.has_target == e.has_req);
    hc_resp_free(&r);
    hc_close(&c);
    free(built);
    ck_assert_int_eq(srv_stop(), 0);
    ck_assert_int_eq(atomic_load(&acc_n), 1);
}
END_TEST

START_TEST(access_log_reports_a_head_timeout)
{
    gh_server_opts_t o;
    acc_entry_t e;
    hc_conn_t c;

    acc_opts(&o);
    o.header_timeout = MS(300);
    srv_start(&o);
    cli(&c);
    hc_send(&c, "GET /hello HTTP/1.1\r\nHost: t\r\n");
    expect_status_then_close(&c, 408, "head timeout");
    e = acc_get(1, 0);
    ck_assert_int_eq(e.status, 408);
    ck_assert(!e.has_method && !e.has_req);
    ck_assert_msg(e.duration >= MS(300), "duration %lld",
                  (long long)e.duration);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
    ck_assert_int_eq(atomic_load(&acc_n), 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 22: listeners added and closed while running                        */
/* ------------------------------------------------------------------ */

static void addr_of(int i, struct sockaddr_storage *ss, socklen_t *len)
{
    int rc = gh_server_addr(srv, i, ss, len);

    ck_assert_msg(rc == 0, "gh_server_addr(%d): %s", i, gh_err_name(rc));
}

static void hello_at(const struct sockaddr_storage *ss, socklen_t len)
{
    hc_conn_t c;
    hc_resp_t r;

    hc_connect(&c, ss, len);
    roundtrip(&c, GET("/hello"), &r);
    ck_assert_str_eq(r.body, "Hello, World!");
    hc_resp_free(&r);
    hc_close(&c);
}

static int connect_rc(const struct sockaddr_storage *ss, socklen_t len)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

    ck_assert_int_ge(fd, 0);
    rc = hc_connect_fd(fd, (const struct sockaddr *)ss, len);
    if (rc == 0)
        close(fd);
    return rc;
}

START_TEST(listen_after_start_serves_at_once)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int i;

    srv_start(NULL);
    i = gh_server_listen(srv, "127.0.0.1:0", NULL);
    ck_assert_int_eq(i, 1);
    addr_of(1, &ss, &len);
    hello_at(&ss, len);
    hello_at(&srv_ss, srv_sslen); /* the first one is undisturbed */
    /* Unparseable addresses still fail as before the start. */
    ck_assert_int_eq(gh_server_listen(srv, "nonsense", NULL), GH_EINVAL);
    /* A port is 0 to 65535 in digits: getaddrinfo() would bind 99999 as
     * 34463, and take "0x50" or "-1" in ways nobody meant. */
    static const char *const bad[] = {"127.0.0.1:99999", "127.0.0.1:65536",
                                      "127.0.0.1:", "127.0.0.1:0x50",
                                      "127.0.0.1:-1", "127.0.0.1:+80",
                                      "[::1]:123456", "127.0.0.1:8 0"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        ck_assert_msg(gh_server_listen(srv, bad[k], NULL) == GH_EINVAL,
                      "%s was taken", bad[k]);
        ck_assert_ptr_nonnull(gh_listen_addr_problem(bad[k]));
    }
    /* The check alone, as a configuration loader uses it. */
    static const char *const good[] = {"127.0.0.1:0", "[::1]:65535", ":80",
                                       "localhost:8080", "unix:/tmp/x.sock"};
    for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++)
        ck_assert_msg(!gh_listen_addr_problem(good[k]), "%s: %s", good[k],
                      gh_listen_addr_problem(good[k]));
    ck_assert_str_eq(gh_listen_addr_problem("127.0.0.1:99999"),
                     "the port must be a number from 0 to 65535");
    ck_assert_str_eq(gh_listen_addr_problem("[::1:80"),
                     "'[' without its ']'");
    ck_assert_str_eq(gh_listen_addr_problem("unix:"),
                     "expected a path after unix:");
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(listener_close_stops_accepting_but_keeps_its_connections)
{
    struct sockaddr_storage ss, again;
    socklen_t len, alen;
    char addr[64];
    hc_conn_t c;
    hc_resp_t r;
    int rc, i;

    srv_start(NULL);
    ck_assert_int_eq(i = gh_server_listen(srv, "127.0.0.1:0", NULL), 1);
    addr_of(i, &ss, &len);
    hc_connect(&c, &ss, len);
    roundtrip(&c, GET("/hello"), &r);
    hc_resp_free(&r);

    ck_assert_int_eq(gh_server_listener_close(srv, i), 0);
    rc = connect_rc(&ss, len);
    ck_assert_msg(rc == -ECONNREFUSED, "connect after close: %s",
                  rc ? strerror(-rc) : "accepted");
    /* What it accepted before goes on. */
    roundtrip(&c, GET("/n/7"), &r);
    ck_assert_str_eq(r.body, "n=7");
    hc_resp_free(&r);
    hello_at(&srv_ss, srv_sslen);

    ck_assert_int_eq(gh_server_listener_close(srv, i), GH_EINVAL);
    ck_assert_int_eq(gh_server_addr(srv, i, &again, &alen), GH_EINVAL);
    ck_assert_int_eq(gh_server_listener_close(srv, 2), GH_EINVAL);
    ck_assert_int_eq(gh_server_listener_close(srv, -1), GH_EINVAL);
    ck_assert_int_eq(gh_server_listener_close(NULL, 0), GH_EINVAL);

    /* The port is free again right away: listen there anew. */
    snprintf(addr, sizeof(addr), "127.0.0.1:%d",
             ntohs(((struct sockaddr_in *)&ss)->sin_port));
    ck_assert_int_eq(rc = gh_server_listen(srv, addr, NULL), 2);
    addr_of(2, &again, &alen);
    hello_at(&again, alen);

    /* Close the first listener too: shutdown copes with both. */
    ck_assert_int_eq(gh_server_listener_close(srv, 0), 0);
    ck_assert_int_eq(connect_rc(&srv_ss, srv_sslen), -ECONNREFUSED);
    roundtrip(&c, GET("/hello"), &r);
    hc_resp_free(&r);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(listener_close_before_start_and_listen_after_shutdown)
{
    char dir[] = "/tmp/gh-http-XXXXXX", addr[128];
    struct sockaddr_storage ss;
    struct stat st;
    socklen_t len;
    gh_server_t *s2;
    int u;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(addr, sizeof(addr), "unix:%s/s.sock", dir);
    router = make_router();
    ck_assert_int_eq(gh_server_new(&srv, NULL, gh_router_serve, router), 0);
    ck_assert_int_eq(gh_server_listen(srv, "127.0.0.1:0", NULL), 0);
    ck_assert_int_eq(u = gh_server_listen(srv, addr, NULL), 1);
    ck_assert_int_eq(stat(addr + 5, &st), 0);
    ck_assert_int_eq(gh_server_listener_close(srv, u), 0);
    ck_assert_msg(stat(addr + 5, &st) < 0, "socket file left behind");
    ck_assert_int_eq(gh_server_listener_close(srv, u), GH_EINVAL);
    ck_assert_int_eq(gh_server_start(srv), 0);
    addr_of(0, &ss, &len);
    hello_at(&ss, len);
    ck_assert_int_eq(gh_server_shutdown(srv, gh_deadline_in(MS(3000))), 0);
    /* Shut down: nothing new, and nothing left to close. */
    ck_assert_int_eq(gh_server_listen(srv, "127.0.0.1:0", NULL), GH_EINVAL);
    ck_assert_int_eq(gh_server_listener_close(srv, 0), GH_EINVAL);
    gh_server_free(srv);
    srv = NULL;

    /* A server whose every listener was closed has nothing to start. */
    ck_assert_int_eq(gh_server_new(&s2, NULL, gh_router_serve, router), 0);
    ck_assert_int_eq(gh_server_listen(s2, "127.0.0.1:0", NULL), 0);
    ck_assert_int_eq(gh_server_listener_close(s2, 0), 0);
    ck_assert_int_eq(gh_server_start(s2), GH_EINVAL);
    gh_server_free(s2);
    gh_router_free(router);
    router = NULL;
    rmdir(dir);
}
END_TEST

/* ------------------------------------------------------------------ */

static TCase *tcase(Suite *s, const char *name, double timeout_s)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, fixture_setup, gh_test_rt_stop);
    tcase_set_timeout(tc, timeout_s * (double)gh_test_time_scale());
    suite_add_tcase(s, tc);
    return tc;
}

/* ------------------------------------------------------------------ */
/* health and readiness                                               */
/* ------------------------------------------------------------------ */

static atomic_int ready_calls, ready_answer = 1;

static bool test_ready(void *udata, char *why, size_t len)
{
    ck_assert_ptr_eq(udata, &ready_calls);
    atomic_fetch_add(&ready_calls, 1);
    if (!atomic_load(&ready_answer))
        snprintf(why, len, "backend down");
    return atomic_load(&ready_answer);
}

/* One request on c: its status and body (into body, cap bytes). */
static int probe(hc_conn_t *c, const char *req, char *body, size_t cap)
{
    hc_resp_t r;
    int st;

    roundtrip(c, req, &r);
    snprintf(body, cap, "%s", r.body ? r.body : "");
    st = r.status;
    hc_resp_free(&r);
    return st;
}

START_TEST(health_and_readiness_are_answered_by_the_server)
{
    gh_server_opts_t o;
    char b[128];
    hc_conn_t c;

    acc_opts(&o);
    o.ready_check = test_ready;
    o.ready_udata = &ready_calls;
    srv_start(&o);
    cli(&c);
    ck_assert_int_eq(probe(&c, GET("/healthz"), b, sizeof(b)), 200);
    ck_assert_str_eq(b, "ok\n");
    ck_assert_int_eq(probe(&c, GET("/readyz?x=1"), b, sizeof(b)), 200);
    ck_assert_str_eq(b, "ready\n");
    ck_assert_int_eq(atomic_load(&ready_calls), 1);
    ck_assert_int_eq(probe(&c, "POST /readyz HTTP/1.1\r\nHost: t\r\n"
                               "Content-Length: 0\r\n\r\n", b, sizeof(b)),
                     405);
    atomic_store(&ready_answer, 0);
    ck_assert_int_eq(probe(&c, GET("/readyz"), b, sizeof(b)), 503);
    ck_assert_str_eq(b, "not ready: backend down\n");
    atomic_store(&ready_answer, 1);
    /* Not ready by decree: the check is not even asked. */
    gh_server_set_ready(srv, false);
    ck_assert_int_eq(probe(&c, GET("/readyz"), b, sizeof(b)), 503);
    ck_assert_str_eq(b, "not ready: draining\n");
    ck_assert_int_eq(atomic_load(&ready_calls), 2);
    ck_assert_int_eq(probe(&c, GET("/healthz"), b, sizeof(b)), 200);
    ck_assert_int_eq(probe(&c, GET("/hello"), b, sizeof(b)), 200);
    gh_server_set_ready(srv, true);
    ck_assert_int_eq(probe(&c, GET("/readyz"), b, sizeof(b)), 200);
    /* Only /hello reached the access log (health_log is false). */
    (void)acc_get(1, 0);
    ck_assert_int_eq(atomic_load(&acc_n), 1);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

START_TEST(health_paths_can_be_renamed_or_turned_off)
{
    gh_server_opts_t o;
    gh_server_t *bad;
    char b[128];
    hc_conn_t c;

    test_opts(&o);
    o.ready_path = "healthz"; /* not a path */
    ck_assert_int_eq(gh_server_new(&bad, &o, gh_router_serve, NULL),
                     GH_EINVAL);
    test_opts(&o);
    o.health_path = NULL;
    o.ready_path = "/lb/ready";
    srv_start(&o);
    cli(&c);
    ck_assert_int_eq(probe(&c, GET("/healthz"), b, sizeof(b)), 404);
    ck_assert_int_eq(probe(&c, GET("/readyz"), b, sizeof(b)), 404);
    ck_assert_int_eq(probe(&c, GET("/lb/ready"), b, sizeof(b)), 200);
    hc_close(&c);
    ck_assert_int_eq(srv_stop(), 0);
}
END_TEST

static Suite *http_server_suite(void)
{
    Suite *s = suite_create("http_server");
    TCase *tc;

    tc = tcase(s, "connections", 20);
    tcase_add_test(tc, keepalive_serves_1000_requests_on_one_connection);
    tcase_add_test(tc, last_request_with_more_pipelined_closes_without_a_reset);
    tcase_add_test(tc, absolute_form_target_gives_path_query_and_host);
    tcase_add_test(tc, trailers_are_bounded_like_headers);
    tcase_add_test(tc, body_timeout_starts_when_the_head_ends);
    tcase_add_test(tc, client_closing_mid_body_is_a_400_not_a_500);
    tcase_add_test(tc, responses_carry_the_date_in_imf_fixdate);
    tcase_add_test(tc, pipelined_requests_are_answered_in_order_in_few_writes);
    tcase_add_test(tc, http10_closes_unless_keepalive_asked);

    tc = tcase(s, "bodies", 10);
    tcase_add_test(tc, chunked_upload_is_dechunked_with_trailer);
    tcase_add_test(tc, expect_100_continue_is_sent_when_handler_reads);
    tcase_add_test(tc, expect_100_continue_is_not_sent_when_handler_refuses);
    tcase_add_test(tc, large_body_is_echoed_through_a_small_buffer);
    tcase_add_test(tc, pipelined_bodies_and_large_heads_stay_in_sync);
    tcase_add_test(tc, unread_body_over_discard_limit_closes_after_response);
    tcase_add_test(tc, big_head_with_body_keeps_path_valid);
    tcase_add_test(tc, big_head_with_body_keeps_query_valid);

    tc = tcase(s, "limits", 10);
    tcase_add_loop_test(tc, bad_request_gets_its_status_and_a_close, 0,
                        (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(tc, requests_exactly_at_the_limits_are_served);
    tcase_add_test(tc, a_refused_upload_is_drained_within_the_linger_bounds);

    tc = tcase(s, "slow clients", 15);
    tcase_add_test(tc, slowloris_head_is_cut_at_header_timeout);
    tcase_add_test(tc, slow_body_times_out_with_408);
    tcase_add_test(tc, client_that_never_reads_gets_write_timeout);
    tcase_add_test(tc,
                   write_rate_counts_what_the_client_took_not_what_was_queued);

    tc = tcase(s, "failures", 10);
    tcase_add_test(tc, client_disconnect_cancels_request_context);
    tcase_add_test(tc, handler_panic_gives_500_and_server_keeps_serving);
    tcase_add_test(tc, handler_panic_mid_stream_cuts_the_connection);
    tcase_add_test(tc, handler_holding_its_worker_is_reported_with_its_request);

    tc = tcase(s, "hostile clients", 60);
    tcase_add_test(tc,
                   mutated_requests_get_well_formed_answers_and_leak_nothing);

    tc = tcase(s, "shutdown", 10);
    tcase_add_test(tc, shutdown_finishes_inflight_and_closes_idle);
    tcase_add_test(tc, shutdown_past_deadline_cancels_handler_context);

    tc = tcase(s, "emfile", 15);
    tcase_add_test(tc, emfile_backs_off_without_spinning_and_recovers);

    tc = tcase(s, "responses", 10);
    tcase_add_test(tc, response_api_misuse_is_refused);
    tcase_add_test(tc, response_headers_follow_the_rules);
    tcase_add_test(tc, head_gets_length_but_no_body);
    tcase_add_test(tc, stats_histogram_counts_every_response_by_latency);
    tcase_add_test(tc, streamed_response_is_chunked_or_close_delimited);

    tc = tcase(s, "idle", 15);
    tcase_add_test(tc, idle_connections_hold_no_goroutine);
    tcase_add_test(tc, idle_keepalive_connection_closes_after_idle_timeout);
    tcase_add_test(tc, silent_new_connection_closes_after_header_timeout);
    tcase_add_test(tc, max_conns_defers_accepting_until_one_closes);

    tc = tcase(s, "routing", 10);
    tcase_add_test(tc, router_answers_404_405_and_binds_params);
    tcase_add_test(tc, unix_socket_listener_serves_requests);
    tcase_add_test(tc, unix_socket_file_gets_mode_and_a_live_one_is_kept);
    tcase_add_test(tc, shared_listener_is_left_listening_by_shutdown);
    tcase_add_test(tc, tcp_connections_get_the_notsent_low_water_mark);

    tc = tcase(s, "health", 10);
    tcase_add_test(tc, health_and_readiness_are_answered_by_the_server);
    tcase_add_test(tc, health_paths_can_be_renamed_or_turned_off);

    tc = tcase(s, "reload", 10);
    tcase_add_test(tc, update_applies_to_new_sessions_and_spares_open_ones);
    tcase_add_test(tc, listen_after_start_serves_at_once);
    tcase_add_test(tc, listener_close_stops_accepting_but_keeps_its_connections);
    tcase_add_test(tc, listener_close_before_start_and_listen_after_shutdown);

    tc = tcase(s, "access log", 10);
    tcase_add_test(tc, access_log_reports_each_response_once);
    tcase_add_loop_test(tc, access_log_reports_refused_requests, 0,
                        (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(tc, access_log_reports_a_head_timeout);
    return s;
}

GH_CHECK_MAIN(http_server_suite)
