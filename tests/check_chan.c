/*
 * check_chan.c - channels: rendezvous, buffering, FIFO order, close, nil
 * channels, try operations, plain threads, and timers on channels.
 */
#include "check_gh.h"

#include <pthread.h>

#define T_MS GH_MILLISECOND

/* Run fn(arg) in a goroutine and wait for it to return. */
struct in_g {
    void (*fn)(void *);
    void *arg;
    atomic_long done;
};

static void in_g_main(void *p)
{
    struct in_g *ig = p;
    ig->fn(ig->arg);
    atomic_store(&ig->done, 1);
}

static void run_in_goroutine(void (*fn)(void *), void *arg)
{
    struct in_g ig = {fn, arg, 0};
    ck_assert_int_gt(gh_go(in_g_main, &ig), 0);
    ck_assert_msg(gh_test_wait_count(&ig.done, 1, 20 * GH_SECOND),
                  "goroutine did not finish");
}

/* ---- rendezvous ---- */

struct flagged {
    gh_chan_t *ch;
    atomic_long flag;
    long v;
};

static void send_then_flag(void *p)
{
    struct flagged *f = p;
    gh_chan_send(f->ch, &f->v);
    atomic_store(&f->flag, 1);
}

START_TEST(chan_unbuffered_send_blocks_until_recv)
{
    struct flagged f = {.ch = gh_chan_new(sizeof(long), 0), .v = 42};
    long got = 0;

    gh_go(send_then_flag, &f);
    gh_sleep(30 * T_MS);
    ck_assert_int_eq(atomic_load(&f.flag), 0);
    ck_assert_int_eq(gh_chan_recv(f.ch, &got), 0);
    ck_assert_int_eq(got, 42);
    ck_assert(gh_test_wait_count(&f.flag, 1, GH_SECOND));
    gh_chan_free(f.ch);
}
END_TEST

static void recv_then_flag(void *p)
{
    struct flagged *f = p;
    gh_chan_recv(f->ch, &f->v);
    atomic_store(&f->flag, 1);
}

START_TEST(chan_unbuffered_recv_blocks_until_send)
{
    struct flagged f = {.ch = gh_chan_new(sizeof(long), 0)};
    long v = 7;

    gh_go(recv_then_flag, &f);
    gh_sleep(30 * T_MS);
    ck_assert_int_eq(atomic_load(&f.flag), 0);
    gh_chan_send(f.ch, &v);
    ck_assert(gh_test_wait_count(&f.flag, 1, GH_SECOND));
    ck_assert_int_eq(f.v, 7);
    gh_chan_free(f.ch);
}
END_TEST

/* One producer, one consumer: every value arrives, in order. */
#define ORDER_N 100000

struct order {
    gh_chan_t *ch;
    atomic_long done;
    long bad;
};

static void order_producer(void *p)
{
    struct order *o = p;
    for (long i = 0; i < ORDER_N; i++)
        gh_chan_send(o->ch, &i);
    gh_chan_close(o->ch);
}

static void order_consumer(void *p)
{
    struct order *o = p;
    long v, want = 0;
    GH_RANGE(o->ch, v) {
        if (v != want)
            o->bad++;
        want++;
    }
    if (want != ORDER_N)
        o->bad += 1000000;
    atomic_store(&o->done, 1);
}

static void order_run(int workers, size_t cap)
{
    struct order o = {.ch = gh_chan_new(sizeof(long), cap)};

    gh_test_set_workers(workers);
    gh_go(order_consumer, &o);
    gh_go(order_producer, &o);
    ck_assert(gh_test_wait_count(&o.done, 1, 20 * GH_SECOND));
    ck_assert_int_eq(o.bad, 0);
    gh_chan_free(o.ch);
}

START_TEST(chan_unbuffered_keeps_order_on_one_worker)
{
    order_run(1, 0);
}
END_TEST

START_TEST(chan_unbuffered_keeps_order_across_workers)
{
    order_run(2, 0);
}
END_TEST

START_TEST(chan_buffered_keeps_order_across_workers)
{
    order_run(2, 64);
}
END_TEST

/* ---- buffering ---- */

