/*
 * response.c - building and writing responses.
 *
 * Output goes through the session's batch (ss->out, on the connection
 * goroutine's stack).  A head and a body that fit are copied into it and
 * nothing is written yet: the batch goes out when the goroutine is about to
 * wait for input (gh__session_fill), when it goes idle, or when it fills.
 * Responses to pipelined requests therefore leave in one write, and a
 * plain keep-alive request costs one read and one write.  Larger bodies go
 * out in one writev after the batch.
 *
 * Framing follows RFC 9112 6: Content-Length when the length is known
 * (gh_resp_send, gh_resp_sendfile, or a Content-Length header), else
 * chunked for HTTP/1.1 and close-delimited for HTTP/1.0.  HEAD responses
 * carry the head only; 1xx, 204 and 304 never have a body.
 *
 * Writes wait with a deadline that starts at write_timeout and grows by a
 * second for every write_min_rate bytes the client has taken, so a client
 * that stops reading is cut off while a slow but honest one is not.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http_impl.h"

#define HDR_FIXED 256  /* status line, Date, Server, framing, Connection */
#define CHUNK_HEAD 20  /* "<hex>\r\n" */

/* ---- the Date header, formatted once a second per thread ---- */

static __thread struct {
    time_t sec;
    char line[GH__DATE_LEN + 16]; /* room for years past 9999 */
} date_cache;

const char *gh__http_date(void)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
    static const char mons[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                     "May", "Jun", "Jul", "Aug",
                                     "Sep", "Oct", "Nov", "Dec"};
    struct timespec ts;
    gh__civil_t c;

    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec != date_cache.sec) {
        gh__utc_civil(ts.tv_sec, &c);
        snprintf(date_cache.line, sizeof(date_cache.line),
                 "Date: %s, %02d %s %04lld %02d:%02d:%02d GMT\r\n",
                 days[c.wday], c.mday, mons[c.mon - 1], (long long)c.year,
                 c.hour, c.min, c.sec);
        date_cache.sec = ts.tv_sec;
    }
    return date_cache.line;
}

/* ---- writing ---- */

static void count_out(gh__session_t *ss, size_t n)
{
    atomic_fetch_add_explicit(&ss->s->bytes_out, n, memory_order_relaxed);
}

/*
 * The deadline for a write that began at t0 and has written done bytes:
 * write_timeout, plus a second for every write_min_rate bytes the client
 * took in.  Bytes that only reached our own send queue do not count: a
 * client that stops reading would earn an hour for the megabytes the
 * kernel buffers for it.  What left the queue (SIOCOUTQ: not yet sent or
 * not yet acknowledged) is in the client's hands, or its kernel's.
 */
static int64_t write_deadline(const gh__session_t *ss, int64_t t0,
                              uint64_t done)
{
    const gh_server_opts_t *o = &ss->cfg->o;
    int64_t d = t0 + o->write_timeout;
    int queued;

    if (!o->write_min_rate || !done)
        return d;
    if (ioctl(ss->c->fd, SIOCOUTQ, &queued) == 0 && queued > 0)
        done = (uint64_t)queued < done ? done - (uint64_t)queued : 0;
    return d + (int64_t)(done / o->write_min_rate) * GH_SECOND;
}

/* Skip n written bytes of iov[*i ..]. */
static void iov_advance(struct iovec *iov, int *i, int cnt, size_t n)
{
    while (*i < cnt && n >= iov[*i].iov_len) {
        n -= iov[*i].iov_len;
        (*i)++;
    }
    if (*i < cnt) {
        iov[*i].iov_base = (char *)iov[*i].iov_base + n;
        iov[*i].iov_len -= n;
    }
}

/* Write all of iov[0 .. cnt).  0 or GH_E*. */
static int writev_all(gh__session_t *ss, struct iovec *iov, int cnt)
{
    gh__conn_t *c = ss->c;
    int64_t t0 = 0;
    uint64_t done = 0;
    int i = 0;

    while (i < cnt && iov[i].iov_len == 0)
        i++;
    while (i < cnt) {
        /* The clock is read only once a write has to wait: until then the
         * deadline is in the past, which makes a full socket report
         * GH_ETIMEDOUT at once instead of waiting. */
        ssize_t n = c->ops->writev(c, iov + i, cnt - i,
                                   t0 ? write_deadline(ss, t0, done) : 1);
        if (n == GH_ETIMEDOUT && !t0) {
            t0 = gh_now();
            continue;
        }
        if (n < 0) {
            if (n == GH_ETIMEDOUT)
                atomic_fetch_add(&ss->s->timeouts, 1);
            ss->close = true;
            return (int)n;
        }
        done += (uint64_t)n;
        count_out(ss, (size_t)n);
        iov_advance(iov, &i, cnt, (size_t)n);
        while (i < cnt && iov[i].iov_len == 0)
            i++;
    }
    return 0;
}

