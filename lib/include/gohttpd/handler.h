/*
 * gohttpd/handler.h - the handler plugin interface.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * gh_handler_entry, a gh_handler_t made with GH_HANDLER_DEFINE().  The
 * gohttpd daemon loads it with dlopen(RTLD_NOW | RTLD_LOCAL) for every
 * route whose block names it ("handler NAME;"), refuses it when its abi
 * differs from the daemon's GH_HANDLER_ABI or its size is too small (the
 * message names the file and both numbers), and then, per route:
 *
 *   init(conf, &state)   once, on the daemon's start-up thread or reload
 *                        goroutine: read the route's settings with the
 *                        gh_conf_get_*() calls and allocate what the
 *                        instance keeps for its life in *state.  Return 0,
 *                        or a negative GH_E* after gh_conf_errorf() (or
 *                        gh_log()) said why: start-up stops (on reload, the
 *                        old configuration stays).  init may start
 *                        goroutines (backend workers) and make channels.
 *   serve(state, req, resp)  for every request the route matches, on the
 *                        request's goroutine, concurrently with other
 *                        requests: it may block (read the body, sleep, use
 *                        channels); only its goroutine waits.  Returns as
 *                        a gh_handler_fn does (gohttpd/http.h): 0 once the
 *                        response went out, 100..599 for a canned status
 *                        page, a negative GH_E* for a 500 and a log line.
 *   fini(state)          after a reload replaced the instance or at
 *                        shutdown, once no request is using it any more.
 *                        May be NULL.
 *   ready(state, why, len)  optional (NULL, or left out of
 *                        GH_HANDLER_DEFINE): asked on each request for the
 *                        readiness path (/readyz); false, with a short
 *                        reason in why, makes it answer 503, so a load
 *                        balancer sends traffic elsewhere (e.g. while the
 *                        backend workers are not up).  Must be quick.
 *
 * Build a plugin in tree with libtool (-module -avoid-version) or out of
 * tree with:  cc -shared -fPIC -o hello.so hello.c \
 *                 $(pkg-config --cflags --libs gohttpd)
 */
#ifndef GOHTTPD_HANDLER_H
#define GOHTTPD_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gohttpd/conf.h"
#include "gohttpd/http.h"
#include "gohttpd/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The plugin ABI: bumped on any incompatible change to this interface or
 * to the calls a plugin makes into libgohttpd. */
#define GH_HANDLER_ABI 2

/** What a plugin exports.  New optional members go at the end; size tells
 * the loader which ones a plugin was built with. */
typedef struct gh_handler {
    uint32_t abi;     /**< GH_HANDLER_ABI when the plugin was built */
    uint32_t size;    /**< sizeof(gh_handler_t) when it was built */
    const char *name; /**< short name, for logs ("static") */
    int (*init)(const gh_conf_section_t *conf, void **state);
    int (*serve)(void *state, gh_req_t *req, gh_resp_t *resp);
    void (*fini)(void *state);
    bool (*ready)(void *state, char *why, size_t len); /**< may be NULL */
} gh_handler_t;

/** The exported symbol's name. */
#define GH_HANDLER_SYMBOL "gh_handler_entry"

/**
 * GH_HANDLER_DEFINE(name, init, serve, fini[, ready]) - define the
 * plugin's one exported symbol:  GH_HANDLER_DEFINE("hello", hello_init,
 * hello_serve, hello_fini);
 */
#define GH_HANDLER_DEFINE(...)                                             \
    GH__HANDLER_PICK(__VA_ARGS__, GH__HANDLER_DEFINE5, GH__HANDLER_DEFINE4, \
                     )(__VA_ARGS__)
#define GH__HANDLER_PICK(_1, _2, _3, _4, _5, which, ...) which
#define GH__HANDLER_DEFINE4(name, init, serve, fini)                       \
    GH__HANDLER_DEFINE5(name, init, serve, fini, NULL)
#define GH__HANDLER_DEFINE5(name, init, serve, fini, ready)                \
    GH_API const gh_handler_t gh_handler_entry = {                         \
        GH_HANDLER_ABI, (uint32_t)sizeof(gh_handler_t), name, init, serve, \
        fini, ready}

#ifdef __cplusplus
}
#endif
#endif /* GOHTTPD_HANDLER_H */
