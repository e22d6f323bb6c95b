/*
 * serve.c - the connection goroutine: read, parse, call the handler, write,
 * and go idle.
 *
 * A connection goroutine lives only while there is something to do.  It
 * starts when the connection is accepted or its idle watch sees a byte,
 * reads what is there, and serves every complete request in the buffer, in
 * order, batching the responses to pipelined requests into one write.
 * When the buffer is empty and a non-blocking read finds nothing more, it
 * flushes, hands the connection to an fdwatch (gh__conn_idle) and ends: an
 * idle keep-alive connection costs its small gh__conn and nothing else.
 *
 * The input buffer starts on this goroutine's stack (IBUF bytes) and moves
 * to the heap only for a head that does not fit, up to the largest head the
 * limits allow.  Strings handed to a handler point into it, so it never
 * moves while a handler runs (room for the body is made before).  The
 * output batch is on the stack too.
 *
 * Every wait is bounded: the head by an absolute deadline from its first
 * byte (slowloris), the body and writes by deadlines that grow with a
 * minimum rate (request.c, response.c), an idle connection by the idle
 * timeout (its fdwatch).
 *
 * The goroutine loads the server's options once, as it starts: a
 * gh_server_update() applies from the next session on, and the requests of
 * one session (a pipelined batch, say) all see the same limits.  The
 * access log, when there is one, hears of each response right after it is
 * complete (gh__access_report); without one it costs a branch.  Each
 * response is counted (gh__count_response) with the one clock reading
 * taken at its end, which the access log reuses: the latency histogram
 * costs that reading and two atomic adds.
 *
 * On a listener with the PROXY protocol, the first session of a
 * connection reads its header before anything else (proxy_header): from
 * an allowed peer only, within the listener's deadline, into the same
 * input buffer, so the request bytes that came with it are kept.  A
 * refused connection is closed without an answer (whatever sent it does
 * not speak HTTP to us yet), and the refusals are logged once per
 * GH__PP_LOG_EVERY with the count of those not logged: a port scan must
 * not flood the error log.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>

#include "http/http_impl.h"
#include "http/proxy_proto.h"

#define IBUF 4096        /* the input buffer on the stack */
#define OBUF 4096        /* the output batch on the stack */
/* Header fields on the stack: as many as the default max_headers allows,
 * so that only a server configured for more mallocs them per connection
 * goroutine (which, with keep-alive, starts at every request). */
#define SFIELDS GH__HTTP_MAX_HEADERS
#define BODY_ROOM 4096   /* room for body reads before a handler runs */
/* ... and for a chunked body's trailers, which must fit whole: up to
 * max_header_bytes, but never more than this up front for each request,
 * whatever the configuration (the client has not sent a byte of them). */
#define TRAILER_ROOM_MAX (16 * 1024)
#define DISCARD_MAX (64 * 1024) /* unread body drained to keep alive */
#define PANIC_MSG 256

enum { RUN_IDLE = 0, RUN_CLOSE = -1 };

/* ---- the input buffer ---- */

static uint32_t head_max(const gh__server_cfg_t *cfg)
{
    return cfg->o.max_target + GH__HTTP_REQLINE_SLACK +
           cfg->o.max_header_bytes;
}

int gh__session_reserve(gh__session_t *ss, uint32_t need)
{
    uint32_t cap;
    char *nb;

    if (ss->cap - ss->len >= need)
        return 0;
    cap = ss->len + need;
    if (cap < ss->cap * 2)
        cap = ss->cap * 2;
    if (ss->heap) {
        if (!(nb = realloc(ss->buf, cap)))
            return GH_ENOMEM;
    } else {
        if (!(nb = malloc(cap)))
            return GH_ENOMEM;
        memcpy(nb, ss->buf, ss->len);
        ss->heap = true;
    }
    ss->buf = nb;
    ss->cap = cap;
    return 0;
}

ssize_t gh__session_fill(gh__session_t *ss, int64_t deadline)
{
    gh__conn_t *c = ss->c;
    ssize_t n;
    int rc;

    /* Whatever is batched goes out before this goroutine may wait. */
    if (ss->olen && (rc = gh__session_flush(ss)) < 0)
        return rc;
    n = c->ops->read(c, ss->buf + ss->len, ss->cap - ss->len, deadline);
    if (n > 0) {
        ss->len += (uint32_t)n;
        atomic_fetch_add_explicit(&ss->s->bytes_in, (uint64_t)n,
                                  memory_order_relaxed);
    }
    return n;
}

