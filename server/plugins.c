/*
 * plugins.c - loading handler plugins, and the generations of routes that
 * requests are served by.
 *
 * Loading: a route's "handler NAME" is a file NAME.so in the plugin path,
 * or, when it holds a '/', a path to the .so itself.  The module is opened
 * with dlopen(RTLD_NOW | RTLD_LOCAL) and must export gh_handler_entry with
 * our GH_HANDLER_ABI and a size that covers the callbacks we call; any
 * mismatch names the file and both numbers.  Each route gets its own
 * instance: init(its block, &state).  A setting in the block that init did
 * not read is an error, so "max_ag 1h" is caught like a syntax error.
 *
 * Swapping: `current` points at the generation serving new requests.  A
 * request takes a reference with the classic load / increment / re-check:
 *
 *     g = current; g->refs++; if (g != current) { g->refs--; retry; }
 *
 * Once the re-check passes, g was current while we held a reference, so
 * its retirement (which starts only after it stopped being current) waits
 * for us.  A reader that loaded g just before a swap may still touch
 * g->refs after g was retired, so generation records are never returned
 * to malloc: a retired record goes on a free list and is reused.  A reader
 * whose stale g has meanwhile been reused as the current generation just
 * serves with it, which is correct (it is current).
 */
#include "config.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/plugins.h"

typedef struct module {
    char *path;                 /* as opened */
    void *dl;                   /* dlopen handle */
    const gh_handler_t *h;      /* its entry */
} module_t;

typedef struct instance {
    const module_t *m;
    void *state;                /* from init */
    bool inited;
} instance_t;

struct gd_gen {
    _Atomic long refs;          /* requests inside, see above */
    module_t *mods;             /* loaded modules, nmods of them */
    int nmods;
    instance_t *insts;          /* one per route, ninsts of them */
    int ninsts;
    gh_router_t *router;
    const gd_config_t *cfg;     /* built from; outlives the generation */
    gd_gen_t *free_next;        /* on free_gens once retired */
};

static _Atomic(gd_gen_t *) current;
static gh_mutex_t free_mu;      /* free_gens */
static gd_gen_t *free_gens;

/* The generations that hold each loaded object.  A reload that loads a
 * file again gets the handle it already has from dlopen, with one more
 * reference: retiring the old generation then unmaps nothing, and its
 * dlclose need not wait for the object's goroutines (the new generation's
 * own are among them). */
typedef struct held {
    void *dl;
    int gens;
    struct held *next;
} held_t;
static gh_mutex_t held_mu;
static held_t *held;

/* One more generation holds dl.  0, or GH_ENOMEM. */
static int held_add(void *dl)
{
    held_t *h;
    int rc = 0;

    gh_mutex_lock(&held_mu);
    for (h = held; h && h->dl != dl; h = h->next)
        ;
    if (h) {
        h->gens++;
    } else if ((h = malloc(sizeof(*h)))) {
        *h = (held_t){dl, 1, held};
        held = h;
    } else {
        rc = GH_ENOMEM;
    }
    gh_mutex_unlock(&held_mu);
    return rc;
}

/* A generation lets go of dl: when another still holds it, close our
 * reference now (under the lock, so that the last holder's dlclose,
 * which waits for the object's goroutines, is the one that unmaps it) and
 * return true; false when we were the last. */
static bool held_drop(void *dl)
{
    held_t **pp, *h;
    bool others;

    gh_mutex_lock(&held_mu);
    for (pp = &held; (h = *pp) && h->dl != dl; pp = &h->next)
        ;
    others = h && --h->gens > 0;
    if (others)
        dlclose(dl);
    else if (h) {
        *pp = h->next;
        free(h);
    }
    gh_mutex_unlock(&held_mu);
    return others;
}

/* How long unloading waits for a module's goroutines to be gone. */
#define UNLOAD_WAIT (5 * GH_SECOND)

/* The smallest entry we can use: one with a fini member. */
#define MIN_ENTRY_SIZE (offsetof(gh_handler_t, fini) + sizeof(void (*)(void *)))

static gd_gen_t *gen_alloc(void)
{
    gd_gen_t *g;

    gh_mutex_lock(&free_mu);
    if ((g = free_gens))
        free_gens = g->free_next;
    gh_mutex_unlock(&free_mu);
    if (!g)
        return calloc(1, sizeof(*g));
    /* refs may still be touched by a stale reader: leave it alone */
    g->mods = NULL;
    g->nmods = 0;
    g->insts = NULL;
    g->ninsts = 0;
    g->router = NULL;
    g->cfg = NULL;
    g->free_next = NULL;
    return g;
}

