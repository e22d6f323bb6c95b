/*
 * internal.h - declarations shared inside libgohttpd (never installed).
 *
 * The runtime's objects:
 *   gh__g  a goroutine.  It lives at the top of its own stack mapping, so a
 *          parked goroutine costs the one page that holds both its struct and
 *          its innermost frames.  A thread that is not a worker gets a
 *          "thread g" (is_thread) so that code which parks can treat it alike:
 *          it blocks on a condition variable instead of switching.
 *   gh__m  a worker thread: its libev loop, its run queue, its stack cache and
 *          the goroutine it is running.  Only the owning thread touches its
 *          loop and watchers; other threads reach it through the inbox and
 *          ev_async.
 *
 * Parking protocol (see sched.c for the long version): a goroutine that waits
 * registers itself somewhere under a lock, then calls gh__park(unlock, arg).
 * The unlock runs only after the goroutine's context is saved, so a waker
 * that takes the same lock and calls gh__ready() can never resume a goroutine
 * that is still running.
 */
#ifndef GH_INTERNAL_H
#define GH_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gohttpd.h"

#if GH_CTX_UCONTEXT
#include <ucontext.h>
#endif

#define GH__NORETURN __attribute__((noreturn))
#define GH__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define gh__container_of(ptr, type, member)                                \
    ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- the internal lock (lock.c) ---- */

/* An ownerless lock: it may be released by another goroutine or thread than
 * the one that took it (gh__park releases it after the switch). */
typedef struct gh__lock {
    _Atomic int v; /* 0 free, 1 held, 2 held with waiters */
} gh__lock_t;

#define GH__LOCK_INIT {0}

void gh__lock_slow(gh__lock_t *l);
void gh__unlock_slow(gh__lock_t *l);
void gh__lock_unlock_cb(void *l); /* gh__park unlock callback */

static inline void gh__lock(gh__lock_t *l)
{
    int c = 0;

    if (!atomic_compare_exchange_strong_explicit(&l->v, &c, 1,
                                                 memory_order_acquire,
                                                 memory_order_relaxed))
        gh__lock_slow(l);
}

static inline void gh__unlock(gh__lock_t *l)
{
    if (atomic_fetch_sub_explicit(&l->v, 1, memory_order_release) != 1)
        gh__unlock_slow(l);
}

/* A spin-wait hint to the CPU. */
static inline void gh__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* ---- context switch (lib/runtime/arch/) ---- */

#if GH_CTX_UCONTEXT
typedef struct gh__ctx {
    ucontext_t uc;
} gh__ctx_t;
#else
typedef struct gh__ctx {
    void *sp; /* saved stack pointer; the registers sit on the stack */
} gh__ctx_t;
#endif

/* Save the current context into *from and resume *to. */
void gh__ctx_switch(gh__ctx_t *from, gh__ctx_t *to);
/* Resume *to, saving nothing: for a goroutine that has ended. */
GH__NORETURN void gh__ctx_jump(gh__ctx_t *to);
/* Prepare *ctx so that switching to it calls entry(arg) on the given stack.
 * entry must never return. */
void gh__ctx_make(gh__ctx_t *ctx, void *stack_lo, size_t size,
                  void (*entry)(void *), void *arg);

/* ---- goroutines ---- */

enum gh__wait {
    GH__W_NONE = 0,
    GH__W_SLEEP,
    GH__W_IO_READ,
    GH__W_IO_WRITE,
    GH__W_BLOCKING,
    GH__W_CLOSE,
    GH__W_CHAN_RECV,
    GH__W_CHAN_SEND,
    GH__W_SELECT,
    GH__W_SYNC,
    GH__W_MAX
};

enum gh__gflags {
    GH__G_GUARDED = 1,  /* the stack has a PROT_NONE guard page below it */
    GH__G_CUSTOM = 2,   /* non-default size: unmapped at exit, not cached */
    GH__G_CANARY = 4,   /* no guard page: a canary is checked on switch-out */
    GH__G_NAMED = 8,    /* name[] holds a name (per goroutine, not stack) */
    GH__G_THREAD = 16   /* a thread g (is_thread), tested on the hot line */
};

#define GH__NAME_MAX 32