START_TEST(chan_buffered_fills_then_would_block)
{
    gh_chan_t *ch = gh_chan_new(sizeof(int), 4);

    ck_assert_uint_eq(gh_chan_cap(ch), 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(gh_chan_try_send(ch, &i), 0);
        ck_assert_uint_eq(gh_chan_len(ch), (size_t)i + 1);
    }
    int x = 99;
    ck_assert_int_eq(gh_chan_try_send(ch, &x), GH_EAGAIN);
    for (int i = 0; i < 4; i++) {
        int v = -1;
        ck_assert_int_eq(gh_chan_try_recv(ch, &v), 0);
        ck_assert_int_eq(v, i);
    }
    ck_assert_int_eq(gh_chan_try_recv(ch, &x), GH_EAGAIN);
    ck_assert_uint_eq(gh_chan_len(ch), 0);
    gh_chan_free(ch);
}
END_TEST

START_TEST(chan_unbuffered_try_ops_need_a_peer)
{
    gh_chan_t *ch = gh_chan_new(sizeof(int), 0);
    int v = 1;

    ck_assert_int_eq(gh_chan_try_send(ch, &v), GH_EAGAIN);
    ck_assert_int_eq(gh_chan_try_recv(ch, &v), GH_EAGAIN);
    ck_assert_uint_eq(gh_chan_cap(ch), 0);
    gh_chan_free(ch);
}
END_TEST

/* ---- FIFO among blocked peers (one worker, so arrival order is ours) -- */

#define NPEERS 10

struct fifo {
    gh_chan_t *ch;
    atomic_long started;
    atomic_long finished;
    long got[NPEERS];
    long order[NPEERS];
    atomic_long seq;
};

struct peer {
    struct fifo *f;
    long id;
};

static void fifo_sender(void *p)
{
    struct peer *pe = p;
    atomic_fetch_add(&pe->f->started, 1);
    gh_chan_send(pe->f->ch, &pe->id);
    atomic_fetch_add(&pe->f->finished, 1);
}

static void fifo_receiver(void *p)
{
    struct peer *pe = p;
    long v;
    atomic_fetch_add(&pe->f->started, 1);
    gh_chan_recv(pe->f->ch, &v);
    pe->f->got[pe->id] = v;
    atomic_fetch_add(&pe->f->finished, 1);
}

/* Start the peers one at a time, each parked before the next starts. */
static void start_in_order(struct fifo *f, struct peer *pe, gh_go_fn fn)
{
    for (long i = 0; i < NPEERS; i++) {
        pe[i] = (struct peer){f, i};
        gh_go(fn, &pe[i]);
        ck_assert(gh_test_wait_count(&f->started, i + 1, GH_SECOND));
        gh_sleep(2 * T_MS); /* it parks right after counting */
    }
}

START_TEST(chan_blocked_senders_are_served_in_arrival_order)
{
    struct fifo f = {.ch = gh_chan_new(sizeof(long), 0)};
    struct peer pe[NPEERS];

    gh_test_set_workers(1);
    start_in_order(&f, pe, fifo_sender);
    for (long i = 0; i < NPEERS; i++) {
        long v = -1;
        gh_chan_recv(f.ch, &v);
        ck_assert_int_eq(v, i);
    }
    ck_assert(gh_test_wait_count(&f.finished, NPEERS, GH_SECOND));
    gh_chan_free(f.ch);
}
END_TEST

START_TEST(chan_blocked_receivers_are_served_in_arrival_order)
{
    struct fifo f = {.ch = gh_chan_new(sizeof(long), 0)};
    struct peer pe[NPEERS];

    gh_test_set_workers(1);
    start_in_order(&f, pe, fifo_receiver);
    for (long i = 0; i < NPEERS; i++)
        gh_chan_send(f.ch, &i);
    ck_assert(gh_test_wait_count(&f.finished, NPEERS, GH_SECOND));
    for (long i = 0; i < NPEERS; i++)
        ck_assert_int_eq(f.got[i], i);
    gh_chan_free(f.ch);
}
END_TEST

/* A full buffer with senders waiting: buffered values come first, then the
 * senders' values in their arrival order. */
START_TEST(chan_full_buffer_then_blocked_senders_stay_fifo)
{
    struct fifo f = {.ch = gh_chan_new(sizeof(long), 3)};
    struct peer pe[NPEERS];

    gh_test_set_workers(1);
    for (long i = 100; i < 103; i++)
        gh_chan_send(f.ch, &i);
    start_in_order(&f, pe, fifo_sender);
    for (long i = 100; i < 103; i++) {
        long v;
        gh_chan_recv(f.ch, &v);
        ck_assert_int_eq(v, i);
    }
    for (long i = 0; i < NPEERS; i++) {
        long v;
        gh_chan_recv(f.ch, &v);
        ck_assert_int_eq(v, i);
    }
    ck_assert(gh_test_wait_count(&f.finished, NPEERS, GH_SECOND));
    gh_chan_free(f.ch);
}
END_TEST

