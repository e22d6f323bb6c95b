/*
 * conn_tls.c - the TLS transport behind the connection vtable, over
 * OpenSSL on the non-blocking socket.
 *
 * Every SSL call runs on the connection's goroutine and never blocks: on
 * SSL_ERROR_WANT_READ / WANT_WRITE the goroutine parks in gh_wait_fd()
 * and retries the same call when the socket is ready.  OpenSSL keeps its
 * errors in a per-thread queue, and a parked goroutine may resume on
 * another worker, so around each call: clear the queue, call, and if it
 * failed read the error (ssl_err) and clear the queue again, with no park
 * in between.
 *
 * The handshake runs at the first read, with its own deadline counted
 * from accept (handshake_timeout), and counts against max_handshakes of
 * the context while it is in progress: past the limit a connection is
 * closed at once, so a flood of half-open connections holds neither many
 * goroutines nor CPU.  Before it starts, the first byte is peeked at: a
 * client speaking plain HTTP gets a plain-text 400 saying so, and the
 * connection closes.
 *
 * The connection holds a reference to the context it was accepted with,
 * so swapping a listener's context (a reload) leaves it alone.  Between
 * requests an idle TLS connection is parked like a plain one, on its
 * socket, so no byte may wait inside OpenSSL then: OpenSSL reads ahead
 * (one read(2) fetches a record's header and body, and whatever follows),
 * so `pending` is true while it holds decrypted bytes, or undecrypted
 * ones that may make a whole record -- unless the last read already found
 * them short of one (`starved`): the rest of that record must then come
 * through the socket, which the idle watch sees.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "http/tls_impl.h"

#define COALESCE 4096              /* small iov parts go out in one record */
#define COPY_CHUNK (16 * 1024)     /* sendfile without kTLS: one record */
#define COPY_MAX (256 * 1024)      /* ... and at most this much per call */
#define PLAIN_DRAIN_TIME GH_SECOND /* after the 400 to a plain client */
#define PLAIN_DRAIN_BYTES (64 * 1024)

typedef struct gh__tls_conn {
    gh_tls_t *tls;             /* the context accepted with; a reference */
    SSL *ssl;                  /* NULL until the handshake starts */
    int64_t hs_deadline;       /* accept + handshake_timeout */
    bool counted;              /* in tls->handshaking */
    bool done;                 /* the handshake finished */
    bool starved;              /* the last SSL_read wanted more bytes than
                                * OpenSSL holds; cleared when one succeeds */
    bool info_ready;
    gh_tls_info_t info;        /* for gh_req_tls(); strings owned by ssl,
                                * but subject (OPENSSL_free) */
} gh__tls_conn_t;

static const char plain_answer[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 60\r\n"
    "Connection: close\r\n"
    "\r\n"
    "400 Bad Request: this port speaks TLS; use https:// instead\n";

/* One SSL call's outcome: > 0 done, or the SSL_ERROR_* code. */
typedef struct ssl_res {
    int ret;
    int err;
} ssl_res_t;

/* Right after a failed SSL call, before any park: what went wrong, and
 * the thread's error queue left empty for the next goroutine. */
static int ssl_err(SSL *ssl, int ret)
{
    int e = SSL_get_error(ssl, ret);

    ERR_clear_error();
    return e;
}

/* Wait as OpenSSL asked: 0 to retry, or GH_E*. */
static int ssl_wait(gh__conn_t *c, int err, int64_t deadline)
{
    int r;

    if (err == SSL_ERROR_WANT_READ)
        r = gh_wait_fd(c->fd, GH_IO_READ, deadline);
    else if (err == SSL_ERROR_WANT_WRITE)
        r = gh_wait_fd(c->fd, GH_IO_WRITE, deadline);
    else
        return err == SSL_ERROR_ZERO_RETURN ? GH_ECONNRESET : GH_EIO;
    return r > 0 ? 0 : r;
}

/* ---- the handshake ---- */

static void drain(int fd, int64_t deadline)
{
    char buf[2048];
    size_t total = 0;
    ssize_t n;

    while (total < PLAIN_DRAIN_BYTES &&
           (n = gh_read(fd, buf, sizeof(buf), deadline)) > 0)
        total += (size_t)n;
}

/*
 * Before any TLS: a ClientHello starts with a handshake record (22).  An
 * upper-case letter is a plain HTTP method: answer it so the person at
 * the other end learns why, and close.  0 to go on, else GH_E*.
 */
static int sniff(gh__conn_t *c, gh__tls_conn_t *t)
{
    unsigned char b;
    ssize_t n;

    for (;;) {
        n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 1)
            break;
        if (n == 0)
            return GH_ECONNRESET;
        if ((n = gh_wait_fd(c->fd, GH_IO_READ, t->hs_deadline)) < 0)
            return (int)n;
    }
    if (b == 22)
        return 0;
    if (b >= 'A' && b <= 'Z') {
        int64_t end = gh_now() + PLAIN_DRAIN_TIME;
        gh_write_all(c->fd, plain_answer, sizeof(plain_answer) - 1, end);
        shutdown(c->fd, SHUT_WR);
        drain(c->fd, end);
    }
    return GH_EPROTONOSUPPORT;
}

