/*
 * kv.c - the "kv" handler plugin: a small in-memory key-value store, and
 * the worked example of the backend-worker pattern (gohttpd-plugin(3),
 * THE BACKEND-WORKER PATTERN).
 *
 *     route /kv/ {
 *         handler   kv;
 *         workers   4;
 *         queue     64;
 *         timeout   2s;
 *     }
 *
 * The design in one paragraph: a fixed pool of worker goroutines owns the
 * data, each worker one shard, chosen by the key's hash; a request never
 * touches the data, it sends the owning worker a job and waits for the
 * reply, for its client and for a timeout.  No lock guards the data, a
 * full queue answers 503 at once, and a request that stops waiting leaves
 * nothing behind.  kv_pool.c has the workers and the job protocol (read
 * its top comment first); this file speaks HTTP around them.
 *
 * Settings (all optional):
 *
 *   workers N          worker goroutines, one shard each   (default: 4)
 *   queue N            jobs each worker's channel buffers; a request
 *                      that finds its worker's queue full gets 503
 *                      (0: only an idle worker takes a job) (default: 64)
 *   timeout DURATION   how long a request waits for its worker; then 504
 *                                                           (default: 2s)
 *   max_key SIZE       the longest key; longer gets 414     (default: 256)
 *   max_value SIZE     the largest value; larger gets 413   (default: 64k)
 *                      (the daemon's max_body bounds it too)
 *   max_keys N         keys in the whole store; a new key beyond that
 *                      gets 507                         (default: 100000)
 *   delay DURATION     FOR TESTS ONLY: a worker sleeps this long before
 *                      each job, so tests can fill queues and run into
 *                      the timeout                          (default: 0)
 *
 * Requests.  The key is the rest of the path after the route's prefix
 * ("/kv/a/b" is the key "a/b"), percent-decoded; it must not be empty or
 * hold control characters (400).
 *
 *   GET, HEAD /kv/KEY   200 and the value, or 404
 *   PUT /kv/KEY         store the body: 201 (a new key) or 204
 *   DELETE /kv/KEY      204, or 404
 *   POST /kv/KEY        add the integer in the body (empty: 1) to the
 *                      integer stored (absent: 0), atomically: 200 (201
 *                      for a new key) and the sum, or 409 when the value
 *                      is no integer or the sum overflows an int64
 *   GET, HEAD /kv/      every key, sorted: one a line, or a JSON array
 *   anything else       405 with Allow
 *
 * A value is text/plain; with "Accept: application/json" or
 * "?format=json" it is {"key": ..., "value": ...} (?format=text forces
 * text).  Errors are one text/plain line starting "kv: "; 503 carries
 * Retry-After.  Nothing may be cached: Cache-Control: no-store.
 *
 * The data lives in the route's instance: a reload starts an empty store
 * (the old one is freed once its last request is done), and a stop frees
 * it ("kv: N keys freed" in the error log, at info; at debug for none).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "accept.h"
#include "kv.h"

/* One request, as the functions below see it.  They return 0 once the
 * response is sent, a status >= 400 with why set (serve sends it), or a
 * negative GH_E* (the server answers 500). */
typedef struct call {
    gh__kv_t *kv;
    gh_req_t *req;
    gh_resp_t *resp;
    bool json;       /* answer in JSON */
    const char *key; /* decoded; "" for the store itself */
    size_t klen;
    char why[160]; /* the error line, without "kv: " */
} call_t;

static const struct {
    const char *name;
    gh__kv_op_t op;
} methods[] = {
    {"GET", GH__KV_GET},       {"HEAD", GH__KV_GET},  {"PUT", GH__KV_PUT},
    {"DELETE", GH__KV_DELETE}, {"POST", GH__KV_INCR},
};
#define ALLOW_KEY "GET, HEAD, PUT, DELETE, POST"
#define ALLOW_STORE "GET, HEAD"

/* ---- settings -------------------------------------------------------- */

static int read_settings(const gh_conf_section_t *conf, gh__kv_conf_t *c)
{
    int rc;

    if ((rc = gh_conf_get_int(conf, "workers", 4, 1, 1024, &c->workers)) ||
        (rc = gh_conf_get_int(conf, "queue", 64, 0, 1 << 20, &c->queue)) ||
        (rc = gh_conf_get_duration(conf, "timeout", 2 * GH_SECOND,
                                   &c->timeout)) ||
        (rc = gh_conf_get_size(conf, "max_key", 256, &c->max_key)) ||
        (rc = gh_conf_get_size(conf, "max_value", 64 << 10, &c->max_value)) ||
        (rc = gh_conf_get_int(conf, "max_keys", 100000, 1, 1000000000,
                              &c->max_keys)) ||
        (rc = gh_conf_get_duration(conf, "delay", 0, &c->delay)))
        return rc;
    if (c->timeout <= 0)
        return gh_conf_errorf(conf, gh_conf_find(conf, "timeout"),
                              "timeout: must be longer than 0");
    if (c->max_key < 1 || c->max_key > 65536)
        return gh_conf_errorf(conf, gh_conf_find(conf, "max_key"),
                              "max_key: must be from 1 to 64k");
    if (c->max_value > (1u << 30))
        return gh_conf_errorf(conf, gh_conf_find(conf, "max_value"),
                              "max_value: must be at most 1g");
    return 0;
}

