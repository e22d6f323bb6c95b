/*
 * sync.c - Go's sync package: Mutex, RWMutex, WaitGroup, Once and Cond.
 *
 * Waiting.  Every primitive keeps its waiters in an intrusive FIFO of
 * records that live on the waiters' own stacks, guarded by an internal lock
 * q of that primitive.  A waiter links its record under q and parks with
 * gh__park(GH__W_SYNC, gh__lock_unlock_cb, &q): q is released only once its
 * context is saved.  A waker unlinks the record under q, reads what it needs
 * from it, drops q and then readies the waiter; once readied, the record
 * may vanish at any moment, so nobody touches it after that.  Fast paths
 * are atomics on a state word and never take q.  No internal lock is held
 * when a misuse panics.
 *
 * Mutex.  The state word (after Go's sync.Mutex):
 *     bit 0      WOKEN     a waiter is awake and competing for the lock
 *                          (spinning, or readied and not queued again), so
 *                          unlock need not wake another one
 *     bit 1      STARVING  the lock is handed to waiters in order
 *     bits 2-30  WAITER    the number of waiters counted on the semaphore
 *     bit 31     LOCKED    somebody holds the lock
 * plus a semaphore: a token count and a queue, both under q.  A waiter
 * counts itself in the state word first and takes q afterwards, so a
 * release may come before its waiter is queued; the token keeps it.
 *
 * Normal mode.  Lock is one CAS 0 -> LOCKED (or, when the lock is free but
 * waiters are counted, one more to set LOCKED); unlock is one atomic add
 * of LOCKED, which clears the top bit without a carry and, unlike a CAS,
 * never retries because a waiter changed the word meanwhile.
 * A contended lock spins a little while the holder probably runs on
 * another worker (more than one worker, nothing else runnable on ours),
 * then counts itself as a waiter and parks.  Unlock, when there are waiters
 * and none is WOKEN, moves one from the count to WOKEN and releases the
 * semaphore.  The woken waiter competes with newcomers ("barging"); they
 * usually win, as they run already with the state in their cache, which is
 * what makes a contended mutex fast.  A woken waiter that loses queues
 * again at the front, keeping its place.
 *
 * Starvation mode.  A woken waiter that has waited more than STARVE_NS in
 * all sets STARVING, only while the lock is held, so that the holder's
 * unlock sees it.  Then newcomers neither take the lock nor spin: they
 * queue at the back.  Unlock clears LOCKED but leaves the lock to the
 * semaphore: the waiter that gets the token owns the mutex, and sets
 * LOCKED and uncounts itself in one atomic add.  It ends the mode when it
 * waited less than STARVE_NS or is the last waiter: a handoff costs a park
 * and a wake-up per lock, so the mode lasts only while some waiter starves.
 *
 * Invariants: STARVING is set only by the waiter that owns WOKEN, in the
 * CAS that clears WOKEN, and while STARVING nobody sets WOKEN (newcomers do
 * not spin and unlock hands off instead of waking).  So a waiter that finds
 * STARVING after its wake-up was handed the lock: LOCKED and WOKEN are
 * clear and it is still counted.  Each token matches either one waiter
 * moved from the count to WOKEN, or one handoff.  An unlock of a free
 * mutex sets LOCKED with its add, which looks like a lock to everyone else,
 * releases it again properly and then panics, so a recovered panic leaves
 * a consistent mutex.
 *
 * RWMutex.  A 64-bit state word: WRITER (held to write), WAITING (the queue
 * is not empty; set and cleared only under q) and the number of readers
 * above them.  Readers take it with a CAS while neither WRITER nor WAITING
 * is set, so a queued writer keeps new readers out.  Whoever cannot take it
 * sets WAITING (in a CAS that checks the state which made it wait, so the
 * holder's release cannot miss it) and queues.  WAITING holds only while
 * the lock is held, because the last holder to release hands it over under
 * q: a writer releases to every queued reader (readers that came during a
 * write go before the next writer, as in Go, so neither side starves), the
 * last reader to the writer at the head.  Under q with WAITING set nobody
 * else can change the state but readers leaving while others remain, so
 * the handoff is a plain CAS from "free with waiters".
 *
 * WaitGroup.  One 64-bit word: the counter (signed, high 32 bits) and the
 * number of waiters (low 32 bits), so the add that reaches zero learns in
 * the same atomic operation whether it must wake anyone; if not, it never
 * touches the WaitGroup again (its owner may free it at once).  A waiter
 * counts itself under q and queues in the same critical section; the add
 * that reaches zero resets the word to 0 and then, under q, takes exactly
 * the first n records (n waiters were counted), so waiters of a next round
 * that queued meanwhile stay queued.
 *
 * Once: a done flag read with acquire, and a Mutex that serialises callers
 * that find it clear.  fn runs in a gh_call() frame with a deferred call
 * that sets done and unlocks, so a panic in fn leaves the once done and
 * unlocked and goes on (Go's rule).
 *
 * Cond: a queue under q.  Wait queues its record before it unlocks the
 * mutex and parks after, under q, only if no signal took the record in the
 * meantime (the record says whether it parked and whether it was
 * signalled): a signal between the unlock and the park is not lost.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

/* A waiting goroutine or thread; lives on its stack. */
typedef struct waiter {
    struct waiter *next; /* in one queue; under that queue's q */
    gh__g_t *g;          /* whom to ready */
    bool writer;         /* RWMutex: waits to write */
    bool parked;         /* Cond: parked (or about to); cond's q */
    bool signalled;      /* Cond: taken off the queue by a wake; cond's q */
} waiter_t;

