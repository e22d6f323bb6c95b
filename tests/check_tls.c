/*
 * check_tls.c - TLS contexts and HTTPS listeners through the public API:
 * gh_tls_new() refusing bad input with the file named (an OCSP file that
 * holds no successful response too), a request over TLS with what
 * gh_req_tls() reports, gh_server_listener_tls() swapping a running
 * listener's certificate (and turning TLS off), OCSP stapling refreshed
 * from its file (a bad refresh keeping the good response), and the limit
 * on concurrent handshakes.
 *
 * The keys and certificates are made in the test (OpenSSL's API, in a
 * mkdtemp directory); the client is a blocking OpenSSL client on the main
 * thread, which is not a worker.  Hostile clients too: ClientHellos
 * mutated at random must each be closed at once, leaving nothing behind.
 */
#include "check_gh.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static gh_server_t *srv;
static struct sockaddr_storage srv_ss;
static socklen_t srv_sslen;

/* What the handler saw on the last request. */
static char seen[512];

/* ---- keys and certificates ---- */

/* dir/NAME.pem and dir/NAME.key: a self-signed P-256 certificate for cn,
 * valid from now for a day. */
static void mkcert(const char *name, const char *cn)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    char path[128];
    FILE *f;

    ck_assert_ptr_nonnull(k);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    PEM_write_X509(f, x);
    fclose(f);
    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void setup(void)
{
    gh_test_rt_start();
    strcpy(dir, "/tmp/check_tls.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    mkcert("a", "a.test");
    mkcert("b", "b.test");
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    gh_test_rt_stop();
}

/* A context for NAME's files; max_handshakes as given (0: default), and
 * the handshake timeout (0: 2 s). */
static gh_tls_t *tls_for(const char *name, uint32_t max_hs, int64_t hs_timeout)
{
    char cert[128], key[128], err[256];
    gh_tls_cert_t c = {.cert_file = cert, .key_file = key};
    gh_tls_opts_t o;
    gh_tls_t *t;
    int rc;

    snprintf(cert, sizeof(cert), "%s/%s.pem", dir, name);
    snprintf(key, sizeof(key), "%s/%s.key", dir, name);
    gh_tls_opts_init(&o);
    o.certs = &c;
    o.ncerts = 1;
    if (max_hs)
        o.max_handshakes = max_hs;
    o.handshake_timeout = hs_timeout ? hs_timeout : 2 * GH_SECOND;
    rc = gh_tls_new(&t, &o, err, sizeof(err));
    ck_assert_msg(rc == 0, "gh_tls_new: %s", err);
    return t;
}

/* ---- the server ---- */

static atomic_int h_entered, h_done;
static atomic_long h_err;

/* Wait for the request's context to end (a client that leaves). */
static int h_ctxwait(gh_req_t *req, gh_resp_t *resp)
{
    gh_ctx_t *ctx = gh_req_ctx(req);
    int r;

    atomic_store(&h_entered, 1);
    r = gh_chan_recv_until(gh_ctx_done(ctx), NULL,
                           gh_deadline_in(10 * GH_SECOND));
    atomic_store(&h_err, r == GH_ETIMEDOUT ? GH_ETIMEDOUT : gh_ctx_err(ctx));
    atomic_store(&h_done, 1);
    return gh_resp_send(resp, "done", 4);
}

static int h_tls(void *u, gh_req_t *req, gh_resp_t *resp)
{
    const gh_tls_info_t *ti = gh_req_tls(req);

    if (strcmp(gh_req_path(req), "/ctxwait") == 0)
        return h_ctxwait(req, resp);

    if (ti)
        snprintf(seen, sizeof(seen), "%s %s %s %d %s", ti->version,
                 ti->sni ? ti->sni : "-", ti->alpn ? ti->alpn : "-",
                 ti->resumed, gh_req_scheme(req));
    else
        snprintf(seen, sizeof(seen), "plain %s", gh_req_scheme(req));
    return gh_resp_send(resp, seen, strlen(seen));
}

static void srv_start(gh_tls_t *tls)
{
    gh_listen_opts_t lo = {.tls = tls};

    ck_assert_int_eq(gh_server_new(&srv, NULL, h_tls, NULL), 0);
    ck_assert_int_eq(gh_server_listen(srv, "127.0.0.1:0", &lo), 0);
    srv_sslen = sizeof(srv_ss);
    ck_assert_int_eq(gh_server_addr(srv, 0, &srv_ss, &srv_sslen), 0);
    ck_assert_int_eq(gh_server_start(srv), 0);
}

static void srv_stop(void)
{
    gh_server_shutdown(srv, gh_deadline_in(gh_test_slack(3 * GH_SECOND)));
    gh_server_free(srv);
}

/* ---- the client ---- */

static int tcp_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 10};

    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&srv_ss, srv_sslen), 0);
    return fd;
}

