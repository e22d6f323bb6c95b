/*
 * daemon.c - the daemon's life: start-up, the signal loop, reload and the
 * graceful stop.
 *
 * Signals are blocked in every thread (the mask is set before the first
 * thread starts) and read from a signalfd by the main thread, so a handler
 * never runs in signal context and a reload is ordinary code:
 *
 *   SIGHUP   reload: read the configuration again, and only if it is good
 *            and every plugin initialises, open the new listeners, update
 *            the server's limits and logs, swap the routes in one atomic
 *            step and retire the old generation once its requests are
 *            done.  Any failure leaves the running configuration alone.
 *   SIGTERM, SIGINT  graceful stop within shutdown_timeout.
 *   SIGUSR1  reopen the log files (after logrotate moved them).
 *   SIGUSR2  upgrade: a new process takes the listening sockets over
 *            (upgrade.c), then this one stops gracefully.
 *   SIGQUIT  dump every goroutine to the error log.
 *
 * Listening sockets passed in (systemd's socket activation, or the old
 * process of an upgrade: sd.c) are adopted by the listen directive with
 * the same address (or fd_name) instead of bound; one that no directive
 * matches is served all the same.  Adopted sockets are shared with
 * whoever passed them, so they are never shut down here.  The service
 * manager hears of the state changes through gd_sd_notify().
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/daemon.h"

static const int handled[] = {SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGUSR2,
                              SIGQUIT};

static int signals_block(gd_daemon_t *d, char *err, size_t errlen)
{
    sigset_t set;

    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
        sigaddset(&set, handled[i]);
    sigaddset(&set, SIGPIPE); /* writes to a gone client fail with EPIPE */
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        goto fail;
    sigdelset(&set, SIGPIPE);
    d->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (d->sfd < 0)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "signals: %s", strerror(errno));
    return GH_EINVAL;
}

/* The access log the server options of c should point at, or NULL. */
static gd_access_log_t *access_for(gd_daemon_t *d, const gd_config_t *c,
                                   char *err, size_t errlen)
{
    gd_access_keep_t *k;
    gd_logfile_t *f;

    if (!c->access_log)
        return NULL;
    if (!(f = gd_logfile_open(c->access_log, err, errlen)))
        return (gd_access_log_t *)-1;
    if (!(k = calloc(1, sizeof(*k)))) {
        gd_logfile_release(f);
        snprintf(err, errlen, "out of memory");
        return (gd_access_log_t *)-1;
    }
    k->log.f = f;
    k->log.format = c->access_format;
    k->next = d->access;
    d->access = k;
    return &k->log;
}

/* c's server options, with its access log. */
static int server_opts(gd_daemon_t *d, const gd_config_t *c,
                       gh_server_opts_t *o, char *err, size_t errlen)
{
    gd_access_log_t *al = access_for(d, c, err, errlen);

    if (al == (gd_access_log_t *)-1)
        return GH_EINVAL;
    *o = c->http;
    o->access_log = al ? gd_access_log_cb : NULL;
    o->access_udata = al;
    o->ready_check = gd_ready;
    return 0;
}

static int open_errlog(gd_daemon_t *d, const gd_config_t *c, char *err,
                       size_t errlen)
{
    gd_logfile_t *f = NULL, *old = d->errlog;

    if (strcmp(c->error_log, "stderr") != 0 &&
        !(f = gd_logfile_open(c->error_log, err, errlen)))
        return GH_EINVAL;
    gd_errlog_use(f);
    d->errlog = f;
    if (old)
        gd_logfile_release(old);
    gh_log_set_level(c->error_level);
    return 0;
}