typedef struct waitq {
    waiter_t *head, *tail; /* FIFO; the owner's q */
} waitq_t;

static void waitq_push(waitq_t *wq, waiter_t *w, bool front)
{
    if (!wq->head) {
        w->next = NULL;
        wq->head = wq->tail = w;
    } else if (front) {
        w->next = wq->head;
        wq->head = w;
    } else {
        w->next = NULL;
        wq->tail->next = w;
        wq->tail = w;
    }
}

static waiter_t *waitq_pop(waitq_t *wq)
{
    waiter_t *w = wq->head;

    if (w) {
        wq->head = w->next;
        if (!wq->head)
            wq->tail = NULL;
    }
    return w;
}

/* Unlink w if it is queued; returns whether it was. */
static bool waitq_remove(waitq_t *wq, waiter_t *w)
{
    waiter_t *prev = NULL;

    for (waiter_t *it = wq->head; it; prev = it, it = it->next) {
        if (it != w)
            continue;
        if (prev)
            prev->next = w->next;
        else
            wq->head = w->next;
        if (wq->tail == w)
            wq->tail = prev;
        return true;
    }
    return false;
}

/* Queue w and park until readied; q is held and the park releases it. */
static void wait_on(gh__lock_t *q, waitq_t *wq, waiter_t *w, bool front)
{
    w->g = gh__cur_g();
    waitq_push(wq, w, front);
    gh__park(GH__W_SYNC, gh__lock_unlock_cb, q);
}

/* Ready a chain of records linked by next, unlinked from any queue. */
static void ready_chain(waiter_t *w)
{
    while (w) {
        waiter_t *next = w->next; /* w may vanish once readied */
        gh__ready(w->g, 0);
        w = next;
    }
}

/* ---- Mutex ---- */

#define MUTEX_WOKEN 1u
#define MUTEX_STARVING 2u
#define MUTEX_WAITER 4u
#define MUTEX_WAITER_SHIFT 2
#define MUTEX_LOCKED 0x80000000u /* the top bit: see mutex_unlock */
#define MUTEX_WAITERS(s) (((s) & ~MUTEX_LOCKED) >> MUTEX_WAITER_SHIFT)
#define STARVE_NS GH_MILLISECOND
/* A contended lock spins SPIN_ROUNDS rounds of SPIN_PAUSES pauses before
 * it parks: about 12 us where pause takes 29 ns (the VM this was measured
 * on), no more than a park and a wake-up across workers cost.  With 30
 * pauses, 8 goroutines on 2 workers parked often enough to cost 27%:
 * bench_mutex -w 2, 9 alternating runs, 16.7 -> 13.1 ns per lock. */
