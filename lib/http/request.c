/*
 * request.c - the request a handler sees: the head's strings, the body as
 * a reader, the arena, the context and the router's parameters.
 *
 * Strings point into the session's input buffer wherever they can.  Once
 * the head is parsed the parser never looks at it again, so each field's
 * delimiter (the ':' after a name, the whitespace or CR after a value, the
 * space after the target) is overwritten with a NUL: the head becomes C
 * strings without a copy.  Only what must change (a decoded path with
 * escapes, a raw path cut before '?', query values) is built in the
 * request's arena.
 *
 * The body is decoded in place too (parse.c); a span of decoded bytes the
 * handler has not taken yet waits in req->pend.  Reads wait with a deadline
 * that starts at body_timeout and grows by a second for every body_min_rate
 * bytes received, as Apache's mod_reqtimeout does.
 *
 * The context is made on the first gh_req_ctx().  Once the body is read,
 * an fdwatch on the socket notices a client that goes away (end of file or
 * an error, seen with MSG_PEEK) and cancels it; handlers that never ask for
 * the context pay nothing.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http/http_impl.h"
#include "http/router.h" /* gh__req_set_params */

#define ARENA_CHUNK 4096
#define ARENA_ALIGN 16
#define BODY_ROOM_MIN 1024 /* compact the body below this much room */

struct gh__arena_chunk {
    gh__arena_chunk_t *next;
    size_t used, cap;
    _Alignas(ARENA_ALIGN) unsigned char mem[];
};

/* ---- the arena ---- */

void *gh_req_alloc(gh_req_t *req, size_t n)
{
    gh__arena_chunk_t *a = req->arena;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    void *p;

    if (need < n)
        return NULL;
    if (!a && GH__REQ_INLINE - req->inl_used >= need) {
        p = req->inl + req->inl_used;
        req->inl_used += (uint32_t)need;
        return p;
    }
    if (!a || a->cap - a->used < need) {
        size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;
        if (cap > SIZE_MAX - sizeof(*a) || !(a = malloc(sizeof(*a) + cap)))
            return NULL;
        a->next = req->arena;
        a->used = 0;
        a->cap = cap;
        req->arena = a;
    }
    p = a->mem + a->used;
    a->used += need;
    return p;
}

