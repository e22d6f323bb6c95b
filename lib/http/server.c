/*
 * server.c - listeners (plain or TLS), the acceptors, connection bookkeeping, graceful
 * shutdown and the counters.
 *
 * An acceptor goroutine per listener calls accept4(2) until it would block,
 * starting a goroutine per connection, and parks on the listener only when
 * the backlog is empty.  At max_conns, or when the process or system is out
 * of descriptors (EMFILE/ENFILE) or memory, it sleeps instead of spinning:
 * accept_backoff at first, doubling up to a second, and logs once a second
 * at most.  Connections wait in the kernel's backlog meanwhile.
 *
 * The listener's descriptor belongs to its acceptor, which closes it on its
 * way out: shutdown only sets `draining` and wakes it (shutdown(2) on the
 * listening socket makes it readable), under l->mu so that the descriptor
 * cannot be closed, and its number reused, in between.  A shared listener
 * (gh_server_listener_share: another process accepts on the same socket)
 * is never shut down, which would end it for both; its acceptor instead
 * wakes every LISTEN_RECHECK to look at the flags.
 * gh_server_listener_close() stops one acceptor the same way (its `stop`
 * flag) and waits for it to have closed the descriptor, so the address can
 * be bound again at once.  Listeners are heap objects that never move: the
 * table of pointers (under lmu) grows when gh_server_listen() adds one
 * after the start, while the acceptors keep theirs.  A listener added
 * after shutdown began is refused: `draining` is set under lmu, so no
 * acceptor joins the wait group shutdown waits on.
 *
 * The options live in an immutable block (gh__server_cfg_t).  Each
 * connection goroutine loads the current one as it starts and uses it for
 * everything it serves; gh_server_update() publishes a new block and keeps
 * the old ones, which some session may still read, until gh_server_free().
 *
 * Every connection is on s->conns, under s->mu, from accept to release.
 * Shutdown walks that list: idle connections get shutdown(SHUT_RD), which
 * wakes their fdwatch so they close themselves; at the deadline every
 * connection gets shutdown(SHUT_RDWR) and the request contexts are
 * cancelled.  A connection is unlinked under s->mu before its descriptor
 * is closed, so the walk never touches a reused number.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "http/forwarded.h"
#include "http/http_impl.h"

#define ACCEPT_BATCH 64          /* accepts before letting others run */
#define SPAWN_AHEAD 16           /* connection goroutines not yet running */
#define BACKOFF_MAX GH_SECOND
#define LISTEN_RECHECK GH_SECOND /* a parked acceptor's look at its flags */

void gh_server_opts_init(gh_server_opts_t *o)
{
    *o = (gh_server_opts_t){
        .max_target = GH__HTTP_MAX_TARGET,
        .max_header_bytes = GH__HTTP_MAX_HEADER_BYTES,
        .max_headers = GH__HTTP_MAX_HEADERS,
        .max_body = GH__HTTP_MAX_BODY,
        .header_timeout = 10 * GH_SECOND,
        .body_timeout = 10 * GH_SECOND,
        .body_min_rate = 500,
        .write_timeout = 10 * GH_SECOND,
        .write_min_rate = 500,
        .idle_timeout = 65 * GH_SECOND,
        .max_conns = 10000,
        .max_requests = 1000,
        .accept_backoff = 10 * GH_MILLISECOND,
        .server_header = "gohttpd",
        .stack_size = 0,
        .health_path = "/healthz",
        .ready_path = "/readyz",
        .real_ip_recursive = true,
        .max_forwarded_hops = 32,
        .linger_timeout = 5 * GH_SECOND,
        .linger_bytes = 16u << 20,
    };
}

/* A header name: a token of at most 64 bytes. */
static bool header_name_ok(const char *n)
{
    size_t len = strlen(n);

    return len >= 1 && len <= 64 &&
           strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789!#$%&'*+-.^_`|~") == len;
}

static bool opts_valid(const gh_server_opts_t *o)
{
    return o->max_target && o->max_header_bytes && o->max_headers &&
           o->max_headers <= 65535 && o->max_body &&
           o->header_timeout > 0 && o->body_timeout > 0 &&
           o->write_timeout > 0 && o->idle_timeout > 0 && o->max_conns &&
           o->linger_timeout > 0 && o->linger_bytes &&
           o->accept_backoff > 0 &&
           (uint64_t)o->max_target + o->max_header_bytes < (1u << 30) &&
           (!o->server_header || !strpbrk(o->server_header, "\r\n")) &&
           (!o->health_path || o->health_path[0] == '/') &&
           (!o->ready_path || o->ready_path[0] == '/') &&
           gh__fwd_kind(o->real_ip_header) >= 0 &&
           o->max_forwarded_hops <= GH__FWD_HOPS_MAX &&
           (!o->request_id_header || header_name_ok(o->request_id_header));
}

/* Copy s (if any) to *p, moving *p past it: cfg_new's string block. */
static const char *stash(char **p, const char *s)
{
    size_t n;
    char *copy = *p;

    if (!s)
        return NULL;
    n = strlen(s) + 1;
    memcpy(copy, s, n);
    *p += n;
    return copy;
}

