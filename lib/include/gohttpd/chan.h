/*
 * gohttpd/chan.h - channels, select, and timers delivered on channels.
 *
 * A channel carries fixed-size elements by value between goroutines (and
 * plain threads), with Go's semantics exactly: an unbuffered channel
 * (cap 0) is a rendezvous, a buffered one queues up to cap elements; blocked
 * senders and blocked receivers are each served first come, first served;
 * gh_chan_close() lets receivers drain what is buffered and then gives them
 * the zero value and "closed"; sending on a closed channel, closing one
 * twice and closing NULL panic (see panic.h).  A NULL channel is Go's nil
 * channel: sending or receiving on it blocks forever, and in gh_select() its
 * case is never ready.  Sending a pointer hands what it points to over to
 * the receiver.
 *
 *     gh_chan_t *messages = gh_chan_new(sizeof(const char *), 0);
 *     gh_go(send_data, messages);        // sends "ping"
 *     const char *msg;
 *     gh_chan_recv(messages, &msg);      // msg := <-messages
 *
 * gh_select() waits on several send and receive cases at once; when more
 * than one is ready it picks one uniformly at random.  Blocking allocates
 * nothing: the wait records live on the waiting goroutine's stack.
 *
 * Every call here may be made from any goroutine on any worker and from any
 * thread outside the runtime; where a goroutine parks, such a thread blocks
 * on a condition variable (it never spins).  The calls that can block are
 * scheduling points (see rt.h).
 */
#ifndef GOHTTPD_CHAN_H
#define GOHTTPD_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gohttpd/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A channel (opaque).  NULL is the nil channel. */
typedef struct gh_chan gh_chan_t;

/** The largest element a channel carries, in bytes. */
#define GH_CHAN_ELEM_MAX 65536

/**
 * gh_chan_new - make a channel of elements of elem_size bytes (0 is fine
 * for a channel that only signals) holding up to cap buffered elements
 * (0: unbuffered).  Returns the channel, owned by the caller (free it with
 * gh_chan_free), or NULL with errno ENOMEM, or EINVAL when elem_size
 * exceeds GH_CHAN_ELEM_MAX, cap exceeds 2^30 or the buffer would exceed
 * 1 GiB (a buffered channel's buffer is cap slots, each of elem_size
 * rounded up to 8 bytes plus 8 bytes).
 */
GH_API gh_chan_t *gh_chan_new(size_t elem_size, size_t cap);

/**
 * gh_chan_free - release a channel.  Nobody may be blocked on it or use it
 * afterwards; buffered elements are dropped (free what they own first).
 * NULL is ignored.  A channel from gh_after() also stops its timer.
 */
GH_API void gh_chan_free(gh_chan_t *ch);

/**
 * gh_chan_send - send the element at elem (elem_size bytes are copied)
 * (Go's `ch <- v`).  Blocks until a receiver takes it or there is room in
 * the buffer.  Returns 0.  Panics if the channel is closed, or is closed
 * while the sender waits.  On a NULL channel it blocks forever.
 */
GH_API int gh_chan_send(gh_chan_t *ch, const void *elem);

/**
 * gh_chan_recv - receive an element into elem (NULL discards it) (Go's
 * `v, ok := <-ch`).  Blocks until one is available.  Returns 0 when a value
 * was received, GH_ECLOSED when the channel is closed and drained (elem is
 * then zeroed).  On a NULL channel it blocks forever.
 */
GH_API int gh_chan_recv(gh_chan_t *ch, void *elem);

/**
 * gh_chan_send_until / gh_chan_recv_until - as above, but give up at the
 * absolute gh_now() deadline: they return GH_ETIMEDOUT then.  A deadline
 * in the past makes them non-blocking.  Same as a one-case gh_select().
 */
GH_API int gh_chan_send_until(gh_chan_t *ch, const void *elem,
                              int64_t deadline);
GH_API int gh_chan_recv_until(gh_chan_t *ch, void *elem, int64_t deadline);

/**
 * gh_chan_try_send - send only if that needs no wait (a receiver is
 * waiting or the buffer has room): 0, or GH_EAGAIN.  Panics on a closed
 * channel.  Never blocks.
 */
GH_API int gh_chan_try_send(gh_chan_t *ch, const void *elem);

/**
 * gh_chan_try_recv - receive only if that needs no wait: 0, GH_EAGAIN, or
 * GH_ECLOSED (closed and drained; elem zeroed).  Never blocks.
 */
GH_API int gh_chan_try_recv(gh_chan_t *ch, void *elem);

/**
 * gh_chan_close - close the channel (Go's close(ch)): no more sends;
 * blocked receivers get GH_ECLOSED, blocked senders panic; receivers drain
 * the buffer first.  Panics if ch is NULL or already closed.  Never blocks.
 */
GH_API void gh_chan_close(gh_chan_t *ch);

