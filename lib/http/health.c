/*
 * health.c - the health and readiness paths, answered by the server itself
 * before the router, so a load balancer's probe needs no plugin and no
 * route, and cannot be shadowed by one.
 *
 * The health path says the process serves (200 for as long as it does:
 * a liveness probe must not fail during a drain, or the orchestrator
 * kills what it is draining).  The readiness path says whether to send
 * traffic here: 503 once gh_server_set_ready(s, false) or a shutdown
 * began, or when the embedder's ready_check says no (the daemon asks its
 * plugins).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "http/http_impl.h"

/* Which health path req asks for: 1 health, 2 readiness, 0 neither. */
int gh__health_match(const gh__server_cfg_t *cfg, const gh_req_t *req)
{
    const char *path = gh_req_path(req);

    if (!path)
        return 0;
    if (cfg->o.health_path && strcmp(path, cfg->o.health_path) == 0)
        return 1;
    if (cfg->o.ready_path && strcmp(path, cfg->o.ready_path) == 0)
        return 2;
    return 0;
}

/* Whether s takes traffic; if not, why (in why). */
static bool is_ready(gh__session_t *ss, char *why, size_t len)
{
    const gh__server_cfg_t *cfg = ss->cfg;

    if (atomic_load(&ss->s->not_ready)) {
        snprintf(why, len, "%s", atomic_load(&ss->s->draining)
                                     ? "shutting down" : "draining");
        return false;
    }
    if (cfg->o.ready_check &&
        !cfg->o.ready_check(cfg->o.ready_udata, why, len)) {
        if (!why[0])
            snprintf(why, len, "a readiness check failed");
        return false;
    }
    return true;
}

int gh__health_serve(gh__session_t *ss, gh_req_t *req, gh_resp_t *resp,
                     int which)
{
    char body[256], why[200] = "";
    const char *m = gh_req_method(req);
    int status = 200, n;

    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
        gh_resp_header_set(resp, "Allow", "GET, HEAD");
        return 405;
    }
    if (which == 1)
        n = snprintf(body, sizeof(body), "ok\n");
    else if (is_ready(ss, why, sizeof(why)))
        n = snprintf(body, sizeof(body), "ready\n");
    else {
        status = 503;
        n = snprintf(body, sizeof(body), "not ready: %s\n", why);
    }
    if (n < 0 || (size_t)n >= sizeof(body))
        n = (int)strlen(body);
    gh_resp_status(resp, status);
    gh_resp_header_set(resp, "Content-Type", "text/plain; charset=utf-8");
    gh_resp_header_set(resp, "Cache-Control", "no-store");
    return gh_resp_send(resp, body, (size_t)n);
}