static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static void cfg_free(gh__server_cfg_t *cfg)
{
    gh_netlist_free(cfg->trusted);
    free(cfg->rid_header);
    free(cfg);
}

/* The proxy settings' own copies; 0 or GH_E*. */
static int cfg_proxies(gh__server_cfg_t *cfg, const gh_server_opts_t *o)
{
    int rc;

    cfg->real_ip = gh__fwd_kind(o->real_ip_header);
    cfg->o.real_ip_header = NULL; /* the caller's string: not kept */
    if (!cfg->o.max_forwarded_hops)
        cfg->o.max_forwarded_hops = 32;
    if (o->trusted_proxies &&
        (rc = gh_netlist_new(&cfg->trusted, o->trusted_proxies, NULL, 0)))
        return rc;
    cfg->o.trusted_proxies = NULL;
    if (o->request_id_header) {
        if (!(cfg->rid_header = strdup(o->request_id_header)))
            return GH_ENOMEM;
        cfg->rid_len = (uint32_t)strlen(cfg->rid_header);
    }
    cfg->o.request_id_header = cfg->rid_header;
    return 0;
}

/* A validated copy of opts (NULL: the defaults) as a block, or NULL with
 * *rc set. */
static gh__server_cfg_t *cfg_new(const gh_server_opts_t *opts, int *rc)
{
    gh_server_opts_t dflt;
    gh__server_cfg_t *cfg;
    size_t hlen;
    char *p;

    if (!opts) {
        gh_server_opts_init(&dflt);
        opts = &dflt;
    }
    *rc = GH_EINVAL;
    if (!opts_valid(opts))
        return NULL;
    hlen = str_size(opts->server_header) + str_size(opts->health_path) +
           str_size(opts->ready_path);
    *rc = GH_ENOMEM;
    if (!(cfg = calloc(1, sizeof(*cfg) + hlen)))
        return NULL;
    cfg->o = *opts;
    p = cfg->strs;
    cfg->o.server_header = stash(&p, opts->server_header);
    cfg->o.health_path = stash(&p, opts->health_path);
    cfg->o.ready_path = stash(&p, opts->ready_path);
    gh__http_limits_init(&cfg->lim);
    cfg->lim.max_target = opts->max_target;
    cfg->lim.max_header_bytes = opts->max_header_bytes;
    cfg->lim.max_headers = opts->max_headers;
    cfg->lim.max_body = opts->max_body;
    if ((*rc = cfg_proxies(cfg, opts)) < 0) {
        cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

int gh_server_new(gh_server_t **out, const gh_server_opts_t *opts,
                  gh_handler_fn handler, void *udata)
{
    gh__server_cfg_t *cfg;
    gh_server_t *s;
    int rc;

    *out = NULL;
    if (!handler)
        return GH_EINVAL;
    if (!(cfg = cfg_new(opts, &rc)))
        return rc;
    if (!(s = calloc(1, sizeof(*s))))
        goto fail;
    if (!(s->ctx = gh_ctx_with_cancel(gh_ctx_background())))
        goto fail;
    atomic_init(&s->cfg, cfg);
    s->created = gh_now();
    gh__log_gate_init(&s->pp_log, GH__PP_LOG_EVERY);
    s->handler = handler;
    s->udata = udata;
    *out = s;
    return 0;
fail:
    free(s);
    cfg_free(cfg);
    return GH_ENOMEM;
}

int gh_server_update(gh_server_t *s, const gh_server_opts_t *opts)
{
    gh__server_cfg_t *cfg;
    int rc;

    if (!s || !opts)
        return GH_EINVAL;
    if (!(cfg = cfg_new(opts, &rc)))
        return rc;
    /* Sessions may still read the old block: it stays on the list. */
    cfg->older = atomic_load_explicit(&s->cfg, memory_order_relaxed);
    atomic_store_explicit(&s->cfg, cfg, memory_order_release);
    return 0;
}

/* ---- listeners ---- */

static void acceptor(void *arg);

/* Spawn l's acceptor; under s->lmu.  0 or GH_ENOMEM. */
static int acceptor_start(gh_server_t *s, gh__listener_t *l)
{
    gh_go_opts_t go = {.name = "http acceptor"};

    gh_waitgroup_add(&s->acceptors, 1);
    gh_waitgroup_add(&l->exited, 1);
    l->running = true;
    if (gh_go_with(acceptor, l, &go) >= 0)
        return 0;
    l->running = false;
    gh_waitgroup_add(&l->exited, -1);
    gh_waitgroup_add(&s->acceptors, -1);
    return GH_ENOMEM;
}

/* Room for one more listener in the table; under s->lmu. */
static int table_grow(gh_server_t *s)
{
    gh__listener_t **ls;
    int cap;

    if (s->nls < s->lcap)
        return 0;
    cap = s->lcap ? s->lcap * 2 : 4;
    if (!(ls = realloc(s->ls, (size_t)cap * sizeof(*ls))))
        return GH_ENOMEM;
    s->ls = ls;
    s->lcap = cap;
    return 0;
}

#define PP_TIMEOUT (5 * GH_SECOND)

/* lo's PROXY protocol settings as a block (*out NULL when off).  0 or
 * GH_E*. */
static int pp_cfg_new(const gh_listen_opts_t *lo, gh__pp_cfg_t **out)
{
    gh__pp_cfg_t *pc;
    int rc;

    *out = NULL;
    if (!lo || !lo->proxy_protocol)
        return 0;
    if (lo->proxy_protocol_timeout < 0)
        return GH_EINVAL;
    if (!(pc = calloc(1, sizeof(*pc))))
        return GH_ENOMEM;
    pc->timeout = lo->proxy_protocol_timeout ? lo->proxy_protocol_timeout
                                             : PP_TIMEOUT;
    if (lo->proxy_protocol_from &&
        (rc = gh_netlist_new(&pc->from, lo->proxy_protocol_from, NULL, 0))) {
        free(pc);
        return rc;
    }
    *out = pc;
    return 0;
}

static void pp_cfg_free_all(gh__pp_cfg_t *pc)
{
    gh__pp_cfg_t *older;

    for (; pc; pc = older) {
        older = pc->older;
        gh_netlist_free(pc->from);
        free(pc);
    }
}

/*
 * Add a listening socket, serving it at once if s runs.  Its index, or
 * GH_E*: then fd and path are still the caller's (a listener whose
 * acceptor could not start stays in the table, closed, so that indexes
 * never move).
 */
static int add_listener(gh_server_t *s, int fd, int family, char *path,
                        const gh_listen_opts_t *lo)
{
    gh__listener_t *l = calloc(1, sizeof(*l));
    gh__pp_cfg_t *pc;
    int i = GH_ENOMEM;

    if (!l)
        return GH_ENOMEM;
    if ((i = pp_cfg_new(lo, &pc)) < 0) {
        free(l);
        return i;
    }
    *l = (gh__listener_t){.fd = fd, .family = family, .unix_path = path,
                          .srv = s, .tls = lo ? lo->tls : NULL};
    atomic_init(&l->pp, pc);
    gh__lock(&s->lmu);
    if (atomic_load(&s->draining)) {
        i = GH_EINVAL; /* shutdown began: nothing new */
    } else if (table_grow(s) == 0) {
        i = s->nls;
        s->ls[s->nls++] = l;
        if (s->started && acceptor_start(s, l) < 0) {
            *l = (gh__listener_t){.fd = -1, .closed = true, .srv = s};
            atomic_init(&l->pp, pc); /* freed with the table */
            i = GH_ENOMEM;
        } else if (l->tls) {
            gh__tls_ref(l->tls);
        }
        l = NULL;
    }
    gh__unlock(&s->lmu);
    if (l)
        pp_cfg_free_all(pc);
    free(l);
    return i;
}

/* ---- listen addresses ---- */

/* A port: 1 to 5 digits, 0 to 65535.  getaddrinfo() would take "99999"
 * and bind 34463 (glibc keeps the low 16 bits). */
static bool port_ok(const char *p)
{
    size_t n = strspn(p, "0123456789");

    return n > 0 && n <= 5 && !p[n] && atol(p) <= 65535;
}

/* What is wrong with "unix:PATH", or NULL: the path and its NUL must fit
 * sun_path. */
static const char *unix_addr_problem(const char *path)
{
    if (!*path)
        return "expected a path after unix:";
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return "the unix: path is longer than 107 bytes";
    return NULL;
}

/* What is wrong with "[v6]:PORT", "HOST:PORT" or ":PORT", or NULL.  The
 * split is split_hostport()'s: at the ']', else at the last ':' (so a
 * bare IPv6 address still works). */
static const char *inet_addr_problem(const char *addr)
{
    const char *colon, *close = strchr(addr, ']');
    size_t hlen;

    if (addr[0] == '[') {
        if (!close)
            return "'[' without its ']'";
        if (close == addr + 1)
            return "expected an IPv6 address between [ and ]";
        if (memchr(addr + 1, '[', (size_t)(close - addr - 1)))
            return "a '[' inside [ and ]";
        if (close[1] != ':')
            return "expected :PORT after ']'";
        hlen = (size_t)(close - addr - 1);
        colon = close + 1;
    } else {
        if (close || strchr(addr, '['))
            return "a bracket out of place (write [IPv6]:PORT)";
        if (!(colon = strrchr(addr, ':')))
            return "expected HOST:PORT, [IPv6]:PORT, :PORT or unix:PATH";
        hlen = (size_t)(colon - addr);
    }
    if (hlen > 255)
        return "the host is longer than 255 bytes";
    if (!port_ok(colon + 1))
        return "the port must be a number from 0 to 65535";
    return NULL;
}

const char *gh_listen_addr_problem(const char *addr)
{
    if (!addr)
        return "no address";
    return strncmp(addr, "unix:", 5) == 0 ? unix_addr_problem(addr + 5)
                                          : inet_addr_problem(addr);
}

/* Split "host:port", "[v6]:port" or ":port", which
 * gh_listen_addr_problem() has passed, into host[256] and *port. */
static void split_hostport(const char *addr, char *host, const char **port)
{
    const char *colon;
    size_t hlen;

    if (addr[0] == '[') {
        colon = strchr(addr, ']') + 1;
        hlen = (size_t)(colon - addr - 2);
        addr++;
    } else {
        colon = strrchr(addr, ':');
        hlen = (size_t)(colon - addr);
    }
    memcpy(host, addr, hlen);
    host[hlen] = '\0';
    *port = colon + 1;
}

/* A Unix socket file's owner and mode, before anyone can connect. */
static int unix_perms(const char *path, const gh_listen_opts_t *lo)
{
    if (lo && lo->unix_chown && chown(path, lo->unix_uid, lo->unix_gid) < 0)
        return -1;
    if (lo && lo->unix_mode && chmod(path, lo->unix_mode & 07777) < 0)
        return -1;
    return 0;
}

/* Whether a server accepts on the socket file at path: 1 yes, 0 no (a
 * stale file), or GH_E* when it cannot be told (EMFILE, EACCES...): then
 * the file is left alone rather than taken from a server that may live. */
static int unix_alive(const char *path)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc;

    if (fd < 0)
        return -errno;
    strcpy(un.sun_path, path);
    if (connect(fd, (struct sockaddr *)&un, sizeof(un)) == 0 ||
        errno == EAGAIN) /* listening, its backlog full */
        rc = 1;
    else if (errno == ECONNREFUSED || errno == ENOENT)
        rc = 0;
    else
        rc = -errno;
    close(fd);
    return rc;
}

/* TCP_NOTSENT_LOWAT: without it a sendfile() of a large body queues all of
 * it at once, and the segments the window held back are sent when the
 * client's ACKs arrive, on the client's CPU (on loopback, in its recv()
 * call).  With a low mark the send parks and resumes as the queue drains,
 * and the server's thread does its own transmitting: wrk reads 1 MiB files
 * 1.5x faster on this 2-core machine.  Accepted sockets inherit it. */
#define NOTSENT_LOWAT_DEFAULT (16 * 1024)

static void set_notsent_lowat(int fd, int family, const gh_listen_opts_t *lo)
{
    int v = lo && lo->notsent_lowat ? lo->notsent_lowat
                                    : NOTSENT_LOWAT_DEFAULT;

    if (family != AF_INET && family != AF_INET6)
        return;
    if (v < 0)
        v = 0; /* the kernel's own: net.ipv4.tcp_notsent_lowat */
    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof(v));
}

