/*
 * kvload.c - a load and consistency check for the kv handler plugin, run
 * by tests/integration/daemon-kv.sh against a real gohttpd.
 *
 *     kvload PORT [CLIENTS [ROUNDS]]        (defaults: 100 clients, 20 rounds)
 *
 * Every client is a goroutine with its own keep-alive connection to
 * 127.0.0.1:PORT.  All of them connect first and start together, so the
 * server really has CLIENTS connections and requests in flight at once
 * (curl in a shell loop pays a process per request and rarely overlaps
 * that much).  In round r a client
 *
 *   PUTs "v<client>-<r>" to its key c<client>-k<r % 3> (201 the first
 *   time, 204 after), GETs it back (exactly that value, since no one else
 *   writes it), and POSTs 1 to the shared counter shared-<r % 4>;
 *
 * a 503 ("busy, try again") is retried after a short sleep, and counted.
 * At the end each client reads its three keys back (the last value it
 * wrote to each), and the main thread checks that each shared counter
 * holds exactly the number of increments sent to it (no update lost, none
 * applied twice) and that the store's listing holds every key and nothing
 * else.  Exit status: 0 when all of it holds, 1 otherwise (the first
 * failures are printed), 2 for bad arguments.  Every wait has a deadline.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gohttpd.h>

enum { KEYS = 3, COUNTERS = 4, MAX_RETRIES = 200, BUF = 8192 };

#define IO_TIMEOUT (10 * GH_SECOND)

static struct sockaddr_in server;
static int nclients = 100, rounds = 20;
static atomic_int failures, retries, requests;
static gh_chan_t *start; /* closed when every client is connected */
static gh_waitgroup_t connected = GH_WAITGROUP_INIT,
                      finished = GH_WAITGROUP_INIT;

/* One keep-alive connection. */
typedef struct conn {
    int fd;
    char buf[BUF]; /* bytes read: buf[0 .. len) */
    size_t len;
} conn_t;

/* One response; body is NUL-terminated, malloc'd (resp_free). */
typedef struct resp {
    int status;
    char *body;
    size_t body_len;
} resp_t;

static void resp_free(resp_t *r)
{
    free(r->body);
    r->body = NULL;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;

    if (atomic_fetch_add(&failures, 1) >= 10)
        return; /* the first ten say enough */
    va_start(ap, fmt);
    fputs("kvload: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int conn_open(conn_t *c)
{
    int rc;

    c->len = 0;
    if ((c->fd = gh_socket(AF_INET, SOCK_STREAM, 0)) < 0)
        return c->fd;
    rc = gh_connect(c->fd, (struct sockaddr *)&server, sizeof(server),
                    gh_deadline_in(IO_TIMEOUT));
    if (rc < 0) {
        gh_close(c->fd);
        c->fd = -1;
    }
    return rc;
}

/* Read until buf holds a whole head: 0 or GH_E*. */
static int fill_head(conn_t *c)
{
    while (!memmem(c->buf, c->len, "\r\n\r\n", 4)) {
        ssize_t r;
        if (c->len == sizeof(c->buf))
            return GH_EMSGSIZE;
        r = gh_read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len,
                    gh_deadline_in(IO_TIMEOUT));
        if (r <= 0)
            return r < 0 ? (int)r : GH_ECONNRESET;
        c->len += (size_t)r;
    }
    return 0;
}

/* The body: what buf holds past the head, then straight from the socket. */
static int read_body(conn_t *c, size_t head, resp_t *r)
{
    size_t have = c->len - head < r->body_len ? c->len - head : r->body_len;

    if (!(r->body = malloc(r->body_len + 1)))
        return GH_ENOMEM;
    memcpy(r->body, c->buf + head, have);
    memmove(c->buf, c->buf + head + have, c->len - head - have);
    c->len -= head + have;
    while (have < r->body_len) {
        ssize_t n = gh_read(c->fd, r->body + have, r->body_len - have,
                            gh_deadline_in(IO_TIMEOUT));
        if (n <= 0)
            return n < 0 ? (int)n : GH_ECONNRESET;
        have += (size_t)n;
    }
    r->body[have] = '\0';
    return 0;
}

/* Parse the response at the front of buf and drop it from there.  Bodies
 * are framed by Content-Length: kv always sends one. */
static int read_resp(conn_t *c, resp_t *r, bool *close_after)
{
    char *end, *cl;
    int rc;

    if ((rc = fill_head(c)) < 0)
        return rc;
    end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    *end = '\0';
    if (sscanf(c->buf, "HTTP/1.%*d %d", &r->status) != 1)
        return GH_EINVAL;
    cl = strcasestr(c->buf, "\r\nContent-Length:");
    r->body_len = cl ? strtoul(cl + 17, NULL, 10) : 0;
    *close_after = strcasestr(c->buf, "\r\nConnection: close") != NULL;
    return read_body(c, (size_t)(end - c->buf) + 4, r);
}

/* One exchange; a connection the server closed is opened again. */
static int exchange(conn_t *c, const char *method, const char *path,
                    const char *body, resp_t *r)
{
    char req[512];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: kvload\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, path, blen, body ? body : "");
    bool close_after = false;
    int rc;

    *r = (resp_t){0};
    if (c->fd < 0 && (rc = conn_open(c)) < 0)
        return rc;
    atomic_fetch_add(&requests, 1);
    if ((rc = (int)gh_write_all(c->fd, req, (size_t)n,
                                gh_deadline_in(IO_TIMEOUT))) < 0 ||
        (rc = read_resp(c, r, &close_after)) < 0 || close_after) {
        gh_close(c->fd);
        c->fd = -1;
    }
    return rc < 0 ? rc : 0;
}