/* Drop the request just served from the buffer's front. */
static void session_compact(gh__session_t *ss, char *stack_buf)
{
    uint32_t off;

    gh__http_parser_next(&ss->p);
    off = gh__http_parser_offset(&ss->p);
    if (off == 0)
        return;
    ss->len -= off;
    if (ss->heap && ss->len <= IBUF) {
        memcpy(stack_buf, ss->buf + off, ss->len);
        free(ss->buf);
        ss->buf = stack_buf;
        ss->cap = IBUF;
        ss->heap = false;
    } else {
        memmove(ss->buf, ss->buf + off, ss->len);
    }
    gh__http_parser_drop(&ss->p, 0, off);
}

/* ---- the head ---- */

/*
 * With an empty buffer: one read that does not wait.  1 if bytes came,
 * RUN_IDLE if none are there, RUN_CLOSE at end of file or on an error.
 */
static int poll_input(gh__session_t *ss)
{
    /* A deadline in the past: no wait (the batch is flushed first). */
    ssize_t n = gh__session_fill(ss, 1);

    if (n > 0)
        return 1;
    if (n == GH_ETIMEDOUT && !ss->c->ops->pending(ss->c))
        return RUN_IDLE;
    return RUN_CLOSE;
}

static int head_timed_out(gh__session_t *ss)
{
    atomic_fetch_add(&ss->s->timeouts, 1);
    gh__resp_error(ss, 408);
    return RUN_CLOSE;
}

/* Parse the next head: 1 when it is complete, else RUN_IDLE / RUN_CLOSE
 * (an error was answered). */
static int read_head(gh__session_t *ss)
{
    const gh__server_cfg_t *cfg = ss->cfg;
    ssize_t n;
    int r;

    if (ss->len == 0) {
        /* After a response, an empty buffer almost always means the
         * client is reading it: go idle without a read that would only
         * say EAGAIN.  The watch (level-triggered) fires at once if a
         * request did arrive meanwhile. */
        if (ss->served && !ss->c->ops->pending(ss->c)) {
            if (ss->olen && gh__session_flush(ss) < 0)
                return RUN_CLOSE;
            return RUN_IDLE;
        }
        if ((r = poll_input(ss)) <= 0)
            return r;
    }
    ss->now = gh_now();
    ss->head_deadline = ss->now + cfg->o.header_timeout;
    for (;;) {
        r = gh__http_parse_head(&ss->p, ss->buf, ss->len);
        if (r == GH__HTTP_HEAD)
            return 1;
        if (r == GH__HTTP_ERROR) {
            gh__resp_error(ss, gh__http_parser_status(&ss->p));
            return RUN_CLOSE;
        }
        if (ss->len == ss->cap) {
            /* The parser refuses heads over the limits before this. */
            if (ss->cap >= head_max(cfg) + 2 ||
                gh__session_reserve(ss, head_max(cfg) + 2 - ss->len) < 0) {
                gh__resp_error(ss, 431);
                return RUN_CLOSE;
            }
        }
        n = gh__session_fill(ss, ss->head_deadline);
        if (n == GH_ETIMEDOUT)
            return head_timed_out(ss);
        if (n <= 0)
            return RUN_CLOSE; /* gone mid-head: nobody to answer */
    }
}

/* ---- the PROXY protocol header ---- */

static void addr_str(const gh__addr_t *a, char *out, size_t n)
{
    const void *ip = a->sa.sa_family == AF_INET
                         ? (const void *)&a->in.sin_addr
                         : (const void *)&a->in6.sin6_addr;

    if (a->sa.sa_family == AF_UNIX ||
        !inet_ntop(a->sa.sa_family, ip, out, (socklen_t)n))
        snprintf(out, n, "%s",
                 a->sa.sa_family == AF_UNIX ? "unix:" : "?");
}

/* Log a refused connection, or count it for the next line. */
static void pp_refused(gh__session_t *ss, const char *why)
{
    char peer[INET6_ADDRSTRLEN];
    uint64_t quiet;

    if (!gh__log_gate_pass(&ss->s->pp_log, GH__PP_LOG_EVERY, &quiet))
        return;
    addr_str(&ss->c->peer, peer, sizeof(peer));
    gh_log(GH_LOG_WARN, "http: PROXY protocol: closed a connection from "
           "%s: %s (and %llu more since the last report)", peer, why,
           (unsigned long long)quiet);
}

