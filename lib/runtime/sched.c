/*
 * sched.c - the M:N scheduler: worker threads, run queues, work stealing,
 * parking and readying, spawning and exiting goroutines.
 *
 * Each worker (gh__m) runs its scheduler loop on its own thread stack ("g0")
 * and switches into goroutines.  Switching out of a goroutine goes straight
 * to the next runnable one when the worker's run queue has one, and through
 * g0 otherwise (or every 64th switch, more often while switches are slow,
 * so that g0 checks the global queue and, if 250 us have passed since the
 * last poll, polls the event loop and the timers: runnable goroutines
 * cannot starve I/O, and a non-blocking poll cannot starve the run queue).
 *
 * Run queues (Go's design).  A bounded ring per worker: only the owner pushes
 * at the tail; the owner and thieves take from the head with a CAS.  A full
 * ring spills half of itself to the global queue (a mutex-guarded ring of
 * pointers), which also receives goroutines readied by threads that are not
 * workers.  A goroutine that a channel or sync operation wakes goes to the
 * waker's "runnext" slot instead, if that is empty, and runs as soon as the
 * waker switches out (its stack still warm from the hand-over), but for
 * one pick in 16, when the ring goes first.  Unlike Go, a later wake-up
 * does not displace it but joins the ring: wake-ups run in the order they
 * happened, and a value passed down a pipeline travels to its end before
 * the source is resumed, visiting the stages in the order they were
 * created, which the CPU's prefetcher follows (a 10,000-stage prime sieve
 * ran 2.3 times as fast as when the source, woken last, took the slot).
 * Goroutines that a worker's timers ready (a sleep or a deadline is up) go
 * to its "lane", a locked list that the owner runs before the ring (but
 * for one pick in 16) and idle workers steal from: a wake-up must not wait
 * behind a long queue.
 *
 * Idle workers and wake-ups.  A worker that finds nothing to run (local,
 * global, its own poll, stealing) puts itself on the idle list, checks every
 * queue once more (closing the window in which work was added before it was
 * listed), and blocks in ev_run(EVRUN_ONCE): an idle runtime uses no CPU.
 * Whoever adds work calls wakep(): if some worker is idle and none is already
 * "spinning" (awake and looking for work), it pops one idle worker and wakes
 * it with ev_async_send.  A spinning worker that finds work wakes the next,
 * so parallelism ramps up without a thundering herd.
 *
 * The park/unpark race.  A goroutine that waits publishes itself (in a wait
 * queue, a pollfd slot, ...) under some lock L and then parks.  A waker on
 * another thread may take L and ready the goroutine at once, and must never
 * resume it before its registers are saved.  So gh__park() releases L only
 * after the switch, in the "post" hook that the next context runs first
 * thing after gh__ctx_switch returns.  The same hook puts a yielding
 * goroutine back on the run queue and frees an exited goroutine's stack:
 * both are only safe once nobody runs on that stack any more.  A runtime
 * with one worker is the exception: a thread that is not a worker readies
 * a goroutine onto the global queue, which only the worker drains, and
 * only from g0 or the next goroutine, so gh__park() releases L and
 * gh_yield() queues the goroutine before the switch, sparing the next
 * goroutine the indirect call.
 *
 * Threads that are not workers get a thread g: gh__park() blocks them on a
 * condition variable and gh__ready() signals it, so every wait queue in the
 * runtime serves goroutines and plain threads alike.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <ev.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "runtime/netpoll.h"

#if GH_SANITIZE_THREAD
#include <sanitizer/tsan_interface.h>
#endif

/* A busy worker reads the clock every POLL_EVERY switches at most (see
 * poll_if_due) and polls once POLL_INTERVAL has passed. */
#define POLL_EVERY 64
#define POLL_INTERVAL (250 * GH_MICROSECOND)
/* Where switches may be slow and poll_every has not measured them yet, the
 * clock is read within CHECK_SOON switches rather than POLL_EVERY: by a
 * goroutine that yields with nothing else to run, every CHECK_SOON yields,
 * and by a worker that just woke up (a divisor of POLL_EVERY). */
#define CHECK_SOON 8
/* A worker with more than POLL_BACKLOG goroutines queued only runs its
 * timers, and polls its sockets at least every POLL_MAX_DELAY. */
#define POLL_BACKLOG 32
#define POLL_MAX_DELAY (10 * GH_MILLISECOND)
#define SPIN_BEFORE_IDLE (20 * GH_MICROSECOND)
#define ID_BATCH 64
#define RUNNEXT_YIELD 16
#define LANE_SHARE 16
/* How long a thief leaves a busy worker's runnext alone (pause loops). */
#define RUNNEXT_GRACE 200

static gh__m_t **ms;
static int nworkers;
static int cfg_workers;
static bool cfg_stack_set; /* gh_set_stack_size was called */
static _Atomic int started;
static int start_err;
static pthread_once_t start_once = PTHREAD_ONCE_INIT;

/* initial-exec: a plain %fs-relative load instead of a __tls_get_addr call
 * on every switch; libgohttpd is linked at start-up, not dlopen'ed. */
#define GH__TLS __thread __attribute__((tls_model("initial-exec")))
GH__TLS gh__m_t *gh__tls_m; /* hidden: internal.h declares it */
static GH__TLS gh__g_t *tls_thread_g;
static pthread_key_t thread_g_key;

static _Atomic int64_t next_id = 1;
_Atomic int64_t gh__spawned;

/* Global run queue: a growable ring of pointers, so that taking a batch
 * never walks goroutine records (each on its own page). */
static pthread_mutex_t gq_mu = PTHREAD_MUTEX_INITIALIZER;
static gh__g_t **gq;          /* under gq_mu */
static size_t gq_cap, gq_first; /* under gq_mu */
static _Atomic int64_t gq_len; /* written under gq_mu; peeked without */

/* Idle workers. */
static pthread_mutex_t idle_mu = PTHREAD_MUTEX_INITIALIZER;
static gh__m_t *idle_list;
static _Atomic int nidle;
static _Atomic int nspinning;

__attribute__((noinline)) gh__m_t *gh__cur_m_call(void)
{
    gh__m_t *m = gh__tls_m;
    /* Keep the compiler from caching the TLS address across a switch. */
    __asm__ volatile("" ::: "memory");
    return m;
}

/* ---- thread g: how a thread that is not a worker waits ---- */

static void thread_g_free(void *p)
{
    gh__g_t *g = p;

    pthread_mutex_destroy(g->tmu);
    pthread_cond_destroy(g->tcond);
    free(g->tmu);
    free(g->tcond);
    free(g);
}