/*
 * One GET over TLS (SNI sni, ALPN http/1.1).  Returns the response's
 * body into body and the server certificate's CN into cn; false when the
 * handshake fails.
 */
static bool tls_get(const char *sni, char *cn, size_t cnlen, char *body,
                    size_t blen)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n";
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    int fd = tcp_connect(), n, total = 0;
    char buf[4096];
    const char *p;
    bool ok = false;

    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, sni);
    SSL_set_alpn_protos(ssl, (const unsigned char *)"\x08http/1.1", 9);
    if (SSL_connect(ssl) == 1) {
        X509_NAME_get_text_by_NID(
            X509_get_subject_name(SSL_get0_peer_certificate(ssl)),
            NID_commonName, cn, (int)cnlen);
        SSL_write(ssl, req, sizeof(req) - 1);
        while ((n = SSL_read(ssl, buf + total,
                             (int)sizeof(buf) - 1 - total)) > 0)
            total += n;
        buf[total] = '\0';
        p = strstr(buf, "\r\n\r\n");
        p = p ? p + 4 : buf;
        n = (int)strlen(p) < (int)blen - 1 ? (int)strlen(p) : (int)blen - 1;
        memcpy(body, p, (size_t)n);
        body[n] = '\0';
        ok = true;
    }
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return ok;
}

/* A handshaken client whose writes go to a memory BIO: the test decides
 * how the records' bytes reach the socket. */
typedef struct mclient {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *out;
    int fd;
} mclient_t;

static void mclient_open(mclient_t *m)
{
    m->ctx = SSL_CTX_new(TLS_client_method());
    m->ssl = SSL_new(m->ctx);
    m->fd = tcp_connect();
    SSL_set_fd(m->ssl, m->fd);
    ck_assert_int_eq(SSL_connect(m->ssl), 1);
    m->out = BIO_new(BIO_s_mem());
    SSL_set0_wbio(m->ssl, m->out); /* the SSL owns it */
}

/* The records written so far: send bytes [from, to) of them. */
static void mclient_send(mclient_t *m, size_t from, size_t to)
{
    char *p;
    long n = BIO_get_mem_data(m->out, &p);

    ck_assert_int_ge(n, (long)to);
    ck_assert_int_eq(write(m->fd, p + from, to - from), (ssize_t)(to - from));
}

/* Read responses until count "HTTP/1.1 200" are in. */
static int mclient_answers(mclient_t *m, int count)
{
    char buf[8192];
    int total = 0, n, got = 0;

    while (got < count && total < (int)sizeof(buf) - 1 &&
           (n = SSL_read(m->ssl, buf + total,
                         (int)sizeof(buf) - 1 - total)) > 0) {
        total += n;
        buf[total] = '\0';
        got = 0;
        for (char *p = buf; (p = strstr(p, "HTTP/1.1 200")); p++)
            got++;
    }
    return got;
}

static void mclient_close(mclient_t *m)
{
    ERR_clear_error();
    SSL_free(m->ssl);
    SSL_CTX_free(m->ctx);
    close(m->fd);
}

static const char get_req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/*
 * OpenSSL reads ahead, so the connection may hold a whole record it has
 * not decrypted while the socket is empty: it must not go idle then.  And
 * a record that came in part must wait on the socket for the rest.
 */
