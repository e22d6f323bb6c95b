/*
 * chan_impl.h - the channel's insides, shared by chan.c, select.c and
 * ticker.c (never installed).
 *
 * A goroutine (or thread) that must wait on a channel links a wait record
 * (gh__chwait) into the channel's receive or send queue, under the
 * channel's lock, and parks.  Every record points at a gh__sel, which says
 * who waits and whether the wait is already decided: a plain send or receive
 * has one record, a select one per case, all sharing the select's gh__sel.
 * A peer that finds a record takes it out of the queue and claims the wait
 * with a CAS on sel->done (0 -> case index + 1); only the winner of that CAS
 * moves data and readies the waiter.  A record whose CAS fails belongs to a
 * select that another case (or its deadline) already decided: the peer just
 * drops it from the queue and looks at the next one.  The records and the
 * gh__sel live on the waiter's stack, so waiting allocates nothing.
 */
#ifndef GH_CHAN_IMPL_H
#define GH_CHAN_IMPL_H

#include "internal.h"

/* sel->done when the deadline won. */
#define GH__SEL_TIMEOUT UINT32_MAX

typedef struct gh__sel {
    gh__g_t *g;              /* the waiter; constant while it waits */
    _Atomic uint32_t done;   /* 0 undecided, case index + 1, or TIMEOUT */
    bool solo;               /* a plain send/receive: one record, no
                              * deadline, so the claim needs no CAS */
} gh__sel_t;
/* Small on purpose: it and the records are in the frame of every blocked
 * send and receive, which the waker and the resumed goroutine touch (a
 * select's deadline timer lives beside it, in wait_cases()). */

/* A wait record: one per case of a waiting select, on the waiter's stack
 * (select.c), or the one of a plain send or receive (chan.c). */
typedef struct gh__chwait {
    struct gh__chwait *next; /* in the channel's queue; ch->mu */
    struct gh__chwait *prev; /* ditto */
    gh__sel_t *sel;          /* the wait this record belongs to */
    void *val;               /* send: the value; receive: where it goes
                              * (may be NULL) */
    uint32_t idx;            /* case index (0 for a plain send/receive) */
    bool queued;             /* linked in a queue; ch->mu */
    bool ok;                 /* set by the winner: false if closed */
} gh__chwait_t;

typedef struct gh__waitq {
    /* FIFO; ch->mu.  The head is atomic only so that select's first look,
     * without the lock, may see whether anyone waits (gh__chan_peek_*). */
    _Atomic(gh__chwait_t *) head;
    gh__chwait_t *tail;
} gh__waitq_t;

/*
 * A buffered channel's elements live in a ring of cap slots that senders
 * and receivers use without the lock while nobody waits (chan.c explains
 * the protocol).  The struct's first cache line holds everything an
 * unbuffered channel needs and what every operation reads: the lock, the
 * wait queues and the constants; a buffered channel's lock-free
 * operations only read it (it is written when somebody waits).  The
 * senders' tail and the receivers' head have a line each, after it, and
 * the slots follow; an unbuffered channel has none of these.
 */
typedef struct gh__chring {
    _Alignas(64) _Atomic uint64_t tail; /* stamp << 2 | SENDW | CLOSED */
    uint64_t tail_lap;                  /* one_lap (constant) */
    _Alignas(64) _Atomic uint64_t head; /* stamp << 1 | RECVW */
    uint64_t head_lap;                  /* one_lap again */
} gh__chring_t;
/* one_lap is kept on both ends' lines, where their stamp arithmetic
 * needs it: computing it from cap at every operation cost 5 ns. */

struct gh_chan {
    gh__lock_t mu;               /* guards closed and the queues */
    _Atomic bool closed;         /* written under mu, peeked without */
    uint32_t esize;              /* element size, constant */
    uint32_t cap;                /* ring slots, constant */
    gh__waitq_t recvq;           /* blocked receivers */
    gh__waitq_t sendq;           /* blocked senders */
    _Atomic uint32_t waiters;    /* GH__CH_RECVW | GH__CH_SENDW: a queue is
                                  * not empty; written under mu */
    uint32_t stride;             /* bytes per ring slot, constant */
    gh__chring_t *r;             /* the ends, then the slots (cap > 0) */
    /* Second line: rarely touched. */
    void *timer;                 /* gh_after()'s timer, freed with ch */
};

#define GH__CH_RECVW 1u
#define GH__CH_SENDW 2u

/*
 * Operations on a locked channel (ch->mu held).  They never block and
 * never panic: 0 done, GH_EAGAIN (would block), GH_ECLOSED.  Waiters they
 * served are chained on *wakes (through their next field), to be readied
 * with gh__chan_wake() once the lock is dropped.
 */
int gh__chan_send_locked(gh_chan_t *ch, const void *elem,
                         gh__chwait_t **wakes);
int gh__chan_recv_locked(gh_chan_t *ch, void *elem, gh__chwait_t **wakes);
/* Would a send / receive proceed right now (closed counts as ready)?
 * Drops decided selects' stale records from the queue heads. */
bool gh__chan_send_ready(gh_chan_t *ch);
bool gh__chan_recv_ready(gh_chan_t *ch);
/* Queue w on ch's receive (recv) or send queue / take it out if still
 * queued.  After queueing, a waiter calls gh__chan_settle() before it
 * parks: the ring may have changed under it, and the settle may serve w
 * itself (w->sel->done is then set). */
void gh__chan_wait_push(gh_chan_t *ch, gh__chwait_t *w, bool recv);
void gh__chan_wait_unlink(gh_chan_t *ch, gh__chwait_t *w, bool recv);
/* Serve waiters from the ring: buffered values to blocked receivers, free
 * slots to blocked senders. */
void gh__chan_settle(gh_chan_t *ch, gh__chwait_t **wakes);
/* Ready the goroutines of the records on list, but skip's (a waiter's own
 * wait, which a settle served before it parked). */
void gh__chan_wake_list(gh__chwait_t *list, const gh__sel_t *skip);

static inline void gh__chan_wake(gh__chwait_t *list, const gh__sel_t *skip)
{
    if (list)
        gh__chan_wake_list(list, skip);
}
/* A queue's first record, and ch->closed: relaxed loads, under the lock
 * or as a peek without it. */
static inline gh__chwait_t *gh__q_head(const gh__waitq_t *q)
{
    return atomic_load_explicit(&q->head, memory_order_relaxed);
}

static inline bool gh__chan_closed(const gh_chan_t *ch)
{
    return atomic_load_explicit(&ch->closed, memory_order_relaxed);
}

/* Without the lock: a value / a free slot in a buffered channel's ring? */
bool gh__chan_peek_value(const gh_chan_t *ch);
bool gh__chan_peek_room(const gh_chan_t *ch);

/* Without the lock: would a receive / send proceed now?  A guess, stale
 * either way under races, for select's first look (select.c); the locked
 * operation decides. */
static inline bool gh__chan_peek_recv(const gh_chan_t *ch)
{
    if (gh__chan_closed(ch) || gh__q_head(&ch->sendq))
        return true;
    return ch->cap && gh__chan_peek_value(ch);
}

static inline bool gh__chan_peek_send(const gh_chan_t *ch)
{
    if (gh__chan_closed(ch) || gh__q_head(&ch->recvq))
        return true;
    return ch->cap && !gh__q_head(&ch->sendq) && gh__chan_peek_room(ch);
}

/* gh_after()'s timer, from gh_chan_free (ticker.c). */
void gh__after_free(void *timer);

#endif /* GH_CHAN_IMPL_H */
