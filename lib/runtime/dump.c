/*
 * dump.c - seeing inside: the table of all goroutine stacks, gh_dump(),
 * the SIGQUIT dump and the runtime counters.
 *
 * Every stack ever mapped is listed here (its record sits at the top of the
 * stack), live or cached.  A walk (gh_rt_goroutines, and gh_dump on top of
 * it) copies the records that are not dead under the list's lock, which
 * keeps their stacks mapped, and reports them after letting go of it, so
 * that its callback may do anything.  Records are read while their
 * goroutines run, so a walk is a best-effort snapshot, as Go's is without
 * stopping the world.  The SIGQUIT handler only writes a byte to a pipe; a
 * helper thread does the dump.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static pthread_mutex_t allg_mu = PTHREAD_MUTEX_INITIALIZER;
static gh__g_t **allg;
static size_t allg_len, allg_cap;

void gh__allg_add(gh__g_t *g)
{
    pthread_mutex_lock(&allg_mu);
    if (allg_len == allg_cap) {
        size_t ncap = allg_cap ? allg_cap * 2 : 1024;
        gh__g_t **n = realloc(allg, ncap * sizeof(*n));
        if (!n) {
            /* The goroutine runs fine; it is only missing from dumps. */
            g->allg_idx = SIZE_MAX;
            pthread_mutex_unlock(&allg_mu);
            return;
        }
        allg = n;
        allg_cap = ncap;
    }
    g->allg_idx = allg_len;
    allg[allg_len++] = g;
    pthread_mutex_unlock(&allg_mu);
}

void gh__allg_del(gh__g_t *g)
{
    pthread_mutex_lock(&allg_mu);
    size_t i = g->allg_idx;
    if (i < allg_len && allg[i] == g) {
        allg[i] = allg[--allg_len];
        allg[i]->allg_idx = i;
    }
    pthread_mutex_unlock(&allg_mu);
}

static const char *const wait_names[GH__W_MAX] = {
    [GH__W_NONE] = "waiting",
    [GH__W_SLEEP] = "sleep",
    [GH__W_IO_READ] = "IO wait (read)",
    [GH__W_IO_WRITE] = "IO wait (write)",
    [GH__W_BLOCKING] = "blocking call",
    [GH__W_CLOSE] = "close wait",
    [GH__W_CHAN_RECV] = "chan receive",
    [GH__W_CHAN_SEND] = "chan send",
    [GH__W_SELECT] = "select",
    [GH__W_SYNC] = "sync wait",
};

static const char *wait_name(int wait)
{
    return wait >= 0 && wait < GH__W_MAX && wait_names[wait]
               ? wait_names[wait]
               : "waiting";
}

void gh__fmt_duration(char *buf, size_t len, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    if (ns < GH_SECOND)
        snprintf(buf, len, "%lldms", (long long)(ns / GH_MILLISECOND));
    else if (ns < GH_MINUTE)
        snprintf(buf, len, "%.1fs", (double)ns / (double)GH_SECOND);
    else
        snprintf(buf, len, "%lld minutes", (long long)(ns / GH_MINUTE));
}

/* ---- the walk: copy under the lock, report without it ---- */

/* What a walk keeps of one goroutine record. */
typedef struct g_snap {
    int64_t id;
    int64_t since;          /* gh_now() about when it parked */
    gh_go_fn fn;
    const void *creator; /* return address in gh_go()'s caller */
    int state, wait;
    char name[GH__NAME_MAX]; /* "" if unnamed */
} g_snap_t;

#if GH_SANITIZE_THREAD
#define GH__NO_TSAN __attribute__((no_sanitize("thread")))
#else
#define GH__NO_TSAN
#endif

/*
 * Copy g, which is live or may be.  The record's owner writes id, fn and
 * name without a lock when it starts a goroutine on a cached stack, so a
 * copy taken while that happens may mix two goroutines (or cut a name,
 * hence the terminator).  That is the price of not stopping the world, as
 * in Go's dumps; allg_mu (held by the caller) only keeps the stack mapped.
 * The deliberate race is hidden from TSan.  Returns false for a dead g.
 */
