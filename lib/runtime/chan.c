/*
 * chan.c - channels: buffered and unbuffered, close, and the plain
 * (single-case) send and receive.
 *
 * An unbuffered channel is a lock and two FIFO queues of waiting records
 * (see chan_impl.h for the claiming protocol).  A buffered one adds a ring
 * of cap slots, which senders and receivers use without the lock while
 * nobody waits: an operation then touches the ring's lines and its own
 * end's line, never a line the other end writes every time.  The
 * invariants:
 *   - receivers wait only while the ring is empty, and senders only while
 *     it is full (for cap 0: always "full"), so at most one queue holds live
 *     records;
 *   - a value always goes to the longest-waiting receiver, or into the
 *     ring; a receiver always takes the oldest value in the ring, and a
 *     blocked sender's value goes into the ring only once no older one is
 *     waiting, so FIFO order holds across the ring and the queue;
 *   - once closed, nobody waits: close hands every waiting receiver the zero
 *     value (ok = false) and every waiting sender "closed", which makes it
 *     panic once it runs again.
 *
 * The ring.  Positions are stamps, lap * one_lap + index (one_lap a power of
 * two above cap), so they grow monotonically and need no division.  The
 * tail word holds the next stamp to fill and two bits: SENDW (senders are
 * queued: no sender may overtake them) and CLOSED.  A sender reserves the
 * slot with a CAS on the tail and publishes its value in the slot's own
 * stamp, and that store is the last thing it does to the channel: a
 * receiver may free the channel as soon as it has the value.  The head
 * word holds the next stamp to take and RECVW (receivers are queued: the
 * ring's values are theirs); a receiver claims a slot with a CAS on the
 * head, copies the value out and marks the slot free for the next lap.
 *
 * Waiting.  A waiter queues its record and sets its bit in the end word
 * (which stops the lock-free operations that would overtake it: their CAS
 * fails) and in ch->waiters (which the other end reads), then looks at the
 * ring again (gh__chan_settle) before it parks.  A sender reads
 * ch->waiters after its reservation, a receiver after its claim; these,
 * the waiter's bit and its look at the ring are sequentially consistent,
 * so either the waiter sees the operation or the operation sees the
 * waiter.  A receiver that sees a waiting sender takes the lock and
 * settles once it is done.  A sender that sees a waiting receiver must not
 * publish a value that the receiver may never look for: it publishes a
 * hole instead (receivers skip it) and sends the slow way.  A waiter that
 * sees a reserved slot not yet published spins until it is: the sender
 * needs nothing to finish.  Settling, and anything else that moves values
 * or slots while holding the lock, cannot race a lock-free operation it
 * would confuse, since the bits keep those out.
 *
 * Freeing.  A lock-free send ends with its publishing store, and a locked
 * one with the unlock, which gh_chan_free waits for by taking the lock
 * itself.  So "the peer it served may free the channel" holds on every
 * path.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chan_impl.h"

#define BUF_MAX ((size_t)1 << 30)

/* What every operation reads fits the struct's first line. */
_Static_assert(offsetof(struct gh_chan, timer) == 64, "gh_chan's first line");

/* ---- wait queues ---- */

static inline void q_set_head(gh__waitq_t *q, gh__chwait_t *w)
{
    atomic_store_explicit(&q->head, w, memory_order_relaxed);
}

static void waitq_push(gh__waitq_t *q, gh__chwait_t *w)
{
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q_set_head(q, w);
    q->tail = w;
    w->queued = true;
}

static void waitq_unlink(gh__waitq_t *q, gh__chwait_t *w)
{
    if (!w->queued)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        q_set_head(q, w->next);
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->queued = false;
}

/* Take the first record whose wait we can still claim, claiming it. */
static gh__chwait_t *waitq_claim(gh__waitq_t *q)
{
    gh__chwait_t *w;

    while ((w = gh__q_head(q))) {
        uint32_t undecided = 0;
        waitq_unlink(q, w);
        if (w->sel->solo) {
            /* Nobody else can see this record: it is in this queue only
             * and we hold the queue's lock. */
            atomic_store_explicit(&w->sel->done, w->idx + 1,
                                  memory_order_relaxed);
            return w;
        }
        if (atomic_compare_exchange_strong_explicit(
                &w->sel->done, &undecided, w->idx + 1, memory_order_acq_rel,
                memory_order_acquire))
            return w;
    }
    return NULL;
}

