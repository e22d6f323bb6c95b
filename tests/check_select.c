/*
 * check_select.c - gh_select(): ready cases, random choice, default,
 * deadlines, nil channels, close, many cases, plain threads, and the race
 * between a deadline and a sender.
 */
#include "check_gh.h"

#include <pthread.h>

#define T_MS GH_MILLISECOND

START_TEST(select_performs_the_one_ready_case)
{
    gh_chan_t *a = gh_chan_new(sizeof(int), 1), *b = gh_chan_new(sizeof(int), 1);
    int v = 5, got = 0;

    gh_chan_send(b, &v);
    gh_case_t cs[] = {GH_RECV(a, &got), GH_RECV(b, &got)};
    ck_assert_int_eq(gh_select(cs, 2, GH_FOREVER), 1);
    ck_assert_int_eq(got, 5);
    ck_assert(cs[1].ok);
    ck_assert_uint_eq(gh_chan_len(b), 0);
    ck_assert_uint_eq(gh_chan_len(a), 0);

    int w = 9;
    gh_case_t cs2[] = {GH_RECV(a, &got), GH_SEND(a, &w)};
    ck_assert_int_eq(gh_select(cs2, 2, GH_FOREVER), 1);
    ck_assert_int_eq(gh_chan_try_recv(a, &got), 0);
    ck_assert_int_eq(got, 9);
    gh_chan_free(a);
    gh_chan_free(b);
}
END_TEST

/* Two always-ready channels: each is chosen about half the time. */
START_TEST(select_chooses_uniformly_among_ready_cases)
{
    gh_chan_t *a = gh_chan_new(sizeof(int), 1), *b = gh_chan_new(sizeof(int), 1);
    int one = 1, got, counts[2] = {0, 0};

    for (int i = 0; i < 10000; i++) {
        gh_chan_try_send(a, &one);
        gh_chan_try_send(b, &one);
        gh_case_t cs[] = {GH_RECV(a, &got), GH_RECV(b, &got)};
        int r = gh_select(cs, 2, GH_NOWAIT);
        ck_assert(r == 0 || r == 1);
        counts[r]++;
    }
    /* Binomial(10000, 0.5): sd 50; 4500..5500 is ten sd. */
    ck_assert_msg(counts[0] > 4500 && counts[0] < 5500, "%d / %d", counts[0],
                  counts[1]);
    gh_chan_free(a);
    gh_chan_free(b);
}
END_TEST

START_TEST(select_three_way_choice_is_uniform)
{
    gh_chan_t *ch[3];
    int one = 1, got, counts[3] = {0, 0, 0};

    for (int k = 0; k < 3; k++)
        ch[k] = gh_chan_new(sizeof(int), 1);
    for (int i = 0; i < 9000; i++) {
        for (int k = 0; k < 3; k++)
            gh_chan_try_send(ch[k], &one);
        gh_case_t cs[] = {GH_RECV(ch[0], &got), GH_RECV(ch[1], &got),
                          GH_RECV(ch[2], &got)};
        counts[gh_select(cs, 3, GH_NOWAIT)]++;
    }
    for (int k = 0; k < 3; k++)
        ck_assert_msg(counts[k] > 2600 && counts[k] < 3400, "%d %d %d",
                      counts[0], counts[1], counts[2]);
    for (int k = 0; k < 3; k++)
        gh_chan_free(ch[k]);
}
END_TEST

START_TEST(select_default_returns_eagain_when_nothing_is_ready)
{
    gh_chan_t *a = gh_chan_new(sizeof(int), 0);
    int v = 1;
    gh_case_t cs[] = {GH_RECV(a, &v), GH_SEND(a, &v)};

    ck_assert_int_eq(gh_select(cs, 2, GH_NOWAIT), GH_EAGAIN);
    ck_assert_int_eq(gh_select(NULL, 0, GH_NOWAIT), GH_EAGAIN);
    gh_chan_free(a);
}
END_TEST

static void deadline_check(void *arg)
{
    gh_chan_t *a = gh_chan_new(sizeof(int), 0);
    int v;
    gh_case_t cs[] = {GH_RECV(a, &v), GH_RECV(NULL, &v)};
    int64_t t0 = gh_now();

    ck_assert_int_eq(gh_select(cs, 2, t0 + 30 * T_MS), GH_ETIMEDOUT);
    ck_assert_int_ge(gh_now() - t0, 30 * T_MS);
    ck_assert_int_lt(gh_now() - t0, gh_test_slack(500 * T_MS));
    /* A deadline already past: one look, no wait. */
    ck_assert_int_eq(gh_select(cs, 2, gh_now() - 1), GH_ETIMEDOUT);
    ck_assert_int_eq(gh_chan_recv_until(a, &v, gh_now() + T_MS),
                     GH_ETIMEDOUT);
    ck_assert_int_eq(gh_chan_send_until(a, &v, gh_now() + T_MS),
                     GH_ETIMEDOUT);
    /* No case at all: select {} with a deadline is a sleep. */
    t0 = gh_now();
    ck_assert_int_eq(gh_select(NULL, 0, t0 + 10 * T_MS), GH_ETIMEDOUT);
    ck_assert_int_ge(gh_now() - t0, 10 * T_MS);
    gh_chan_free(a);
}