/* Where handler NAME's file is: *out is malloc'ed. */
static int plugin_file(const char *name, const gd_plugin_path_t *pp,
                       char **out, char *err, size_t errlen)
{
    if (strchr(name, '/')) {
        *out = strdup(name);
        return *out ? 0 : GH_ENOMEM;
    }
    for (int i = 0; i < pp->n; i++) {
        if (asprintf(out, "%s/%s.so", pp->dirs[i], name) < 0)
            return GH_ENOMEM;
        if (access(*out, F_OK) == 0)
            return 0;
        free(*out);
    }
    *out = NULL;
    snprintf(err, errlen, "no plugin \"%s\" (looked for %s.so in %s%s%s%s%s)",
             name, name, pp->n ? pp->dirs[0] : "no directory",
             pp->n > 1 ? ", " : "", pp->n > 1 ? pp->dirs[1] : "",
             pp->n > 2 ? ", " : "", pp->n > 2 ? pp->dirs[2] : "");
    return GH_ENOENT;
}

/* Check the entry of the module at path.  0 or GH_EINVAL with err. */
static int entry_check(const char *path, const gh_handler_t *h, char *err,
                       size_t errlen)
{
    if (h->abi != GH_HANDLER_ABI) {
        snprintf(err, errlen, "%s: built for handler ABI %u, but this "
                 "gohttpd has handler ABI %u: rebuild the plugin against "
                 "gohttpd %s", path, (unsigned)h->abi, GH_HANDLER_ABI,
                 gh_version());
        return GH_EINVAL;
    }
    if (h->size < MIN_ENTRY_SIZE) {
        snprintf(err, errlen, "%s: its gh_handler_t is %u bytes, less than "
                 "the %zu of handler ABI %u", path, (unsigned)h->size,
                 (size_t)MIN_ENTRY_SIZE, GH_HANDLER_ABI);
        return GH_EINVAL;
    }
    if (!h->serve || !h->name) {
        snprintf(err, errlen, "%s: gh_handler_entry has no %s", path,
                 h->serve ? "name" : "serve callback");
        return GH_EINVAL;
    }
    return 0;
}

