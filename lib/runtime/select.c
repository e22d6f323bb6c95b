/*
 * select.c - gh_select(), and send/receive with a deadline.
 *
 * The algorithm is Go's, in three passes, after a first look:
 *
 * 0. Without any lock, guess which cases are ready (gh__chan_peek_*: is
 *    anyone waiting at the other end, is there a value or a slot in the
 *    ring, is the channel closed) and pick one of those uniformly at
 *    random.  Lock only its channel and, if it really is ready, perform it
 *    and return: a select whose case is ready, as in a loop that serves a
 *    channel and watches a quit channel, then costs little more than a
 *    plain send or receive (a two-case select ping-pong on one worker,
 *    whose senders arrive first: 257 ns a round trip with every channel
 *    locked, 190 with this).  A case that looked ready and is not
 *    any more, or none that looked ready, leads to the passes below,
 *    whose locked look decides.  A guess may be stale either way while
 *    other threads race with us, as a locked look is stale once the locks
 *    are dropped; between ready cases that stay ready the choice is
 *    uniform.
 * 1. Lock every distinct channel of the select, in address order (so two
 *    selects over the same channels cannot deadlock), and look at all the
 *    cases.  Among those ready, pick one uniformly at random with reservoir
 *    sampling (the k-th ready case replaces the choice with probability
 *    1/k), perform it, unlock, ready the peer, return.  (A buffered
 *    channel's lock-free operations do not take the lock: should one take
 *    the value or the slot first, look again.)  No allocation: the lock
 *    order is kept in each case's private word.
 * 2. If none is ready (and the caller may wait), link one wait record per
 *    case into its channel's queue, the records and the gh__sel they share
 *    on this stack (on the heap only when the stack has no room for them),
 *    then look at each buffered channel's ring once more (gh__chan_settle:
 *    a lock-free operation that missed our records left its value or slot
 *    to us), which may decide the select at once; otherwise arm the
 *    deadline timer and park.  The channels are unlocked only after
 *    the park has saved our context (gh__park's unlock hook), so no peer
 *    can claim a record before we are really parked.
 * 3. Peers on different channels may find our records at the same time:
 *    the CAS on sel->done (chan_impl.h) lets exactly one of them, or the
 *    deadline timer, win, and only the winner readies us.  Once running
 *    again we stop the timer (which waits if it is firing on another
 *    worker, so the gh__sel may die), and unlink the records nobody
 *    claimed, taking each channel's lock in turn.
 *
 * The unlock hook reads the cases array while it unlocks; that is safe
 * because we cannot get past pass 3 before it has dropped the last lock
 * (pass 3 needs each channel's lock but the winner's, and the winner's
 * peer needed that one to claim us), and it reads nothing after that.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "chan_impl.h"

/* ---- lock order ---- */

/* Slot i of the lock order, which is spread over the cases' private
 * words. */
static inline uint64_t *ord(gh_case_t *cs, size_t i)
{
    return &cs[i]._w;
}

static inline gh_chan_t *ord_chan(gh_case_t *cs, size_t i)
{
    return cs[*ord(cs, i)].ch;
}

static inline uintptr_t key(gh_case_t *cs, uint64_t i)
{
    return (uintptr_t)cs[i].ch;
}

static void sift(gh_case_t *cs, size_t root, size_t n)
{
    uint64_t v = *ord(cs, root);

    for (;;) {
        size_t c = 2 * root + 1;
        if (c >= n)
            break;
        if (c + 1 < n && key(cs, *ord(cs, c + 1)) > key(cs, *ord(cs, c)))
            c++;
        if (key(cs, v) >= key(cs, *ord(cs, c)))
            break;
        *ord(cs, root) = *ord(cs, c);
        root = c;
    }
    *ord(cs, root) = v;
}

/* Sort the cases by channel address into the lockord slots (heapsort for
 * many cases: no allocation, no quadratic worst case). */
