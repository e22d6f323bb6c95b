/*
 * status.c - the "status" handler plugin: the server's and the runtime's
 * counters for people (a live dashboard) and for programs (JSON,
 * Prometheus), and the goroutine list.
 *
 *     route /status/ {
 *         handler status;
 *     }
 *     route /metrics {
 *         handler status;
 *         format  prometheus;
 *     }
 *
 * Views.  The route's own path (the prefix itself, or an exact route)
 * serves the view its "format" setting names; under a prefix route every
 * view also has a path of its own:
 *
 *   (the route's path)  the format setting's view; for the dashboard, a
 *                       client whose Accept asks for JSON but not HTML
 *                       gets the JSON instead
 *   json                the counters as one JSON object
 *   metrics             the counters in the Prometheus text exposition
 *                       format 0.0.4
 *   goroutines          every goroutine, one line each, as gh_dump()
 *   goroutines.json     the same as JSON, for the dashboard's list
 *   anything else       404
 *
 * The dashboard is one self-contained HTML page (status_dashboard.html,
 * compiled in) that polls "json" and "goroutines.json" next to itself, so
 * it needs a prefix route.  Its Content-Security-Policy allows nothing
 * but its own inline code and requests to this server.
 *
 * Settings (all optional):
 *
 *   allow CIDR...        the networks that may look ("127.0.0.0/8",
 *                        "::1", "all"); others get 403.  Unix-domain
 *                        peers are always allowed.  Checked against the
 *                        real client (gh_req_client): behind a trusted
 *                        proxy, the address the proxy names.
 *                                          (default: 127.0.0.0/8 ::1)
 *   goroutines on|off    serve the goroutine lists (names, wait reasons
 *                        and start functions say much about a program)
 *                                          (default: on)
 *   goroutines_max N     list at most N goroutines; the rest are only
 *                        counted             (default: 10000)
 *   format VIEW          what the route's path serves: dashboard, json,
 *                        prometheus or goroutines (default: dashboard)
 *
 * Requests.  GET and HEAD only (405 with Allow otherwise).  Every answer
 * carries Cache-Control: no-store: a snapshot is stale at once.  Reading
 * the counters never stops the server: each is read atomically, and the
 * goroutine list is copied under the runtime's lock and rendered after.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accept.h"
#include "status.h"

enum view {
    VIEW_NONE = 0, /* 404 */
    VIEW_DASHBOARD,
    VIEW_JSON,
    VIEW_PROMETHEUS,
    VIEW_GOROUTINES,
    VIEW_GOROUTINES_JSON
};

/* Views by name: the "format" setting's values, and their paths under a
 * prefix route. */
static const struct {
    const char *format, *path;
    enum view view;
} views[] = {
    {"dashboard", NULL, VIEW_DASHBOARD},
    {"json", "json", VIEW_JSON},
    {"prometheus", "metrics", VIEW_PROMETHEUS},
    {"goroutines", "goroutines", VIEW_GOROUTINES},
    {NULL, "goroutines.json", VIEW_GOROUTINES_JSON},
};
#define NVIEWS ((int)(sizeof(views) / sizeof(views[0])))

/* One configured route; read-only once init returns. */
typedef struct status_state {
    gh_netlist_t *allow;     /* who may look (Unix peers always may) */
    bool goroutines; /* the goroutine lists may be served */
    int goroutines_max;
    enum view root; /* what the route's own path serves */
} status_state_t;

/* ---- settings -------------------------------------------------------- */

/* "allow" as one gh_netlist_new() text: its entries, "all" meaning every
 * IPv4 and IPv6 address. */
static char *allow_text(const char *const *nets, int n)
{
    size_t len = 1;
    char *text;

    for (int i = 0; i < n; i++)
        len += strlen(nets[i]) + sizeof(" 0.0.0.0/0 ::/0");
    if (!(text = calloc(1, len)))
        return NULL;
    for (int i = 0; i < n; i++) {
        strcat(text, strcmp(nets[i], "all") == 0 ? "0.0.0.0/0 ::/0" : nets[i]);
        strcat(text, " ");
    }
    return text;
}

