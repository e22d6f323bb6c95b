/*
 * gohttpd/tls.h - HTTPS: a TLS context for a listener, and what a handler
 * can learn about the connection its request came on.
 *
 * A gh_tls_t holds the certificates (a default one and, for SNI, one per
 * server name), the protocol versions and cipher suites, client
 * verification, session resumption and the handshake limits of one or
 * more listeners.  Build it with gh_tls_new() (every file is read and
 * checked then, so a bad key or an expired certificate is an error naming
 * the file), hand it to gh_server_listen() in gh_listen_opts_t.tls or swap
 * it on a running listener with gh_server_listener_tls(): new handshakes
 * use the new context, established connections keep theirs.  Contexts are
 * reference counted: the server keeps what it needs, and gh_tls_free()
 * drops only the caller's reference.
 *
 * The handshake, reads and writes run on the connection's goroutine over
 * the non-blocking socket, parking through the netpoller; the library
 * never blocks a worker thread on TLS.  Only TLS 1.2 and 1.3 are spoken by
 * default; ALPN offers http/1.1.  Plain HTTP sent to a TLS port gets a
 * short "400 this port speaks TLS" answer and is closed.
 */
#ifndef GOHTTPD_TLS_H
#define GOHTTPD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gohttpd/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gh_tls gh_tls_t;

/** One certificate: a PEM chain (leaf first) and its PEM private key. */
typedef struct gh_tls_cert {
    const char *name;      /**< the SNI name it serves ("example.com" or
                            *   "*.example.com"); NULL for the default,
                            *   served when no name matches */
    const char *cert_file; /**< PEM: the certificate, then its chain */
    const char *key_file;  /**< PEM: the private key */
    const char *ocsp_file; /**< a DER OCSP response to staple, or NULL;
                            *   read again when its mtime changes, so the
                            *   operator refreshes it in place */
} gh_tls_cert_t;

/** gh_tls_opts_t.verify_client: client certificates (mTLS). */
enum gh_tls_verify {
    GH_TLS_VERIFY_OFF = 0,      /**< none asked for */
    GH_TLS_VERIFY_OPTIONAL = 1, /**< asked for; if sent, it must verify */
    GH_TLS_VERIFY_REQUIRE = 2   /**< a verified certificate is required */
};

/** Versions for gh_tls_opts_t.min_version (the TLS wire values). */
#define GH_TLS_1_2 0x0303
#define GH_TLS_1_3 0x0304

/**
 * TLS options.  gh_tls_opts_init() fills in the defaults shown; certs is
 * the one thing to set.  Strings are read during gh_tls_new() only.
 */
typedef struct gh_tls_opts {
    const gh_tls_cert_t *certs; /**< ncerts certificates; one with name
                                 *   NULL is the default (else the first) */
    int ncerts;
    int min_version;            /**< GH_TLS_1_2 (default) or GH_TLS_1_3 */
    const char *ciphers;        /**< TLS 1.2 list (OpenSSL syntax); NULL:
                                 *   ECDHE with AES-GCM or ChaCha20 only */
    const char *ciphersuites;   /**< TLS 1.3 suites; NULL: OpenSSL's */
    int verify_client;          /**< enum gh_tls_verify; default off */
    const char *client_ca_file; /**< PEM CAs that client certificates must
                                 *   chain to (needed unless off) */
    int verify_depth;           /**< chain depth; default 4 */
    bool session_tickets;       /**< stateless resumption; default on */
    int64_t ticket_key_rotate;  /**< a new ticket key this often; tickets
                                 *   stay valid for two periods; 1 h */
    uint32_t session_cache;     /**< server-side sessions kept (TLS 1.2
                                 *   session IDs); 0 = none; 20480 */
    int64_t session_timeout;    /**< a session's lifetime; 1 h */
    int64_t handshake_timeout;  /**< from accept to handshake done; 10 s */
    uint32_t max_handshakes;    /**< handshakes in progress at once on the
                                 *   listeners sharing this context; more
                                 *   are closed at once; 1024 */
    bool ktls;                  /**< let the kernel encrypt (sendfile on
                                 *   TLS) where it can; default on */
} gh_tls_opts_t;

/** gh_tls_opts_init - fill o with the defaults.  Any thread. */
GH_API void gh_tls_opts_init(gh_tls_opts_t *o);

/**
 * gh_tls_new - build a TLS context from o: read and check every
 * certificate, key, CA and OCSP file.  On success *out holds a context
 * with one reference (the caller's) and 0 is returned.  Otherwise *out is
 * NULL, a GH_E* code is returned and err (errlen bytes, may be NULL)
 * says what is wrong, naming the file: unreadable, not PEM, a key that
 * does not match its certificate, a certificate expired or not yet valid,
 * a bad cipher list.  Does not park; any thread.
 */
GH_API int gh_tls_new(gh_tls_t **out, const gh_tls_opts_t *o, char *err,
                      size_t errlen);

/**
 * gh_tls_free - drop the caller's reference to t (NULL is ignored).  The
 * context lives on while a listener or a connection still uses it.
 */
GH_API void gh_tls_free(gh_tls_t *t);

/** What gh_req_tls() tells about a request's connection. */
typedef struct gh_tls_info {
    const char *version;        /**< "TLSv1.3", "TLSv1.2" */
    const char *cipher;         /**< e.g. "TLS_AES_128_GCM_SHA256" */
    const char *sni;            /**< the server name asked for, or NULL */
    const char *alpn;           /**< "http/1.1", or NULL if none agreed */
    const char *client_subject; /**< the verified client certificate's
                                 *   subject ("/CN=alice"), or NULL */
    bool resumed;               /**< an abbreviated (resumed) handshake */
} gh_tls_info_t;

#ifdef __cplusplus
}
#endif
#endif /* GOHTTPD_TLS_H */