static void thread_g_key_init(void)
{
    (void)pthread_key_create(&thread_g_key, thread_g_free);
}

gh__g_t *gh__thread_g(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    gh__g_t *g = tls_thread_g;
    pthread_condattr_t ca;

    if (g)
        return g;
    pthread_once(&once, thread_g_key_init);
    g = calloc(1, sizeof(*g));
    if (g) {
        g->tmu = malloc(sizeof(*g->tmu));
        g->tcond = malloc(sizeof(*g->tcond));
    }
    if (!g || !g->tmu || !g->tcond)
        gh__fatal("out of memory creating a thread record");
    g->is_thread = true;
    g->flags = GH__G_THREAD;
    pthread_mutex_init(g->tmu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(g->tcond, &ca);
    pthread_condattr_destroy(&ca);
    tls_thread_g = g;
    (void)pthread_setspecific(thread_g_key, g);
    return g;
}

int gh__thread_park_until(void (*unlock)(void *), void *arg,
                          int64_t deadline, bool (*expire)(void *),
                          void *earg)
{
    gh__g_t *g = gh__thread_g();
    struct timespec ts = {
        .tv_sec = (time_t)(deadline / GH_SECOND),
        .tv_nsec = (long)(deadline % GH_SECOND),
    };
    int rc = 0;

    pthread_mutex_lock(g->tmu);
    g->woken = false;
    pthread_mutex_unlock(g->tmu);
    if (unlock)
        unlock(arg);
    pthread_mutex_lock(g->tmu);
    while (!g->woken) {
        if (deadline == GH_FOREVER) {
            pthread_cond_wait(g->tcond, g->tmu);
            continue;
        }
        if (pthread_cond_timedwait(g->tcond, g->tmu, &ts) != ETIMEDOUT)
            continue;
        /* The waker claims the wait before it readies us, under its own
         * lock: whoever claims first wins, and a lost claim means a
         * gh__ready() is on its way. */
        pthread_mutex_unlock(g->tmu);
        bool mine = expire(earg);
        pthread_mutex_lock(g->tmu);
        if (mine) {
            rc = GH_ETIMEDOUT;
            break;
        }
        deadline = GH_FOREVER;
    }
    pthread_mutex_unlock(g->tmu);
    return rc ? rc : g->park_result;
}

static int thread_park(void (*unlock)(void *), void *arg)
{
    return gh__thread_park_until(unlock, arg, GH_FOREVER, NULL, NULL);
}

/* ---- run queues ---- */

/* Make room for more entries; gq_mu held. */
static void gq_grow(size_t need)
{
    size_t len = (size_t)atomic_load_explicit(&gq_len, memory_order_relaxed);
    size_t ncap = gq_cap ? gq_cap : 1024;
    gh__g_t **n;

    while (ncap < need)
        ncap *= 2;
    if (!(n = malloc(ncap * sizeof(*n))))
        gh__fatal("out of memory growing the global run queue to %zu", ncap);
    for (size_t i = 0; i < len; i++)
        n[i] = gq[(gq_first + i) % gq_cap];
    free(gq);
    gq = n;
    gq_cap = ncap;
    gq_first = 0;
}

static void global_put_batch(gh__g_t *const *gs, size_t n)
{
    pthread_mutex_lock(&gq_mu);
    size_t len = (size_t)atomic_load_explicit(&gq_len, memory_order_relaxed);
    if (len + n > gq_cap)
        gq_grow(len + n);
    for (size_t i = 0; i < n; i++)
        gq[(gq_first + len + i) % gq_cap] = gs[i];
    atomic_store_explicit(&gq_len, (int64_t)(len + n), memory_order_release);
    pthread_mutex_unlock(&gq_mu);
}

/* Spill half of a full ring plus g to the global queue.  False if a thief
 * raced us; the caller then retries the fast path. */
static bool runq_spill(gh__m_t *m, gh__g_t *g, uint32_t h, uint32_t t)
{
    uint32_t n = (t - h) / 2;

    gh__g_t *batch[GH__RUNQ_SIZE / 2 + 1];
    for (uint32_t i = 0; i < n; i++)
        batch[i] = atomic_load_explicit(&m->rq[(h + i) % GH__RUNQ_SIZE],
                                        memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&m->rq_head, &h, h + n,
                                                 memory_order_release,
                                                 memory_order_relaxed))
        return false;
    batch[n] = g;
    global_put_batch(batch, n + 1);
    return true;
}

/* Push at the tail of m's ring (owner only); a full ring spills. */
static inline bool runq_push(gh__m_t *m, gh__g_t *g)
{
    uint32_t h = atomic_load_explicit(&m->rq_head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&m->rq_tail, memory_order_relaxed);

    if (t - h < GH__RUNQ_SIZE) {
        atomic_store_explicit(&m->rq[t % GH__RUNQ_SIZE], g,
                              memory_order_relaxed);
        atomic_store_explicit(&m->rq_tail, t + 1, memory_order_release);
        return true;
    }
    return runq_spill(m, g, h, t);
}

static __attribute__((noinline)) void runq_put_retry(gh__m_t *m, gh__g_t *g)
{
    while (!runq_push(m, g))
        ;
}

/* The ring push is a dozen instructions: keep the rare spill, and the
 * registers its loop needs saved, out of it. */
static inline void runq_put(gh__m_t *m, gh__g_t *g)
{
    if (!runq_push(m, g))
        runq_put_retry(m, g);
}

static gh__g_t *runq_get(gh__m_t *m)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&m->rq_head, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&m->rq_tail, memory_order_relaxed);
        if (t == h)
            return NULL;
        gh__g_t *g = atomic_load_explicit(&m->rq[h % GH__RUNQ_SIZE],
                                          memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&m->rq_head, &h, h + 1,
                                                  memory_order_release,
                                                  memory_order_relaxed))
            return g;
    }
}

static bool ring_empty(gh__m_t *m)
{
    return atomic_load_explicit(&m->rq_head, memory_order_acquire) ==
           atomic_load_explicit(&m->rq_tail, memory_order_acquire);
}

bool gh__runq_empty(gh__m_t *m)
{
    return ring_empty(m) &&
           !atomic_load_explicit(&m->runnext, memory_order_acquire) &&
           !atomic_load_explicit(&m->nlane, memory_order_relaxed);
}