static char *arena_strndup(gh_req_t *req, const char *s, size_t n)
{
    char *d = gh_req_alloc(req, n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* ---- the head ---- */

static const char *span_str(const gh__session_t *ss, gh__http_span_t sp)
{
    return sp.len ? ss->buf + sp.off : "";
}

static void terminate(gh__session_t *ss, gh__http_span_t sp)
{
    if (sp.len)
        ss->buf[sp.off + sp.len] = '\0';
}

static void terminate_fields(gh__session_t *ss, uint32_t from, uint32_t n)
{
    for (uint32_t i = from; i < from + n; i++) {
        terminate(ss, ss->p.head.fields[i].name);
        terminate(ss, ss->p.head.fields[i].value);
    }
}

/* Percent-decode s[0 .. n) into d (n + 1 bytes) and NUL-terminate it.
 * The length, or -1 for a bad escape or an encoded NUL. */
static ssize_t pct_decode(char *d, const char *s, size_t n, bool plus)
{
    ssize_t len = gh__http_unescape(s, n, d, plus);

    if (len >= 0)
        d[len] = '\0';
    return len;
}

/*
 * Where the path of an origin-form or absolute-form target starts (RFC
 * 9112 3.2).  In the absolute form the authority ends at the first "/",
 * "?" or "#" (RFC 3986 3.2): "http://h?x=/a" has an empty path, which is
 * "/", and the query "x=/a".  *auth and *alen: the authority (the host
 * the target names, which RFC 9112 3.2.2 puts before Host), NULL in the
 * origin form.
 */
static const char *path_start(const char *t, const char **auth, size_t *alen)
{
    size_t skip;

    *auth = NULL;
    if (*t == '/')
        return t; /* origin-form, as nearly every request */
    if (strncasecmp(t, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(t, "https://", 8) == 0)
        skip = 8;
    else
        return t;
    *auth = t + skip;
    *alen = strcspn(*auth, "/?#");
    return *auth + *alen;
}

static int prepare_path(gh_req_t *req)
{
    const char *t = req->ss->buf + req->ss->p.head.target.off;
    const char *auth, *path, *q;
    size_t plen, alen;
    char *d;

    path = path_start(t, &auth, &alen);
    /* The authority stands for Host (gh_req_host): the same rules. */
    if (auth && (alen == 0 || !gh__http_host_ok(auth, (uint32_t)alen)))
        return 400; /* an empty host is invalid too (RFC 9110 4.2.1) */
    if (auth && !(req->target_host = arena_strndup(req, auth, alen)))
        return 503;
    if (auth && *path != '/') { /* an absolute form's empty path */
        req->query = *path == '?' ? path + 1 : NULL;
        req->raw_path = req->path = "/";
        return 0;
    }
    q = strchr(path, '?');
    plen = q ? (size_t)(q - path) : strlen(path);
    req->query = q ? q + 1 : NULL;
    req->raw_path = q ? arena_strndup(req, path, plen) : path;
    if (!req->raw_path)
        return 503;
    if (!memchr(path, '%', plen)) {
        req->path = req->raw_path;
        return 0;
    }
    if (!(d = gh_req_alloc(req, plen + 1)))
        return 503;
    if (pct_decode(d, path, plen, false) < 0)
        return 400;
    req->path = d;
    return 0;
}

void gh__req_init(gh_req_t *req, gh__session_t *ss)
{
    memset(req, 0, offsetof(gh_req_t, inl)); /* inl is scratch */
    req->ss = ss;
    req->continue_sent = !ss->p.head.expect_continue;
    if (!ss->p.head.chunked &&
        !(ss->p.head.has_content_length && ss->p.head.content_length > 0)) {
        gh__http_span_t none;
        /* No body: the parser still has to see its (empty) end. */
        req->body_done =
            gh__http_parse_body(&ss->p, ss->buf, ss->len, &none) ==
            GH__HTTP_DONE;
    } else {
        /* body_timeout counts from the end of the head, not from its
         * first byte (ss->now): a head that came slowly within
         * header_timeout must not eat the body's allowance. */
        req->body_start = gh_now();
    }
}

int gh__req_prepare(gh_req_t *req)
{
    gh__session_t *ss = req->ss;

    terminate(ss, ss->p.head.target);
    terminate_fields(ss, 0, ss->p.head.nheaders);
    if (!ss->p.head.target.len)
        return 400;
    return prepare_path(req);
}

void gh__req_fini(gh_req_t *req)
{
    gh__arena_chunk_t *a, *next;

    gh__req_unwatch(req);
    if (req->ctx) {
        gh_ctx_cancel(req->ctx);
        gh_ctx_free(req->ctx);
    }
    for (a = req->arena; a; a = next) {
        next = a->next;
        free(a);
    }
    req->arena = NULL;
}

const char *gh_req_method(const gh_req_t *req)
{
    return gh__http_method_name(&req->ss->p.head);
}

const char *gh_req_target(const gh_req_t *req)
{
    return span_str(req->ss, req->ss->p.head.target);
}

const char *gh_req_raw_path(const gh_req_t *req)
{
    return req->raw_path ? req->raw_path : "";
}

const char *gh_req_path(const gh_req_t *req)
{
    return req->path ? req->path : "";
}

const char *gh_req_query(const gh_req_t *req)
{
    return req->query;
}

const char *gh_req_query_param(gh_req_t *req, const char *name)
{
    size_t nlen = strlen(name);
    const char *s = req->query;

    while (s && *s) {
        const char *amp = strchr(s, '&');
        size_t len = amp ? (size_t)(amp - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        size_t klen = eq ? (size_t)(eq - s) : len;
        char key[256];

        if (klen < sizeof(key) && pct_decode(key, s, klen, true) >= 0 &&
            strlen(key) == nlen && memcmp(key, name, nlen) == 0) {
            size_t vlen = eq ? len - klen - 1 : 0;
            char *v = gh_req_alloc(req, vlen + 1);
            if (!v || pct_decode(v, eq ? eq + 1 : "", vlen, true) < 0)
                return NULL;
            return v;
        }
        s = amp ? amp + 1 : NULL;
    }
    return NULL;
}

int gh_req_version(const gh_req_t *req)
{
    return req->ss->p.head.version_major * 10 + req->ss->p.head.version_minor;
}

static const char *field_value(const gh_req_t *req, uint32_t from, uint32_t n,
                               const char *name)
{
    const gh__session_t *ss = req->ss;
    int i = gh__http_field_find(ss->p.head.fields + from, n, ss->buf, name,
                                strlen(name), 0);

    return i < 0 ? NULL : span_str(ss, ss->p.head.fields[from + i].value);
}

const char *gh_req_header(const gh_req_t *req, const char *name)
{
    return field_value(req, 0, req->ss->p.head.nheaders, name);
}

int gh_req_header_count(const gh_req_t *req)
{
    return (int)req->ss->p.head.nheaders;
}

int gh_req_header_at(const gh_req_t *req, int i, const char **name,
                     const char **value)
{
    const gh__session_t *ss = req->ss;

    if (i < 0 || (uint32_t)i >= ss->p.head.nheaders)
        return GH_EINVAL;
    *name = span_str(ss, ss->p.head.fields[i].name);
    *value = span_str(ss, ss->p.head.fields[i].value);
    return 0;
}

const char *gh_req_trailer(const gh_req_t *req, const char *name)
{
    if (!req->body_done || !req->ss->p.head.ntrailers)
        return NULL;
    return field_value(req, req->ss->p.head.nheaders,
                       req->ss->p.head.ntrailers, name);
}

int64_t gh_req_content_length(const gh_req_t *req)
{
    const gh__http_head_t *h = &req->ss->p.head;

    return h->has_content_length ? (int64_t)h->content_length : -1;
}

const struct sockaddr *gh_req_peer(const gh_req_t *req, socklen_t *len)
{
    *len = req->ss->c->peer_len;
    return &req->ss->c->peer.sa;
}

gh_server_t *gh_req_server(const gh_req_t *req)
{
    return req->ss->s;
}

const char *gh_req_param(const gh_req_t *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++)
        if (strcmp(req->pnames[i], name) == 0)
            return req->pvalues[i];
    return NULL;
}

int gh__req_set_params(gh_req_t *req, int n, const char *const *names,
                       const char *const *values)
{
    req->nparams = n;
    req->pnames = names;
    req->pvalues = values;
    return 0;
}

/* ---- the context and the disconnect watch ---- */

/* The peer shut its side down (FIN received), even with bytes unread. */
static bool peer_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};

    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP));
}

