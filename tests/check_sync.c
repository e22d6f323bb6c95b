/*
 * check_sync.c - Mutex, RWMutex, WaitGroup, Once and Cond: mutual
 * exclusion under contention from goroutines and plain threads, waiting
 * parks the goroutine and not its worker, a starving waiter gets the lock,
 * writers keep new readers out, WaitGroup reuse, Once under concurrent
 * callers and panics, Cond signal/broadcast, and misuse panics.
 *
 * Goroutines and helper threads record what they see; only the test's
 * main thread asserts.
 */
#include "check_gh.h"

#include <pthread.h>

#define T_MS GH_MILLISECOND

static atomic_long done;

static void go_ok(gh_go_fn fn, void *arg)
{
    ck_assert_int_gt(gh_go(fn, arg), 0);
}

static pthread_t thread_ok(void *(*fn)(void *), void *arg)
{
    pthread_t t;

    ck_assert_int_eq(pthread_create(&t, NULL, fn, arg), 0);
    return t;
}

/* Run fn in a child, in a goroutine; it must panic with msg (status 2). */
struct child_job {
    gh_go_fn fn;
};

static void child_main(void *p)
{
    struct child_job *job = p;

    gh_go(job->fn, NULL);
    gh_sleep(10 * GH_SECOND); /* the panic ends the process first */
}

static void expect_panic(gh_go_fn fn, const char *msg)
{
    struct child_job job = {fn};
    struct gh_test_child c;
    char buf[64];

    if (!gh_test_forking())
        return; /* the child needs a process without a runtime */
    gh_test_run_child(child_main, &job, 20 * GH_SECOND, &c);
    ck_assert_msg(c.exited && c.exit_code == 2, "child: %s; stderr: %s",
                  gh_test_child_str(&c, buf, sizeof buf), c.err);
    ck_assert_msg(strstr(c.err, msg) != NULL, "stderr lacks '%s': %s", msg,
                  c.err);
}

/* Run fn inside gh_call with a deferred recover; keep the message. */
static char recovered[256];

static void keep_recovered(void *arg)
{
    const char *msg = gh_recover();

    snprintf(recovered, sizeof recovered, "%s", msg ? msg : "(none)");
}

static void recover_frame(void *p)
{
    gh_go_fn fn = (gh_go_fn)p;

    gh_defer(keep_recovered, NULL);
    fn(NULL);
}

static int call_recovering(gh_go_fn fn)
{
    recovered[0] = '\0';
    return gh_call(recover_frame, (void *)fn);
}

/* ------------------------------------------------------------------ */
/* Mutex                                                               */
/* ------------------------------------------------------------------ */

static gh_mutex_t mu = GH_MUTEX_INIT;
static long shared_counter; /* plain: only mu protects it */

#define INCR_PER_G 10000

/* Increment under the lock; now and then hold it across a yield, so that
 * goroutines on the same worker find it taken and park. */
static void incrementer(void *arg)
{
    for (int i = 0; i < INCR_PER_G; i++) {
        gh_mutex_lock(&mu);
        long v = shared_counter;
        if (i % 1000 == 0)
            gh_yield();
        shared_counter = v + 1;
        gh_mutex_unlock(&mu);
    }
    atomic_fetch_add(&done, 1);
}

START_TEST(mutex_excludes_64_goroutines_on_2_workers)
{
    for (int i = 0; i < 64; i++)
        go_ok(incrementer, NULL);
    GH_TEST_WAIT_COUNT(&done, 64, 30 * GH_SECOND);
    gh_mutex_lock(&mu);
    ck_assert_int_eq(shared_counter, 64L * INCR_PER_G);
    gh_mutex_unlock(&mu);
}
END_TEST

START_TEST(mutex_excludes_64_goroutines_on_8_workers)
{
    gh_test_set_workers(8);
    for (int i = 0; i < 64; i++)
        go_ok(incrementer, NULL);
    GH_TEST_WAIT_COUNT(&done, 64, 30 * GH_SECOND);
    gh_mutex_lock(&mu);
    ck_assert_int_eq(shared_counter, 64L * INCR_PER_G);
    gh_mutex_unlock(&mu);
}
END_TEST

static void *thread_incrementer(void *arg)
{
    for (int i = 0; i < INCR_PER_G; i++) {
        gh_mutex_lock(&mu);
        shared_counter++;
        gh_mutex_unlock(&mu);
    }
    atomic_fetch_add(&done, 1);
    return NULL;
}

