/*
 * check_sched.c - the M:N scheduler: work spreads over the workers, yield
 * hands the worker over, goroutines start goroutines, configuration calls
 * validate, an idle runtime sleeps, the runtime can be looked into
 * (gh_rt_stats, gh_dump, the SIGQUIT dump, gh_rt_worker_stats and the
 * gh_rt_goroutines walk), and a goroutine that holds its worker is reported
 * (the stall watch).
 *
 * Goroutines record what they see; only the test's main thread asserts.
 */
#include "check_gh.h"

#include <ctype.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static atomic_long done;

static long tid(void)
{
    return (long)syscall(SYS_gettid);
}

/* A small lock-free set of thread ids. */
#define MAX_TIDS 64
static atomic_long tids[MAX_TIDS];

static void tid_add(long t)
{
    for (int i = 0; i < MAX_TIDS; i++) {
        long cur = atomic_load(&tids[i]);
        if (cur == t)
            return;
        if (cur == 0) {
            long zero = 0;
            if (atomic_compare_exchange_strong(&tids[i], &zero, t))
                return;
            if (zero == t)
                return;
        }
    }
}

static int tid_count(void)
{
    int n = 0;
    for (int i = 0; i < MAX_TIDS; i++)
        n += atomic_load(&tids[i]) != 0;
    return n;
}

/* ------------------------------------------------------------------ */
/* Spreading work                                                      */
/* ------------------------------------------------------------------ */

static atomic_ulong sink; /* keeps the loop from being optimised away */

static void cpu_bound(void *arg)
{
    int64_t end = gh_now() + 300 * GH_MILLISECOND;
    uint64_t x = (uintptr_t)arg;
    while (gh_now() < end) {
        for (int i = 0; i < 20000; i++)
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        tid_add(tid());
        gh_yield();
    }
    atomic_store_explicit(&sink, x, memory_order_relaxed);
    atomic_fetch_add(&done, 1);
}

START_TEST(sched_cpu_bound_goroutines_spread_over_all_workers)
{
    gh_test_set_workers(2);
    for (intptr_t i = 0; i < 8; i++)
        ck_assert_int_gt(gh_go(cpu_bound, (void *)(i + 1)), 0);
    GH_TEST_WAIT_COUNT(&done, 8, 20 * GH_SECOND);
    ck_assert_msg(tid_count() == 2,
                  "CPU-bound goroutines ran on %d threads, want 2 workers",
                  tid_count());
    ck_assert_int_eq(gh_workers(), 2);
}
END_TEST

/* Ping-pong on one worker: only gh_yield lets the other side run. */
#define PINGS 1000
static atomic_int turn;
static atomic_long pings, pongs;
static long ping_tid, pong_tid;

static void pinger(void *arg)
{
    ping_tid = tid();
    for (int i = 0; i < PINGS; i++) {
        while (atomic_load(&turn) != 0)
            gh_yield();
        atomic_fetch_add(&pings, 1);
        atomic_store(&turn, 1);
    }
    atomic_fetch_add(&done, 1);
}

static void ponger(void *arg)
{
    pong_tid = tid();
    for (int i = 0; i < PINGS; i++) {
        while (atomic_load(&turn) != 1)
            gh_yield();
        atomic_fetch_add(&pongs, 1);
        atomic_store(&turn, 0);
    }
    atomic_fetch_add(&done, 1);
}