#define SPIN_ROUNDS 4
#define SPIN_PAUSES 100

struct mutex {
    _Atomic uint32_t state; /* LOCKED | WOKEN | STARVING | waiters */
    gh__lock_t q;           /* guards the semaphore below */
    waitq_t sema_q;         /* parked waiters; q */
    uint32_t sema_tokens;   /* releases no waiter has taken yet; q */
};

_Static_assert(sizeof(struct mutex) <= sizeof(gh_mutex_t),
               "struct mutex must fit in gh_mutex_t");
_Static_assert(_Alignof(struct mutex) <= _Alignof(gh_mutex_t),
               "gh_mutex_t must be aligned for struct mutex");

static struct mutex *mutex_of(gh_mutex_t *mu)
{
    return (struct mutex *)(void *)mu->_;
}

static void sema_acquire(struct mutex *m, bool front)
{
    waiter_t w = {0};

    gh__lock(&m->q);
    if (m->sema_tokens > 0) {
        m->sema_tokens--;
        gh__unlock(&m->q);
        return;
    }
    wait_on(&m->q, &m->sema_q, &w, front);
}

static void sema_release(struct mutex *m)
{
    gh__g_t *g = NULL;
    waiter_t *w;

    gh__lock(&m->q);
    if ((w = waitq_pop(&m->sema_q)))
        g = w->g;
    else
        m->sema_tokens++;
    gh__unlock(&m->q);
    if (g)
        gh__ready(g, 0);
}

/*
 * Is spinning worth it?  Only while the holder may be running elsewhere:
 * a goroutine spins when there is another worker and nothing else waits to
 * run on its own; a plain thread always may (the holder runs on a worker).
 */
static bool can_spin(int round)
{
    gh__m_t *m;

    if (round >= SPIN_ROUNDS)
        return false;
    m = gh__cur_m();
    if (!m || m->cur == &m->g0)
        return true;
    return gh_workers() > 1 && gh__runq_empty(m);
}

static void spin(void)
{
    for (int i = 0; i < SPIN_PAUSES; i++)
        gh__cpu_relax();
}

/* The state a lock attempt that saw old tries to install. */
static uint32_t mutex_want(uint32_t old, bool starving, bool awoke)
{
    uint32_t want = old;

    if (!(old & MUTEX_STARVING))
        want |= MUTEX_LOCKED; /* barge in; counted below if held */
    if (old & (MUTEX_LOCKED | MUTEX_STARVING))
        want += MUTEX_WAITER;
    if (starving && (old & MUTEX_LOCKED))
        want |= MUTEX_STARVING;
    if (awoke) {
        if (!(want & MUTEX_WOKEN))
            gh__fatal("sync: inconsistent mutex state %#x", old);
        want &= ~MUTEX_WOKEN;
    }
    return want;
}

/* We were handed the lock in starvation mode: take it, maybe end the mode. */
static void mutex_take_handoff(struct mutex *m, uint32_t old, bool starving)
{
    uint32_t delta = MUTEX_LOCKED - MUTEX_WAITER;

    if ((old & (MUTEX_LOCKED | MUTEX_WOKEN)) || !MUTEX_WAITERS(old))
        gh__fatal("sync: inconsistent mutex state %#x", old);
    if (!starving || MUTEX_WAITERS(old) == 1)
        delta -= MUTEX_STARVING;
    atomic_fetch_add_explicit(&m->state, delta, memory_order_acquire);
}

/* Spin while that is worth it (*round counts the rounds since we last
 * woke up); returns the last state seen. */
