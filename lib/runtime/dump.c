/*
 * dump.c - seeing inside: the table of all goroutine stacks, gh_dump(),
 * the SIGQUIT dump and the runtime counters.
 *
 * Every stack ever mapped is listed here (its record sits at the top of the
 * stack), live or cached; a dump walks the list and prints the records that
 * are not dead.  Records are read while their goroutines run, so a dump is a
 * best-effort snapshot, as Go's is without stopping the world.  The SIGQUIT
 * handler only writes a byte to a pipe; a helper thread does the dump.
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

static void fmt_duration(char *buf, size_t len, int64_t ns)
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

static int64_t wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * GH_SECOND + ts.tv_nsec;
}

static int dump_one(FILE *f, const gh__g_t *g, int64_t now)
{
    int st = atomic_load_explicit(&g->state, memory_order_relaxed);
    char what[64], dur[32], fbuf[32];
    Dl_info info;
    const char *fn;

    if (st == GH_G_DEAD)
        return 0;
    if (st == GH_G_WAITING) {
        int64_t since = atomic_load_explicit(&g->since, memory_order_relaxed);
        fmt_duration(dur, sizeof(dur), now - since);
        snprintf(what, sizeof(what), "%s, %s",
                 wait_name(atomic_load_explicit(&g->wait,
                                                    memory_order_relaxed)),
                 dur);
    } else
        snprintf(what, sizeof(what), "%s",
                 st == GH_G_RUNNING ? "running" : "runnable");
    if (dladdr((void *)(uintptr_t)g->fn, &info) && info.dli_sname)
        fn = info.dli_sname;
    else {
        snprintf(fbuf, sizeof(fbuf), "%p", (void *)(uintptr_t)g->fn);
        fn = fbuf;
    }
    fprintf(f, "goroutine %lld [%s]: \"%s\" started at %s\n",
            (long long)g->id, what, (g->flags & GH__G_NAMED) ? g->name : "",
            fn);
    return 1;
}

int gh_dump(int fd)
{
    int dfd = dup(fd), n = 0;
    FILE *f;
    int64_t now = wall_now();

    if (dfd < 0)
        return -errno;
    if (!(f = fdopen(dfd, "w"))) {
        close(dfd);
        return GH_ENOMEM;
    }
    pthread_mutex_lock(&allg_mu);
    for (size_t i = 0; i < allg_len; i++)
        n += dump_one(f, allg[i], now);
    pthread_mutex_unlock(&allg_mu);
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