static void hs_uncount(gh__tls_conn_t *t)
{
    if (t->counted) {
        atomic_fetch_sub(&t->tls->handshaking, 1);
        t->counted = false;
    }
}

/* Over max_handshakes: count it, and say so once a second at most. */
static void refused(gh_tls_t *tls)
{
    uint64_t n = atomic_fetch_add(&tls->refused, 1) + 1;

    if (gh__log_gate_pass(&tls->refused_log, GH_SECOND, NULL))
        gh_log(GH_LOG_WARN, "tls: %u handshakes in progress (max_handshakes):"
               " closing new connections (%llu so far)", tls->max_handshakes,
               (unsigned long long)n);
}

static int hs_start(gh__conn_t *c, gh__tls_conn_t *t)
{
    gh_tls_t *tls = t->tls;
    int rc;

    if (atomic_fetch_add(&tls->handshaking, 1) >= tls->max_handshakes) {
        atomic_fetch_sub(&tls->handshaking, 1);
        refused(tls);
        return GH_EAGAIN;
    }
    t->counted = true;
    if ((rc = sniff(c, t)) < 0)
        return rc;
    ERR_clear_error();
    if (!(t->ssl = SSL_new(tls->sites[0].ctx)) ||
        SSL_set_fd(t->ssl, c->fd) != 1) {
        ERR_clear_error();
        return GH_ENOMEM;
    }
    SSL_set_accept_state(t->ssl);
    /* One read(2) per record or more, not two (header, then body). */
    SSL_set_read_ahead(t->ssl, 1);
    return 0;
}

/* Why a handshake failed, at info level (as nginx does): an operator
 * setting up mTLS wants to see "peer did not return a certificate".  But
 * scanners and old clients fail all the time, so at info each reason is
 * logged once per GH__TLS_FAIL_LOG_EVERY with the count of the others
 * (tls_impl.h); at debug, every failure. */
static void hs_failed(gh__conn_t *c, gh_tls_t *tls, unsigned long why)
{
    char addr[INET6_ADDRSTRLEN] = "a unix: client", more[80] = "";
    const char *reason = why ? ERR_reason_error_string(why) : NULL;
    int level = gh_log_level();

    if (level < GH_LOG_INFO)
        return;
    if (level < GH_LOG_DEBUG) {
        uint64_t quiet;
        if (!gh__log_gate_pass(
                &tls->failed[ERR_GET_REASON(why) % GH__TLS_FAIL_REASONS],
                GH__TLS_FAIL_LOG_EVERY, &quiet))
            return;
        if (quiet > 0)
            snprintf(more, sizeof(more),
                     " (and %llu more since the last report)",
                     (unsigned long long)quiet);
    }
    if (c->peer.sa.sa_family == AF_INET)
        inet_ntop(AF_INET, &c->peer.in.sin_addr, addr, sizeof(addr));
    else if (c->peer.sa.sa_family == AF_INET6)
        inet_ntop(AF_INET6, &c->peer.in6.sin6_addr, addr, sizeof(addr));
    gh_log(level < GH_LOG_DEBUG ? GH_LOG_INFO : GH_LOG_DEBUG,
           "tls: handshake with %s failed: %s%s", addr,
           reason ? reason : "protocol error", more);
}