static int read_allow(const gh_conf_section_t *conf, status_state_t *st)
{
    static const char *const dflt[] = {"127.0.0.0/8", "::1"};
    const char *const *nets;
    char err[160], *text;
    int n, rc;

    if ((rc = gh_conf_get_list(conf, "allow", &nets, &n)) < 0)
        return rc;
    if (n == 0) {
        nets = dflt;
        n = 2;
    }
    if (!(text = allow_text(nets, n)))
        return GH_ENOMEM;
    rc = gh_netlist_new(&st->allow, text, err, sizeof(err));
    free(text);
    if (rc == GH_EINVAL)
        return gh_conf_errorf(conf, gh_conf_find(conf, "allow"), "allow: %s",
                              err);
    return rc;
}

static int read_format(const gh_conf_section_t *conf, status_state_t *st)
{
    const char *f;
    int rc;

    if ((rc = gh_conf_get_str(conf, "format", "dashboard", &f)) < 0)
        return rc;
    for (int i = 0; i < NVIEWS; i++)
        if (views[i].format && strcmp(views[i].format, f) == 0) {
            st->root = views[i].view;
            return 0;
        }
    return gh_conf_errorf(conf, gh_conf_find(conf, "format"),
                          "format: \"%s\" is not one of dashboard, json, "
                          "prometheus, goroutines",
                          f);
}

/* After read_format: "format goroutines" needs the lists on. */
static int read_goroutines(const gh_conf_section_t *conf, status_state_t *st)
{
    int64_t max;
    int rc;

    if ((rc = gh_conf_get_bool(conf, "goroutines", true, &st->goroutines)) ||
        (rc = gh_conf_get_int(conf, "goroutines_max", 10000, 1, 1000000, &max)))
        return rc;
    st->goroutines_max = (int)max;
    if (!st->goroutines && st->root == VIEW_GOROUTINES)
        return gh_conf_errorf(conf, gh_conf_find(conf, "format"),
                              "format goroutines needs goroutines on");
    return 0;
}

static void status_fini(void *state)
{
    status_state_t *st = state;

    if (!st)
        return;
    gh_netlist_free(st->allow);
    free(st);
}

static int status_init(const gh_conf_section_t *conf, void **state)
{
    status_state_t *st = calloc(1, sizeof(*st));
    int rc;

    if (!st)
        return GH_ENOMEM;
    if ((rc = read_allow(conf, st)) < 0 || (rc = read_format(conf, st)) < 0 ||
        (rc = read_goroutines(conf, st)) < 0) {
        status_fini(st);
        return rc;
    }
    *state = st;
    return 0;
}

/* ---- which view ------------------------------------------------------ */

/* Does the client ask for JSON rather than a page?  A browser's Accept
 * weighs text/html above anything; fetch() and curl -H 'Accept:
 * application/json' name application/json and not text/html. */
static bool wants_json(const gh_req_t *req)
{
    const char *a = gh_req_header(req, "Accept");
    bool named;
    int q;

    if (!a)
        return false;
    q = gh__accept_q(a, "application/json", &named);
    return named && q > gh__accept_q(a, "text/html", NULL);
}

static enum view pick_view(const status_state_t *st, const gh_req_t *req)
{
    const char *rest = gh_req_param(req, "*");

    if (!rest || !*rest)
        return st->root == VIEW_DASHBOARD && wants_json(req) ? VIEW_JSON
                                                             : st->root;
    for (int i = 0; i < NVIEWS; i++)
        if (views[i].path && strcmp(views[i].path, rest) == 0)
            return views[i].view;
    return VIEW_NONE;
}

/* ---- responses ------------------------------------------------------- */

