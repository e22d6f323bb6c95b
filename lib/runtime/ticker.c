/*
 * ticker.c - timers that deliver on channels: gh_after() and tickers.
 *
 * Each is a heap object holding a worker timer (timer.c) and a channel of
 * one int64_t slot.  The timer fires on its worker and offers gh_now() to
 * the channel without blocking: if the slot is still full the tick is
 * dropped, as Go's tickers drop ticks for a slow reader.  A ticker re-arms
 * itself from its own callback, keeping its phase.
 *
 * Stopping.  `stopped` (under mu) tells a callback that is about to run not
 * to deliver or re-arm; gh__timer_stop then removes a queued timer or waits
 * for a running callback to return, after which the object may be freed.
 * The stopper never holds mu while it waits, and the callback takes only mu,
 * the channel's lock and the timer heap's lock, in that order.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "chan_impl.h"

typedef struct chtimer {
    gh__timer_t t;      /* in a worker's heap while armed */
    gh__lock_t mu;      /* guards stopped and period */
    bool stopped;
    int64_t period;     /* 0: fire once */
    gh_chan_t *ch;      /* where ticks go */
} chtimer_t;

struct gh_ticker {
    chtimer_t ct;
};

/* The worker whose heap gets a new timer: the caller's, if it is one. */
static gh__m_t *timer_home(void)
{
    gh__m_t *m = gh__cur_m();

    return m ? m : gh__any_m();
}

static void chtimer_fire(gh__m_t *m, gh__timer_t *t)
{
    chtimer_t *ct = gh__container_of(t, chtimer_t, t);
    int64_t now = gh_now();
    gh__chwait_t *wakes = NULL;

    gh__lock(&ct->mu);
    if (ct->stopped) {
        gh__unlock(&ct->mu);
        return;
    }
    gh__lock(&ct->ch->mu);
    (void)gh__chan_send_locked(ct->ch, &now, &wakes); /* full: drop it */
    gh__unlock(&ct->ch->mu);
    if (ct->period > 0) {
        /* Next tick on the original phase, skipping the missed ones. */
        int64_t late = now - t->when;
        t->when += ct->period * (1 + late / ct->period);
        (void)gh__timer_start(m, t); /* no memory: the ticker stops */
    }
    gh__unlock(&ct->mu);
    gh__chan_wake(wakes, NULL);
}

static int chtimer_arm(chtimer_t *ct, int64_t first)
{
    gh__m_t *m = timer_home();

    if (!m)
        return GH_ENOMEM;
    ct->t = (gh__timer_t){.when = first, .idx = GH__TIMER_IDLE,
                          .fn = chtimer_fire};
    return gh__timer_start(m, &ct->t);
}

static void chtimer_disarm(chtimer_t *ct)
{
    gh__lock(&ct->mu);
    ct->stopped = true;
    gh__unlock(&ct->mu);
    gh__timer_stop(&ct->t);
}

/* ---- gh_after ---- */

gh_chan_t *gh_after(int64_t ns)
{
    chtimer_t *ct = calloc(1, sizeof(*ct));
    int rc;

    if (!ct || !(ct->ch = gh_chan_new(sizeof(int64_t), 1))) {
        free(ct);
        errno = ENOMEM;
        return NULL;
    }
    if ((rc = chtimer_arm(ct, gh_deadline_in(ns))) < 0) {
        gh_chan_free(ct->ch);
        free(ct);
        errno = -rc;
        return NULL;
    }
    ct->ch->timer = ct;
    return ct->ch;
}

void gh__after_free(void *timer)
{
    chtimer_t *ct = timer;

    chtimer_disarm(ct);
    free(ct);
}

/* ---- tickers ---- */

gh_ticker_t *gh_ticker_new(int64_t period)
{
    gh_ticker_t *tk;
    int rc;

    if (period <= 0) {
        errno = EINVAL;
        return NULL;
    }
    if (!(tk = calloc(1, sizeof(*tk))) ||
        !(tk->ct.ch = gh_chan_new(sizeof(int64_t), 1))) {
        free(tk);
        errno = ENOMEM;
        return NULL;
    }
    tk->ct.period = period;
    if ((rc = chtimer_arm(&tk->ct, gh_deadline_in(period))) < 0) {
        gh_chan_free(tk->ct.ch);
        free(tk);
        errno = -rc;
        return NULL;
    }
    return tk;
}

gh_chan_t *gh_ticker_chan(const gh_ticker_t *t)
{
    return t->ct.ch;
}

int gh_ticker_reset(gh_ticker_t *t, int64_t period)
{
    if (period <= 0)
        return GH_EINVAL;
    chtimer_disarm(&t->ct);
    gh__lock(&t->ct.mu);
    t->ct.period = period;
    t->ct.stopped = false;
    gh__unlock(&t->ct.mu);
    return chtimer_arm(&t->ct, gh_deadline_in(period));
}

void gh_ticker_stop(gh_ticker_t *t)
{
    if (!t)
        return;
    chtimer_disarm(&t->ct);
    gh_chan_free(t->ct.ch);
    free(t);
}