START_TEST(mutex_excludes_plain_threads_and_goroutines_together)
{
    pthread_t t[4];

    for (int i = 0; i < 16; i++)
        go_ok(incrementer, NULL);
    for (int i = 0; i < 4; i++)
        t[i] = thread_ok(thread_incrementer, NULL);
    thread_incrementer(NULL); /* and the main thread */
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    GH_TEST_WAIT_COUNT(&done, 21, 30 * GH_SECOND);
    ck_assert_int_eq(shared_counter, 21L * INCR_PER_G);
}
END_TEST

static atomic_int trylock_seen;

static void try_from_goroutine(void *arg)
{
    atomic_store(&trylock_seen, gh_mutex_trylock(&mu) == GH_EBUSY ? 1 : 2);
    atomic_fetch_add(&done, 1);
}

START_TEST(mutex_trylock_fails_while_held_and_succeeds_when_free)
{
    ck_assert_int_eq(gh_mutex_trylock(&mu), 0);
    ck_assert_int_eq(gh_mutex_trylock(&mu), GH_EBUSY);
    go_ok(try_from_goroutine, NULL);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(atomic_load(&trylock_seen), 1);
    gh_mutex_unlock(&mu);
    ck_assert_int_eq(gh_mutex_trylock(&mu), 0);
    gh_mutex_unlock(&mu);
    gh_mutex_lock(&mu);
    ck_assert_int_eq(gh_mutex_trylock(&mu), GH_EBUSY);
    gh_mutex_unlock(&mu);
}
END_TEST

/* One worker: the holder waits (yielding) until a third goroutine has run
 * while the blocked one waits; a blocked worker would deadlock. */
static atomic_int third_ran, blocked_got_lock_after_third;

static void third(void *arg)
{
    atomic_store(&third_ran, 1);
}

static void blocked(void *arg)
{
    gh_mutex_lock(&mu);
    atomic_store(&blocked_got_lock_after_third, atomic_load(&third_ran));
    gh_mutex_unlock(&mu);
    atomic_fetch_add(&done, 1);
}

static void holder(void *arg)
{
    gh_mutex_lock(&mu);
    gh_go(blocked, NULL);
    gh_go(third, NULL);
    while (!atomic_load(&third_ran))
        gh_yield();
    gh_mutex_unlock(&mu);
    atomic_fetch_add(&done, 1);
}

START_TEST(mutex_lock_parks_the_goroutine_not_the_worker)
{
    gh_test_set_workers(1);
    go_ok(holder, NULL);
    GH_TEST_WAIT_COUNT(&done, 2, 10 * GH_SECOND);
    ck_assert_int_eq(atomic_load(&blocked_got_lock_after_third), 1);
}
END_TEST

/*
 * Starvation.  Hammerers hold the lock across a short sleep and take it
 * again as soon as they release it, before a woken waiter can run: only the
 * starvation handoff lets the victim in (without it, it would wait until
 * the hammerers stop).
 */
static atomic_int hammer_stop;
static atomic_long hammer_rounds;

static void hammer(void *arg)
{
    while (!atomic_load(&hammer_stop)) {
        gh_mutex_lock(&mu);
        gh_sleep(100 * GH_MICROSECOND);
        gh_mutex_unlock(&mu);
        atomic_fetch_add(&hammer_rounds, 1);
    }
    atomic_fetch_add(&done, 1);
}

static int64_t victim_wait; /* the longest of VICTIM_LOCKS waits */
#define VICTIM_LOCKS 5

static void victim(void *arg)
{
    for (int i = 0; i < VICTIM_LOCKS; i++) {
        int64_t t0 = gh_now();
        gh_mutex_lock(&mu);
        if (gh_now() - t0 > victim_wait)
            victim_wait = gh_now() - t0;
        gh_mutex_unlock(&mu);
        gh_sleep(T_MS);
    }
    atomic_store(&hammer_stop, 1);
    atomic_fetch_add(&done, 1);
}

START_TEST(mutex_starving_goroutine_gets_the_lock_handed_over)
{
    gh_test_set_workers(1);
    go_ok(hammer, NULL);
    GH_TEST_WAIT_COUNT(&hammer_rounds, 10, 5 * GH_SECOND);
    go_ok(victim, NULL);
    GH_TEST_WAIT_COUNT(&done, 2, 20 * GH_SECOND);
    ck_assert_int_ge(victim_wait, GH_MILLISECOND);
    ck_assert_msg(victim_wait < gh_test_slack(100 * T_MS),
                  "the starving waiter waited %.1f ms",
                  gh_test_ms(victim_wait));
}
END_TEST