static int listen_socket(const struct sockaddr *sa, socklen_t len,
                         const gh_listen_opts_t *lo, int defer_s)
{
    int one = 1, fd, rc;
    int backlog = lo && lo->backlog > 0 ? lo->backlog : 511;

    if ((fd = gh_socket(sa->sa_family, SOCK_STREAM, 0)) < 0)
        return fd;
    if (sa->sa_family != AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        /* Accepted sockets inherit it: no setsockopt per connection. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        set_notsent_lowat(fd, sa->sa_family, lo);
        /* Accept once the request's first bytes are in: the connection
         * goroutine's first read then finds them, with no wait. */
        setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s,
                   sizeof(defer_s));
        if (sa->sa_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (lo && lo->reuseport &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
            goto fail;
    }
    if (bind(fd, sa, len) < 0)
        goto fail;
    if (sa->sa_family == AF_UNIX) {
        const char *path = ((const struct sockaddr_un *)sa)->sun_path;
        if (unix_perms(path, lo) < 0 || listen(fd, backlog) < 0) {
            rc = -errno;
            unlink(path);
            close(fd);
            return rc;
        }
        return fd;
    }
    if (listen(fd, backlog) < 0)
        goto fail;
    return fd;
fail:
    rc = -errno;
    close(fd);
    return rc;
}

/* TCP_DEFER_ACCEPT's wait: the header timeout, in whole seconds. */
static int defer_seconds(gh_server_t *s)
{
    int64_t sec = gh__server_cfg(s)->o.header_timeout / GH_SECOND;

    return sec < 1 ? 1 : sec > 3600 ? 3600 : (int)sec;
}

static int listen_unix(gh_server_t *s, const char *path,
                       const gh_listen_opts_t *lo)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    struct stat st;
    char *copy;
    int fd, rc;

    if (!*path || strlen(path) >= sizeof(un.sun_path))
        return GH_EINVAL;
    strcpy(un.sun_path, path);
    /* A stale socket from an earlier run; never anything else, and
     * never one a running server accepts on. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        if ((rc = unix_alive(path)) != 0)
            return rc > 0 ? GH_EADDRINUSE : rc;
        unlink(path);
    }
    if ((fd = listen_socket((struct sockaddr *)&un, sizeof(un), lo, 0)) < 0)
        return fd;
    rc = GH_ENOMEM;
    if (!(copy = strdup(path)) ||
        (rc = add_listener(s, fd, AF_UNIX, copy, lo)) < 0) {
        free(copy);
        close(fd);
        unlink(path);
    }
    return rc;
}

static int listen_inet(gh_server_t *s, const char *addr,
                       const gh_listen_opts_t *lo)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res, *ai;
    char host[256];
    const char *port;
    int rc, first = GH_EINVAL;

    split_hostport(addr, host, &port);
    if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0)
        return GH_EINVAL;
    /* ":port" yields IPv4 and IPv6 wildcards: listen on both. */
    for (ai = res; ai; ai = ai->ai_next) {
        int fd = listen_socket(ai->ai_addr, ai->ai_addrlen, lo,
                               defer_seconds(s));
        if (fd < 0) {
            rc = fd;
        } else if ((rc = add_listener(s, fd, ai->ai_family, NULL, lo)) < 0) {
            close(fd);
        }
        if (first == GH_EINVAL || (first < 0 && rc >= 0))
            first = rc;
        if (host[0])
            break; /* a named host: its first address only */
    }
    freeaddrinfo(res);
    return first;
}