int gh__session_writev(gh__session_t *ss, struct iovec *iov, int n)
{
    struct iovec all[8];
    int cnt = 0, rc;

    if (n > 7)
        return GH_EINVAL;
    if (ss->olen)
        all[cnt++] = (struct iovec){ss->out, ss->olen};
    for (int i = 0; i < n; i++)
        all[cnt++] = iov[i];
    rc = writev_all(ss, all, cnt);
    ss->olen = 0;
    return rc;
}

int gh__session_flush(gh__session_t *ss)
{
    return ss->olen ? gh__session_writev(ss, NULL, 0) : 0;
}

/* Copy into the batch if it fits.  True if it did. */
static bool batch_put(gh__session_t *ss, const void *p, size_t n)
{
    if (n > ss->ocap - ss->olen)
        return false;
    memcpy(ss->out + ss->olen, p, n);
    ss->olen += (uint32_t)n;
    return true;
}

/* ---- the head ---- */

/* The length of field name n, or 0 if it is empty or not a token. */
static size_t name_len(const char *n)
{
    size_t i = 0;

    while (gh__http_tchar[(unsigned char)n[i]])
        i++;
    return n[i] ? 0 : i;
}

static bool valid_value(const char *v, size_t len)
{
    return !memchr(v, '\r', len) && !memchr(v, '\n', len);
}

static size_t fmt_u64(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static size_t put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return n;
}

static bool hdr_is(const gh__hdr_t *h, const char *name, size_t nlen)
{
    return h->name && h->nlen == nlen && gh__http_eq_ci(h->name, name, nlen);
}

static const gh__hdr_t *find_hdr(const gh_resp_t *r, const char *name,
                                 size_t nlen)
{
    for (uint32_t i = 0; i < r->nhdrs; i++)
        if (hdr_is(&r->hdrs[i], name, nlen))
            return &r->hdrs[i];
    return NULL;
}

static size_t head_size(const gh_resp_t *r)
{
    size_t n = HDR_FIXED;
    const char *sv = r->ss->cfg->o.server_header;

    n += sv ? strlen(sv) : 0;
    if (r->ss->req && r->ss->req->id)
        n += r->ss->cfg->rid_len + strlen(r->ss->req->id) + 4;
    for (uint32_t i = 0; i < r->nhdrs; i++)
        if (r->hdrs[i].name)
            n += r->hdrs[i].nlen + r->hdrs[i].vlen + 4;
    return n;
}

/* The framing lines: Content-Length or Transfer-Encoding, Connection. */
static size_t write_framing(gh_resp_t *r, char *p)
{
    gh__session_t *ss = r->ss;
    size_t o = 0;

    if (r->no_body) {
        /* nothing: no body, no length */
    } else if (r->has_length) {
        o += put(p + o, "Content-Length: ", 16);
        o += fmt_u64(p + o, r->length);
        o += put(p + o, "\r\n", 2);
    } else if (r->chunked) {
        o += put(p + o, "Transfer-Encoding: chunked\r\n", 28);
    }
    if (ss->close)
        o += put(p + o, "Connection: close\r\n", 19);
    else if (ss->p.head.version_minor == 0)
        o += put(p + o, "Connection: keep-alive\r\n", 24);
    return o;
}

/* The request ID's header, unless the handler set that header itself. */
static size_t write_request_id(gh_resp_t *r, char *p)
{
    const gh__server_cfg_t *cfg = r->ss->cfg;
    const char *id = r->ss->req ? r->ss->req->id : NULL;
    size_t o = 0;

    if (!id || find_hdr(r, cfg->rid_header, cfg->rid_len))
        return 0;
    o += put(p + o, cfg->rid_header, cfg->rid_len);
    o += put(p + o, ": ", 2);
    o += put(p + o, id, strlen(id));
    o += put(p + o, "\r\n", 2);
    return o;
}

