/*
 * http_client.h - a small, strict HTTP/1.1 client over blocking sockets, for
 * tests that drive an in-process gohttpd server from the test's own thread.
 *
 * Every wait is bounded: reads poll() with an absolute gh_now() deadline
 * and sends run with SO_SNDTIMEO, so a server that stops answering fails a
 * test instead of hanging it.  A hc_conn_t keeps the bytes it read past a
 * response, so pipelined responses are parsed one after another.  Sends
 * use MSG_NOSIGNAL: a server that closed gives EPIPE, never SIGPIPE.
 *
 * hc_response() parses one response (status line, fields, a body framed by
 * Content-Length, chunked coding or the close) and says exactly what went
 * wrong otherwise: GH_ETIMEDOUT, GH_EIO (the connection ended inside the
 * message), GH_EINVAL (malformed), or -errno.
 *
 * Include check_gh.h first.  Everything is static.
 */
#ifndef HTTP_CLIENT_H
#define HTTP_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/un.h>

#define HC_MAX_FIELDS 64

typedef struct hc_conn {
    int fd;
    char *buf;     /* bytes received and not parsed yet: buf[0 .. len) */
    size_t len, cap;
    int reads;     /* recv() calls that returned data */
    bool eof;      /* the peer closed its side */
} hc_conn_t;

typedef struct hc_resp {
    int status;
    int minor;                   /* HTTP/1.<minor> */
    char *head;                  /* fields, NUL-separated (owned) */
    int nfields;
    const char *names[HC_MAX_FIELDS], *values[HC_MAX_FIELDS];
    int ntrailers;               /* fields [nfields - ntrailers ..) */
    char *tbuf;                  /* trailer fields (owned) */
    char *body;                  /* NUL-terminated (owned) */
    size_t body_len;
    bool chunked, has_length, until_close;
} hc_resp_t;

static GH_TEST_UNUSED void hc_resp_free(hc_resp_t *r)
{
    free(r->head);
    free(r->tbuf);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/** The first field (or trailer) called name, or NULL. */
static GH_TEST_UNUSED const char *hc_field(const hc_resp_t *r,
                                           const char *name)
{
    for (int i = 0; i < r->nfields; i++)
        if (strcasecmp(r->names[i], name) == 0)
            return r->values[i];
    return NULL;
}

static GH_TEST_UNUSED void hc_timeouts(int fd, int64_t ns)
{
    struct timeval tv = {.tv_sec = ns / GH_SECOND,
                         .tv_usec = (ns % GH_SECOND) / 1000};

    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static GH_TEST_UNUSED void hc_init(hc_conn_t *c, int fd)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->cap = 16384;
    c->buf = malloc(c->cap);
    ck_assert_ptr_nonnull(c->buf);
    hc_timeouts(fd, gh_test_slack(5 * GH_SECOND));
}

/* Connect a blocking socket to sa; 0 or -errno (the socket is closed). */
static GH_TEST_UNUSED int hc_connect_fd(int fd, const struct sockaddr *sa,
                                        socklen_t len)
{
    int rc;

    do
        rc = connect(fd, sa, len);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        rc = -errno;
        close(fd);
    }
    return rc;
}

/** Connect to a TCP address; asserts success. */
static GH_TEST_UNUSED void hc_connect(hc_conn_t *c,
                                      const struct sockaddr_storage *ss,
                                      socklen_t len)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

    ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
    rc = hc_connect_fd(fd, (const struct sockaddr *)ss, len);
    ck_assert_msg(rc == 0, "connect: %s", strerror(-rc));
    hc_init(c, fd);
}

static GH_TEST_UNUSED void hc_close(hc_conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = 0;
}