struct done {
    void (*fn)(void *);
    atomic_long n;
};

static void run_and_count(void *p)
{
    struct done *d = p;
    d->fn(NULL);
    atomic_fetch_add(&d->n, 1);
}

START_TEST(select_deadline_expires_in_goroutine_and_thread)
{
    struct done d = {deadline_check, 0};

    gh_go(run_and_count, &d);
    ck_assert(gh_test_wait_count(&d.n, 1, 5 * GH_SECOND));
    deadline_check(NULL); /* the test thread: a timed condition wait */
}
END_TEST

START_TEST(select_on_nil_channels_only_waits_for_the_deadline)
{
    int v = 1;
    gh_case_t cs[] = {GH_RECV(NULL, &v), GH_SEND(NULL, &v)};

    ck_assert_int_eq(gh_select(cs, 2, GH_NOWAIT), GH_EAGAIN);
    ck_assert_int_eq(gh_select(cs, 2, gh_now() + 5 * T_MS), GH_ETIMEDOUT);
}
END_TEST

struct waker {
    gh_chan_t *ch;
    int delay_ms;
    int v;
};

static void send_later(void *p)
{
    struct waker *w = p;
    gh_sleep(w->delay_ms * T_MS);
    gh_chan_send(w->ch, &w->v);
}

START_TEST(select_blocks_until_a_peer_sends)
{
    gh_chan_t *ch[3];
    int got = 0;

    for (int k = 0; k < 3; k++)
        ch[k] = gh_chan_new(sizeof(int), 0);
    struct waker w = {ch[2], 20, 77};
    gh_go(send_later, &w);
    gh_case_t cs[] = {GH_RECV(ch[0], &got), GH_RECV(ch[1], &got),
                      GH_RECV(ch[2], &got)};
    int64_t t0 = gh_now();
    ck_assert_int_eq(gh_select(cs, 3, GH_FOREVER), 2);
    ck_assert_int_ge(gh_now() - t0, 15 * T_MS);
    ck_assert_int_eq(got, 77);
    ck_assert(cs[2].ok);
    /* The records on ch[0] and ch[1] are gone: a later send must not
     * find a stale waiter. */
    ck_assert_int_eq(gh_chan_try_send(ch[0], &got), GH_EAGAIN);
    ck_assert_int_eq(gh_chan_try_send(ch[1], &got), GH_EAGAIN);
    for (int k = 0; k < 3; k++)
        gh_chan_free(ch[k]);
}
END_TEST

static void recv_one(void *p)
{
    struct waker *w = p;
    gh_sleep(w->delay_ms * T_MS);
    gh_chan_recv(w->ch, &w->v);
}

START_TEST(select_send_case_waits_for_a_receiver)
{
    gh_chan_t *a = gh_chan_new(sizeof(int), 0), *b = gh_chan_new(sizeof(int), 0);
    struct waker w = {b, 10, 0};
    int x = 31, y;

    gh_go(recv_one, &w);
    gh_case_t cs[] = {GH_RECV(a, &y), GH_SEND(b, &x)};
    ck_assert_int_eq(gh_select(cs, 2, gh_now() + 5 * GH_SECOND), 1);
    gh_sleep(5 * T_MS);
    ck_assert_int_eq(w.v, 31);
    gh_chan_free(a);
    gh_chan_free(b);
}
END_TEST

static void close_later(void *p)
{
    gh_sleep(10 * T_MS);
    gh_chan_close(p);
}

START_TEST(select_receive_on_closed_channel_reports_not_ok)
{
    gh_chan_t *a = gh_chan_new(sizeof(int), 0), *b = gh_chan_new(sizeof(int), 0);
    int got = 55;

    gh_go(close_later, b);
    gh_case_t cs[] = {GH_RECV(a, &got), GH_RECV(b, &got)};
    ck_assert_int_eq(gh_select(cs, 2, GH_FOREVER), 1); /* woken by close */
    ck_assert(!cs[1].ok);
    ck_assert_int_eq(got, 0);
    got = 55;
    ck_assert_int_eq(gh_select(cs, 2, GH_NOWAIT), 1); /* ready at once */
    ck_assert(!cs[1].ok);
    ck_assert_int_eq(got, 0);
    gh_chan_free(a);
    gh_chan_free(b);
}
END_TEST

