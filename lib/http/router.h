/*
 * router.h - the router's internals (libgohttpd only, never installed).
 *
 * gh__router_match() is the whole routing decision as a pure function of
 * the router, a method and a raw path: it needs no server, no request and
 * allocates nothing, so the unit tests drive it directly.  gh_router_serve()
 * (router_serve.c) wraps it: it decodes the parameter values into the
 * request's arena and hands them over with gh__req_set_params(), which the
 * request code (request.c) implements.
 *
 * The routing rules (precedence, what matches what) are described at the
 * top of router.c.
 */
#ifndef GH_HTTP_ROUTER_H
#define GH_HTTP_ROUTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gohttpd/http.h"

/* Limits on what gh_router_add() accepts; past them it gives GH_EINVAL. */
#define GH__ROUTE_MAX_PARAMS 16    /* {name} segments in one pattern */
#define GH__ROUTE_MAX_SEGMENTS 128 /* segments in one pattern */
#define GH__ROUTE_MAX_METHODS 64   /* distinct method names in a router */

/** A byte range of the raw path: offset from its start and length. */
typedef struct gh__route_span {
    uint32_t off;
    uint32_t len;
} gh__route_span_t;

/**
 * What gh__router_match() found, in the caller's storage (usually its
 * stack).  Every pointer in it is owned by the router (valid until
 * gh_router_free()) and every span points into the caller's raw path.
 */
typedef struct gh__route_match {
    /* FOUND: the route's handler; NOT_FOUND: the router's not-found
     * handler, NULL if none was set.  Else NULL. */
    gh_handler_fn fn;
    void *udata; /* fn's udata */
    int nparams; /* FOUND: entries in names and values; else 0 */
    /* Parameter names, NUL-terminated, in pattern order. */
    const char *names[GH__ROUTE_MAX_PARAMS];
    /* Their values: raw (still encoded) path segments, never empty. */
    gh__route_span_t values[GH__ROUTE_MAX_PARAMS];
    /* FOUND: where the part of the path a prefix route left unmatched
     * begins, after the slash ending the prefix ("/static/" on
     * "/static/a/b" gives the offset of "a/b"); path_len for an exact
     * route. */
    uint32_t rest;
    /* FOUND: the route is a prefix route (its remainder is "*"). */
    bool prefix;
} gh__route_match_t;

/** The outcome of gh__router_match(). */
enum gh__route_result {
    GH__ROUTE_FOUND,      /* a route matches path and method */
    GH__ROUTE_NOT_FOUND,  /* no route matches the path (404) */
    GH__ROUTE_BAD_METHOD, /* routes match the path, none the method (405) */
    GH__ROUTE_BAD_PATH    /* a bad %-escape or %00 in the path (400) */
};

/**
 * gh__router_match - route method and the raw (percent-encoded) path of
 * path_len bytes; returns an enum gh__route_result and fills *m.
 *
 * method is case-sensitive; NULL or a method no route names matches only
 * any-method routes.  For GH__ROUTE_BAD_METHOD the Allow value ("GET,
 * HEAD, POST": each method once, in the router's fixed method order) is
 * written to allow, always NUL-terminated if allow_cap > 0; when it does
 * not fit it is cut after the last whole method that does (allow_cap of
 * gh__router_allow_max() bytes always suffices).  allow may be NULL when
 * allow_cap is 0.  On other results allow is set to "".  Never allocates;
 * any thread, concurrently with other matches (the router is read-only).
 */
int gh__router_match(const gh_router_t *r, const char *method,
                     const char *raw_path, size_t path_len,
                     gh__route_match_t *m, char *allow, size_t allow_cap);

/** gh__router_allow_max - the Allow buffer size that is always enough. */
size_t gh__router_allow_max(const gh_router_t *r);

/**
 * gh__route_unescape - percent-decode len bytes of in into out (len bytes
 * suffice; not NUL-terminated; out may be NULL to only check and count).
 * Returns the decoded length, or GH_EINVAL for a '%' not followed by two
 * hex digits or an encoded NUL (%00).  '+' stays '+' (paths, not forms).
 */
ssize_t gh__route_unescape(const char *in, size_t len, char *out);

/*
 * Implemented by the request code (request.c).
 *
 * Set the router's path parameters on req: n names (NUL-terminated, owned
 * by the router) and their decoded NUL-terminated values.  Both arrays and
 * the values live in req's arena, so req may keep the pointers as given
 * until the request ends.  Called only when n > 0.  Returns 0 or GH_ENOMEM.
 */
int gh__req_set_params(gh_req_t *req, int n, const char *const *names,
                       const char *const *values);

#endif /* GH_HTTP_ROUTER_H */