/** Send all of p; 0 or -errno. */
static GH_TEST_UNUSED int hc_send_raw(hc_conn_t *c, const void *p, size_t n)
{
    const char *s = p;

    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/** Send a string; the test fails if it cannot. */
#define hc_send(c, str)                                                     \
    do {                                                                    \
        const char *hc_s_ = (str);                                          \
        int hc_rc_ = hc_send_raw((c), hc_s_, strlen(hc_s_));                \
        ck_assert_msg(hc_rc_ == 0, "send: %s", strerror(-hc_rc_));          \
    } while (0)

/* Milliseconds left until deadline, for poll(). */
static GH_TEST_UNUSED int hc_ms_left(int64_t deadline)
{
    int64_t left = deadline - gh_now();

    if (left <= 0)
        return 0;
    left = (left + GH_MILLISECOND - 1) / GH_MILLISECOND;
    return left > 60000 ? 60000 : (int)left;
}

/*
 * Read more into the buffer, waiting until deadline: bytes read, 0 at end
 * of file, GH_ETIMEDOUT, or -errno.
 */
static GH_TEST_UNUSED ssize_t hc_fill(hc_conn_t *c, int64_t deadline)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    ssize_t n;
    int pr;

    if (c->cap - c->len < 4096) {
        c->cap *= 2;
        c->buf = realloc(c->buf, c->cap);
        ck_assert_ptr_nonnull(c->buf);
    }
    for (;;) {
        pr = poll(&pfd, 1, hc_ms_left(deadline));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return -errno;
        if (pr == 0)
            return GH_ETIMEDOUT;
        n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return -errno;
        if (n == 0) {
            c->eof = true;
            return 0;
        }
        c->len += (size_t)n;
        c->reads++;
        return n;
    }
}