static void send_case_on_closed(void *arg)
{
    gh_chan_t *a = gh_chan_new(sizeof(int), 0);
    int v = 1;
    gh_chan_close(a);
    gh_case_t cs[] = {GH_SEND(a, &v)};
    gh_select(cs, 1, GH_FOREVER);
}

START_TEST(select_send_case_on_closed_channel_panics)
{
    struct gh_test_child c;
    char buf[64];

    gh_test_run_child(send_case_on_closed, NULL, 10 * GH_SECOND, &c);
    ck_assert_msg(c.exited && c.exit_code == 2, "%s: %s",
                  gh_test_child_str(&c, buf, sizeof buf), c.err);
    ck_assert_ptr_nonnull(strstr(c.err, "send on closed channel"));
}
END_TEST

START_TEST(select_rejects_bad_ops)
{
    gh_case_t cs[] = {{.ch = NULL, .op = 7}};
    gh_chan_t *a = gh_chan_new(sizeof(int), 1);
    int v = 3, got = 0;

    ck_assert_int_eq(gh_select(cs, 1, GH_NOWAIT), GH_EINVAL);
    /* Checked before anything happens: a ready case stays untouched. */
    gh_chan_send(a, &v);
    gh_case_t cs2[] = {GH_RECV(a, &got), {.ch = a, .op = 7}};
    ck_assert_int_eq(gh_select(cs2, 2, GH_FOREVER), GH_EINVAL);
    ck_assert_uint_eq(gh_chan_len(a), 1);
    ck_assert_int_eq(got, 0);
    gh_chan_free(a);
}
END_TEST

/*
 * A select woken through one channel leaves its record on the others until
 * it runs again.  On one worker its waker runs on meanwhile, and a select of
 * the waker's sees that record: it may look like a receiver, but must never
 * be taken for one.  Rounds, so that the random choice between the stale
 * case and a really ready one goes both ways.
 */
#define STALE_ROUNDS 20

struct stale {
    gh_chan_t *c1, *c2, *c3;
    atomic_long parked, woken;
    int a_case, a_got;
    int with_ready, alone, y; /* the waker's selects */
    atomic_long done;
};

static void stale_waiter(void *p)
{
    struct stale *st = p;
    gh_case_t cs[] = {GH_RECV(st->c1, &st->a_got), GH_RECV(st->c2, &st->a_got)};

    atomic_fetch_add(&st->parked, 1);
    st->a_case = gh_select(cs, 2, GH_FOREVER);
    atomic_fetch_add(&st->woken, 1);
}

static void stale_waker(void *p)
{
    struct stale *st = p;
    int v = 42, x = 7, one = 1;

    gh_go(stale_waiter, st);
    ck_assert(gh_test_wait_count(&st->parked, 1, GH_SECOND));
    gh_sleep(2 * T_MS); /* it parks right after counting */
    gh_chan_send(st->c1, &v);  /* readies it; we run on */
    gh_chan_send(st->c3, &one); /* buffered: really ready */
    gh_case_t cs[] = {GH_SEND(st->c2, &x), GH_RECV(st->c3, &st->y)};
    st->with_ready = gh_select(cs, 2, GH_NOWAIT);
    st->alone = gh_select(cs, 1, GH_NOWAIT);
    atomic_store(&st->done, 1);
}

START_TEST(select_never_takes_a_decided_waiter_for_a_peer)
{
    gh_test_set_workers(1);
    for (int round = 0; round < STALE_ROUNDS; round++) {
        struct stale st = {.c1 = gh_chan_new(sizeof(int), 0),
                           .c2 = gh_chan_new(sizeof(int), 0),
                           .c3 = gh_chan_new(sizeof(int), 1)};
        int got;

        gh_go(stale_waker, &st);
        ck_assert(gh_test_wait_count(&st.done, 1, 5 * GH_SECOND));
        ck_assert(gh_test_wait_count(&st.woken, 1, 5 * GH_SECOND));
        ck_assert_int_eq(st.a_case, 0);
        ck_assert_int_eq(st.a_got, 42);
        ck_assert_int_eq(st.with_ready, 1);
        ck_assert_int_eq(st.y, 1);
        ck_assert_int_eq(st.alone, GH_EAGAIN);
        ck_assert_int_eq(gh_chan_try_recv(st.c2, &got), GH_EAGAIN);
        gh_chan_free(st.c1);
        gh_chan_free(st.c2);
        gh_chan_free(st.c3);
    }
}
END_TEST