int gh_server_listen(gh_server_t *s, const char *addr,
                     const gh_listen_opts_t *opts)
{
    if (!s || gh_listen_addr_problem(addr) || atomic_load(&s->draining))
        return GH_EINVAL;
    if (strncmp(addr, "unix:", 5) == 0)
        return listen_unix(s, addr + 5, opts);
    return listen_inet(s, addr, opts);
}

int gh_server_listen_fd(gh_server_t *s, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int rc;

    if (!s || fd < 0 || atomic_load(&s->draining))
        return GH_EINVAL;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if ((rc = gh_set_nonblock(fd)) < 0)
        return rc;
    set_notsent_lowat(fd, ss.ss_family, NULL);
    return add_listener(s, fd, ss.ss_family, NULL, NULL);
}

int gh_server_listener_update(gh_server_t *s, int i,
                              const gh_listen_opts_t *opts)
{
    gh__listener_t *l = NULL;
    gh__pp_cfg_t *pc, *old;
    int rc;

    if (!s || !opts)
        return GH_EINVAL;
    if ((rc = pp_cfg_new(opts, &pc)) < 0)
        return rc;
    gh__lock(&s->lmu);
    if (i >= 0 && i < s->nls && !s->ls[i]->closed) {
        l = s->ls[i];
        gh__lock(&l->mu); /* the acceptor closes fd under it */
        if (l->fd >= 0)
            set_notsent_lowat(l->fd, l->family, opts);
        gh__unlock(&l->mu);
    }
    gh__unlock(&s->lmu);
    if (!l) {
        pp_cfg_free_all(pc);
        return GH_EINVAL;
    }
    /* Connections may point at the old block: it goes on the new one's
     * list (an "off" update gets an empty block to carry it). */
    old = atomic_load(&l->pp);
    if (!pc && old) {
        if (!(pc = calloc(1, sizeof(*pc))))
            return GH_ENOMEM;
        pc->timeout = -1; /* off */
    }
    if (pc)
        pc->older = old;
    atomic_store(&l->pp, pc);
    return 0;
}