START_TEST(tls_read_ahead_never_strands_a_record)
{
    gh_tls_t *t = tls_for("a", 0, 0);
    mclient_t m;
    long len;
    char *p;

    srv_start(t);
    gh_tls_free(t);
    mclient_open(&m);
    /* Two requests, two records, one write. */
    SSL_write(m.ssl, get_req, sizeof(get_req) - 1);
    SSL_write(m.ssl, get_req, sizeof(get_req) - 1);
    len = BIO_get_mem_data(m.out, &p);
    mclient_send(&m, 0, (size_t)len);
    ck_assert_int_eq(mclient_answers(&m, 2), 2);
    /* One record in two writes, 200 ms apart. */
    (void)BIO_reset(m.out);
    SSL_write(m.ssl, get_req, sizeof(get_req) - 1);
    len = BIO_get_mem_data(m.out, &p);
    mclient_send(&m, 0, 3);
    usleep(200 * 1000);
    mclient_send(&m, 3, (size_t)len);
    ck_assert_int_eq(mclient_answers(&m, 1), 1);
    mclient_close(&m);
    srv_stop();
}
END_TEST

/* One request on a new connection offering *sess (if any); *sess becomes
 * the session it ends with.  True if the handshake resumed. */
static bool get_resuming(SSL_SESSION **sess)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    int fd = tcp_connect();
    char buf[1024];
    bool reused;

    SSL_set_fd(ssl, fd);
    if (*sess)
        SSL_set_session(ssl, *sess);
    ck_assert_int_eq(SSL_connect(ssl), 1);
    SSL_write(ssl, get_req, sizeof(get_req) - 1);
    ck_assert_int_gt(SSL_read(ssl, buf, sizeof(buf)), 0); /* + ticket */
    reused = SSL_session_reused(ssl);
    SSL_SESSION_free(*sess);
    *sess = SSL_get1_session(ssl);
    SSL_shutdown(ssl); /* else SSL_free marks the session unresumable */
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return reused;
}

/* A ticket key encrypts for one period and still decrypts in the next
 * (the server then issues a fresh ticket); after that it is gone. */
START_TEST(tls_ticket_keys_rotate)
{
    char cert[128], key[128], err[256];
    gh_tls_cert_t c = {.cert_file = cert, .key_file = key};
    SSL_SESSION *s1 = NULL, *old;
    gh_tls_opts_t o;
    gh_tls_t *t;

    snprintf(cert, sizeof(cert), "%s/a.pem", dir);
    snprintf(key, sizeof(key), "%s/a.key", dir);
    gh_tls_opts_init(&o);
    o.certs = &c;
    o.ncerts = 1;
    o.session_cache = 0; /* tickets only */
    o.ticket_key_rotate = gh_test_slack(400 * GH_MILLISECOND);
    ck_assert_int_eq(gh_tls_new(&t, &o, err, sizeof(err)), 0);
    srv_start(t);
    gh_tls_free(t);
    ck_assert(!get_resuming(&s1));
    old = SSL_SESSION_dup(s1);
    ck_assert(get_resuming(&s1)); /* the same key */
    usleep((useconds_t)(o.ticket_key_rotate * 3 / 2 / 1000));
    ck_assert(get_resuming(&s1)); /* the previous key; renewed */
    usleep((useconds_t)(o.ticket_key_rotate * 2 / 1000));
    ck_assert(!get_resuming(&old)); /* two rotations later: gone */
    SSL_SESSION_free(s1);
    SSL_SESSION_free(old);
    srv_stop();
}
END_TEST

/* A TLS client that leaves (close_notify, then its FIN, in one segment:
 * TCP_CORK) ends its request's context, as a FIN does on plain TCP. */
START_TEST(tls_close_notify_cancels_request_context)
{
    static const char req[] = "GET /ctxwait HTTP/1.1\r\nHost: x\r\n\r\n";
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    gh_tls_t *t = tls_for("a", 0, 0);
    int fd;

    srv_start(t);
    gh_tls_free(t);
    fd = tcp_connect();
    SSL_set_fd(ssl, fd);
    ck_assert_int_eq(SSL_connect(ssl), 1);
    SSL_write(ssl, req, sizeof(req) - 1);
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&h_entered), 2 * GH_SECOND));
    usleep(50 * 1000); /* let it park on gh_ctx_done */
    setsockopt(fd, IPPROTO_TCP, TCP_CORK, &(int){1}, sizeof(int));
    SSL_shutdown(ssl);
    shutdown(fd, SHUT_WR);
    ck_assert_msg(GH_TEST_WAIT_UNTIL(atomic_load(&h_done), 2 * GH_SECOND),
                  "context not cancelled after close_notify");
    ck_assert_int_eq(atomic_load(&h_err), GH_ECANCELED);
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    srv_stop();
}
END_TEST