static uint32_t mutex_spin(struct mutex *m, uint32_t old, int *round,
                           bool *awoke)
{
    while ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED &&
           can_spin(*round)) {
        /* Claim WOKEN, so that unlock wakes nobody while we are here. */
        if (!*awoke && !(old & MUTEX_WOKEN) && MUTEX_WAITERS(old) != 0 &&
            atomic_compare_exchange_weak_explicit(
                &m->state, &old, old | MUTEX_WOKEN, memory_order_relaxed,
                memory_order_relaxed))
            *awoke = true;
        spin();
        ++*round;
        old = atomic_load_explicit(&m->state, memory_order_relaxed);
    }
    return old;
}

static void mutex_lock_slow(struct mutex *m)
{
    bool starving = false, awoke = false, queued = false;
    int64_t since = 0; /* when we first queued */
    int round = 0;
    uint32_t old = atomic_load_explicit(&m->state, memory_order_relaxed);

    for (;;) {
        old = mutex_spin(m, old, &round, &awoke);
        if (!atomic_compare_exchange_weak_explicit(
                &m->state, &old, mutex_want(old, starving, awoke),
                memory_order_acquire, memory_order_relaxed))
            continue;
        if (!(old & (MUTEX_LOCKED | MUTEX_STARVING)))
            return; /* we set LOCKED */
        if (!queued)
            since = gh_now();
        sema_acquire(m, queued);
        queued = true;
        starving = starving || gh_now() - since > STARVE_NS;
        old = atomic_load_explicit(&m->state, memory_order_relaxed);
        if (old & MUTEX_STARVING) {
            mutex_take_handoff(m, old, starving);
            return;
        }
        awoke = true;
        round = 0;
    }
}

void gh_mutex_lock(gh_mutex_t *mu)
{
    struct mutex *m = mutex_of(mu);
    uint32_t old = 0;

    if (atomic_compare_exchange_strong_explicit(&m->state, &old, MUTEX_LOCKED,
                                                memory_order_acquire,
                                                memory_order_relaxed))
        return;
    /* Free but with waiters counted: barge in before the slow path. */
    if (!(old & (MUTEX_LOCKED | MUTEX_STARVING)) &&
        atomic_compare_exchange_strong_explicit(
            &m->state, &old, old | MUTEX_LOCKED, memory_order_acquire,
            memory_order_relaxed))
        return;
    mutex_lock_slow(m);
}

int gh_mutex_trylock(gh_mutex_t *mu)
{
    struct mutex *m = mutex_of(mu);
    uint32_t old = atomic_load_explicit(&m->state, memory_order_relaxed);

    while (!(old & (MUTEX_LOCKED | MUTEX_STARVING)))
        if (atomic_compare_exchange_weak_explicit(
                &m->state, &old, old | MUTEX_LOCKED, memory_order_acquire,
                memory_order_relaxed))
            return 0;
    return GH_EBUSY;
}

/* The lock was just released, leaving state: hand it off to a waiter, or
 * wake one, if the state asks for it. */
static void mutex_wake(struct mutex *m, uint32_t state)
{
    uint32_t old = state;

    if (old & MUTEX_STARVING) {
        sema_release(m); /* the lock goes to the queue's head */
        return;
    }
    for (;;) {
        /* Nobody to wake, or someone awake or holding it already. */
        if (!MUTEX_WAITERS(old) || (old & (MUTEX_LOCKED | MUTEX_WOKEN)))
            return;
        if (atomic_compare_exchange_weak_explicit(
                &m->state, &old, (old - MUTEX_WAITER) | MUTEX_WOKEN,
                memory_order_relaxed, memory_order_relaxed))
            break;
    }
    sema_release(m);
}

/* Release a lock we hold; the add is explained below. */
static inline uint32_t mutex_release(struct mutex *m)
{
    return atomic_fetch_add_explicit(&m->state, MUTEX_LOCKED,
                                     memory_order_release);
}

