/*
 * tls_impl.h - the TLS context's insides, shared by tls_ctx.c (building
 * it) and conn_tls.c (using it on connections).  Only these two files
 * include OpenSSL.
 */
#ifndef GH_TLS_IMPL_H
#define GH_TLS_IMPL_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <time.h>

#include "http/http_impl.h"

/* OCSP response of one certificate, read again when the file changes. */
typedef struct gh__ocsp {
    char *path;                /* the file; immutable */
    pthread_mutex_t mu;        /* guards everything below */
    unsigned char *der;        /* the response, or NULL; malloc */
    size_t len;
    struct timespec mtime;     /* of the file when read */
    int64_t checked;           /* gh_now() of the last stat(2) */
} gh__ocsp_t;

/* One certificate's SSL_CTX, with the SNI name that selects it. */
typedef struct gh__tls_site {
    char *name;                /* lower case; "*.x" matches one label;
                                * NULL for the default */
    SSL_CTX *ctx;
    gh__ocsp_t *ocsp;          /* NULL: no stapling */
} gh__tls_site_t;

/* Failed handshakes are logged at the info level once per
 * GH__TLS_FAIL_LOG_EVERY for each reason (OpenSSL's reason code, in one of
 * GH__TLS_FAIL_REASONS gates), every one at debug: scanners must not flood
 * the error log, and an operator must still see every kind of failure. */
#define GH__TLS_FAIL_LOG_EVERY (10 * GH_SECOND)
#define GH__TLS_FAIL_REASONS 32

struct gh_tls {
    _Atomic int refs;          /* the creator, listeners, connections */
    gh__tls_site_t *sites;     /* nsites; sites[0] is the default, whose
                                * ctx every SSL starts on (and whose
                                * session cache serves all) */
    int nsites;
    int64_t handshake_timeout;
    uint32_t max_handshakes;
    _Atomic uint32_t handshaking; /* in progress now */
    _Atomic uint64_t refused;  /* closed at max_handshakes */
    gh__log_gate_t refused_log;                  /* says so once a second */
    gh__log_gate_t failed[GH__TLS_FAIL_REASONS]; /* by reason */
};

#endif /* GH_TLS_IMPL_H */
