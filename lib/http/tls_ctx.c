/*
 * tls_ctx.c - building a TLS context (gh_tls_t): certificates, versions,
 * ciphers, ALPN, SNI, client verification, resumption, OCSP stapling.
 *
 * A context is one SSL_CTX per certificate ("site"), all configured alike;
 * every connection starts on the default site's and the SNI callback moves
 * it to the site whose name matches.  The default site's session cache
 * serves every site (OpenSSL keeps the first SSL_CTX as the session
 * context), and all share one session ID context.
 *
 * Ticket keys are process-wide, not per context: a reload builds new
 * contexts, and tickets issued before it must still resume.  The ring
 * holds the current key (encrypts) and the one before (still decrypts,
 * asking for a renewal); it rotates lazily, in the ticket callback, once
 * the current key is older than the latest context's rotation period, so
 * a ticket is good for one to two periods.  The callback runs inside an
 * SSL call, with no park, so a plain mutex guards the ring.
 *
 * Every file is read and checked here, so a missing file, a key that does
 * not match its certificate, an expired certificate or an OCSP file that
 * holds no successful response fails gh_tls_new() with a message naming
 * the file, and a reload can keep the old context.  An OCSP file that
 * goes bad later is logged and the last good response stays stapled.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "http/tls_impl.h"

#define DEFAULT_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"
#define SID_CTX "gohttpd"
#define OCSP_MAX (64 * 1024)          /* a larger file is refused */
#define OCSP_RECHECK GH_SECOND        /* stat(2) the file at most this often */

void gh_tls_opts_init(gh_tls_opts_t *o)
{
    *o = (gh_tls_opts_t){
        .min_version = GH_TLS_1_2,
        .verify_depth = 4,
        .session_tickets = true,
        .ticket_key_rotate = 3600 * GH_SECOND,
        .session_cache = 20480,
        .session_timeout = 3600 * GH_SECOND,
        .handshake_timeout = 10 * GH_SECOND,
        .max_handshakes = 1024,
        .ktls = true,
    };
}

/* ---- errors ---- */

static int errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Format the message, adding OpenSSL's reason if it has one. */
static int errf(char *err, size_t errlen, const char *fmt, ...)
{
    unsigned long e = ERR_peek_last_error();
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    va_list ap;
    int n;

    if (err && errlen) {
        va_start(ap, fmt);
        n = vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        if (why && n >= 0 && (size_t)n < errlen)
            snprintf(err + n, errlen - (size_t)n, " (%s)", why);
    }
    ERR_clear_error();
    return GH_EINVAL;
}

/* ---- ticket keys ---- */

typedef struct tkey {
    unsigned char name[16], aes[32], hmac[32];
} tkey_t;

static struct {
    pthread_mutex_t mu;
    tkey_t cur, prev;
    bool have_cur, have_prev;
    int64_t born;              /* gh_now() when cur was made */
    int64_t rotate;            /* the latest context's period */
} ring = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Under ring.mu: make sure the current key is young enough. */
static int ring_fresh(void)
{
    int64_t now = gh_now();
    tkey_t k;

    if (ring.have_cur && now - ring.born < ring.rotate)
        return 0;
    if (RAND_bytes((unsigned char *)&k, sizeof(k)) != 1)
        return -1;
    ring.prev = ring.cur;
    ring.have_prev = ring.have_cur;
    ring.cur = k;
    ring.have_cur = true;
    ring.born = now;
    return 0;
}

static int ticket_init(const tkey_t *k, unsigned char *iv,
                       EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    OSSL_PARAM p[3];

    p[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                             (void *)k->hmac, 32);
    p[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                            (char *)"SHA256", 0);
    p[2] = OSSL_PARAM_construct_end();
    if (EVP_CipherInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv, enc) !=
            1 ||
        EVP_MAC_CTX_set_params(hctx, p) != 1)
        return -1;
    return 0;
}

/* OpenSSL's ticket key callback: 1 use the key, 2 use it and issue a new
 * ticket, 0 not ours (full handshake), -1 failure. */