static gh__g_t *take_runnext(gh__m_t *m)
{
    gh__g_t *g = atomic_load_explicit(&m->runnext, memory_order_relaxed);

    if (g && atomic_compare_exchange_strong_explicit(
                 &m->runnext, &g, NULL, memory_order_acq_rel,
                 memory_order_relaxed))
        return g;
    return NULL;
}

/* The only worker: nobody steals, so the head moves without a CAS (a
 * locked instruction on every switch). */
static gh__g_t *runq_get_alone(gh__m_t *m)
{
    uint32_t h = atomic_load_explicit(&m->rq_head, memory_order_relaxed);
    gh__g_t *g;

    if (h == atomic_load_explicit(&m->rq_tail, memory_order_relaxed))
        return NULL;
    g = atomic_load_explicit(&m->rq[h % GH__RUNQ_SIZE], memory_order_relaxed);
    atomic_store_explicit(&m->rq_head, h + 1, memory_order_relaxed);
    return g;
}

/* The only worker's runnext, taken with plain stores: only the owner
 * writes it (others merely peek). */
static gh__g_t *runnext_take_alone(gh__m_t *m)
{
    gh__g_t *g = atomic_load_explicit(&m->runnext, memory_order_relaxed);

    if (g)
        atomic_store_explicit(&m->runnext, NULL, memory_order_relaxed);
    return g;
}

/* Put g in m's empty runnext; false if it holds a goroutine already (or a
 * thief emptied it just now: rare, and the ring serves as well). */
static bool runnext_claim(gh__m_t *m, gh__g_t *g)
{
    gh__g_t *none = NULL;

    return !atomic_load_explicit(&m->runnext, memory_order_relaxed) &&
           atomic_compare_exchange_strong_explicit(
               &m->runnext, &none, g, memory_order_acq_rel,
               memory_order_relaxed);
}

/* ---- the timer lane ---- */

static void lane_put(gh__m_t *m, gh__g_t *g)
{
    g->next = NULL;
    gh__lock(&m->lane_lock);
    if (m->lane_tail)
        m->lane_tail->next = g;
    else
        m->lane = g;
    m->lane_tail = g;
    atomic_store_explicit(
        &m->nlane, atomic_load_explicit(&m->nlane, memory_order_relaxed) + 1,
        memory_order_relaxed);
    gh__unlock(&m->lane_lock);
}

/* Take up to max goroutines from the head of m's lane; return the first,
 * linked to the others by g->next (NULL-terminated). */
static gh__g_t *lane_take(gh__m_t *m, uint32_t max)
{
    gh__g_t *first, *last;
    uint32_t n;

    gh__lock(&m->lane_lock);
    n = atomic_load_explicit(&m->nlane, memory_order_relaxed);
    if (n > max)
        n = max;
    if (!(first = last = m->lane)) {
        gh__unlock(&m->lane_lock);
        return NULL;
    }
    for (uint32_t i = 1; i < n; i++)
        last = last->next;
    if (!(m->lane = last->next))
        m->lane_tail = NULL;
    last->next = NULL;
    atomic_store_explicit(
        &m->nlane, atomic_load_explicit(&m->nlane, memory_order_relaxed) - n,
        memory_order_relaxed);
    gh__unlock(&m->lane_lock);
    return first;
}

/* An idle thief takes half of a victim's lane: one to run, the rest into
 * its own (empty) ring. */
static gh__g_t *lane_steal(gh__m_t *thief, gh__m_t *victim)
{
    uint32_t n = atomic_load_explicit(&victim->nlane, memory_order_relaxed);
    gh__g_t *g, *rest;

    if (!n)
        return NULL;
    n -= n / 2;
    if (!(g = lane_take(victim, n < GH__RUNQ_SIZE ? n : GH__RUNQ_SIZE)))
        return NULL;
    for (rest = g->next; rest;) {
        gh__g_t *next = rest->next;
        runq_put(thief, rest);
        rest = next;
    }
    return g;
}

/* The owner's next goroutine from its queue: runnext, except every
 * RUNNEXT_YIELD-th time when the ring goes first, so that two goroutines
 * handing work to each other cannot starve the rest of the queue. */
static inline gh__g_t *queue_get(gh__m_t *m)
{
    gh__g_t *g;

    if (nworkers == 1) {
        if (!atomic_load_explicit(&m->runnext, memory_order_relaxed))
            return runq_get_alone(m);
        if (m->tick % RUNNEXT_YIELD == 0 && (g = runq_get_alone(m)))
            return g;
        return runnext_take_alone(m);
    }
    if (m->tick % RUNNEXT_YIELD != 0 && (g = take_runnext(m)))
        return g;
    if ((g = runq_get(m)))
        return g;
    return take_runnext(m);
}

/* The lane goes first, except every LANE_SHARE-th time: timers that keep
 * it full (many goroutines sleeping briefly in a loop) must not starve the
 * queue. */
static __attribute__((noinline)) gh__g_t *lane_get(gh__m_t *m)
{
    gh__g_t *g;

    if (++m->lane_picks % LANE_SHARE == 0 && (g = queue_get(m)))
        return g;
    g = lane_take(m, 1);
    return g ? g : queue_get(m);
}

/* The owner's next goroutine: what its timers readied, then its queue. */
static gh__g_t *local_get(gh__m_t *m)
{
    if (__builtin_expect(
            atomic_load_explicit(&m->nlane, memory_order_relaxed) != 0, 0))
        return lane_get(m);
    return queue_get(m);
}

/* Take a victim's runnext, after giving its owner a moment to run it
 * itself (it usually does within a microsecond, in a ping-pong), and only
 * if the owner did not switch meanwhile.  In a chain of hand-offs (a
 * ping-pong, a ring, a pipeline) runnext is full nearly all the time, with
 * a new goroutine at every switch: finding it full twice says nothing, and
 * taking it moved the whole chain to this worker's cold cache (a ring of
 * 1000 went from 90 to 250 ns a hop).  A worker that does not switch for
 * the whole grace is busy in one goroutine (or was descheduled): then the
 * goroutine is taken. */
static gh__g_t *steal_runnext(gh__m_t *victim)
{
    uint64_t ran;

    if (!atomic_load_explicit(&victim->runnext, memory_order_relaxed))
        return NULL;
    ran = atomic_load_explicit(&victim->switches, memory_order_relaxed);
    for (int i = 0; i < RUNNEXT_GRACE; i++)
        gh__cpu_relax();
    if (atomic_load_explicit(&victim->switches, memory_order_relaxed) != ran)
        return NULL;
    return take_runnext(victim);
}