GH__NO_TSAN static bool snap_one(g_snap_t *s, const gh__g_t *g)
{
    s->state = atomic_load_explicit(&g->state, memory_order_acquire);
    if (s->state == GH_G_DEAD)
        return false;
    s->wait = atomic_load_explicit(&g->wait, memory_order_relaxed);
    s->since = atomic_load_explicit(&g->since, memory_order_relaxed);
    s->id = g->id;
    s->fn = g->fn;
    s->creator = g->creator;
    s->name[0] = '\0';
    if (g->flags & GH__G_NAMED)
        memcpy(s->name, g->name, sizeof(s->name));
    s->name[sizeof(s->name) - 1] = '\0';
    return true;
}

/* Copy every live record into a malloc'd array: *n of them. */
static int snapshot(g_snap_t **out, size_t *n)
{
    g_snap_t *snap;

    *n = 0;
    pthread_mutex_lock(&allg_mu);
    snap = malloc((allg_len ? allg_len : 1) * sizeof(*snap));
    for (size_t i = 0; snap && i < allg_len; i++)
        *n += snap_one(&snap[*n], allg[i]);
    pthread_mutex_unlock(&allg_mu);
    *out = snap;
    return snap ? 0 : GH_ENOMEM;
}

bool gh__g_peek(const gh__g_t *g, int64_t *id, char name[GH__NAME_MAX],
                gh_go_fn *fn, const void **creator)
{
    bool live = false;
    g_snap_t s;

    /* A linear search, so that g is not dereferenced before it is known
     * to be mapped: the stall watch's use is rare. */
    pthread_mutex_lock(&allg_mu);
    for (size_t i = 0; i < allg_len; i++)
        if (allg[i] == g) {
            live = snap_one(&s, g);
            break;
        }
    pthread_mutex_unlock(&allg_mu);
    if (!live)
        return false;
    *id = s.id;
    memcpy(name, s.name, GH__NAME_MAX);
    *fn = s.fn;
    *creator = s.creator;
    return true;
}

/* A few start functions resolved lately: most goroutines share a handful,
 * and dladdr() searches a symbol table. */
typedef struct sym_cache {
    struct {
        gh_go_fn fn;
        char name[96];
    } e[8];
    unsigned next;
} sym_cache_t;

static void resolve(gh_go_fn fn, char *buf, size_t len)
{
    Dl_info info;
    const char *obj;

    if (!dladdr((void *)(uintptr_t)fn, &info) || !info.dli_fname) {
        snprintf(buf, len, "%p", (void *)(uintptr_t)fn);
        return;
    }
    if (info.dli_sname && info.dli_saddr == (void *)(uintptr_t)fn) {
        snprintf(buf, len, "%s", info.dli_sname);
        return;
    }
    /* Not exported (static, or hidden in libgohttpd): an address that
     * addr2line -e OBJECT resolves. */
    obj = strrchr(info.dli_fname, '/');
    snprintf(buf, len, "%s+%#lx", obj ? obj + 1 : info.dli_fname,
             (unsigned long)((uintptr_t)fn - (uintptr_t)info.dli_fbase));
}

static const char *fn_name(sym_cache_t *c, gh_go_fn fn)
{
    unsigned n = sizeof(c->e) / sizeof(c->e[0]), i;

    for (i = 0; i < n; i++)
        if (c->e[i].fn == fn && c->e[i].name[0])
            return c->e[i].name;
    i = c->next++ % n;
    c->e[i].fn = fn;
    resolve(fn, c->e[i].name, sizeof(c->e[i].name));
    return c->e[i].name;
}