/* ---- close ---- */

START_TEST(chan_close_drains_buffer_then_gives_zero)
{
    gh_chan_t *ch = gh_chan_new(sizeof(long), 4);
    long v;

    for (v = 1; v <= 3; v++)
        gh_chan_send(ch, &v);
    gh_chan_close(ch);
    for (long i = 1; i <= 3; i++) {
        ck_assert_int_eq(gh_chan_recv(ch, &v), 0);
        ck_assert_int_eq(v, i);
    }
    v = 12345;
    ck_assert_int_eq(gh_chan_recv(ch, &v), GH_ECLOSED);
    ck_assert_int_eq(v, 0);
    v = 12345;
    ck_assert_int_eq(gh_chan_try_recv(ch, &v), GH_ECLOSED);
    ck_assert_int_eq(v, 0);
    gh_chan_free(ch);
}
END_TEST

struct closer_wait {
    gh_chan_t *ch;
    atomic_long started;
    atomic_long closed_seen;
};

static void wait_recv_closed(void *p)
{
    struct closer_wait *c = p;
    long v = 77;
    atomic_fetch_add(&c->started, 1);
    if (gh_chan_recv(c->ch, &v) == GH_ECLOSED && v == 0)
        atomic_fetch_add(&c->closed_seen, 1);
}

START_TEST(chan_close_wakes_every_blocked_receiver)
{
    struct closer_wait c = {.ch = gh_chan_new(sizeof(long), 0)};

    for (int i = 0; i < 8; i++)
        gh_go(wait_recv_closed, &c);
    ck_assert(gh_test_wait_count(&c.started, 8, GH_SECOND));
    gh_sleep(10 * T_MS);
    gh_chan_close(c.ch);
    ck_assert(gh_test_wait_count(&c.closed_seen, 8, 2 * GH_SECOND));
    gh_chan_free(c.ch);
}
END_TEST

/* Misuse panics: run in a child, which must die with status 2. */
static void send_on_closed(void *arg)
{
    gh_chan_t *ch = gh_chan_new(sizeof(int), 1);
    int v = 1;
    gh_chan_close(ch);
    gh_chan_send(ch, &v);
}

static void close_twice(void *arg)
{
    gh_chan_t *ch = gh_chan_new(sizeof(int), 1);
    gh_chan_close(ch);
    gh_chan_close(ch);
}

static void close_nil(void *arg)
{
    gh_chan_close(NULL);
}

static void blocked_sender_sees_close_g(void *p)
{
    gh_chan_t *ch = p;
    int v = 1;
    gh_chan_send(ch, &v); /* panics once the close wakes it */
}

static void blocked_sender_sees_close(void *arg)
{
    gh_chan_t *ch = gh_chan_new(sizeof(int), 0);
    gh_go(blocked_sender_sees_close_g, ch);
    gh_sleep(20 * T_MS);
    gh_chan_close(ch);
    gh_sleep(5 * GH_SECOND); /* the panic ends the process first */
}

static void expect_panic(void (*fn)(void *), const char *msg)
{
    struct gh_test_child c;
    char buf[64];

    gh_test_run_child(fn, NULL, 10 * GH_SECOND, &c);
    ck_assert_msg(c.exited && c.exit_code == 2, "child: %s; stderr: %s",
                  gh_test_child_str(&c, buf, sizeof buf), c.err);
    ck_assert_msg(strstr(c.err, msg) != NULL, "stderr lacks '%s': %s", msg,
                  c.err);
}

START_TEST(chan_send_on_closed_channel_panics)
{
    expect_panic(send_on_closed, "send on closed channel");
}
END_TEST

START_TEST(chan_close_of_closed_channel_panics)
{
    expect_panic(close_twice, "close of closed channel");
}
END_TEST

START_TEST(chan_close_of_nil_channel_panics)
{
    expect_panic(close_nil, "close of nil channel");
}
END_TEST

START_TEST(chan_close_makes_blocked_sender_panic)
{
    expect_panic(blocked_sender_sees_close, "send on closed channel");
}
END_TEST

/* The same misuse, recovered by a deferred call: the panic is an ordinary
 * one and leaves the channel usable. */
struct recovered {
    const char *msg;
    char copy[128];
};

static void keep_message(void *p)
{
    struct recovered *r = p;
    r->msg = gh_recover();
    if (r->msg)
        snprintf(r->copy, sizeof r->copy, "%s", r->msg);
}

static void send_closed_guarded(void *p)
{
    gh_chan_t *ch = p;
    int v = 1;
    static struct recovered r;
    gh_defer(keep_message, &r);
    gh_chan_send(ch, &v);
}