static size_t write_head(gh_resp_t *r, char *p)
{
    const char *sv = r->ss->cfg->o.server_header;
    size_t o;

    if (r->status == 200)
        o = put(p, "HTTP/1.1 200 OK\r\n", 17);
    else
        o = gh__http_status_line(r->status, p, HDR_FIXED);
    o += put(p + o, gh__http_date(), GH__DATE_LEN);
    if (sv && !find_hdr(r, "Server", 6)) {
        o += put(p + o, "Server: ", 8);
        o += put(p + o, sv, strlen(sv));
        o += put(p + o, "\r\n", 2);
    }
    o += write_request_id(r, p + o);
    for (uint32_t i = 0; i < r->nhdrs; i++) {
        const gh__hdr_t *h = &r->hdrs[i];
        if (!h->name)
            continue;
        o += put(p + o, h->name, h->nlen);
        o += put(p + o, ": ", 2);
        o += put(p + o, h->value, h->vlen);
        o += put(p + o, "\r\n", 2);
    }
    o += write_framing(r, p + o);
    o += put(p + o, "\r\n", 2);
    return o;
}

/* Decide the framing and put the head in the batch (flushing it first if
 * it is too full).  0 or GH_E*. */
static int emit_head(gh_resp_t *r)
{
    gh__session_t *ss = r->ss;
    size_t need = head_size(r);
    char *p;
    int rc;

    /* Shutdown began while the handler ran: this is the last response. */
    if (atomic_load_explicit(&ss->s->draining, memory_order_relaxed))
        ss->close = true;
    /* A final answer to Expect: 100-continue before the body was asked
     * for: the body will not be read, so say this is the last response
     * (RFC 9110 10.1.1) - finish_body() closes the connection anyway. */
    if (ss->p.head.expect_continue && ss->req && !ss->req->continue_sent &&
        !ss->req->body_done)
        ss->close = true;
    if (!r->has_length && !r->no_body && !r->head_only) {
        if (ss->p.head.version_minor >= 1)
            r->chunked = true;
        else
            ss->close = r->until_close = true;
    }
    if (need > ss->ocap - ss->olen && (rc = gh__session_flush(ss)) < 0)
        return rc;
    if (need <= ss->ocap - ss->olen) {
        ss->olen += (uint32_t)write_head(r, ss->out + ss->olen);
    } else {
        struct iovec iov;
        if (!(p = gh_req_alloc(ss->req, need)))
            return GH_ENOMEM;
        iov = (struct iovec){p, write_head(r, p)};
        if ((rc = gh__session_writev(ss, &iov, 1)) < 0)
            return rc;
    }
    r->state = GH__RESP_HEAD;
    return 0;
}

/* ---- the API ---- */

void gh__resp_init(gh_resp_t *resp, gh__session_t *ss)
{
    memset(resp, 0, sizeof(*resp));
    resp->ss = ss;
    resp->status = 200;
    resp->head_only = ss->p.head.method == HTTP_HEAD;
}

int gh_resp_status(gh_resp_t *resp, int status)
{
    if (resp->state != GH__RESP_NEW)
        return GH_ESENT;
    if (status < 100 || status > 599 || status == 101)
        return GH_EINVAL;
    resp->status = status;
    resp->no_body = status < 200 || status == 204 || status == 304;
    return 0;
}

bool gh_resp_head_sent(const gh_resp_t *resp)
{
    return resp->state != GH__RESP_NEW;
}

/* What a header name means to the response. */
enum name_kind { N_OTHER, N_CONTENT_LENGTH, N_RESERVED };

static const struct {
    const char *name;
    size_t len;
    enum name_kind kind;
} known_names[] = {
    {"Date", 4, N_RESERVED},
    {"Connection", 10, N_RESERVED},
    {"Content-Length", 14, N_CONTENT_LENGTH},
    {"Transfer-Encoding", 17, N_RESERVED},
};

static enum name_kind name_kind(const char *name, size_t nlen)
{
    for (size_t i = 0; i < sizeof(known_names) / sizeof(known_names[0]); i++)
        if (nlen == known_names[i].len &&
            gh__http_eq_ci(name, known_names[i].name, nlen))
            return known_names[i].kind;
    return N_OTHER;
}

/* Content-Length set by the handler: the body's length. */
static int set_length(gh_resp_t *resp, const char *value)
{
    uint64_t v = 0;
    const char *p = value;

    if (!*p)
        return GH_EINVAL;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return GH_EINVAL;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    resp->has_length = true;
    resp->length = v;
    return 0;
}

