/*
 * timer.c - the monotonic clock, deadlines, sleeping, and each worker's
 * timer heap.
 *
 * Every worker keeps its own binary min-heap of gh__timer records (sleeps,
 * I/O and select deadlines, channel timers).  A record lives on the stack
 * of the goroutine that waits, so sleeping allocates nothing but a heap
 * slot.  Only the owner fires its timers, but the heap is under a lock so
 * that a goroutine that resumed on another worker can stop the timer it
 * started (and a thread outside the runtime can start one): stopping waits
 * while the timer's fn runs (tfiring), so that the record can die as soon
 * as gh__timer_stop returns.  Due timers fire when the worker polls (about
 * every 250 us while busy: see poll_if_due in sched.c; and whenever it runs
 * out of work), and what they ready goes to the worker's lane, ahead of its
 * run queue.  Before the worker blocks in its event loop it arms a timerfd to
 * the earliest deadline with nanosecond precision: libev's own timers wake
 * epoll_wait on whole milliseconds, which made a 1 ms sleep last up to 2 ms.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int64_t gh_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * GH_SECOND + ts.tv_nsec;
}

int64_t gh__now_coarse(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * GH_SECOND + ts.tv_nsec;
}

int64_t gh_deadline_in(int64_t ns)
{
    int64_t now = gh_now();

    if (ns == GH_FOREVER || ns > GH_FOREVER - now)
        return GH_FOREVER;
    return now + ns;
}

/* ---- the heap ---- */

static void heap_set(gh__m_t *m, size_t i, gh__timer_t *t)
{
    m->theap[i] = t;
    t->idx = i;
}

static void sift_up(gh__m_t *m, size_t i)
{
    gh__timer_t *t = m->theap[i];

    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (m->theap[p]->when <= t->when)
            break;
        heap_set(m, i, m->theap[p]);
        i = p;
    }
    heap_set(m, i, t);
}

static void sift_down(gh__m_t *m, size_t i)
{
    gh__timer_t *t = m->theap[i];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m->tlen)
            break;
        if (c + 1 < m->tlen && m->theap[c + 1]->when < m->theap[c]->when)
            c++;
        if (t->when <= m->theap[c]->when)
            break;
        heap_set(m, i, m->theap[c]);
        i = c;
    }
    heap_set(m, i, t);
}

int gh__timer_start(gh__m_t *m, gh__timer_t *t)
{
    bool first;

    gh__lock(&m->tlock);
    if (m->tlen == m->tcap) {
        size_t ncap = m->tcap ? m->tcap * 2 : 256;
        gh__timer_t **n = realloc(m->theap, ncap * sizeof(*n));
        if (!n) {
            gh__unlock(&m->tlock);
            return GH_ENOMEM;
        }
        m->theap = n;
        m->tcap = ncap;
    }
    t->m = m;
    heap_set(m, m->tlen++, t);
    sift_up(m, t->idx);
    first = t->idx == 0;
    gh__unlock(&m->tlock);
    /* The owner arms its timerfd before it blocks; a timer added by another
     * thread that is now the earliest must wake it to re-arm. */
    if (first && gh__cur_m() != m)
        ev_async_send(m->loop, (ev_async *)m->wake);
    return 0;
}

/* Remove t from m's heap; tlock held. */
static bool heap_remove(gh__m_t *m, gh__timer_t *t)
{
    size_t i = t->idx;

    if (i == GH__TIMER_IDLE)
        return false;
    t->idx = GH__TIMER_IDLE;
    if (i == --m->tlen)
        return true;
    heap_set(m, i, m->theap[m->tlen]);
    if (i > 0 && m->theap[i]->when < m->theap[(i - 1) / 2]->when)
        sift_up(m, i);
    else
        sift_down(m, i);
    return true;
}