/* Steal half of victim's ring into thief's (empty) ring; return one of
 * them to run now, or NULL. */
static gh__g_t *runq_steal(gh__m_t *thief, gh__m_t *victim)
{
    uint32_t tt = atomic_load_explicit(&thief->rq_tail, memory_order_relaxed);
    uint32_t n;

    for (;;) {
        uint32_t h =
            atomic_load_explicit(&victim->rq_head, memory_order_acquire);
        uint32_t t =
            atomic_load_explicit(&victim->rq_tail, memory_order_acquire);
        n = t - h;
        n -= n / 2;
        if (n == 0)
            return steal_runnext(victim);
        if (n > GH__RUNQ_SIZE / 2)
            continue; /* head and tail read at different times: retry */
        for (uint32_t i = 0; i < n; i++) {
            gh__g_t *g = atomic_load_explicit(
                &victim->rq[(h + i) % GH__RUNQ_SIZE], memory_order_relaxed);
            atomic_store_explicit(&thief->rq[(tt + i) % GH__RUNQ_SIZE], g,
                                  memory_order_relaxed);
        }
        if (atomic_compare_exchange_strong_explicit(&victim->rq_head, &h,
                                                    h + n,
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed))
            break;
    }
    /* Run the last one; publish the others in the thief's ring. */
    gh__g_t *g = atomic_load_explicit(&thief->rq[(tt + n - 1) % GH__RUNQ_SIZE],
                                      memory_order_relaxed);
    if (n > 1)
        atomic_store_explicit(&thief->rq_tail, tt + n - 1,
                              memory_order_release);
    return g;
}

/* Take a batch from the global queue: one to run, the rest into m's ring. */
static gh__g_t *global_get(gh__m_t *m)
{
    gh__g_t *batch[GH__RUNQ_SIZE / 2];
    int64_t n;

    if (atomic_load_explicit(&gq_len, memory_order_relaxed) == 0)
        return NULL;
    pthread_mutex_lock(&gq_mu);
    n = atomic_load_explicit(&gq_len, memory_order_relaxed);
    if (n > n / nworkers + 1)
        n = n / nworkers + 1;
    if (n > GH__RUNQ_SIZE / 2)
        n = GH__RUNQ_SIZE / 2;
    for (int64_t i = 0; i < n; i++)
        batch[i] = gq[(gq_first + (size_t)i) % gq_cap];
    if (n > 0) {
        gq_first = (gq_first + (size_t)n) % gq_cap;
        atomic_fetch_sub_explicit(&gq_len, n, memory_order_relaxed);
    }
    pthread_mutex_unlock(&gq_mu);
    for (int64_t i = 1; i < n; i++)
        runq_put(m, batch[i]);
    return n > 0 ? batch[0] : NULL;
}

/* ---- idle workers ---- */

static void idle_push(gh__m_t *m)
{
    pthread_mutex_lock(&idle_mu);
    m->idle = true;
    m->idle_next = idle_list;
    idle_list = m;
    atomic_fetch_add(&nidle, 1);
    pthread_mutex_unlock(&idle_mu);
}

/* Take m off the idle list if it is still there.  Returns m->spinning as
 * the waker left it (a worker woken by wakep() comes back spinning). */
static bool idle_remove(gh__m_t *m)
{
    bool spinning;

    pthread_mutex_lock(&idle_mu);
    if (m->idle) {
        gh__m_t **pp = &idle_list;
        while (*pp != m)
            pp = &(*pp)->idle_next;
        *pp = m->idle_next;
        m->idle = false;
        atomic_fetch_sub(&nidle, 1);
    }
    spinning = m->spinning;
    pthread_mutex_unlock(&idle_mu);
    gh__stall_awake();
    return spinning;
}

bool gh__workers_all_idle(void)
{
    return atomic_load(&nidle) == nworkers;
}

