/*
 * stall.c - the stall watch: a report when one goroutine holds its worker.
 *
 * Scheduling is cooperative (rt.h).  A goroutine that computes for long
 * without gh_yield(), or that calls something blocking its thread (sleep(3),
 * a blocking read, a library's own network call) instead of going through
 * gh_blocking(), holds its worker: every other goroutine queued there, the
 * worker's timers and its sockets wait.  Go would preempt the goroutine, or
 * hand the blocked thread's work to another; C code cannot be preempted
 * safely, so the runtime does the next best thing and says which goroutine
 * it is and where it is stuck.
 *
 * A watcher thread looks at every worker four times per limit.  A worker
 * whose running goroutine is the same, and whose count of switches has not
 * moved, for the whole limit is held.  The watcher then asks that worker's
 * thread for a backtrace: it sets the worker's stall_ask and sends SIGURG
 * (ignored by default, so a stray one harms nothing; Go uses it for its own
 * preemption), and the handler, running on that thread in the middle of the
 * stuck goroutine, records the frames from the interrupted instruction up.
 * It also copies what the goroutine said it is doing (gh__doing_set(): the
 * HTTP server names the request whose handler runs).  The watcher logs a
 * warning with the goroutine's id, name, doing, start function, creator
 * and frames, once per stall, and a notice when the worker moves on.
 * A handler that does not answer within ANSWER_WAIT_MS (ThreadSanitizer
 * delays signals until the thread makes a call it intercepts, which a
 * spinning loop never does) leaves the report without frames.
 *
 * The watcher names the goroutine through gh__g_peek(), which finds the
 * record in the table of stacks before reading it: the pointer it took from
 * m->cur may be stale by then (a goroutine with a custom-size stack unmaps
 * it when it ends).
 *
 * stall_ask: IDLE -> ASKED (watcher) -> TAKING -> ANSWERED (handler) ->
 * IDLE (watcher).  A watcher that gives up moves ASKED back to IDLE; if the
 * handler got there first, the watcher waits the few microseconds until
 * ANSWERED.  A signal that finds no question (a late one, or somebody
 * else's SIGURG) goes to the handler that was installed before ours.
 */
#include "config.h"

#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include "internal.h"

#define STALL_SIGNAL SIGURG
#define LIMIT_DEFAULT GH_SECOND
#define LIMIT_MIN (10 * GH_MILLISECOND)
#define LIMIT_MAX GH_HOUR
#define ANSWER_WAIT_MS 100

enum { ASK_IDLE, ASK_ASKED, ASK_TAKING, ASK_ANSWERED };

/* -1 until the runtime starts and reads GH_STALL_MS; then 0 (off) or the
 * limit in ns.  Written under mu, which the watcher's sleep waits on. */
static int64_t limit_ns = -1;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
/* Re-initialised on CLOCK_MONOTONIC at the start, under mu. */
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct sigaction prev_urg;

static gh__m_t **wms;
static int wn;
_Atomic bool gh__stall_asleep; /* set under mu */
static _Atomic int64_t nreported;

/* What the watcher last saw of one worker. */
typedef struct watch {
    const gh__g_t *g;  /* m->cur */
    uint64_t switches; /* m->switches */
    int64_t since;     /* gh_now() when it first saw both as they are */
    bool reported;     /* this stall was reported */
    int64_t id;        /* ... for the goroutine with this id */
    char name[GH__NAME_MAX];
} watch_t;

static bool limit_ok(int64_t ns)
{
    return ns == 0 || (ns >= LIMIT_MIN && ns <= LIMIT_MAX);
}

int64_t gh_rt_stalls(void)
{
    return atomic_load_explicit(&nreported, memory_order_relaxed);
}

int gh_set_stall_limit(int64_t ns)
{
    if (!limit_ok(ns))
        return GH_EINVAL;
    pthread_mutex_lock(&mu);
    limit_ns = ns;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return 0;
}

/* ---- the worker's side: the signal handler ---- */

/* The instruction the signal interrupted, where the goroutine's frames
 * start (the ones before it are the handler's and the kernel's). */
static void *interrupted_pc(const void *uc)
{
#if defined(__x86_64__)
    return (void *)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (void *)((const ucontext_t *)uc)->uc_mcontext.pc;
#else
    (void)uc;
    return NULL;
#endif
}

