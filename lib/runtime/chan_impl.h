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
    gh__chwait_t *head, *tail; /* FIFO; ch->mu */
} gh__waitq_t;

/* Everything a send or receive touches fits the first cache line (the
 * struct is 64-byte aligned): under contention between two workers each
 * operation moves one line, not two.  The buffer starts on a line of its
 * own. */
struct gh_chan {
    gh__lock_t mu;           /* guards everything below */
    bool closed;
    uint32_t esize;          /* element size, constant */
    uint32_t cap;            /* buffer slots, constant */
    uint32_t len;            /* buffered elements */
    uint32_t head;           /* slot of the oldest buffered element */
    unsigned char *buf;      /* cap * esize bytes after the struct */
    gh__waitq_t recvq;       /* blocked receivers */
    gh__waitq_t sendq;       /* blocked senders */
    /* Second line: rarely touched. */
    void *timer;             /* gh_after()'s timer, freed with the channel */
};

/* Operations on a locked channel (ch->mu held).  They never block and
 * never panic: 0 done, GH_EAGAIN (would block), GH_ECLOSED.  A peer that
 * must be readied is returned in *wake, to be readied (gh__ready) after
 * the lock is dropped. */
int gh__chan_send_locked(gh_chan_t *ch, const void *elem, gh__g_t **wake);
int gh__chan_recv_locked(gh_chan_t *ch, void *elem, gh__g_t **wake);
/* Would a send / receive proceed right now (closed counts as ready)?
 * Drops decided selects' stale records from the queue heads. */
bool gh__chan_send_ready(gh_chan_t *ch);
bool gh__chan_recv_ready(gh_chan_t *ch);
/* Queue w on ch's send or receive queue / remove it if still queued. */
void gh__waitq_push(gh__waitq_t *q, gh__chwait_t *w);
void gh__waitq_unlink(gh__waitq_t *q, gh__chwait_t *w);
/* gh_after()'s timer, from gh_chan_free (ticker.c). */
void gh__after_free(void *timer);

#endif /* GH_CHAN_IMPL_H */