/* Say where listener i of d's server listens (port 0 picks one). */
static void log_listener(gd_daemon_t *d, const gd_listen_t *l, int idx)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[64] = "", port[16] = "";

    if (strncmp(l->addr, "unix:", 5) == 0 ||
        gh_server_addr(d->srv, idx, &ss, &len) < 0 ||
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
                    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        gh_log(GH_LOG_NOTICE, "listening on %s%s", l->addr,
               l->tls ? " (tls)" : "");
        return;
    }
    gh_log(GH_LOG_NOTICE, ss.ss_family == AF_INET6 ? "listening on [%s]:%s%s"
                                                   : "listening on %s:%s%s",
           host, port, l->tls ? " (tls)" : "");
}

/* ---- inherited sockets ---- */

/* True when inherited socket f has address sa (port 0 in sa: any). */
static bool same_inet(const struct sockaddr *sa, const gd_sd_fd_t *f)
{
    const struct sockaddr_in *a4 = (const void *)sa;
    const struct sockaddr_in *b4 = (const void *)&f->ss;
    const struct sockaddr_in6 *a6 = (const void *)sa;
    const struct sockaddr_in6 *b6 = (const void *)&f->ss;

    if (sa->sa_family != f->ss.ss_family)
        return false;
    if (sa->sa_family == AF_INET)
        return a4->sin_addr.s_addr == b4->sin_addr.s_addr &&
               (a4->sin_port == 0 || a4->sin_port == b4->sin_port);
    return sa->sa_family == AF_INET6 &&
           memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr)) ==
               0 &&
           a6->sin6_scope_id == b6->sin6_scope_id &&
           (a6->sin6_port == 0 || a6->sin6_port == b6->sin6_port);
}

/* l's addresses, resolved as gh_server_listen() does; NULL if none. */
static struct addrinfo *resolve(const char *addr)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char host[256];
    const char *colon = strrchr(addr, ':');
    size_t hl = colon ? (size_t)(colon - addr) : 0;

    if (!colon || hl >= sizeof(host))
        return NULL;
    if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']') {
        memcpy(host, addr + 1, hl - 2);
        host[hl - 2] = '\0';
    } else {
        memcpy(host, addr, hl);
        host[hl] = '\0';
    }
    if (getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res) != 0)
        return NULL;
    if (host[0] && res->ai_next) { /* a named host: its first address */
        freeaddrinfo(res->ai_next);
        res->ai_next = NULL;
    }
    return res;
}

/* True when listen directive l names inherited socket f. */
static bool names(const gd_listen_t *l, const struct addrinfo *res,
                  const gd_sd_fd_t *f)
{
    const struct sockaddr_un *un = (const void *)&f->ss;

    if (l->fd_name)
        return strcmp(l->fd_name, f->name) == 0;
    if (strncmp(l->addr, "unix:", 5) == 0)
        return f->ss.ss_family == AF_UNIX &&
               strcmp(un->sun_path, l->addr + 5) == 0;
    for (; res; res = res->ai_next)
        if (same_inet(res->ai_addr, f))
            return true;
    return false;
}

/* Serve inherited socket f; its listener index or GH_E*. */
static int adopt_fd(gd_daemon_t *d, gd_sd_fd_t *f)
{
    int idx = gh_server_listen_fd(d->srv, f->fd);

    if (idx >= 0) {
        f->used = true;
        gh_server_listener_share(d->srv, idx);
    }
    return idx;
}

/* Adopt the inherited sockets l names into *slot: how many (0: none, bind
 * as usual), or GH_E* with err. */
static int adopt(gd_daemon_t *d, const gd_listen_t *l, gd_lslot_t *slot,
                 char *err, size_t errlen)
{
    struct addrinfo *res = NULL;
    char what[300];
    int idx;

    if (d->inherited.n == 0) /* the usual case: nothing to resolve */
        return 0;
    if (!l->fd_name && strncmp(l->addr, "unix:", 5) != 0 &&
        !(res = resolve(l->addr)))
        return 0; /* binding will say what is wrong */
    slot->n = 0;
    for (int i = 0; i < d->inherited.n; i++) {
        gd_sd_fd_t *f = &d->inherited.fds[i];
        if (f->used || !names(l, res, f))
            continue;
        if ((idx = adopt_fd(d, f)) < 0) {
            snprintf(err, errlen, "listen %s: inherited %s: %s", l->addr,
                     gd_sd_describe(f, what, sizeof(what)), gh_strerror(idx));
            if (res)
                freeaddrinfo(res);
            return idx;
        }
        if (slot->n++ == 0)
            slot->idx = idx;
        gh_log(GH_LOG_INFO, "listen %s: inherited %s", l->addr,
               gd_sd_describe(f, what, sizeof(what)));
    }
    if (res)
        freeaddrinfo(res);
    return slot->n;
}