static void disconnect_seen(gh__iowait_t *w, int result)
{
    gh_req_t *req = w->data;
    char b;
    ssize_t r = 1;

    if (result > 0) {
        r = recv(req->ss->c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            r = 1; /* nothing after all */
    }
    /* Bytes of a pipelined request mean the client is still there.  On
     * TLS the bytes may be a close_notify, whose type TLS 1.3 hides:
     * there the client left if it also closed its side (its FIN is in). */
    if (r == 1 && req->ss->c->tls && peer_closed(req->ss->c->fd))
        r = 0;
    if (r <= 0)
        gh_ctx_cancel(req->ctx);
}

static void watch_start(gh_req_t *req)
{
    if (req->watching || !req->ctx || !req->body_done)
        return;
    req->ctx_watch = (gh__iowait_t){.data = req};
    if (gh__fdwatch_start(&req->ctx_watch, req->ss->c->fd, GH_IO_READ,
                          GH_FOREVER, disconnect_seen, 0) == 0)
        req->watching = true;
}

void gh__req_unwatch(gh_req_t *req)
{
    if (req->watching) {
        gh__fdwatch_stop(&req->ctx_watch);
        req->watching = false;
    }
}

gh_ctx_t *gh_req_ctx(gh_req_t *req)
{
    if (!req->ctx) {
        req->ctx = gh_ctx_with_cancel(req->ss->s->ctx);
        if (!req->ctx)
            return gh_ctx_background(); /* out of memory: never cancelled */
        watch_start(req);
    }
    return req->ctx;
}

/* ---- the body ---- */

static int send_continue(gh_req_t *req)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct iovec iov = {(void *)line, sizeof(line) - 1};

    req->continue_sent = true;
    return gh__session_writev(req->ss, &iov, 1);
}

static int body_fail(gh_req_t *req, int err)
{
    req->body_error = true;
    req->body_err = err;
    return err;
}

/* The server's deadline for the next body read. */
static int64_t body_deadline(const gh_req_t *req)
{
    const gh_server_opts_t *o = &req->ss->cfg->o;
    int64_t d = req->body_start + o->body_timeout;

    if (o->body_min_rate)
        d += (int64_t)(req->body_read / o->body_min_rate) * GH_SECOND;
    return d;
}

/* Make room for more body bytes by dropping those handed out already. */
static void body_room(gh__session_t *ss)
{
    uint32_t from = ss->p.head.end, keep = gh__http_parser_body_keep(&ss->p);

    if (keep <= from || ss->cap - ss->len >= BODY_ROOM_MIN)
        return;
    memmove(ss->buf + from, ss->buf + keep, ss->len - keep);
    gh__http_parser_drop(&ss->p, from, keep);
    ss->len -= keep - from;
}