static void chain(int sig, siginfo_t *si, void *uc)
{
    if (prev_urg.sa_flags & SA_SIGINFO) {
        if (prev_urg.sa_sigaction)
            prev_urg.sa_sigaction(sig, si, uc);
    } else if (prev_urg.sa_handler != SIG_DFL &&
               prev_urg.sa_handler != SIG_IGN) {
        prev_urg.sa_handler(sig);
    }
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    gh__m_t *m = gh__cur_m();
    int saved = errno, ask = ASK_ASKED, n, from = 0;
    gh__doing_fn doing;
    void *pc;

    if (!m || !atomic_compare_exchange_strong_explicit(
                  &m->stall_ask, &ask, ASK_TAKING, memory_order_acquire,
                  memory_order_relaxed)) {
        chain(sig, si, uc);
        errno = saved;
        return;
    }
    /* backtrace() was called once on the watcher's thread before any
     * question, so it does not load its unwinder (malloc) here. */
    n = backtrace(m->stall_pcs, GH__STALL_FRAMES);
    pc = interrupted_pc(uc);
    for (int i = 0; pc && i < n; i++)
        if (m->stall_pcs[i] == pc) {
            from = i;
            break;
        }
    memmove(m->stall_pcs, m->stall_pcs + from,
            (size_t)(n - from) * sizeof(void *));
    m->stall_n = n - from;
    m->stall_g = m->cur;
    m->stall_doing[0] = '\0';
    if ((doing = m->cur->doing)) {
        atomic_signal_fence(memory_order_seq_cst); /* gh__doing_set's order */
        doing(m->cur->doing_arg, m->stall_doing, sizeof(m->stall_doing));
    }
    atomic_store_explicit(&m->stall_ask, ASK_ANSWERED, memory_order_release);
    errno = saved;
}

void gh__stall_thread_init(void)
{
    sigset_t s;

    sigemptyset(&s);
    sigaddset(&s, STALL_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}

/* ---- the watcher ---- */

/* Ask m's thread for the frames of g, which has held m since it had made
 * switches switches; 0 frames if it does not answer in time or has moved
 * on. */
static int ask_frames(gh__m_t *m, const gh__g_t *g, uint64_t switches,
                      void **pcs, char *doing)
{
    struct timespec ms1 = {0, 1000000};
    int ask = ASK_ASKED, n = 0;

    atomic_store_explicit(&m->stall_ask, ASK_ASKED, memory_order_seq_cst);
    if (pthread_kill(m->thread, STALL_SIGNAL) == 0)
        for (int i = 0; i < ANSWER_WAIT_MS; i++) {
            if (atomic_load_explicit(&m->stall_ask, memory_order_acquire) ==
                ASK_ANSWERED)
                break;
            nanosleep(&ms1, NULL);
        }
    if (atomic_compare_exchange_strong_explicit(&m->stall_ask, &ask, ASK_IDLE,
                                                memory_order_acquire,
                                                memory_order_relaxed))
        return 0; /* no answer: a late signal finds no question */
    while (atomic_load_explicit(&m->stall_ask, memory_order_acquire) !=
           ASK_ANSWERED)
        sched_yield(); /* the handler is in backtrace() */
    if (m->stall_g == g &&
        atomic_load_explicit(&m->switches, memory_order_relaxed) == switches) {
        n = m->stall_n;
        memcpy(pcs, m->stall_pcs, (size_t)n * sizeof(void *));
        memcpy(doing, m->stall_doing, GH__STALL_DOING);
        doing[GH__STALL_DOING - 1] = '\0';
    }
    atomic_store_explicit(&m->stall_ask, ASK_IDLE, memory_order_release);
    return n;
}

/* "f+0x1c <- g+0x2b <- ...", cut (" ...") to fit len. */
static void fmt_frames(char *buf, size_t len, void *const *pcs, int n)
{
    size_t o = 0, room = len - sizeof(" ..."), add;
    char pc[256];

    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        /* The first is the interrupted instruction, the others return
         * addresses. */
        gh__describe_pc(pcs[i], pc, sizeof(pc),
                        GH__PC_BRIEF | (i ? 0 : GH__PC_EXACT));
        add = strlen(pc) + (i ? 4 : 0);
        if (o + add > room) {
            memcpy(buf + o, " ...", sizeof(" ..."));
            return;
        }
        snprintf(buf + o, len - o, "%s%s", i ? " <- " : "", pc);
        o += add;
    }
}

static void report(gh__m_t *m, watch_t *w, int64_t held)
{
    char fn_s[256] = "?", by_s[256] = "?", frames[1200], dur[32];
    char doing[GH__STALL_DOING] = "";
    void *pcs[GH__STALL_FRAMES];
    const void *creator = NULL;
    gh_go_fn fn = NULL;
    int n;

    if (!gh__g_peek(w->g, &w->id, w->name, &fn, &creator)) {
        w->id = 0; /* not in the table: named by its frames only */
        w->name[0] = '\0';
    }
    n = ask_frames(m, w->g, w->switches, pcs, doing);
    if (fn)
        gh__describe_pc((const void *)(uintptr_t)fn, fn_s, sizeof(fn_s),
                        GH__PC_BRIEF | GH__PC_EXACT);
    if (creator)
        gh__describe_pc(creator, by_s, sizeof(by_s), GH__PC_BRIEF);
    if (n)
        fmt_frames(frames, sizeof(frames), pcs, n);
    else
        snprintf(frames, sizeof(frames), "unknown (no answer to the signal)");
    gh__fmt_duration(dur, sizeof(dur), held);
    atomic_fetch_add_explicit(&nreported, 1, memory_order_relaxed);
    gh_log(GH_LOG_WARN,
           "worker %d: goroutine %lld%s%s%s%s%s%s has kept it for %s "
           "without switching, and its other goroutines, timers and sockets "
           "wait (a long loop should call gh_yield(), a call that blocks "
           "the thread belongs in gh_blocking()); started as %s by %s; "
           "stack: %s",
           m->id, (long long)w->id, w->name[0] ? " [" : "", w->name,
           w->name[0] ? "]" : "", doing[0] ? " (" : "", doing,
           doing[0] ? ")" : "", dur, fn_s, by_s, frames);
}