static int handshake(gh__conn_t *c, gh__tls_conn_t *t)
{
    unsigned long why;
    ssl_res_t r;
    int rc;

    if (!t->ssl && (rc = hs_start(c, t)) < 0)
        goto out;
    for (;;) {
        ERR_clear_error();
        r.ret = SSL_do_handshake(t->ssl);
        if (r.ret == 1)
            break;
        why = ERR_peek_last_error(); /* before ssl_err empties the queue */
        r.err = ssl_err(t->ssl, r.ret);
        if ((rc = ssl_wait(c, r.err, t->hs_deadline)) < 0) {
            if (r.err == SSL_ERROR_SSL)
                hs_failed(c, t->tls, why);
            goto out;
        }
    }
    t->done = true;
    hs_uncount(t);
    return 0;
out:
    hs_uncount(t);
    if (rc == GH_ETIMEDOUT) {
        atomic_fetch_add(&c->srv->timeouts, 1);
        rc = GH_ECONNABORTED; /* not "idle": the connection must close */
    }
    return rc;
}

/* ---- the vtable ---- */

static ssize_t tls_read(gh__conn_t *c, void *buf, size_t len,
                        int64_t deadline)
{
    gh__tls_conn_t *t = c->tls;
    ssl_res_t r;
    size_t n;
    int rc;

    if (!t->done && (rc = handshake(c, t)) < 0)
        return rc;
    for (;;) {
        ERR_clear_error();
        r.ret = SSL_read_ex(t->ssl, buf, len, &n);
        r.err = r.ret == 1 ? SSL_ERROR_NONE : ssl_err(t->ssl, r.ret);
        t->starved = r.ret != 1 && r.err == SSL_ERROR_WANT_READ;
        if (r.ret == 1)
            return (ssize_t)n;
        if (r.err == SSL_ERROR_ZERO_RETURN)
            return 0; /* close_notify, or the peer's EOF */
        if ((rc = ssl_wait(c, r.err, deadline)) < 0)
            return rc;
    }
}

/* SSL_write all len bytes of buf (retrying the same call as OpenSSL
 * requires).  0 or GH_E*. */
static int write_all(gh__conn_t *c, const void *buf, size_t len,
                     int64_t deadline)
{
    gh__tls_conn_t *t = c->tls;
    ssl_res_t r;
    size_t n;
    int rc;

    while (len > 0) {
        ERR_clear_error();
        r.ret = SSL_write_ex(t->ssl, buf, len, &n);
        r.err = r.ret == 1 ? SSL_ERROR_NONE : ssl_err(t->ssl, r.ret);
        if (r.ret == 1) {
            buf = (const char *)buf + n;
            len -= n;
        } else if ((rc = ssl_wait(c, r.err, deadline)) < 0) {
            return rc == GH_ECONNRESET ? GH_EPIPE : rc;
        }
    }
    return 0;
}

/* Writes everything (never partial): small parts are gathered so that a
 * response head and a short body travel in one record. */
static ssize_t tls_writev(gh__conn_t *c, const struct iovec *iov, int n,
                          int64_t deadline)
{
    char acc[COALESCE];
    size_t used = 0, total = 0;
    int rc;

    if (!c->tls->done && (rc = handshake(c, c->tls)) < 0)
        return rc;
    if (n == 1) /* the usual batch: nothing to gather */
        return (rc = write_all(c, iov[0].iov_base, iov[0].iov_len,
                               deadline)) < 0
                   ? rc
                   : (ssize_t)iov[0].iov_len;
    for (int i = 0; i < n; i++) {
        size_t len = iov[i].iov_len;
        if (len <= sizeof(acc) - used) {
            memcpy(acc + used, iov[i].iov_base, len);
            used += len;
        } else {
            if (used && (rc = write_all(c, acc, used, deadline)) < 0)
                return rc;
            used = 0;
            if ((rc = write_all(c, iov[i].iov_base, len, deadline)) < 0)
                return rc;
        }
        total += len;
    }
    if (used && (rc = write_all(c, acc, used, deadline)) < 0)
        return rc;
    return (ssize_t)total;
}

/* The kernel encrypts: SSL_sendfile, parking while the socket is full. */
static ssize_t ktls_sendfile(gh__conn_t *c, int fd, off_t *off, size_t len,
                             int64_t deadline)
{
    gh__tls_conn_t *t = c->tls;
    ossl_ssize_t n;
    int err, rc;

    for (;;) {
        ERR_clear_error();
        n = SSL_sendfile(t->ssl, fd, *off, len, 0);
        err = n > 0 ? SSL_ERROR_NONE : ssl_err(t->ssl, (int)n);
        if (n > 0) {
            *off += n;
            return n;
        }
        if ((rc = ssl_wait(c, err, deadline)) < 0)
            return rc;
    }
}