/* Is some record at q's head still claimable?  Drops decided ones. */
static bool waitq_live(gh__waitq_t *q)
{
    gh__chwait_t *w;

    while ((w = gh__q_head(q))) {
        if (atomic_load_explicit(&w->sel->done, memory_order_acquire) == 0)
            return true;
        waitq_unlink(q, w);
    }
    return false;
}

/* ---- the ring ---- */

#define T_SENDW ((uint64_t)1)
#define T_CLOSED ((uint64_t)2)
#define T_SHIFT 2
#define H_RECVW ((uint64_t)1)
#define H_SHIFT 1
#define S_HOLE ((uint64_t)1 << 63)

/* A slot's stamp is st when it is free to fill at stamp st, st + 1 once it
 * holds that stamp's value, and (st + 1) | S_HOLE when its sender gave it
 * up instead (receivers skip it). */
typedef struct ring_slot {
    _Atomic uint64_t stamp;
    unsigned char data[];
} ring_slot_t;

/* Word-sized elements (pointers, ints) are moved inline rather than
 * through a call to memcpy. */
static inline void copy_elem(const gh_chan_t *ch, void *dst, const void *src)
{
    if (!dst)
        return;
    switch (ch->esize) {
    case 0:
        break;
    case 4:
        memcpy(dst, src, 4);
        break;
    case 8:
        memcpy(dst, src, 8);
        break;
    case 16:
        memcpy(dst, src, 16);
        break;
    default:
        memcpy(dst, src, ch->esize);
    }
}

/* The stamp's lap unit: the smallest power of two above cap.  Senders
 * read it beside the tail, receivers beside the head. */
static inline uint64_t one_lap(const gh_chan_t *ch)
{
    return ch->r->head_lap;
}

static inline ring_slot_t *slot_in(const gh_chan_t *ch, uint64_t lap,
                                   uint64_t stamp)
{
    return (ring_slot_t *)((unsigned char *)(ch->r + 1) +
                           (size_t)(stamp & (lap - 1)) * ch->stride);
}

static inline ring_slot_t *slot_at(const gh_chan_t *ch, uint64_t stamp)
{
    return slot_in(ch, one_lap(ch), stamp);
}

static inline uint64_t stamp_after(const gh_chan_t *ch, uint64_t lap,
                                   uint64_t stamp)
{
    if ((stamp & (lap - 1)) + 1 < ch->cap)
        return stamp + 1;
    return (stamp & ~(lap - 1)) + lap;
}

static inline uint64_t stamp_next(const gh_chan_t *ch, uint64_t stamp)
{
    return stamp_after(ch, one_lap(ch), stamp);
}

/* How far stamp a is past b (negative: before it), the hole bit aside. */
static inline int64_t stamp_diff(uint64_t a, uint64_t b)
{
    return (int64_t)((a & ~S_HOLE) - b);
}

/* Waiting for another thread's few instructions (a sender between its
 * reservation and its publication, a receiver that has not marked its
 * slot free yet): spin, and yield should that thread have been
 * preempted. */
static void spin(unsigned *n)
{
    if (++*n < 64)
        gh__cpu_relax();
    else
        sched_yield();
}

/* Another sender (receiver) got the end first: back off before trying
 * again, longer each time, so that the winner makes a few more steps with
 * the end's line in its cache instead of losing it at every one. */
#define BACKOFF_MAX 64 /* pauses: 1.9 us here */
static void backoff(unsigned *b)
{
    for (unsigned i = 0; i < *b; i++)
        gh__cpu_relax();
    if (*b < BACKOFF_MAX)
        *b *= 2;
}

/*
 * Put elem into the ring: true, or false when the ring is full or the
 * channel closed.  Without the lock (locked false) it also fails when
 * senders are queued or receivers wait: those go the slow way.
 */