static const char *const dashboard_csp =
    "default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

static int send_dashboard(gh_resp_t *resp)
{
    int rc;

    if ((rc = gh_resp_header_set(resp, "Content-Type",
                                 "text/html; charset=utf-8")) < 0 ||
        (rc = gh_resp_header_set(resp, "Content-Security-Policy",
                                 dashboard_csp)) < 0 ||
        (rc = gh_resp_header_set(resp, "Referrer-Policy", "no-referrer")) < 0)
        return rc;
    return gh_resp_send(resp, gh__status_dashboard, gh__status_dashboard_len);
}

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * GH_SECOND + ts.tv_nsec;
}

/* Read every counter; the workers' array lives in the request's arena. */
static int take_snapshot(gh_req_t *req, gh__status_snap_t *s)
{
    int n = gh_workers();

    memset(s, 0, sizeof(*s));
    if (!(s->workers = gh_req_alloc(req, (size_t)n * sizeof(*s->workers))))
        return GH_ENOMEM;
    gh_server_stats(gh_req_server(req), &s->srv);
    gh_rt_stats(&s->rt);
    s->stalls = gh_rt_stalls();
    s->nworkers = gh_rt_worker_stats(s->workers, n);
    s->uptime = gh_now() - s->srv.created;
    s->wall = wall_ns();
    return 0;
}

/* Build the view's body into b; sets its Content-Type.  0 or GH_E*. */
static int render(const status_state_t *st, enum view v, gh_req_t *req,
                  gh_resp_t *resp, gh__status_buf_t *b)
{
    gh__status_snap_t snap;
    const char *ctype = "text/plain; charset=utf-8";
    int rc;

    if (v == VIEW_GOROUTINES || v == VIEW_GOROUTINES_JSON) {
        if (v == VIEW_GOROUTINES_JSON)
            ctype = "application/json";
        rc = gh__status_goroutines(b, v == VIEW_GOROUTINES_JSON,
                                   st->goroutines_max);
    } else if ((rc = take_snapshot(req, &snap)) == 0) {
        if (v == VIEW_JSON) {
            ctype = "application/json";
            gh__status_json(b, &snap, st->goroutines);
        } else {
            ctype = "text/plain; version=0.0.4; charset=utf-8";
            gh__status_prometheus(b, &snap);
        }
    }
    if (rc == 0 && b->oom)
        rc = GH_ENOMEM;
    if (rc == 0)
        rc = gh_resp_header_set(resp, "Content-Type", ctype);
    return rc;
}

static int status_serve(void *state, gh_req_t *req, gh_resp_t *resp)
{
    const status_state_t *st = state;
    const char *m = gh_req_method(req);
    gh__status_buf_t b = {0};
    socklen_t plen;
    const struct sockaddr *peer = gh_req_client(req, &plen);
    enum view v;
    int rc;

    /* A Unix-domain peer is local, and the socket's mode guards it. */
    if (peer->sa_family != AF_UNIX && !gh_netlist_match(st->allow, peer, plen))
        return 403;
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
        gh_resp_header_set(resp, "Allow", "GET, HEAD");
        return 405;
    }
    if ((v = pick_view(st, req)) == VIEW_NONE)
        return 404;
    if ((v == VIEW_GOROUTINES || v == VIEW_GOROUTINES_JSON) && !st->goroutines)
        return 403;
    if ((rc = gh_resp_header_set(resp, "Cache-Control", "no-store")) < 0 ||
        (rc = gh_resp_header_set(resp, "X-Content-Type-Options", "nosniff")) <
            0)
        return rc;
    if (v == VIEW_DASHBOARD)
        return send_dashboard(resp);
    if ((rc = render(st, v, req, resp, &b)) == 0)
        rc = gh_resp_send(resp, b.p, b.len);
    free(b.p);
    return rc;
}

GH_HANDLER_DEFINE("status", status_init, status_serve, status_fini);