/* An unlock found the lock free, and so took it: release it again. */
__attribute__((noinline, cold)) static void mutex_unlock_undo(struct mutex *m)
{
    uint32_t old = mutex_release(m);

    /* Only another unlock racing this one can have cleared it. */
    if (!(old & MUTEX_LOCKED))
        gh__fatal("sync: concurrent unlocks of an unlocked mutex");
    if (old != MUTEX_LOCKED)
        mutex_wake(m, old - MUTEX_LOCKED);
}

/*
 * Release the lock: one atomic add, which never has to retry however many
 * others touch the word.  LOCKED is the top bit, so adding it clears a set
 * bit and sets a clear one, carrying into nothing.  Returns false if the
 * lock was not held; then the add took it, as a lock would have, and it is
 * released again at once.
 */
static inline bool mutex_unlock(struct mutex *m)
{
    uint32_t old = mutex_release(m);

    if (GH__UNLIKELY(!(old & MUTEX_LOCKED))) {
        mutex_unlock_undo(m);
        return false;
    }
    if (old != MUTEX_LOCKED)
        mutex_wake(m, old - MUTEX_LOCKED);
    return true;
}

void gh_mutex_unlock(gh_mutex_t *mu)
{
    if (!mutex_unlock(mutex_of(mu)))
        gh_panic("sync: unlock of unlocked mutex");
}

/* ---- RWMutex ---- */

#define RW_WRITER 1u
#define RW_WAITING 2u
#define RW_READER 4u

struct rwmutex {
    _Atomic uint64_t state; /* readers * RW_READER | WAITING | WRITER */
    gh__lock_t q;           /* guards the queue and WAITING */
    waitq_t waiters;        /* readers and writers, FIFO; q */
};

_Static_assert(sizeof(struct rwmutex) <= sizeof(gh_rwmutex_t),
               "struct rwmutex must fit in gh_rwmutex_t");
_Static_assert(_Alignof(struct rwmutex) <= _Alignof(gh_rwmutex_t),
               "gh_rwmutex_t must be aligned for struct rwmutex");

static struct rwmutex *rw_of(gh_rwmutex_t *rw)
{
    return (struct rwmutex *)(void *)rw->_;
}

static bool rw_tryrlock(struct rwmutex *r)
{
    uint64_t old = atomic_load_explicit(&r->state, memory_order_relaxed);

    while (!(old & (RW_WRITER | RW_WAITING)))
        if (atomic_compare_exchange_weak_explicit(
                &r->state, &old, old + RW_READER, memory_order_acquire,
                memory_order_relaxed))
            return true;
    return false;
}

static bool rw_trylock(struct rwmutex *r)
{
    uint64_t old = 0;

    return atomic_compare_exchange_strong_explicit(
        &r->state, &old, RW_WRITER, memory_order_acquire, memory_order_relaxed);
}

/* Take the lock, or queue and park until a releaser hands it to us. */
static void rw_wait(struct rwmutex *r, bool writer)
{
    waiter_t w = {.writer = writer};
    uint64_t old, want;
    bool take;

    gh__lock(&r->q);
    old = atomic_load_explicit(&r->state, memory_order_relaxed);
    do {
        take = writer ? old == 0 : !(old & (RW_WRITER | RW_WAITING));
        if (take)
            want = old + (writer ? RW_WRITER : RW_READER);
        else
            want = old | RW_WAITING;
    } while (!atomic_compare_exchange_weak_explicit(
        &r->state, &old, want, memory_order_acquire, memory_order_relaxed));
    if (take) {
        gh__unlock(&r->q);
        return;
    }
    wait_on(&r->q, &r->waiters, &w, false);
}

/* Unlink every queued reader (q held); returns them chained, counts them. */
static waiter_t *rw_take_readers(struct rwmutex *r, uint64_t *n)
{
    waiter_t *out = NULL, **tail = &out, *keep = NULL, *kt = NULL, *next;

    for (waiter_t *w = r->waiters.head; w; w = next) {
        next = w->next;
        w->next = NULL;
        if (w->writer) {
            if (kt)
                kt->next = w;
            else
                keep = w;
            kt = w;
        } else {
            *tail = w;
            tail = &w->next;
            ++*n;
        }
    }
    r->waiters.head = keep;
    r->waiters.tail = kt;
    return out;
}