/* Many cases: the lock order is sorted without allocating. */
#define MANY 200

START_TEST(select_over_many_channels_finds_the_ready_one)
{
    static gh_chan_t *ch[MANY];
    static gh_case_t cs[MANY];
    int vals[MANY];

    for (int i = 0; i < MANY; i++)
        ch[i] = gh_chan_new(sizeof(int), 1);
    for (int round = 0; round < 50; round++) {
        int k = (round * 37) % MANY, v = round;
        gh_chan_send(ch[k], &v);
        for (int i = 0; i < MANY; i++)
            cs[i] = (gh_case_t)GH_RECV(ch[(i * 7) % MANY], &vals[i]);
        int r = gh_select(cs, MANY, GH_FOREVER);
        ck_assert_int_ge(r, 0);
        ck_assert_ptr_eq(cs[r].ch, ch[k]);
        ck_assert_int_eq(vals[r], round);
    }
    for (int i = 0; i < MANY; i++)
        gh_chan_free(ch[i]);
}
END_TEST

/*
 * A select that waits over n unbuffered channels until the last one gets a
 * value: its wait records sit on the stack when they fit (a goroutine's
 * 64 KiB leaves room for hundreds; a thread, a few dozen) and on the heap
 * otherwise.  Either way the winner gets the value and no record stays
 * queued on the others.
 */
struct wide {
    int n;
    atomic_long ok;
};

static void wide_select(void *p)
{
    struct wide *wd = p;
    int n = wd->n, got = -1, r;
    gh_chan_t **ch = calloc((size_t)n, sizeof(*ch));
    gh_case_t *cs = calloc((size_t)n, sizeof(*cs));
    struct waker w;

    ck_assert(ch && cs);
    for (int i = 0; i < n; i++) {
        ch[i] = gh_chan_new(sizeof(int), 0);
        cs[i] = (gh_case_t)GH_RECV(ch[i], &got);
    }
    w = (struct waker){ch[n - 1], 20, 4242};
    gh_go(send_later, &w);
    r = gh_select(cs, (size_t)n, gh_deadline_in(5 * GH_SECOND));
    ck_assert_int_eq(r, n - 1);
    ck_assert_int_eq(got, 4242);
    for (int i = 0; i < n - 1; i++)
        ck_assert_int_eq(gh_chan_try_send(ch[i], &got), GH_EAGAIN);
    for (int i = 0; i < n; i++)
        gh_chan_free(ch[i]);
    free(ch);
    free(cs);
    atomic_fetch_add(&wd->ok, 1);
}

START_TEST(select_waits_over_many_cases_on_stack_or_heap)
{
    static const int sizes[] = {2, 60, 300, 5000};

    for (size_t k = 0; k < sizeof(sizes) / sizeof(*sizes); k++) {
        struct wide wd = {sizes[k], 0};
        gh_go(wide_select, &wd);
        ck_assert(gh_test_wait_count(&wd.ok, 1, 10 * GH_SECOND));
        wide_select(&wd); /* the test thread */
        ck_assert_int_eq(atomic_load(&wd.ok), 2); /* and both passed */
    }
}
END_TEST

/* Several selectors and senders on several workers: every value is taken
 * exactly once. */
#define STRESS_PER 20000

struct stress {
    gh_chan_t *a, *b, *quit, *sums;
    atomic_long senders_left;
};

static void stress_sender(void *p)
{
    struct stress *s = p;
    for (long i = 1; i <= STRESS_PER; i++)
        gh_chan_send(i % 2 ? s->a : s->b, &i);
    if (atomic_fetch_sub(&s->senders_left, 1) == 1)
        gh_chan_close(s->quit);
}

static void stress_selector(void *p)
{
    struct stress *s = p;
    long v, sum = 0;
    for (;;) {
        gh_case_t cs[] = {GH_RECV(s->a, &v), GH_RECV(s->b, &v),
                          GH_RECV(s->quit, NULL)};
        int r = gh_select(cs, 3, GH_FOREVER);
        if (r == 2)
            break;
        sum += v;
    }
    /* Drain what is left after quit closed (buffered values). */
    while (gh_chan_try_recv(s->a, &v) == 0 || gh_chan_try_recv(s->b, &v) == 0)
        sum += v;
    gh_chan_send(s->sums, &sum);
}

