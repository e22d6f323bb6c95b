/*
 * chan.c - channels: buffered and unbuffered, close, and the plain
 * (single-case) send and receive.
 *
 * A channel is a lock, a ring buffer of cap elements and two FIFO queues
 * of waiting records (see chan_impl.h for the claiming protocol).  The
 * invariants, all under ch->mu:
 *   - receivers wait only while the buffer is empty, and senders only while
 *     it is full (for cap 0: always "full"), so at most one queue holds live
 *     records;
 *   - a value always goes to the longest-waiting receiver, or into the
 *     buffer; a receiver always takes the oldest buffered value, and when a
 *     sender waits on a full buffer its value moves into the slot the
 *     receiver freed, so FIFO order holds across the buffer and the queue;
 *   - once closed, nobody waits: close hands every waiting receiver the zero
 *     value (ok = false) and every waiting sender "closed", which makes it
 *     panic once it runs again.
 * Data moves while the waiter is parked, straight into or out of its
 * record's elem; the waker readies it only after dropping the lock.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chan_impl.h"

#define BUF_MAX ((size_t)1 << 30)

/* ---- wait queues ---- */

void gh__waitq_push(gh__waitq_t *q, gh__chwait_t *w)
{
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    w->queued = true;
}

void gh__waitq_unlink(gh__waitq_t *q, gh__chwait_t *w)
{
    if (!w->queued)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
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

    while ((w = q->head)) {
        uint32_t undecided = 0;
        gh__waitq_unlink(q, w);
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

    while ((w = q->head)) {
        if (atomic_load_explicit(&w->sel->done, memory_order_acquire) == 0)
            return true;
        gh__waitq_unlink(q, w);
    }
    return false;
}

/* ---- the locked operations ---- */

/* Copies run under the channel's lock: word-sized elements (pointers,
 * ints) are moved inline rather than through a call to memcpy. */
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

/* Slot i, for i < 2 * cap (head + len at most): no division. */
static inline unsigned char *slot(const gh_chan_t *ch, uint32_t i)
{
    if (i >= ch->cap)
        i -= ch->cap;
    return ch->buf + (size_t)i * ch->esize;
}

int gh__chan_send_locked(gh_chan_t *ch, const void *elem, gh__g_t **wake)
{
    gh__chwait_t *w;

    if (ch->closed)
        return GH_ECLOSED;
    if ((w = waitq_claim(&ch->recvq))) {
        copy_elem(ch, w->val, elem);
        w->ok = true;
        *wake = w->sel->g;
        return 0;
    }
    if (ch->len < ch->cap) {
        copy_elem(ch, slot(ch, ch->head + ch->len), elem);
        ch->len++;
        return 0;
    }
    return GH_EAGAIN;
}

int gh__chan_recv_locked(gh_chan_t *ch, void *elem, gh__g_t **wake)
{
    gh__chwait_t *w;

    if (ch->len > 0) {
        unsigned char *s = slot(ch, ch->head);
        copy_elem(ch, elem, s);
        if ((w = waitq_claim(&ch->sendq))) {
            /* The buffer was full: the sender's value takes the freed
             * slot, which is now the tail. */
            copy_elem(ch, s, w->val);
            w->ok = true;
            *wake = w->sel->g;
        } else {
            ch->len--;
        }
        if (++ch->head == ch->cap)
            ch->head = 0;
        return 0;
    }
    if ((w = waitq_claim(&ch->sendq))) {
        copy_elem(ch, elem, w->val);
        w->ok = true;
        *wake = w->sel->g;
        return 0;
    }
    if (ch->closed) {
        if (elem && ch->esize)
            memset(elem, 0, ch->esize);
        return GH_ECLOSED;
    }
    return GH_EAGAIN;
}

bool gh__chan_send_ready(gh_chan_t *ch)
{
    return ch->closed || waitq_live(&ch->recvq) || ch->len < ch->cap;
}

bool gh__chan_recv_ready(gh_chan_t *ch)
{
    return ch->len > 0 || waitq_live(&ch->sendq) || ch->closed;
}

/* ---- creating and freeing ---- */

gh_chan_t *gh_chan_new(size_t elem_size, size_t cap)
{
    gh_chan_t *ch;
    size_t off = (sizeof(*ch) + 63) & ~(size_t)63, size;

    if (elem_size > GH_CHAN_ELEM_MAX || cap > BUF_MAX ||
        (elem_size && cap > BUF_MAX / elem_size)) {
        errno = EINVAL;
        return NULL;
    }
    size = (off + elem_size * cap + 63) & ~(size_t)63;
    if (!(ch = aligned_alloc(64, size)))
        return NULL;
    memset(ch, 0, off);
    ch->esize = (uint32_t)elem_size;
    ch->cap = (uint32_t)cap;
    ch->buf = (unsigned char *)ch + off;
    return ch;
}

void gh_chan_free(gh_chan_t *ch)
{
    if (!ch)
        return;
    if (ch->timer)
        gh__after_free(ch->timer);
    free(ch);
}

size_t gh_chan_len(const gh_chan_t *ch)
{
    gh_chan_t *c = (gh_chan_t *)ch;
    size_t n;

    if (!c)
        return 0;
    gh__lock(&c->mu);
    n = c->len;
    gh__unlock(&c->mu);
    return n;
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

static void wake_up(gh__g_t *g)
{
    if (g)
        gh__ready(g, 0);
}

/* Block forever: a nil channel operation. */
GH__NORETURN static void park_forever(enum gh__wait why)
{
    for (;;)
        gh__park(why, NULL, NULL);
}

/* Wait on ch (locked) with a record for elem; returns w.ok. */
static inline __attribute__((always_inline)) bool
wait_on(gh_chan_t *ch, gh__waitq_t *q, void *elem,
                    enum gh__wait why)
{
    gh__sel_t sel = {.g = gh__cur_g(), .solo = true};
    gh__chwait_t w = {.sel = &sel, .val = elem};

    gh__waitq_push(q, &w);
    gh__park(why, gh__lock_unlock_cb, &ch->mu);
    /* The waker took w out of the queue and set w.ok before readying us. */
    return w.ok;
}

int gh_chan_send(gh_chan_t *ch, const void *elem)
{
    gh__g_t *wake = NULL;
    int rc;

    if (!ch)
        park_forever(GH__W_CHAN_SEND);
    gh__lock(&ch->mu);
    rc = gh__chan_send_locked(ch, elem, &wake);
    if (rc == GH_EAGAIN) {
        if (wait_on(ch, &ch->sendq, (void *)elem, GH__W_CHAN_SEND))
            return 0;
        rc = GH_ECLOSED;
    } else {
        gh__unlock(&ch->mu);
    }
    if (rc == GH_ECLOSED)
        gh_panic("send on closed channel");
    wake_up(wake);
    return 0;
}

int gh_chan_recv(gh_chan_t *ch, void *elem)
{
    gh__g_t *wake = NULL;
    int rc;

    if (!ch)
        park_forever(GH__W_CHAN_RECV);
    gh__lock(&ch->mu);
    rc = gh__chan_recv_locked(ch, elem, &wake);
    if (rc == GH_EAGAIN)
        return wait_on(ch, &ch->recvq, elem, GH__W_CHAN_RECV) ? 0
                                                             : GH_ECLOSED;
    gh__unlock(&ch->mu);
    wake_up(wake);
    return rc;
}

int gh_chan_try_send(gh_chan_t *ch, const void *elem)
{
    gh__g_t *wake = NULL;
    int rc;

    if (!ch)
        return GH_EAGAIN;
    gh__lock(&ch->mu);
    rc = gh__chan_send_locked(ch, elem, &wake);
    gh__unlock(&ch->mu);
    if (rc == GH_ECLOSED)
        gh_panic("send on closed channel");
    wake_up(wake);
    return rc;
}

int gh_chan_try_recv(gh_chan_t *ch, void *elem)
{
    gh__g_t *wake = NULL;
    int rc;

    if (!ch)
        return GH_EAGAIN;
    gh__lock(&ch->mu);
    rc = gh__chan_recv_locked(ch, elem, &wake);
    gh__unlock(&ch->mu);
    wake_up(wake);
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
        w->next = *list;
        *list = w;
    }
}

bool gh__chan_close(gh_chan_t *ch)
{
    gh__chwait_t *list = NULL;

    gh__lock(&ch->mu);
    if (ch->closed) {
        gh__unlock(&ch->mu);
        return false;
    }
    ch->closed = true;
    claim_all(ch, &ch->recvq, &list, true);
    claim_all(ch, &ch->sendq, &list, false);
    gh__unlock(&ch->mu);
    while (list) {
        gh__chwait_t *next = list->next; /* list dies once readied */
        gh__ready(list->sel->g, 0);
        list = next;
    }
    return true;
}

void gh_chan_close(gh_chan_t *ch)
{
    if (!ch)
        gh_panic("close of nil channel");
    if (!gh__chan_close(ch))
        gh_panic("close of closed channel");
}