/* A seed the clients cannot guess, for the hash (see kv_table.c). */
static uint64_t random_seed(const void *salt)
{
    uint64_t seed;

    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
        seed = (uint64_t)gh_now() ^ (uint64_t)(uintptr_t)salt;
    return seed;
}

static int kv_init(const gh_conf_section_t *conf, void **state)
{
    gh__kv_t *kv = calloc(1, sizeof(*kv));
    int rc;

    if (!kv)
        return GH_ENOMEM;
    kv->seed = random_seed(kv);
    if ((rc = read_settings(conf, &kv->conf)) || (rc = gh__kv_pool_start(kv))) {
        free(kv);
        return rc;
    }
    if (kv->conf.delay > 0)
        gh_log(GH_LOG_WARN,
               "kv: delay is set: every job waits %lld ms "
               "(a setting for tests)",
               (long long)(kv->conf.delay / GH_MILLISECOND));
    gh_log(GH_LOG_DEBUG, "kv: %lld workers, queues of %lld, timeout %lld ms",
           (long long)kv->conf.workers, (long long)kv->conf.queue,
           (long long)(kv->conf.timeout / GH_MILLISECOND));
    *state = kv;
    return 0;
}

/* No request runs any more: stop the workers, then free the data. */
static void kv_fini(void *state)
{
    gh__kv_t *kv = state;
    size_t n = gh__kv_pool_stop(kv);

    /* An empty store (gohttpd -t, a route nobody used) is not news. */
    gh_log(n ? GH_LOG_INFO : GH_LOG_DEBUG, "kv: %zu key%s freed", n,
           n == 1 ? "" : "s");
    free(kv);
}

/* ---- answers --------------------------------------------------------- */