typedef struct gh__g gh__g_t;
typedef struct gh__m gh__m_t;

/* A timer in a worker's heap (timer.c); lives in the waiter's frame. */
#define GH__TIMER_IDLE SIZE_MAX
typedef struct gh__timer {
    int64_t when;     /* gh_now() deadline */
    size_t idx;       /* slot in the owner's heap, GH__TIMER_IDLE if none;
                       * under the owner's tlock */
    void (*fn)(gh__m_t *m, struct gh__timer *t); /* runs on the owner */
    void *data;
    gh__m_t *m;       /* the owner: set by gh__timer_start */
} gh__timer_t;

/* Defer/panic records (panic.c). */
struct gh__frame;
struct gh__defer;
struct gh__panic;

/*
 * Describes what a goroutine is doing (`serving "GET /x"`) into buf (len
 * bytes, NUL-terminated).  It is called from the stall watch's signal
 * handler, on the goroutine's own thread in the middle of whatever it was
 * doing: it may only read memory and copy bytes (no locks, no malloc, no
 * stdio), and whatever it reads must be valid whenever it is set.
 */
typedef void (*gh__doing_fn)(const void *arg, char *buf, size_t len);

/* The fields a spawn and a switch touch come first and fill one cache line
 * (with the asm switch): a goroutine that runs and ends touches that line,
 * the switch frame below it and its own frames. */
struct gh__g {
    /* The first cache line: what a park, a wake-up and a switch touch. */
    gh__ctx_t ctx;           /* saved registers; valid while not running */
    gh__g_t *next;           /* run queue / global queue / stack cache link */
    _Atomic int state;       /* enum gh_g_state; written by owner/waker */
    _Atomic int wait;        /* enum gh__wait while GH_G_WAITING */
    int park_result;         /* what the waker left for the parked goroutine */
    unsigned flags;          /* enum gh__gflags */
    _Atomic int64_t since;   /* gh_now() of its worker's last poll before
                              * it last parked (gh_dump's "for how long") */
    void *stack_lo;          /* lowest usable byte (above the guard page) */
    int64_t id;              /* unique, > 0; set at spawn */
    gh_go_fn fn;             /* what the goroutine runs */
    /* Colder fields. */
    void *arg;               /* its argument */
    size_t stack_size;       /* usable bytes, struct included */
    size_t allg_idx;         /* index in the all-stacks table (dump.c) */
    unsigned vg_stack_id;    /* valgrind's id for the stack (custom ones) */
    char name[GH__NAME_MAX]; /* valid when flags & GH__G_NAMED */
    /* Defer and panic (panic.c); owner goroutine only; reset at spawn. */
    struct gh__defer *defers; /* the root frame's deferred calls, LIFO */
    struct gh__frame *frame;  /* innermost gh_call() frame, NULL: root */
    struct gh__panic *panic;  /* the panic being unwound, innermost */
    const void *creator;      /* return address in gh_go()'s caller */
    /* What it is doing, for the stall watch's report (gh__doing_set);
     * NULL from its spawn. */
    gh__doing_fn doing;
    const void *doing_arg;
    /* Thread g only: how a non-worker thread parks. */
    bool is_thread;           /* never set on a goroutine's record */
    bool woken;               /* guarded by tmu */
    pthread_mutex_t *tmu;
    pthread_cond_t *tcond;
    /* Sanitizer bookkeeping. */
    void *asan_fake;          /* ASan fake stack saved while switched out */
    void *tsan_fiber;         /* TSan fiber handle */
};

/* ---- worker threads ---- */

#define GH__RUNQ_SIZE 256
#define GH__STALL_FRAMES 24
#define GH__STALL_DOING 192