static bool ring_put(gh_chan_t *ch, const void *elem, bool locked)
{
    uint64_t t = atomic_load_explicit(&ch->r->tail, memory_order_relaxed);
    uint64_t lap = ch->r->tail_lap, st, ss;
    ring_slot_t *s;
    unsigned b = 1;

    for (;;) {
        if ((t & T_CLOSED) || (!locked && (t & T_SENDW)))
            return false;
        st = t >> T_SHIFT;
        s = slot_in(ch, lap, st);
        ss = atomic_load_explicit(&s->stamp, memory_order_acquire);
        if (ss == st) {
            if (atomic_compare_exchange_weak_explicit(
                    &ch->r->tail, &t,
                    (stamp_after(ch, lap, st) << T_SHIFT) |
                        (t & (T_SENDW | T_CLOSED)),
                    memory_order_seq_cst, memory_order_relaxed))
                break;
            backoff(&b);
            continue;
        }
        /* Last lap's value is still there, or its receiver has not
         * finished with it: full for now. */
        if (stamp_diff(ss, st) < 0)
            return false;
        /* Another sender took st. */
        backoff(&b);
        t = atomic_load_explicit(&ch->r->tail, memory_order_relaxed);
    }
    /* The slot is ours.  Receivers wait: then they may not see it, so
     * give it up and serve them the slow way. */
    if (!locked && (atomic_load_explicit(&ch->waiters, memory_order_seq_cst) &
                    GH__CH_RECVW)) {
        atomic_store_explicit(&s->stamp, (st + 1) | S_HOLE,
                              memory_order_release);
        return false;
    }
    copy_elem(ch, s->data, elem);
    /* The last touch: a receiver may free the channel once it has this. */
    atomic_store_explicit(&s->stamp, st + 1, memory_order_release);
    return true;
}

/* Take the oldest value into elem: true, or false when the ring is empty
 * (or its oldest slot is still being filled).  Without the lock it also
 * fails when receivers wait. */
static bool ring_take(gh_chan_t *ch, void *elem, bool locked)
{
    uint64_t h = atomic_load_explicit(&ch->r->head, memory_order_relaxed);
    uint64_t lap = ch->r->head_lap, st, ss;
    ring_slot_t *s;
    unsigned b = 1;

    for (;;) {
        if (!locked && (h & H_RECVW))
            return false;
        st = h >> H_SHIFT;
        s = slot_in(ch, lap, st);
        ss = atomic_load_explicit(&s->stamp, memory_order_acquire);
        if (stamp_diff(ss, st + 1) == 0) {
            if (!atomic_compare_exchange_weak_explicit(
                    &ch->r->head, &h,
                    (stamp_after(ch, lap, st) << H_SHIFT) | (h & H_RECVW),
                    memory_order_seq_cst, memory_order_relaxed)) {
                backoff(&b);
                continue;
            }
            if (!(ss & S_HOLE))
                break;
            atomic_store_explicit(&s->stamp, st + lap, memory_order_release);
            h = atomic_load_explicit(&ch->r->head, memory_order_relaxed);
            continue;
        }
        if (stamp_diff(ss, st + 1) < 0)
            return false; /* nothing at st yet */
        /* Another receiver took st. */
        backoff(&b);
        h = atomic_load_explicit(&ch->r->head, memory_order_relaxed);
    }
    copy_elem(ch, elem, s->data);
    atomic_store_explicit(&s->stamp, st + lap, memory_order_release);
    return true;
}

/* Locked, with RECVW set (no lock-free receiver can move the head): is
 * there a value to take?  Skips holes, and waits out a sender between its
 * reservation and its publication: it may have missed the bit. */
static bool ring_has_value(gh_chan_t *ch)
{
    unsigned n = 0;

    for (;;) {
        uint64_t h = atomic_load_explicit(&ch->r->head, memory_order_seq_cst);
        uint64_t st = h >> H_SHIFT;
        ring_slot_t *s = slot_at(ch, st);
        uint64_t ss = atomic_load_explicit(&s->stamp, memory_order_acquire);

        if (ss == st + 1)
            return true;
        if (ss == ((st + 1) | S_HOLE)) {
            atomic_store_explicit(&ch->r->head,
                                  (stamp_next(ch, st) << H_SHIFT) | H_RECVW,
                                  memory_order_seq_cst);
            atomic_store_explicit(&s->stamp, st + one_lap(ch),
                                  memory_order_release);
            continue;
        }
        if ((atomic_load_explicit(&ch->r->tail, memory_order_seq_cst) >>
             T_SHIFT) == st)
            return false;
        spin(&n);
    }
}