static void sort_lockorder(gh_case_t *cs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *ord(cs, i) = i;
    if (n <= 8) {
        for (size_t i = 1; i < n; i++) {
            uint64_t v = *ord(cs, i);
            size_t j = i;
            for (; j > 0 && key(cs, *ord(cs, j - 1)) > key(cs, v); j--)
                *ord(cs, j) = *ord(cs, j - 1);
            *ord(cs, j) = v;
        }
        return;
    }
    for (size_t i = n / 2; i-- > 0;)
        sift(cs, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        uint64_t t = *ord(cs, 0);
        *ord(cs, 0) = *ord(cs, end);
        *ord(cs, end) = t;
        sift(cs, 0, end);
    }
}

static void lock_all(gh_case_t *cs, size_t n)
{
    gh_chan_t *prev = NULL;

    for (size_t i = 0; i < n; i++) {
        gh_chan_t *ch = ord_chan(cs, i);
        if (ch && ch != prev)
            gh__lock(&ch->mu);
        prev = ch;
    }
}

struct lockset {
    gh_case_t *cs;
    size_t n;
};

/* Unlock in lock order; reads nothing of cs after the last unlock. */
static void unlock_all_cb(void *arg)
{
    struct lockset *ls = arg;
    gh_case_t *cs = ls->cs;
    size_t n = ls->n;
    gh_chan_t *ch = NULL, *next;

    for (size_t i = 0; i < n; i++) {
        next = ord_chan(cs, i);
        if (next == ch)
            continue;
        if (ch)
            gh__unlock(&ch->mu);
        ch = next;
    }
    if (ch)
        gh__unlock(&ch->mu);
}

static void unlock_all(gh_case_t *cs, size_t n)
{
    struct lockset ls = {cs, n};

    unlock_all_cb(&ls);
}

/* ---- the passes ---- */

static bool case_ready(gh_case_t *c)
{
    if (!c->ch)
        return false;
    return c->op == GH_CASE_RECV ? gh__chan_recv_ready(c->ch)
                                 : gh__chan_send_ready(c->ch);
}

/* Pass 1 (everything locked): a uniformly random ready case, or -1. */
static long pick_ready(gh_case_t *cs, size_t n)
{
    long pick = -1;
    uint32_t k = 0;

    for (size_t i = 0; i < n; i++) {
        if (!case_ready(&cs[i]))
            continue;
        k++;
        if (k == 1 || gh__rand() % k == 0)
            pick = (long)i;
    }
    return pick;
}

/* Perform ready case c (locked); returns 0, GH_ECLOSED, or GH_EAGAIN when
 * a lock-free operation on a buffered channel got there first. */
static int perform(gh_case_t *c, gh__chwait_t **wakes)
{
    int rc;

    if (c->op == GH_CASE_RECV) {
        rc = gh__chan_recv_locked(c->ch, c->val, wakes);
        c->ok = rc == 0;
        return rc == GH_EAGAIN ? rc : 0;
    }
    return gh__chan_send_locked(c->ch, c->val, wakes);
}

#define PEEK_INVALID (-2)

/* Pass 0 (no lock): a uniformly random case that looks ready, -1 if none
 * does, or PEEK_INVALID if a case's op is neither receive nor send. */
static long peek_ready(const gh_case_t *cs, size_t n)
{
    long pick = -1;
    uint32_t k = 0;

    for (size_t i = 0; i < n; i++) {
        const gh_case_t *c = &cs[i];
        bool ready;
        if (c->op == GH_CASE_RECV)
            ready = c->ch && gh__chan_peek_recv(c->ch);
        else if (c->op == GH_CASE_SEND)
            ready = c->ch && gh__chan_peek_send(c->ch);
        else
            return PEEK_INVALID;
        if (!ready)
            continue;
        k++;
        if (k == 1 || gh__rand() % k == 0)
            pick = (long)i;
    }
    return pick;
}

/* Pass 0: perform case c, which looked ready, under its channel's lock
 * alone; GH_EAGAIN if it is not ready after all. */
static int perform_alone(gh_case_t *c)
{
    gh__chwait_t *wakes = NULL;
    int rc;

    gh__lock(&c->ch->mu);
    rc = perform(c, &wakes); /* GH_EAGAIN when not ready */
    gh__unlock(&c->ch->mu);
    gh__chan_wake(wakes, NULL);
    return rc;
}