START_TEST(select_many_selectors_and_senders_lose_nothing)
{
    struct stress s = {gh_chan_new(sizeof(long), 4), gh_chan_new(sizeof(long), 0),
                       gh_chan_new(0, 0), gh_chan_new(sizeof(long), 0), 4};
    long total = 0, part;

    for (int i = 0; i < 4; i++) {
        gh_go(stress_selector, &s);
        gh_go(stress_sender, &s);
    }
    for (int i = 0; i < 4; i++) {
        gh_chan_recv(s.sums, &part);
        total += part;
    }
    ck_assert_int_eq(total, 4L * STRESS_PER * (STRESS_PER + 1) / 2);
    gh_chan_free(s.a);
    gh_chan_free(s.b);
    gh_chan_free(s.quit);
    gh_chan_free(s.sums);
}
END_TEST

/* A receiver with a very short deadline against a sender: the deadline
 * and the sender race for the same wait; no value may be lost or doubled. */
#define RACE_N 20000

struct race {
    gh_chan_t *ch;
    atomic_long done;
    long timeouts, bad;
};

static void race_sender(void *p)
{
    struct race *r = p;
    for (long i = 0; i < RACE_N; i++) {
        if (i % 8 == 0) /* let the receiver's deadlines expire now and then */
            gh_sleep((i % 5) * 10 * GH_MICROSECOND);
        gh_chan_send(r->ch, &i);
    }
}

static void race_receiver(void *p)
{
    struct race *r = p;
    long want = 0, v;
    while (want < RACE_N) {
        int rc = gh_chan_recv_until(r->ch, &v, gh_now() + (want % 3) * 10 * GH_MICROSECOND);
        if (rc == GH_ETIMEDOUT) {
            r->timeouts++;
            gh_yield(); /* a loop that may not park must yield */
            continue;
        }
        if (rc != 0 || v != want)
            r->bad++;
        want = v + 1;
    }
    atomic_store(&r->done, 1);
}

START_TEST(select_deadline_racing_a_sender_loses_nothing)
{
    struct race r = {.ch = gh_chan_new(sizeof(long), 0)};

    gh_go(race_receiver, &r);
    gh_go(race_sender, &r);
    ck_assert(gh_test_wait_count(&r.done, 1, 30 * GH_SECOND));
    ck_assert_int_eq(r.bad, 0);
    if (getenv("GH_TEST_VERBOSE"))
        fprintf(stderr, "deadline race: %ld timeouts\n", r.timeouts);
    gh_chan_free(r.ch);
}
END_TEST

/* A plain thread blocked in select is woken by a goroutine. */
START_TEST(select_in_foreign_thread_is_woken_by_goroutine)
{
    gh_chan_t *a = gh_chan_new(sizeof(int), 0), *b = gh_chan_new(sizeof(int), 0);
    struct waker w = {b, 10, 4};
    int got = 0;

    gh_go(send_later, &w);
    gh_case_t cs[] = {GH_RECV(a, &got), GH_RECV(b, &got)};
    ck_assert_int_eq(gh_select(cs, 2, gh_now() + 5 * GH_SECOND), 1);
    ck_assert_int_eq(got, 4);
    gh_chan_free(a);
    gh_chan_free(b);
}
END_TEST

static Suite *select_suite(void)
{
    Suite *s = suite_create("select");
    TCase *tc = tcase_create("core");

    gh_test_tcase_setup(tc, 60);
    tcase_add_test(tc, select_performs_the_one_ready_case);
    tcase_add_test(tc, select_chooses_uniformly_among_ready_cases);
    tcase_add_test(tc, select_three_way_choice_is_uniform);
    tcase_add_test(tc, select_default_returns_eagain_when_nothing_is_ready);
    tcase_add_test(tc, select_deadline_expires_in_goroutine_and_thread);
    tcase_add_test(tc, select_on_nil_channels_only_waits_for_the_deadline);
    tcase_add_test(tc, select_blocks_until_a_peer_sends);
    tcase_add_test(tc, select_send_case_waits_for_a_receiver);
    tcase_add_test(tc, select_receive_on_closed_channel_reports_not_ok);
    tcase_add_test(tc, select_send_case_on_closed_channel_panics);
    tcase_add_test(tc, select_rejects_bad_ops);
    tcase_add_test(tc, select_never_takes_a_decided_waiter_for_a_peer);
    tcase_add_test(tc, select_over_many_channels_finds_the_ready_one);
    tcase_add_test(tc, select_waits_over_many_cases_on_stack_or_heap);
    tcase_add_test(tc, select_many_selectors_and_senders_lose_nothing);
    tcase_add_test(tc, select_deadline_racing_a_sender_loses_nothing);
    tcase_add_test(tc, select_in_foreign_thread_is_woken_by_goroutine);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(select_suite)