/* Serve the inherited sockets no listen directive named: the service
 * manager was told to listen there, so it is what the admin wants. */
static void adopt_rest(gd_daemon_t *d)
{
    char what[300];
    int idx;

    for (int i = 0; i < d->inherited.n; i++) {
        gd_sd_fd_t *f = &d->inherited.fds[i];
        int *x;

        if (f->used)
            continue;
        if ((x = realloc(d->extra, (size_t)(d->nextra + 1) * sizeof(*x))))
            d->extra = x;
        gd_sd_describe(f, what, sizeof(what));
        if (!x || (idx = adopt_fd(d, f)) < 0) {
            gh_log(GH_LOG_WARN, "inherited %s: cannot serve it: closed", what);
            continue; /* gd_sd_fds_free() closes it */
        }
        d->extra[d->nextra++] = idx;
        gh_log(GH_LOG_NOTICE, "listening on inherited %s, which no listen "
               "directive names", what);
    }
    gd_sd_fds_free(&d->inherited);
}

int gd_listeners(gd_daemon_t *d, int *idx, const char **nm, int max)
{
    const gd_config_t *c = d->cfg;
    int n = 0;

    for (int i = 0; i < c->nlistens; i++)
        for (int k = 0; k < d->lslots[i].n && n < max; k++, n++) {
            idx[n] = d->lslots[i].idx + k;
            nm[n] = c->listens[i].fd_name ? c->listens[i].fd_name : "gohttpd";
        }
    for (int i = 0; i < d->nextra && n < max; i++, n++) {
        idx[n] = d->extra[i];
        nm[n] = "gohttpd";
    }
    return n;
}

/* The library's options for listen directive l. */
static gh_listen_opts_t listen_opts(const gd_listen_t *l)
{
    return (gh_listen_opts_t){
        .backlog = l->backlog,
        .reuseport = l->reuseport,
        .unix_mode = l->mode,
        .unix_chown = l->uid >= 0 || l->gid >= 0,
        .unix_uid = (uid_t)l->uid,
        .unix_gid = (gid_t)l->gid,
        .proxy_protocol = l->proxy_protocol,
        .proxy_protocol_from = l->proxy_protocol_from,
        .proxy_protocol_timeout = l->proxy_protocol_timeout,
        .tls = l->tls,
        .notsent_lowat = l->notsent_lowat};
}

/* Bind listen directive l into *slot.  0, or GH_E* with err. */
static int listen_one(gd_daemon_t *d, const gd_listen_t *l, gd_lslot_t *slot,
                      char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    gh_listen_opts_t lo = listen_opts(l);
    int idx = adopt(d, l, slot, err, errlen);

    if (idx != 0) { /* adopted inherited sockets (or failed to) */
        for (int i = 0; idx > 0 && i < slot->n; i++) {
            /* Bound elsewhere: only the per-connection settings apply. */
            gh_server_listener_update(d->srv, slot->idx + i, &lo);
            if (l->tls)
                gh_server_listener_tls(d->srv, slot->idx + i, l->tls);
            log_listener(d, l, slot->idx + i);
        }
        return idx < 0 ? idx : 0;
    }
    if ((idx = gh_server_listen(d->srv, l->addr, &lo)) < 0) {
        if (l->d)
            snprintf(err, errlen, "%s:%d:%d: listen %s: %s", gh_conf_file(l->d),
                     gh_conf_line(l->d), gh_conf_col(l->d), l->addr,
                     gh_strerror(idx));
        else
            snprintf(err, errlen, "-l %s: %s", l->addr, gh_strerror(idx));
        return idx;
    }
    /* ":port" makes two listeners (IPv4 and IPv6), with consecutive
     * indexes: right after the call, a next one can only be its twin. */
    slot->idx = idx;
    slot->n = gh_server_addr(d->srv, idx + 1, &ss, &len) == 0 ? 2 : 1;
    for (int i = 0; i < slot->n; i++)
        log_listener(d, l, idx + i);
    return 0;
}