/* ---- gh_tls_new's refusals ---- */

static void expect_refusal(const char *cert, const char *key,
                           const char *words)
{
    char c[128], k[128], err[512] = "";
    gh_tls_cert_t tc = {.cert_file = c, .key_file = k};
    gh_tls_opts_t o;
    gh_tls_t *t = (gh_tls_t *)1;

    snprintf(c, sizeof(c), "%s/%s", dir, cert);
    snprintf(k, sizeof(k), "%s/%s", dir, key);
    gh_tls_opts_init(&o);
    o.certs = &tc;
    o.ncerts = 1;
    ck_assert_int_eq(gh_tls_new(&t, &o, err, sizeof(err)), GH_EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, words) != NULL, "\"%s\" lacks \"%s\"", err,
                  words);
}

START_TEST(tls_new_names_the_bad_file)
{
    char want[256];

    snprintf(want, sizeof(want), "certificate %s/none.pem: No such file",
             dir);
    expect_refusal("none.pem", "a.key", want);
    snprintf(want, sizeof(want), "key %s/b.key does not match certificate "
             "%s/a.pem", dir, dir);
    expect_refusal("a.pem", "b.key", want);
    snprintf(want, sizeof(want), "certificate %s/a.key: not a PEM", dir);
    expect_refusal("a.key", "a.key", want);
    snprintf(want, sizeof(want), "key %s/a.pem: not a usable PEM private key",
             dir);
    expect_refusal("a.pem", "a.pem", want);
}
END_TEST

/* ---- OCSP responses ---- */

/* dir/NAME: a DER OCSP response of status st; a successful one says that
 * a.pem (self-signed: its own issuer and responder) is good, produced at
 * now + shift seconds, so that two of them differ. */
static void mkocsp(const char *name, int st, long shift)
{
    char path[128];
    FILE *f;
    X509 *x;
    EVP_PKEY *k;
    OCSP_BASICRESP *b = NULL;
    OCSP_CERTID *id = NULL;
    OCSP_RESPONSE *r;
    ASN1_TIME *at = X509_gmtime_adj(NULL, shift);
    unsigned char *der = NULL;
    int n;

    snprintf(path, sizeof(path), "%s/a.pem", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "r"));
    ck_assert_ptr_nonnull(x = PEM_read_X509(f, NULL, NULL, NULL));
    fclose(f);
    snprintf(path, sizeof(path), "%s/a.key", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "r"));
    ck_assert_ptr_nonnull(k = PEM_read_PrivateKey(f, NULL, NULL, NULL));
    fclose(f);
    if (st == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        b = OCSP_BASICRESP_new();
        id = OCSP_cert_to_id(NULL, x, x);
        ck_assert_ptr_nonnull(OCSP_basic_add1_status(
            b, id, V_OCSP_CERTSTATUS_GOOD, 0, NULL, at, NULL));
        ck_assert_int_eq(OCSP_basic_sign(b, x, k, EVP_sha256(), NULL, 0), 1);
    }
    ck_assert_ptr_nonnull(r = OCSP_response_create(st, b));
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    ck_assert_int_gt(n = i2d_OCSP_RESPONSE(r, &der), 0);
    ck_assert_ptr_nonnull(f = fopen(path, "wb"));
    ck_assert_uint_eq(fwrite(der, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    OPENSSL_free(der);
    OCSP_RESPONSE_free(r);
    OCSP_BASICRESP_free(b);
    OCSP_CERTID_free(id);
    ASN1_TIME_free(at);
    EVP_PKEY_free(k);
    X509_free(x);
}

/* gh_tls_new() for a.pem and a.key with dir/OCSP as the response file. */
static int tls_new_ocsp(gh_tls_t **t, const char *ocsp, char *err,
                        size_t errlen)
{
    char cert[128], key[128], resp[128];
    gh_tls_cert_t c = {.cert_file = cert, .key_file = key,
                       .ocsp_file = resp};
    gh_tls_opts_t o;

    snprintf(cert, sizeof(cert), "%s/a.pem", dir);
    snprintf(key, sizeof(key), "%s/a.key", dir);
    snprintf(resp, sizeof(resp), "%s/%s", dir, ocsp);
    gh_tls_opts_init(&o);
    o.certs = &c;
    o.ncerts = 1;
    o.handshake_timeout = 2 * GH_SECOND;
    return gh_tls_new(t, &o, err, errlen);
}

static void expect_ocsp_refusal(const char *ocsp, const char *words)
{
    char want[256], err[512] = "";
    gh_tls_t *t = (gh_tls_t *)1;

    snprintf(want, sizeof(want), "ocsp response %s/%s: %s", dir, ocsp,
             words);
    ck_assert_int_eq(tls_new_ocsp(&t, ocsp, err, sizeof(err)), GH_EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, want) != NULL, "\"%s\" lacks \"%s\"", err,
                  want);
}