bool gh__timer_stop(gh__timer_t *t)
{
    gh__m_t *m = t->m;
    bool removed;

    if (!m)
        return false; /* never started */
    gh__lock(&m->tlock);
    removed = heap_remove(m, t);
    gh__unlock(&m->tlock);
    if (removed || gh__cur_m() == m)
        return removed;
    /* It fired or is firing on its owner: wait until its fn has returned,
     * so the caller may free the record.  Timer functions are short and
     * never wait for anything a timer's stopper could hold. */
    while (atomic_load_explicit(&m->tfiring, memory_order_acquire) == t)
        sched_yield();
    return false;
}

void gh__timers_run(gh__m_t *m)
{
    int64_t now;

    gh__lock(&m->tlock);
    if (m->tlen == 0) {
        gh__unlock(&m->tlock);
        return;
    }
    now = gh_now();
    while (m->tlen > 0 && m->theap[0]->when <= now) {
        gh__timer_t *t = m->theap[0];
        heap_remove(m, t);
        atomic_store_explicit(&m->tfiring, t, memory_order_relaxed);
        gh__unlock(&m->tlock);
        t->fn(m, t);
        atomic_store_explicit(&m->tfiring, NULL, memory_order_release);
        gh__lock(&m->tlock);
    }
    gh__unlock(&m->tlock);
}

/* ---- the timerfd that wakes a blocked worker ---- */

static void tfd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    uint64_t n;

    (void)!read(w->fd, &n, sizeof(n)); /* drain; timers run after ev_run */
}

int gh__timers_init(gh__m_t *m)
{
    ev_io *w;

    m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (m->tfd < 0)
        return -errno;
    if (!(w = calloc(1, sizeof(*w)))) {
        close(m->tfd);
        return GH_ENOMEM;
    }
    ev_io_init(w, tfd_cb, m->tfd, EV_READ);
    ev_io_start(m->loop, w);
    m->tfd_io = w;
    m->tfd_armed = GH_FOREVER;
    return 0;
}

void gh__timers_arm(gh__m_t *m)
{
    struct itimerspec its = {{0, 0}, {0, 0}};
    int64_t when;

    gh__lock(&m->tlock);
    when = m->tlen ? m->theap[0]->when : GH_FOREVER;
    gh__unlock(&m->tlock);

    if (when == m->tfd_armed)
        return;
    if (when != GH_FOREVER) {
        its.it_value.tv_sec = (time_t)(when / GH_SECOND);
        its.it_value.tv_nsec = (long)(when % GH_SECOND);
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1; /* zero would disarm */
    }
    if (timerfd_settime(m->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        m->tfd_armed = when;
}

/* ---- sleeping ---- */

static void thread_sleep_until(int64_t deadline)
{
    struct timespec ts = {
        .tv_sec = (time_t)(deadline / GH_SECOND),
        .tv_nsec = (long)(deadline % GH_SECOND),
    };

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void sleep_fire(gh__m_t *m, gh__timer_t *t)
{
    gh__ready(t->data, 0);
}

void gh_sleep_until(int64_t deadline)
{
    gh__m_t *m = gh__cur_m();
    gh__timer_t t;

    if (!m || m->cur == &m->g0) {
        if (deadline != GH_FOREVER)
            thread_sleep_until(deadline);
        else
            for (;;)
                pause();
        return;
    }
    if (deadline <= gh_now()) {
        gh_yield();
        return;
    }
    if (deadline == GH_FOREVER) {
        gh__park(GH__W_SLEEP, NULL, NULL); /* never readied */
        return;
    }
    t = (gh__timer_t){.when = deadline, .idx = GH__TIMER_IDLE,
                      .fn = sleep_fire, .data = m->cur};
    while (gh__timer_start(m, &t) < 0) {
        /* No memory for a heap slot: wait it out by yielding. */
        if (gh_now() >= deadline)
            return;
        gh_yield();
        m = gh__cur_m();
    }
    gh__park(GH__W_SLEEP, NULL, NULL);
}

void gh_sleep(int64_t ns)
{
    if (ns <= 0) {
        gh_yield();
        return;
    }
    gh_sleep_until(gh_deadline_in(ns));
}