START_TEST(mutex_starving_thread_gets_the_lock_handed_over)
{
    go_ok(hammer, NULL);
    go_ok(hammer, NULL);
    GH_TEST_WAIT_COUNT(&hammer_rounds, 10, 5 * GH_SECOND);
    victim(NULL);
    GH_TEST_WAIT_COUNT(&done, 3, 20 * GH_SECOND);
    ck_assert_msg(victim_wait < gh_test_slack(100 * T_MS),
                  "the starving waiter waited %.1f ms",
                  gh_test_ms(victim_wait));
}
END_TEST

/* Mutual exclusion must hold across starvation episodes too: now and then
 * a holder sleeps, long enough for its waiters to starve. */
#define MIXED_ROUNDS 2000

static void sleepy_incrementer(void *arg)
{
    for (int i = 1; i <= MIXED_ROUNDS; i++) {
        gh_mutex_lock(&mu);
        long v = shared_counter;
        if (i % 50 == 0)
            gh_sleep(200 * GH_MICROSECOND);
        shared_counter = v + 1;
        gh_mutex_unlock(&mu);
    }
    atomic_fetch_add(&done, 1);
}

static void *sleepy_thread(void *arg)
{
    sleepy_incrementer(arg);
    return NULL;
}

START_TEST(mutex_stays_exclusive_through_starvation_handoffs)
{
    pthread_t t[2];

    gh_test_set_workers(4);
    for (int i = 0; i < 16; i++)
        go_ok(sleepy_incrementer, NULL);
    t[0] = thread_ok(sleepy_thread, NULL);
    t[1] = thread_ok(sleepy_thread, NULL);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    GH_TEST_WAIT_COUNT(&done, 18, 30 * GH_SECOND);
    ck_assert_int_eq(shared_counter, 18L * MIXED_ROUNDS);
}
END_TEST

static void unlock_unlocked(void *arg)
{
    gh_mutex_t m = GH_MUTEX_INIT;

    gh_mutex_unlock(&m);
}

static void unlock_twice(void *arg)
{
    gh_mutex_t m = GH_MUTEX_INIT;

    gh_mutex_lock(&m);
    gh_mutex_unlock(&m);
    gh_mutex_unlock(&m);
}

START_TEST(mutex_unlock_of_unlocked_mutex_panics)
{
    expect_panic(unlock_unlocked, "sync: unlock of unlocked mutex");
    expect_panic(unlock_twice, "sync: unlock of unlocked mutex");
}
END_TEST

/* A recovered misuse panic leaves the mutex as it was. */
static int misuse_rc, relock_rc;

static void unlock_shared_unlocked(void *arg)
{
    gh_mutex_unlock(&mu);
}

static void recover_then_use(void *arg)
{
    misuse_rc = call_recovering(unlock_shared_unlocked);
    gh_mutex_lock(&mu);
    relock_rc = gh_mutex_trylock(&mu);
    gh_mutex_unlock(&mu);
    atomic_fetch_add(&done, 1);
}

START_TEST(mutex_recovered_unlock_panic_leaves_the_mutex_usable)
{
    go_ok(recover_then_use, NULL);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(misuse_rc, GH_EPANIC);
    ck_assert_str_eq(recovered, "sync: unlock of unlocked mutex");
    ck_assert_int_eq(relock_rc, GH_EBUSY);
    ck_assert_int_eq(gh_mutex_trylock(&mu), 0);
    gh_mutex_unlock(&mu);
}
END_TEST

/* ------------------------------------------------------------------ */
/* RWMutex                                                             */
/* ------------------------------------------------------------------ */

static gh_rwmutex_t rw = GH_RWMUTEX_INIT;
static atomic_int readers_in, writers_in, max_readers, violations;

static void note_max(atomic_int *max, int v)
{
    int m = atomic_load(max);

    while (v > m && !atomic_compare_exchange_weak(max, &m, v))
        ;
}

#define READERS 8

static void patient_reader(void *arg)
{
    gh_rwmutex_rlock(&rw);
    int n = atomic_fetch_add(&readers_in, 1) + 1;
    note_max(&max_readers, n);
    /* Hold the read lock until every reader is in (or 5 s pass). */
    for (int i = 0; i < 5000 && atomic_load(&readers_in) < READERS; i++)
        gh_sleep(T_MS);
    gh_rwmutex_runlock(&rw);
    atomic_fetch_add(&done, 1);
}