/* The response file is checked at load: a certificate, an unsuccessful
 * response or one with bytes after it is not something to staple. */
START_TEST(tls_new_refuses_a_file_that_is_no_ocsp_response)
{
    char path[128], err[512] = "";
    gh_tls_t *t;
    FILE *f;

    expect_ocsp_refusal("a.pem", "not a DER OCSP response");
    mkocsp("later.der", OCSP_RESPONSE_STATUS_TRYLATER, 0);
    expect_ocsp_refusal("later.der", "status trylater, not successful");
    mkocsp("good.der", OCSP_RESPONSE_STATUS_SUCCESSFUL, 0);
    ck_assert_msg(tls_new_ocsp(&t, "good.der", err, sizeof(err)) == 0,
                  "gh_tls_new: %s", err);
    gh_tls_free(t);
    snprintf(path, sizeof(path), "%s/good.der", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "ab"));
    fputs("junk", f);
    fclose(f);
    expect_ocsp_refusal("good.der", "not a DER OCSP response");
    snprintf(path, sizeof(path), "%s/empty.der", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "wb"));
    fclose(f);
    expect_ocsp_refusal("empty.der", "not a DER OCSP response");
}
END_TEST

/* The response stapled for a new connection that asks for one, into out:
 * its length, 0 when none. */
static size_t stapled(unsigned char *out, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    int fd = tcp_connect();
    const unsigned char *p;
    long n;

    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);
    ck_assert_int_eq(SSL_connect(ssl), 1);
    n = SSL_get_tlsext_status_ocsp_resp(ssl, &p);
    if (n > 0) {
        ck_assert_int_le(n, (long)cap);
        memcpy(out, p, (size_t)n);
    }
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return n > 0 ? (size_t)n : 0;
}