static void listen_close(gd_daemon_t *d, const gd_lslot_t *slot)
{
    for (int i = 0; i < slot->n; i++)
        gh_server_listener_close(d->srv, slot->idx + i);
}

static int listen_all(gd_daemon_t *d, char *err, size_t errlen)
{
    const gd_config_t *c = d->cfg;
    int rc;

    if (!(d->lslots = calloc((size_t)c->nlistens, sizeof(*d->lslots))))
        return GH_ENOMEM;
    for (int i = 0; i < c->nlistens; i++)
        if ((rc = listen_one(d, &c->listens[i], &d->lslots[i], err, errlen)))
            return rc;
    adopt_rest(d);
    return 0;
}

/* The server, its listeners and the first generation of routes. */
static int serve_setup(gd_daemon_t *d, char *err, size_t errlen)
{
    gd_plugin_path_t pp;
    gh_server_opts_t o;
    gd_gen_t *g;
    int rc;

    gd_plugin_path(d->cfg, &pp);
    if ((rc = server_opts(d, d->cfg, &o, err, errlen)))
        return rc;
    if ((rc = gh_server_new(&d->srv, &o, gd_serve, NULL))) {
        snprintf(err, errlen, "server: %s", gh_strerror(rc));
        return rc;
    }
    if ((rc = listen_all(d, err, errlen)) ||
        (rc = gd_gen_build(d->cfg, &pp, &g, err, errlen)))
        return rc;
    gd_gen_swap(g);
    return 0;
}

/* Keep what of the starting configuration only a restart changes. */
static int fixed_keep(gd_daemon_t *d, char *err, size_t errlen)
{
    const gd_config_t *c = d->cfg;
    gd_fixed_t *f = &d->fixed;

    *f = (gd_fixed_t){.workers = c->workers,
                      .allow_root = c->allow_root,
                      .log_buffer = c->log_buffer,
                      .max_open_files = c->max_open_files};
    if (!(f->user = strdup(c->user)) ||
        (c->group && !(f->group = strdup(c->group)))) {
        snprintf(err, errlen, "out of memory");
        return GH_ENOMEM;
    }
    return 0;
}

/* Everything before the signal loop.  0, or GH_E* with err. */
int gd_start(gd_daemon_t *d, char *err, size_t errlen)
{
    int rc;

    if ((rc = fixed_keep(d, err, errlen)))
        return rc;
    /* Before detaching: LISTEN_PID names the pid we were started as. */
    if ((rc = gd_sd_listen_fds(&d->inherited, err, errlen)) ||
        (rc = gd_detach(d, err, errlen)) ||
        (rc = signals_block(d, err, errlen)))
        return rc;
    if (d->cfg->workers)
        gh_set_workers(d->cfg->workers);
    gh_set_stall_limit(d->cfg->stall_limit); /* checked at load */
    gd_logs_init(d->cfg->log_buffer);
    if ((rc = open_errlog(d, d->cfg, err, errlen)))
        return rc;
    gd_raise_nofile(d->cfg);
    if ((rc = serve_setup(d, err, errlen)) ||
        (rc = gd_pid_write(d, err, errlen)) ||
        (rc = gd_drop_privileges(d->cfg, err, errlen)))
        return rc;
    if ((rc = gh_server_start(d->srv))) {
        snprintf(err, errlen, "server: %s", gh_strerror(rc));
        return rc;
    }
    gh_log(GH_LOG_NOTICE, "gohttpd %s started (pid %ld, %d workers, %s)",
           gh_version(), (long)getpid(), gh_workers(),
           d->conf_path ? d->conf_path : "-r");
    if (gd_upgrade_child_ready(d, err, errlen) < 0)
        gh_log(GH_LOG_WARN, "%s", err); /* serving all the same */
    gd_sd_notify("READY=1\nMAINPID=%ld\nSTATUS=serving (%d listen "
                 "directives)", (long)getpid(), d->cfg->nlistens);
    return 0;
}

