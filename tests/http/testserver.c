/*
 * testserver.c - a small HTTP server on libgohttpd for the integration
 * tests and the benchmarks.
 *
 *   testserver [-l ADDR] [-p PORTFILE] [-w WORKERS] [-g GRACE_MS]
 *              [-o name=value ...]
 *
 * Listens on ADDR (default 127.0.0.1:0), writes the port it got to
 * PORTFILE once it is serving, and runs until SIGTERM or SIGINT, then shuts
 * down gracefully within GRACE_MS (default 5000) and exits 0 (3 if it had
 * to cut connections).  -o sets a server option, in milliseconds for
 * timeouts: max_target, max_header_bytes, max_headers, max_body,
 * header_timeout, body_timeout, body_min_rate, write_timeout,
 * write_min_rate, idle_timeout, max_conns, max_requests, linger_timeout,
 * linger_bytes, server_header ("" for none).
 *
 * Routes:
 *   GET  /plaintext        "Hello, World!" (the benchmark response)
 *   *    /echo             the request body back, with its length; the
 *                          trailer "X-Sum" echoed as a header if sent
 *   GET  /sleep?ms=N       sleeps N ms, then answers "slept"
 *   GET  /panic            panics
 *   GET  /stream?n=N       N chunks of "chunk i\n", streamed
 *   GET  /big?kb=N         N KiB of 'x', with Content-Length
 *   GET  /ctx              waits until its context is cancelled, then
 *                          counts it; /ctx/count returns the count
 *   GET  /users/{id}       "user <id>"
 *   GET  /stats            the server's counters
 *   GET  /header?name=N    the value of request header N
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gohttpd.h>

static _Atomic int ctx_cancelled;
static gh_server_t *server;

static int text(gh_resp_t *resp, const char *s)
{
    gh_resp_header_set(resp, "Content-Type", "text/plain");
    return gh_resp_send(resp, s, strlen(s));
}

static int plaintext(void *u, gh_req_t *req, gh_resp_t *resp)
{
    gh_resp_header_set(resp, "Content-Type", "text/plain");
    return gh_resp_send(resp, "Hello, World!", 13);
}

static int echo(void *u, gh_req_t *req, gh_resp_t *resp)
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

static long qnum(gh_req_t *req, const char *name, long dflt)
{
    const char *v = gh_req_query_param(req, name);

    return v ? strtol(v, NULL, 10) : dflt;
}

static int sleeper(void *u, gh_req_t *req, gh_resp_t *resp)
{
    gh_sleep(qnum(req, "ms", 100) * GH_MILLISECOND);
    return text(resp, "slept");
}

static int panicker(void *u, gh_req_t *req, gh_resp_t *resp)
{
    gh_panic("test panic in %s", gh_req_path(req));
}

static int stream(void *u, gh_req_t *req, gh_resp_t *resp)
{
    long n = qnum(req, "n", 3);
    char line[64];

    for (long i = 0; i < n; i++) {
        int len = snprintf(line, sizeof(line), "chunk %ld\n", i);
        if (gh_resp_write(resp, line, (size_t)len) < 0)
            return GH_EIO;
        if (gh_resp_flush(resp) < 0)
            return GH_EIO;
    }
    return 0;
}

static int big(void *u, gh_req_t *req, gh_resp_t *resp)
{
    size_t len = (size_t)qnum(req, "kb", 1024) * 1024;
    char *b = gh_req_alloc(req, len);
    if (!b)
        return GH_ENOMEM;
    memset(b, 'x', len);
    return gh_resp_send(resp, b, len);
}

static int ctx_wait(void *u, gh_req_t *req, gh_resp_t *resp)
{
    gh_ctx_t *ctx = gh_req_ctx(req);
    int v;

    gh_chan_recv(gh_ctx_done(ctx), &v);
    atomic_fetch_add(&ctx_cancelled, 1);
    return text(resp, "cancelled");
}

static int ctx_count(void *u, gh_req_t *req, gh_resp_t *resp)
{
    char b[32];

    snprintf(b, sizeof(b), "%d", atomic_load(&ctx_cancelled));
    return text(resp, b);
}

static int user(void *u, gh_req_t *req, gh_resp_t *resp)
{
    char b[300];

    snprintf(b, sizeof(b), "user %s", gh_req_param(req, "id"));
    return text(resp, b);
}

static int stats(void *u, gh_req_t *req, gh_resp_t *resp)
{
    gh_server_stats_t st;
    char b[512];

    gh_server_stats(server, &st);
    snprintf(b, sizeof(b),
             "open %llu\nidle %llu\ntotal %llu\nrequests %llu\n"
             "2xx %llu\n4xx %llu\n5xx %llu\naccept_pauses %llu\n"
             "timeouts %llu\n",
             (unsigned long long)st.conns_open,
             (unsigned long long)st.conns_idle,
             (unsigned long long)st.conns_total,
             (unsigned long long)st.requests,
             (unsigned long long)st.status[2],
             (unsigned long long)st.status[4],
             (unsigned long long)st.status[5],
             (unsigned long long)st.accept_pauses,
             (unsigned long long)st.timeouts);
    return text(resp, b);
}

static int header(void *u, gh_req_t *req, gh_resp_t *resp)
{
    const char *name = gh_req_query_param(req, "name");
    const char *v = name ? gh_req_header(req, name) : NULL;

    return v ? text(resp, v) : 404;
}

static int set_opt(gh_server_opts_t *o, const char *kv)
{
    const char *eq = strchr(kv, '=');
    long long v;

    if (!eq)
        return -1;
    if (strncmp(kv, "server_header=", 14) == 0) {
        o->server_header = eq[1] ? eq + 1 : NULL;
        return 0;
    }
    v = strtoll(eq + 1, NULL, 10);
#define MS(f)                                                              \
    if (strncmp(kv, #f "=", sizeof(#f)) == 0) {                            \
        o->f = v * GH_MILLISECOND;                                         \
        return 0;                                                          \
    }
#define N(f)                                                               \
    if (strncmp(kv, #f "=", sizeof(#f)) == 0) {                            \
        o->f = (__typeof__(o->f))v;                                        \
        return 0;                                                          \
    }
    MS(header_timeout) MS(body_timeout) MS(write_timeout) MS(idle_timeout)
    N(max_target) N(max_header_bytes) N(max_headers) N(max_body)
    N(body_min_rate) N(write_min_rate) N(max_conns) N(max_requests)
    MS(linger_timeout) N(linger_bytes)
    return -1;
}

static gh_router_t *routes(void)
{
    gh_router_t *r = gh_router_new();

    if (!r)
        return NULL;
    gh_router_add(r, "GET", "/plaintext", plaintext, NULL);
    gh_router_add(r, NULL, "/echo", echo, NULL);
    gh_router_add(r, "GET", "/sleep", sleeper, NULL);
    gh_router_add(r, "GET", "/panic", panicker, NULL);
    gh_router_add(r, "GET", "/stream", stream, NULL);
    gh_router_add(r, "GET", "/big", big, NULL);
    gh_router_add(r, "GET", "/ctx", ctx_wait, NULL);
    gh_router_add(r, "GET", "/ctx/count", ctx_count, NULL);
    gh_router_add(r, "GET", "/users/{id}", user, NULL);
    gh_router_add(r, "GET", "/stats", stats, NULL);
    gh_router_add(r, "GET", "/header", header, NULL);
    return r;
}

static int usage(void)
{
    fprintf(stderr, "usage: testserver [-l addr] [-p portfile] [-w workers]"
                    " [-g grace_ms] [-o name=value]...\n");
    return 2;
}

static int write_port(const char *file, int idx)
{
    struct sockaddr_storage ss;
    socklen_t len;
    FILE *f;
    int port = 0;

    if (gh_server_addr(server, idx, &ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    if (!(f = fopen(file, "w")))
        return -1;
    fprintf(f, "%d\n", port);
    return fclose(f);
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1:0", *portfile = NULL;
    long grace = 5000;
    gh_server_opts_t o;
    gh_router_t *r;
    sigset_t sigs;
    int c, sig, idx, rc;

    gh_server_opts_init(&o);
    while ((c = getopt(argc, argv, "l:p:w:g:o:")) != -1) {
        switch (c) {
        case 'l': addr = optarg; break;
        case 'p': portfile = optarg; break;
        case 'w': gh_set_workers(atoi(optarg)); break;
        case 'g': grace = atol(optarg); break;
        case 'o':
            if (set_opt(&o, optarg) < 0)
                return usage();
            break;
        default: return usage();
        }
    }
    /* Signals are taken here, by sigwait, not by the workers. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!(r = routes()) || (rc = gh_server_new(&server, &o, gh_router_serve, r)) < 0) {
        fprintf(stderr, "testserver: cannot create the server\n");
        return 1;
    }
    if ((idx = gh_server_listen(server, addr, NULL)) < 0) {
        fprintf(stderr, "testserver: listen %s: %s\n", addr, gh_strerror(idx));
        return 1;
    }
    if ((rc = gh_server_start(server)) < 0 ||
        (portfile && write_port(portfile, idx) < 0)) {
        fprintf(stderr, "testserver: start: %s\n", gh_strerror(rc));
        return 1;
    }
    sigwait(&sigs, &sig);
    rc = gh_server_shutdown(server, gh_deadline_in(grace * GH_MILLISECOND));
    gh_server_free(server);
    gh_router_free(r);
    return rc == 0 ? 0 : 3;
}