int gh_rt_goroutines(gh_rt_g_fn fn, void *udata)
{
    sym_cache_t cache = {0};
    int64_t now = gh_now(); /* since is on gh_now()'s clock */
    gh_rt_g_info_t info;
    g_snap_t *snap;
    size_t n;
    int rc;

    if ((rc = snapshot(&snap, &n)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const g_snap_t *s = &snap[i];
        bool parked = s->state == GH_G_WAITING;
        info = (gh_rt_g_info_t){
            .id = s->id, .name = s->name, .state = s->state,
            .wait = parked ? wait_name(s->wait) : NULL,
            .wait_ns = parked && now > s->since ? now - s->since : 0,
            .fn = (const void *)(uintptr_t)s->fn,
            .fn_name = fn_name(&cache, s->fn)};
        if ((rc = fn(udata, &info)) != 0)
            break;
    }
    free(snap);
    return rc != 0 ? rc : (int)n;
}

/* ---- gh_dump ---- */

static int dump_one(void *udata, const gh_rt_g_info_t *g)
{
    char what[64], dur[32];

    if (g->state == GH_G_WAITING) {
        gh__fmt_duration(dur, sizeof(dur), g->wait_ns);
        snprintf(what, sizeof(what), "%s, %s", g->wait, dur);
    } else
        snprintf(what, sizeof(what), "%s",
                 g->state == GH_G_RUNNING ? "running" : "runnable");
    fprintf(udata, "goroutine %lld [%s]: \"%s\" started at %s\n",
            (long long)g->id, what, g->name, g->fn_name);
    return 0;
}

/* The lines are written after the walk has let go of the lock: a slow fd
 * (a pipe nobody reads) never holds up goroutines starting. */
int gh_dump(int fd)
{
    int dfd = dup(fd), n;
    FILE *f;

    if (dfd < 0)
        return -errno;
    if (!(f = fdopen(dfd, "w"))) {
        close(dfd);
        return GH_ENOMEM;
    }
    n = gh_rt_goroutines(dump_one, f);
    if (n >= 0)
        fprintf(f, "%d goroutines\n", n);
    fclose(f);
    return n;
}

static void count_states(gh_rt_stats_t *st)
{
    pthread_mutex_lock(&allg_mu);
    for (size_t i = 0; i < allg_len; i++) {
        int s = atomic_load_explicit(&allg[i]->state, memory_order_relaxed);
        st->goroutines += s != GH_G_DEAD;
        st->runnable += s == GH_G_RUNNABLE;
        st->waiting += s == GH_G_WAITING;
    }
    pthread_mutex_unlock(&allg_mu);
}

void gh_rt_stats(gh_rt_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    st->workers = gh_workers();
    st->spawned = gh__spawned_total();
    st->stacks_mapped = atomic_load(&gh__stacks_mapped);
    st->stacks_guarded = atomic_load(&gh__stacks_guarded);
    st->stack_bytes = atomic_load(&gh__stack_bytes);
    st->blocking_threads = atomic_load(&gh__blocking_threads);
    count_states(st);
}

/* ---- SIGQUIT ---- */

static int quit_pipe[2] = {-1, -1};
static _Atomic int quit_fd = -1;
static struct sigaction prev_quit;
static bool quit_installed;
static pthread_mutex_t quit_mu = PTHREAD_MUTEX_INITIALIZER;

static void quit_handler(int sig)
{
    int e = errno;

    (void)!write(quit_pipe[1], "q", 1);
    errno = e;
    (void)sig;
}

static void *quit_main(void *unused)
{
    char c;

    for (;;) {
        ssize_t n = read(quit_pipe[0], &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        int fd = atomic_load(&quit_fd);
        if (fd >= 0) {
            static const char hdr[] = "SIGQUIT: goroutine dump\n";
            (void)!write(fd, hdr, sizeof(hdr) - 1);
            gh_dump(fd);
        }
    }
}

static int quit_start(void)
{
    pthread_t t;
    sigset_t old;
    int rc;

    if (quit_pipe[0] >= 0)
        return 0;
    if (pipe2(quit_pipe, O_CLOEXEC) != 0)
        return -errno;
    gh__block_signals(&old);
    rc = pthread_create(&t, NULL, quit_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -rc;
    pthread_detach(t);
    return 0;
}

int gh_dump_on_sigquit(int fd)
{
    struct sigaction sa;
    int rc = 0;

    pthread_mutex_lock(&quit_mu);
    if (fd < 0) {
        if (quit_installed)
            sigaction(SIGQUIT, &prev_quit, NULL);
        quit_installed = false;
        atomic_store(&quit_fd, -1);
        goto out;
    }
    if ((rc = quit_start()) < 0)
        goto out;
    atomic_store(&quit_fd, fd);
    if (!quit_installed) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = quit_handler;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGQUIT, &sa, &prev_quit) != 0) {
            rc = -errno;
            goto out;
        }
        quit_installed = true;
    }
out:
    pthread_mutex_unlock(&quit_mu);
    return rc;
}