int gh_server_listener_tls(gh_server_t *s, int i, gh_tls_t *tls)
{
    gh__listener_t *l = NULL;
    gh_tls_t *old = NULL;

    if (!s)
        return GH_EINVAL;
    if (tls)
        gh__tls_ref(tls);
    gh__lock(&s->lmu);
    if (i >= 0 && i < s->nls && !s->ls[i]->closed) {
        l = s->ls[i];
        /* The acceptor reads l->tls under l->mu as it starts a
         * connection: it sees the old context or the new one. */
        gh__lock(&l->mu);
        old = l->tls;
        l->tls = tls;
        gh__unlock(&l->mu);
    }
    gh__unlock(&s->lmu);
    gh_tls_free(l ? old : tls);
    return l ? 0 : GH_EINVAL;
}

int gh_server_addr(gh_server_t *s, int i, struct sockaddr_storage *ss,
                   socklen_t *len)
{
    gh__listener_t *l;
    int rc = GH_EINVAL;

    if (!s)
        return GH_EINVAL;
    gh__lock(&s->lmu);
    if (i >= 0 && i < s->nls && !(l = s->ls[i])->closed) {
        /* Under l->mu: its acceptor cannot close fd meanwhile. */
        gh__lock(&l->mu);
        *len = sizeof(*ss);
        if (l->fd >= 0)
            rc = getsockname(l->fd, (struct sockaddr *)ss, len) < 0 ? -errno
                                                                    : 0;
        gh__unlock(&l->mu);
    }
    gh__unlock(&s->lmu);
    return rc;
}

/* Wake l's acceptor (it sees `draining` or `stop` and ends).  A shared
 * socket must not be shut down: that would end it for the other process
 * too; its acceptor sees the flags at its next periodic check. */
static void listener_wake(gh__listener_t *l)
{
    gh__lock(&l->mu);
    if (l->fd >= 0 && !atomic_load(&l->shared))
        shutdown(l->fd, SHUT_RDWR);
    gh__unlock(&l->mu);
}

/* Listener i if it is open; under s->lmu. */
static gh__listener_t *listener_open(gh_server_t *s, int i)
{
    return i >= 0 && i < s->nls && !s->ls[i]->closed ? s->ls[i] : NULL;
}