/* dir/NAME's bytes into buf; how many. */
static size_t file_bytes(const char *name, unsigned char *buf, size_t cap)
{
    char path[128];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    ck_assert_ptr_nonnull(f = fopen(path, "rb"));
    n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* dir/FROM's bytes become dir/TO's, in place (a new mtime). */
static void copy_over(const char *from, const char *to)
{
    unsigned char buf[8192];
    size_t n = file_bytes(from, buf, sizeof(buf));
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, to);
    ck_assert_ptr_nonnull(f = fopen(path, "wb"));
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

static pthread_mutex_t ocsp_log_mu = PTHREAD_MUTEX_INITIALIZER;
static char ocsp_log[512];

static void ocsp_sink(void *u, int level, const char *msg, size_t len)
{
    if (!strstr(msg, "ocsp response"))
        return;
    pthread_mutex_lock(&ocsp_log_mu);
    snprintf(ocsp_log, sizeof(ocsp_log), "%s", msg);
    pthread_mutex_unlock(&ocsp_log_mu);
}

/* The file is looked at again once a second: a good new response is
 * stapled from then on; a bad one is logged, naming the file, and the
 * last good response stays stapled. */
START_TEST(tls_ocsp_bad_refresh_keeps_the_good_response)
{
    unsigned char want[8192], got[8192];
    size_t wn, gn;
    char err[512] = "", words[256];
    gh_tls_t *t;

    mkocsp("good.der", OCSP_RESPONSE_STATUS_SUCCESSFUL, 0);
    mkocsp("next.der", OCSP_RESPONSE_STATUS_SUCCESSFUL, 60);
    copy_over("good.der", "live.der");
    ck_assert_msg(tls_new_ocsp(&t, "live.der", err, sizeof(err)) == 0,
                  "gh_tls_new: %s", err);
    gh_log_set_sink(ocsp_sink, NULL);
    srv_start(t);
    gh_tls_free(t);
    wn = file_bytes("good.der", want, sizeof(want));
    gn = stapled(got, sizeof(got));
    ck_assert(gn == wn && memcmp(got, want, wn) == 0);
    /* A certificate where the response was: logged, the good one stays. */
    usleep(1100 * 1000);
    copy_over("a.pem", "live.der");
    gn = stapled(got, sizeof(got));
    ck_assert_msg(gn == wn && memcmp(got, want, wn) == 0,
                  "a bad refresh replaced the response (%zu bytes)", gn);
    snprintf(words, sizeof(words), "ocsp response %s/live.der: not a DER "
             "OCSP response", dir);
    pthread_mutex_lock(&ocsp_log_mu);
    ck_assert_msg(strstr(ocsp_log, words), "log: \"%s\"", ocsp_log);
    pthread_mutex_unlock(&ocsp_log_mu);
    /* A good one again: stapled. */
    usleep(1100 * 1000);
    copy_over("next.der", "live.der");
    wn = file_bytes("next.der", want, sizeof(want));
    gn = stapled(got, sizeof(got));
    ck_assert(gn == wn && memcmp(got, want, wn) == 0);
    srv_stop();
    gh_log_set_sink(NULL, NULL);
}
END_TEST

START_TEST(tls_new_checks_its_options)
{
    gh_tls_cert_t two[2] = {{.cert_file = "x", .key_file = "y"},
                            {.cert_file = "x", .key_file = "y"}};
    gh_tls_opts_t o;
    gh_tls_t *t;
    char err[256];

    gh_tls_opts_init(&o);
    ck_assert_int_eq(gh_tls_new(&t, &o, err, sizeof(err)), GH_EINVAL);
    ck_assert_str_eq(err, "no certificate given");
    o.certs = two;
    o.ncerts = 2;
    ck_assert_int_eq(gh_tls_new(&t, &o, err, sizeof(err)), GH_EINVAL);
    ck_assert_str_eq(err, "more than one default certificate");
    o.ncerts = 1;
    o.min_version = 0x0302; /* TLS 1.1 */
    ck_assert_int_eq(gh_tls_new(&t, &o, NULL, 0), GH_EINVAL);
    gh_tls_free(NULL);
}
END_TEST

/* ---- serving ---- */

START_TEST(tls_request_reports_its_connection)
{
    gh_tls_t *t = tls_for("a", 0, 0);
    char cn[64] = "", body[256] = "";

    srv_start(t);
    gh_tls_free(t); /* the listener holds its own reference */
    ck_assert(tls_get("a.test", cn, sizeof(cn), body, sizeof(body)));
    ck_assert_str_eq(cn, "a.test");
    ck_assert_str_eq(body, "TLSv1.3 a.test http/1.1 0 https");
    srv_stop();
}
END_TEST

START_TEST(tls_listener_swap_applies_to_new_connections)
{
    gh_tls_t *a = tls_for("a", 0, 0), *b = tls_for("b", 0, 0);
    char cn[64] = "", body[256] = "", plain[256];
    int fd;
    ssize_t n;

    srv_start(a);
    ck_assert(tls_get("x", cn, sizeof(cn), body, sizeof(body)));
    ck_assert_str_eq(cn, "a.test");
    ck_assert_int_eq(gh_server_listener_tls(srv, 0, b), 0);
    ck_assert(tls_get("x", cn, sizeof(cn), body, sizeof(body)));
    ck_assert_str_eq(cn, "b.test");
    ck_assert_int_eq(gh_server_listener_tls(srv, 7, a), GH_EINVAL);
    /* Off: the same listener speaks plain HTTP. */
    ck_assert_int_eq(gh_server_listener_tls(srv, 0, NULL), 0);
    fd = tcp_connect();
    ck_assert_int_gt(write(fd, "GET / HTTP/1.0\r\n\r\n", 18), 0);
    n = read(fd, plain, sizeof(plain) - 1);
    ck_assert_int_gt(n, 0);
    plain[n] = '\0';
    ck_assert_msg(strstr(plain, "\r\n\r\nplain"), "%s", plain);
    close(fd);
    gh_tls_free(a);
    gh_tls_free(b);
    srv_stop();
}
END_TEST

START_TEST(tls_plain_http_gets_a_400)
{
    gh_tls_t *t = tls_for("a", 0, 0);
    char buf[512];
    int fd;
    ssize_t n, total = 0;

    srv_start(t);
    gh_tls_free(t);
    fd = tcp_connect();
    ck_assert_int_gt(write(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27), 0);
    while ((n = read(fd, buf + total, sizeof(buf) - 1 - (size_t)total)) > 0)
        total += n;
    buf[total] = '\0';
    ck_assert_msg(strncmp(buf, "HTTP/1.1 400 ", 13) == 0, "%s", buf);
    ck_assert_msg(strstr(buf, "speaks TLS"), "%s", buf);
    close(fd);
    srv_stop();
}
END_TEST

START_TEST(tls_handshakes_over_the_limit_are_closed)
{
    gh_tls_t *t = tls_for("a", 1, 0);
    char cn[64] = "", body[256] = "";
    int stall;

    srv_start(t);
    gh_tls_free(t);
    /* One handshake in progress, stalled after the record header... */
    stall = tcp_connect();
    ck_assert_int_eq(write(stall, "\x16\x03\x01", 3), 3);
    usleep(200 * 1000);
    /* ... so the next one is refused at once... */
    ck_assert(!tls_get("a.test", cn, sizeof(cn), body, sizeof(body)));
    /* ... until the stalled one is gone. */
    close(stall);
    usleep(200 * 1000);
    ck_assert(tls_get("a.test", cn, sizeof(cn), body, sizeof(body)));
    srv_stop();
}
END_TEST

/* ---- hostile clients ---- */

/* The first flight of a client (its ClientHello record), as bytes. */
static size_t client_hello(unsigned char *out, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    BIO *rd = BIO_new(BIO_s_mem()), *wr = BIO_new(BIO_s_mem());
    char *p;
    long n;

    SSL_set_bio(ssl, rd, wr); /* the SSL owns both */
    SSL_set_tlsext_host_name(ssl, "a.test");
    SSL_set_alpn_protos(ssl, (const unsigned char *)"\x08http/1.1", 9);
    ck_assert_int_eq(SSL_connect(ssl), -1); /* it waits for the server */
    n = BIO_get_mem_data(wr, &p);
    ck_assert_int_gt(n, 5);
    ck_assert_int_le(n, (long)cap);
    memcpy(out, p, (size_t)n);
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return (size_t)n;
}

/* Read until the server closes; false if it has not within the socket's
 * receive timeout (tcp_connect: 10 s). */
static bool closed_by_server(int fd)
{
    char buf[4096];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0)
        ;
    return n == 0 || errno == ECONNRESET;
}