/* Drop the headers called name (Content-Length is not among them). */
static void hdr_del(gh_resp_t *resp, const char *name, size_t nlen)
{
    for (uint32_t i = 0; i < resp->nhdrs; i++)
        if (hdr_is(&resp->hdrs[i], name, nlen))
            resp->hdrs[i].name = NULL;
}

int gh_resp_header_del(gh_resp_t *resp, const char *name)
{
    size_t nlen;

    if (resp->state != GH__RESP_NEW)
        return GH_ESENT;
    nlen = strlen(name);
    if (name_kind(name, nlen) == N_CONTENT_LENGTH)
        resp->has_length = false;
    else
        hdr_del(resp, name, nlen);
    return 0;
}

static int hdr_append(gh_resp_t *resp, const char *name, size_t nlen,
                      const char *value, size_t vlen)
{
    gh_req_t *req = resp->ss->req;
    gh__hdr_t *h;
    char *s;

    if (resp->nhdrs == resp->hcap) {
        uint32_t cap = resp->hcap ? resp->hcap * 2 : 8;
        gh__hdr_t *nh = gh_req_alloc(req, cap * sizeof(*nh));
        if (!nh)
            return GH_ENOMEM;
        if (resp->nhdrs)
            memcpy(nh, resp->hdrs, resp->nhdrs * sizeof(*nh));
        resp->hdrs = nh;
        resp->hcap = cap;
    }
    if (!(s = gh_req_alloc(req, nlen + vlen + 2)))
        return GH_ENOMEM;
    memcpy(s, name, nlen + 1);
    memcpy(s + nlen + 1, value, vlen + 1);
    h = &resp->hdrs[resp->nhdrs++];
    *h = (gh__hdr_t){s, s + nlen + 1, (uint32_t)nlen, (uint32_t)vlen};
    return 0;
}

/* What header_check() learnt of a header the handler sets. */
struct hdr_arg {
    size_t nlen, vlen;
    enum name_kind kind;
};

/* May the handler set this header now?  0 (and *a filled in) or GH_E*. */
static int header_check(gh_resp_t *resp, const char *name, const char *value,
                        struct hdr_arg *a)
{
    if (resp->state != GH__RESP_NEW)
        return GH_ESENT;
    if (!name || !value || !(a->nlen = name_len(name)))
        return GH_EINVAL;
    a->vlen = strlen(value);
    a->kind = name_kind(name, a->nlen);
    if (a->kind == N_RESERVED || a->nlen + a->vlen > 65536 ||
        !valid_value(value, a->vlen))
        return GH_EINVAL;
    return 0;
}

int gh_resp_header_add(gh_resp_t *resp, const char *name, const char *value)
{
    struct hdr_arg a;
    int rc = header_check(resp, name, value, &a);

    if (rc < 0)
        return rc;
    if (a.kind == N_CONTENT_LENGTH)
        return set_length(resp, value); /* one length: add is set */
    return hdr_append(resp, name, a.nlen, value, a.vlen);
}

int gh_resp_header_set(gh_resp_t *resp, const char *name, const char *value)
{
    struct hdr_arg a;
    int rc = header_check(resp, name, value, &a);

    if (rc < 0)
        return rc;
    if (a.kind == N_CONTENT_LENGTH)
        return set_length(resp, value);
    hdr_del(resp, name, a.nlen);
    return hdr_append(resp, name, a.nlen, value, a.vlen);
}

int gh_resp_send(gh_resp_t *resp, const void *body, size_t len)
{
    gh__session_t *ss = resp->ss;
    struct iovec iov;
    int rc;

    if (resp->state != GH__RESP_NEW)
        return GH_ESENT;
    if (resp->no_body && len)
        return GH_EINVAL; /* 1xx, 204 and 304 have no body */
    resp->has_length = !resp->no_body;
    resp->length = len;
    if ((rc = emit_head(resp)) < 0)
        return rc;
    resp->state = GH__RESP_DONE;
    if (resp->head_only || resp->no_body || len == 0)
        return 0;
    if (!batch_put(ss, body, len)) {
        iov = (struct iovec){(void *)body, len};
        if ((rc = gh__session_writev(ss, &iov, 1)) < 0)
            return rc;
    }
    resp->sent = len;
    return 0;
}