static bool rw_reader_queued(const struct rwmutex *r)
{
    for (const waiter_t *w = r->waiters.head; w; w = w->next)
        if (!w->writer)
            return true;
    return false;
}

/*
 * The last holder (held: RW_WRITER or RW_READER) leaves with waiters queued
 * (q held, state == WAITING | held): hand the lock to the queued readers
 * after a writer (or when one heads the queue), else to the writer at the
 * head.  Returns the records to ready.
 */
static waiter_t *rw_grant(struct rwmutex *r, uint64_t held)
{
    uint64_t old = RW_WAITING | held, n = 0, want;
    waiter_t *out;

    if (held == RW_WRITER ? rw_reader_queued(r) : !r->waiters.head->writer) {
        out = rw_take_readers(r, &n);
        want = n * RW_READER;
    } else {
        out = waitq_pop(&r->waiters);
        out->next = NULL;
        want = RW_WRITER;
    }
    if (r->waiters.head)
        want |= RW_WAITING;
    /* acq_rel: what earlier readers did happens before the new holder. */
    if (!atomic_compare_exchange_strong_explicit(
            &r->state, &old, want, memory_order_acq_rel, memory_order_relaxed))
        gh__fatal("sync: inconsistent RWMutex state %#llx",
                  (unsigned long long)old);
    return out;
}

/* Release what the caller holds (held: RW_WRITER or RW_READER) when
 * waiters may be queued.  Returns false, changing nothing, if it is not
 * held that way. */
static bool rw_release_slow(struct rwmutex *r, uint64_t held)
{
    waiter_t *wake;
    uint64_t old;

    gh__lock(&r->q);
    old = atomic_load_explicit(&r->state, memory_order_relaxed);
    for (;;) {
        if (held == RW_WRITER ? !(old & RW_WRITER) : old < RW_READER) {
            gh__unlock(&r->q);
            return false;
        }
        if (old - held == RW_WAITING)
            break; /* the last holder, with waiters: hand over */
        if (atomic_compare_exchange_weak_explicit(&r->state, &old, old - held,
                                                  memory_order_release,
                                                  memory_order_relaxed)) {
            gh__unlock(&r->q);
            return true;
        }
    }
    wake = rw_grant(r, held);
    gh__unlock(&r->q);
    ready_chain(wake);
    return true;
}

void gh_rwmutex_lock(gh_rwmutex_t *rw)
{
    struct rwmutex *r = rw_of(rw);

    if (!rw_trylock(r))
        rw_wait(r, true);
}

void gh_rwmutex_rlock(gh_rwmutex_t *rw)
{
    struct rwmutex *r = rw_of(rw);

    if (!rw_tryrlock(r))
        rw_wait(r, false);
}

int gh_rwmutex_trylock(gh_rwmutex_t *rw)
{
    return rw_trylock(rw_of(rw)) ? 0 : GH_EBUSY;
}

int gh_rwmutex_tryrlock(gh_rwmutex_t *rw)
{
    return rw_tryrlock(rw_of(rw)) ? 0 : GH_EBUSY;
}

void gh_rwmutex_unlock(gh_rwmutex_t *rw)
{
    struct rwmutex *r = rw_of(rw);
    uint64_t old = RW_WRITER;

    if (atomic_compare_exchange_strong_explicit(
            &r->state, &old, 0, memory_order_release, memory_order_relaxed))
        return;
    if (!rw_release_slow(r, RW_WRITER))
        gh_panic("sync: Unlock of unlocked RWMutex");
}