/* Locked, with SENDW set (no lock-free sender can move the tail): is the
 * slot at the tail free?  Waits out a receiver that has taken the slot
 * but not yet marked it free: it may have missed the bit. */
static bool ring_has_room(gh_chan_t *ch)
{
    uint64_t st = atomic_load_explicit(&ch->r->tail, memory_order_seq_cst) >>
                  T_SHIFT;
    ring_slot_t *s = slot_at(ch, st);
    unsigned n = 0;

    for (;;) {
        if (atomic_load_explicit(&s->stamp, memory_order_acquire) == st)
            return true;
        /* Full while the head is a lap behind. */
        if ((atomic_load_explicit(&ch->r->head, memory_order_seq_cst) >>
             H_SHIFT) + one_lap(ch) == st)
            return false;
        spin(&n);
    }
}

/* Locked, closing (no sender can reserve a slot any more): wait until
 * every reserved slot is published. */
static void ring_wait_published(gh_chan_t *ch)
{
    uint64_t st = atomic_load_explicit(&ch->r->head, memory_order_acquire) >>
                  H_SHIFT;
    uint64_t end = atomic_load_explicit(&ch->r->tail, memory_order_acquire) >>
                   T_SHIFT;
    unsigned n = 0;

    for (; st != end; st = stamp_next(ch, st))
        while (atomic_load_explicit(&slot_at(ch, st)->stamp,
                                    memory_order_acquire) == st)
            spin(&n);
}

/* A value to take without waiting?  (Racy unless RECVW is set.) */
bool gh__chan_peek_value(const gh_chan_t *ch)
{
    uint64_t st = atomic_load_explicit(&ch->r->head, memory_order_relaxed) >>
                  H_SHIFT;

    return atomic_load_explicit(&slot_at(ch, st)->stamp,
                                memory_order_acquire) == st + 1;
}

/* A slot to fill without waiting?  (Racy unless SENDW is set.) */
bool gh__chan_peek_room(const gh_chan_t *ch)
{
    uint64_t st = atomic_load_explicit(&ch->r->tail, memory_order_relaxed) >>
                  T_SHIFT;

    return atomic_load_explicit(&slot_at(ch, st)->stamp,
                                memory_order_acquire) == st;
}

/* ---- waiter bits ---- */

static void chain(gh__chwait_t **list, gh__chwait_t *w)
{
    w->next = *list;
    *list = w;
}

/* Locked: clear the bits of queues that became empty. */
static void bits_sync(gh_chan_t *ch)
{
    uint32_t w = atomic_load_explicit(&ch->waiters, memory_order_relaxed);
    uint32_t keep = w;

    if ((w & GH__CH_RECVW) && !gh__q_head(&ch->recvq)) {
        atomic_fetch_and_explicit(&ch->r->head, ~H_RECVW, memory_order_release);
        keep &= ~GH__CH_RECVW;
    }
    if ((w & GH__CH_SENDW) && !gh__q_head(&ch->sendq)) {
        atomic_fetch_and_explicit(&ch->r->tail, ~T_SENDW, memory_order_release);
        keep &= ~GH__CH_SENDW;
    }
    if (keep != w)
        atomic_store_explicit(&ch->waiters, keep, memory_order_release);
}

/* A buffered channel's first waiter at an end sets the end's bits. */
static void bits_set(gh_chan_t *ch, bool recv)
{
    uint32_t bit = recv ? GH__CH_RECVW : GH__CH_SENDW;

    if (atomic_load_explicit(&ch->waiters, memory_order_relaxed) & bit)
        return;
    if (recv)
        atomic_fetch_or_explicit(&ch->r->head, H_RECVW, memory_order_seq_cst);
    else
        atomic_fetch_or_explicit(&ch->r->tail, T_SENDW, memory_order_seq_cst);
    atomic_fetch_or_explicit(&ch->waiters, bit, memory_order_seq_cst);
}