/* No kTLS: pread into a bounded buffer and SSL_write it. */
static ssize_t copy_sendfile(gh__conn_t *c, int fd, off_t *off, size_t len,
                             int64_t deadline)
{
    size_t cap = len < COPY_CHUNK ? len : COPY_CHUNK, done = 0;
    char *buf = malloc(cap);
    ssize_t n = 0;
    int rc = 0;

    if (!buf)
        return GH_ENOMEM;
    while (done < len && done < COPY_MAX) {
        size_t want = len - done < cap ? len - done : cap;
        n = pread(fd, buf, want, *off);
        if (n <= 0) {
            rc = n < 0 ? GH_EIO : 0;
            break;
        }
        if ((rc = write_all(c, buf, (size_t)n, deadline)) < 0)
            break;
        *off += n;
        done += (size_t)n;
    }
    free(buf);
    return done ? (ssize_t)done : rc;
}

static ssize_t tls_sendfile(gh__conn_t *c, int fd, off_t *off, size_t len,
                            int64_t deadline)
{
    gh__tls_conn_t *t = c->tls;
    int rc;

    if (!t->done && (rc = handshake(c, t)) < 0)
        return rc;
    if (BIO_get_ktls_send(SSL_get_wbio(t->ssl)))
        return ktls_sendfile(c, fd, off, len, deadline);
    return copy_sendfile(c, fd, off, len, deadline);
}

static bool tls_copies(gh__conn_t *c)
{
    gh__tls_conn_t *t = c->tls;

    return !t->ssl || !BIO_get_ktls_send(SSL_get_wbio(t->ssl));
}

static bool tls_pending(gh__conn_t *c)
{
    gh__tls_conn_t *t = c->tls;

    if (!t->ssl)
        return false;
    return SSL_pending(t->ssl) > 0 || (!t->starved && SSL_has_pending(t->ssl));
}

static void tls_close(gh__conn_t *c)
{
    gh__tls_conn_t *t = c->tls;

    if (t->ssl) {
        /* One try at close_notify; a full socket means a gone client. */
        ERR_clear_error();
        if (t->done)
            SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
    gh_close(c->fd);
    c->fd = -1;
    hs_uncount(t);
    SSL_free(t->ssl);
    if (t->info.client_subject)
        OPENSSL_free((void *)t->info.client_subject);
    gh_tls_free(t->tls);
    free(t);
    c->tls = NULL;
}

const gh__conn_ops_t gh__conn_tls_ops = {
    .read = tls_read,
    .writev = tls_writev,
    .sendfile = tls_sendfile,
    .pending = tls_pending,
    .close = tls_close,
    .copies = tls_copies,
};

int gh__tls_conn_attach(gh__conn_t *c, gh_tls_t *tls)
{
    gh__tls_conn_t *t = calloc(1, sizeof(*t));

    if (!t)
        return GH_ENOMEM;
    gh__tls_ref(tls);
    t->tls = tls;
    t->hs_deadline = gh_now() + tls->handshake_timeout;
    c->tls = t;
    c->ops = &gh__conn_tls_ops;
    return 0;
}

/* ---- what a handler sees ---- */

static void info_fill(gh__tls_conn_t *t)
{
    const unsigned char *alpn;
    unsigned int alen;
    X509 *peer;

    t->info.version = SSL_get_version(t->ssl);
    t->info.cipher = SSL_get_cipher_name(t->ssl);
    t->info.sni = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
    SSL_get0_alpn_selected(t->ssl, &alpn, &alen);
    t->info.alpn = alen == 8 && memcmp(alpn, "http/1.1", 8) == 0 ? "http/1.1"
                                                                 : NULL;
    t->info.resumed = SSL_session_reused(t->ssl);
    peer = SSL_get0_peer_certificate(t->ssl);
    if (peer && SSL_get_verify_result(t->ssl) == X509_V_OK)
        t->info.client_subject =
            X509_NAME_oneline(X509_get_subject_name(peer), NULL, 0);
    ERR_clear_error();
    t->info_ready = true;
}

const gh_tls_info_t *gh_req_tls(const gh_req_t *req)
{
    gh__conn_t *c;

    if (!req || !(c = req->ss->c) || c->ops != &gh__conn_tls_ops ||
        !c->tls->done)
        return NULL;
    if (!c->tls->info_ready)
        info_fill(c->tls);
    return &c->tls->info;
}