/* ---- reload ---- */

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The settings a reload cannot change, and what it says about them.  The
 * comparison is with what runs (since the start), not with the last
 * configuration loaded: after A to B and back to A, nothing differs. */
static void restart_only(const gd_daemon_t *d, const gd_config_t *c)
{
    const gd_fixed_t *f = &d->fixed;

    if (f->workers != c->workers)
        gh_log(GH_LOG_WARN, "reload: workers changes at the next restart");
    if (!same_str(f->user, c->user) || f->allow_root != c->allow_root ||
        !same_str(f->group, c->group))
        gh_log(GH_LOG_WARN, "reload: user and allow_root change at the next "
               "restart");
    if (!same_str(d->pid_path, c->pid_file))
        gh_log(GH_LOG_WARN, "reload: pid_file changes at the next restart");
    if (f->log_buffer != c->log_buffer)
        gh_log(GH_LOG_WARN, "reload: log_buffer changes at the next restart");
    if (f->max_open_files != c->max_open_files)
        gh_log(GH_LOG_WARN, "reload: max_open_files changes at the next "
               "restart");
}

/* Listeners for c: the running ones that c keeps, new ones opened.  On
 * failure, the new ones are closed again and nothing changed. */
/* A kept unix: listener's file takes the new owner and mode (a warning
 * if it cannot: after the drop from root, a chown mostly cannot). */
static void unix_perms(const gd_listen_t *l)
{
    const char *path = l->addr + 5;

    if (strncmp(l->addr, "unix:", 5) != 0)
        return;
    if ((l->uid >= 0 || l->gid >= 0) &&
        chown(path, (uid_t)l->uid, (gid_t)l->gid) < 0)
        gh_log(GH_LOG_WARN, "%s: owner kept: chown: %s", l->addr,
               strerror(errno));
    if (l->mode && chmod(path, l->mode) < 0)
        gh_log(GH_LOG_WARN, "%s: mode kept: chmod: %s", l->addr,
               strerror(errno));
}

/* A kept listener takes the new PROXY protocol settings and notsent_lowat
 * (checked at load: only memory can fail here). */
static void listener_update(gd_daemon_t *d, const gd_listen_t *l,
                            const gd_lslot_t *slot)
{
    gh_listen_opts_t lo = listen_opts(l);

    for (int i = 0; i < slot->n; i++)
        if (gh_server_listener_update(d->srv, slot->idx + i, &lo) < 0)
            gh_log(GH_LOG_WARN, "%s: settings kept: out of memory",
                   l->addr);
}

static int relisten(gd_daemon_t *d, const gd_config_t *c, gd_lslot_t *slots,
                    char *err, size_t errlen)
{
    const gd_config_t *old = d->cfg;
    int i, j, rc = 0;

    for (i = 0; i < c->nlistens && rc == 0; i++) {
        slots[i].n = 0;
        for (j = 0; j < old->nlistens; j++)
            if (d->lslots[j].n && gd_listen_same(&old->listens[j],
                                                 &c->listens[i]))
                break;
        if (j < old->nlistens) {
            unix_perms(&c->listens[i]);
            listener_update(d, &c->listens[i], &d->lslots[j]);
            slots[i] = d->lslots[j];
            d->lslots[j].n = 0; /* taken over */
            slots[i].n = -slots[i].n; /* kept: marked for rollback */
        } else {
            rc = listen_one(d, &c->listens[i], &slots[i], err, errlen);
        }
    }
    for (i = 0; i < c->nlistens; i++) {
        if (slots[i].n < 0) {
            slots[i].n = -slots[i].n;
            if (rc) /* give the kept ones back */
                for (j = 0; j < old->nlistens; j++)
                    if (d->lslots[j].n == 0 && d->lslots[j].idx ==
                                                   slots[i].idx) {
                        d->lslots[j] = slots[i];
                        listener_update(d, &old->listens[j], &d->lslots[j]);
                    }
        } else if (rc && slots[i].n > 0) {
            listen_close(d, &slots[i]);
        }
    }
    return rc;
}