static inline void wait_push(gh_chan_t *ch, gh__chwait_t *w, bool recv)
{
    waitq_push(recv ? &ch->recvq : &ch->sendq, w);
    if (ch->cap)
        bits_set(ch, recv);
}

void gh__chan_wait_push(gh_chan_t *ch, gh__chwait_t *w, bool recv)
{
    wait_push(ch, w, recv);
}

void gh__chan_wait_unlink(gh_chan_t *ch, gh__chwait_t *w, bool recv)
{
    waitq_unlink(recv ? &ch->recvq : &ch->sendq, w);
    if (ch->cap)
        bits_sync(ch);
}

void gh__chan_settle(gh_chan_t *ch, gh__chwait_t **wakes)
{
    gh__chwait_t *w;
    bool filled;

    if (!ch->cap)
        return;
    /* Both queues hold waiters only for a moment (a receiver that took
     * the last value, or skipped the holes that filled the ring, is about
     * to settle), but then queued senders' values, once in the ring, are
     * for the queued receivers. */
    do {
        filled = false;
        while (waitq_live(&ch->recvq) && ring_has_value(ch) &&
               (w = waitq_claim(&ch->recvq))) {
            (void)ring_take(ch, w->val, true); /* RECVW: it is ours */
            w->ok = true;
            chain(wakes, w);
        }
        while (waitq_live(&ch->sendq) && ring_has_room(ch) &&
               (w = waitq_claim(&ch->sendq))) {
            /* SENDW: the slot is ours.  Once closed (gh__chan_close
             * settles last), the sender is told so and panics. */
            w->ok = ring_put(ch, w->val, true);
            filled |= w->ok;
            chain(wakes, w);
        }
    } while (filled && waitq_live(&ch->recvq));
    /* Receivers that gave up leave holes behind (senders that saw them
     * waiting): skip those while the head is still ours, so that
     * gh_chan_len() does not count them. */
    if (atomic_load_explicit(&ch->waiters, memory_order_relaxed) &
        GH__CH_RECVW)
        (void)ring_has_value(ch);
    bits_sync(ch);
}

void gh__chan_wake_list(gh__chwait_t *list, const gh__sel_t *skip)
{
    while (list) {
        gh__chwait_t *next = list->next; /* list dies once readied */
        if (list->sel != skip)
            gh__ready(list->sel->g, 0);
        list = next;
    }
}

/* Lock-free operation ended with waiters to serve: serve them. */
static __attribute__((noinline)) void settle_now(gh_chan_t *ch)
{
    gh__chwait_t *wakes = NULL;

    gh__lock(&ch->mu);
    gh__chan_settle(ch, &wakes);
    gh__unlock(&ch->mu);
    gh__chan_wake(wakes, NULL);
}

/* The lock-free receive; false: take the slow way. */
static inline bool fast_recv(gh_chan_t *ch, void *elem)
{
    if (!ch->cap || !ring_take(ch, elem, false))
        return false;
    if (atomic_load_explicit(&ch->waiters, memory_order_seq_cst) &
        GH__CH_SENDW)
        settle_now(ch);
    return true;
}

/* ---- the locked operations ---- */

int gh__chan_send_locked(gh_chan_t *ch, const void *elem,
                         gh__chwait_t **wakes)
{
    gh__chwait_t *w;

    if (gh__chan_closed(ch))
        return GH_ECLOSED;
    if (ch->cap)
        gh__chan_settle(ch, wakes);
    if ((w = waitq_claim(&ch->recvq))) {
        copy_elem(ch, w->val, elem);
        w->ok = true;
        chain(wakes, w);
        if (ch->cap)
            bits_sync(ch);
        return 0;
    }
    /* Queued senders go first. */
    if (ch->cap && !waitq_live(&ch->sendq) && ring_put(ch, elem, true))
        return 0;
    return GH_EAGAIN;
}