int gh_server_listener_share(gh_server_t *s, int i)
{
    gh__listener_t *l;

    if (!s)
        return GH_EINVAL;
    gh__lock(&s->lmu);
    if ((l = listener_open(s, i)))
        atomic_store(&l->shared, true);
    gh__unlock(&s->lmu);
    return l ? 0 : GH_EINVAL;
}

int gh_server_listener_dup(gh_server_t *s, int i, int minfd)
{
    gh__listener_t *l;
    int fd = GH_EINVAL;

    if (!s || minfd < 0)
        return GH_EINVAL;
    gh__lock(&s->lmu);
    if ((l = listener_open(s, i))) {
        gh__lock(&l->mu);
        if (l->fd >= 0 && (fd = fcntl(l->fd, F_DUPFD_CLOEXEC, minfd)) < 0)
            fd = -errno;
        gh__unlock(&l->mu);
    }
    gh__unlock(&s->lmu);
    return fd;
}

int gh_server_listener_close(gh_server_t *s, int i)
{
    gh__listener_t *l = NULL;
    bool running = false;

    if (!s)
        return GH_EINVAL;
    gh__lock(&s->lmu);
    if (i >= 0 && i < s->nls && !s->ls[i]->closed) {
        l = s->ls[i];
        l->closed = true;
        if ((running = l->running)) {
            atomic_store(&l->stop, true);
            listener_wake(l);
        } else { /* never served: nobody else holds fd */
            close(l->fd);
            l->fd = -1;
            if (l->unix_path && !atomic_load(&l->shared))
                unlink(l->unix_path);
        }
    }
    gh__unlock(&s->lmu);
    if (!l)
        return GH_EINVAL;
    /* Return once the acceptor has closed the socket: the address may be
     * bound again at once (a reload that changes a listener's options). */
    if (running)
        gh_waitgroup_wait(&l->exited);
    return 0;
}

/* ---- connections ---- */

static void conn_link(gh_server_t *s, gh__conn_t *c)
{
    gh__lock(&s->mu);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    gh__unlock(&s->mu);
}

void gh__conn_release(gh__conn_t *c)
{
    gh_server_t *s = c->srv;

    gh__lock(&s->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->state = GH__CONN_CLOSED;
    gh__unlock(&s->mu);
    c->ops->close(c);
    atomic_fetch_sub(&s->conns_open, 1);
    free(c);
}

static int64_t spawn_conn(gh__conn_t *c)
{
    gh_go_opts_t go = {.stack_size = gh__server_cfg(c->srv)->o.stack_size};

    return gh_go_with(gh__conn_serve, c, &go);
}

/*
 * Start c's goroutine, or queue c if SPAWN_AHEAD goroutines are already
 * spawned and not yet running.  A poll that finds a thousand connections
 * ready would otherwise give each a stack at once; this way a few stacks,
 * still warm in the cache, take turns, and c waits no longer than the
 * goroutines ahead of it take to start (not to finish).
 */
static void conn_go(gh_server_t *s, gh__conn_t *c, bool idle)
{
    bool queue;

    gh__lock(&s->mu);
    if (idle)
        c->state = GH__CONN_ACTIVE;
    queue = s->unstarted >= SPAWN_AHEAD;
    if (queue) {
        /* Its loop would report c's socket again at every poll until a
         * goroutine reads it: the worker is told to poll less. */
        if ((c->qm = gh__cur_m()) != NULL)
            gh__poll_backlog(c->qm, 1);
        c->qnext = NULL;
        if (s->wq_tail)
            s->wq_tail->qnext = c;
        else
            s->wq_head = c;
        s->wq_tail = c;
    } else {
        s->unstarted++;
    }
    gh__unlock(&s->mu);
    if (!queue && spawn_conn(c) < 0) {
        gh__lock(&s->mu);
        s->unstarted--;
        gh__unlock(&s->mu);
        gh_log(GH_LOG_ERROR, "http: out of memory: closing a connection");
        gh__conn_release(c);
    }
}

void gh__conn_started(gh__conn_t *c)
{
    gh_server_t *s = c->srv;
    gh__conn_t *next;

    gh__lock(&s->mu);
    s->unstarted--;
    if ((next = s->wq_head) != NULL) {
        if (!(s->wq_head = next->qnext))
            s->wq_tail = NULL;
    }
    gh__unlock(&s->mu);
    if (next) {
        if (next->qm)
            gh__poll_backlog(next->qm, -1);
        conn_go(s, next, false);
    }
}

/* The idle watch fired (on the worker's g0): serve c on a new goroutine. */
static void idle_wake(gh__iowait_t *w, int result)
{
    gh__conn_t *c = w->data;
    gh_server_t *s = c->srv;

    atomic_fetch_sub(&s->conns_idle, 1);
    c->wake = result;
    conn_go(s, c, true);
}

bool gh__conn_idle(gh__conn_t *c)
{
    gh_server_t *s = c->srv;
    const gh__server_cfg_t *cfg;
    int64_t deadline;
    bool draining;
    int rc;

    /* Idle before the watch is armed: its callback may run at once on
     * this worker only after this goroutine has ended or parked.  The
     * draining flag is read under the list's lock: either shutdown's walk
     * of the list sees this connection idle, or this sees the flag. */
    gh__lock(&s->mu);
    if (!(draining = atomic_load(&s->draining)))
        c->state = GH__CONN_IDLE;
    gh__unlock(&s->mu);
    if (draining)
        return false;
    atomic_fetch_add(&s->conns_idle, 1);
    cfg = gh__server_cfg(s);
    /* A coarse clock (behind by a tick at most) for a timeout counted in
     * seconds: one clock read less per keep-alive request. */
    deadline = gh__now_coarse() + (c->fresh ? cfg->o.header_timeout
                                            : cfg->o.idle_timeout);
    c->watch.data = c;
    rc = gh__fdwatch_start(&c->watch, c->fd, GH_IO_READ, deadline, idle_wake,
                           GH__FDWATCH_KEEP);
    if (rc < 0) {
        gh__lock(&s->mu);
        c->state = GH__CONN_ACTIVE;
        gh__unlock(&s->mu);
        atomic_fetch_sub(&s->conns_idle, 1);
        return false;
    }
    return true;
}

/* A TLS listener's connection gets the listener's context now. */
static int conn_tls(gh__listener_t *l, gh__conn_t *c)
{
    int rc = 0;

    gh__lock(&l->mu);
    if (l->tls)
        rc = gh__tls_conn_attach(c, l->tls);
    gh__unlock(&l->mu);
    return rc;
}

static void conn_start(gh_server_t *s, gh__listener_t *l, int fd,
                       const struct sockaddr *sa, socklen_t len)
{
    const gh__pp_cfg_t *pc = atomic_load(&l->pp);

    gh__conn_t *c = calloc(1, sizeof(*c));

    if (c)
        c->ops = &gh__conn_tcp_ops;
    if (!c || conn_tls(l, c) < 0) {
        free(c);
        close(fd);
        return;
    }
    c->srv = s;
    c->fd = fd;
    c->fresh = true;
    c->wake = GH_IO_READ;
    c->pp = pc && pc->timeout >= 0 ? pc : NULL;
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        c->peer_len = len <= sizeof(c->peer) ? len : sizeof(c->peer);
        memcpy(&c->peer, sa, c->peer_len);
    } else {
        c->peer.sa.sa_family = sa->sa_family;
        c->peer_len = sizeof(sa_family_t);
    }
    atomic_fetch_add(&s->conns_open, 1);
    atomic_fetch_add(&s->conns_total, 1);
    conn_link(s, c);
    conn_go(s, c, false);
}