struct gh__m {
    int id;                      /* 0 .. nworkers-1 */
    pthread_t thread;
    struct ev_loop *loop;        /* owned by this thread only */
    void *wake;                  /* ev_async *; any thread may send */
    gh__g_t g0;                  /* the thread's own stack: runs schedule() */
    gh__g_t *cur;                /* running goroutine, or &g0 */
    /* Run queue: owner pushes at tail; owner and thieves take at head. */
    _Atomic uint32_t rq_head;
    _Atomic uint32_t rq_tail;
    gh__g_t *_Atomic rq[GH__RUNQ_SIZE];
    /* The first goroutine this worker readied since it last took this:
     * it runs next, so a ping-pong stays on one worker and in its cache
     * (later ones join the ring).  Owner sets and takes it; an idle thief
     * takes it only after a short grace. */
    gh__g_t *_Atomic runnext;
    uint32_t tick;               /* schedule count; drives fair polling */
    uint32_t poll_every;         /* switches between two clock reads */
    _Atomic uint64_t switches;   /* goroutines started or resumed here;
                                  * owner writes, anyone reads */
    int64_t last_poll;           /* gh_now() of the last ev_run (owner) */
    int64_t last_check;          /* gh_now() of the last poll_if_due or
                                  * poll (owner) */
    /* Goroutines the worker's timers readied: they run before the ring,
     * so that a wake-up is not late behind a long queue.  The owner adds
     * and takes, idle workers steal; all under lane_lock. */
    gh__lock_t lane_lock;
    gh__g_t *lane, *lane_tail;   /* FIFO linked by g->next */
    _Atomic uint32_t nlane;      /* written under lane_lock; anyone reads */
    uint32_t lane_picks;         /* owner: picks while the lane had some */
    bool firing;                 /* owner: its timers are running */
    /* Descriptors this iteration of the loop reported ready, whose waits
     * are finished in the kernel's order (netpoll.c; owner only). */
    struct gh__iowait *io_fired;
    _Atomic int32_t io_backlog;  /* ready sockets of this loop that wait
                                  * for a goroutine outside the run queue
                                  * (gh__poll_backlog); any thread */
    /* Work to do right after the next switch completes (owner only). */
    void (*post_fn)(gh__m_t *m, void *arg);
    void *post_arg;
    /* Stack cache of finished goroutines (owner only). */
    gh__g_t *cache;
    int ncache;
    int64_t last_trim;           /* wall ns of the last scavenger kick */
    void *trim_timer;            /* ev_timer * for a deferred trim */
    /* Timers (timer.c).  The heap is under tlock: the owner adds and
     * fires, but any thread may add a timer or stop one it started. */
    gh__lock_t tlock;
    gh__timer_t **theap;         /* binary min-heap on when; tlock */
    size_t tlen, tcap;           /* tlock */
    gh__timer_t *_Atomic tfiring; /* the timer whose fn runs right now */
    int tfd;                     /* timerfd armed to the heap's minimum */
    void *tfd_io;                /* ev_io * watching tfd */
    int64_t tfd_armed;           /* what tfd is armed to, GH_FOREVER if not */
    /* Cross-thread requests, drained by the owner from its async callback. */
    pthread_mutex_t inbox_mu;
    struct gh__req *inbox;
    /* Idle bookkeeping (guarded by the scheduler's idle lock). */
    gh__m_t *idle_next;
    bool idle;
    bool spinning;               /* owner only */
    uint32_t rand;               /* owner only: victim selection */
    int64_t id_next, id_end;     /* owner only: block of goroutine ids */
    _Atomic int64_t spawned;     /* goroutines started here; owner writes */
    /* ASan: the thread stack's bounds, learnt on the first switch. */
    const void *g0_stack_lo;
    size_t g0_stack_size;
    /* The stall watch's request for a backtrace (stall.c): the watcher
     * asks, the signal handler on this thread answers. */
    _Atomic int stall_ask;
    const gh__g_t *stall_g; /* what ran when the signal came */
    int stall_n;
    void *stall_pcs[GH__STALL_FRAMES];
    char stall_doing[GH__STALL_DOING]; /* its doing's description */
};

/* m->cur: the owner reads it plainly; every write is a relaxed atomic
 * store (the same instruction), so that the stall watch may read it from
 * its own thread. */
static inline void gh__set_cur(gh__m_t *m, gh__g_t *g)
{
    __atomic_store_n(&m->cur, g, __ATOMIC_RELAXED);
}

/* A request one thread posts to a worker's inbox. */
typedef struct gh__req {
    struct gh__req *next;
    void (*fn)(gh__m_t *m, struct gh__req *req); /* runs on the owner */
} gh__req_t;

