/*
 * blocking.c - the thread pool behind gh_blocking().
 *
 * Work that has no non-blocking form (open/stat on a slow disk,
 * getaddrinfo, a library that blocks) runs here while the goroutine that
 * asked for it parks, so the worker threads keep running other goroutines.
 * A job lives on the waiting goroutine's stack.  It is queued under qlock
 * and the goroutine parks with qlock as its unlock, so a pool thread can
 * only take (and later ready) a goroutine that has already switched out.
 * Pool threads sleep on a counting semaphore with one count per queued job.
 *
 * Threads are started on demand up to GH_BLOCKING_THREADS (default 64) and
 * leave after 30 s without work, so an idle process keeps none.  A thread
 * leaves only after re-checking the queue under qlock, and a spawner counts
 * threads under the same lock, so a queued job always has a taker.
 */
#include "config.h"

#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

#define IDLE_EXIT_SECONDS 30

typedef struct job {
    struct job *next;
    gh_blocking_fn fn;
    void *arg;
    gh__g_t *g;
} job_t;

static gh__lock_t qlock = GH__LOCK_INIT;
static job_t *head, *tail;   /* under qlock */
static int nqueued;          /* jobs in the queue; under qlock */
static int nthreads;         /* under qlock */
static _Atomic int nidle;    /* threads waiting on jobs_sem */
static sem_t jobs_sem;       /* one count per queued job */
static int max_threads;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
_Atomic int64_t gh__blocking_threads;

static void pool_init(void)
{
    sem_init(&jobs_sem, 0, 0);
    max_threads = (int)gh__env_long("GH_BLOCKING_THREADS", 64, 1, 4096);
}

static job_t *dequeue(void)
{
    job_t *j = head;

    if (j) {
        nqueued--;
        head = j->next;
        if (!head)
            tail = NULL;
    }
    return j;
}

/* Wait for a job; NULL means this thread should leave. */
static job_t *next_job(void)
{
    struct timespec until;
    job_t *j;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += IDLE_EXIT_SECONDS;
    for (;;) {
        atomic_fetch_add(&nidle, 1);
        int rc = sem_timedwait(&jobs_sem, &until);
        int e = errno;
        atomic_fetch_sub(&nidle, 1);
        if (rc != 0 && e == EINTR)
            continue;
        gh__lock(&qlock);
        j = dequeue();
        if (!j && rc != 0) { /* timed out with nothing to do: leave */
            nthreads--;
            atomic_fetch_sub(&gh__blocking_threads, 1);
        }
        gh__unlock(&qlock);
        if (j || rc != 0)
            return j;
    }
}

static void *pool_main(void *unused)
{
    job_t *j;

    while ((j = next_job())) {
        gh__g_t *g = j->g; /* j is gone once g runs again */
        gh__ready(g, j->fn(j->arg));
    }
    return NULL;
}

/* Start a pool thread unless idle ones outnumber the queued jobs (counting
 * the one about to be queued) or the limit is reached.  qlock held.  A
 * thread woken for a job still counts as idle until it dequeues it, and
 * the job still counts as queued, so the comparison holds meanwhile.
 * Returns false when no thread exists and none could be started. */
static bool pool_grow(void)
{
    pthread_t t;
    pthread_attr_t attr;
    sigset_t old;
    bool ok;

    if (atomic_load(&nidle) > nqueued || nthreads >= max_threads)
        return true;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    gh__block_signals(&old);
    ok = pthread_create(&t, &attr, pool_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (ok) {
        nthreads++;
        atomic_fetch_add(&gh__blocking_threads, 1);
    }
    return ok || nthreads > 0;
}

int gh_blocking(gh_blocking_fn fn, void *arg)
{
    job_t j = {NULL, fn, arg, NULL};

    if (!gh_in_goroutine())
        return fn(arg);
    pthread_once(&pool_once, pool_init);
    j.g = gh__cur_g();
    gh__lock(&qlock);
    if (!pool_grow()) {
        /* No thread at all and none can start: run it here, not never. */
        gh__unlock(&qlock);
        return fn(arg);
    }
    if (tail)
        tail->next = &j;
    else
        head = &j;
    tail = &j;
    nqueued++;
    sem_post(&jobs_sem);
    return gh__park(GH__W_BLOCKING, gh__lock_unlock_cb, &qlock);
}