static void wakep(void)
{
    int zero = 0;
    gh__m_t *w;

    /* Dekker with idle_push + work_anywhere: our caller's queue store must
     * be visible before we read nidle, or an idler that was just listing
     * itself and we could both miss each other (x86 reorders a store with
     * a later load; a release store is a plain mov). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&nidle, memory_order_relaxed) == 0)
        return;
    if (atomic_load_explicit(&nspinning, memory_order_relaxed) != 0 ||
        !atomic_compare_exchange_strong(&nspinning, &zero, 1))
        return;
    pthread_mutex_lock(&idle_mu);
    w = idle_list;
    if (w) {
        idle_list = w->idle_next;
        w->idle = false;
        w->spinning = true;
        atomic_fetch_sub(&nidle, 1);
    }
    pthread_mutex_unlock(&idle_mu);
    if (!w) {
        atomic_fetch_sub(&nspinning, 1);
        return;
    }
    ev_async_send(w->loop, (ev_async *)w->wake);
}

/* A spinning worker found work: stop spinning, and wake another in case
 * there is more. */
static void stop_spinning(gh__m_t *m)
{
    if (!m->spinning)
        return;
    pthread_mutex_lock(&idle_mu);
    m->spinning = false;
    pthread_mutex_unlock(&idle_mu);
    if (atomic_fetch_sub(&nspinning, 1) == 1)
        wakep();
}

/* ---- switching ---- */

static void after_switch(gh__g_t *self)
{
#if GH_SANITIZE_ADDRESS
    gh__switch_done(self);
#endif
    gh__m_t *m = gh__cur_m();
    if (m->post_fn) {
        void (*fn)(gh__m_t *, void *) = m->post_fn;
        m->post_fn = NULL;
        fn(m, m->post_arg);
    }
}

/* For gh_rt_worker_stats: the owner alone writes, so a plain load and
 * store (no locked add) suffice; a switch to g0 is not a goroutine run. */
static inline void count_switch(gh__m_t *m, const gh__g_t *to)
{
    atomic_store_explicit(
        &m->switches,
        atomic_load_explicit(&m->switches, memory_order_relaxed) +
            (to != &m->g0),
        memory_order_relaxed);
}

/* gh__switch (coro.c): the canary check and the sanitizers' view of the
 * switch; in a plain build only a canary stack needs the call. */
static inline void switch_hook(gh__g_t *from, gh__g_t *to, bool dying)
{
#if GH_SANITIZE_ADDRESS || GH_SANITIZE_THREAD
    gh__switch(from, to, dying);
#else
    if (from->flags & GH__G_CANARY)
        gh__switch(from, to, dying);
#endif
}

static inline __attribute__((always_inline)) void
switch_to(gh__m_t *m, gh__g_t *from, gh__g_t *to, bool dying)
{
    gh__set_cur(m, to);
    count_switch(m, to);
    atomic_store_explicit(&to->state, GH_G_RUNNING, memory_order_relaxed);
    switch_hook(from, to, dying);
    gh__ctx_switch(&from->ctx, &to->ctx);
    gh__canary_prefetch(from); /* running again: from is us */
    after_switch(from);
}

/* Where a goroutine that stops running goes next: a runnable goroutine from
 * the local ring, or g0 when the ring is empty or it is time to poll. */
static gh__g_t *next_to_run(gh__m_t *m)
{
    gh__g_t *g;

    if ((++m->tick % POLL_EVERY) != 0 && (g = local_get(m)))
        return g;
    return &m->g0;
}

static void post_requeue(gh__m_t *m, void *arg)
{
    runq_put(m, arg);
}

struct park_post {
    void (*unlock)(void *);
    void *arg;
};

static void post_park(gh__m_t *m, void *p)
{
    struct park_post *pp = p;
    void (*unlock)(void *) = pp->unlock;
    void *arg = pp->arg;

    /* After unlock the goroutine may run elsewhere: pp is gone. */
    if (unlock)
        unlock(arg);
}

static void post_exit(gh__m_t *m, void *arg)
{
#if GH_SANITIZE_THREAD
    gh__tsan_g_fini(arg);
#endif
    gh__g_release(m, arg);
}

static int64_t wall_ns(gh__m_t *m)
{
    return (int64_t)(ev_now(m->loop) * 1e9);
}

int gh__park(enum gh__wait why, void (*unlock)(void *), void *arg)
{
    gh__m_t *m = gh__cur_m();
    struct park_post pp = {unlock, arg};
    gh__g_t *g;

    if (!m || m->cur == &m->g0)
        return thread_park(unlock, arg);
    g = m->cur;
    g->park_result = 0;
    atomic_store_explicit(&g->wait, why, memory_order_relaxed);
    /* The time of the worker's last poll: what gh_dump() needs (how long
     * a goroutine has been waiting, in ms) without a clock read or a
     * call into libev on every park. */
    atomic_store_explicit(&g->since, m->last_poll, memory_order_relaxed);
    atomic_store_explicit(&g->state, GH_G_WAITING, memory_order_relaxed);
    if (nworkers == 1) {
        /* The only worker: whoever else readies g queues it for us, so
         * nobody resumes it before the switch (see the header). */
        if (unlock)
            unlock(arg);
    } else {
        m->post_fn = post_park;
        m->post_arg = &pp;
    }
    switch_to(m, g, next_to_run(m), false);
    atomic_store_explicit(&g->wait, GH__W_NONE, memory_order_relaxed);
    return g->park_result;
}

/* Make goroutine g runnable from a thread whose worker (or NULL) is m. */
static void ready_on(gh__m_t *m, gh__g_t *g, bool next)
{
    atomic_store_explicit(&g->state, GH_G_RUNNABLE, memory_order_relaxed);
    if (m) {
        if (m->firing) {
            lane_put(m, g);
            if (nworkers > 1)
                wakep();
            return;
        }
        if (nworkers == 1) { /* awake, and nobody steals */
            if (next && !atomic_load_explicit(&m->runnext,
                                              memory_order_relaxed))
                atomic_store_explicit(&m->runnext, g, memory_order_relaxed);
            else
                runq_put(m, g);
            return;
        }
        if (!next || !runnext_claim(m, g))
            runq_put(m, g);
    } else {
        global_put_batch(&g, 1);
    }
    wakep();
}

static inline void ready(gh__g_t *g, int result, bool next)
{
    g->park_result = result;
    if (g->flags & GH__G_THREAD) {
        pthread_mutex_lock(g->tmu);
        g->woken = true;
        pthread_cond_signal(g->tcond);
        pthread_mutex_unlock(g->tmu);
        return;
    }
    ready_on(gh__cur_m(), g, next);
}

void gh__ready(gh__g_t *g, int result)
{
    ready(g, result, true);
}

void gh__ready_queued(gh__g_t *g, int result)
{
    ready(g, result, false);
}

void gh_yield(void)
{
    gh__m_t *m = gh__cur_m();
    gh__g_t *g, *next;

    if (!m || m->cur == &m->g0) {
        sched_yield();
        return;
    }
    g = m->cur;
    next = next_to_run(m);
    if (next == &m->g0 && m->tick % POLL_EVERY != 0 &&
        atomic_load_explicit(&gq_len, memory_order_relaxed) == 0) {
        /* Nothing else wants this worker, but its sockets and timers may:
         * a loop that yields every few milliseconds would look at them
         * only every POLL_EVERY yields until poll_every adapts.  Every
         * CHECK_SOON yields, see whether a poll is due. */
        if (m->tick % CHECK_SOON != 0 ||
            gh_now() - m->last_check < POLL_INTERVAL)
            return;
        m->tick += POLL_EVERY - m->tick % POLL_EVERY; /* g0 polls */
    }
    atomic_store_explicit(&g->state, GH_G_RUNNABLE, memory_order_relaxed);
    if (nworkers == 1 && next != &m->g0) {
        /* Nobody steals from the only worker, and it takes nothing from
         * its queue before next runs: g may queue before its registers
         * are saved, sparing next the indirect call of a post_fn. */
        runq_put(m, g);
    } else {
        m->post_fn = post_requeue;
        m->post_arg = g;
    }
    switch_to(m, g, next, false);
}

/* ---- goroutine life ---- */

GH__NORETURN static void g_exit(gh__g_t *g)
{
    gh__m_t *m = gh__cur_m();
    gh__g_t *to = next_to_run(m);

    assert(!g->defers && !g->frame && !g->panic);
    m->post_fn = post_exit;
    m->post_arg = g;
    atomic_store_explicit(&g->state, GH_G_DEAD, memory_order_relaxed);
    gh__set_cur(m, to);
    count_switch(m, to);
    atomic_store_explicit(&to->state, GH_G_RUNNING, memory_order_relaxed);
    switch_hook(g, to, true);
    gh__ctx_jump(&to->ctx); /* nothing of g needs saving */
}

void gh__g_exit_current(void)
{
    gh__m_t *m = gh__cur_m();

    if (!m || m->cur == &m->g0)
        gh__fatal("gh__g_exit_current outside a goroutine");
    g_exit(m->cur);
}

static void g_main(void *p)
{
    gh__g_t *g = p;

    after_switch(NULL);
    g->fn(g->arg);
    if (GH__UNLIKELY(g->defers != NULL))
        gh__defers_run_exit(g);
    g_exit(g);
}

/* Ids come from a shared counter in blocks, so that a worker spawning in a
 * loop does not pay a locked add per goroutine. */
static int64_t new_id(gh__m_t *m)
{
    if (!m)
        return atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
    if (m->id_next == m->id_end) {
        m->id_next = atomic_fetch_add_explicit(&next_id, ID_BATCH,
                                               memory_order_relaxed);
        m->id_end = m->id_next + ID_BATCH;
    }
    return m->id_next++;
}

/* Goroutines started so far, for gh_rt_stats. */
static void count_spawn(gh__m_t *m)
{
    if (m)
        atomic_store_explicit(&m->spawned,
                              atomic_load_explicit(&m->spawned,
                                                   memory_order_relaxed) + 1,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&gh__spawned, 1, memory_order_relaxed);
}

int64_t gh__spawned_total(void)
{
    int64_t n = atomic_load(&gh__spawned);

    for (int i = 0; i < nworkers; i++)
        n += atomic_load_explicit(&ms[i]->spawned, memory_order_relaxed);
    return n;
}

/* creator: the return address in the caller of gh_go, for panic reports. */
static inline __attribute__((always_inline)) int64_t
go_with(gh_go_fn fn, void *arg, const gh_go_opts_t *opts, const void *creator)
{
    size_t ss = opts ? opts->stack_size : 0;
    gh__m_t *m;
    gh__g_t *g;
    int rc;

    if (!fn || (ss && (ss < 16 * 1024 || ss > ((size_t)1 << 30))))
        return GH_EINVAL;
    if (GH__UNLIKELY(!atomic_load_explicit(&started, memory_order_acquire)) &&
        (rc = gh__rt_start()) < 0)
        return rc;
    m = gh__cur_m();
    g = gh__g_alloc(m, ss);
    if (!g)
        return GH_ENOMEM;
    g->id = new_id(m);
    g->fn = fn;
    g->arg = arg;
    g->next = NULL;
    g->park_result = 0;
    /* defers, frame and panic are NULL: zero on a fresh stack, and a
     * goroutine only ends with them empty (g_exit asserts it). */
    g->creator = creator;
    g->doing = NULL;
    g->flags &= ~(unsigned)GH__G_NAMED;
    atomic_store_explicit(&g->wait, GH__W_NONE, memory_order_relaxed);
    if (opts && opts->name) {
        strncpy(g->name, opts->name, GH__NAME_MAX - 1);
        g->name[GH__NAME_MAX - 1] = '\0';
        g->flags |= GH__G_NAMED;
    }
#if GH_SANITIZE_ADDRESS
    g->asan_fake = NULL;
#endif
#if GH_SANITIZE_THREAD
    gh__tsan_g_init(g);
#endif
    gh__g_prepare(g, g_main);
    count_spawn(m);
    int64_t id = g->id; /* g may run and end before ready_on returns */
    ready_on(m, g, false);
    return id;
}

int64_t gh_go_with(gh_go_fn fn, void *arg, const gh_go_opts_t *opts)
{
    return go_with(fn, arg, opts, __builtin_return_address(0));
}

int64_t gh_go(gh_go_fn fn, void *arg)
{
    return go_with(fn, arg, NULL, __builtin_return_address(0));
}

int64_t gh_self_id(void)
{
    gh__m_t *m = gh__cur_m();

    return (m && m->cur != &m->g0) ? m->cur->id : 0;
}

const char *gh_self_name(void)
{
    gh__m_t *m = gh__cur_m();

    if (!m || m->cur == &m->g0)
        return NULL;
    return (m->cur->flags & GH__G_NAMED) ? m->cur->name : "";
}

int gh_in_goroutine(void)
{
    gh__m_t *m = gh__cur_m();

    return m && m->cur != &m->g0;
}

/* ---- the scheduler loop (g0) ---- */

#define TRIM_KEEP 64

static void trim_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    gh__m_t *m = t->data;

    m->last_trim = wall_ns(m);
    gh__stack_scavenge();
}