START_TEST(rwmutex_admits_many_readers_at_once)
{
    for (int i = 0; i < READERS; i++)
        go_ok(patient_reader, NULL);
    GH_TEST_WAIT_COUNT(&done, READERS, 10 * GH_SECOND);
    ck_assert_int_eq(atomic_load(&max_readers), READERS);
    ck_assert_int_eq(gh_rwmutex_trylock(&rw), 0);
    gh_rwmutex_unlock(&rw);
}
END_TEST

#define RW_ROUNDS 2000

static void rw_writer_body(void)
{
    gh_rwmutex_lock(&rw);
    if (atomic_fetch_add(&writers_in, 1) != 0 || atomic_load(&readers_in))
        atomic_fetch_add(&violations, 1);
    long v = shared_counter;
    shared_counter = v + 1;
    atomic_fetch_sub(&writers_in, 1);
    gh_rwmutex_unlock(&rw);
}

static void rw_reader_body(void)
{
    gh_rwmutex_rlock(&rw);
    atomic_fetch_add(&readers_in, 1);
    if (atomic_load(&writers_in))
        atomic_fetch_add(&violations, 1);
    if (shared_counter < 0) /* readers may read together */
        atomic_fetch_add(&violations, 1);
    atomic_fetch_sub(&readers_in, 1);
    gh_rwmutex_runlock(&rw);
}

static void rw_mixed(void *arg)
{
    bool writer = arg != NULL;

    for (int i = 0; i < RW_ROUNDS; i++) {
        if (writer)
            rw_writer_body();
        else
            rw_reader_body();
        if (i % 64 == 0)
            gh_yield();
    }
    atomic_fetch_add(&done, 1);
}

static void *rw_mixed_thread(void *arg)
{
    rw_mixed(arg);
    return NULL;
}

START_TEST(rwmutex_writer_excludes_readers_and_other_writers)
{
    pthread_t t[2];

    for (int i = 0; i < 16; i++)
        go_ok(rw_mixed, i % 4 == 0 ? (void *)1 : NULL);
    t[0] = thread_ok(rw_mixed_thread, (void *)1);
    t[1] = thread_ok(rw_mixed_thread, NULL);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    GH_TEST_WAIT_COUNT(&done, 18, 30 * GH_SECOND);
    ck_assert_int_eq(atomic_load(&violations), 0);
    ck_assert_int_eq(shared_counter, 5L * RW_ROUNDS);
}
END_TEST

/* A reader holds it; a writer waits; a later reader must wait for the
 * writer; then the writer goes first and the reader after it. */
static atomic_int order_seq, writer_at, late_reader_at;

static void waiting_writer(void *arg)
{
    gh_rwmutex_lock(&rw);
    atomic_store(&writer_at, atomic_fetch_add(&order_seq, 1) + 1);
    gh_sleep(10 * T_MS);
    gh_rwmutex_unlock(&rw);
    atomic_fetch_add(&done, 1);
}

static void late_reader(void *arg)
{
    gh_rwmutex_rlock(&rw);
    atomic_store(&late_reader_at, atomic_fetch_add(&order_seq, 1) + 1);
    gh_rwmutex_runlock(&rw);
    atomic_fetch_add(&done, 1);
}

/* While a reader holds it, new readers get in until a writer queues. */
static bool writer_queued(void)
{
    if (gh_rwmutex_tryrlock(&rw) == GH_EBUSY)
        return true;
    gh_rwmutex_runlock(&rw);
    return false;
}

START_TEST(rwmutex_waiting_writer_keeps_new_readers_out)
{
    gh_rwmutex_rlock(&rw);
    go_ok(waiting_writer, NULL);
    ck_assert(GH_TEST_WAIT_UNTIL(writer_queued(), 5 * GH_SECOND));
    go_ok(late_reader, NULL);
    gh_sleep(30 * T_MS);
    ck_assert_int_eq(atomic_load(&writer_at), 0);
    ck_assert_int_eq(atomic_load(&late_reader_at), 0);
    ck_assert_int_eq(gh_rwmutex_trylock(&rw), GH_EBUSY);
    gh_rwmutex_runlock(&rw);
    GH_TEST_WAIT_COUNT(&done, 2, 5 * GH_SECOND);
    ck_assert_int_eq(atomic_load(&writer_at), 1);
    ck_assert_int_eq(atomic_load(&late_reader_at), 2);
}
END_TEST

/* Readers that queued behind a writer go before the next writer. */
static void second_writer(void *arg)
{
    gh_rwmutex_lock(&rw);
    atomic_store(&writer_at, atomic_fetch_add(&order_seq, 1) + 1);
    gh_rwmutex_unlock(&rw);
    atomic_fetch_add(&done, 1);
}