static int ticket_cb(SSL *s, unsigned char name[16], unsigned char *iv,
                     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    tkey_t k;
    int rc = 0;

    pthread_mutex_lock(&ring.mu);
    if (ring_fresh() < 0) {
        rc = -1;
    } else if (enc) {
        k = ring.cur;
        rc = 1;
    } else if (memcmp(name, ring.cur.name, 16) == 0) {
        k = ring.cur;
        rc = 1;
    } else if (ring.have_prev && memcmp(name, ring.prev.name, 16) == 0) {
        k = ring.prev;
        rc = 2;
    }
    pthread_mutex_unlock(&ring.mu);
    if (rc <= 0)
        return rc;
    if (enc) {
        memcpy(name, k.name, 16);
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
            return -1;
    }
    rc = ticket_init(&k, iv, cctx, hctx, enc) < 0 ? -1 : rc;
    OPENSSL_cleanse(&k, sizeof(k));
    return rc;
}

/* ---- OCSP stapling ---- */

/* The bytes are one whole DER OCSP response, successful and with a basic
 * response: what a client can check.  Otherwise GH_EINVAL, naming path. */
static int ocsp_check(const char *path, const unsigned char *der,
                      size_t len, char *err, size_t errlen)
{
    const unsigned char *p = der;
    OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
    OCSP_BASICRESP *b = NULL;
    int st, rc = 0;

    if (!r || p != der + len)
        rc = errf(err, errlen, "ocsp response %s: not a DER OCSP response",
                  path);
    else if ((st = OCSP_response_status(r)) !=
             OCSP_RESPONSE_STATUS_SUCCESSFUL)
        rc = errf(err, errlen, "ocsp response %s: status %s, not "
                  "successful", path, OCSP_response_status_str(st));
    else if (!(b = OCSP_response_get1_basic(r)))
        rc = errf(err, errlen, "ocsp response %s: no basic response", path);
    OCSP_BASICRESP_free(b);
    OCSP_RESPONSE_free(r);
    return rc;
}

/*
 * Read and check the size bytes of path into *der (malloc).  GH_EAGAIN
 * when the file did not hold size bytes (it is being rewritten: look
 * again later), GH_EINVAL with err when it cannot be read or is no good.
 */
static int ocsp_read(const char *path, size_t size, unsigned char **der,
                     char *err, size_t errlen)
{
    unsigned char *buf = malloc(size ? size : 1);
    FILE *f = fopen(path, "rb");
    size_t n = 0;
    int rc;

    if (!f || !buf) {
        rc = errf(err, errlen, "ocsp response %s: %s", path,
                  f ? "out of memory" : strerror(errno));
        goto out;
    }
    n = fread(buf, 1, size, f);
    if (n != size || fgetc(f) != EOF) {
        rc = GH_EAGAIN;
        goto out;
    }
    if ((rc = ocsp_check(path, buf, n, err, errlen)) == 0) {
        *der = buf;
        buf = NULL;
    }
out:
    if (f)
        fclose(f);
    free(buf);
    return rc;
}

/*
 * Under o->mu: read the file again if it changed.  The old response stays
 * when the new one is no good: a client that asked would rather have the
 * last good one than a stapled error.  A file caught mid-rewrite is read
 * again at the next look; a complete bad one is logged once per change.
 */
static void ocsp_refresh(gh__ocsp_t *o, int64_t now)
{
    char err[512];
    struct stat st;
    unsigned char *der = NULL;
    int rc;

    o->checked = now;
    if (stat(o->path, &st) < 0 || st.st_size <= 0 ||
        (st.st_mtim.tv_sec == o->mtime.tv_sec &&
         st.st_mtim.tv_nsec == o->mtime.tv_nsec))
        return;
    if (st.st_size > OCSP_MAX)
        rc = errf(err, sizeof(err), "ocsp response %s: larger than 64k",
                  o->path);
    else
        rc = ocsp_read(o->path, (size_t)st.st_size, &der, err, sizeof(err));
    if (rc == GH_EAGAIN)
        return;
    o->mtime = st.st_mtim;
    if (rc) {
        gh_log(GH_LOG_ERROR, "tls: %s: still stapling the previous one",
               err);
        return;
    }
    free(o->der);
    o->der = der;
    o->len = (size_t)st.st_size;
}