/* Memory shrinks after a burst: an idle worker keeps TRIM_KEEP warm stacks,
 * moves the rest to the shared warm list, and wakes the scavenger thread to
 * return that list to the OS, at most once a second (a deferred timer
 * catches a worker that goes idle for good just after a kick). */
static void idle_trim(gh__m_t *m)
{
    ev_timer *t = m->trim_timer;
    int64_t now;

    gh__stack_spill(m, TRIM_KEEP);
    if (!gh__stack_warm_pending() || ev_is_active(t))
        return;
    now = wall_ns(m);
    if (now - m->last_trim >= GH_SECOND) {
        trim_cb(m->loop, t, 0);
        return;
    }
    ev_timer_set(t, (double)(GH_SECOND - (now - m->last_trim)) / 1e9, 0.);
    ev_timer_start(m->loop, t);
}

/* Fire m's due timers; what they ready goes first in line. */
static void run_timers(gh__m_t *m)
{
    m->firing = true;
    gh__timers_run(m);
    m->firing = false;
}

static void poll_nowait(gh__m_t *m)
{
    m->last_poll = m->last_check = gh_now();
    ev_run(m->loop, EVRUN_NOWAIT);
    run_timers(m);
}

/* The periodic poll of a busy worker: every poll_every switches, but a
 * system call only once POLL_INTERVAL has passed since the last one, so
 * that short goroutines switching fast do not pay epoll_wait every time.
 * Slow switches (fresh stacks faulting in, long goroutines) shrink
 * poll_every so that the clock is read about every POLL_INTERVAL; fast
 * ones double it back up to POLL_EVERY (a poll restarts the measure, so
 * time spent idle does not count as slow switches).  The switch path only
 * tests tick % POLL_EVERY: a shorter count moves tick forward instead. */