/* A receive from a closed, drained channel: the zero value. */
static int recv_closed(const gh_chan_t *ch, void *elem)
{
    if (elem && ch->esize)
        memset(elem, 0, ch->esize);
    return GH_ECLOSED;
}

static int recv_unbuffered_locked(gh_chan_t *ch, void *elem,
                                  gh__chwait_t **wakes)
{
    gh__chwait_t *w;

    if ((w = waitq_claim(&ch->sendq))) {
        copy_elem(ch, elem, w->val);
        w->ok = true;
        chain(wakes, w);
        return 0;
    }
    return gh__chan_closed(ch) ? recv_closed(ch, elem) : GH_EAGAIN;
}

int gh__chan_recv_locked(gh_chan_t *ch, void *elem, gh__chwait_t **wakes)
{
    if (!ch->cap)
        return recv_unbuffered_locked(ch, elem, wakes);
    gh__chan_settle(ch, wakes);
    if (ring_take(ch, elem, true)) {
        gh__chan_settle(ch, wakes); /* a queued sender takes the slot */
        return 0;
    }
    /* Empty.  Closed: close waited for every reserved slot to be
     * published, and nobody can reserve one after it. */
    return gh__chan_closed(ch) ? recv_closed(ch, elem) : GH_EAGAIN;
}

bool gh__chan_send_ready(gh_chan_t *ch)
{
    if (gh__chan_closed(ch) || waitq_live(&ch->recvq))
        return true;
    return ch->cap && !waitq_live(&ch->sendq) && gh__chan_peek_room(ch);
}

bool gh__chan_recv_ready(gh_chan_t *ch)
{
    if (gh__chan_closed(ch) || waitq_live(&ch->sendq))
        return true;
    return ch->cap && gh__chan_peek_value(ch);
}

/* ---- creating and freeing ---- */

gh_chan_t *gh_chan_new(size_t elem_size, size_t cap)
{
    gh_chan_t *ch;
    size_t off = (sizeof(*ch) + 63) & ~(size_t)63, size, stride;

    stride = sizeof(ring_slot_t) + ((elem_size + 7) & ~(size_t)7);
    if (elem_size > GH_CHAN_ELEM_MAX || cap > BUF_MAX ||
        cap > BUF_MAX / stride) {
        errno = EINVAL;
        return NULL;
    }
    size = off;
    if (cap)
        size += sizeof(gh__chring_t) + ((stride * cap + 63) & ~(size_t)63);
    if (!(ch = aligned_alloc(64, size)))
        return NULL;
    memset(ch, 0, off);
    ch->esize = (uint32_t)elem_size;
    ch->cap = (uint32_t)cap;
    if (cap) {
        ch->stride = (uint32_t)stride;
        ch->r = (gh__chring_t *)((unsigned char *)ch + off);
        memset(ch->r, 0, sizeof(*ch->r));
        ch->r->head_lap = 2;
        while (ch->r->head_lap <= cap)
            ch->r->head_lap <<= 1;
        ch->r->tail_lap = ch->r->head_lap;
        for (size_t i = 0; i < cap; i++)
            atomic_init(&slot_at(ch, i)->stamp, i);
    }
    return ch;
}

void gh_chan_free(gh_chan_t *ch)
{
    if (!ch)
        return;
    /* A send that published under the lock may not have dropped it yet:
     * wait until it has. */
    gh__lock(&ch->mu);
    gh__unlock(&ch->mu);
    if (ch->timer)
        gh__after_free(ch->timer);
    free(ch);
}

size_t gh_chan_len(const gh_chan_t *ch)
{
    uint64_t t, h, lap;

    if (!ch || !ch->cap)
        return 0;
    /* A consistent pair: the tail did not move while we read the head. */
    t = atomic_load_explicit(&ch->r->tail, memory_order_acquire) >> T_SHIFT;
    for (;;) {
        uint64_t t2;
        h = atomic_load_explicit(&ch->r->head, memory_order_acquire) >> H_SHIFT;
        t2 = atomic_load_explicit(&ch->r->tail, memory_order_acquire) >> T_SHIFT;
        if (t2 == t)
            break;
        t = t2;
    }
    lap = one_lap(ch);
    return (size_t)(((t & ~(lap - 1)) - (h & ~(lap - 1))) / lap * ch->cap +
                    (t & (lap - 1)) - (h & (lap - 1)));
}