/* Every listener of c takes c's TLS context (or none): kept listeners
 * switch atomically, new handshakes use the new certificates and
 * established connections keep theirs. */
static void retls(gd_daemon_t *d, const gd_config_t *c)
{
    for (int i = 0; i < c->nlistens; i++)
        for (int k = 0; k < d->lslots[i].n; k++)
            gh_server_listener_tls(d->srv, d->lslots[i].idx + k,
                                   c->listens[i].tls);
}

typedef struct retiring {
    gd_gen_t *gen;
    gd_config_t *cfg;
} retiring_t;

/* Off the main thread: a long request must not hold up the next reload. */
static void retire_go(void *arg)
{
    retiring_t *r = arg;

    gd_gen_retire(r->gen);
    gd_config_free(r->cfg);
    free(r);
}

static void retire(gd_gen_t *g, gd_config_t *c)
{
    retiring_t *r = malloc(sizeof(*r));

    if (r) {
        *r = (retiring_t){g, c};
        if (gh_go_with(retire_go, r, &(gh_go_opts_t){.name = "retire"}) > 0)
            return;
        free(r);
    }
    gd_gen_retire(g); /* in line, then */
    gd_config_free(c);
}

/* Load, build and listen for the new configuration: nothing in force
 * changes unless all of it worked. */
static int reload_prepare(gd_daemon_t *d, gd_config_t **cp, gd_gen_t **gp,
                          gd_lslot_t **sp, char *err, size_t errlen)
{
    gd_plugin_path_t pp;
    gd_config_t *c;
    int rc;

    if ((rc = gd_config_load(d->conf_path, &d->ov, &c, err, errlen)))
        return rc;
    gd_plugin_path(c, &pp);
    if ((rc = gd_gen_build(c, &pp, gp, err, errlen)))
        goto fail_cfg;
    if (!(*sp = calloc((size_t)c->nlistens, sizeof(**sp)))) {
        rc = GH_ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto fail_gen;
    }
    if ((rc = relisten(d, c, *sp, err, errlen)))
        goto fail_slots;
    *cp = c;
    return 0;
fail_slots:
    free(*sp);
fail_gen:
    gd_gen_retire(*gp);
fail_cfg:
    gd_config_free(c);
    return rc;
}

static void reload_refused(void)
{
    gh_log(GH_LOG_ERROR, "SIGHUP: reload refused: an upgrade is under way");
    gd_sd_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reload refused "
                 "during an upgrade", gd_sd_monotonic_usec());
    gd_sd_notify("READY=1\nSTATUS=reload refused during an upgrade");
}