void gh_rwmutex_runlock(gh_rwmutex_t *rw)
{
    struct rwmutex *r = rw_of(rw);
    uint64_t old = atomic_load_explicit(&r->state, memory_order_relaxed);

    /* Without waiters, or while other readers remain, just leave. */
    while (old >= RW_READER && (!(old & RW_WAITING) || old >= 2 * RW_READER))
        if (atomic_compare_exchange_weak_explicit(
                &r->state, &old, old - RW_READER, memory_order_release,
                memory_order_relaxed))
            return;
    if (!rw_release_slow(r, RW_READER))
        gh_panic("sync: RUnlock of unlocked RWMutex");
}

/* ---- WaitGroup ---- */

#define WG_COUNT_SHIFT 32
#define WG_WAITERS 0xffffffffu

struct waitgroup {
    _Atomic uint64_t state; /* counter (int32) << 32 | waiters */
    gh__lock_t q;           /* guards the queue; waiters count under it */
    waitq_t waiters;        /* FIFO; q */
};

_Static_assert(sizeof(struct waitgroup) <= sizeof(gh_waitgroup_t),
               "struct waitgroup must fit in gh_waitgroup_t");
_Static_assert(_Alignof(struct waitgroup) <= _Alignof(gh_waitgroup_t),
               "gh_waitgroup_t must be aligned for struct waitgroup");

static struct waitgroup *wg_of(gh_waitgroup_t *wg)
{
    return (struct waitgroup *)(void *)wg->_;
}

static int32_t wg_count(uint64_t state)
{
    return (int32_t)(uint32_t)(state >> WG_COUNT_SHIFT);
}

/* The counter reached zero with n waiters counted: wake exactly them. */
static void wg_wake(struct waitgroup *w, uint32_t n)
{
    waiter_t *first, *last;

    gh__lock(&w->q);
    first = last = w->waiters.head;
    for (uint32_t i = 1; i < n; i++)
        last = last->next;
    w->waiters.head = last->next;
    if (!w->waiters.head)
        w->waiters.tail = NULL;
    last->next = NULL;
    gh__unlock(&w->q);
    ready_chain(first);
}

void gh_waitgroup_add(gh_waitgroup_t *wg, int64_t delta)
{
    struct waitgroup *w = wg_of(wg);
    uint64_t old = atomic_load_explicit(&w->state, memory_order_relaxed);
    uint64_t want;
    int64_t v;

    if (delta > INT32_MAX)
        gh_panic("sync: WaitGroup counter overflow");
    do {
        v = wg_count(old) + delta;
        if (v < 0)
            gh_panic("sync: negative WaitGroup counter");
        if (v > INT32_MAX)
            gh_panic("sync: WaitGroup counter overflow");
        /* Reaching zero releases the waiters: their count goes too. */
        want = v == 0 ? 0 : (uint64_t)v << WG_COUNT_SHIFT | (old & WG_WAITERS);
    } while (!atomic_compare_exchange_weak_explicit(
        &w->state, &old, want, memory_order_acq_rel, memory_order_relaxed));
    if (v == 0 && (old & WG_WAITERS))
        wg_wake(w, (uint32_t)(old & WG_WAITERS));
}

void gh_waitgroup_done(gh_waitgroup_t *wg)
{
    gh_waitgroup_add(wg, -1);
}

void gh_waitgroup_wait(gh_waitgroup_t *wg)
{
    struct waitgroup *w = wg_of(wg);
    waiter_t rec = {0};
    uint64_t old = atomic_load_explicit(&w->state, memory_order_acquire);

    if (wg_count(old) == 0)
        return;
    gh__lock(&w->q);
    old = atomic_load_explicit(&w->state, memory_order_acquire);
    do {
        if (wg_count(old) == 0) {
            gh__unlock(&w->q);
            return;
        }
    } while (!atomic_compare_exchange_weak_explicit(
        &w->state, &old, old + 1, memory_order_acquire, memory_order_acquire));
    wait_on(&w->q, &w->waiters, &rec, false);
}

/* ---- Once ---- */

struct once {
    _Atomic uint32_t done; /* 1 once fn has returned or panicked */
    gh_mutex_t mu;         /* serialises callers that find done clear */
};