/* Record why the request fails; returns status, for `return reject()`. */
static int reject(call_t *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int reject(call_t *c, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    return status;
}

static int answer(call_t *c, int status, const char *ctype, const void *body,
                  size_t len)
{
    int rc;

    if ((rc = gh_resp_status(c->resp, status)) < 0 ||
        (rc = gh_resp_header_set(c->resp, "Cache-Control", "no-store")) < 0)
        return rc;
    if (ctype && (rc = gh_resp_header_set(c->resp, "Content-Type", ctype)))
        return rc;
    return gh_resp_send(c->resp, body, len);
}

static int send_error(call_t *c, int status)
{
    char line[sizeof(c->why) + 8];
    int n = snprintf(line, sizeof(line), "kv: %s\n", c->why);

    return answer(c, status, "text/plain; charset=utf-8", line, (size_t)n);
}

/* A value (GET) or a sum (POST), as text or as {"key":..,"value":..}. */
static int send_value(call_t *c, int status, const char *val, size_t len)
{
    gh__kv_buf_t b = {0};
    int rc;

    if (!c->json)
        return answer(c, status, "text/plain; charset=utf-8", val, len);
    gh__hbuf_puts(&b, "{\"key\":");
    gh__hbuf_json(&b, c->key, c->klen);
    gh__hbuf_puts(&b, ",\"value\":");
    gh__hbuf_json(&b, val, len);
    gh__hbuf_puts(&b, "}\n");
    rc = b.oom ? GH_ENOMEM : answer(c, status, "application/json", b.p, b.len);
    free(b.p);
    return rc;
}

/* The answer to a job the worker finished. */
static int respond(call_t *c, const gh__kv_job_t *j)
{
    bool created = j->result == GH__KV_CREATED;

    switch (j->result) {
    case GH__KV_MISSING:
        return reject(c, 404, "no such key");
    case GH__KV_FULL:
        return reject(c, 507, "the store is full (max_keys %lld)",
                      (long long)c->kv->conf.max_keys);
    case GH__KV_NAN:
        return reject(c, 409,
                      "the value is not an integer, or the sum "
                      "would overflow");
    case GH__KV_NOMEM:
        return GH_ENOMEM;
    default:
        break;
    }
    if (j->op == GH__KV_GET || j->op == GH__KV_INCR)
        return send_value(c, created ? 201 : 200, j->out, j->outlen);
    if (created)
        gh_resp_header_set(c->resp, "Location", gh_req_raw_path(c->req));
    return answer(c, created ? 201 : 204, NULL, NULL, 0);
}

/* ---- talking to the workers ------------------------------------------ */

static int submit(call_t *c, gh__kv_job_t *j)
{
    if (gh__kv_submit(c->kv, j) == 0)
        return 0;
    gh_resp_header_set(c->resp, "Retry-After", "1");
    return reject(c, 503, "busy, try again");
}

static int wait_for(call_t *c, gh__kv_job_t *j, int64_t deadline)
{
    int rc = gh__kv_wait(j, gh_req_ctx(c->req), deadline);

    if (rc == 0)
        return 0;
    if (rc == GH_ETIMEDOUT)
        return reject(c, 504, "timed out");
    /* Nobody may read the answer: the client left, or a stop is cutting
     * requests off.  Say so, for whoever wonders about the access log. */
    gh_log(GH_LOG_INFO, "kv: %s %s: request cancelled (%s)",
           gh_req_method(c->req), gh_req_raw_path(c->req), gh_strerror(rc));
    return reject(c, 503, "request cancelled");
}

/* The body of a PUT (the value) or a POST (the integer to add). */
static int read_body(call_t *c, gh__kv_op_t op, const char **body, size_t *len)
{
    size_t max = op == GH__KV_PUT ? c->kv->conf.max_value : 32;
    int64_t cl = gh_req_content_length(c->req);
    ssize_t n;

    *body = "";
    *len = 0;
    if (op != GH__KV_PUT && op != GH__KV_INCR)
        return 0;
    /* Refuse a declared length at once, before reading any of it. */
    n = cl > (int64_t)max ? GH_EMSGSIZE : gh_req_read_all(c->req, max, body);
    if (n == GH_EMSGSIZE)
        return reject(c, 413, "%s too large (at most %zu bytes)",
                      op == GH__KV_PUT ? "value" : "body", max);
    if (n < 0)
        return (int)n; /* the server answers a body it could not read */
    *len = (size_t)n;
    return 0;
}

/* INCR's addend: the body, a decimal integer (trailing newlines are
 * forgiven: `echo 5 | curl --data-binary @-`), or 1 when empty. */
static int parse_delta(call_t *c, const char *body, size_t len, int64_t *delta)
{
    while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r'))
        len--;
    *delta = 1;
    if (len > 0 && !gh__kv_parse_int(body, len, delta))
        return reject(c, 400, "the body of a POST must be an integer");
    return 0;
}

/* ---- requests -------------------------------------------------------- */

static int check_key(call_t *c)
{
    if (c->klen > c->kv->conf.max_key)
        return reject(c, 414, "key too long (at most %llu bytes)",
                      (unsigned long long)c->kv->conf.max_key);
    for (size_t i = 0; i < c->klen; i++)
        if ((unsigned char)c->key[i] < 0x20 || c->key[i] == 0x7f)
            return reject(c, 400, "a key must not hold control characters");
    return 0;
}

/* GET, PUT, DELETE ... on one key: one job, on the worker that owns it. */
static int serve_key(call_t *c, gh__kv_op_t op)
{
    gh__kv_job_t *j;
    const char *body;
    size_t len;
    int64_t delta = 0;
    int rc;

    if ((rc = check_key(c)) || (rc = read_body(c, op, &body, &len)) ||
        (op == GH__KV_INCR && (rc = parse_delta(c, body, len, &delta))))
        return rc;
    if (op != GH__KV_PUT)
        len = 0; /* only a PUT's body is a value */
    if (!(j = gh__kv_job_new(c->kv, op, c->key, c->klen, body, len)))
        return GH_ENOMEM;
    j->delta = delta;
    if ((rc = submit(c, j)) == 0 &&
        (rc = wait_for(c, j, gh_deadline_in(c->kv->conf.timeout))) == 0)
        rc = respond(c, j);
    gh__kv_job_release(j);
    return rc;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every key the LIST jobs brought back, sorted: a malloc'd array of *n
 * pointers into the jobs' buffers.  NULL when out of memory. */
static const char **sorted_keys(gh__kv_job_t **jobs, int njobs, size_t *n)
{
    const char **keys;
    size_t k = 0;

    *n = 0;
    for (int i = 0; i < njobs; i++)
        *n += jobs[i]->count;
    if (!(keys = malloc((*n ? *n : 1) * sizeof(*keys))))
        return NULL;
    for (int i = 0; i < njobs; i++) {
        const char *p = jobs[i]->out, *end = p + jobs[i]->outlen;
        for (; p < end && k < *n; p += strlen(p) + 1)
            keys[k++] = p;
    }
    qsort(keys, k, sizeof(*keys), cmp_keys);
    return keys;
}

/* The keys as lines or as a JSON array. */
static int send_list(call_t *c, gh__kv_job_t **jobs, int njobs)
{
    gh__kv_buf_t b = {0};
    size_t n;
    const char **keys = sorted_keys(jobs, njobs, &n);
    int rc = GH_ENOMEM;

    gh__hbuf_puts(&b, c->json ? "[" : "");
    for (size_t i = 0; keys && i < n; i++) {
        if (c->json) {
            gh__hbuf_puts(&b, i ? "," : "");
            gh__hbuf_json(&b, keys[i], strlen(keys[i]));
        } else {
            gh__hbuf_puts(&b, keys[i]);
            gh__hbuf_puts(&b, "\n");
        }
    }
    gh__hbuf_puts(&b, c->json ? "]\n" : "");
    if (keys && !b.oom)
        rc = answer(c, 200,
                    c->json ? "application/json" : "text/plain; charset=utf-8",
                    b.p, b.len);
    free(b.p);
    free(keys);
    return rc;
}

/* GET on the store itself: a LIST job for every worker at once (fan
 * out), then the answers, under one deadline (fan in). */
static int serve_list(call_t *c)
{
    int n = (int)c->kv->conf.workers, rc = 0, i;
    int64_t deadline = gh_deadline_in(c->kv->conf.timeout);
    gh__kv_job_t **jobs = gh_req_alloc(c->req, (size_t)n * sizeof(*jobs));

    if (!jobs)
        return GH_ENOMEM;
    for (i = 0; i < n && rc == 0; i++) {
        if (!(jobs[i] = gh__kv_job_new(c->kv, GH__KV_LIST, "", 0, NULL, 0))) {
            rc = GH_ENOMEM;
            break;
        }
        jobs[i]->worker = i;
        rc = submit(c, jobs[i]);
    }
    n = i; /* the jobs made: each is released below */
    for (i = 0; i < n && rc == 0; i++)
        rc = wait_for(c, jobs[i], deadline);
    for (i = 0; i < n && rc == 0; i++)
        if (jobs[i]->result == GH__KV_NOMEM)
            rc = GH_ENOMEM;
    if (rc == 0)
        rc = send_list(c, jobs, n);
    for (i = 0; i < n; i++)
        gh__kv_job_release(jobs[i]);
    return rc;
}

/* "?format=json|text" wins over Accept: JSON goes to a client whose
 * Accept names application/json and weighs it no less than text/plain
 * (plain text, the default, to one that takes anything). */
static int choose_format(call_t *c)
{
    const char *f = gh_req_query_param(c->req, "format");
    const char *accept = gh_req_header(c->req, "Accept");
    bool named;
    int q;

    if (f && strcmp(f, "json") != 0 && strcmp(f, "text") != 0)
        return reject(c, 400, "format must be json or text");
    if (f)
        c->json = strcmp(f, "json") == 0;
    else if (accept) {
        q = gh__accept_q(accept, "application/json", &named);
        c->json = named && q > 0 &&
                  q >= gh__accept_q(accept, "text/plain", NULL);
    }
    return 0;
}

static int kv_serve(void *state, gh_req_t *req, gh_resp_t *resp)
{
    call_t c = {.kv = state, .req = req, .resp = resp};
    const char *m = gh_req_method(req);
    int op = -1, rc;

    /* An exact route ("route /kv") has no "*": it is the store itself. */
    c.key = gh_req_param(req, "*");
    c.key = c.key ? c.key : "";
    c.klen = strlen(c.key);
    for (size_t i = 0; i < sizeof(methods) / sizeof(*methods); i++)
        if (strcmp(m, methods[i].name) == 0)
            op = (int)methods[i].op;
    if ((rc = choose_format(&c)) == 0) {
        if (op < 0 || (c.klen == 0 && op != GH__KV_GET)) {
            gh_resp_header_set(resp, "Allow", c.klen ? ALLOW_KEY : ALLOW_STORE);
            rc = reject(&c, 405, "%s is not allowed here", m);
        } else {
            rc = c.klen ? serve_key(&c, (gh__kv_op_t)op) : serve_list(&c);
        }
    }
    return rc >= 400 ? send_error(&c, rc) : rc;
}

static bool kv_ready(void *state, char *why, size_t len)
{
    return gh__kv_pool_ready(state, why, len);
}

GH_HANDLER_DEFINE("kv", kv_init, kv_serve, kv_fini, kv_ready);