START_TEST(rwmutex_readers_queued_during_a_write_go_before_the_next_writer)
{
    gh_rwmutex_lock(&rw);
    go_ok(late_reader, NULL);
    gh_sleep(20 * T_MS);
    go_ok(second_writer, NULL);
    gh_sleep(20 * T_MS);
    ck_assert_int_eq(atomic_load(&order_seq), 0);
    gh_rwmutex_unlock(&rw);
    GH_TEST_WAIT_COUNT(&done, 2, 5 * GH_SECOND);
    ck_assert_int_eq(atomic_load(&late_reader_at), 1);
    ck_assert_int_eq(atomic_load(&writer_at), 2);
}
END_TEST

START_TEST(rwmutex_trylocks_follow_the_state)
{
    ck_assert_int_eq(gh_rwmutex_tryrlock(&rw), 0);
    ck_assert_int_eq(gh_rwmutex_tryrlock(&rw), 0);
    ck_assert_int_eq(gh_rwmutex_trylock(&rw), GH_EBUSY);
    gh_rwmutex_runlock(&rw);
    gh_rwmutex_runlock(&rw);
    ck_assert_int_eq(gh_rwmutex_trylock(&rw), 0);
    ck_assert_int_eq(gh_rwmutex_tryrlock(&rw), GH_EBUSY);
    ck_assert_int_eq(gh_rwmutex_trylock(&rw), GH_EBUSY);
    gh_rwmutex_unlock(&rw);
    ck_assert_int_eq(gh_rwmutex_tryrlock(&rw), 0);
    gh_rwmutex_runlock(&rw);
}
END_TEST

static void rw_unlock_unlocked(void *arg)
{
    gh_rwmutex_t r = GH_RWMUTEX_INIT;

    gh_rwmutex_unlock(&r);
}

static void rw_runlock_unlocked(void *arg)
{
    gh_rwmutex_t r = GH_RWMUTEX_INIT;

    gh_rwmutex_runlock(&r);
}

static void rw_runlock_write_locked(void *arg)
{
    gh_rwmutex_t r = GH_RWMUTEX_INIT;

    gh_rwmutex_lock(&r);
    gh_rwmutex_runlock(&r);
}

static void rw_unlock_read_locked(void *arg)
{
    gh_rwmutex_t r = GH_RWMUTEX_INIT;

    gh_rwmutex_rlock(&r);
    gh_rwmutex_unlock(&r);
}

START_TEST(rwmutex_misuse_panics)
{
    expect_panic(rw_unlock_unlocked, "sync: Unlock of unlocked RWMutex");
    expect_panic(rw_unlock_read_locked, "sync: Unlock of unlocked RWMutex");
    expect_panic(rw_runlock_unlocked, "sync: RUnlock of unlocked RWMutex");
    expect_panic(rw_runlock_write_locked, "sync: RUnlock of unlocked RWMutex");
}
END_TEST

/* ------------------------------------------------------------------ */
/* WaitGroup                                                           */
/* ------------------------------------------------------------------ */

static gh_waitgroup_t wg = GH_WAITGROUP_INIT;
static atomic_long finished, waiters_out;

static void worker_done(void *arg)
{
    gh_sleep((int64_t)(intptr_t)arg * T_MS);
    atomic_fetch_add(&finished, 1);
    gh_waitgroup_done(&wg);
}

START_TEST(waitgroup_wait_returns_once_every_goroutine_is_done)
{
    gh_waitgroup_wait(&wg); /* zero: returns at once */
    for (intptr_t i = 0; i < 20; i++) {
        gh_waitgroup_add(&wg, 1);
        go_ok(worker_done, (void *)(i % 5));
    }
    gh_waitgroup_wait(&wg);
    ck_assert_int_eq(atomic_load(&finished), 20);
}
END_TEST

static void waiter_g(void *arg)
{
    gh_waitgroup_wait(&wg);
    if (atomic_load(&finished) != 3)
        atomic_fetch_add(&violations, 1);
    atomic_fetch_add(&waiters_out, 1);
}

static void *waiter_thread(void *arg)
{
    waiter_g(arg);
    return NULL;
}

START_TEST(waitgroup_releases_every_waiter_goroutines_and_threads)
{
    pthread_t t[2];

    gh_waitgroup_add(&wg, 3);
    for (int i = 0; i < 6; i++)
        go_ok(waiter_g, NULL);
    t[0] = thread_ok(waiter_thread, NULL);
    t[1] = thread_ok(waiter_thread, NULL);
    gh_sleep(20 * T_MS);
    ck_assert_int_eq(atomic_load(&waiters_out), 0);
    for (intptr_t i = 0; i < 3; i++)
        go_ok(worker_done, (void *)(i * 5));
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    GH_TEST_WAIT_COUNT(&waiters_out, 8, 5 * GH_SECOND);
    ck_assert_int_eq(atomic_load(&violations), 0);
}
END_TEST

