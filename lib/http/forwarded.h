/*
 * forwarded.h - the real client behind trusted proxies: the walk of
 * X-Forwarded-For, X-Real-IP or RFC 7239 Forwarded (never installed).
 *
 * It stands apart from http_impl.h (which includes it for gh__addr_t) so
 * that fuzz_forwarded builds from forwarded.c and netlist.c alone.
 *
 * gh__fwd_walk() is pure, for the unit tests and the fuzzers: the request
 * glue (gh__req_forwarded() in client.c) collects the header's fields
 * and applies the result.
 */
#ifndef GH_FORWARDED_H
#define GH_FORWARDED_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gohttpd.h"

/* A peer's or a client's address.  AF_UNIX ones are kept as the family
 * only. */
typedef union gh__addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
} gh__addr_t;

/* inet_pton() of the address text p[0 .. n) (no brackets, no port) as
 * family af (AF_INET or AF_INET6) into sa, a sockaddr_in or sockaddr_in6
 * (port 0); *len is set to its size.  False if it is not one. */
bool gh__ip_parse(int af, const char *p, size_t n, void *sa, socklen_t *len);

enum {
    GH__FWD_XFF = 0,           /* X-Forwarded-For: a, b, c */
    GH__FWD_XRI = 1,           /* X-Real-IP: a */
    GH__FWD_FORWARDED = 2      /* Forwarded: for=a;proto=https, for=b */
};

#define GH__FWD_HOPS_MAX 64    /* the most entries a walk may look at */
#define GH__FWD_HOST_MAX 255   /* a forwarded host's longest */

typedef struct gh__fwd_span {
    const char *p;
    size_t n;
} gh__fwd_span_t;

/* p[0 .. n) without leading and trailing spaces and tabs. */
gh__fwd_span_t gh__fwd_trim(const char *p, size_t n);

/* The header name's GH__FWD_*, or -1.  NULL is X-Forwarded-For. */
int gh__fwd_kind(const char *name);

typedef struct gh__fwd {
    /* in */
    const gh_netlist_t *trusted; /* the trusted proxies */
    int kind;                  /* GH__FWD_* */
    bool recursive;            /* past trusted hops, or the last entry */
    uint32_t max_hops;         /* 1 .. GH__FWD_HOPS_MAX */
    const char *const *values; /* the header's fields, in arrival order */
    int nvalues;
    /* in: the peer; out: the client */
    gh__addr_t client;
    socklen_t client_len;
    /* out */
    int hops;                  /* entries that named a client */
    const char *proto, *host;  /* Forwarded's proto= and host= of the
                                * element that named the client (else the
                                * last element), unquoted; NULL if none */
    size_t proto_len, host_len;
} gh__fwd_t;

/*
 * gh__fwd_walk - when f->client (the peer) is trusted, replace it with
 * the client the values name: right to left, each entry replaces it, and
 * the walk goes on only while the address is itself trusted (recursive)
 * and there are entries left (at most max_hops).  A malformed entry,
 * "unknown" or an obfuscated "_name" ends the walk; the last good address
 * stays.
 */
void gh__fwd_walk(gh__fwd_t *f);

#endif /* GH_FORWARDED_H */