static void reload(gd_daemon_t *d)
{
    char err[1024];
    gd_config_t *c, *old = d->cfg;
    gd_lslot_t *slots;
    gh_server_opts_t o;
    gd_gen_t *g;

    gh_log(GH_LOG_NOTICE, "reloading %s", d->conf_path ? d->conf_path : "-r");
    gd_sd_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
                 gd_sd_monotonic_usec());
    if (reload_prepare(d, &c, &g, &slots, err, sizeof(err))) {
        gh_log(GH_LOG_ERROR, "reload failed, the running configuration "
               "stays: %s", err);
        gd_sd_notify("READY=1\nSTATUS=reload failed, the running "
                     "configuration stays: %s", err);
        return;
    }
    for (int j = 0; j < old->nlistens; j++)
        if (d->lslots[j].n)
            listen_close(d, &d->lslots[j]); /* gone from the new one */
    free(d->lslots);
    d->lslots = slots;
    retls(d, c);
    restart_only(d, c);
    if (server_opts(d, c, &o, err, sizeof(err)) == 0)
        gh_server_update(d->srv, &o);
    else
        gh_log(GH_LOG_ERROR, "reload: %s (keeping the old access log)", err);
    if (open_errlog(d, c, err, sizeof(err)) != 0)
        gh_log(GH_LOG_ERROR, "reload: %s (keeping the old error log)", err);
    gh_set_stall_limit(c->stall_limit);
    d->cfg = c;
    retire(gd_gen_swap(g), old);
    gh_log(GH_LOG_NOTICE, "reloaded: %d listeners, %d routes", c->nlistens,
           c->nroutes);
    gd_sd_notify("READY=1\nSTATUS=reloaded: %d listen directives, %d "
                 "routes", c->nlistens, c->nroutes);
}

/* ---- the signal loop and the stop ---- */

static void dump_goroutines(gd_daemon_t *d)
{
    gh_log(GH_LOG_NOTICE, "SIGQUIT: goroutine dump follows");
    gd_logs_flush();
    /* The dump goes straight to the error log's descriptor, after what
     * was queued, so it cannot be cut by the queue's bound. */
    gh_dump(d->errlog ? gd_logfile_fd(d->errlog) : 2);
}

enum { EV_UPGRADE_PIPE = -1, EV_UPGRADE_TIME = -2 };

/* The next signal, or 0 at deadline; parks the main goroutine (or
 * thread) meanwhile. */
static int next_signal(gd_daemon_t *d, int64_t deadline)
{
    struct signalfd_siginfo si;
    ssize_t n;

    for (;;) {
        n = gh_read(d->sfd, &si, sizeof(si), deadline);
        if (n == (ssize_t)sizeof(si))
            return (int)si.ssi_signo;
        if (n == GH_ETIMEDOUT)
            return 0;
        if (n < 0 && n != GH_EINTR && n != GH_EAGAIN) {
            gh_log(GH_LOG_ERROR, "signalfd: %s", gh_strerror((int)n));
            return SIGTERM;
        }
    }
}

/* The next signal, or, while an upgrade is under way, its new process's
 * word (EV_UPGRADE_PIPE) or deadline (EV_UPGRADE_TIME).  The main thread
 * is not a goroutine: it may wait in poll(2). */
static int next_event(gd_daemon_t *d)
{
    struct pollfd p[2] = {{.fd = d->sfd, .events = POLLIN},
                          {.fd = d->up.fd, .events = POLLIN}};
    int64_t left;
    int r;

    if (d->up.fd < 0)
        return next_signal(d, GH_FOREVER);
    left = d->up.deadline - gh_now();
    if (left <= 0)
        return EV_UPGRADE_TIME;
    r = poll(p, 2, (int)((left + GH_MILLISECOND - 1) / GH_MILLISECOND));
    if (r > 0 && p[1].revents)
        return EV_UPGRADE_PIPE;
    if (r > 0 && p[0].revents)
        return next_signal(d, GH_FOREVER);
    return EV_UPGRADE_TIME; /* or EINTR: the deadline is checked again */
}

void gd_stop_logs(gd_daemon_t *d)
{
    gd_errlog_use(NULL);
    if (d->errlog)
        gd_logfile_release(d->errlog);
    d->errlog = NULL;
    gd_logs_shutdown();
}

/* Release everything gd_start() made, as far as it got.  The server must
 * be shut down or never started. */