static void round_done(void *arg)
{
    atomic_fetch_add(&finished, 1);
    gh_waitgroup_done(&wg);
}

static void reuse_rounds(void *arg)
{
    for (long r = 1; r <= 200; r++) {
        gh_waitgroup_add(&wg, 4);
        for (int i = 0; i < 4; i++)
            gh_go(round_done, NULL);
        gh_waitgroup_wait(&wg);
        if (atomic_load(&finished) != 4 * r)
            atomic_fetch_add(&violations, 1);
    }
    atomic_fetch_add(&done, 1);
}

START_TEST(waitgroup_is_reusable_after_reaching_zero)
{
    go_ok(reuse_rounds, NULL);
    GH_TEST_WAIT_COUNT(&done, 1, 20 * GH_SECOND);
    ck_assert_int_eq(atomic_load(&violations), 0);
    ck_assert_int_eq(atomic_load(&finished), 800);
}
END_TEST

static void wg_negative(void *arg)
{
    gh_waitgroup_t w = GH_WAITGROUP_INIT;

    gh_waitgroup_add(&w, 2);
    gh_waitgroup_add(&w, -3);
}

static void wg_done_at_zero(void *arg)
{
    gh_waitgroup_t w = GH_WAITGROUP_INIT;

    gh_waitgroup_done(&w);
}

START_TEST(waitgroup_negative_counter_panics)
{
    expect_panic(wg_negative, "sync: negative WaitGroup counter");
    expect_panic(wg_done_at_zero, "sync: negative WaitGroup counter");
}
END_TEST

static void done_twice(void *arg)
{
    gh_waitgroup_add(&wg, -2);
}