START_TEST(sched_yield_lets_another_goroutine_on_the_same_worker_run)
{
    gh_test_set_workers(1);
    ck_assert_int_gt(gh_go(pinger, NULL), 0);
    ck_assert_int_gt(gh_go(ponger, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 10 * GH_SECOND);
    ck_assert_int_eq(atomic_load(&pings), PINGS);
    ck_assert_int_eq(atomic_load(&pongs), PINGS);
    ck_assert_int_eq(ping_tid, pong_tid);
    ck_assert_int_ne(ping_tid, tid());
}
END_TEST

/* A goroutine readied by one that then computes without ever switching
 * out waits in its worker's runnext: another worker must take it from
 * there (a thief leaves a runnext alone only while its owner keeps
 * switching, i.e. is about to run it). */
static atomic_int rescued;
static long hog_tid, rescued_tid;
static int64_t hog_waited;

static void stuck_waiter(void *arg)
{
    int v;

    gh_chan_recv(arg, &v);
    rescued_tid = tid();
    atomic_store(&rescued, v);
}

static void hog(void *arg)
{
    int v = 7;
    int64_t t0, until;

    hog_tid = tid();
    gh_chan_send(arg, &v); /* the receiver waits: it is readied, not run */
    t0 = gh_now();
    until = t0 + 5 * GH_SECOND;
    while (!atomic_load(&rescued) && gh_now() < until)
        ; /* no gh_yield: this worker never switches */
    hog_waited = gh_now() - t0;
    atomic_fetch_add(&done, 1);
}

START_TEST(sched_goroutine_readied_by_a_busy_one_runs_on_another_worker)
{
    gh_chan_t *ch;
    gh_rt_stats_t st;
    int64_t until = gh_now() + 5 * GH_SECOND;

    gh_test_set_workers(2);
    ck_assert_ptr_nonnull(ch = gh_chan_new(sizeof(int), 0));
    ck_assert_int_gt(gh_go(stuck_waiter, ch), 0);
    /* Until the receiver is parked, the hog's send would just wait. */
    do {
        gh_sleep(GH_MILLISECOND);
        gh_rt_stats(&st);
    } while (st.waiting < 1 && gh_now() < until);
    ck_assert_int_ge(st.waiting, 1);
    ck_assert_int_gt(gh_go(hog, ch), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 10 * GH_SECOND);
    ck_assert_msg(atomic_load(&rescued) == 7,
                  "the readied goroutine did not run in %lld ms while its "
                  "worker was busy",
                  (long long)(hog_waited / GH_MILLISECOND));
    ck_assert_int_ne(rescued_tid, hog_tid);
    gh_chan_free(ch);
}
END_TEST

/* A goroutine that yields in a loop must not starve a sleeper's timer. */
static atomic_int spin_stop;
static int64_t sleeper_late;

static void yielding_spinner(void *arg)
{
    while (!atomic_load(&spin_stop))
        gh_yield();
    atomic_fetch_add(&done, 1);
}

static void short_sleeper(void *arg)
{
    int64_t t0 = gh_now();
    gh_sleep(10 * GH_MILLISECOND);
    sleeper_late = gh_now() - t0;
    atomic_store(&spin_stop, 1);
    atomic_fetch_add(&done, 1);
}

START_TEST(sched_yielding_loop_does_not_starve_timers)
{
    gh_test_set_workers(1);
    ck_assert_int_gt(gh_go(yielding_spinner, NULL), 0);
    ck_assert_int_gt(gh_go(short_sleeper, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 10 * GH_SECOND);
    ck_assert_int_ge(sleeper_late, 10 * GH_MILLISECOND);
    ck_assert_msg(sleeper_late < gh_test_slack(1 * GH_SECOND),
                  "10 ms sleep next to a yielding loop took %.1f ms",
                  gh_test_ms(sleeper_late));
}
END_TEST

/* A loop that computes 2 ms between yields, alone on its worker: its
 * yields let the worker look at its timers soon, not only every 64th
 * (where a 1 ms sleep took 128 ms). */
static void slow_yielder(void *arg)
{
    while (!atomic_load(&spin_stop)) {
        int64_t until = gh_now() + 2 * GH_MILLISECOND;
        while (gh_now() < until)
            ;
        gh_yield();
    }
    atomic_fetch_add(&done, 1);
}

static int64_t worst_late;

static void repeated_sleeper(void *arg)
{
    for (int i = 0; i < 20; i++) {
        int64_t t0 = gh_now(), late;
        gh_sleep(GH_MILLISECOND);
        late = gh_now() - t0 - GH_MILLISECOND;
        if (late > worst_late)
            worst_late = late;
    }
    atomic_store(&spin_stop, 1);
    atomic_fetch_add(&done, 1);
}

/* Run n slow yielders beside the repeated sleeper on one worker, until
 * the sleeper is done. */
static void sleep_beside_slow_yielders(int n)
{
    gh_test_set_workers(1);
    for (int i = 0; i < n; i++)
        ck_assert_int_gt(gh_go(slow_yielder, NULL), 0);
    ck_assert_int_gt(gh_go(repeated_sleeper, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, n + 1, 10 * GH_SECOND);
}

START_TEST(sched_slowly_yielding_loop_lets_timers_fire_at_each_yield)
{
    sleep_beside_slow_yielders(1);
    /* A yield every 2 ms: a wake-up is late by one interval once the
     * worker has measured it, by at most 8 before (16 ms); every 64th
     * yield would be 128 ms. */
    ck_assert_msg(worst_late < gh_test_slack(50 * GH_MILLISECOND),
                  "a 1 ms sleep next to a loop yielding every 2 ms was late "
                  "by %.1f ms",
                  gh_test_ms(worst_late));
}
END_TEST

/* Two such loops switch to each other at every yield: the worker does
 * not know yet that its switches are slow, and must look at its timers
 * soon all the same, not after 64 switches (a 1 ms sleep took 60 ms). */
START_TEST(sched_slowly_switching_goroutines_let_timers_fire_soon)
{
    sleep_beside_slow_yielders(2);
    ck_assert_msg(worst_late < gh_test_slack(50 * GH_MILLISECOND),
                  "a 1 ms sleep next to two loops yielding every 2 ms was "
                  "late by %.1f ms",
                  gh_test_ms(worst_late));
}
END_TEST

/* A sleeper whose timer fires runs before a long queue of runnable
 * goroutines, not behind it: 300 goroutines of 100 us each are queued on
 * the only worker, the sleeper's 1 ms is up after about ten of them, and
 * the worker fires its timers at least every 64 switches (then more often,
 * as its switches are slow).  Queued behind them, it woke after 173. */
static atomic_int queued_ran;
static int queued_before_sleeper;

static void queued_runner(void *arg)
{
    int64_t until = gh_now() + 100 * GH_MICROSECOND;

    while (gh_now() < until)
        ;
    atomic_fetch_add(&queued_ran, 1);
    atomic_fetch_add(&done, 1);
}

static void queue_sleeper(void *arg)
{
    for (int i = 0; i < 300; i++)
        ck_assert_int_gt(gh_go(queued_runner, NULL), 0);
    gh_sleep(GH_MILLISECOND);
    queued_before_sleeper = atomic_load(&queued_ran);
    atomic_fetch_add(&done, 1);
}

START_TEST(sched_woken_sleeper_runs_before_a_long_queue)
{
    gh_test_set_workers(1);
    ck_assert_int_gt(gh_go(queue_sleeper, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 301, 10 * GH_SECOND);
    ck_assert_msg(queued_before_sleeper < 120,
                  "the sleeper woke after %d of 300 queued goroutines",
                  queued_before_sleeper);
}
END_TEST

/* Timer wake-ups go first, but not always: goroutines that sleep 20 us
 * and then compute 5 us, 2000 of them, keep the worker's timer lane full,
 * and the goroutines in the run queue must still get their turns: the
 * loopers' own first runs (when the lane always went first, some 250 of
 * them never started), then a goroutine readied into the queue later. */
#define LOOPERS 2000
static atomic_int loopers_stop, loopers_started;
static atomic_int probe_ran;
static int64_t probe_readied, probe_waited;

static void looper(void *arg)
{
    atomic_fetch_add(&loopers_started, 1);
    while (!atomic_load(&loopers_stop)) {
        int64_t until;

        gh_sleep(20 * GH_MICROSECOND);
        until = gh_now() + 5 * GH_MICROSECOND;
        while (gh_now() < until)
            ;
    }
    atomic_fetch_add(&done, 1);
}

static void probe(void *arg)
{
    probe_waited = gh_now() - probe_readied;
    atomic_store(&probe_ran, 1);
    atomic_fetch_add(&done, 1);
}

static void probe_starter(void *arg)
{
    int64_t until;

    for (int i = 0; i < LOOPERS; i++)
        ck_assert_int_gt(gh_go(looper, NULL), 0);
    until = gh_now() + 5 * GH_SECOND;
    while (atomic_load(&loopers_started) < LOOPERS && gh_now() < until)
        gh_sleep(GH_MILLISECOND);
    ck_assert_msg(atomic_load(&loopers_started) == LOOPERS,
                  "%d of %d goroutines started in 5 s: the run queue starved",
                  atomic_load(&loopers_started), LOOPERS);
    gh_sleep(10 * GH_MILLISECOND); /* they all loop through the lane now */
    probe_readied = gh_now();
    until = probe_readied + 2 * GH_SECOND;
    ck_assert_int_gt(gh_go(probe, NULL), 0);
    while (!atomic_load(&probe_ran) && gh_now() < until)
        gh_sleep(GH_MILLISECOND);
    atomic_store(&loopers_stop, 1);
    atomic_fetch_add(&done, 1);
}

START_TEST(sched_timer_wakeups_do_not_starve_the_run_queue)
{
    gh_test_set_workers(1);
    ck_assert_int_gt(gh_go(probe_starter, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, LOOPERS + 2, 20 * GH_SECOND);
    ck_assert_msg(probe_waited < gh_test_slack(5 * GH_MILLISECOND),
                  "a queued goroutine waited %.1f ms behind timer wake-ups",
                  gh_test_ms(probe_waited));
}
END_TEST

/* On the only worker too, a goroutine that a channel wakes runs next, ahead
 * of the queue (Go's runnext): the sender has just written its value and
 * its wait record, which are still in the cache.  The driver parks the
 * receiver, queues 100 goroutines, sends and ends; the receiver runs first,
 * or second when that pick is the one in 16 where the queue goes first.
 * Queued at the tail, it ran 101st. */
#define AHEAD 100
static atomic_int picks;
static int woken_pick = -1;

static void picked(void *arg)
{
    atomic_fetch_add(&picks, 1);
    atomic_fetch_add(&done, 1);
}

static void woken_receiver(void *arg)
{
    int v;

    gh_chan_recv(arg, &v);
    woken_pick = atomic_fetch_add(&picks, 1);
    atomic_fetch_add(&done, 1);
}

static void runnext_driver(void *arg)
{
    gh_chan_t *ch = arg;
    gh_rt_stats_t st;
    int64_t until = gh_now() + 5 * GH_SECOND;
    int v = 1;

    ck_assert_int_gt(gh_go(woken_receiver, ch), 0);
    do { /* let it run and park in its receive */
        gh_yield();
        gh_rt_stats(&st);
    } while (st.waiting < 1 && gh_now() < until);
    for (int i = 0; i < AHEAD; i++)
        ck_assert_int_gt(gh_go(picked, NULL), 0);
    gh_chan_send(ch, &v); /* readies the receiver; nothing has run yet */
    atomic_fetch_add(&done, 1);
}

START_TEST(sched_goroutine_woken_by_a_channel_runs_next_on_one_worker)
{
    gh_chan_t *ch;

    gh_test_set_workers(1);
    ck_assert_ptr_nonnull(ch = gh_chan_new(sizeof(int), 0));
    ck_assert_int_gt(gh_go(runnext_driver, ch), 0);
    GH_TEST_WAIT_COUNT(&done, AHEAD + 2, 10 * GH_SECOND);
    ck_assert_msg(woken_pick >= 0 && woken_pick <= 1,
                  "the woken receiver ran %d-th of %d", woken_pick + 1,
                  AHEAD + 1);
    gh_chan_free(ch);
}
END_TEST

/* Goroutines woken one after another run in the order they were woken: the
 * first takes the runnext slot, the others queue behind it (were the last
 * to take the slot, as in Go, a value passed down a pipeline would wait
 * while its source runs again).  Three receivers are woken in the order
 * 2, 0, 1; the one woken last runs last. */
static gh_chan_t *order_chs[3];
static int order_pick[3] = {-1, -1, -1};

static void order_receiver(void *arg)
{
    int i = (int)(intptr_t)arg, v;

    gh_chan_recv(order_chs[i], &v);
    order_pick[i] = atomic_fetch_add(&picks, 1);
    atomic_fetch_add(&done, 1);
}

static void order_driver(void *arg)
{
    static const int wake[3] = {2, 0, 1};
    gh_rt_stats_t st;
    int64_t until = gh_now() + 5 * GH_SECOND;
    int v = 1;

    for (intptr_t i = 0; i < 3; i++)
        ck_assert_int_gt(gh_go(order_receiver, (void *)i), 0);
    do { /* let them run and park in their receives */
        gh_yield();
        gh_rt_stats(&st);
    } while (st.waiting < 3 && gh_now() < until);
    for (int i = 0; i < 3; i++)
        gh_chan_send(order_chs[wake[i]], &v);
    atomic_fetch_add(&done, 1);
}

START_TEST(sched_goroutines_woken_in_turn_run_in_that_order_on_one_worker)
{
    gh_test_set_workers(1);
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_nonnull(order_chs[i] = gh_chan_new(sizeof(int), 0));
    ck_assert_int_gt(gh_go(order_driver, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 4, 10 * GH_SECOND);
    ck_assert_msg(order_pick[1] == 2 && order_pick[0] < order_pick[1],
                  "woken in the order 2, 0, 1, they ran as %d, %d, %d",
                  order_pick[2], order_pick[0], order_pick[1]);
    for (int i = 0; i < 3; i++)
        gh_chan_free(order_chs[i]);
}
END_TEST

/* But two goroutines that keep waking each other (a ping-pong, each the
 * other's runnext) must not starve the queue: a goroutine queued behind
 * them runs at once, not when they stop. */
static atomic_int pingpong_stop;

static void pong_loop(void *arg)
{
    gh_chan_t **chs = arg;
    int v;

    for (;;) {
        gh_chan_recv(chs[0], &v);
        if (v < 0)
            break;
        gh_chan_send(chs[1], &v);
    }
    atomic_fetch_add(&done, 1);
}

static void ping_loop(void *arg)
{
    gh_chan_t **chs = arg;
    int v = 1;

    while (!atomic_load(&pingpong_stop)) {
        gh_chan_send(chs[0], &v);
        gh_chan_recv(chs[1], &v);
    }
    v = -1;
    gh_chan_send(chs[0], &v);
    atomic_fetch_add(&done, 1);
}

static void pingpong_driver(void *arg)
{
    int64_t until;

    ck_assert_int_gt(gh_go(pong_loop, arg), 0);
    ck_assert_int_gt(gh_go(ping_loop, arg), 0);
    gh_sleep(10 * GH_MILLISECOND); /* the pair is at it */
    probe_readied = gh_now();
    ck_assert_int_gt(gh_go(probe, NULL), 0); /* the probe of the test above */
    until = probe_readied + 2 * GH_SECOND;
    while (!atomic_load(&probe_ran) && gh_now() < until)
        gh_sleep(GH_MILLISECOND);
    atomic_store(&pingpong_stop, 1);
    atomic_fetch_add(&done, 1);
}

START_TEST(sched_ping_pong_pair_does_not_starve_the_queue_on_one_worker)
{
    gh_chan_t *chs[2];

    gh_test_set_workers(1);
    ck_assert_ptr_nonnull(chs[0] = gh_chan_new(sizeof(int), 0));
    ck_assert_ptr_nonnull(chs[1] = gh_chan_new(sizeof(int), 0));
    ck_assert_int_gt(gh_go(pingpong_driver, chs), 0);
    GH_TEST_WAIT_COUNT(&done, 4, 10 * GH_SECOND);
    ck_assert_msg(atomic_load(&probe_ran),
                  "a queued goroutine never ran beside a ping-pong pair");
    ck_assert_msg(probe_waited < gh_test_slack(50 * GH_MILLISECOND),
                  "a queued goroutine waited %.1f ms beside a ping-pong pair",
                  gh_test_ms(probe_waited));
    gh_chan_free(chs[0]);
    gh_chan_free(chs[1]);
}
END_TEST

/* A burst of timer wake-ups is shared with an idle worker.  The spawner
 * holds its worker for 30 ms, so the other worker runs all 20 sleepers,
 * and its timers wake them at once, at 10 ms, each to compute for 5 ms.
 * Once the spawner is done, its worker must take some of them rather than
 * watch the other run all of them in turn. */
#define BURST 20
static long burst_spawner_tid;
static atomic_int burst_on_spawner;

static void burst_sleeper(void *arg)
{
    int64_t until;

    gh_sleep_until(*(int64_t *)arg);
    until = gh_now() + 5 * GH_MILLISECOND;
    while (gh_now() < until)
        ;
    if (tid() == burst_spawner_tid)
        atomic_fetch_add(&burst_on_spawner, 1);
    atomic_fetch_add(&done, 1);
}

static void burst_spawner(void *arg)
{
    int64_t until = gh_now() + 30 * GH_MILLISECOND;

    burst_spawner_tid = tid();
    for (int i = 0; i < BURST; i++)
        ck_assert_int_gt(gh_go(burst_sleeper, arg), 0);
    while (gh_now() < until)
        ; /* no gh_yield: the other worker takes the sleepers */
    atomic_fetch_add(&done, 1);
}

START_TEST(sched_burst_of_timer_wakeups_is_shared_with_an_idle_worker)
{
    static int64_t wake_at;

    gh_test_set_workers(2);
    wake_at = gh_now() + 10 * GH_MILLISECOND;
    ck_assert_int_gt(gh_go(burst_spawner, &wake_at), 0);
    GH_TEST_WAIT_COUNT(&done, BURST + 1, 10 * GH_SECOND);
    ck_assert_msg(atomic_load(&burst_on_spawner) > 0,
                  "all %d woken sleepers ran on one worker", BURST);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Spawning                                                            */
/* ------------------------------------------------------------------ */

static void leaf(void *arg)
{
    atomic_fetch_add(&done, 1);
}

static void middle(void *arg)
{
    for (int i = 0; i < 10; i++)
        gh_go(leaf, NULL);
    atomic_fetch_add(&done, 1);
}

static void top(void *arg)
{
    for (int i = 0; i < 10; i++)
        gh_go(middle, NULL);
    atomic_fetch_add(&done, 1);
}

START_TEST(sched_goroutines_spawned_from_goroutines_and_main_all_run)
{
    /* 10 from main, 100 from those, 1000 from those. */
    for (int i = 0; i < 10; i++)
        ck_assert_int_gt(gh_go(top, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1110, 10 * GH_SECOND);
    gh_sleep(20 * GH_MILLISECOND);
    ck_assert_int_eq(atomic_load(&done), 1110);
}
END_TEST

static void *thread_spawner(void *arg)
{
    for (int i = 0; i < 100; i++)
        gh_go(leaf, NULL);
    return NULL;
}

START_TEST(sched_goroutines_spawned_from_foreign_threads_run)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, thread_spawner, NULL),
                         0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    GH_TEST_WAIT_COUNT(&done, 400, 10 * GH_SECOND);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

START_TEST(sched_set_workers_validates_then_is_busy_after_start)
{
    gh_rt_stats_t st;
    if (!gh_test_forking())
        return;
    ck_assert_int_eq(gh_set_workers(0), GH_EINVAL);
    ck_assert_int_eq(gh_set_workers(-1), GH_EINVAL);
    ck_assert_int_eq(gh_set_workers(1025), GH_EINVAL);
    ck_assert_int_eq(gh_workers(), GH_TEST_WORKERS); /* unchanged */
    ck_assert_int_eq(gh_set_workers(1024), 0);
    ck_assert_int_eq(gh_set_workers(3), 0);
    ck_assert_int_eq(gh_workers(), 3);
    ck_assert_int_gt(gh_go(leaf, NULL), 0);
    ck_assert_int_eq(gh_set_workers(2), GH_EBUSY);
    ck_assert_int_eq(gh_set_workers(3), GH_EBUSY);
    ck_assert_int_eq(gh_set_stack_size(128 * 1024), GH_EBUSY);
    ck_assert_int_eq(gh_workers(), 3);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    gh_rt_stats(&st);
    ck_assert_int_eq(st.workers, 3);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Idle and sleeping                                                   */
/* ------------------------------------------------------------------ */

static void sleep_briefly(void *arg)
{
    gh_sleep(10 * GH_MILLISECOND);
    atomic_fetch_add(&done, 1);
}

static int64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * GH_SECOND +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) *
               GH_MICROSECOND;
}

START_TEST(sched_idle_runtime_uses_almost_no_cpu)
{
    int64_t c0, c1, t0, t1;
    gh_test_set_workers(8);
    for (int i = 0; i < 100; i++)
        ck_assert_int_gt(gh_go(sleep_briefly, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 100, 10 * GH_SECOND);
    gh_sleep(200 * GH_MILLISECOND); /* let the workers settle */
    c0 = cpu_ns();
    t0 = gh_now();
    gh_sleep(GH_SECOND);
    t1 = gh_now();
    c1 = cpu_ns();
    ck_assert_int_ge(t1 - t0, GH_SECOND);
    ck_assert_msg(c1 - c0 < gh_test_slack(50 * GH_MILLISECOND),
                  "8 idle workers used %.1f ms of CPU in %.0f ms",
                  gh_test_ms(c1 - c0), gh_test_ms(t1 - t0));
}
END_TEST

static atomic_int hello_said;

static void say_hello(void *arg)
{
    atomic_store(&hello_said, 1);
}

START_TEST(sched_main_sleeps_while_goroutines_run)
{
    /* The seed example: go sayHello(); time.Sleep(...); */
    int64_t t0 = gh_now();
    ck_assert_int_gt(gh_go(say_hello, NULL), 0);
    gh_sleep(100 * GH_MILLISECOND);
    ck_assert_int_ge(gh_now() - t0, 100 * GH_MILLISECOND);
    ck_assert_int_eq(atomic_load(&hello_said), 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Looking inside                                                      */
/* ------------------------------------------------------------------ */

static atomic_long parked;

static void long_sleeper(void *arg)
{
    atomic_fetch_add(&parked, 1);
    gh_sleep(30 * GH_SECOND);
}

START_TEST(sched_rt_stats_are_sane)
{
    gh_rt_stats_t st;
    for (int i = 0; i < 20; i++)
        ck_assert_int_gt(gh_go(long_sleeper, NULL), 0);
    GH_TEST_WAIT_COUNT(&parked, 20, 5 * GH_SECOND);
    ck_assert(GH_TEST_WAIT_UNTIL((gh_rt_stats(&st), st.waiting >= 20),
                                 5 * GH_SECOND));
    gh_rt_stats(&st);
    ck_assert_int_eq(st.workers, GH_TEST_WORKERS);
    ck_assert_int_eq(st.workers, gh_workers());
    ck_assert_int_ge(st.goroutines, 20);
    ck_assert_int_ge(st.waiting, 20);
    ck_assert_int_ge(st.runnable, 0);
    ck_assert_int_le(st.waiting, st.goroutines);
    ck_assert_int_le(st.runnable, st.goroutines);
    ck_assert_int_ge(st.spawned, 20);
    ck_assert_int_ge(st.spawned, st.goroutines);
    ck_assert_int_ge(st.stacks_mapped, st.goroutines);
    ck_assert_int_ge(st.stacks_guarded, 0);
    ck_assert_int_le(st.stacks_guarded, st.stacks_mapped);
    ck_assert_int_ge(st.stack_bytes, st.stacks_mapped * 16 * 1024);
    ck_assert_int_ge(st.blocking_threads, 0);
}
END_TEST

static atomic_int named_ready;

static void named_sleeper(void *arg)
{
    atomic_store(&named_ready, 1);
    gh_sleep(30 * GH_SECOND);
}

static int64_t start_named_sleeper(const char *name)
{
    gh_go_opts_t o = {0};
    int64_t id;
    o.name = name;
    id = gh_go_with(named_sleeper, NULL, &o);
    ck_assert_int_gt(id, 0);
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&named_ready), 5 * GH_SECOND));
    gh_sleep(20 * GH_MILLISECOND); /* it is parked by now */
    return id;
}

/* Does text hold "id" as a whole number on the same line as name? */
static int dump_has(const char *text, int64_t id, const char *name,
                    const char *reason, char *line_out, size_t n)
{
    char idstr[32];
    const char *p = text;
    snprintf(idstr, sizeof idstr, "%lld", (long long)id);
    while ((p = strstr(p, name)) != NULL) {
        const char *b = p, *e = strchr(p, '\n'), *q;
        size_t len;
        char line[1024];
        while (b > text && b[-1] != '\n')
            b--;
        if (e == NULL)
            e = p + strlen(p);
        len = (size_t)(e - b) < sizeof line - 1 ? (size_t)(e - b)
                                                : sizeof line - 1;
        memcpy(line, b, len);
        line[len] = '\0';
        snprintf(line_out, n, "%s", line);
        for (q = line; (q = strstr(q, idstr)) != NULL; q++) {
            int left = q == line || !isdigit((unsigned char)q[-1]);
            int right = !isdigit((unsigned char)q[strlen(idstr)]);
            if (left && right && strstr(line, reason) != NULL)
                return 1;
        }
        p = e;
    }
    return 0;
}

START_TEST(sched_dump_lists_a_sleeping_named_goroutine)
{
    FILE *f = tmpfile();
    char buf[65536], line[1024] = "";
    size_t n;
    int64_t id;
    int listed;

    ck_assert_ptr_nonnull(f);
    id = start_named_sleeper("dump-me-please");
    listed = gh_dump(fileno(f));
    ck_assert_msg(listed >= 1, "gh_dump = %d", listed);
    rewind(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    ck_assert_msg(dump_has(buf, id, "dump-me-please", "sleep", line,
                           sizeof line),
                  "goroutine %lld not listed as sleeping; line [%s]; dump:\n%s",
                  (long long)id, line, buf);
}
END_TEST

START_TEST(sched_dump_on_sigquit_writes_the_dump_and_keeps_running)
{
    int p[2];
    char buf[65536], line[1024] = "";
    size_t len = 0;
    int64_t id, deadline;
    int found = 0;

    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    id = start_named_sleeper("sigquit-sleeper");
    ck_assert_int_eq(gh_dump_on_sigquit(p[1]), 0);
    ck_assert_int_eq(raise(SIGQUIT), 0);
    deadline = gh_now() + gh_test_slack(5 * GH_SECOND);
    while (!found && gh_now() < deadline && len < sizeof buf - 1) {
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        ssize_t r;
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        r = read(p[0], buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        found = dump_has(buf, id, "sigquit-sleeper", "sleep", line,
                         sizeof line);
    }
    buf[len] = '\0';
    ck_assert_msg(found, "no SIGQUIT dump listing goroutine %lld: [%s]",
                  (long long)id, buf);
    /* Still alive and scheduling. */
    ck_assert_int_gt(gh_go(leaf, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(gh_dump_on_sigquit(-1), 0);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* ---- gh_rt_worker_stats ---- */

#define QUEUED 10

static gh_rt_worker_stats_t seen_ws;
static atomic_int seen_ws_n = -1;

/* On the only worker: start QUEUED goroutines (gh_go never switches, so
 * they all wait in this worker's queue) and look at the queue. */
static void spawn_and_look(void *arg)
{
    for (int i = 0; i < QUEUED; i++)
        gh_go(leaf, NULL);
    int n = gh_rt_worker_stats(&seen_ws, 1);
    atomic_store(&seen_ws_n, n);
}

static uint64_t switches_total(void)
{
    gh_rt_worker_stats_t ws[GH_TEST_WORKERS];
    int n = gh_rt_worker_stats(ws, GH_TEST_WORKERS);
    uint64_t sum = 0;

    for (int i = 0; i < n; i++)
        sum += ws[i].switches;
    return sum;
}

START_TEST(sched_worker_stats_show_queues_switches_and_idleness)
{
    gh_rt_worker_stats_t ws[4];

    gh_test_set_workers(1);
    ck_assert_int_eq(gh_rt_worker_stats(ws, 4), 0); /* not started yet */
    ck_assert_int_gt(gh_go(spawn_and_look, NULL), 0);
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&seen_ws_n) >= 0,
                                 5 * GH_SECOND));
    ck_assert_int_eq(atomic_load(&seen_ws_n), 1);
    ck_assert_int_eq(seen_ws.id, 0);
    ck_assert_int_eq(seen_ws.idle, 0);
    ck_assert_uint_eq(seen_ws.runq, QUEUED);
    ck_assert_int_eq(seen_ws.spawned, QUEUED); /* its own came from main */
    GH_TEST_WAIT_COUNT(&done, QUEUED, 5 * GH_SECOND);
    /* Out of work, the worker empties its queue and goes idle; every
     * goroutine it ran was at least one switch. */
    ck_assert(GH_TEST_WAIT_UNTIL(gh_rt_worker_stats(ws, 4) == 1 && ws[0].idle,
                                 5 * GH_SECOND));
    ck_assert_uint_eq(ws[0].runq, 0);
    ck_assert_uint_ge(ws[0].switches, QUEUED + 1);
    ck_assert_int_eq(gh_rt_worker_stats(ws, 0), 0);
}
END_TEST

START_TEST(sched_worker_stats_cover_every_worker_and_count_switches)
{
    gh_rt_worker_stats_t ws[GH_TEST_WORKERS + 2];
    uint64_t before;
    int n;

    ck_assert_int_gt(gh_go(leaf, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    n = gh_rt_worker_stats(ws, GH_TEST_WORKERS + 2);
    ck_assert_int_eq(n, GH_TEST_WORKERS);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(ws[i].id, i);
    ck_assert_int_eq(gh_rt_worker_stats(ws, 1), 1); /* max is respected */
    before = switches_total();
    for (int i = 0; i < 100; i++)
        ck_assert_int_gt(gh_go(leaf, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 101, 5 * GH_SECOND);
    ck_assert_uint_ge(switches_total() - before, 100);
}
END_TEST

/* ---- gh_rt_goroutines ---- */

/* What a walk's callback saw; the test's thread asserts on it. */
typedef struct walk {
    int64_t want;          /* the id to find */
    int calls;
    int stop_at;           /* return 7 at this call (0: never) */
    int bad;               /* records that broke the contract */
    gh_rt_g_info_t found;  /* a copy of want's record */
    char name[32], wait[32];
    bool parked_and_spawned; /* the callback parked and started one */
} walk_t;

static int walk_cb(void *udata, const gh_rt_g_info_t *g)
{
    walk_t *w = udata;
    gh_go_opts_t o = {.stack_size = 128 * 1024}; /* a fresh stack mapping */

    w->calls++;
    w->bad += !(g->state == GH_G_RUNNABLE || g->state == GH_G_RUNNING ||
                g->state == GH_G_WAITING) ||
              !g->name || !g->fn_name || !*g->fn_name ||
              (g->wait != NULL) != (g->state == GH_G_WAITING);
    if (g->id == w->want) {
        w->found = *g;
        snprintf(w->name, sizeof(w->name), "%s", g->name);
        snprintf(w->wait, sizeof(w->wait), "%s", g->wait ? g->wait : "");
        /* No lock is held: parking and starting a goroutine (which takes
         * the runtime's list lock to map its stack) must not deadlock. */
        gh_sleep(GH_MILLISECOND);
        w->parked_and_spawned = gh_go_with(leaf, NULL, &o) > 0;
    }
    return w->stop_at && w->calls == w->stop_at ? 7 : 0;
}

static walk_t walk_result;
static atomic_int walk_rc = -1000;

static void walker(void *arg)
{
    atomic_store(&walk_rc, gh_rt_goroutines(walk_cb, &walk_result));
}

START_TEST(sched_goroutines_walk_reports_a_parked_named_goroutine)
{
    int64_t id = start_named_sleeper("walk-me");
    int rc;

    walk_result.want = id;
    ck_assert_int_gt(gh_go(walker, NULL), 0); /* the callback parks */
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&walk_rc) != -1000,
                                 5 * GH_SECOND));
    rc = atomic_load(&walk_rc);
    ck_assert_int_ge(rc, 2); /* the sleeper and the walker */
    ck_assert_int_eq(rc, walk_result.calls);
    ck_assert_int_eq(walk_result.bad, 0);
    ck_assert_int_eq(walk_result.found.id, id);
    ck_assert_str_eq(walk_result.name, "walk-me");
    ck_assert_int_eq(walk_result.found.state, GH_G_WAITING);
    ck_assert_str_eq(walk_result.wait, "sleep");
    ck_assert_int_gt(walk_result.found.wait_ns, 0);
    ck_assert_int_lt(walk_result.found.wait_ns, 30 * GH_SECOND);
    ck_assert_ptr_eq(walk_result.found.fn, (const void *)named_sleeper);
    ck_assert(walk_result.parked_and_spawned);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
}
END_TEST

START_TEST(sched_goroutines_walk_stops_when_the_callback_says_so)
{
    walk_t w = {.want = -1, .stop_at = 2};

    for (int i = 0; i < 5; i++)
        ck_assert_int_gt(gh_go(long_sleeper, NULL), 0);
    GH_TEST_WAIT_COUNT(&parked, 5, 5 * GH_SECOND);
    ck_assert_int_eq(gh_rt_goroutines(walk_cb, &w), 7);
    ck_assert_int_eq(w.calls, 2);
    w = (walk_t){.want = -1};
    ck_assert_int_ge(gh_rt_goroutines(walk_cb, &w), 5);
    ck_assert_int_eq(w.bad, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The stall watch                                                     */
/* ------------------------------------------------------------------ */

/* What the log received: up to 16 messages, with their levels. */
static pthread_mutex_t rec_mu = PTHREAD_MUTEX_INITIALIZER;
static char rec_msg[16][GH_LOG_MAX];
static int rec_level[16];
static int rec_n;

static void rec_sink(void *udata, int level, const char *msg, size_t len)
{
    (void)udata;
    pthread_mutex_lock(&rec_mu);
    if (rec_n < 16) {
        snprintf(rec_msg[rec_n], sizeof(rec_msg[rec_n]), "%.*s", (int)len, msg);
        rec_level[rec_n++] = level;
    }
    pthread_mutex_unlock(&rec_mu);
}

/* The index of the first message holding text, or -1. */
static int rec_find(const char *text)
{
    int at = -1;

    pthread_mutex_lock(&rec_mu);
    for (int i = 0; i < rec_n && at < 0; i++)
        if (strstr(rec_msg[i], text))
            at = i;
    pthread_mutex_unlock(&rec_mu);
    return at;
}

static int rec_count(void)
{
    pthread_mutex_lock(&rec_mu);
    int n = rec_n;
    pthread_mutex_unlock(&rec_mu);
    return n;
}

/* Reports go to rec_sink from now on, after a stall of 100 ms. */
static void watch_stalls(void)
{
    gh_log_set_sink(rec_sink, NULL);
    ck_assert_int_eq(gh_set_stall_limit(100 * GH_MILLISECOND), 0);
}

/* Wait for a message holding want; its index. */
static int wait_report(const char *want)
{
    ck_assert_msg(GH_TEST_WAIT_UNTIL(rec_find(want) >= 0, 5 * GH_SECOND),
                  "nothing logged holds \"%s\"", want);
    return rec_find(want);
}

static atomic_int hog_release;

/* Spins without a switch until released (or 20 s pass). */
__attribute__((noinline)) static void hog_spin(void)
{
    int64_t end = gh_now() + 20 * GH_SECOND;

    while (!atomic_load(&hog_release) && gh_now() < end)
        ;
    __asm__ volatile("" ::: "memory"); /* not a tail call: keep the frame */
}

static void holder(void *arg)
{
    (void)arg;
    hog_spin();
    atomic_fetch_add(&done, 1);
}

START_TEST(sched_goroutine_holding_its_worker_is_reported_with_its_stack)
{
    gh_go_opts_t o = {.name = "hog"};
    char want[64];
    int64_t id;
    int at;

    watch_stalls();
    ck_assert_int_eq(gh_rt_stalls(), 0);
    id = gh_go_with(holder, NULL, &o);
    ck_assert_int_gt(id, 0);
    snprintf(want, sizeof(want), "goroutine %lld [hog] has kept it for",
             (long long)id);
    at = wait_report(want);
    ck_assert_int_eq(rec_level[at], GH_LOG_WARN);
    ck_assert_msg(strncmp(rec_msg[at], "worker ", 7) == 0, "%s", rec_msg[at]);
    ck_assert_msg(strstr(rec_msg[at], "started as holder by "), "%s",
                  rec_msg[at]);
    /* ThreadSanitizer holds signals back until the thread calls into
     * something it intercepts, which this loop does only to read the
     * clock: there the frames may be missing. */
    if (!GH_TEST_TSAN)
        ck_assert_msg(strstr(rec_msg[at], "hog_spin+0x"), "%s", rec_msg[at]);
    ck_assert_int_eq(rec_count(), 1); /* once per stall */
    ck_assert_int_eq(gh_rt_stalls(), 1);
    atomic_store(&hog_release, 1);
    snprintf(want, sizeof(want), "goroutine %lld [hog] let go after",
             (long long)id);
    ck_assert_int_eq(rec_level[wait_report(want)], GH_LOG_NOTICE);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    gh_log_set_sink(NULL, NULL);
}
END_TEST

static int block_fds[2];
static atomic_long block_got;

/* A read(2) on a blocking pipe: the thread blocks, not the goroutine. */
static void blocked_reader(void *arg)
{
    char c = 0;
    ssize_t n;

    (void)arg;
    n = read(block_fds[0], &c, 1);
    atomic_store(&block_got, n == 1 && c == 'x' ? 1 : n < 0 ? -errno : -1000);
}

START_TEST(
    sched_goroutine_blocked_in_a_system_call_is_reported_and_the_call_goes_on)
{
    char want[64];
    int64_t id;
    int at;

    ck_assert_int_eq(pipe2(block_fds, O_CLOEXEC), 0);
    watch_stalls();
    id = gh_go(blocked_reader, NULL);
    ck_assert_int_gt(id, 0);
    snprintf(want, sizeof(want), "goroutine %lld has kept it for",
             (long long)id);
    at = wait_report(want);
    ck_assert_msg(strstr(rec_msg[at], "started as blocked_reader by "), "%s",
                  rec_msg[at]);
    if (!GH_TEST_TSAN)
        ck_assert_msg(strstr(rec_msg[at], "<- blocked_reader+0x"), "%s",
                      rec_msg[at]);
    /* The signal that took the frames did not end the read (SA_RESTART). */
    gh_sleep(50 * GH_MILLISECOND);
    ck_assert_int_eq(atomic_load(&block_got), 0);
    ck_assert_int_eq(write(block_fds[1], "x", 1), 1);
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&block_got) != 0, 5 * GH_SECOND));
    ck_assert_int_eq(atomic_load(&block_got), 1);
    gh_log_set_sink(NULL, NULL);
}
END_TEST

static void yielding_loop(void *arg)
{
    int64_t end = gh_now() + 400 * GH_MILLISECOND;

    (void)arg;
    while (gh_now() < end) {
        int64_t t = gh_now() + 200 * GH_MICROSECOND;
        while (gh_now() < t)
            ;
        gh_yield();
    }
    atomic_fetch_add(&done, 1);
}

static void sleeper_400ms(void *arg)
{
    (void)arg;
    gh_sleep(400 * GH_MILLISECOND);
    atomic_fetch_add(&done, 1);
}

START_TEST(sched_yielding_and_parked_goroutines_are_not_reported)
{
    gh_log_set_sink(rec_sink, NULL);
    ck_assert_int_eq(gh_set_stall_limit(50 * GH_MILLISECOND), 0);
    ck_assert_int_gt(gh_go(yielding_loop, NULL), 0);
    ck_assert_int_gt(gh_go(sleeper_400ms, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 5 * GH_SECOND);
    /* Idle workers are not held either. */
    gh_sleep(200 * GH_MILLISECOND);
    ck_assert_msg(rec_count() == 0, "reported: %s", rec_msg[0]);
    /* Off: a goroutine that holds its worker goes unreported. */
    ck_assert_int_eq(gh_set_stall_limit(0), 0);
    ck_assert_int_gt(gh_go(holder, NULL), 0);
    gh_sleep(300 * GH_MILLISECOND);
    atomic_store(&hog_release, 1);
    GH_TEST_WAIT_COUNT(&done, 3, 5 * GH_SECOND);
    ck_assert_msg(rec_count() == 0, "reported: %s", rec_msg[0]);
    gh_log_set_sink(NULL, NULL);
}
END_TEST

START_TEST(sched_set_stall_limit_validates)
{
    ck_assert_int_eq(gh_set_stall_limit(-1), GH_EINVAL);
    ck_assert_int_eq(gh_set_stall_limit(9 * GH_MILLISECOND), GH_EINVAL);
    ck_assert_int_eq(gh_set_stall_limit(GH_HOUR + 1), GH_EINVAL);
    ck_assert_int_eq(gh_set_stall_limit(10 * GH_MILLISECOND), 0);
    ck_assert_int_eq(gh_set_stall_limit(GH_HOUR), 0);
    ck_assert_int_eq(gh_set_stall_limit(0), 0);
}
END_TEST

static Suite *sched_suite(void)
{
    Suite *s = suite_create("sched");
    TCase *tc;

    tc = tcase_create("spread");
    gh_test_tcase_setup(tc, 30);
    tcase_add_test(tc, sched_cpu_bound_goroutines_spread_over_all_workers);
    tcase_add_test(tc, sched_yield_lets_another_goroutine_on_the_same_worker_run);
    tcase_add_test(tc, sched_yielding_loop_does_not_starve_timers);
    tcase_add_test(tc,
                   sched_slowly_yielding_loop_lets_timers_fire_at_each_yield);
    tcase_add_test(tc, sched_slowly_switching_goroutines_let_timers_fire_soon);
    tcase_add_test(tc, sched_woken_sleeper_runs_before_a_long_queue);
    tcase_add_test(tc, sched_burst_of_timer_wakeups_is_shared_with_an_idle_worker);
    tcase_add_test(tc, sched_timer_wakeups_do_not_starve_the_run_queue);
    tcase_add_test(tc,
                   sched_goroutine_woken_by_a_channel_runs_next_on_one_worker);
    tcase_add_test(
        tc, sched_goroutines_woken_in_turn_run_in_that_order_on_one_worker);
    tcase_add_test(tc,
                   sched_ping_pong_pair_does_not_starve_the_queue_on_one_worker);
    tcase_add_test(tc,
                   sched_goroutine_readied_by_a_busy_one_runs_on_another_worker);
    suite_add_tcase(s, tc);

    tc = tcase_create("spawn");
    gh_test_tcase_setup(tc, 20);
    tcase_add_test(tc, sched_goroutines_spawned_from_goroutines_and_main_all_run);
    tcase_add_test(tc, sched_goroutines_spawned_from_foreign_threads_run);
    suite_add_tcase(s, tc);

    tc = tcase_create("config");
    gh_test_tcase_setup(tc, 10);
    tcase_add_test(tc, sched_set_workers_validates_then_is_busy_after_start);
    suite_add_tcase(s, tc);

    tc = tcase_create("idle");
    gh_test_tcase_setup(tc, 20);
    tcase_add_test(tc, sched_idle_runtime_uses_almost_no_cpu);
    tcase_add_test(tc, sched_main_sleeps_while_goroutines_run);
    suite_add_tcase(s, tc);

    tc = tcase_create("introspection");
    gh_test_tcase_setup(tc, 20);
    tcase_add_test(tc, sched_rt_stats_are_sane);
    tcase_add_test(tc, sched_dump_lists_a_sleeping_named_goroutine);
    tcase_add_test(tc, sched_dump_on_sigquit_writes_the_dump_and_keeps_running);
    tcase_add_test(tc, sched_worker_stats_show_queues_switches_and_idleness);
    tcase_add_test(tc, sched_worker_stats_cover_every_worker_and_count_switches);
    tcase_add_test(tc, sched_goroutines_walk_reports_a_parked_named_goroutine);
    tcase_add_test(tc, sched_goroutines_walk_stops_when_the_callback_says_so);
    suite_add_tcase(s, tc);

    tc = tcase_create("stall");
    gh_test_tcase_setup(tc, 30);
    tcase_add_test(
        tc, sched_goroutine_holding_its_worker_is_reported_with_its_stack);
    tcase_add_test(
        tc,
        sched_goroutine_blocked_in_a_system_call_is_reported_and_the_call_goes_on);
    tcase_add_test(tc, sched_yielding_and_parked_goroutines_are_not_reported);
    tcase_add_test(tc, sched_set_stall_limit_validates);
    suite_add_tcase(s, tc);

    return s;
}

GH_CHECK_MAIN(sched_suite)
