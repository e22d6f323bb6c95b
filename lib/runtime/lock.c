/*
 * lock.c - the runtime's internal lock (gh__lock_t).
 *
 * A parking goroutine takes a lock on its own stack and the lock is released
 * after the switch, by the next context (see gh__park in sched.c).  POSIX
 * leaves unlocking a mutex from "another thread" undefined, and
 * ThreadSanitizer rightly reports it, because to it every goroutine is a
 * thread of its own.  This lock has no owner: it is a word driven by atomics
 * (acquire on lock, release on unlock, so the sanitizer sees the ordering)
 * and a futex for contended waits, after Drepper's "Futexes Are Tricky":
 * 0 = free, 1 = held, 2 = held with waiters.  Critical sections under it are
 * a few dozen instructions; a contended lock spins briefly before sleeping.
 */
#include "config.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define SPIN_PAUSES 1024 /* the most pauses before sleeping */
#define PAUSE_MAX 64

static void futex_wait(_Atomic int *w, int val)
{
    syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic int *w)
{
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void gh__lock_slow(gh__lock_t *l)
{
    int c;

    for (int spent = 0, pause = 1; spent < SPIN_PAUSES; spent += pause) {
        /* Read until it looks free, then try: a failing CAS would take
         * the cache line away from the holder in the middle of its
         * critical section.  Each read takes a shared copy of the line,
         * which the holder's next write must take back: back off, so a
         * waiter reads it a few times per critical section, not dozens. */
        c = atomic_load_explicit(&l->v, memory_order_relaxed);
        if (c == 0 && atomic_compare_exchange_weak_explicit(
                          &l->v, &c, 1, memory_order_acquire,
                          memory_order_relaxed))
            return;
        for (int k = 0; k < pause; k++)
            gh__cpu_relax();
        if (pause < PAUSE_MAX)
            pause *= 2;
    }
    c = atomic_exchange_explicit(&l->v, 2, memory_order_acquire);
    while (c != 0) {
        futex_wait(&l->v, 2);
        c = atomic_exchange_explicit(&l->v, 2, memory_order_acquire);
    }
}

void gh__unlock_slow(gh__lock_t *l)
{
    atomic_store_explicit(&l->v, 0, memory_order_release);
    futex_wake(&l->v);
}

void gh__lock_unlock_cb(void *l)
{
    gh__unlock(l);
}