START_TEST(waitgroup_recovered_negative_panic_keeps_the_counter)
{
    gh_waitgroup_add(&wg, 1);
    ck_assert_int_eq(call_recovering(done_twice), GH_EPANIC);
    ck_assert_str_eq(recovered, "sync: negative WaitGroup counter");
    gh_waitgroup_done(&wg); /* the counter was still 1 */
    gh_waitgroup_wait(&wg);
    ck_assert_int_eq(call_recovering(done_twice), GH_EPANIC);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Once                                                                */
/* ------------------------------------------------------------------ */

static gh_once_t once = GH_ONCE_INIT;
static atomic_int once_calls;
static int once_value; /* plain: written by fn, read by every caller */

static void once_fn(void *arg)
{
    atomic_fetch_add(&once_calls, 1);
    gh_sleep(20 * T_MS); /* the other callers arrive meanwhile */
    once_value = 42;
}

static void once_caller(void *arg)
{
    gh_once_do(&once, once_fn, NULL);
    if (once_value != 42)
        atomic_fetch_add(&violations, 1);
    atomic_fetch_add(&done, 1);
}

START_TEST(once_runs_fn_once_for_100_concurrent_callers)
{
    for (int i = 0; i < 100; i++)
        go_ok(once_caller, NULL);
    GH_TEST_WAIT_COUNT(&done, 100, 10 * GH_SECOND);
    ck_assert_int_eq(atomic_load(&once_calls), 1);
    ck_assert_int_eq(atomic_load(&violations), 0);
    once_caller(NULL); /* from a plain thread, after the fact */
    ck_assert_int_eq(atomic_load(&once_calls), 1);
    ck_assert_int_eq(atomic_load(&violations), 0);
}
END_TEST

static void panicking_fn(void *arg)
{
    atomic_fetch_add(&once_calls, 1);
    gh_panic("boom in once");
}

static void once_panicking(void *arg)
{
    gh_once_do(&once, panicking_fn, NULL);
    atomic_fetch_add(&violations, 1); /* never reached */
}

static int once_rc;

static void once_panic_then_again(void *arg)
{
    once_rc = call_recovering(once_panicking);
    gh_once_do(&once, once_fn, NULL); /* done: must not run nor block */
    atomic_fetch_add(&done, 1);
}

START_TEST(once_counts_a_panicking_fn_as_done_and_the_panic_goes_on)
{
    go_ok(once_panic_then_again, NULL);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_int_eq(once_rc, GH_EPANIC);
    ck_assert_str_eq(recovered, "boom in once");
    ck_assert_int_eq(atomic_load(&once_calls), 1);
    ck_assert_int_eq(atomic_load(&violations), 0);
    gh_once_do(&once, once_fn, NULL); /* from a plain thread too */
    ck_assert_int_eq(atomic_load(&once_calls), 1);
}
END_TEST

START_TEST(once_unrecovered_panic_in_fn_ends_the_process)
{
    expect_panic(once_panicking, "boom in once");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Cond                                                                */
/* ------------------------------------------------------------------ */

static gh_cond_t cond = GH_COND_INIT;
static int cond_waiting; /* under mu */
static atomic_long cond_woken;

static void cond_waiter(void *arg)
{
    gh_mutex_lock(&mu);
    cond_waiting++;
    gh_cond_wait(&cond, &mu); /* once: this test wants to count wakes */
    cond_waiting--;
    gh_mutex_unlock(&mu);
    atomic_fetch_add(&cond_woken, 1);
}

static void *cond_waiter_thread(void *arg)
{
    cond_waiter(arg);
    return NULL;
}

/* Wait until n waiters sit in gh_cond_wait: each counted itself under mu
 * and queued before gh_cond_wait released mu. */
static void wait_for_waiters(int n)
{
    int64_t deadline = gh_now() + gh_test_slack(5 * GH_SECOND);
    int seen;

    do {
        gh_sleep(T_MS);
        gh_mutex_lock(&mu);
        seen = cond_waiting;
        gh_mutex_unlock(&mu);
    } while (seen < n && gh_now() < deadline);
    ck_assert_int_eq(seen, n);
}

START_TEST(cond_signal_wakes_one_waiter_at_a_time)
{
    pthread_t t;

    for (int i = 0; i < 3; i++)
        go_ok(cond_waiter, NULL);
    t = thread_ok(cond_waiter_thread, NULL);
    wait_for_waiters(4);
    for (long n = 1; n <= 4; n++) {
        gh_cond_signal(&cond);
        GH_TEST_WAIT_COUNT(&cond_woken, n, 5 * GH_SECOND);
        gh_sleep(10 * T_MS);
        ck_assert_int_eq(atomic_load(&cond_woken), n);
    }
    gh_cond_signal(&cond); /* nobody waits: nothing happens */
    pthread_join(t, NULL);
}
END_TEST

START_TEST(cond_broadcast_wakes_every_waiter)
{
    pthread_t t;

    gh_cond_broadcast(&cond); /* nobody waits: nothing happens */
    for (int i = 0; i < 20; i++)
        go_ok(cond_waiter, NULL);
    t = thread_ok(cond_waiter_thread, NULL);
    wait_for_waiters(21);
    gh_cond_broadcast(&cond);
    GH_TEST_WAIT_COUNT(&cond_woken, 21, 5 * GH_SECOND);
    pthread_join(t, NULL);
}
END_TEST

/* A bounded buffer: producers wait while it is full, consumers while it is
 * empty, each re-checking its predicate in a loop. */
#define PC_CAP 4
#define PC_PRODUCERS 4
#define PC_ITEMS 5000
static gh_cond_t not_full = GH_COND_INIT, not_empty = GH_COND_INIT;
static long pc_buf[PC_CAP];
static int pc_len, pc_head, pc_producing = PC_PRODUCERS; /* under mu */
static atomic_long pc_sum, pc_count;

static void producer(void *arg)
{
    for (long i = 1; i <= PC_ITEMS; i++) {
        gh_mutex_lock(&mu);
        while (pc_len == PC_CAP)
            gh_cond_wait(&not_full, &mu);
        pc_buf[(pc_head + pc_len++) % PC_CAP] = i;
        gh_cond_signal(&not_empty);
        gh_mutex_unlock(&mu);
    }
    gh_mutex_lock(&mu);
    if (--pc_producing == 0)
        gh_cond_broadcast(&not_empty); /* consumers may stop */
    gh_mutex_unlock(&mu);
    atomic_fetch_add(&done, 1);
}

static void consumer(void *arg)
{
    for (;;) {
        gh_mutex_lock(&mu);
        while (pc_len == 0 && pc_producing > 0)
            gh_cond_wait(&not_empty, &mu);
        if (pc_len == 0) {
            gh_mutex_unlock(&mu);
            break;
        }
        long v = pc_buf[pc_head];
        pc_head = (pc_head + 1) % PC_CAP;
        pc_len--;
        gh_cond_signal(&not_full);
        gh_mutex_unlock(&mu);
        atomic_fetch_add(&pc_sum, v);
        atomic_fetch_add(&pc_count, 1);
    }
    atomic_fetch_add(&done, 1);
}

static void *consumer_thread(void *arg)
{
    consumer(arg);
    return NULL;
}

START_TEST(cond_producers_and_consumers_with_a_predicate_loop)
{
    pthread_t t;

    for (int i = 0; i < PC_PRODUCERS; i++)
        go_ok(producer, NULL);
    for (int i = 0; i < 3; i++)
        go_ok(consumer, NULL);
    t = thread_ok(consumer_thread, NULL);
    pthread_join(t, NULL);
    GH_TEST_WAIT_COUNT(&done, PC_PRODUCERS + 4, 30 * GH_SECOND);
    ck_assert_int_eq(atomic_load(&pc_count), (long)PC_PRODUCERS * PC_ITEMS);
    ck_assert_int_eq(atomic_load(&pc_sum),
                     (long)PC_PRODUCERS * PC_ITEMS * (PC_ITEMS + 1) / 2);
}
END_TEST

static void cond_wait_unlocked(void *arg)
{
    gh_mutex_t m = GH_MUTEX_INIT;
    gh_cond_t c = GH_COND_INIT;

    gh_cond_wait(&c, &m);
}

START_TEST(cond_wait_with_unlocked_mutex_panics)
{
    expect_panic(cond_wait_unlocked, "sync: unlock of unlocked mutex");
}
END_TEST

static Suite *sync_suite(void)
{
    Suite *s = suite_create("sync");
    TCase *tc;

    tc = tcase_create("mutex");
    gh_test_tcase_setup(tc, 60);
    tcase_add_test(tc, mutex_excludes_64_goroutines_on_2_workers);
    tcase_add_test(tc, mutex_excludes_64_goroutines_on_8_workers);
    tcase_add_test(tc, mutex_excludes_plain_threads_and_goroutines_together);
    tcase_add_test(tc, mutex_trylock_fails_while_held_and_succeeds_when_free);
    tcase_add_test(tc, mutex_lock_parks_the_goroutine_not_the_worker);
    tcase_add_test(tc, mutex_starving_goroutine_gets_the_lock_handed_over);
    tcase_add_test(tc, mutex_starving_thread_gets_the_lock_handed_over);
    tcase_add_test(tc, mutex_stays_exclusive_through_starvation_handoffs);
    tcase_add_test(tc, mutex_unlock_of_unlocked_mutex_panics);
    tcase_add_test(tc, mutex_recovered_unlock_panic_leaves_the_mutex_usable);
    suite_add_tcase(s, tc);

    tc = tcase_create("rwmutex");
    gh_test_tcase_setup(tc, 60);
    tcase_add_test(tc, rwmutex_admits_many_readers_at_once);
    tcase_add_test(tc, rwmutex_writer_excludes_readers_and_other_writers);
    tcase_add_test(tc, rwmutex_waiting_writer_keeps_new_readers_out);
    tcase_add_test(
        tc, rwmutex_readers_queued_during_a_write_go_before_the_next_writer);
    tcase_add_test(tc, rwmutex_trylocks_follow_the_state);
    tcase_add_test(tc, rwmutex_misuse_panics);
    suite_add_tcase(s, tc);

    tc = tcase_create("waitgroup");
    gh_test_tcase_setup(tc, 30);
    tcase_add_test(tc, waitgroup_wait_returns_once_every_goroutine_is_done);
    tcase_add_test(tc, waitgroup_releases_every_waiter_goroutines_and_threads);
    tcase_add_test(tc, waitgroup_is_reusable_after_reaching_zero);
    tcase_add_test(tc, waitgroup_negative_counter_panics);
    tcase_add_test(tc, waitgroup_recovered_negative_panic_keeps_the_counter);
    suite_add_tcase(s, tc);

    tc = tcase_create("once");
    gh_test_tcase_setup(tc, 30);
    tcase_add_test(tc, once_runs_fn_once_for_100_concurrent_callers);
    tcase_add_test(tc,
                   once_counts_a_panicking_fn_as_done_and_the_panic_goes_on);
    tcase_add_test(tc, once_unrecovered_panic_in_fn_ends_the_process);
    suite_add_tcase(s, tc);

    tc = tcase_create("cond");
    gh_test_tcase_setup(tc, 60);
    tcase_add_test(tc, cond_signal_wakes_one_waiter_at_a_time);
    tcase_add_test(tc, cond_broadcast_wakes_every_waiter);
    tcase_add_test(tc, cond_producers_and_consumers_with_a_predicate_loop);
    tcase_add_test(tc, cond_wait_with_unlocked_mutex_panics);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(sync_suite)