/*
 * ClientHellos with a few bytes changed, cut short or with garbage after
 * them, then the client's end: each connection is closed by the server at
 * once, not by its handshake timeout (30 s here), none is left open
 * afterwards, and the listener still completes a real handshake.
 */
START_TEST(tls_mutated_client_hellos_are_closed_and_leak_nothing)
{
    gh_tls_t *t = tls_for("a", 0, 30 * GH_SECOND);
    unsigned char hello[4096], in[4200];
    size_t hlen = client_hello(hello, sizeof(hello));
    uint64_t x = 0x853c49e6748fea9bu;
    char cn[64] = "", body[256] = "";
    gh_server_stats_t st;

    srv_start(t);
    gh_tls_free(t);
    for (int i = 0; i < 300; i++) {
        size_t len = hlen;
        int64_t t0;
        int fd;

        memcpy(in, hello, hlen);
        for (int k = 1 + (int)((x = x * 6364136223846793005u + 1) >> 62); k > 0;
             k--) {
            x = x * 6364136223846793005u + 1;
            switch ((x >> 60) & 3) {
            case 0: /* a byte changed, anywhere */
            case 1:
                in[(x >> 16) % len] = (unsigned char)(x >> 8);
                break;
            case 2: /* cut short */
                len = 1 + (x >> 16) % len;
                break;
            default: /* garbage after it */
                for (int j = 0; j < 64 && len < sizeof(in); j++)
                    in[len++] = (unsigned char)(x >> (j % 56));
                break;
            }
        }
        fd = tcp_connect();
        t0 = gh_now();
        ck_assert_int_eq(write(fd, in, len), (ssize_t)len);
        shutdown(fd, SHUT_WR);
        ck_assert_msg(closed_by_server(fd), "input %d: not closed", i);
        ck_assert_msg(gh_now() - t0 < gh_test_slack(GH_SECOND),
                      "input %d: closed only after %lld ms", i,
                      (long long)((gh_now() - t0) / GH_MILLISECOND));
        close(fd);
    }
    ck_assert(GH_TEST_WAIT_UNTIL(
        (gh_server_stats(srv, &st), st.conns_open == 0), 3 * GH_SECOND));
    ck_assert(tls_get("a.test", cn, sizeof(cn), body, sizeof(body)));
    ck_assert_str_eq(cn, "a.test");
    srv_stop();
}
END_TEST

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_first[256];
static atomic_int log_n;