static int ocsp_cb(SSL *s, void *arg)
{
    gh__ocsp_t *o = arg;
    unsigned char *copy = NULL;
    size_t len = 0;
    int64_t now = gh_now();

    pthread_mutex_lock(&o->mu);
    if (now - o->checked >= OCSP_RECHECK)
        ocsp_refresh(o, now);
    if (o->der && (copy = OPENSSL_malloc(o->len)) != NULL) {
        memcpy(copy, o->der, o->len);
        len = o->len;
    }
    pthread_mutex_unlock(&o->mu);
    if (!copy)
        return SSL_TLSEXT_ERR_NOACK;
    /* OpenSSL owns copy from here. */
    SSL_set_tlsext_status_ocsp_resp(s, copy, (long)len);
    return SSL_TLSEXT_ERR_OK;
}

static void ocsp_free(gh__ocsp_t *o)
{
    if (!o)
        return;
    pthread_mutex_destroy(&o->mu);
    free(o->der);
    free(o->path);
    free(o);
}

static gh__ocsp_t *ocsp_new(const char *path, char *err, size_t errlen)
{
    gh__ocsp_t *o = calloc(1, sizeof(*o));
    struct stat st;
    int rc;

    if (!o || !(o->path = strdup(path))) {
        free(o);
        errf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&o->mu, NULL);
    if (stat(path, &st) < 0) {
        errf(err, errlen, "ocsp response %s: %s", path, strerror(errno));
        ocsp_free(o);
        return NULL;
    }
    if (st.st_size > OCSP_MAX) {
        errf(err, errlen, "ocsp response %s: larger than 64k", path);
        ocsp_free(o);
        return NULL;
    }
    rc = ocsp_read(path, (size_t)st.st_size, &o->der, err, errlen);
    if (rc == GH_EAGAIN)
        rc = errf(err, errlen, "ocsp response %s: changed while read", path);
    if (rc) {
        ocsp_free(o);
        return NULL;
    }
    o->len = (size_t)st.st_size;
    o->mtime = st.st_mtim;
    o->checked = gh_now();
    return o;
}

/* ---- SNI and ALPN ---- */

static bool name_match(const char *pat, const char *name)
{
    const char *dot;

    if (strcasecmp(pat, name) == 0)
        return true;
    /* "*.example.com" covers "a.example.com", not "a.b.example.com". */
    if (pat[0] != '*' || pat[1] != '.' || !(dot = strchr(name, '.')))
        return false;
    return dot != name && strcasecmp(pat + 1, dot) == 0;
}

static int sni_cb(SSL *s, int *al, void *arg)
{
    gh_tls_t *t = arg;
    const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);

    if (!name)
        return SSL_TLSEXT_ERR_OK;
    /* Exact names first: a wildcard must not shadow a listed name. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 1; i < t->nsites; i++)
            if ((pass == 0 ? strcasecmp(t->sites[i].name, name) == 0
                           : name_match(t->sites[i].name, name))) {
                if (t->sites[i].ctx != SSL_get_SSL_CTX(s))
                    SSL_set_SSL_CTX(s, t->sites[i].ctx);
                return SSL_TLSEXT_ERR_OK;
            }
    return SSL_TLSEXT_ERR_OK; /* the default certificate */
}