static struct recovered rec;

static void close_twice_guarded(void *p)
{
    gh_defer(keep_message, &rec);
    gh_chan_close(p);
}

START_TEST(chan_misuse_panics_can_be_recovered)
{
    gh_chan_t *ch = gh_chan_new(sizeof(int), 2);
    int v = 3;

    gh_chan_send(ch, &v);
    gh_chan_close(ch);
    ck_assert_int_eq(gh_call(send_closed_guarded, ch), GH_EPANIC);
    ck_assert_int_eq(gh_call(close_twice_guarded, ch), GH_EPANIC);
    ck_assert_str_eq(rec.copy, "close of closed channel");
    /* The channel's lock was released before the panic. */
    ck_assert_int_eq(gh_chan_recv(ch, &v), 0);
    ck_assert_int_eq(v, 3);
    ck_assert_int_eq(gh_chan_recv(ch, &v), GH_ECLOSED);
    gh_chan_free(ch);
}
END_TEST

/* ---- nil channels ---- */

static void recv_nil_forever(void *p)
{
    struct flagged *f = p;
    gh_chan_recv(NULL, &f->v);
    atomic_store(&f->flag, 1);
}

START_TEST(chan_nil_blocks_forever_and_is_never_ready)
{
    struct flagged f = {0};
    int v = 0;

    gh_go(recv_nil_forever, &f);
    gh_sleep(50 * T_MS);
    ck_assert_int_eq(atomic_load(&f.flag), 0);
    ck_assert_int_eq(gh_chan_try_send(NULL, &v), GH_EAGAIN);
    ck_assert_int_eq(gh_chan_try_recv(NULL, &v), GH_EAGAIN);
    ck_assert_uint_eq(gh_chan_len(NULL), 0);
    ck_assert_uint_eq(gh_chan_cap(NULL), 0);
    gh_chan_free(NULL);
}
END_TEST

/* ---- element sizes ---- */