static void poll_if_due(gh__m_t *m)
{
    int64_t now = gh_now(), since = now - m->last_poll;
    int64_t gap = now - m->last_check;
    int64_t queued;

    m->last_check = now;
    if (gap > POLL_INTERVAL) /* as many switches as fit the interval */
        m->poll_every =
            (uint32_t)((int64_t)m->poll_every * POLL_INTERVAL / gap + 1);
    else if (gap < POLL_INTERVAL / 4 && m->poll_every < POLL_EVERY)
        m->poll_every = m->poll_every * 2 < POLL_EVERY ? m->poll_every * 2
                                                       : POLL_EVERY;
    if (m->poll_every < POLL_EVERY) /* the next multiple of POLL_EVERY */
        m->tick = m->tick / POLL_EVERY * POLL_EVERY + POLL_EVERY -
                  m->poll_every;
    queued =
        (int64_t)(atomic_load_explicit(&m->rq_tail, memory_order_relaxed) -
                  atomic_load_explicit(&m->rq_head, memory_order_relaxed)) +
        atomic_load_explicit(&m->io_backlog, memory_order_relaxed);

    if (since < POLL_INTERVAL)
        return;
    /* A long queue is mostly goroutines the last poll readied: polling
     * again only makes libev report their sockets (level-triggered) once
     * more before they had a chance to read them. */
    if (queued > POLL_BACKLOG && since < POLL_MAX_DELAY) {
        run_timers(m);
        return;
    }
    poll_nowait(m);
}

/* A worker that idled for a while knows nothing of how fast what it runs
 * next will switch: two goroutines computing a millisecond between yields
 * would go 64 ms before the first poll.  Look within CHECK_SOON switches;
 * fast ones double poll_every back up.  (Not after the brief waits of a
 * ping-pong between workers: there it slowed a round trip by a third.) */
static void check_soon(gh__m_t *m)
{
    if (m->poll_every > CHECK_SOON) {
        m->poll_every = CHECK_SOON;
        m->tick = m->tick / POLL_EVERY * POLL_EVERY + POLL_EVERY - CHECK_SOON;
    }
}

void gh__poll_backlog(gh__m_t *m, int delta)
{
    atomic_fetch_add_explicit(&m->io_backlog, delta, memory_order_relaxed);
}

static gh__g_t *steal_work(gh__m_t *m)
{
    for (int round = 0; round < 2; round++) {
        uint32_t start = (m->rand = m->rand * 1103515245u + 12345u) >> 8;
        for (int i = 0; i < nworkers; i++) {
            gh__m_t *v = ms[(start + (uint32_t)i) % (uint32_t)nworkers];
            gh__g_t *g;
            if (v != m && ((g = lane_steal(m, v)) || (g = runq_steal(m, v))))
                return g;
        }
        gh__g_t *g = global_get(m);
        if (g)
            return g;
    }
    return NULL;
}

static bool work_anywhere(void)
{
    if (atomic_load(&gq_len) > 0)
        return true;
    for (int i = 0; i < nworkers; i++)
        if (!gh__runq_empty(ms[i]))
            return true;
    return false;
}

/*
 * Before a worker blocks, it polls for a short while.  Goroutines that
 * talk to each other across workers (a socket ping-pong, a request handed
 * to a backend goroutine) hand work back within microseconds, and waking a
 * thread out of epoll_wait costs more than that.  Bounded, and spent only
 * right after the worker ran something, so an idle process still sleeps.
 */
static gh__g_t *spin_poll(gh__m_t *m)
{
    int64_t until = gh_now() + SPIN_BEFORE_IDLE;
    gh__g_t *g;

    do {
        poll_nowait(m);
        if ((g = local_get(m)) || (g = global_get(m)) || (g = steal_work(m)))
            return g;
    } while (gh_now() < until);
    return NULL;
}

/* Find a goroutine to run, blocking in the event loop when there is none.
 * Runs on g0 only. */
static gh__g_t *find_runnable(gh__m_t *m)
{
    gh__g_t *g;
    int64_t now;

    if (m->tick % POLL_EVERY == 0) {
        m->tick++;
        poll_if_due(m);
        if ((g = global_get(m)))
            goto found;
    }
    for (;;) {
        if ((g = local_get(m)) || (g = global_get(m)))
            goto found;
        poll_nowait(m);
        if ((g = local_get(m)))
            goto found;
        if (!m->spinning && 2 * atomic_load(&nspinning) <
                                nworkers - atomic_load(&nidle)) {
            pthread_mutex_lock(&idle_mu);
            m->spinning = true;
            pthread_mutex_unlock(&idle_mu);
            atomic_fetch_add(&nspinning, 1);
        }
        if (m->spinning && (g = steal_work(m)))
            goto found;
        if (m->spinning) {
            pthread_mutex_lock(&idle_mu);
            m->spinning = false;
            pthread_mutex_unlock(&idle_mu);
            atomic_fetch_sub(&nspinning, 1);
        }
        /* Alone, no other worker can hand work back: only the loop
         * can, and blocking in it costs no more than polling it. */
        if (nworkers > 1 && (g = spin_poll(m)))
            goto found;
        idle_push(m);
        /* Work added before we were listed would not have woken us. */
        if (work_anywhere()) {
            if (idle_remove(m))
                stop_spinning(m);
            continue;
        }
        idle_trim(m);
        gh__timers_arm(m);
        ev_run(m->loop, EVRUN_ONCE);
        now = gh_now();
        if (now - m->last_check > POLL_INTERVAL) /* not a brief wait */
            check_soon(m);
        m->last_poll = m->last_check = now;
        run_timers(m);
        idle_remove(m);
        /* A worker woken by wakep() is spinning: it may steal. */
    }
found:
    stop_spinning(m);
    return g;
}

GH__NORETURN static void schedule(gh__m_t *m)
{
    for (;;) {
        gh__g_t *g = find_runnable(m);
        switch_to(m, &m->g0, g, false);
    }
}

/* ---- cross-thread requests ---- */

void gh__m_post(gh__m_t *m, gh__req_t *req)
{
    pthread_mutex_lock(&m->inbox_mu);
    req->next = m->inbox;
    m->inbox = req;
    pthread_mutex_unlock(&m->inbox_mu);
    ev_async_send(m->loop, (ev_async *)m->wake);
}

static void wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    gh__m_t *m = w->data;
    gh__req_t *list, *rev = NULL;

    pthread_mutex_lock(&m->inbox_mu);
    list = m->inbox;
    m->inbox = NULL;
    pthread_mutex_unlock(&m->inbox_mu);
    while (list) { /* restore posting order */
        gh__req_t *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    while (rev) {
        gh__req_t *next = rev->next; /* rev may be freed by its fn */
        rev->fn(m, rev);
        rev = next;
    }
}

/* ---- start-up ---- */

/* Workers take no asynchronous signals: those belong to the program's own
 * threads (the daemon's signal handling, Check's timeouts, ...). */