/* Body bytes of a streamed response, framed.  0 or GH_E*. */
static int stream_out(gh_resp_t *resp, const void *buf, size_t len)
{
    gh__session_t *ss = resp->ss;
    char ch[CHUNK_HEAD];
    struct iovec iov[3];
    size_t hl = 0;
    int n = 0;

    if (resp->chunked)
        hl = (size_t)snprintf(ch, sizeof(ch), "%zx\r\n", len);
    if (hl + len + 2 <= ss->ocap - ss->olen) {
        batch_put(ss, ch, hl);
        batch_put(ss, buf, len);
        if (resp->chunked)
            batch_put(ss, "\r\n", 2);
        return 0;
    }
    if (hl)
        iov[n++] = (struct iovec){ch, hl};
    iov[n++] = (struct iovec){(void *)buf, len};
    if (resp->chunked)
        iov[n++] = (struct iovec){"\r\n", 2};
    return gh__session_writev(ss, iov, n);
}

ssize_t gh_resp_write(gh_resp_t *resp, const void *buf, size_t len)
{
    int rc;

    if (resp->state == GH__RESP_DONE)
        return GH_ESENT;
    if (resp->state == GH__RESP_NEW && (rc = emit_head(resp)) < 0)
        return rc;
    if (resp->has_length && len > resp->length - resp->sent)
        return GH_EMSGSIZE;
    if (resp->no_body && len)
        return GH_EINVAL;
    if (len == 0)
        return 0;
    /* Counted once out, so that the access log's count is what went. */
    if (!resp->head_only && (rc = stream_out(resp, buf, len)) < 0)
        return rc;
    resp->sent += len;
    return (ssize_t)len;
}

int gh_resp_flush(gh_resp_t *resp)
{
    int rc;

    if (resp->state == GH__RESP_NEW && (rc = emit_head(resp)) < 0)
        return rc;
    return gh__session_flush(resp->ss);
}

int gh_resp_end(gh_resp_t *resp)
{
    int rc;

    if (resp->state == GH__RESP_DONE)
        return GH_ESENT;
    if (resp->state == GH__RESP_NEW)
        return gh_resp_send(resp, NULL, 0);
    resp->state = GH__RESP_DONE;
    if (resp->has_length && resp->sent < resp->length && !resp->head_only) {
        resp->ss->close = true; /* the client must see it cut short */
        return GH_EIO;
    }
    if (resp->chunked && !resp->head_only &&
        !batch_put(resp->ss, "0\r\n\r\n", 5)) {
        if ((rc = gh__session_flush(resp->ss)) < 0)
            return rc;
        batch_put(resp->ss, "0\r\n\r\n", 5);
    }
    return 0;
}

/*
 * A transport that copies files anyway (TLS without kernel TLS) sends a
 * small one best with the head, in the batch: one record and one write
 * instead of two.  True if the whole file went into the batch.
 */
static bool batch_file(gh__session_t *ss, int fd, off_t offset, size_t len)
{
    gh__conn_t *c = ss->c;
    ssize_t n;

    if (!c->ops->copies || len > ss->ocap - ss->olen || !c->ops->copies(c))
        return false;
    n = pread(fd, ss->out + ss->olen, len, offset);
    if (n != (ssize_t)len)
        return false; /* the ordinary path meets the same and says so */
    ss->olen += (uint32_t)len;
    return true;
}

int gh_resp_sendfile(gh_resp_t *resp, int fd, off_t offset, size_t len)
{
    gh__session_t *ss = resp->ss;
    gh__conn_t *c = ss->c;
    int64_t t0;
    uint64_t done = 0;
    int rc;

    if (resp->state != GH__RESP_NEW)
        return GH_ESENT;
    if (fd < 0 || offset < 0)
        return GH_EINVAL;
    resp->has_length = true;
    resp->length = len;
    if ((rc = emit_head(resp)) < 0)
        return rc;
    resp->state = GH__RESP_DONE;
    if (resp->head_only || len == 0)
        return 0;
    if (batch_file(ss, fd, offset, len)) {
        resp->sent = len;
        return 0;
    }
    if ((rc = gh__session_flush(ss)) < 0)
        return rc;
    t0 = gh_now();
    while (done < len) {
        ssize_t n = c->ops->sendfile(c, fd, &offset, len - done,
                                     write_deadline(ss, t0, done));
        if (n <= 0) {
            ss->close = true; /* the length promised cannot be kept */
            resp->sent = done;
            return n == 0 ? GH_EIO : (int)n;
        }
        done += (uint64_t)n;
        count_out(ss, (size_t)n);
    }
    resp->sent = len;
    return 0;
}