START_TEST(chan_rejects_bad_sizes)
{
    errno = 0;
    ck_assert_ptr_null(gh_chan_new(GH_CHAN_ELEM_MAX + 1, 0));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(gh_chan_new(1024, (size_t)1 << 40));
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

struct big {
    char bytes[1000];
};

static void send_big(void *p)
{
    gh_chan_t *ch = p;
    struct big b;
    for (int i = 0; i < 3; i++) {
        memset(b.bytes, 'a' + i, sizeof b.bytes);
        gh_chan_send(ch, &b);
    }
}

START_TEST(chan_copies_whole_elements)
{
    gh_chan_t *ch = gh_chan_new(sizeof(struct big), 1);
    struct big b;

    gh_go(send_big, ch);
    for (int i = 0; i < 3; i++) {
        gh_chan_recv(ch, &b);
        for (size_t k = 0; k < sizeof b.bytes; k++)
            ck_assert_int_eq(b.bytes[k], 'a' + i);
    }
    gh_chan_free(ch);
}
END_TEST

static void signal_zero_size(void *p)
{
    gh_chan_t *ch = p;
    for (int i = 0; i < 5; i++)
        gh_chan_send(ch, NULL);
    gh_chan_close(ch);
}

START_TEST(chan_zero_size_elements_signal)
{
    gh_chan_t *ch = gh_chan_new(0, 0);
    int n = 0;

    gh_go(signal_zero_size, ch);
    while (gh_chan_recv(ch, NULL) == 0)
        n++;
    ck_assert_int_eq(n, 5);
    ck_assert_uint_eq(gh_chan_elem_size(ch), 0);
    gh_chan_free(ch);
}
END_TEST

/* ---- plain threads ---- */

struct thr {
    gh_chan_t *in, *out;
    long sum;
};

static void *thread_sender(void *p)
{
    struct thr *t = p;
    for (long i = 1; i <= 1000; i++)
        gh_chan_send(t->in, &i);
    gh_chan_close(t->in);
    return NULL;
}

static void g_sum_and_reply(void *p)
{
    struct thr *t = p;
    long v, sum = 0;
    GH_RANGE(t->in, v) sum += v;
    gh_chan_send(t->out, &sum);
}

START_TEST(chan_foreign_thread_sends_goroutine_receives)
{
    struct thr t = {gh_chan_new(sizeof(long), 0), gh_chan_new(sizeof(long), 0),
                    0};
    pthread_t th;

    gh_go(g_sum_and_reply, &t);
    ck_assert_int_eq(pthread_create(&th, NULL, thread_sender, &t), 0);
    /* The test thread itself waits on the reply: a second plain thread. */
    ck_assert_int_eq(gh_chan_recv(t.out, &t.sum), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(t.sum, 500500);
    gh_chan_free(t.in);
    gh_chan_free(t.out);
}
END_TEST

/*
 * One worker, and plain threads on both sides of it: on a runtime with one
 * worker a parking goroutine releases the channel's lock before its
 * registers are saved (sched.c), which is safe only because a plain thread
 * that readies it queues it for the worker.  Two threads feed two relay
 * goroutines over unbuffered channels, two more threads drain them, and a
 * goroutine yields throughout so that every park has a neighbour to switch
 * to; every value must arrive once, none may be lost or doubled.
 */
#define RELAY_N 20000

struct relay {
    gh_chan_t *in, *out;
    atomic_int stop;
    long got;
};

static void *relay_feed(void *p)
{
    struct relay *r = p;
    for (long i = 1; i <= RELAY_N; i++)
        gh_chan_send(r->in, &i);
    return NULL;
}

static void *relay_drain(void *p)
{
    struct relay *r = p;
    long v;
    for (long i = 0; i < RELAY_N; i++) {
        gh_chan_recv(r->out, &v);
        r->got += v;
    }
    return NULL;
}

static void relay_g(void *p)
{
    struct relay *r = p;
    long v;
    for (long i = 0; i < RELAY_N; i++) {
        gh_chan_recv(r->in, &v);
        gh_chan_send(r->out, &v);
    }
}

static void relay_yielder(void *p)
{
    struct relay *r = p;
    while (!atomic_load(&r->stop))
        gh_yield();
}

START_TEST(chan_plain_threads_relay_through_one_worker)
{
    struct relay r[2];
    pthread_t feed[2], drain[2];

    gh_test_set_workers(1);
    for (int k = 0; k < 2; k++) {
        r[k] = (struct relay){.in = gh_chan_new(sizeof(long), 0),
                              .out = gh_chan_new(sizeof(long), 0)};
        gh_go(relay_g, &r[k]);
    }
    gh_go(relay_yielder, &r[0]);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(pthread_create(&feed[k], NULL, relay_feed, &r[k]), 0);
        ck_assert_int_eq(pthread_create(&drain[k], NULL, relay_drain, &r[k]),
                         0);
    }
    for (int k = 0; k < 2; k++) {
        pthread_join(feed[k], NULL);
        pthread_join(drain[k], NULL);
        ck_assert_int_eq(r[k].got, (long)RELAY_N * (RELAY_N + 1) / 2);
    }
    atomic_store(&r[0].stop, 1);
    for (int k = 0; k < 2; k++) {
        gh_chan_free(r[k].in);
        gh_chan_free(r[k].out);
    }
}
END_TEST

/* ---- many producers and consumers ---- */

#define MPMC_PER 20000

struct mpmc {
    gh_chan_t *ch;
    gh_chan_t *sums;
    atomic_long producers_left;
};

static void mpmc_producer(void *p)
{
    struct mpmc *m = p;
    for (long i = 1; i <= MPMC_PER; i++)
        gh_chan_send(m->ch, &i);
    if (atomic_fetch_sub(&m->producers_left, 1) == 1)
        gh_chan_close(m->ch);
}

static void mpmc_consumer(void *p)
{
    struct mpmc *m = p;
    long v, sum = 0;
    GH_RANGE(m->ch, v) sum += v;
    gh_chan_send(m->sums, &sum);
}

static void mpmc_run(size_t cap)
{
    struct mpmc m = {gh_chan_new(sizeof(long), cap),
                     gh_chan_new(sizeof(long), 0), 4};
    long total = 0, s;

    for (int i = 0; i < 4; i++) {
        gh_go(mpmc_consumer, &m);
        gh_go(mpmc_producer, &m);
    }
    for (int i = 0; i < 4; i++) {
        gh_chan_recv(m.sums, &s);
        total += s;
    }
    ck_assert_int_eq(total, 4L * MPMC_PER * (MPMC_PER + 1) / 2);
    gh_chan_free(m.ch);
    gh_chan_free(m.sums);
}

START_TEST(chan_many_producers_consumers_lose_nothing_unbuffered)
{
    mpmc_run(0);
}
END_TEST

START_TEST(chan_many_producers_consumers_lose_nothing_buffered)
{
    mpmc_run(8);
}
END_TEST

/* Buffered channels are lock-free while nobody waits, and a sender that
 * finds a receiver waiting gives its reserved slot up and sends the slow
 * way: many goroutines on a small buffer, receiving in every way there
 * is, go through all of that.  Each consumer must see each producer's
 * values in the order they were sent, and every value exactly once. */
#define ENDS_PRODUCERS 4
#define ENDS_CONSUMERS 4
#define ENDS_PER 30000

struct ends {
    gh_chan_t *ch;
    atomic_long next_id;
    atomic_long producers_done;
    atomic_long consumers_done;
    atomic_uchar seen[ENDS_PRODUCERS][ENDS_PER];
    atomic_long bad;
};

static void ends_producer(void *p)
{
    struct ends *o = p;
    long id = atomic_fetch_add(&o->next_id, 1);

    for (long i = 0; i < ENDS_PER; i++) {
        long v = id * ENDS_PER + i;
        if (i % 3 == 0 && gh_chan_try_send(o->ch, &v) == 0)
            continue;
        gh_chan_send(o->ch, &v);
    }
    atomic_fetch_add(&o->producers_done, 1);
}

static void ends_consumer(void *p)
{
    struct ends *o = p;
    long last[ENDS_PRODUCERS] = {-1, -1, -1, -1}, v;
    unsigned k = 0;

    for (;;) {
        int rc;
        switch (k++ % 3) {
        case 0:
            rc = gh_chan_recv(o->ch, &v);
            break;
        case 1:
            rc = gh_chan_recv_until(o->ch, &v, gh_now() + GH_SECOND);
            break;
        default:
            while ((rc = gh_chan_try_recv(o->ch, &v)) == GH_EAGAIN)
                gh_yield();
        }
        if (rc == GH_ECLOSED)
            break;
        if (rc != 0 || v < 0 || v >= ENDS_PRODUCERS * ENDS_PER ||
            v % ENDS_PER <= last[v / ENDS_PER] ||
            atomic_exchange(&o->seen[v / ENDS_PER][v % ENDS_PER], 1))
            atomic_fetch_add(&o->bad, 1);
        else
            last[v / ENDS_PER] = v % ENDS_PER;
    }
    atomic_fetch_add(&o->consumers_done, 1);
}

START_TEST(chan_buffered_many_ends_keep_each_senders_order)
{
    static struct ends o;
    long missing = 0, bad;

    memset(&o, 0, sizeof(o));
    o.ch = gh_chan_new(sizeof(long), 3);
    for (int i = 0; i < ENDS_CONSUMERS; i++)
        gh_go(ends_consumer, &o);
    for (int i = 0; i < ENDS_PRODUCERS; i++)
        gh_go(ends_producer, &o);
    ck_assert(gh_test_wait_count(&o.producers_done, ENDS_PRODUCERS,
                                 20 * GH_SECOND));
    gh_chan_close(o.ch); /* consumers drain the buffer first */
    ck_assert(gh_test_wait_count(&o.consumers_done, ENDS_CONSUMERS,
                                 20 * GH_SECOND));
    for (int p = 0; p < ENDS_PRODUCERS; p++)
        for (int i = 0; i < ENDS_PER; i++)
            missing += !atomic_load(&o.seen[p][i]);
    bad = atomic_load(&o.bad);
    ck_assert_msg(bad == 0, "%ld values out of order or seen twice", bad);
    ck_assert_msg(missing == 0, "%ld values lost", missing);
    gh_chan_free(o.ch);
}
END_TEST

/* A lock-free send or receive must notice a peer that went to sleep on
 * the other end: the receiver parked on an empty buffer, the sender on a
 * full one.  Every other round the peer has surely parked (a sleep);
 * otherwise the two race. */
#define WAKE_ROUNDS 400

struct parked_peer {
    gh_chan_t *ch;
    atomic_long done;
};

static void parked_receiver(void *p)
{
    struct parked_peer *pp = p;
    long v;

    ck_assert_int_eq(gh_chan_recv(pp->ch, &v), 0);
    atomic_fetch_add(&pp->done, 1);
}

static void parked_sender(void *p)
{
    struct parked_peer *pp = p;
    long v = 1;

    gh_chan_send(pp->ch, &v);
    atomic_fetch_add(&pp->done, 1);
}

START_TEST(chan_buffered_send_wakes_a_parked_receiver)
{
    struct parked_peer pp = {gh_chan_new(sizeof(long), 4), 0};

    for (long i = 0; i < WAKE_ROUNDS; i++) {
        gh_go(parked_receiver, &pp);
        if (i % 2 == 0)
            gh_sleep(GH_MILLISECOND);
        gh_chan_send(pp.ch, &i);
        ck_assert_msg(gh_test_wait_count(&pp.done, i + 1, 5 * GH_SECOND),
                      "round %ld: the receiver was not woken", i);
    }
    gh_chan_free(pp.ch);
}
END_TEST

START_TEST(chan_buffered_recv_wakes_a_parked_sender)
{
    struct parked_peer pp = {gh_chan_new(sizeof(long), 1), 0};
    long v = 0;

    gh_chan_send(pp.ch, &v); /* full */
    for (long i = 0; i < WAKE_ROUNDS; i++) {
        gh_go(parked_sender, &pp);
        if (i % 2 == 0)
            gh_sleep(GH_MILLISECOND);
        ck_assert_int_eq(gh_chan_recv(pp.ch, &v), 0);
        ck_assert_msg(gh_test_wait_count(&pp.done, i + 1, 5 * GH_SECOND),
                      "round %ld: the sender was not woken", i);
    }
    gh_chan_free(pp.ch);
}
END_TEST

/* The reply-channel pattern: the receiver frees a buffered channel as soon
 * as it has the value, while the sender, on another worker, may still be
 * inside its send: a lock-free one must not touch the channel after the
 * value is out, and a locked one (a send with a deadline goes through
 * gh_select) is still to drop the lock, which gh_chan_free must wait for.
 * The receiver waits in the channel, or spins with try-receives to catch
 * the value the moment it is out: every path must deliver the value, and
 * AddressSanitizer reports a touch of the freed channel should one happen
 * inside the (narrow) window. */
#define REPLY_ROUNDS 20000

struct reply {
    gh_chan_t *ch;
    long v;
};

static void reply_sender(void *p)
{
    struct reply *r = p;
    gh_chan_t *ch = r->ch;
    long v = r->v;

    if (v % 2)
        gh_yield(); /* the receiver is likely waiting first */
    if (v % 3 == 0)
        ck_assert_int_eq(gh_chan_send_until(ch, &v, gh_now() + GH_SECOND),
                         0);
    else
        gh_chan_send(ch, &v);
}

static void reply_rounds(void *unused)
{
    for (long i = 0; i < REPLY_ROUNDS; i++) {
        struct reply r = {gh_chan_new(i % 4 ? sizeof(long) : 0, 1), i};
        long got = -1;
        int rc;
        ck_assert_ptr_nonnull(r.ch);
        gh_go(reply_sender, &r);
        unsigned spins = 0;
        if (i % 5 < 2)
            rc = gh_chan_recv(r.ch, &got);
        else
            while ((rc = gh_chan_try_recv(r.ch, &got)) == GH_EAGAIN)
                if (++spins % 1024 == 0)
                    gh_yield();
        ck_assert_int_eq(rc, 0);
        if (i % 4)
            ck_assert_int_eq(got, i);
        gh_chan_free(r.ch);
    }
}

START_TEST(chan_buffered_receiver_may_free_what_it_was_sent_on)
{
    run_in_goroutine(reply_rounds, NULL);
}
END_TEST

/* ---- timers on channels ---- */

static void after_in_g(void *arg)
{
    int64_t t0 = gh_now(), when = 0;
    gh_chan_t *ch = gh_after(20 * T_MS);
    ck_assert_ptr_nonnull(ch);
    ck_assert_int_eq(gh_chan_recv(ch, &when), 0);
    ck_assert_int_ge(when - t0, 20 * T_MS);
    ck_assert_int_ge(gh_now() - t0, 20 * T_MS);
    ck_assert_int_lt(gh_now() - t0, gh_test_slack(500 * T_MS));
    gh_chan_free(ch);
}

START_TEST(chan_after_delivers_once_after_the_delay)
{
    run_in_goroutine(after_in_g, NULL);
    after_in_g(NULL); /* and from a plain thread */
}
END_TEST

START_TEST(chan_after_freed_before_firing_never_fires)
{
    for (int i = 0; i < 100; i++) {
        gh_chan_t *ch = gh_after(i % 2 ? 5 * T_MS : 0);
        ck_assert_ptr_nonnull(ch);
        gh_chan_free(ch); /* the timer must not touch it afterwards */
    }
    gh_sleep(20 * T_MS);
}
END_TEST

static void ticker_in_g(void *arg)
{
    /* t0 before the ticker: its ticks count from its creation */
    int64_t t0 = gh_now(), prev = t0, tick;
    gh_ticker_t *tk = gh_ticker_new(10 * T_MS);

    ck_assert_ptr_nonnull(tk);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(gh_chan_recv(gh_ticker_chan(tk), &tick), 0);
        /* Never early: tick i comes at its place in the phase or later
         * (a late one does not push the next ones back), in order. */
        ck_assert_int_ge(tick - t0, (i + 1) * 10 * T_MS);
        ck_assert_int_gt(tick, prev);
        prev = tick;
    }
    ck_assert_int_ge(gh_now() - t0, 50 * T_MS);
    ck_assert_int_eq(gh_ticker_reset(tk, 50 * T_MS), 0);
    t0 = gh_now();
    (void)gh_chan_try_recv(gh_ticker_chan(tk), &tick); /* a stale tick */
    ck_assert_int_eq(gh_chan_recv(gh_ticker_chan(tk), &tick), 0);
    ck_assert_int_ge(gh_now() - t0, 40 * T_MS);
    ck_assert_int_eq(gh_ticker_reset(tk, 0), GH_EINVAL);
    gh_ticker_stop(tk);
}