/* More input for the body, within deadline.  0 or GH_E*. */
static int body_fill(gh_req_t *req, int64_t deadline)
{
    gh__session_t *ss = req->ss;
    int64_t d = body_deadline(req);
    bool ours = d <= deadline;
    ssize_t n;

    body_room(ss);
    if (ss->len == ss->cap) /* trailers over the room kept for them */
        return body_fail(req, GH_ENOBUFS);
    n = gh__session_fill(ss, ours ? d : deadline);
    if (n > 0)
        return 0;
    if (n == GH_ETIMEDOUT && !ours)
        return GH_ETIMEDOUT; /* the caller's deadline: try again later */
    if (n == GH_ETIMEDOUT) {
        req->timed_out = true;
        atomic_fetch_add(&ss->s->timeouts, 1);
    }
    return body_fail(req, n == 0 ? GH_ECONNRESET : (int)n);
}

/* The error a handler's read gets for the parser's status; the response
 * turns it back into that status (error_status in response.c). */
static int body_error(int status)
{
    switch (status) {
    case 413:
        return GH_EMSGSIZE; /* the body over max_body */
    case 431:
        return GH_ENOBUFS; /* the trailers over their bounds */
    default:
        return GH_EINVAL; /* malformed framing: 400 */
    }
}

/* Decode the next body bytes into req->pend.  1, 0 at the end, or GH_E*. */
static int body_next(gh_req_t *req, int64_t deadline)
{
    gh__session_t *ss = req->ss;
    int r, rc;

    for (;;) {
        r = gh__http_parse_body(&ss->p, ss->buf, ss->len, &req->pend);
        if (r == GH__HTTP_DATA)
            return 1;
        if (r == GH__HTTP_DONE) {
            req->body_done = true;
            terminate_fields(ss, ss->p.head.nheaders, ss->p.head.ntrailers);
            watch_start(req);
            return 0;
        }
        if (r == GH__HTTP_ERROR)
            return body_fail(req, body_error(gh__http_parser_status(&ss->p)));
        if ((rc = body_fill(req, deadline)) < 0)
            return rc;
    }
}

ssize_t gh_req_read(gh_req_t *req, void *buf, size_t len, int64_t deadline)
{
    size_t n;
    int rc;

    if (req->body_error)
        return req->body_err;
    if (!req->pend.len) {
        if (req->body_done || !len)
            return 0;
        /* No interim 100 once the final response has begun. */
        if (!req->continue_sent && req->ss->resp &&
            req->ss->resp->state == GH__RESP_NEW &&
            (rc = send_continue(req)) < 0)
            return body_fail(req, rc);
        if ((rc = body_next(req, deadline)) <= 0)
            return rc;
    }
    n = len < req->pend.len ? len : req->pend.len;
    memcpy(buf, req->ss->buf + req->pend.off, n);
    req->pend.off += (uint32_t)n;
    req->pend.len -= (uint32_t)n;
    req->body_read += n;
    return (ssize_t)n;
}

ssize_t gh_req_read_all(gh_req_t *req, size_t max, const char **out)
{
    int64_t cl = gh_req_content_length(req);
    size_t cap = cl >= 0 ? (size_t)cl + 1 : 4096, len = 0;
    char *b;
    ssize_t n;

    if (cl >= 0 && (uint64_t)cl > max)
        return body_fail(req, GH_EMSGSIZE); /* 413 if returned */
    if (cap > max + 1)
        cap = max + 1;
    if (!(b = gh_req_alloc(req, cap)))
        return GH_ENOMEM;
    while ((n = gh_req_read(req, b + len, cap - 1 - len, GH_FOREVER)) > 0) {
        len += (size_t)n;
        if (len == cap - 1) {
            char *nb;
            if (len >= max) {
                /* Full: one more byte says whether it is over. */
                char extra;
                if ((n = gh_req_read(req, &extra, 1, GH_FOREVER)) > 0)
                    return body_fail(req, GH_EMSGSIZE);
                break;
            }
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            if (!(nb = gh_req_alloc(req, cap)))
                return GH_ENOMEM;
            memcpy(nb, b, len);
            b = nb;
        }
    }
    if (n < 0)
        return n;
    b[len] = '\0';
    *out = b;
    return (ssize_t)len;
}

int gh__req_discard(gh_req_t *req, uint64_t limit)
{
    char sink[2048];
    uint64_t total = 0;
    ssize_t n;

    while ((n = gh_req_read(req, sink, sizeof(sink), GH_FOREVER)) > 0) {
        total += (uint64_t)n;
        if (total > limit)
            return GH_EMSGSIZE;
    }
    return (int)n;
}