/* ---- scheduler (sched.c) ---- */

/* The worker running the calling thread, or NULL.  A goroutine may resume
 * on another thread, so the thread's TLS address must be computed afresh
 * after every park: a compiler may keep it in a register across a call.
 * On x86_64 an inline %fs-relative load (initial-exec) reads it where it
 * is written; elsewhere an out-of-line call does. */
gh__m_t *gh__cur_m_call(void);
#if defined(__x86_64__)
extern __thread gh__m_t *gh__tls_m
    __attribute__((tls_model("initial-exec"), visibility("hidden")));

static inline __attribute__((always_inline)) gh__m_t *gh__cur_m(void)
{
    gh__m_t *m;

    /* volatile and "memory": never merged with another read of it, never
     * moved across the context switch (a call that writes memory). */
    __asm__ volatile("movq gh__tls_m@gottpoff(%%rip), %0\n\t"
                     "movq %%fs:(%0), %0"
                     : "=r"(m)
                     :
                     : "memory");
    return m;
}
#else
#define gh__cur_m gh__cur_m_call
#endif
/* The calling thread's thread g (made on first use). */
gh__g_t *gh__thread_g(void);

/* The calling goroutine, or the calling thread's thread g. */
static inline gh__g_t *gh__cur_g(void)
{
    gh__m_t *m = gh__cur_m();

    return m && m->cur != &m->g0 ? m->cur : gh__thread_g();
}
/* Say what the calling goroutine is doing, for a stall report, until the
 * next call (fn NULL: nothing worth saying).  The stall watch's handler
 * runs on this thread, so signal fences order the two stores for it: it
 * never sees fn with an argument that is not fn's. */
static inline void gh__doing_set(gh__doing_fn fn, const void *arg)
{
    gh__g_t *g = gh__cur_m()->cur;

    g->doing = NULL;
    atomic_signal_fence(memory_order_seq_cst);
    g->doing_arg = arg;
    atomic_signal_fence(memory_order_seq_cst);
    g->doing = fn;
}
/* Start the runtime if it is not running.  Returns 0 or GH_E*. */
int gh__rt_start(void);
/* Park the caller with a wait reason; after its context is saved,
 * unlock(arg) runs (unlock may be NULL).  Returns the g's park_result. */
int gh__park(enum gh__wait why, void (*unlock)(void *), void *arg);
/* Make a parked goroutine (or thread g) runnable.  Any thread.  It runs
 * next on this worker: the waker's continuation (a channel hand-off). */
void gh__ready(gh__g_t *g, int result);
/* The same, at the tail of this worker's queue: for waits that ended on
 * their own (I/O readiness, a deadline), in the order they ended. */
void gh__ready_queued(gh__g_t *g, int result);
/* Thread g only: gh__park() that also gives up at deadline.  When the
 * deadline passes, expire(earg) is called; if it returns true the caller
 * has claimed the wait (nobody will ready it) and GH_ETIMEDOUT is returned;
 * otherwise a waker has claimed it and the thread waits for gh__ready(). */
int gh__thread_park_until(void (*unlock)(void *), void *arg,
                          int64_t deadline, bool (*expire)(void *),
                          void *earg);
/* A worker for a timer started by a thread that is not one (round robin);
 * starts the runtime.  NULL if it cannot start. */
gh__m_t *gh__any_m(void);
/* A fast per-thread random number (xorshift); never 0 for bound 0. */
uint32_t gh__rand(void);
/* Nothing queued on m (ring and runnext); a racy peek from any thread. */
bool gh__runq_empty(gh__m_t *m);
/* delta more (or fewer) sockets that m's loop found ready are waiting for
 * a goroutine elsewhere than m's run queue (the HTTP server's queue of
 * woken connections): a busy m counts them as queued work and polls less
 * often, since polling would only report those sockets again. */
void gh__poll_backlog(gh__m_t *m, int delta);
/* Post a request to worker m's inbox and wake it.  Any thread. */
void gh__m_post(gh__m_t *m, gh__req_t *req);
/* Block asynchronous signals in a runtime-owned thread (old may be NULL). */
void gh__block_signals(sigset_t *old);