static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char h11[] = "\x08http/1.1";
    unsigned char *sel;

    if (SSL_select_next_proto(&sel, outlen, h11, sizeof(h11) - 1, in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL; /* RFC 7301: no protocol */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* ---- one site ---- */

static int version_opts(SSL_CTX *ctx, const gh_tls_opts_t *o, char *err,
                        size_t errlen)
{
    int min = o->min_version ? o->min_version : GH_TLS_1_2;

    if (min != GH_TLS_1_2 && min != GH_TLS_1_3)
        return errf(err, errlen, "min_version: only TLS 1.2 or 1.3");
    if (SSL_CTX_set_min_proto_version(ctx, min) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
        return errf(err, errlen, "cannot set the TLS versions");
    if (SSL_CTX_set_cipher_list(ctx, o->ciphers ? o->ciphers
                                                : DEFAULT_CIPHERS) != 1)
        return errf(err, errlen, "ciphers \"%s\": no usable cipher",
                    o->ciphers ? o->ciphers : DEFAULT_CIPHERS);
    if (o->ciphersuites &&
        SSL_CTX_set_ciphersuites(ctx, o->ciphersuites) != 1)
        return errf(err, errlen, "ciphersuites \"%s\": no usable suite",
                    o->ciphersuites);
    return 0;
}

/* The file exists and can be read: a clearer message than OpenSSL's. */
static int readable(const char *what, const char *path, char *err,
                    size_t errlen)
{
    FILE *f;

    if (!path || !*path)
        return errf(err, errlen, "%s: no file given", what);
    if (!(f = fopen(path, "r")))
        return errf(err, errlen, "%s %s: %s", what, path, strerror(errno));
    fclose(f);
    return 0;
}

static int load_cert(SSL_CTX *ctx, const gh_tls_cert_t *c, char *err,
                     size_t errlen)
{
    X509 *x;

    if (readable("certificate", c->cert_file, err, errlen) ||
        readable("key", c->key_file, err, errlen))
        return GH_EINVAL;
    if (SSL_CTX_use_certificate_chain_file(ctx, c->cert_file) != 1)
        return errf(err, errlen, "certificate %s: not a PEM certificate",
                    c->cert_file);
    x = SSL_CTX_get0_certificate(ctx);
    if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
        return errf(err, errlen, "certificate %s: expired", c->cert_file);
    if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
        return errf(err, errlen, "certificate %s: not valid yet",
                    c->cert_file);
    ERR_clear_error();
    if (SSL_CTX_use_PrivateKey_file(ctx, c->key_file, SSL_FILETYPE_PEM) !=
            1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
            ERR_GET_REASON(e) == SSL_R_PRIVATE_KEY_MISMATCH)
            return errf(err, errlen, "key %s does not match certificate %s",
                        c->key_file, c->cert_file);
        return errf(err, errlen, "key %s: not a usable PEM private key",
                    c->key_file);
    }
    return 0;
}

static int verify_opts(SSL_CTX *ctx, const gh_tls_opts_t *o, char *err,
                       size_t errlen)
{
    STACK_OF(X509_NAME) *names;
    int mode = SSL_VERIFY_PEER;

    if (o->verify_client == GH_TLS_VERIFY_OFF)
        return 0;
    if (readable("client CA", o->client_ca_file, err, errlen))
        return GH_EINVAL;
    if (SSL_CTX_load_verify_locations(ctx, o->client_ca_file, NULL) != 1 ||
        !(names = SSL_load_client_CA_file(o->client_ca_file)))
        return errf(err, errlen, "client CA %s: no PEM certificate",
                    o->client_ca_file);
    SSL_CTX_set_client_CA_list(ctx, names);
    if (o->verify_client == GH_TLS_VERIFY_REQUIRE)
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    SSL_CTX_set_verify_depth(ctx, o->verify_depth > 0 ? o->verify_depth : 4);
    return 0;
}

static void session_opts(SSL_CTX *ctx, const gh_tls_opts_t *o)
{
    long secs = (long)(o->session_timeout / GH_SECOND);

    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)SID_CTX,
                                   sizeof(SID_CTX) - 1);
    SSL_CTX_set_timeout(ctx, secs > 0 ? secs : 1);
    if (o->session_cache) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, o->session_cache);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    if (o->session_tickets) {
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
        SSL_CTX_set_num_tickets(ctx, 1);
    } else {
        SSL_CTX_set_num_tickets(ctx, 0);
    }
}