_Static_assert(sizeof(struct once) <= sizeof(gh_once_t),
               "struct once must fit in gh_once_t");
_Static_assert(_Alignof(struct once) <= _Alignof(gh_once_t),
               "gh_once_t must be aligned for struct once");

struct once_call {
    struct once *o;
    gh_go_fn fn;
    void *arg;
};

static void once_finish(void *p)
{
    struct once *o = p;

    atomic_store_explicit(&o->done, 1, memory_order_release);
    gh_mutex_unlock(&o->mu);
}

/* fn's frame: the deferred finish runs whether fn returns or panics. */
static void once_run(void *p)
{
    struct once_call *c = p;

    if (gh_defer(once_finish, c->o) != 0) {
        /* Out of memory for the record: run it unprotected. */
        c->fn(c->arg);
        once_finish(c->o);
        return;
    }
    c->fn(c->arg);
}

void gh_once_do(gh_once_t *once, gh_go_fn fn, void *arg)
{
    struct once *o = (struct once *)(void *)once->_;
    struct once_call c = {o, fn, arg};

    if (atomic_load_explicit(&o->done, memory_order_acquire))
        return;
    gh_mutex_lock(&o->mu);
    if (atomic_load_explicit(&o->done, memory_order_relaxed)) {
        gh_mutex_unlock(&o->mu);
        return;
    }
    /* GH_EPANIC only if fn recovered its own panic: it has returned. */
    (void)gh_call(once_run, &c);
}

/* ---- Cond ---- */

struct cond {
    gh__lock_t q;    /* guards the queue and the records in it */
    waitq_t waiters; /* FIFO; q */
};

_Static_assert(sizeof(struct cond) <= sizeof(gh_cond_t),
               "struct cond must fit in gh_cond_t");
_Static_assert(_Alignof(struct cond) <= _Alignof(gh_cond_t),
               "gh_cond_t must be aligned for struct cond");

static struct cond *cond_of(gh_cond_t *cv)
{
    return (struct cond *)(void *)cv->_;
}

void gh_cond_wait(gh_cond_t *cv, gh_mutex_t *mu)
{
    struct cond *c = cond_of(cv);
    waiter_t w = {.g = gh__cur_g()};

    gh__lock(&c->q);
    waitq_push(&c->waiters, &w, false);
    gh__unlock(&c->q);
    if (!mutex_unlock(mutex_of(mu))) {
        gh__lock(&c->q);
        waitq_remove(&c->waiters, &w);
        gh__unlock(&c->q);
        gh_panic("sync: unlock of unlocked mutex");
    }
    gh__lock(&c->q);
    if (w.signalled) {
        gh__unlock(&c->q);
    } else {
        w.parked = true;
        gh__park(GH__W_SYNC, gh__lock_unlock_cb, &c->q);
    }
    gh_mutex_lock(mu);
}

/* Take w off the queue for a wake-up (q held); returns it if it must be
 * readied (it parked), NULL if it will see the flag itself. */
static waiter_t *cond_claim(waiter_t *w)
{
    w->signalled = true;
    return w->parked ? w : NULL;
}

void gh_cond_signal(gh_cond_t *cv)
{
    struct cond *c = cond_of(cv);
    gh__g_t *g = NULL;
    waiter_t *w;

    gh__lock(&c->q);
    if ((w = waitq_pop(&c->waiters)) && cond_claim(w))
        g = w->g;
    gh__unlock(&c->q);
    if (g)
        gh__ready(g, 0);
}

void gh_cond_broadcast(gh_cond_t *cv)
{
    struct cond *c = cond_of(cv);
    waiter_t *w, *next, *wake = NULL, **tail = &wake;

    gh__lock(&c->q);
    w = c->waiters.head;
    c->waiters.head = c->waiters.tail = NULL;
    for (; w; w = next) {
        next = w->next;
        if (cond_claim(w)) {
            *tail = w;
            tail = &w->next;
        }
    }
    *tail = NULL;
    gh__unlock(&c->q);
    ready_chain(wake);
}