START_TEST(chan_ticker_ticks_on_period_and_resets)
{
    run_in_goroutine(ticker_in_g, NULL);
}
END_TEST

START_TEST(chan_ticker_drops_ticks_for_a_slow_reader)
{
    gh_ticker_t *tk = gh_ticker_new(2 * T_MS);
    int64_t tick;

    ck_assert_ptr_null(gh_ticker_new(0));
    gh_sleep(30 * T_MS);
    ck_assert_uint_le(gh_chan_len(gh_ticker_chan(tk)), 1);
    ck_assert_int_eq(gh_chan_recv(gh_ticker_chan(tk), &tick), 0);
    gh_ticker_stop(tk);
}
END_TEST

static Suite *chan_suite(void)
{
    Suite *s = suite_create("chan");
    TCase *tc = tcase_create("core");

    gh_test_tcase_setup(tc, 30);
    tcase_add_test(tc, chan_unbuffered_send_blocks_until_recv);
    tcase_add_test(tc, chan_unbuffered_recv_blocks_until_send);
    tcase_add_test(tc, chan_unbuffered_keeps_order_on_one_worker);
    tcase_add_test(tc, chan_unbuffered_keeps_order_across_workers);
    tcase_add_test(tc, chan_buffered_keeps_order_across_workers);
    tcase_add_test(tc, chan_buffered_fills_then_would_block);
    tcase_add_test(tc, chan_unbuffered_try_ops_need_a_peer);
    tcase_add_test(tc, chan_blocked_senders_are_served_in_arrival_order);
    tcase_add_test(tc, chan_blocked_receivers_are_served_in_arrival_order);
    tcase_add_test(tc, chan_full_buffer_then_blocked_senders_stay_fifo);
    tcase_add_test(tc, chan_close_drains_buffer_then_gives_zero);
    tcase_add_test(tc, chan_close_wakes_every_blocked_receiver);
    tcase_add_test(tc, chan_send_on_closed_channel_panics);
    tcase_add_test(tc, chan_close_of_closed_channel_panics);
    tcase_add_test(tc, chan_close_of_nil_channel_panics);
    tcase_add_test(tc, chan_close_makes_blocked_sender_panic);
    tcase_add_test(tc, chan_misuse_panics_can_be_recovered);
    tcase_add_test(tc, chan_nil_blocks_forever_and_is_never_ready);
    tcase_add_test(tc, chan_rejects_bad_sizes);
    tcase_add_test(tc, chan_copies_whole_elements);
    tcase_add_test(tc, chan_zero_size_elements_signal);
    tcase_add_test(tc, chan_foreign_thread_sends_goroutine_receives);
    tcase_add_test(tc, chan_plain_threads_relay_through_one_worker);
    tcase_add_test(tc, chan_many_producers_consumers_lose_nothing_unbuffered);
    tcase_add_test(tc, chan_many_producers_consumers_lose_nothing_buffered);
    tcase_add_test(tc, chan_buffered_many_ends_keep_each_senders_order);
    tcase_add_test(tc, chan_buffered_send_wakes_a_parked_receiver);
    tcase_add_test(tc, chan_buffered_recv_wakes_a_parked_sender);
    tcase_add_test(tc, chan_buffered_receiver_may_free_what_it_was_sent_on);
    tcase_add_test(tc, chan_after_delivers_once_after_the_delay);
    tcase_add_test(tc, chan_after_freed_before_firing_never_fires);
    tcase_add_test(tc, chan_ticker_ticks_on_period_and_resets);
    tcase_add_test(tc, chan_ticker_drops_ticks_for_a_slow_reader);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(chan_suite)