size_t gh_chan_cap(const gh_chan_t *ch)
{
    return ch ? ch->cap : 0;
}

size_t gh_chan_elem_size(const gh_chan_t *ch)
{
    return ch ? ch->esize : 0;
}

/* ---- send and receive ---- */

/* Block forever: a nil channel operation. */
GH__NORETURN static void park_forever(enum gh__wait why)
{
    for (;;)
        gh__park(why, NULL, NULL);
}

/*
 * Wait on buffered channel ch (locked) with a record for elem; returns
 * w.ok.  wakes holds the waiters the locked operation served: readied
 * here, before parking (or after the unlock, should the settle serve this
 * wait at once).
 */
static inline __attribute__((always_inline)) bool
wait_on(gh_chan_t *ch, bool recv, void *elem, gh__chwait_t *wakes)
{
    gh__sel_t sel = {.g = gh__cur_g(), .solo = true};
    gh__chwait_t w = {.sel = &sel, .val = elem};

    wait_push(ch, &w, recv);
    gh__chan_settle(ch, &wakes);
    if (atomic_load_explicit(&sel.done, memory_order_relaxed)) {
        gh__unlock(&ch->mu);
        gh__chan_wake(wakes, &sel);
        return w.ok;
    }
    gh__chan_wake(wakes, NULL);
    gh__park(recv ? GH__W_CHAN_RECV : GH__W_CHAN_SEND, gh__lock_unlock_cb,
             &ch->mu);
    /* The waker took w out of the queue and set w.ok before readying us. */
    return w.ok;
}

/*
 * An unbuffered channel's plain send and receive: a rendezvous under the
 * lock with at most one peer to serve, and no ring to settle.  Kept apart
 * from the general locked operations (which select, the try operations and
 * buffered channels use): carrying a list of waiters to wake and looking
 * for a ring cost a ping-pong on one worker 8%.
 */
static bool park_on(gh_chan_t *ch, gh__waitq_t *q, void *elem,
                    enum gh__wait why)
{
    gh__sel_t sel = {.g = gh__cur_g(), .solo = true};
    gh__chwait_t w = {.sel = &sel, .val = elem};

    waitq_push(q, &w);
    gh__park(why, gh__lock_unlock_cb, &ch->mu);
    /* The waker took w out of the queue and set w.ok before readying us. */
    return w.ok;
}

static int send_unbuffered(gh_chan_t *ch, const void *elem)
{
    gh__chwait_t *w;
    gh__g_t *g;

    gh__lock(&ch->mu);
    if (gh__chan_closed(ch)) {
        gh__unlock(&ch->mu);
        gh_panic("send on closed channel");
    }
    if (!(w = waitq_claim(&ch->recvq))) {
        if (!park_on(ch, &ch->sendq, (void *)elem, GH__W_CHAN_SEND))
            gh_panic("send on closed channel");
        return 0;
    }
    copy_elem(ch, w->val, elem);
    w->ok = true;
    g = w->sel->g; /* w dies once we have readied g */
    gh__unlock(&ch->mu);
    gh__ready(g, 0);
    return 0;
}

static int recv_unbuffered(gh_chan_t *ch, void *elem)
{
    gh__chwait_t *w;
    gh__g_t *g;

    gh__lock(&ch->mu);
    if (!(w = waitq_claim(&ch->sendq))) {
        if (gh__chan_closed(ch)) {
            gh__unlock(&ch->mu);
            return recv_closed(ch, elem);
        }
        return park_on(ch, &ch->recvq, elem, GH__W_CHAN_RECV) ? 0
                                                             : GH_ECLOSED;
    }
    copy_elem(ch, elem, w->val);
    w->ok = true;
    g = w->sel->g;
    gh__unlock(&ch->mu);
    gh__ready(g, 0);
    return 0;
}