/* ---- canned responses and the end of a request ---- */

static int canned(gh_resp_t *resp, int status)
{
    char body[96];
    int n;

    gh_resp_status(resp, status);
    if (resp->no_body)
        return gh_resp_send(resp, NULL, 0);
    n = snprintf(body, sizeof(body), "%d %s\n", status,
                 gh__http_reason(status));
    gh_resp_header_set(resp, "Content-Type", "text/plain; charset=utf-8");
    return gh_resp_send(resp, body, (size_t)n);
}

/* The status for a handler's error code. */
static int error_status(gh_resp_t *resp, int rc)
{
    gh_req_t *req = resp->ss->req;

    if (req && req->body_error && rc == req->body_err) {
        resp->ss->close = resp->ss->linger = true;
        if (rc == GH_ETIMEDOUT && req->timed_out)
            return 408;
        if (rc == GH_EMSGSIZE)
            return 413;
        if (rc == GH_ENOBUFS)
            return 431;
        if (rc == GH_EINVAL)
            return 400;
        /* The client closed (or reset) before its body was whole: its
         * fault, not the handler's, and nothing for the error log. */
        if (rc == GH_ECONNRESET) {
            resp->ss->linger = false;
            return 400;
        }
    }
    gh_log(GH_LOG_ERROR, "http: handler of \"%s %s\" failed: %s",
           req ? gh_req_method(req) : "?", req ? gh_req_target(req) : "?",
           gh_strerror(rc));
    return 500;
}

int gh__resp_finish(gh_resp_t *resp, int rc)
{
    gh__session_t *ss = resp->ss;

    if (resp->state == GH__RESP_DONE) {
        if (rc < 0)
            gh_log(GH_LOG_ERROR, "http: handler of \"%s %s\" failed after "
                   "answering: %s", gh_req_method(ss->req),
                   gh_req_target(ss->req), gh_strerror(rc));
        return ss->close && ss->olen ? gh__session_flush(ss) : 0;
    }
    if (resp->state == GH__RESP_HEAD) {
        if (rc != 0) {
            ss->close = true; /* a cut stream must not look complete */
            gh__session_flush(ss);
            return GH_EIO;
        }
        return gh_resp_end(resp);
    }
    if (rc == 0)
        return gh_resp_send(resp, NULL, 0);
    if (rc < 0)
        rc = error_status(resp, rc);
    else if (rc < 100 || rc > 599)
        rc = 500;
    return canned(resp, rc); /* emit_head decides about Connection */
}

void gh__session_linger(gh__session_t *ss)
{
    const gh_server_opts_t *o = &ss->cfg->o;
    int64_t deadline = gh_deadline_in(o->linger_timeout);
    uint64_t total = 0;
    char sink[4096];
    ssize_t n;

    /* The client sees the answer even if it is still sending: closing with
     * unread input would reset the connection under it (and a client
     * still sending when the reset comes sees only that).  Bounded in
     * time and bytes: linger_timeout, linger_bytes. */
    shutdown(ss->c->fd, SHUT_WR);
    do {
        n = ss->c->ops->read(ss->c, sink, sizeof(sink), deadline);
        total += n > 0 ? (uint64_t)n : 0;
    } while (n > 0 && total < o->linger_bytes);
}

int gh__resp_error(gh__session_t *ss, int status)
{
    gh_resp_t resp;
    gh_req_t req;
    int64_t now;
    int rc;

    /* A request to hold the canned response's strings. */
    memset(&req, 0, sizeof(req));
    req.ss = ss;
    gh__req_forwarded(&req, false); /* the peer as client, an ID */
    ss->req = &req;
    ss->close = true;
    gh__resp_init(&resp, ss);
    resp.head_only = false;
    rc = canned(&resp, status);
    /* Out now, before the access log hears of it; the caller lingers and
     * closes. */
    if (rc == 0)
        rc = gh__session_flush(ss);
    now = gh__count_response(ss, status);
    ss->linger = rc == 0;
    /* ss->req still set: the report takes the ID from it. */
    if (ss->cfg->o.access_log)
        gh__access_report(ss, NULL, status, rc == 0 ? resp.sent : 0, now);
    ss->req = NULL;
    gh__req_fini(&req);
    return rc;
}