void gh__block_signals(sigset_t *old)
{
    sigset_t all;

    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGTRAP);
    sigdelset(&all, SIGABRT);
    sigdelset(&all, SIGSYS);
    pthread_sigmask(SIG_SETMASK, &all, old);
}

static void g0_stack_bounds(gh__m_t *m)
{
    pthread_attr_t attr;
    void *lo;
    size_t sz;

    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    if (pthread_attr_getstack(&attr, &lo, &sz) == 0) {
        m->g0_stack_lo = lo;
        m->g0_stack_size = sz;
    }
    pthread_attr_destroy(&attr);
}

static void *worker_main(void *p)
{
    gh__m_t *m = p;

    gh__tls_m = m;
    gh__set_cur(m, &m->g0);
    g0_stack_bounds(m);
    gh__segv_thread_init();
    gh__stall_thread_init();
#if GH_SANITIZE_THREAD
    m->g0.tsan_fiber = __tsan_get_current_fiber();
#endif
    schedule(m);
    return NULL;
}

static gh__m_t *m_new(int id, int *err)
{
    gh__m_t *m = calloc(1, sizeof(*m));
    ev_async *wake = calloc(1, sizeof(*wake));

    *err = GH_ENOMEM;
    if (!m || !wake)
        goto fail;
    m->id = id;
    m->rand = (uint32_t)id * 2654435761u + 1;
    m->poll_every = POLL_EVERY;
    check_soon(m);           /* it knows no more than after an idle wait */
    m->last_poll = gh_now(); /* a park before the first poll reads it */
    m->last_check = m->last_poll;
    pthread_mutex_init(&m->inbox_mu, NULL);
    m->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!m->loop)
        goto fail;
    ev_set_invoke_pending_cb(m->loop, gh__netpoll_invoke);
    m->trim_timer = calloc(1, sizeof(ev_timer));
    if (!m->trim_timer)
        goto fail;
    ev_init((ev_timer *)m->trim_timer, trim_cb);
    ((ev_timer *)m->trim_timer)->data = m;
    ev_async_init(wake, wake_cb);
    wake->data = m;
    ev_async_start(m->loop, wake);
    m->wake = wake;
    if ((*err = gh__timers_init(m)) < 0)
        goto fail; /* e.g. GH_EMFILE: no descriptor for the timerfd */
    return m;
fail:
    free(wake);
    free(m);
    return NULL;
}

static int default_workers(void)
{
    cpu_set_t set;
    int n = 0;

    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        n = CPU_COUNT(&set);
    if (n < 1)
        n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n;
}

static void rt_init(void)
{
    sigset_t old;

    /* A call (gh_set_workers, gh_set_stack_size) wins over the
     * environment, which wins over the defaults. */
    if (!cfg_workers)
        cfg_workers = (int)gh__env_long("GH_WORKERS", default_workers(), 1,
                                        1024);
    if (!cfg_stack_set)
        gh__stack_default = (size_t)gh__env_long(
            "GH_STACK_SIZE", (long)gh__stack_default, 16 * 1024, 1L << 30);
    gh__stack_init();
    ms = calloc((size_t)cfg_workers, sizeof(*ms));
    if (!ms) {
        start_err = GH_ENOMEM;
        return;
    }
    for (int i = 0; i < cfg_workers; i++)
        if (!(ms[i] = m_new(i, &start_err)))
            return;
    start_err = 0;
    nworkers = cfg_workers;
    gh__block_signals(&old);
    for (int i = 0; i < nworkers; i++)
        if (pthread_create(&ms[i]->thread, NULL, worker_main, ms[i]) != 0)
            gh__fatal("cannot start worker thread %d", i);
    gh__stall_start(ms, nworkers);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    atomic_store_explicit(&started, 1, memory_order_release);
}

int gh__rt_start(void)
{
    pthread_once(&start_once, rt_init);
    return start_err;
}

gh__m_t *gh__any_m(void)
{
    static _Atomic unsigned next;

    if (gh__rt_start() < 0)
        return NULL;
    return ms[atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) %
              (unsigned)nworkers];
}

uint32_t gh__rand(void)
{
    static __thread uint64_t s;
    uint64_t x = s;

    if (GH__UNLIKELY(x == 0))
        x = (uint64_t)gh_now() ^ (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15u;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s = x;
    return (uint32_t)(x >> 32);
}

int gh_set_workers(int n)
{
    if (n < 1 || n > 1024)
        return GH_EINVAL;
    if (atomic_load(&started))
        return GH_EBUSY;
    cfg_workers = n;
    return 0;
}

int gh_set_stack_size(size_t bytes)
{
    if (bytes < 16 * 1024 || bytes > ((size_t)1 << 30))
        return GH_EINVAL;
    if (atomic_load(&started))
        return GH_EBUSY;
    gh__stack_default = bytes;
    cfg_stack_set = true;
    return 0;
}

/* Goroutines waiting in m's ring and runnext.  The head never passes the
 * tail, so loading the head first keeps t - h from going negative; a take
 * between the two loads can only make it too large, hence the clamp. */
static uint32_t runq_len(gh__m_t *m)
{
    uint32_t h = atomic_load_explicit(&m->rq_head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&m->rq_tail, memory_order_acquire);
    uint32_t n = t - h > GH__RUNQ_SIZE ? GH__RUNQ_SIZE : t - h;

    return n +
           (atomic_load_explicit(&m->runnext, memory_order_relaxed) != NULL) +
           atomic_load_explicit(&m->nlane, memory_order_relaxed);
}

int gh_rt_worker_stats(gh_rt_worker_stats_t *out, int max)
{
    int n;

    if (!atomic_load_explicit(&started, memory_order_acquire) || max <= 0)
        return 0;
    n = max < nworkers ? max : nworkers;
    pthread_mutex_lock(&idle_mu); /* m->idle */
    for (int i = 0; i < n; i++) {
        gh__m_t *m = ms[i];
        out[i] = (gh_rt_worker_stats_t){
            .id = m->id,
            .idle = m->idle,
            .runq = runq_len(m),
            .spawned = atomic_load_explicit(&m->spawned,
                                            memory_order_relaxed),
            .switches = atomic_load_explicit(&m->switches,
                                             memory_order_relaxed)};
    }
    pthread_mutex_unlock(&idle_mu);
    return n;
}

int gh_workers(void)
{
    if (atomic_load(&started))
        return nworkers;
    return cfg_workers ? cfg_workers
                       : (int)gh__env_long("GH_WORKERS", default_workers(),
                                           1, 1024);
}