int gh_chan_send(gh_chan_t *ch, const void *elem)
{
    gh__chwait_t *wakes = NULL;
    int rc;

    if (!ch)
        park_forever(GH__W_CHAN_SEND);
    if (!ch->cap)
        return send_unbuffered(ch, elem);
    if (ring_put(ch, elem, false))
        return 0;
    gh__lock(&ch->mu);
    rc = gh__chan_send_locked(ch, elem, &wakes);
    if (rc == GH_EAGAIN) {
        if (wait_on(ch, false, (void *)elem, wakes))
            return 0;
        wakes = NULL; /* wait_on readied them */
        rc = GH_ECLOSED;
    } else {
        gh__unlock(&ch->mu);
    }
    gh__chan_wake(wakes, NULL);
    if (rc == GH_ECLOSED)
        gh_panic("send on closed channel");
    return 0;
}

int gh_chan_recv(gh_chan_t *ch, void *elem)
{
    gh__chwait_t *wakes = NULL;
    int rc;

    if (!ch)
        park_forever(GH__W_CHAN_RECV);
    if (!ch->cap)
        return recv_unbuffered(ch, elem);
    if (fast_recv(ch, elem))
        return 0;
    gh__lock(&ch->mu);
    rc = gh__chan_recv_locked(ch, elem, &wakes);
    if (rc == GH_EAGAIN)
        return wait_on(ch, true, elem, wakes) ? 0 : GH_ECLOSED;
    gh__unlock(&ch->mu);
    gh__chan_wake(wakes, NULL);
    return rc;
}

int gh_chan_try_send(gh_chan_t *ch, const void *elem)
{
    gh__chwait_t *wakes = NULL;
    int rc;

    if (!ch)
        return GH_EAGAIN;
    if (ch->cap && ring_put(ch, elem, false))
        return 0;
    gh__lock(&ch->mu);
    rc = gh__chan_send_locked(ch, elem, &wakes);
    gh__unlock(&ch->mu);
    gh__chan_wake(wakes, NULL);
    if (rc == GH_ECLOSED)
        gh_panic("send on closed channel");
    return rc;
}

int gh_chan_try_recv(gh_chan_t *ch, void *elem)
{
    gh__chwait_t *wakes = NULL;
    int rc;

    if (!ch)
        return GH_EAGAIN;
    if (fast_recv(ch, elem))
        return 0;
    gh__lock(&ch->mu);
    rc = gh__chan_recv_locked(ch, elem, &wakes);
    gh__unlock(&ch->mu);
    gh__chan_wake(wakes, NULL);
    return rc;
}

/* ---- close ---- */

/* Claim every waiter of q, tell it "closed" and chain it on *list. */
static void claim_all(gh_chan_t *ch, gh__waitq_t *q, gh__chwait_t **list,
                      bool zero)
{
    gh__chwait_t *w;

    while ((w = waitq_claim(q))) {
        void *elem = w->val;
        if (zero && elem && ch->esize)
            memset(elem, 0, ch->esize);
        w->ok = false;
        chain(list, w);
    }
}

bool gh__chan_close(gh_chan_t *ch)
{
    gh__chwait_t *list = NULL;

    gh__lock(&ch->mu);
    if (gh__chan_closed(ch)) {
        gh__unlock(&ch->mu);
        return false;
    }
    atomic_store_explicit(&ch->closed, true, memory_order_relaxed);
    if (ch->cap) {
        /* No send after this; one filling a slot now completes first.
         * Then the ring's values go to receivers that wait. */
        atomic_fetch_or_explicit(&ch->r->tail, T_CLOSED, memory_order_seq_cst);
        ring_wait_published(ch);
        gh__chan_settle(ch, &list);
    }
    claim_all(ch, &ch->recvq, &list, true);
    claim_all(ch, &ch->sendq, &list, false);
    if (ch->cap)
        bits_sync(ch);
    gh__unlock(&ch->mu);
    gh__chan_wake(list, NULL);
    return true;
}

void gh_chan_close(gh_chan_t *ch)
{
    if (!ch)
        gh_panic("close of nil channel");
    if (!gh__chan_close(ch))
        gh_panic("close of closed channel");
}