/* ---- the acceptor ---- */

typedef struct backoff {
    int64_t pause;      /* the next pause */
    int64_t logged;     /* when we last logged */
} backoff_t;

static void back_off(gh_server_t *s, backoff_t *b, const char *why)
{
    int64_t now = gh_now();

    if (b->pause == 0)
        b->pause = gh__server_cfg(s)->o.accept_backoff;
    if (now - b->logged >= GH_SECOND) {
        gh_log(GH_LOG_WARN, "http: accept paused: %s (%lld open connections)",
               why, (long long)atomic_load(&s->conns_open));
        b->logged = now;
    }
    atomic_fetch_add(&s->accept_pauses, 1);
    gh_sleep(b->pause);
    b->pause = b->pause * 2 > BACKOFF_MAX ? BACKOFF_MAX : b->pause * 2;
}

/* One accept4(2).  The descriptor, or -errno. */
static int accept_one(gh__listener_t *l, struct sockaddr_storage *ss,
                      socklen_t *len)
{
    int fd;

    *len = sizeof(*ss);
    fd = accept4(l->fd, (struct sockaddr *)ss, len,
                 SOCK_NONBLOCK | SOCK_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

/* Handle accept's error e.  False when the acceptor should stop. */
static bool accept_failed(gh_server_t *s, gh__listener_t *l, backoff_t *b,
                          int e)
{
    switch (-e) {
    case EAGAIN:
        /* Woken by shutdown(2), or by the deadline: a shared socket is
         * never shut down, so the flags are checked every LISTEN_RECHECK. */
        return gh__wait_fd_owned(l->fd, GH_IO_READ,
                                 gh_deadline_in(LISTEN_RECHECK)) != GH_ECLOSED;
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM: /* a firewall refused it */
        return true;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        back_off(s, b, gh_strerror(e));
        return true;
    case EINVAL: /* shut down */
        return !atomic_load(&s->draining) && !atomic_load(&l->stop);
    default:
        gh_log(GH_LOG_ERROR, "http: accept: %s", gh_strerror(e));
        back_off(s, b, gh_strerror(e));
        return true;
    }
}

static void acceptor(void *arg)
{
    gh__listener_t *l = arg;
    gh_server_t *s = l->srv;
    backoff_t b = {0, -GH_SECOND};
    struct sockaddr_storage ss;
    socklen_t len;
    int n = 0, fd;

    while (!atomic_load(&s->draining) && !atomic_load(&l->stop)) {
        if (atomic_load(&s->conns_open) >= gh__server_cfg(s)->o.max_conns) {
            back_off(s, &b, "connection limit reached");
            continue;
        }
        fd = accept_one(l, &ss, &len);
        if (fd >= 0) {
            b.pause = 0;
            conn_start(s, l, fd, (struct sockaddr *)&ss, len);
            if (++n % ACCEPT_BATCH == 0)
                gh_yield();
        } else if (!accept_failed(s, l, &b, fd)) {
            break;
        }
    }
    gh__lock(&l->mu);
    fd = l->fd;
    l->fd = -1;
    gh__unlock(&l->mu);
    gh_close(fd);
    if (l->unix_path && !atomic_load(&l->shared))
        unlink(l->unix_path);
    /* s->acceptors last: until then shutdown waits, so l is not freed. */
    gh_waitgroup_done(&l->exited);
    gh_waitgroup_done(&s->acceptors);
}

int gh_server_start(gh_server_t *s)
{
    int rc = GH_EINVAL, i;

    if (!s)
        return GH_EINVAL;
    gh__lock(&s->lmu);
    for (i = 0; i < s->nls && s->ls[i]->closed; i++)
        ;
    if (!s->started && !atomic_load(&s->draining) && i < s->nls) {
        s->started = true;
        for (rc = 0; i < s->nls && rc == 0; i++)
            if (!s->ls[i]->closed)
                rc = acceptor_start(s, s->ls[i]);
    }
    gh__unlock(&s->lmu);
    return rc;
}

/* ---- shutdown ---- */

/* shutdown(2) how on every connection in state (or all if state < 0). */
static void conns_shutdown(gh_server_t *s, int state, int how)
{
    gh__lock(&s->mu);
    for (gh__conn_t *c = s->conns; c; c = c->next)
        if (state < 0 || c->state == state)
            shutdown(c->fd, how);
    gh__unlock(&s->mu);
}

/* Wait until no connection is left or deadline passes.  True if none. */
static bool conns_wait(gh_server_t *s, int64_t deadline)
{
    while (atomic_load(&s->conns_open) > 0) {
        if (deadline != GH_FOREVER && gh_now() >= deadline)
            return false;
        gh_sleep(5 * GH_MILLISECOND);
    }
    return true;
}

void gh_server_set_ready(gh_server_t *s, bool ready)
{
    atomic_store(&s->not_ready, !ready);
}

int gh_server_shutdown(gh_server_t *s, int64_t deadline)
{
    if (!s)
        return GH_EINVAL;
    atomic_store(&s->not_ready, true);
    gh__lock(&s->lmu);
    atomic_store(&s->draining, true);
    for (int i = 0; i < s->nls; i++) {
        s->ls[i]->closed = true;
        if (s->ls[i]->running)
            listener_wake(s->ls[i]);
    }
    gh__unlock(&s->lmu);
    gh_waitgroup_wait(&s->acceptors);
    /* Idle connections wake up to the end of file and close themselves;
     * none turns idle from now on (gh__conn_idle). */
    conns_shutdown(s, GH__CONN_IDLE, SHUT_RD);
    if (conns_wait(s, deadline))
        return 0;
    gh_log(GH_LOG_WARN, "http: shutdown: grace period over, cutting %llu "
           "connections", (unsigned long long)atomic_load(&s->conns_open));
    gh_ctx_cancel(s->ctx);
    conns_shutdown(s, -1, SHUT_RDWR);
    conns_wait(s, GH_FOREVER);
    return GH_ETIMEDOUT;
}

void gh_server_free(gh_server_t *s)
{
    gh__server_cfg_t *cfg, *older;

    if (!s)
        return;
    for (int i = 0; i < s->nls; i++) {
        gh__listener_t *l = s->ls[i];
        if (l->fd >= 0) { /* never served */
            close(l->fd);
            if (l->unix_path && !atomic_load(&l->shared))
                unlink(l->unix_path);
        }
        free(l->unix_path);
        pp_cfg_free_all(atomic_load(&l->pp));
        gh_tls_free(l->tls);
        free(l);
    }
    free(s->ls);
    gh_ctx_cancel(s->ctx);
    gh_ctx_free(s->ctx);
    for (cfg = atomic_load(&s->cfg); cfg; cfg = older) {
        older = cfg->older;
        cfg_free(cfg);
    }
    free(s);
}

void gh_server_stats(gh_server_t *s, gh_server_stats_t *st)
{
    gh_rt_stats_t rt;

    st->conns_open = atomic_load(&s->conns_open);
    st->conns_idle = atomic_load(&s->conns_idle);
    st->conns_total = atomic_load(&s->conns_total);
    st->requests = atomic_load(&s->requests);
    for (int i = 0; i < 6; i++)
        st->status[i] = atomic_load(&s->status[i]);
    st->bytes_in = atomic_load(&s->bytes_in);
    st->bytes_out = atomic_load(&s->bytes_out);
    st->accept_pauses = atomic_load(&s->accept_pauses);
    st->timeouts = atomic_load(&s->timeouts);
    for (int i = 0; i < GH_LATENCY_BUCKETS; i++)
        st->latency[i] = atomic_load_explicit(&s->latency[i],
                                              memory_order_relaxed);
    st->latency_sum_ns = atomic_load(&s->latency_sum_ns);
    st->created = s->created;
    gh_rt_stats(&rt);
    st->goroutines = rt.goroutines;
}