/* exchange(), retrying while the server says 503: the status, or GH_E*. */
static int request(conn_t *c, const char *method, const char *path,
                   const char *body, resp_t *r)
{
    for (int i = 0; i < MAX_RETRIES; i++) {
        int rc = exchange(c, method, path, body, r);
        if (rc < 0)
            return rc;
        if (r->status != 503)
            return r->status;
        resp_free(r);
        atomic_fetch_add(&retries, 1);
        gh_sleep(5 * GH_MILLISECOND);
    }
    return 503;
}

/* request(), and complain unless the status is want (or want2).  The
 * caller frees *r either way. */
static bool expect(conn_t *c, const char *method, const char *path,
                   const char *body, resp_t *r, int want, int want2)
{
    int st = request(c, method, path, body, r);

    if (st == want || st == want2)
        return true;
    if (st < 0)
        fail("%s %s: %s", method, path, gh_strerror(st));
    else
        fail("%s %s: status %d, expected %d (body: %.80s)", method, path, st,
             want, r->body ? r->body : "");
    return false;
}

/* GET path and compare its body with want. */
static bool check_body(conn_t *c, const char *path, const char *want,
                       const char *what)
{
    resp_t r;
    bool ok = expect(c, "GET", path, NULL, &r, 200, 200);

    if (ok && strcmp(r.body, want) != 0) {
        fail("GET %s gave \"%.80s\", expected %s \"%.80s\"", path, r.body, what,
             want);
        ok = false;
    }
    resp_free(&r);
    return ok;
}

/* One operation of a round: PUT, or POST, with the status it must get. */
static bool update(conn_t *c, const char *method, const char *path,
                   const char *body, int want, int want2)
{
    resp_t r;
    bool ok = expect(c, method, path, body, &r, want, want2);

    resp_free(&r);
    return ok;
}

/* The rounds: false after the first failure (it was reported). */
static bool client_rounds(conn_t *c, int id, char last[KEYS][32])
{
    char path[64];

    for (int i = 0; i < rounds; i++) {
        int k = i % KEYS;
        snprintf(path, sizeof(path), "/kv/c%d-k%d", id, k);
        snprintf(last[k], 32, "v%d-%d", id, i);
        /* 201 exactly when the key is new: the first round that uses it */
        if (!update(c, "PUT", path, last[k], i < KEYS ? 201 : 204, 0) ||
            !check_body(c, path, last[k], "what this client wrote"))
            return false;
        snprintf(path, sizeof(path), "/kv/shared-%d", i % COUNTERS);
        if (!update(c, "POST", path, NULL, 200, 201))
            return false;
    }
    return true;
}

