/*
 * check_blocking.c - gh_blocking(): blocking work runs on the pool's
 * threads while the calling goroutine parks and the workers keep running
 * everything else; from a plain thread it runs inline.
 *
 * Goroutines record results in globals; the test's main thread asserts.
 */
#include "check_gh.h"

#include <pthread.h>
#include <sys/syscall.h>

static atomic_long done;

static long tid(void)
{
    return (long)syscall(SYS_gettid);
}

/* ------------------------------------------------------------------ */

static long fn_tid, caller_tid;
static int fn_in_goroutine = -1;
static int result;

static int report_thread(void *arg)
{
    fn_tid = tid();
    fn_in_goroutine = gh_in_goroutine();
    return *(int *)arg * 2;
}

static void call_blocking(void *arg)
{
    static int v = 21;
    caller_tid = tid();
    result = gh_blocking(report_thread, &v);
    atomic_fetch_add(&done, 1);
}

START_TEST(blocking_runs_fn_on_another_thread_and_returns_its_result)
{
    ck_assert_int_gt(gh_go(call_blocking, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(result, 42);
    ck_assert_int_ne(fn_tid, 0);
    ck_assert_msg(fn_tid != caller_tid,
                  "fn ran on the calling worker's thread %ld", fn_tid);
    ck_assert_int_ne(fn_tid, tid());
    ck_assert_int_eq(fn_in_goroutine, 0);
}
END_TEST

static int negative(void *arg)
{
    return GH_ENOENT;
}

static void call_negative(void *arg)
{
    result = gh_blocking(negative, NULL);
    atomic_fetch_add(&done, 1);
}

START_TEST(blocking_passes_negative_results_through)
{
    ck_assert_int_gt(gh_go(call_negative, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(result, GH_ENOENT);
}
END_TEST

/* ------------------------------------------------------------------ */

static atomic_int inflight, max_inflight;
static atomic_long counter;
static atomic_int stop_counter;

static int sleep_200ms(void *arg)
{
    int now = atomic_fetch_add(&inflight, 1) + 1, m;
    int64_t until = gh_now() + gh_test_slack(2 * GH_SECOND);
    while ((m = atomic_load(&max_inflight)) < now &&
           !atomic_compare_exchange_weak(&max_inflight, &m, now))
        ;
    usleep(200 * 1000);
    /* Wait (bounded) for the other call to overlap with us. */
    while (atomic_load(&max_inflight) < 2 && gh_now() < until)
        usleep(1000);
    atomic_fetch_sub(&inflight, 1);
    return 7;
}

static int64_t blocked_for[2];
static int blocked_result[2];
static long counter_during[2];

static void blocker(void *arg)
{
    intptr_t i = (intptr_t)arg;
    long c0 = atomic_load(&counter);
    int64_t t0 = gh_now();
    blocked_result[i] = gh_blocking(sleep_200ms, NULL);
    blocked_for[i] = gh_now() - t0;
    counter_during[i] = atomic_load(&counter) - c0;
    atomic_fetch_add(&done, 1);
}

static void count_up(void *arg)
{
    while (!atomic_load(&stop_counter)) {
        atomic_fetch_add(&counter, 1);
        gh_sleep(GH_MILLISECOND);
    }
}

START_TEST(blocking_calls_do_not_stop_the_worker)
{
    gh_test_set_workers(1);
    ck_assert_int_gt(gh_go(count_up, NULL), 0);
    ck_assert_int_gt(gh_go(blocker, (void *)0), 0);
    ck_assert_int_gt(gh_go(blocker, (void *)1), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 10 * GH_SECOND);
    atomic_store(&stop_counter, 1);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(blocked_result[i], 7);
        ck_assert_int_ge(blocked_for[i], 200 * GH_MILLISECOND);
        /* 200 ms of 1 ms sleeps: a parked caller lets the one worker tick
         * on; a worker stuck in usleep would not tick at all. */
        ck_assert_msg(counter_during[i] >= 10,
                      "counter advanced %ld times during a 200 ms call",
                      counter_during[i]);
    }
    ck_assert_msg(atomic_load(&max_inflight) == 2,
                  "the two blocking calls did not overlap (max %d)",
                  atomic_load(&max_inflight));
}
END_TEST

/*
 * The same overlap with a pool thread already idle: one idle thread must
 * not be counted as a taker for two queued calls.
 */
static int noop(void *arg)
{
    return 0;
}

static void warm_pool(void *arg)
{
    gh_blocking(noop, NULL);
    atomic_fetch_add(&done, 1);
}

START_TEST(blocking_calls_overlap_when_a_pool_thread_is_idle)
{
    gh_rt_stats_t st;
    gh_test_set_workers(1);
    ck_assert_int_gt(gh_go(warm_pool, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    gh_sleep(50 * GH_MILLISECOND); /* the pool thread is waiting for work */
    gh_rt_stats(&st);
    ck_assert_int_ge(st.blocking_threads, 1);
    ck_assert_int_gt(gh_go(blocker, (void *)0), 0);
    ck_assert_int_gt(gh_go(blocker, (void *)1), 0);
    GH_TEST_WAIT_COUNT(&done, 3, 30 * GH_SECOND);
    ck_assert_int_eq(blocked_result[0], 7);
    ck_assert_int_eq(blocked_result[1], 7);
    ck_assert_msg(atomic_load(&max_inflight) == 2,
                  "two concurrent gh_blocking calls ran one after the other "
                  "(max in flight %d)",
                  atomic_load(&max_inflight));
}
END_TEST

/* ------------------------------------------------------------------ */

#define N_CALLS 100
static atomic_int got_right[N_CALLS];

static int sleep_10ms_echo(void *arg)
{
    usleep(10 * 1000);
    return (int)(intptr_t)arg;
}

static void call_echo(void *arg)
{
    intptr_t i = (intptr_t)arg;
    if (gh_blocking(sleep_10ms_echo, (void *)(i + 1000)) == i + 1000)
        atomic_store(&got_right[i], 1);
    atomic_fetch_add(&done, 1);
}

START_TEST(blocking_100_concurrent_calls_all_complete)
{
    gh_rt_stats_t st;
    for (intptr_t i = 0; i < N_CALLS; i++)
        ck_assert_int_gt(gh_go(call_echo, (void *)i), 0);
    GH_TEST_WAIT_COUNT(&done, N_CALLS, 20 * GH_SECOND);
    for (int i = 0; i < N_CALLS; i++)
        ck_assert_msg(atomic_load(&got_right[i]), "call %d got a wrong result",
                      i);
    gh_rt_stats(&st);
    ck_assert_int_ge(st.blocking_threads, 1);
    ck_assert_int_le(st.blocking_threads, 64);
}
END_TEST

/* ------------------------------------------------------------------ */

START_TEST(blocking_from_main_runs_inline)
{
    int v = 5;
    fn_tid = 0;
    /* Before and after the runtime starts. */
    ck_assert_int_eq(gh_blocking(report_thread, &v), 10);
    ck_assert_int_eq(fn_tid, tid());
    ck_assert_int_gt(gh_go(call_negative, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    fn_tid = 0;
    ck_assert_int_eq(gh_blocking(report_thread, &v), 10);
    ck_assert_int_eq(fn_tid, tid());
}
END_TEST

static Suite *blocking_suite(void)
{
    Suite *s = suite_create("blocking");
    TCase *tc = tcase_create("pool");
    gh_test_tcase_setup(tc, 30);
    tcase_add_test(tc, blocking_runs_fn_on_another_thread_and_returns_its_result);
    tcase_add_test(tc, blocking_passes_negative_results_through);
    tcase_add_test(tc, blocking_calls_do_not_stop_the_worker);
    tcase_add_test(tc, blocking_calls_overlap_when_a_pool_thread_is_idle);
    tcase_add_test(tc, blocking_100_concurrent_calls_all_complete);
    tcase_add_test(tc, blocking_from_main_runs_inline);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(blocking_suite)