/* The header's source becomes the peer; LOCAL keeps the real one. */
static void pp_apply(gh__conn_t *c, const gh__pp_t *pp)
{
    if (pp->local)
        return;
    if (pp->src.sa.sa_family == AF_UNIX) {
        memset(&c->peer, 0, sizeof(c->peer));
        c->peer.sa.sa_family = AF_UNIX;
        c->peer_len = sizeof(sa_family_t);
    } else {
        c->peer_len = pp->src_len;
        memcpy(&c->peer, &pp->src, pp->src_len);
    }
}

/* Read and drop the header: 1, or RUN_CLOSE (refused). */
/*
 * Under TLS the bytes after the header are the ClientHello, which OpenSSL
 * reads from the socket itself: take only the header's bytes (peek, then
 * consume up to its end).  Bytes the parser has not seen the end of yet
 * are all the header's, so each round consumes something: no spin.
 */
static ssize_t pp_fill_exact(gh__session_t *ss, int64_t deadline)
{
    gh__conn_t *c = ss->c;
    size_t room = ss->cap - ss->len;
    gh__pp_t pp;
    ssize_t n;
    int r;

    if (room > GH__PP_V2_MAX)
        room = GH__PP_V2_MAX;
    while ((n = recv(c->fd, ss->buf + ss->len, room,
                     MSG_PEEK | MSG_DONTWAIT)) <= 0) {
        if (n == 0)
            return 0;
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        if (errno != EINTR &&
            (r = gh_wait_fd(c->fd, GH_IO_READ, deadline)) < 0)
            return r;
    }
    r = gh__pp_parse(ss->buf, ss->len + (size_t)n, 0, &pp);
    if (r > 0)
        n = r - (ssize_t)ss->len; /* the header ends in there */
    if ((n = recv(c->fd, ss->buf + ss->len, (size_t)n, MSG_DONTWAIT)) <= 0)
        return n < 0 ? -errno : 0;
    ss->len += (uint32_t)n;
    atomic_fetch_add_explicit(&ss->s->bytes_in, (uint64_t)n,
                              memory_order_relaxed);
    return n;
}

static int proxy_header(gh__session_t *ss)
{
    gh__conn_t *c = ss->c;
    int64_t deadline = gh_now() + c->pp->timeout;
    gh__pp_t pp;
    ssize_t got;
    int n;

    if (c->pp->from &&
        !gh_netlist_match(c->pp->from, &c->peer.sa, c->peer_len)) {
        pp_refused(ss, "not in proxy_protocol_from");
        return RUN_CLOSE;
    }
    while ((n = gh__pp_parse(ss->buf, ss->len, 0, &pp)) == GH__PP_NEED) {
        got = c->tls ? pp_fill_exact(ss, deadline)
                     : gh__session_fill(ss, deadline);
        if (got <= 0) {
            if (got == GH_ETIMEDOUT) {
                atomic_fetch_add(&ss->s->timeouts, 1);
                pp_refused(ss, "no header in time");
            } else if (ss->len) {
                pp_refused(ss, "closed in the middle of the header");
            }
            return RUN_CLOSE;
        }
    }
    if (n < 0) {
        pp_refused(ss, "no valid header");
        return RUN_CLOSE;
    }
    pp_apply(c, &pp);
    ss->len -= (uint32_t)n;
    memmove(ss->buf, ss->buf + n, ss->len);
    c->pp = NULL;
    return 1;
}

/* ---- one request ---- */

typedef struct call {
    gh_server_t *s;
    gh_req_t *req;
    gh_resp_t *resp;
    int rc;
    char panic[PANIC_MSG];
} call_t;

static void recover_handler(void *arg)
{
    call_t *cl = arg;
    const char *msg = gh_recover();

    if (msg)
        snprintf(cl->panic, sizeof(cl->panic), "%s", msg);
}

static void call_handler(void *arg)
{
    call_t *cl = arg;

    if (gh_defer(recover_handler, cl) < 0) {
        cl->rc = GH_ENOMEM;
        return;
    }
    cl->rc = cl->s->handler(cl->s->udata, cl->req, cl->resp);
}

/* Append src to buf[*o..len), leaving room for the NUL and cutting with
 * "...".  Plain byte copies: a signal handler calls it. */
static void put(char *buf, size_t len, size_t *o, const char *src)
{
    while (*src && *o + 1 < len) {
        if (*o + 4 == len && src[1]) {
            memcpy(buf + *o, "...", 3);
            *o += 3;
            break;
        }
        buf[(*o)++] = *src++;
    }
    buf[*o] = '\0';
}