/** gh_chan_len - elements buffered right now (0 for NULL). */
GH_API size_t gh_chan_len(const gh_chan_t *ch);
/** gh_chan_cap - the buffer's capacity (0 for NULL and unbuffered). */
GH_API size_t gh_chan_cap(const gh_chan_t *ch);
/** gh_chan_elem_size - the element size given to gh_chan_new(). */
GH_API size_t gh_chan_elem_size(const gh_chan_t *ch);

/**
 * GH_RANGE - Go's `for v := range ch`: runs the statement that follows for
 * every element received into var, until the channel is closed and
 * drained.  var must be an lvalue of the element's type.
 *
 *     int v;
 *     GH_RANGE(ch, v) printf("%d\n", v);
 */
#define GH_RANGE(ch, var) while (gh_chan_recv((ch), &(var)) == 0)

/* ---- select ---- */

/** What a select case does. */
enum gh_case_op {
    GH_CASE_RECV = 1, /**< receive from ch into val (val may be NULL) */
    GH_CASE_SEND = 2  /**< send the element at val on ch */
};

/**
 * One case of a select.  Build them with GH_RECV()/GH_SEND() in an array
 * on the caller's stack: 32 bytes each, so that the compiler builds a few
 * with plain stores.  The runtime writes the private word; the array must
 * stay untouched while gh_select() runs.
 */
typedef struct gh_case {
    gh_chan_t *ch;  /**< the channel; NULL: the case is never ready */
    int op;         /**< enum gh_case_op */
    bool ok;        /**< out, receive: true if a value came, false if closed */
    void *val;      /**< send: the element; receive: where to store it */
    uint64_t _w;    /**< private: the runtime's (lock order) */
} gh_case_t;

/** A receive case: `case v, ok := <-ch:` (ptr may be NULL). */
#define GH_RECV(c, ptr) {.ch = (c), .op = GH_CASE_RECV, .val = (ptr)}
/** A send case: `case ch <- v:` (ptr points at the element). */
#define GH_SEND(c, ptr) {.ch = (c), .op = GH_CASE_SEND, .val = (void *)(ptr)}

/** A deadline for gh_select() that acts as Go's `default:` case. */
#define GH_NOWAIT ((int64_t)0)

/**
 * gh_select - wait until one of n cases can proceed, perform exactly that
 * one, and return its index (Go's select).  When several are ready, one is
 * chosen uniformly at random.  A receive case on a closed channel is ready
 * (its ok becomes false and val is zeroed); a send case on a closed
 * channel panics if chosen.  deadline: GH_FOREVER blocks as long as it
 * takes; GH_NOWAIT returns GH_EAGAIN at once when nothing is ready (the
 * `default:` case); any other absolute gh_now() time returns GH_ETIMEDOUT
 * once it passes.  n == 0 with GH_FOREVER blocks forever (`select {}`).
 * Returns GH_EINVAL for a bad op.  A select that waits puts one wait
 * record per case (40 bytes) on the goroutine's stack; only one with more
 * cases than the stack has room for (over a thousand on a 64 KiB stack;
 * about 100 in a thread outside the runtime) allocates them instead
 * (GH_ENOMEM if it cannot).
 */
GH_API int gh_select(gh_case_t *cases, size_t n, int64_t deadline);

/* ---- timers and tickers on channels ---- */

/**
 * gh_after - a channel on which gh_now() (an int64_t) is sent once, ns
 * nanoseconds from now (Go's time.After).  Use it in a select for a
 * timeout.  The caller owns the channel: gh_chan_free() it when done, which
 * also cancels the timer if it has not fired.  NULL with errno ENOMEM.
 */
GH_API gh_chan_t *gh_after(int64_t ns);

/** A ticker (opaque): Go's time.Ticker. */
typedef struct gh_ticker gh_ticker_t;

/**
 * gh_ticker_new - deliver gh_now() (an int64_t) on a channel every period
 * ns (> 0).  Like Go, the channel holds one tick: a slow reader misses
 * ticks rather than queueing them.  Returns the ticker, owned by the caller,
 * or NULL (errno EINVAL or ENOMEM).
 */
GH_API gh_ticker_t *gh_ticker_new(int64_t period);

/** gh_ticker_chan - the channel the ticks arrive on (owned by the ticker). */
GH_API gh_chan_t *gh_ticker_chan(const gh_ticker_t *t);

/**
 * gh_ticker_reset - change the period (> 0) and restart counting from now.
 * Returns 0 or GH_EINVAL.
 */
GH_API int gh_ticker_reset(gh_ticker_t *t, int64_t period);

/**
 * gh_ticker_stop - stop the ticker and free it together with its channel
 * (no receiver may be blocked on it).  When it returns, no tick is being
 * delivered.  NULL is ignored.
 */
GH_API void gh_ticker_stop(gh_ticker_t *t);

#ifdef __cplusplus
}
#endif
#endif /* GOHTTPD_CHAN_H */