static SSL_CTX *site_ctx(gh_tls_t *t, const gh_tls_opts_t *o,
                         const gh_tls_cert_t *c, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    uint64_t op = SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                  SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION;

    if (!ctx) {
        errf(err, errlen, "cannot create an SSL context");
        return NULL;
    }
    if (!o->session_tickets)
        op |= SSL_OP_NO_TICKET;
    if (o->ktls)
        op |= SSL_OP_ENABLE_KTLS;
    SSL_CTX_set_options(ctx, op);
    /* Idle keep-alive connections hold no record buffers. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (version_opts(ctx, o, err, errlen) || load_cert(ctx, c, err, errlen) ||
        verify_opts(ctx, o, err, errlen)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    session_opts(ctx, o);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
    SSL_CTX_set_tlsext_servername_arg(ctx, t);
    return ctx;
}

static int site_init(gh_tls_t *t, gh__tls_site_t *site,
                     const gh_tls_opts_t *o, const gh_tls_cert_t *c,
                     char *err, size_t errlen)
{
    if (c->name && !(site->name = strdup(c->name)))
        return errf(err, errlen, "out of memory");
    if (!(site->ctx = site_ctx(t, o, c, err, errlen)))
        return GH_EINVAL;
    if (c->ocsp_file) {
        if (!(site->ocsp = ocsp_new(c->ocsp_file, err, errlen)))
            return GH_EINVAL;
        SSL_CTX_set_tlsext_status_cb(site->ctx, ocsp_cb);
        SSL_CTX_set_tlsext_status_arg(site->ctx, site->ocsp);
    }
    return 0;
}

/* ---- the context ---- */

static void tls_destroy(gh_tls_t *t)
{
    for (int i = 0; i < t->nsites; i++) {
        SSL_CTX_free(t->sites[i].ctx);
        ocsp_free(t->sites[i].ocsp);
        free(t->sites[i].name);
    }
    free(t->sites);
    free(t);
}

void gh__tls_ref(gh_tls_t *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void gh_tls_free(gh_tls_t *t)
{
    if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) ==
                 1)
        tls_destroy(t);
}

static int opts_check(const gh_tls_opts_t *o, char *err, size_t errlen)
{
    int ndefault = 0;

    if (!o || o->ncerts < 1 || !o->certs)
        return errf(err, errlen, "no certificate given");
    for (int i = 0; i < o->ncerts; i++)
        ndefault += o->certs[i].name == NULL;
    if (ndefault > 1)
        return errf(err, errlen, "more than one default certificate");
    if (o->handshake_timeout <= 0 || o->max_handshakes == 0 ||
        (o->session_tickets && o->ticket_key_rotate <= 0))
        return errf(err, errlen, "handshake_timeout, max_handshakes and "
                    "ticket_key_rotate must be more than 0");
    return 0;
}

/* The default certificate first: its SSL_CTX is every SSL's first. */
static int order_certs(const gh_tls_opts_t *o, int i)
{
    int d = 0;

    for (int k = 0; k < o->ncerts; k++)
        if (!o->certs[k].name) {
            d = k;
            break;
        }
    return i == 0 ? d : i <= d ? i - 1 : i;
}

int gh_tls_new(gh_tls_t **out, const gh_tls_opts_t *o, char *err,
               size_t errlen)
{
    gh_tls_t *t;
    int rc;

    *out = NULL;
    ERR_clear_error();
    if ((rc = opts_check(o, err, errlen)))
        return rc;
    if (!(t = calloc(1, sizeof(*t))) ||
        !(t->sites = calloc((size_t)o->ncerts, sizeof(*t->sites)))) {
        free(t);
        errf(err, errlen, "out of memory");
        return GH_ENOMEM;
    }
    atomic_init(&t->refs, 1);
    gh__log_gate_init(&t->refused_log, GH_SECOND);
    for (int i = 0; i < GH__TLS_FAIL_REASONS; i++)
        gh__log_gate_init(&t->failed[i], GH__TLS_FAIL_LOG_EVERY);
    t->handshake_timeout = o->handshake_timeout;
    t->max_handshakes = o->max_handshakes;
    for (int i = 0; i < o->ncerts; i++) {
        const gh_tls_cert_t *c = &o->certs[order_certs(o, i)];
        t->nsites++;
        if ((rc = site_init(t, &t->sites[i], o, c, err, errlen))) {
            tls_destroy(t);
            return rc;
        }
    }
    if (o->session_tickets) {
        pthread_mutex_lock(&ring.mu);
        ring.rotate = o->ticket_key_rotate;
        pthread_mutex_unlock(&ring.mu);
    }
    *out = t;
    return 0;
}