/* ---- the stall watch (stall.c) ---- */
/* From the runtime's start, with every signal blocked: install the
 * backtrace handler and start the watcher over workers ms[0 .. n). */
void gh__stall_start(gh__m_t **ms, int n);
/* A worker thread, before it runs goroutines: take the watch's signal. */
void gh__stall_thread_init(void);
/* While every worker idles the watcher sleeps until one stops idling:
 * idle_remove() calls gh__stall_awake(), which wakes it if it sleeps. */
extern _Atomic bool gh__stall_asleep;
void gh__stall_wake(void);
static inline void gh__stall_awake(void)
{
    if (atomic_load(&gh__stall_asleep)) /* seq_cst: after nidle's change */
        gh__stall_wake();
}
/* Is every worker idle, blocked in its event loop?  (sched.c) */
bool gh__workers_all_idle(void);

/* ---- stacks and goroutine records (coro.c) ---- */

extern size_t gh__stack_default;
extern int gh__stack_cache_max; /* stacks a worker's cache may hold */
gh__g_t *gh__g_alloc_slow(gh__m_t *m, size_t stack_size);
void gh__g_release_slow(gh__m_t *m, gh__g_t *g);

/* A fresh goroutine record with a stack, from m's cache when m != NULL.
 * The cache's two ends are inline: a spawn is a few dozen instructions,
 * and a call that saves registers for paths it rarely takes was a tenth
 * of them. */
static inline gh__g_t *gh__g_alloc(gh__m_t *m, size_t stack_size)
{
    gh__g_t *g;

    if (stack_size == 0 && m && (g = m->cache)) {
        m->cache = g->next;
        m->ncache--;
        if (m->cache) /* the next spawn's record, while this one is set up */
            __builtin_prefetch(m->cache, 1);
        return g;
    }
    return gh__g_alloc_slow(m, stack_size);
}

/* Return a finished goroutine's stack (to m's cache when m != NULL). */
static inline void gh__g_release(gh__m_t *m, gh__g_t *g)
{
    if (m && !(g->flags & GH__G_CUSTOM) && m->ncache < gh__stack_cache_max) {
        atomic_store_explicit(&g->state, GH_G_DEAD, memory_order_relaxed);
        g->next = m->cache;
        m->cache = g;
        m->ncache++;
        return;
    }
    gh__g_release_slow(m, g);
}
/* Wake the scavenger thread, which gives the warm list back to the OS. */
void gh__stack_scavenge(void);
/* A racy peek: is the warm list non-empty? */
bool gh__stack_warm_pending(void);
/* Move m's cached stacks beyond keep to the shared warm list (no system
 * call), so that other threads can reuse them (m's thread only). */
void gh__stack_spill(gh__m_t *m, int keep);
/* Prepare g to start fn(arg) on its stack. */
void gh__g_prepare(gh__g_t *g, void (*entry)(void *));
void gh__stack_init(void);
/* Install the SIGSEGV handler and this thread's alternate signal stack. */
void gh__segv_thread_init(void);
GH__NORETURN void gh__stack_overflow(const gh__g_t *g, const char *how);
/* Switch bookkeeping for the sanitizers and the canary. */
void gh__switch(gh__g_t *from, gh__g_t *to, bool from_dying);
/* A goroutine on an unguarded stack has just resumed: fetch its canary, the
 * cache line below stack_lo (coro.c) that only the check at its next
 * switch-out reads, into the cache while it runs.  Read cold, it cost a
 * miss at every switch-out: 60 of 330 ns a hop in a ring of 30,000. */
static inline void gh__canary_prefetch(const gh__g_t *g)
{
    if (g->flags & GH__G_CANARY)
        __builtin_prefetch((const char *)g->stack_lo - 64);
}
void gh__switch_done(gh__g_t *self);
void gh__tsan_g_init(gh__g_t *g);
void gh__tsan_g_fini(gh__g_t *g);

/* ---- the table of all stacks (dump.c) ---- */
void gh__allg_add(gh__g_t *g);
void gh__allg_del(gh__g_t *g);
/* Copy the id, name ("" if none), start function and creator (gh_go()'s
 * return address) of g, which may be a stale pointer: false unless g is
 * the record of a live goroutine.  Never touches g's memory unless g is in
 * the table, which keeps it mapped. */