static void log_sink(void *u, int level, const char *msg, size_t len)
{
    if (!strstr(msg, "tls: handshake with"))
        return;
    pthread_mutex_lock(&log_mu);
    if (atomic_fetch_add(&log_n, 1) == 0)
        snprintf(log_first, sizeof(log_first), "%s", msg);
    pthread_mutex_unlock(&log_mu);
}

/* A first flight that OpenSSL refuses at once: n bytes of p. */
static void send_bad_hello(const char *p, size_t n)
{
    int fd = tcp_connect();

    ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
    ck_assert(closed_by_server(fd));
    close(fd);
}

/* A handshake record holding an empty ClientHello, and a record of a TLS
 * version that does not exist: two reasons. */
#define EMPTY_HELLO "\x16\x03\x01\x00\x04\x01\x00\x00\x00", 9
#define BAD_VERSION "\x16\x07\x07\x00\x04\x01\x00\x00\x00", 9

/* At info each reason is logged once per ten seconds, so a scan cannot
 * flood the log but every kind of failure shows; at debug every one is. */
START_TEST(tls_failed_handshakes_are_logged_once_per_interval)
{
    gh_tls_t *t = tls_for("a", 0, 0);

    gh_log_set_sink(log_sink, NULL);
    srv_start(t);
    for (int i = 0; i < 5; i++)
        send_bad_hello(EMPTY_HELLO);
    ck_assert_int_eq(atomic_load(&log_n), 1);
    ck_assert_msg(strstr(log_first, "handshake with 127.0.0.1 failed: "), "%s",
                  log_first);
    for (int i = 0; i < 3; i++)
        send_bad_hello(BAD_VERSION);
    ck_assert_int_eq(atomic_load(&log_n), 2);
    gh_log_set_level(GH_LOG_DEBUG);
    for (int i = 0; i < 3; i++)
        send_bad_hello(EMPTY_HELLO);
    ck_assert_int_eq(atomic_load(&log_n), 5);
    gh_log_set_level(GH_LOG_INFO);
    srv_stop();
    gh_tls_free(t);
    gh_log_set_sink(NULL, NULL);
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20 * (double)gh_test_time_scale());
    tcase_add_test(tc, tls_new_names_the_bad_file);
    tcase_add_test(tc, tls_new_checks_its_options);
    tcase_add_test(tc, tls_new_refuses_a_file_that_is_no_ocsp_response);
    tcase_add_test(tc, tls_ocsp_bad_refresh_keeps_the_good_response);
    tcase_add_test(tc, tls_request_reports_its_connection);
    tcase_add_test(tc, tls_listener_swap_applies_to_new_connections);
    tcase_add_test(tc, tls_plain_http_gets_a_400);
    tcase_add_test(tc, tls_read_ahead_never_strands_a_record);
    tcase_add_test(tc, tls_ticket_keys_rotate);
    tcase_add_test(tc, tls_close_notify_cancels_request_context);
    tcase_add_test(tc, tls_handshakes_over_the_limit_are_closed);
    tcase_add_test(tc, tls_mutated_client_hellos_are_closed_and_leak_nothing);
    tcase_add_test(tc, tls_failed_handshakes_are_logged_once_per_interval);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(tls_suite)
