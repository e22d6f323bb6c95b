/*
 * router_serve.c - gh_router_serve(): the router as a request handler.
 *
 * It is the router's only link to the request and response code, kept out
 * of router.c so that the unit tests, which link libghcore's static archive,
 * can use the matcher without pulling in the server.  Parameter values are
 * decoded here, once a route is chosen, into the request's arena; the
 * match itself allocates nothing.
 */
#include "config.h"

#include <assert.h>
#include <string.h>

#include "gohttpd/error.h"
#include "gohttpd/http.h"
#include "http/router.h"

/* Allow fits here unless a router names many custom methods. */
#define ALLOW_STACK 256

/* Decode raw[0 .. len) to buf, NUL-terminated; the bytes after it. */
static char *decode_to(char *buf, const char *raw, size_t len)
{
    /* The matcher has checked every escape of the path. */
    ssize_t n = gh__route_unescape(raw, len, buf);

    assert(n >= 0);
    buf[n] = '\0';
    return buf + n + 1;
}

/*
 * Hand the parameters over in one arena block: the names array, the values
 * array, then the decoded values.  The request may keep both arrays as they
 * are, so neither can live on this stack.  A prefix route adds "*", the
 * rest of the path after its prefix.
 */
static int set_params(gh_req_t *req, const char *path, size_t path_len,
                      const gh__route_match_t *m)
{
    int n = m->nparams + (m->prefix ? 1 : 0);
    size_t total = 2 * (size_t)n * sizeof(char *);
    const char **names, **values;
    char *buf;

    for (int i = 0; i < m->nparams; i++)
        total += m->values[i].len + 1;
    if (m->prefix)
        total += path_len - m->rest + 1;
    if ((names = gh_req_alloc(req, total)) == NULL)
        return GH_ENOMEM;
    values = names + n;
    buf = (char *)(values + n);
    for (int i = 0; i < m->nparams; i++) {
        names[i] = m->names[i];
        values[i] = buf;
        buf = decode_to(buf, path + m->values[i].off, m->values[i].len);
    }
    if (m->prefix) {
        names[n - 1] = "*";
        values[n - 1] = buf;
        decode_to(buf, path + m->rest, path_len - m->rest);
    }
    return gh__req_set_params(req, n, names, values);
}

/*
 * A path without a route for the method: the returned 405 becomes the
 * canned response, which keeps the Allow header set here.
 */
static int bad_method(gh_resp_t *resp, const char *allow)
{
    int rc = gh_resp_header_set(resp, "Allow", allow);

    return rc < 0 ? rc : 405;
}

int gh_router_serve(void *router, gh_req_t *req, gh_resp_t *resp)
{
    const gh_router_t *r = router;
    const char *path = gh_req_raw_path(req);
    char stack_allow[ALLOW_STACK], *allow = stack_allow;
    size_t cap = gh__router_allow_max(r);
    gh__route_match_t m;
    int rc;

    if (cap <= sizeof stack_allow)
        cap = sizeof stack_allow;
    else if ((allow = gh_req_alloc(req, cap)) == NULL)
        return GH_ENOMEM;
    switch (gh__router_match(r, gh_req_method(req), path, strlen(path), &m,
                             allow, cap)) {
    case GH__ROUTE_FOUND:
        /* Without parameters a nested router keeps the outer ones. */
        if ((m.nparams > 0 || m.prefix) &&
            (rc = set_params(req, path, strlen(path), &m)) < 0)
            return rc;
        return m.fn(m.udata, req, resp);
    case GH__ROUTE_BAD_METHOD:
        return bad_method(resp, allow);
    case GH__ROUTE_BAD_PATH:
        return 400;
    default:
        return m.fn != NULL ? m.fn(m.udata, req, resp) : 404;
    }
}