bool gh__g_peek(const gh__g_t *g, int64_t *id, char name[GH__NAME_MAX],
                gh_go_fn *fn, const void **creator);
/* "350ms", "2.5s", "3 minutes". */
void gh__fmt_duration(char *buf, size_t len, int64_t ns);
/* Code address pc as "name+0xoff (file+0xrel)" (panic.c), or with
 * GH__PC_BRIEF "name+0xoff" ("name" at offset 0; the file's base name and
 * offset when the name is unknown).  pc is a return address unless
 * GH__PC_EXACT says it is a function or an interrupted instruction. */
#define GH__PC_BRIEF 1u
#define GH__PC_EXACT 2u
void gh__describe_pc(const void *pc, char *buf, size_t len, unsigned how);

/* ---- time and I/O (timer.c, netpoll.c) ---- */
int gh__timers_init(gh__m_t *m);
/* gh_now() up to one clock tick (a few ms) behind, for long timeouts: it
 * needs no clock read (rdtsc), which on a VM costs more than the rest. */
int64_t gh__now_coarse(void);
/* Add t (t->when, t->fn set) to m's heap; any thread.  0 or GH_ENOMEM. */
int gh__timer_start(gh__m_t *m, gh__timer_t *t);
/* Remove t from its owner's heap; any thread.  On return t's fn is not
 * running (unless the caller is that fn) and will not run.  Returns true
 * if t was removed before it fired. */
bool gh__timer_stop(gh__timer_t *t);
/* Fire every due timer of m. */
void gh__timers_run(gh__m_t *m);
/* Arm m's timerfd to its earliest deadline, before blocking. */
void gh__timers_arm(gh__m_t *m);
int gh__poll_thread(int fd, int events, int64_t deadline);

/* ---- counters ---- */
extern _Atomic int64_t gh__spawned; /* by threads that are not workers */
int64_t gh__spawned_total(void);
extern _Atomic int64_t gh__stacks_mapped;
extern _Atomic int64_t gh__stacks_guarded;
extern _Atomic int64_t gh__stack_bytes;
extern _Atomic int64_t gh__blocking_threads;

/* ---- defer and panic (panic.c) ---- */
/* Run the root frame's deferred calls at goroutine exit. */
void gh__defers_run_exit(gh__g_t *g);
/* End the calling goroutine now, as if its function had returned (but
 * without running g->defers): for a panic recovered at the root frame. */
GH__NORETURN void gh__g_exit_current(void);

/* ---- channels (chan.c, select.c) ---- */
/* Close ch and wake its waiters, without the panics of gh_chan_close():
 * returns false if it was already closed.  For contexts (ctx.c). */
bool gh__chan_close(gh_chan_t *ch);

/* ---- misc ---- */
/* A log line that a client can cause at will (a refused PROXY header, a
 * failed TLS handshake) must not flood the log: a gate lets one through
 * per interval and counts the ones it holds back (log.c). */
typedef struct gh__log_gate {
    _Atomic int64_t said;   /* gh_now() when one last passed */
    _Atomic uint64_t quiet; /* held back since */
} gh__log_gate_t;
/* Ready g for an interval of every: the next one passes. */
void gh__log_gate_init(gh__log_gate_t *g, int64_t every);
/* true: log it, and *quiet (may be NULL) is how many were held back since
 * the last one passed; false: it is only counted.  Any thread. */
bool gh__log_gate_pass(gh__log_gate_t *g, int64_t every, uint64_t *quiet);
GH__NORETURN void gh__fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* Parse "64k", "1m", "4096" into bytes; -1 when malformed. */
long long gh__parse_size(const char *s);
long gh__env_long(const char *name, long dflt, long lo, long hi);

/* UTC calendar fields (civil.c), as gmtime_r() without its locks. */
typedef struct gh__civil {
    int64_t year;
    int mon;  /* 1-12 */
    int mday; /* 1-31 */
    int hour, min, sec;
    int wday; /* 0 = Sunday */
} gh__civil_t;
void gh__utc_civil(int64_t t, gh__civil_t *c);

#endif /* GH_INTERNAL_H */
