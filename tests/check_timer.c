/*
 * check_timer.c - the clock and sleeping: gh_now, gh_deadline_in, gh_sleep
 * and gh_sleep_until, in goroutines and on other threads.
 *
 * Lower bounds on time are exact (a sleep never ends early); upper bounds
 * are loose and scaled by gh_test_slack(), since the test machine is small
 * and noisy and sanitizer builds are several times slower.
 */
#include "check_gh.h"

#include <pthread.h>

#include "internal.h" /* gh__now_coarse */

static atomic_long done;

/* ------------------------------------------------------------------ */
/* The clock                                                           */
/* ------------------------------------------------------------------ */

START_TEST(timer_now_is_monotonic_and_matches_clock_monotonic)
{
    struct timespec ts;
    int64_t prev = gh_now(), sys, now;
    for (int i = 0; i < 100000; i++) {
        now = gh_now();
        ck_assert_msg(now >= prev, "gh_now went back: %lld after %lld",
                      (long long)now, (long long)prev);
        prev = now;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sys = (int64_t)ts.tv_sec * GH_SECOND + ts.tv_nsec;
    now = gh_now();
    ck_assert_int_ge(now, sys);
    ck_assert_msg(now - sys < gh_test_slack(100 * GH_MILLISECOND),
                  "gh_now %lld vs CLOCK_MONOTONIC %lld", (long long)now,
                  (long long)sys);
}
END_TEST

/* The coarse clock is gh_now()'s, never ahead of it and at most a tick
 * (a few ms; 100 ms allows for any HZ and a descheduled thread) behind. */
START_TEST(timer_now_coarse_trails_now_by_at_most_a_tick)
{
    int64_t before, coarse, after;

    for (int i = 0; i < 1000; i++) {
        before = gh_now();
        coarse = gh__now_coarse();
        after = gh_now();
        ck_assert_msg(coarse <= after, "coarse %lld ahead of gh_now %lld",
                      (long long)coarse, (long long)after);
        ck_assert_msg(before - coarse < gh_test_slack(100 * GH_MILLISECOND),
                      "coarse %lld vs gh_now %lld", (long long)coarse,
                      (long long)before);
    }
}
END_TEST

START_TEST(timer_deadline_in_saturates_at_forever)
{
    int64_t now = gh_now();
    ck_assert_int_eq(gh_deadline_in(GH_FOREVER), GH_FOREVER);
    ck_assert_int_eq(gh_deadline_in(GH_FOREVER - 1), GH_FOREVER);
    ck_assert_int_eq(gh_deadline_in(GH_FOREVER - now + GH_SECOND), GH_FOREVER);
    ck_assert_int_ge(gh_deadline_in(GH_SECOND), now + GH_SECOND);
    ck_assert_int_lt(gh_deadline_in(GH_SECOND), GH_FOREVER);
    ck_assert_int_ge(gh_deadline_in(0), now);
    ck_assert_int_lt(gh_deadline_in(-GH_SECOND), gh_now());
    ck_assert_int_lt(gh_deadline_in(INT64_MIN), gh_now());
}
END_TEST

/* ------------------------------------------------------------------ */
/* Sleeping in goroutines                                              */
/* ------------------------------------------------------------------ */

static int64_t slept[16];

static void sleep_50ms(void *arg)
{
    int64_t t0 = gh_now();
    gh_sleep(50 * GH_MILLISECOND);
    slept[0] = gh_now() - t0;
    atomic_fetch_add(&done, 1);
}

START_TEST(timer_sleep_50ms_takes_at_least_50ms)
{
    ck_assert_int_gt(gh_go(sleep_50ms, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_msg(slept[0] >= 50 * GH_MILLISECOND, "slept only %.3f ms",
                  gh_test_ms(slept[0]));
    ck_assert_msg(slept[0] < gh_test_slack(GH_SECOND), "slept %.3f ms",
                  gh_test_ms(slept[0]));
}
END_TEST

static const int order_ms[4] = {40, 10, 30, 20};
static atomic_int wake_pos;
static int wake_order[4];

static void sleep_and_record(void *arg)
{
    intptr_t i = (intptr_t)arg;
    gh_sleep(order_ms[i] * GH_MILLISECOND);
    wake_order[atomic_fetch_add(&wake_pos, 1)] = order_ms[i];
    atomic_fetch_add(&done, 1);
}

START_TEST(timer_sleepers_wake_in_deadline_order)
{
    /* One worker: wake order is the order the timers fire, even if the
     * worker is descheduled long enough for all of them to expire. */
    gh_test_set_workers(1);
    for (intptr_t i = 0; i < 4; i++)
        ck_assert_int_gt(gh_go(sleep_and_record, (void *)i), 0);
    GH_TEST_WAIT_COUNT(&done, 4, 5 * GH_SECOND);
    ck_assert_msg(wake_order[0] == 10 && wake_order[1] == 20 &&
                      wake_order[2] == 30 && wake_order[3] == 40,
                  "woke in order %d,%d,%d,%d ms", wake_order[0],
                  wake_order[1], wake_order[2], wake_order[3]);
}
END_TEST

static int64_t until_deadline, until_woke;

static void sleep_until_g(void *arg)
{
    gh_sleep_until(until_deadline);
    until_woke = gh_now();
    atomic_fetch_add(&done, 1);
}

START_TEST(timer_sleep_until_returns_at_or_after_the_deadline)
{
    until_deadline = gh_now() + 30 * GH_MILLISECOND;
    ck_assert_int_gt(gh_go(sleep_until_g, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_ge(until_woke, until_deadline);
    ck_assert_int_lt(until_woke - until_deadline, gh_test_slack(GH_SECOND));

    /* A deadline in the past, or "now", returns promptly. */
    until_deadline = gh_now() - GH_SECOND;
    ck_assert_int_gt(gh_go(sleep_until_g, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 5 * GH_SECOND);
    ck_assert_int_lt(until_woke - until_deadline,
                     GH_SECOND + gh_test_slack(500 * GH_MILLISECOND));
}
END_TEST

static void sleep_nonpositive(void *arg)
{
    int64_t t0 = gh_now();
    gh_sleep(0);
    gh_sleep(-1);
    gh_sleep(-GH_SECOND);
    gh_sleep(INT64_MIN);
    gh_sleep_until(0);
    gh_sleep_until(INT64_MIN);
    slept[1] = gh_now() - t0;
    atomic_fetch_add(&done, 1);
}

START_TEST(timer_sleep_zero_or_negative_returns_promptly)
{
    int64_t t0;
    ck_assert_int_gt(gh_go(sleep_nonpositive, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_msg(slept[1] < gh_test_slack(200 * GH_MILLISECOND),
                  "took %.1f ms", gh_test_ms(slept[1]));
    /* The same outside a goroutine. */
    t0 = gh_now();
    gh_sleep(0);
    gh_sleep(-GH_SECOND);
    gh_sleep(INT64_MIN);
    gh_sleep_until(0);
    ck_assert_int_lt(gh_now() - t0, gh_test_slack(200 * GH_MILLISECOND));
}
END_TEST

static void sleep_1ms(void *arg)
{
    gh_sleep(GH_MILLISECOND);
    atomic_fetch_add(&done, 1);
}

START_TEST(timer_10k_goroutines_sleeping_1ms_all_finish)
{
    int64_t t0 = gh_now(), took;
    for (int i = 0; i < 10000; i++)
        ck_assert_int_gt(gh_go(sleep_1ms, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 10000, 20 * GH_SECOND);
    took = gh_now() - t0;
    ck_assert_msg(took < gh_test_slack(2 * GH_SECOND),
                  "10k 1 ms sleepers took %.0f ms", gh_test_ms(took));
}
END_TEST

static int64_t same_deadline;

static void sleep_until_shared(void *arg)
{
    gh_sleep_until(same_deadline);
    if (gh_now() >= same_deadline)
        atomic_fetch_add(&done, 1);
}

START_TEST(timer_many_sleepers_with_one_deadline_all_wake)
{
    same_deadline = gh_now() + 50 * GH_MILLISECOND;
    for (int i = 0; i < 1000; i++)
        ck_assert_int_gt(gh_go(sleep_until_shared, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1000, 10 * GH_SECOND);
}
END_TEST

static atomic_long ticks;
static atomic_int long_sleeper_done;

static void long_sleeper(void *arg)
{
    gh_sleep(200 * GH_MILLISECOND);
    atomic_store(&long_sleeper_done, 1);
    atomic_fetch_add(&done, 1);
}

static void ticker(void *arg)
{
    for (int i = 0; i < 10; i++) {
        gh_sleep(GH_MILLISECOND);
        atomic_fetch_add(&ticks, 1);
    }
    /* Record whether we finished while the long sleeper still slept. */
    if (!atomic_load(&long_sleeper_done))
        atomic_fetch_add(&ticks, 1000);
    atomic_fetch_add(&done, 1);
}

START_TEST(timer_sleeping_goroutine_does_not_hold_its_worker)
{
    gh_test_set_workers(1);
    ck_assert_int_gt(gh_go(long_sleeper, NULL), 0);
    ck_assert_int_gt(gh_go(ticker, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 10 * GH_SECOND);
    /* Only asserted when the machine was not too slow to tell. */
    ck_assert_int_ge(atomic_load(&ticks), 10);
    if (gh_test_time_scale() == 1)
        ck_assert_msg(atomic_load(&ticks) == 1010,
                      "the ticker did not finish during a 200 ms sleep");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Sleeping outside goroutines                                         */
/* ------------------------------------------------------------------ */

static void *thread_sleep(void *arg)
{
    int64_t *out = arg, t0 = gh_now();
    gh_sleep(50 * GH_MILLISECOND);
    out[0] = gh_now() - t0;
    t0 = gh_now();
    gh_sleep_until(t0 + 20 * GH_MILLISECOND);
    out[1] = gh_now() - t0;
    return NULL;
}

START_TEST(timer_sleep_on_a_non_goroutine_thread_sleeps)
{
    int64_t r[2] = {-1, -1}, t0;
    pthread_t t;

    /* On our own thread, with the runtime started ... */
    ck_assert_int_gt(gh_go(sleep_1ms, NULL), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, thread_sleep, r), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_ge(r[0], 50 * GH_MILLISECOND);
    ck_assert_int_lt(r[0], gh_test_slack(GH_SECOND));
    ck_assert_int_ge(r[1], 20 * GH_MILLISECOND);
    /* ... and on main. */
    t0 = gh_now();
    gh_sleep(50 * GH_MILLISECOND);
    ck_assert_int_ge(gh_now() - t0, 50 * GH_MILLISECOND);
}
END_TEST

START_TEST(timer_sleep_before_the_runtime_starts_sleeps)
{
    int64_t t0 = gh_now();
    gh_sleep(30 * GH_MILLISECOND);
    ck_assert_int_ge(gh_now() - t0, 30 * GH_MILLISECOND);
}
END_TEST

static Suite *timer_suite(void)
{
    Suite *s = suite_create("timer");
    TCase *tc;

    tc = tcase_create("clock");
    gh_test_tcase_setup(tc, 10);
    tcase_add_test(tc, timer_now_is_monotonic_and_matches_clock_monotonic);
    tcase_add_test(tc, timer_now_coarse_trails_now_by_at_most_a_tick);
    tcase_add_test(tc, timer_deadline_in_saturates_at_forever);
    suite_add_tcase(s, tc);

    tc = tcase_create("goroutines");
    gh_test_tcase_setup(tc, 30);
    tcase_add_test(tc, timer_sleep_50ms_takes_at_least_50ms);
    tcase_add_test(tc, timer_sleepers_wake_in_deadline_order);
    tcase_add_test(tc, timer_sleep_until_returns_at_or_after_the_deadline);
    tcase_add_test(tc, timer_sleep_zero_or_negative_returns_promptly);
    tcase_add_test(tc, timer_10k_goroutines_sleeping_1ms_all_finish);
    tcase_add_test(tc, timer_many_sleepers_with_one_deadline_all_wake);
    tcase_add_test(tc, timer_sleeping_goroutine_does_not_hold_its_worker);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    gh_test_tcase_setup(tc, 10);
    tcase_add_test(tc, timer_sleep_on_a_non_goroutine_thread_sleeps);
    tcase_add_test(tc, timer_sleep_before_the_runtime_starts_sleeps);
    suite_add_tcase(s, tc);

    return s;
}

GH_CHECK_MAIN(timer_suite)