static void sel_timeout(gh__m_t *m, gh__timer_t *t)
{
    gh__sel_t *sel = t->data;
    gh__g_t *g = sel->g; /* sel may die once we have readied g */
    uint32_t undecided = 0;

    if (atomic_compare_exchange_strong_explicit(
            &sel->done, &undecided, GH__SEL_TIMEOUT, memory_order_acq_rel,
            memory_order_acquire))
        gh__ready(g, 0);
}

static bool sel_expire(void *arg)
{
    gh__sel_t *sel = arg;
    uint32_t undecided = 0;

    return atomic_compare_exchange_strong_explicit(
        &sel->done, &undecided, GH__SEL_TIMEOUT, memory_order_acq_rel,
        memory_order_acquire);
}

/* Pass 2: queue a record per case (ws[i] for cs[i]) and park (everything
 * locked on entry, unlocked on return).  Returns sel.done. */
static uint32_t wait_cases(gh_case_t *cs, gh__chwait_t *ws, size_t n,
                           int64_t deadline)
{
    gh__m_t *m = gh__cur_m();
    gh__sel_t sel = {.g = gh__cur_g()};
    struct lockset ls = {cs, n};
    gh__timer_t tm; /* the deadline, on m */
    gh__chwait_t *wakes = NULL;
    gh_chan_t *prev = NULL;
    bool timed = false;
    uint32_t done;

    for (size_t i = 0; i < n; i++) {
        gh__chwait_t *w = &ws[i];
        w->sel = &sel;
        w->val = cs[i].val;
        w->idx = (uint32_t)i;
        w->ok = false;
        w->queued = false;
        if (cs[i].ch)
            gh__chan_wait_push(cs[i].ch, w, cs[i].op == GH_CASE_RECV);
    }
    /* A buffered channel's ring may have changed before our records were
     * seen: look again, which may decide this select at once. */
    for (size_t i = 0; i < n; i++) {
        gh_chan_t *ch = ord_chan(cs, i);
        if (ch && ch != prev)
            gh__chan_settle(ch, &wakes);
        prev = ch;
    }
    if (atomic_load_explicit(&sel.done, memory_order_acquire)) {
        unlock_all(cs, n);
        gh__chan_wake(wakes, &sel);
        goto unlink;
    }
    gh__chan_wake(wakes, NULL);
    if (sel.g->flags & GH__G_THREAD) {
        gh__thread_park_until(unlock_all_cb, &ls, deadline, sel_expire,
                              &sel);
    } else {
        if (deadline != GH_FOREVER) {
            /* Fires only once we have parked: timers run on m's g0. */
            tm = (gh__timer_t){.when = deadline, .idx = GH__TIMER_IDLE,
                               .fn = sel_timeout, .data = &sel};
            timed = gh__timer_start(m, &tm) == 0;
            /* Without memory for a heap slot, wait without a deadline. */
        }
        gh__park(n == 1 ? (cs[0].op == GH_CASE_RECV ? GH__W_CHAN_RECV
                                                    : GH__W_CHAN_SEND)
                        : GH__W_SELECT,
                 unlock_all_cb, &ls);
        if (timed)
            gh__timer_stop(&tm);
    }
unlink:
    /* Pass 3: unlink the records nobody claimed.  The winner's record was
     * unlinked by the peer that claimed it; the others need their
     * channel's lock, one at a time (we hold no other). */
    done = atomic_load_explicit(&sel.done, memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
        gh_chan_t *ch = cs[i].ch;
        if (!ch || i + 1 == done)
            continue;
        gh__lock(&ch->mu);
        gh__chan_wait_unlink(ch, &ws[i], cs[i].op == GH_CASE_RECV);
        gh__unlock(&ch->mu);
    }
    return done;
}

/* Wait with the records in ws, and finish the case that won: its index,
 * GH_ETIMEDOUT, or GH_ECLOSED for a send case whose channel was closed
 * (the caller panics, once the records are let go of). */
static int wait_with(gh_case_t *cs, gh__chwait_t *ws, size_t n,
                     int64_t deadline)
{
    uint32_t done = wait_cases(cs, ws, n, deadline);
    gh_case_t *c;

    if (done == GH__SEL_TIMEOUT)
        return GH_ETIMEDOUT;
    c = &cs[done - 1];
    if (c->op == GH_CASE_SEND && !ws[done - 1].ok)
        return GH_ECLOSED;
    if (c->op == GH_CASE_RECV)
        c->ok = ws[done - 1].ok;
    return (int)(done - 1);
}