/* What a stall report says of a goroutine in a handler (gh__doing_fn):
 * serving "GET /x".  The method and target are NUL-terminated in the
 * session's buffer, which stays put while the handler runs. */
static void doing_request(const void *arg, char *buf, size_t len)
{
    const gh_req_t *req = arg;
    size_t o = 0;

    put(buf, len, &o, "serving \"");
    put(buf, len, &o, gh_req_method(req));
    put(buf, len, &o, " ");
    put(buf, len, &o, gh_req_target(req));
    put(buf, len, &o, "\"");
}

/* Run the handler, recovering a panic.  Its result for gh__resp_finish. */
static int run_handler(gh__session_t *ss, gh_req_t *req, gh_resp_t *resp)
{
    call_t cl = {.s = ss->s, .req = req, .resp = resp, .rc = 0};
    int rc;

    gh__doing_set(doing_request, req);
    rc = gh_call(call_handler, &cl);
    gh__doing_set(NULL, NULL);
    if (rc != GH_EPANIC)
        return cl.rc;
    gh_log(GH_LOG_ERROR, "http: panic serving \"%s %s\": %s",
           gh_req_method(req), gh_req_target(req), cl.panic);
    if (resp->state != GH__RESP_NEW)
        ss->close = true; /* part of a response is out: cut it */
    return 500;
}

/* The histogram bucket of a latency: a linear scan, since nearly every
 * response falls in the first few buckets. */
static unsigned latency_bucket(int64_t ns)
{
    static const uint32_t bounds_us[] = GH_LATENCY_BOUNDS_US;
    unsigned i = 0;

    _Static_assert(sizeof(bounds_us) / sizeof(bounds_us[0]) ==
                       GH_LATENCY_BUCKETS - 1,
                   "one bound per bucket but the last");
    while (i < GH_LATENCY_BUCKETS - 1 &&
           ns > (int64_t)bounds_us[i] * GH_MICROSECOND)
        i++;
    return i;
}

int64_t gh__count_response(gh__session_t *ss, int status)
{
    gh_server_t *s = ss->s;
    int64_t now = gh_now(), ns = now - ss->now;
    int cls = status / 100;

    atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add_explicit(&s->status[cls], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->latency[latency_bucket(ns)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&s->latency_sum_ns, (uint64_t)ns,
                              memory_order_relaxed);
    return now;
}

void gh__access_report(gh__session_t *ss, const gh_req_t *req, int status,
                       uint64_t body_bytes, int64_t now)
{
    const gh__server_cfg_t *cfg = ss->cfg;
    gh_access_t a = {.req = req, .peer = &ss->c->peer.sa,
                     .peer_len = ss->c->peer_len, .status = status,
                     .body_bytes = body_bytes, .duration = now - ss->now,
                     .client = &ss->c->peer.sa,
                     .client_len = ss->c->peer_len,
                     .request_id = ss->req ? ss->req->id : NULL};

    /* The wall clock of the head's first byte from the monotonic time
     * already taken: one clock_gettime() per session, not per request. */
    if (!ss->wall_off) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ss->wall_off = (int64_t)ts.tv_sec * GH_SECOND + ts.tv_nsec - now;
    }
    a.start_wall = ss->now + ss->wall_off;
    if (req) {
        a.client = gh_req_client(req, &a.client_len);
        a.request_id = req->id;
        a.method = gh_req_method(req);
        a.target = gh_req_target(req);
        a.version = gh_req_version(req);
    }
    cfg->o.access_log(cfg->o.access_udata, &a);
}

/* Whether this connection carries no request after the current one. */
static bool last_request(gh__session_t *ss)
{
    uint32_t max = ss->cfg->o.max_requests;

    return !ss->p.head.keep_alive || atomic_load(&ss->s->draining) ||
           (max && ss->c->nreq >= max);
}

/*
 * The body the handler left unread: drain a little to keep the connection,
 * or close it, lingering so that a client still sending reads the answer
 * instead of a reset.  Not after a 100-continue that was never sent: the
 * body may not even come.
 */
static void finish_body(gh__session_t *ss, gh_req_t *req)
{
    if (req->body_done)
        return;
    if (ss->close || req->body_error ||
        (ss->p.head.expect_continue && !req->continue_sent) ||
        gh__req_discard(req, DISCARD_MAX) < 0)
        ss->close = ss->linger = true;
}

static uint32_t trailer_room(const gh__session_t *ss)
{
    uint32_t max = ss->cfg->o.max_header_bytes;

    if (!ss->p.head.chunked)
        return 0;
    return max < TRAILER_ROOM_MAX ? max : TRAILER_ROOM_MAX;
}

