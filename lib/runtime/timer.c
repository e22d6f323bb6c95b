/*
 * timer.c - the monotonic clock, deadlines and sleeping.
 *
 * A sleeping goroutine arms a one-shot ev_timer on the loop of the worker it
 * runs on; the timer record lives on the goroutine's own stack, so sleeping
 * allocates nothing.  libev keeps each loop's timers in a 4-ary heap, so
 * thousands of sleepers per worker cost O(log n) each.  The loop's notion of
 * "now" is refreshed before the timer is armed: it may be stale when the
 * worker has been running goroutines, and a stale base makes timers fire
 * early.  Only the owning worker touches the timer: it fires in that
 * worker's ev_run, after the goroutine has parked.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <time.h>

#include "internal.h"

int64_t gh_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * GH_SECOND + ts.tv_nsec;
}

int64_t gh_deadline_in(int64_t ns)
{
    int64_t now = gh_now();

    if (ns == GH_FOREVER || ns > GH_FOREVER - now)
        return GH_FOREVER;
    return now + ns;
}

static void thread_sleep_until(int64_t deadline)
{
    struct timespec ts = {
        .tv_sec = (time_t)(deadline / GH_SECOND),
        .tv_nsec = (long)(deadline % GH_SECOND),
    };

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void sleep_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    gh__ready(t->data, 0);
}

void gh_sleep_until(int64_t deadline)
{
    gh__m_t *m = gh__cur_m();
    ev_timer t;
    int64_t now;

    if (!m || m->cur == &m->g0) {
        if (deadline != GH_FOREVER)
            thread_sleep_until(deadline);
        else
            for (;;)
                pause();
        return;
    }
    now = gh_now();
    if (deadline <= now) {
        gh_yield();
        return;
    }
    if (deadline == GH_FOREVER) {
        gh__park(GH__W_SLEEP, NULL, NULL); /* never readied */
        return;
    }
    ev_now_update(m->loop);
    ev_timer_init(&t, sleep_cb, (double)(deadline - now) / 1e9, 0.);
    t.data = m->cur;
    ev_timer_start(m->loop, &t);
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