/* Records for n cases fit on this stack, with STACK_SPARE to spare for
 * the park and what runs below it: the switch, and after it the post
 * hook of the goroutine we replaced (a stack release, an unlock). */
#define STACK_SPARE (8 * 1024)
#define THREAD_RECORDS_MAX 4096 /* a thread's stack: its bounds unknown */

static bool records_fit(size_t n)
{
    gh__g_t *g = gh__cur_g();
    /* The frame, not a local's address: AddressSanitizer may keep locals
     * on a fake stack elsewhere, but the array goes on this one. */
    char *sp = __builtin_frame_address(0);
    size_t need = n * sizeof(gh__chwait_t);

    if (g->flags & GH__G_THREAD)
        return need <= THREAD_RECORDS_MAX;
    return sp > (char *)g->stack_lo &&
           (size_t)(sp - (char *)g->stack_lo) >= need + STACK_SPARE;
}

/* Wait with the records in a variable-length array of this frame. */
static __attribute__((noinline)) int wait_on_stack(gh_case_t *cs, size_t n,
                                                   int64_t deadline)
{
    gh__chwait_t ws[n ? n : 1]; /* select {}: none needed, none allowed */

    return wait_with(cs, ws, n, deadline);
}

static int wait_on_heap(gh_case_t *cs, size_t n, int64_t deadline)
{
    gh__chwait_t *ws = malloc(n * sizeof(*ws));
    int rc;

    if (!ws) {
        unlock_all(cs, n);
        return GH_ENOMEM;
    }
    rc = wait_with(cs, ws, n, deadline);
    free(ws);
    return rc;
}

int gh_select(gh_case_t *cs, size_t n, int64_t deadline)
{
    gh__chwait_t *wakes = NULL;
    long pick;
    int rc;

    if (n > UINT32_MAX - 1 || (n && !cs))
        return GH_EINVAL;
    if ((pick = peek_ready(cs, n)) == PEEK_INVALID)
        return GH_EINVAL;
    if (pick >= 0 && (rc = perform_alone(&cs[pick])) != GH_EAGAIN) {
        if (rc == GH_ECLOSED)
            gh_panic("send on closed channel");
        return (int)pick;
    }
    sort_lockorder(cs, n);
    lock_all(cs, n);
    while ((pick = pick_ready(cs, n)) >= 0) {
        if ((rc = perform(&cs[pick], &wakes)) == GH_EAGAIN)
            continue; /* a lock-free operation took it: look again */
        unlock_all(cs, n);
        gh__chan_wake(wakes, NULL);
        if (rc == GH_ECLOSED)
            gh_panic("send on closed channel");
        return (int)pick;
    }
    if (deadline == GH_NOWAIT || (deadline != GH_FOREVER &&
                                  deadline <= gh_now())) {
        unlock_all(cs, n);
        gh__chan_wake(wakes, NULL);
        return deadline == GH_NOWAIT ? GH_EAGAIN : GH_ETIMEDOUT;
    }
    gh__chan_wake(wakes, NULL); /* still locked: we are about to wait */
    rc = n == 0 || records_fit(n) ? wait_on_stack(cs, n, deadline)
                                  : wait_on_heap(cs, n, deadline);
    if (rc == GH_ECLOSED)
        gh_panic("send on closed channel");
    return rc;
}

int gh_chan_send_until(gh_chan_t *ch, const void *elem, int64_t deadline)
{
    gh_case_t c = GH_SEND(ch, elem);
    int rc = gh_select(&c, 1, deadline == GH_NOWAIT ? 1 : deadline);

    return rc < 0 ? rc : 0;
}

int gh_chan_recv_until(gh_chan_t *ch, void *elem, int64_t deadline)
{
    gh_case_t c = GH_RECV(ch, elem);
    int rc = gh_select(&c, 1, deadline == GH_NOWAIT ? 1 : deadline);

    if (rc < 0)
        return rc;
    return c.ok ? 0 : GH_ECLOSED;
}