static int serve_request(gh__session_t *ss)
{
    gh_req_t req;
    gh_resp_t resp;
    int64_t now;
    int rc, prc, health = 0;

    ss->c->nreq++;
    ss->c->fresh = false;
    ss->close = last_request(ss);
    gh__req_init(&req, ss);
    gh__resp_init(&resp, ss);
    ss->req = &req;
    ss->resp = &resp;
    /* Room for the body first: it may move the buffer, and the request's
     * path and query point into it once prepared.  A chunked body may end
     * in trailers, which must fit whole in a buffer that can no longer
     * move. */
    rc = (ss->p.head.has_content_length || ss->p.head.chunked) &&
                 gh__session_reserve(ss, BODY_ROOM + trailer_room(ss)) < 0
             ? 503
             : 0;
    /* Even after a 503 (the buffer did not move): the access log wants
     * the strings. */
    prc = gh__req_prepare(&req);
    gh__req_forwarded(&req, true);
    if (rc == 0)
        rc = prc;
    if (rc == 0 && GH__UNLIKELY(health = gh__health_match(ss->cfg, &req)))
        rc = gh__health_serve(ss, &req, &resp, health);
    else if (rc == 0)
        rc = run_handler(ss, &req, &resp);
    else
        ss->close = true; /* refused before any handler: malformed */
    gh__req_unwatch(&req);
    rc = gh__resp_finish(&resp, rc);
    now = gh__count_response(ss, resp.status);
    if (GH__UNLIKELY(ss->cfg->o.access_log != NULL) &&
        (!health || ss->cfg->o.health_log))
        gh__access_report(ss, &req, resp.status,
                          resp.head_only ? 0 : resp.sent, now);
    if (rc == 0)
        finish_body(ss, &req);
    ss->req = NULL;
    ss->resp = NULL;
    gh__req_fini(&req);
    return rc;
}

/*
 * Has the client sent more than the request just served: pipelined
 * requests behind it in the buffer, or bytes the kernel holds?  Closing
 * with input unread makes the kernel reset the connection, and a reset
 * throws away the responses the client has not read yet (RFC 9112 9.6).
 */
static bool more_input(gh__session_t *ss)
{
    char b;

    return ss->len > gh__http_parser_offset(&ss->p) ||
           recv(ss->c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* Serve requests until the connection is idle or must close. */
static int session_run(gh__session_t *ss, char *stack_buf)
{
    int r;

    for (;;) {
        if ((r = read_head(ss)) <= 0)
            return r;
        if (serve_request(ss) < 0)
            break;
        if (ss->close) {
            /* The last request (Connection: close, max_requests, a
             * shutdown) with more behind it: linger, as after an error. */
            if (!ss->linger && more_input(ss))
                ss->linger = true;
            break;
        }
        ss->served = true;
        session_compact(ss, stack_buf);
    }
    return RUN_CLOSE;
}

void gh__conn_serve(void *arg)
{
    gh__conn_t *c = arg;
    gh_server_t *s = c->srv;
    const gh__server_cfg_t *cfg = gh__server_cfg(s);
    char ibuf[IBUF], obuf[OBUF];
    gh__http_field_t sfields[SFIELDS];
    uint32_t nf = cfg->o.max_headers;
    gh__session_t ss = {.c = c, .s = s, .cfg = cfg, .buf = ibuf,
                        .cap = IBUF, .out = obuf, .ocap = OBUF};
    int r = RUN_CLOSE;

    gh__conn_started(c);
    ss.fields = nf <= SFIELDS ? sfields : malloc(nf * sizeof(*ss.fields));
    if (c->wake == GH_ETIMEDOUT && c->fresh)
        atomic_fetch_add(&s->timeouts, 1);
    if (c->wake > 0 && ss.fields && (!c->pp || proxy_header(&ss) > 0)) {
        gh__http_parser_init(&ss.p, &cfg->lim, ss.fields, nf);
        r = session_run(&ss, ibuf);
    }
    if (r == RUN_CLOSE && gh__session_flush(&ss) == 0 && ss.linger)
        gh__session_linger(&ss);
    if (ss.heap)
        free(ss.buf);
    if (ss.fields != sfields)
        free(ss.fields);
    if (r == RUN_IDLE && gh__conn_idle(c))
        return; /* c is the fdwatch's now: do not touch it */
    gh__conn_release(c);
}