/* Drop the first n bytes of the buffer. */
static GH_TEST_UNUSED void hc_consume(hc_conn_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* The offset just past the next CRLF (from off), or 0 if none yet. */
static GH_TEST_UNUSED size_t hc_line_end(const hc_conn_t *c, size_t off)
{
    for (size_t i = off; i + 1 < c->len; i++)
        if (c->buf[i] == '\r' && c->buf[i + 1] == '\n')
            return i + 2;
    return 0;
}

/* Ensure at least n buffered bytes.  0, GH_EIO at EOF, or an error. */
static GH_TEST_UNUSED int hc_need(hc_conn_t *c, size_t n, int64_t deadline)
{
    while (c->len < n) {
        ssize_t r = hc_fill(c, deadline);
        if (r == 0)
            return GH_EIO;
        if (r < 0)
            return (int)r;
    }
    return 0;
}

/* Split the field lines head[0 .. n) (each ending in CRLF) into r. */
static GH_TEST_UNUSED int hc_parse_fields(hc_resp_t *r, char *p, char *end)
{
    while (p < end) {
        char *eol = strstr(p, "\r\n"), *colon, *v;
        if (!eol || eol > end)
            return GH_EINVAL;
        *eol = '\0';
        if (!(colon = strchr(p, ':')) || r->nfields == HC_MAX_FIELDS)
            return GH_EINVAL;
        *colon = '\0';
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
            ;
        r->names[r->nfields] = p;
        r->values[r->nfields++] = v;
        p = eol + 2;
    }
    return 0;
}

/* Read the head: up to and including the empty line. */
static GH_TEST_UNUSED int hc_read_head(hc_conn_t *c, hc_resp_t *r,
                                       int64_t deadline)
{
    char *end;
    size_t hlen;
    int rc;

    for (;;) {
        c->buf[c->len] = '\0';
        if (c->len && (end = strstr(c->buf, "\r\n\r\n")))
            break;
        ssize_t n = hc_fill(c, deadline);
        if (n == 0)
            return c->len ? GH_EIO : GH_ECONNRESET;
        if (n < 0)
            return (int)n;
    }
    hlen = (size_t)(end - c->buf) + 4;
    if (sscanf(c->buf, "HTTP/1.%d %3d ", &r->minor, &r->status) != 2)
        return GH_EINVAL;
    r->head = malloc(hlen + 1);
    ck_assert_ptr_nonnull(r->head);
    memcpy(r->head, c->buf, hlen);
    r->head[hlen] = '\0';
    hc_consume(c, hlen);
    end = strstr(r->head, "\r\n") + 2; /* past the status line */
    if ((rc = hc_parse_fields(r, end, r->head + hlen - 2)) < 0)
        return rc;
    return 0;
}

static GH_TEST_UNUSED void hc_body_append(hc_resp_t *r, const char *p,
                                          size_t n)
{
    r->body = realloc(r->body, r->body_len + n + 1);
    ck_assert_ptr_nonnull(r->body);
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

/* A chunked body and its trailers. */
static GH_TEST_UNUSED int hc_read_chunked(hc_conn_t *c, hc_resp_t *r,
                                          int64_t deadline)
{
    size_t eol;
    int rc;

    for (;;) {
        unsigned long size;
        char *endp;
        while (!(eol = hc_line_end(c, 0)))
            if ((rc = hc_need(c, c->len + 1, deadline)) < 0)
                return rc;
        size = strtoul(c->buf, &endp, 16);
        if (endp == c->buf)
            return GH_EINVAL;
        hc_consume(c, eol);
        if (size == 0)
            break;
        if ((rc = hc_need(c, size + 2, deadline)) < 0)
            return rc;
        if (c->buf[size] != '\r' || c->buf[size + 1] != '\n')
            return GH_EINVAL;
        hc_body_append(r, c->buf, size);
        hc_consume(c, size + 2);
    }
    /* Trailer fields up to the empty line, kept in r->tbuf. */
    for (size_t off = 0;;) {
        while (!(eol = hc_line_end(c, off)))
            if ((rc = hc_need(c, c->len + 1, deadline)) < 0)
                return rc;
        if (eol - off > 2) {
            off = eol;
            continue;
        }
        r->tbuf = malloc(off + 1);
        ck_assert_ptr_nonnull(r->tbuf);
        memcpy(r->tbuf, c->buf, off);
        r->tbuf[off] = '\0';
        hc_consume(c, eol);
        r->ntrailers = r->nfields;
        rc = hc_parse_fields(r, r->tbuf, r->tbuf + off);
        r->ntrailers = r->nfields - r->ntrailers;
        return rc;
    }
}

/*
 * hc_response - read one response.  head_req: it answers a HEAD request
 * (no body whatever the fields say).  0, or GH_E* as described above.
 */
static GH_TEST_UNUSED int hc_response(hc_conn_t *c, hc_resp_t *r,
                                      bool head_req, int64_t deadline)
{
    const char *cl, *te;
    int rc;

    memset(r, 0, sizeof(*r));
    r->body = calloc(1, 1);
    if ((rc = hc_read_head(c, r, deadline)) < 0)
        return rc;
    te = hc_field(r, "Transfer-Encoding");
    cl = hc_field(r, "Content-Length");
    r->chunked = te && strcasecmp(te, "chunked") == 0;
    r->has_length = cl != NULL;
    if (head_req || r->status < 200 || r->status == 204 || r->status == 304)
        return 0;
    if (r->chunked)
        return hc_read_chunked(c, r, deadline);
    if (cl) {
        size_t n = strtoul(cl, NULL, 10);
        if ((rc = hc_need(c, n, deadline)) < 0)
            return rc;
        hc_body_append(r, c->buf, n);
        hc_consume(c, n);
        return 0;
    }
    r->until_close = true;
    for (;;) {
        ssize_t n = hc_fill(c, deadline);
        if (n < 0)
            return (int)n;
        hc_body_append(r, c->buf, c->len);
        hc_consume(c, c->len);
        if (n == 0)
            return 0;
    }
}

/*
 * hc_closed - wait until deadline for the server to close: 0 when the
 * connection ended (end of file or a reset) with nothing more buffered, 1
 * when more bytes came, GH_ETIMEDOUT when it stayed open.
 */
static GH_TEST_UNUSED int hc_closed(hc_conn_t *c, int64_t deadline)
{
    ssize_t n;

    if (c->len)
        return 1;
    if (c->eof)
        return 0;
    n = hc_fill(c, deadline);
    if (n > 0)
        return 1;
    if (n == 0 || n == GH_ECONNRESET || n == -ECONNRESET)
        return 0;
    return (int)n;
}

/** True if nothing at all (no byte, no close) arrives for ns. */
static GH_TEST_UNUSED bool hc_quiet_for(hc_conn_t *c, int64_t ns)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

    if (c->len || c->eof)
        return false;
    return poll(&pfd, 1, (int)(ns / GH_MILLISECOND)) == 0;
}

/* For messages. */
static GH_TEST_UNUSED const char *hc_err(int rc)
{
    return rc < 0 ? gh_err_name(rc) : "ok";
}

#endif /* HTTP_CLIENT_H */