static void client(void *arg)
{
    int id = (int)(intptr_t)arg;
    char last[KEYS][32], path[64];
    conn_t *c = malloc(sizeof(*c));

    if (!c || conn_open(c) < 0) {
        fail("client %d: cannot connect", id);
        gh_waitgroup_done(&connected);
        goto out;
    }
    gh_waitgroup_done(&connected);
    gh_chan_recv(start, NULL); /* closed: everyone is connected, go */
    if (client_rounds(c, id, last)) {
        for (int k = 0; k < KEYS && k < rounds; k++) {
            snprintf(path, sizeof(path), "/kv/c%d-k%d", id, k);
            check_body(c, path, last[k], "what this client wrote last");
        }
    }
    if (c->fd >= 0)
        gh_close(c->fd);
out:
    free(c);
    gh_waitgroup_done(&finished);
}

/* Each shared counter got one increment from every client in each round
 * i with i % COUNTERS == n. */
static void check_counters(conn_t *c)
{
    char path[64], want[32];

    for (int n = 0; n < COUNTERS && n < rounds; n++) {
        long per_client = (rounds - n + COUNTERS - 1) / COUNTERS;
        snprintf(path, sizeof(path), "/kv/shared-%d", n);
        snprintf(want, sizeof(want), "%ld", per_client * nclients);
        check_body(c, path, want, "the number of increments sent");
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The listing, one key a line, sorted as the server sorts (strcmp). */
static char *expected_listing(void)
{
    int nk = rounds < KEYS ? rounds : KEYS;
    int nc = rounds < COUNTERS ? rounds : COUNTERS;
    size_t n = 0, total = (size_t)nclients * (size_t)nk + (size_t)nc;
    char **keys = calloc(total, sizeof(*keys)), *out, *p;

    if (!keys || !(out = p = malloc(total * 32 + 1)))
        abort();
    for (int id = 0; id < nclients; id++)
        for (int k = 0; k < nk; k++)
            asprintf(&keys[n++], "c%d-k%d", id, k);
    for (int i = 0; i < nc; i++)
        asprintf(&keys[n++], "shared-%d", i);
    qsort(keys, n, sizeof(*keys), cmp_str);
    *p = '\0';
    for (size_t i = 0; i < n; i++) {
        p += sprintf(p, "%s\n", keys[i]);
        free(keys[i]);
    }
    free(keys);
    return out;
}

static void check_store(void)
{
    char *want = expected_listing();
    conn_t *c = malloc(sizeof(*c));

    if (!c || conn_open(c) < 0) {
        fail("cannot connect for the final checks");
    } else {
        check_counters(c);
        check_body(c, "/kv/", want, "every key written");
        gh_close(c->fd);
    }
    free(c);
    free(want);
}

static bool parse_args(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;

    if (argc < 2 || argc > 4 || port <= 0 || port > 65535)
        return false;
    if (argc > 2)
        nclients = atoi(argv[2]);
    if (argc > 3)
        rounds = atoi(argv[3]);
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)port);
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return nclients > 0 && nclients <= 10000 && rounds > 0;
}

int main(int argc, char **argv)
{
    int64_t t0;

    if (!parse_args(argc, argv)) {
        fprintf(stderr, "usage: kvload PORT [CLIENTS [ROUNDS]]\n");
        return 2;
    }
    if (!(start = gh_chan_new(0, 0)))
        return 1;
    gh_waitgroup_add(&connected, nclients);
    gh_waitgroup_add(&finished, nclients);
    for (int i = 0; i < nclients; i++)
        if (gh_go(client, (void *)(intptr_t)i) < 0)
            return fail("cannot start client %d", i), 1;
    gh_waitgroup_wait(&connected);
    t0 = gh_now();
    gh_chan_close(start);
    gh_waitgroup_wait(&finished);
    check_store();
    printf("kvload: %d clients x %d rounds, %d connected at once: %d "
           "requests in %.2f s, %d retried after 503, %d failures\n",
           nclients, rounds, nclients, atomic_load(&requests),
           (double)(gh_now() - t0) / (double)GH_SECOND, atomic_load(&retries),
           atomic_load(&failures));
    gh_chan_free(start);
    return atomic_load(&failures) ? 1 : 0;
}