static int module_open(module_t *m, char *path, char *err, size_t errlen)
{
    const char *why;
    int rc;

    m->path = path;
    if (!(m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        why = dlerror();
        snprintf(err, errlen, "%s", why ? why : path);
        return GH_EINVAL;
    }
    m->h = dlsym(m->dl, GH_HANDLER_SYMBOL);
    if (!m->h) {
        snprintf(err, errlen, "%s: not a gohttpd plugin (no %s symbol)",
                 path, GH_HANDLER_SYMBOL);
        return GH_EINVAL;
    }
    if ((rc = entry_check(path, m->h, err, errlen)))
        return rc;
    return 0;
}

/* The module for route r, opened on first use.  NULL with err set. */
static const module_t *route_module(gd_gen_t *g, const gd_route_t *r,
                                   const gd_plugin_path_t *pp, char *err,
                                   size_t errlen)
{
    module_t *mods, *m;
    char *path;
    int rc;

    if (plugin_file(r->handler, pp, &path, err, errlen))
        return NULL;
    for (int i = 0; i < g->nmods; i++) {
        if (strcmp(g->mods[i].path, path) == 0) {
            free(path);
            return &g->mods[i];
        }
    }
    /* Module records are looked up by instances through pointers: make
     * room for every route up front so they never move. */
    mods = g->mods;
    m = &mods[g->nmods];
    rc = module_open(m, path, err, errlen);
    if (rc == 0 && (rc = held_add(m->dl)))
        snprintf(err, errlen, "out of memory");
    if (rc) {
        if (m->dl)
            dlclose(m->dl);
        free(path);
        *m = (module_t){0};
        return NULL;
    }
    g->nmods++;
    return m;
}

static int instance_serve(void *udata, gh_req_t *req, gh_resp_t *resp)
{
    instance_t *in = udata;

    return in->m->h->serve(in->state, req, resp);
}

/* Say where route r went wrong: "file:line:col: route /x: msg". */
static int route_error(const gd_route_t *r, int rc, char *err, size_t errlen)
{
    char msg[768];

    snprintf(msg, sizeof(msg), "%s", err);
    snprintf(err, errlen, "%s:%d:%d: route %s: %s", gh_conf_file(r->d),
             gh_conf_line(r->d), gh_conf_col(r->d), r->pattern, msg);
    return rc;
}

static int instance_init(instance_t *in, const gd_route_t *r, char *err,
                         size_t errlen)
{
    const gh_conf_directive_t *d;
    const char *why;
    int rc = in->m->h->init ? in->m->h->init(r->block, &in->state) : 0;

    if (rc) {
        why = gh_conf_error(r->block);
        if (why)
            snprintf(err, errlen, "%s", why);
        else
            snprintf(err, errlen, "%s:%d:%d: route %s: handler %s failed to "
                     "start: %s", gh_conf_file(r->d), gh_conf_line(r->d),
                     gh_conf_col(r->d), r->pattern, in->m->h->name,
                     gh_strerror(rc));
        return rc < 0 ? rc : GH_EINVAL;
    }
    in->inited = true;
    if ((d = gh_conf_unused(r->block))) {
        snprintf(err, errlen, "%s:%d:%d: %s: unknown setting for handler %s",
                 gh_conf_file(d), gh_conf_line(d), gh_conf_col(d),
                 gh_conf_name(d), in->m->h->name);
        return GH_EINVAL;
    }
    return 0;
}

static int route_add(gd_gen_t *g, instance_t *in, const gd_route_t *r,
                     char *err, size_t errlen)
{
    int rc = gh_router_add(g->router, r->methods, r->pattern, instance_serve,
                           in);

    if (rc == GH_EEXIST)
        snprintf(err, errlen, "a route with this path and method exists");
    else if (rc == GH_EINVAL)
        snprintf(err, errlen, "bad path pattern or method list");
    else if (rc)
        snprintf(err, errlen, "%s", gh_strerror(rc));
    return rc ? route_error(r, rc, err, errlen) : 0;
}

/* Goroutines started with a function of the object at base. */
typedef struct owned {
    const void *base;
    int n;
} owned_t;

static int count_owned(void *udata, const gh_rt_g_info_t *gi)
{
    owned_t *o = udata;
    Dl_info di;

    if (gi->fn && dladdr(gi->fn, &di) && di.dli_fbase == o->base)
        o->n++;
    return 0;
}

/*
 * Wait until no goroutine that m started is left.  fini has waited for
 * its goroutines to finish their work, but they may still be returning
 * through m's code when it does; unloading then would pull that code
 * away under them.  False if some are still there after UNLOAD_WAIT: the
 * module then stays mapped (a leak, not a crash).
 */
static bool module_quiet(const module_t *m)
{
    int64_t deadline = gh_deadline_in(UNLOAD_WAIT);
    owned_t o;
    Dl_info di;

    if (!dladdr(m->h, &di))
        return true;
    for (;;) {
        o = (owned_t){di.dli_fbase, 0};
        gh_rt_goroutines(count_owned, &o);
        if (o.n == 0)
            return true;
        if (gh_now() >= deadline)
            break;
        gh_sleep(2 * GH_MILLISECOND);
    }
    gh_log(GH_LOG_WARN, "%s: %d of its goroutines still run after fini; "
           "not unloading it", m->path, o.n);
    return false;
}

static void gen_free(gd_gen_t *g)
{
    for (int i = g->ninsts - 1; i >= 0; i--)
        if (g->insts[i].inited && g->insts[i].m->h->fini)
            g->insts[i].m->h->fini(g->insts[i].state);
    gh_router_free(g->router);
    for (int i = 0; i < g->nmods; i++) {
        module_t *m = &g->mods[i];

        if (held_drop(m->dl))
            gh_log(GH_LOG_DEBUG, "%s: stays loaded for the configuration "
                   "in force", m->path);
        else if (module_quiet(m)) {
            dlclose(m->dl);
            gh_log(GH_LOG_DEBUG, "%s: unloaded", m->path);
        }
        free(m->path);
    }
    free(g->mods);
    free(g->insts);
    gh_mutex_lock(&free_mu);
    g->free_next = free_gens;
    free_gens = g;
    gh_mutex_unlock(&free_mu);
}

static int gen_routes(gd_gen_t *g, const gd_config_t *c,
                      const gd_plugin_path_t *pp, char *err, size_t errlen)
{
    int rc;

    for (int i = 0; i < c->nroutes; i++) {
        const gd_route_t *r = &c->routes[i];
        instance_t *in = &g->insts[i];

        if (!(in->m = route_module(g, r, pp, err, errlen)))
            return route_error(r, GH_EINVAL, err, errlen);
        g->ninsts = i + 1;
        if ((rc = instance_init(in, r, err, errlen)))
            return rc;
        if ((rc = route_add(g, in, r, err, errlen)))
            return rc;
    }
    return 0;
}

int gd_gen_build(const gd_config_t *c, const gd_plugin_path_t *pp,
                 gd_gen_t **out, char *err, size_t errlen)
{
    size_t n = c->nroutes ? (size_t)c->nroutes : 1;
    gd_gen_t *g = gen_alloc();
    int rc;

    *out = NULL;
    if (!g)
        goto nomem;
    g->mods = calloc(n, sizeof(*g->mods));
    g->insts = calloc(n, sizeof(*g->insts));
    g->router = gh_router_new();
    g->cfg = c;
    if (!g->mods || !g->insts || !g->router) {
        gen_free(g);
        goto nomem;
    }
    if ((rc = gen_routes(g, c, pp, err, errlen))) {
        gen_free(g);
        return rc;
    }
    *out = g;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    return GH_ENOMEM;
}

gd_gen_t *gd_gen_swap(gd_gen_t *g)
{
    return atomic_exchange(&current, g);
}

void gd_gen_retire(gd_gen_t *g)
{
    if (!g)
        return;
    /* Requests finish on their own; a reload is rare, so polling is
     * cheaper than making every request signal on its way out. */
    while (atomic_load(&g->refs) > 0)
        gh_sleep(5 * GH_MILLISECOND);
    gen_free(g);
}

static gd_gen_t *acquire(void)
{
    gd_gen_t *g;

    for (;;) {
        g = atomic_load(&current);
        if (!g)
            return NULL;
        atomic_fetch_add(&g->refs, 1);
        if (g == atomic_load(&current))
            return g;
        atomic_fetch_sub(&g->refs, 1);
    }
}

static void release(void *arg)
{
    gd_gen_t *g = arg;

    atomic_fetch_sub(&g->refs, 1);
}

/*
 * A canned status with an error_page: send the page instead.  Unrouted
 * paths come here too, as the router returns 404 (and 405, 400) rather
 * than answering.  Whatever the handler set, such as Allow or
 * Content-Range, stays, as it would on the canned page.
 */
static int error_page(const gd_gen_t *g, gh_resp_t *resp, int status)
{
    const gd_error_page_t *p = gd_error_page(g->cfg, status);

    if (!p || gh_resp_status(resp, status) < 0 ||
        gh_resp_header_set(resp, "Content-Type",
                           "text/html; charset=utf-8") < 0)
        return status;
    return gh_resp_send(resp, p->body, p->len);
}

/* The entry's ready callback, if the plugin was built with one. */
static bool (*ready_fn(const gh_handler_t *h))(void *, char *, size_t)
{
    if (h->size < offsetof(gh_handler_t, ready) + sizeof(h->ready))
        return NULL;
    return h->ready;
}

bool gd_ready(void *udata, char *why, size_t len)
{
    gd_gen_t *g = acquire();
    bool ok = true;

    (void)udata;
    if (!g) {
        snprintf(why, len, "starting");
        return false;
    }
    for (int i = 0; i < g->ninsts && ok; i++) {
        const instance_t *in = &g->insts[i];
        bool (*fn)(void *, char *, size_t) = ready_fn(in->m->h);
        char sub[160] = "";

        if (fn && in->inited && !(ok = fn(in->state, sub, sizeof(sub))))
            snprintf(why, len, "route %s (%s): %s", g->cfg->routes[i].pattern,
                     in->m->h->name, sub[0] ? sub : "not ready");
    }
    release(g);
    return ok;
}

int gd_serve(void *udata, gh_req_t *req, gh_resp_t *resp)
{
    gd_gen_t *g = acquire();
    int rc;

    (void)udata;
    if (!g)
        return 503;
    /* Deferred, so that a handler that panics (the server recovers it)
     * still lets its generation go. */
    if (gh_defer(release, g) < 0) {
        release(g);
        return GH_ENOMEM;
    }
    rc = gh_router_serve(g->router, req, resp);
    if (rc >= 400 && rc <= 599 && g->cfg->nerror_pages > 0 &&
        !gh_resp_head_sent(resp))
        return error_page(g, resp, rc);
    return rc;
}