/* Look at worker m; true if it is running a goroutine. */
static bool look(gh__m_t *m, watch_t *w, int64_t now, int64_t limit)
{
    const gh__g_t *g = __atomic_load_n(&m->cur, __ATOMIC_RELAXED);
    uint64_t sw = atomic_load_explicit(&m->switches, memory_order_relaxed);
    char dur[32];

    if (g && g != &m->g0 && g == w->g && sw == w->switches) {
        if (!w->reported && now - w->since >= limit) {
            report(m, w, now - w->since);
            w->reported = true;
        }
        return true;
    }
    if (w->reported) {
        gh__fmt_duration(dur, sizeof(dur), now - w->since);
        gh_log(GH_LOG_NOTICE,
               "worker %d: goroutine %lld%s%s%s let go after about %s", m->id,
               (long long)w->id, w->name[0] ? " [" : "", w->name,
               w->name[0] ? "]" : "", dur);
    }
    *w = (watch_t){.g = g, .switches = sw, .since = now};
    return g && g != &m->g0;
}

void gh__stall_wake(void)
{
    pthread_mutex_lock(&mu);
    if (atomic_load(&gh__stall_asleep)) {
        atomic_store(&gh__stall_asleep, false);
        pthread_cond_signal(&cv);
    }
    pthread_mutex_unlock(&mu);
}

/* Under mu, after a look that found every worker idle: sleep until one
 * stops idling (or the limit changes), so that an idle process does not
 * wake up four times per limit.  The flag, then the idlers: a worker that
 * stops idling after the check sees the flag (both are sequentially
 * consistent) and wakes us. */
static void sleep_while_idle(void)
{
    atomic_store(&gh__stall_asleep, true);
    if (gh__workers_all_idle())
        pthread_cond_wait(&cv, &mu); /* woken early or not: look again */
    atomic_store(&gh__stall_asleep, false);
}

static void *watch_main(void *arg)
{
    watch_t *ws = calloc((size_t)wn, sizeof(*ws));
    void *warm[2];

    (void)arg;
    if (!ws) {
        gh_log(GH_LOG_ERROR, "stall watch: out of memory; not watching");
        return NULL;
    }
    (void)backtrace(warm, 2); /* loads the unwinder, outside any handler */
    pthread_mutex_lock(&mu);
    for (;;) {
        struct timespec ts;
        int64_t until, limit, now;
        bool busy;

        if (limit_ns <= 0) {
            pthread_cond_wait(&cv, &mu);
            continue;
        }
        until = gh_now() + limit_ns / 4;
        ts.tv_sec = (time_t)(until / GH_SECOND);
        ts.tv_nsec = (long)(until % GH_SECOND);
        if (pthread_cond_timedwait(&cv, &mu, &ts) != ETIMEDOUT)
            continue; /* a new limit: start over with it */
        limit = limit_ns;
        pthread_mutex_unlock(&mu);
        now = gh_now();
        busy = false;
        for (int i = 0; limit > 0 && i < wn; i++)
            busy |= look(wms[i], &ws[i], now, limit);
        pthread_mutex_lock(&mu);
        if (!busy && limit > 0)
            sleep_while_idle();
    }
    return NULL;
}

void gh__stall_start(gh__m_t **ms, int n)
{
    struct sigaction sa;
    pthread_condattr_t ca;
    pthread_t t;
    long env;

    wms = ms;
    wn = n;
    pthread_mutex_lock(&mu); /* gh_set_stall_limit signals cv under it */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* gh_now()'s clock */
    pthread_cond_init(&cv, &ca);
    pthread_condattr_destroy(&ca);
    if (limit_ns < 0) {
        env = gh__env_long("GH_STALL_MS", LIMIT_DEFAULT / GH_MILLISECOND, 0,
                           LIMIT_MAX / GH_MILLISECOND);
        if (!limit_ok(env * GH_MILLISECOND)) {
            gh_log(GH_LOG_WARN,
                   "ignoring GH_STALL_MS=%ld (0 for off, or "
                   "10 and more)",
                   env);
            env = LIMIT_DEFAULT / GH_MILLISECOND;
        }
        limit_ns = env * GH_MILLISECOND;
    }
    pthread_mutex_unlock(&mu);
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    sigaction(STALL_SIGNAL, &sa, &prev_urg);
    /* The caller blocked every signal: the watcher inherits that. */
    if (pthread_create(&t, NULL, watch_main, NULL) != 0) {
        gh_log(GH_LOG_WARN, "stall watch: cannot start its thread; "
                            "goroutines that hold a worker go unreported");
        return;
    }
    pthread_detach(t);
}