void gd_teardown(gd_daemon_t *d)
{
    gd_gen_retire(gd_gen_swap(NULL));
    gh_server_free(d->srv);
    d->srv = NULL;
    gd_pid_remove(d);
    gd_stop_logs(d);
    for (gd_access_keep_t *k = d->access, *next; k; k = next) {
        next = k->next;
        gd_logfile_release(k->log.f);
        free(k);
    }
    d->access = NULL;
    gd_config_free(d->cfg);
    d->cfg = NULL;
    free(d->fixed.user);
    free(d->fixed.group);
    d->fixed = (gd_fixed_t){0};
    free(d->lslots);
    d->lslots = NULL;
    free(d->extra);
    d->extra = NULL;
    d->nextra = 0;
    gd_sd_fds_free(&d->inherited);
    gd_upgrade_cleanup(d);
    free(d->exe);
    d->exe = NULL;
    if (d->sfd > 0)
        close(d->sfd);
    d->sfd = -1;
}

/*
 * The drain before a stop: the readiness path turns 503 at once while
 * everything else is served as before, for drain_delay, so that a load
 * balancer notices and moves traffic away before the listeners close.
 * A second stop signal ends it early; the others are handled as usual
 * (a reload is not: the configuration in force is the one stopping).
 */
static void drain(gd_daemon_t *d)
{
    int64_t until = gh_deadline_in(d->cfg->drain_delay);
    int sig;

    gh_server_set_ready(d->srv, false);
    gh_log(GH_LOG_NOTICE, "draining: not ready; still serving for %.1f s",
           (double)d->cfg->drain_delay / GH_SECOND);
    while ((sig = next_signal(d, until)) != 0) {
        if (sig == SIGUSR1)
            gd_logs_reopen();
        else if (sig == SIGQUIT)
            dump_goroutines(d);
        else if (sig == SIGTERM || sig == SIGINT) {
            gh_log(GH_LOG_NOTICE, "%s again: the drain ends now",
                   strsignal(sig));
            return;
        } else
            gh_log(GH_LOG_NOTICE, "%s ignored while draining",
                   strsignal(sig));
    }
}

/* The graceful stop; gd_teardown() releases the rest. */
static int stop(gd_daemon_t *d, int sig)
{
    int64_t grace = d->cfg->shutdown_timeout;
    int rc;

    /* Not after an upgrade: the new process serves the same sockets, and
     * a 503 from this one would only take the address out of a pool. */
    if (d->cfg->drain_delay > 0 && sig != SIGUSR2) {
        gh_log(GH_LOG_NOTICE, "%s: stopping after a drain", strsignal(sig));
        drain(d);
    }
    gh_log(GH_LOG_NOTICE, "%s: stopping; in-flight requests have %.1f s",
           strsignal(sig), (double)grace / GH_SECOND);
    rc = gh_server_shutdown(d->srv, gh_deadline_in(grace));
    if (rc == GH_ETIMEDOUT)
        gh_log(GH_LOG_WARN, "some requests were cut off after %.1f s",
               (double)grace / GH_SECOND);
    gh_log(GH_LOG_NOTICE, "stopped");
    return 0;
}

int gd_run(gd_daemon_t *d)
{
    for (;;) {
        int sig = next_event(d);

        switch (sig) {
        case SIGUSR2:
            gd_upgrade_start(d);
            break;
        case EV_UPGRADE_PIPE:
        case EV_UPGRADE_TIME:
            if (gd_upgrade_check(d, sig == EV_UPGRADE_PIPE))
                return stop(d, SIGUSR2); /* no STOPPING=1: the service
                                          * goes on in the new process */
            break;
        case SIGHUP:
            if (d->up.pid > 0) /* it could close the new process's socket */
                reload_refused();
            else
                reload(d);
            break;
        case SIGUSR1:
            gh_log(GH_LOG_NOTICE, "SIGUSR1: reopening the log files");
            gd_logs_reopen();
            break;
        case SIGQUIT:
            dump_goroutines(d);
            break;
        default:
            gd_upgrade_cleanup(d);
            gd_sd_notify("STOPPING=1\nSTATUS=stopping (%s)", strsignal(sig));
            return stop(d, sig);
        }
    }
}
