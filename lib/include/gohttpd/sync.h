/*
 * gohttpd/sync.h - Mutex, RWMutex, WaitGroup, Once and Cond (Go's sync).
 *
 * Each is a small struct the caller embeds or declares; all-zero is the
 * ready-to-use initial state, as Go's zero values are (the GH_*_INIT
 * macros spell that out).  They need no _fini and must not be copied once
 * used.  Waiting parks the goroutine, never the worker thread; a thread
 * outside the runtime blocks on a condition variable.  All may be shared by
 * goroutines on different workers and by plain threads.
 *
 *     gh_waitgroup_t wg = GH_WAITGROUP_INIT;
 *     for (int i = 1; i <= 5; i++) {
 *         gh_waitgroup_add(&wg, 1);      // wg.Add(1)
 *         gh_go(task, ...);              // task calls gh_waitgroup_done()
 *     }
 *     gh_waitgroup_wait(&wg);            // wg.Wait()
 *
 * Misuse panics (see panic.h), as in Go: unlocking a Mutex or RWMutex that
 * is not locked, a WaitGroup counter below zero.
 */
#ifndef GOHTTPD_SYNC_H
#define GOHTTPD_SYNC_H

#include <stdint.h>

#include "gohttpd/rt.h"
#include "gohttpd/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A mutual exclusion lock (Go's sync.Mutex).  Not reentrant. */
typedef struct gh_mutex {
    _Alignas(8) unsigned char _[32];
} gh_mutex_t;
#define GH_MUTEX_INIT {{0}}

/**
 * gh_mutex_lock - take the lock, parking until it is free.  A lock that
 * stays contended is handed to waiters in arrival order (no waiter starves
 * for more than about a millisecond).
 */
GH_API void gh_mutex_lock(gh_mutex_t *mu);
/** gh_mutex_trylock - take the lock if it is free: 0, or GH_EBUSY. */
GH_API int gh_mutex_trylock(gh_mutex_t *mu);
/**
 * gh_mutex_unlock - release the lock; any goroutine or thread may release
 * it (as in Go).  Panics if it is not locked.  Never blocks.
 */
GH_API void gh_mutex_unlock(gh_mutex_t *mu);

/**
 * A reader/writer lock (Go's sync.RWMutex): many readers or one writer.  A
 * writer that waits keeps new readers out, so writers do not starve.
 */
typedef struct gh_rwmutex {
    _Alignas(8) unsigned char _[64];
} gh_rwmutex_t;
#define GH_RWMUTEX_INIT {{0}}

GH_API void gh_rwmutex_lock(gh_rwmutex_t *rw);   /**< take it to write */
GH_API void gh_rwmutex_unlock(gh_rwmutex_t *rw); /**< panics if not held */
GH_API void gh_rwmutex_rlock(gh_rwmutex_t *rw);  /**< take it to read */
GH_API void gh_rwmutex_runlock(gh_rwmutex_t *rw); /**< panics if not held */
/** Non-blocking variants: 0, or GH_EBUSY. */
GH_API int gh_rwmutex_trylock(gh_rwmutex_t *rw);
GH_API int gh_rwmutex_tryrlock(gh_rwmutex_t *rw);

/** Waits for a collection of goroutines to finish (Go's sync.WaitGroup). */
typedef struct gh_waitgroup {
    _Alignas(8) unsigned char _[32];
} gh_waitgroup_t;
#define GH_WAITGROUP_INIT {{0}}

/**
 * gh_waitgroup_add - add delta (may be negative) to the counter; when it
 * reaches zero every waiter is released.  Panics if it goes below zero.
 */
GH_API void gh_waitgroup_add(gh_waitgroup_t *wg, int64_t delta);
/** gh_waitgroup_done - gh_waitgroup_add(wg, -1). */
GH_API void gh_waitgroup_done(gh_waitgroup_t *wg);
/** gh_waitgroup_wait - park until the counter is zero. */
GH_API void gh_waitgroup_wait(gh_waitgroup_t *wg);

/** Runs a function exactly once (Go's sync.Once). */
typedef struct gh_once {
    _Alignas(8) unsigned char _[48];
} gh_once_t;
#define GH_ONCE_INIT {{0}}

/**
 * gh_once_do - call fn(arg) if no call on this once has run yet; callers
 * that arrive while it runs wait until it has returned.  If fn panics, the
 * once counts as done (as in Go) and the panic goes on.
 */
GH_API void gh_once_do(gh_once_t *once, gh_go_fn fn, void *arg);

/**
 * A condition variable (Go's sync.Cond) used with a gh_mutex_t.  Spurious
 * wake-ups do not happen, but wait in a loop anyway: another goroutine may
 * change the condition before the waiter gets the mutex back.
 */
typedef struct gh_cond {
    _Alignas(8) unsigned char _[32];
} gh_cond_t;
#define GH_COND_INIT {{0}}

/**
 * gh_cond_wait - atomically unlock mu and park until signalled, then lock
 * mu again before returning.  mu must be locked by the caller.
 */
GH_API void gh_cond_wait(gh_cond_t *c, gh_mutex_t *mu);
/** gh_cond_signal - wake the longest waiter, if any. */
GH_API void gh_cond_signal(gh_cond_t *c);
/** gh_cond_broadcast - wake every waiter. */
GH_API void gh_cond_broadcast(gh_cond_t *c);

#ifdef __cplusplus
}
#endif
#endif /* GOHTTPD_SYNC_H */
