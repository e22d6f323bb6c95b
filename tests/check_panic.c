/*
 * check_panic.c - defer, panic and recover: deferred calls run last in,
 * first out when a frame ends; a panic runs them and a deferred gh_recover()
 * stops it (gh_call returns GH_EPANIC, a goroutine ends quietly); recover
 * refuses outside the panic's own deferred calls; nested panics, panics
 * crossing gh_call frames, deferred calls that park, goroutines that moved
 * to another worker; and the report and exit status 2 of a panic nobody
 * recovers.
 *
 * Deferred calls record events in a log; only the test's main thread
 * asserts, once the goroutines it waits for have counted themselves done.
 */
#include "check_gh.h"

#include <stdarg.h>
#include <sys/syscall.h>

#include "internal.h" /* gh__park and gh__ready, to move a goroutine */

static atomic_long done;

static long tid(void)
{
    return (long)syscall(SYS_gettid);
}

/* ------------------------------------------------------------------ */
/* The event log and deferred calls that write it                      */
/* ------------------------------------------------------------------ */

#define LOG_MAX 4096
static atomic_int log_len;
static int log_ev[LOG_MAX];

static void log_add(int ev)
{
    int i = atomic_fetch_add(&log_len, 1);

    if (i < LOG_MAX)
        log_ev[i] = ev;
}

/* Assert that the log holds exactly the n events given. */
static void log_expect(int n, ...)
{
    va_list ap;

    ck_assert_int_eq(atomic_load(&log_len), n);
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        int want = va_arg(ap, int);
        ck_assert_msg(log_ev[i] == want, "log[%d] = %d, want %d", i, log_ev[i],
                      want);
    }
    va_end(ap);
}

static void record(void *arg)
{
    log_add((int)(intptr_t)arg);
}

static void bump_done(void *arg)
{
    atomic_fetch_add(&done, 1);
}

/* What a deferred gh_recover() returned, copied before the message dies. */
struct recovered {
    int calls; /* how often the deferred call ran */
    int got;   /* gh_recover() returned a message */
    char msg[1100];
};

static void recover_into(void *arg)
{
    struct recovered *r = arg;
    const char *m = gh_recover();

    r->calls++;
    if (m) {
        r->got = 1;
        snprintf(r->msg, sizeof(r->msg), "%s", m);
    }
}

static void panic_with(void *arg)
{
    gh_panic("%s", (const char *)arg);
}

/* Logs 100 + gh_panicking(). */
static void log_panicking(void *arg)
{
    log_add(100 + gh_panicking());
}

/* ------------------------------------------------------------------ */
/* Defer                                                               */
/* ------------------------------------------------------------------ */

static void defers_three_then_logs(void *arg)
{
    gh_defer(bump_done, NULL);
    gh_defer(record, (void *)1);
    gh_defer(record, (void *)2);
    gh_defer(record, (void *)3);
    log_add(0);
}

START_TEST(defer_root_calls_run_lifo_when_the_goroutine_returns)
{
    ck_assert_int_gt(gh_go(defers_three_then_logs, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    log_expect(4, 0, 3, 2, 1);
}
END_TEST

static void three_defers(void *arg)
{
    ck_assert_int_eq(gh_defer(record, (void *)1), 0);
    ck_assert_int_eq(gh_defer(record, (void *)2), 0);
    ck_assert_int_eq(gh_defer(record, (void *)3), 0);
    log_add(0);
}

START_TEST(defer_in_call_runs_when_the_call_returns)
{
    ck_assert_int_eq(gh_call(three_defers, NULL), 0);
    log_add(4);
    log_expect(5, 0, 3, 2, 1, 4);
}
END_TEST

#define MANY 1000

static void many_defers(void *arg)
{
    for (intptr_t i = 0; i < MANY; i++)
        if (gh_defer(record, (void *)i) != 0)
            log_add(-1);
}

static void many_root_defers_and_a_call(void *arg)
{
    gh_defer(bump_done, NULL);
    for (intptr_t i = 0; i < MANY; i++)
        gh_defer(record, (void *)(MANY + i));
    gh_call(many_defers, NULL);
}

START_TEST(defer_thousand_calls_in_one_frame_all_run_lifo)
{
    ck_assert_int_eq(gh_call(many_defers, NULL), 0);
    ck_assert_int_eq(atomic_load(&log_len), MANY);
    for (int i = 0; i < MANY; i++)
        ck_assert_int_eq(log_ev[i], MANY - 1 - i);

    atomic_store(&log_len, 0);
    ck_assert_int_gt(gh_go(many_root_defers_and_a_call, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    /* The gh_call frame's calls when it returns, then the root's. */
    ck_assert_int_eq(atomic_load(&log_len), 2 * MANY);
    for (int i = 0; i < MANY; i++) {
        ck_assert_int_eq(log_ev[i], MANY - 1 - i);
        ck_assert_int_eq(log_ev[MANY + i], 2 * MANY - 1 - i);
    }
}
END_TEST

static void defers_more(void *arg)
{
    log_add(2);
    gh_defer(record, (void *)3);
}

static void defers_a_deferring_call(void *arg)
{
    gh_defer(record, (void *)1);
    gh_defer(defers_more, NULL);
}

START_TEST(defer_made_by_a_deferred_call_runs_next)
{
    ck_assert_int_eq(gh_call(defers_a_deferring_call, NULL), 0);
    log_expect(3, 2, 3, 1);
}
END_TEST

static void defer_null(void *arg)
{
    *(int *)arg = gh_defer(NULL, NULL);
}

START_TEST(defer_outside_any_frame_on_a_plain_thread_is_eperm)
{
    int rc = 0;

    ck_assert_int_eq(gh_defer(record, (void *)1), GH_EPERM);
    ck_assert_int_eq(gh_call(defer_null, &rc), 0);
    ck_assert_int_eq(rc, GH_EINVAL);
    ck_assert_int_eq(gh_call(NULL, NULL), GH_EINVAL);
    log_expect(0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Panic and recover in gh_call frames                                 */
/* ------------------------------------------------------------------ */

static struct recovered rec, rec2;

static void panics_bad_job(void *arg)
{
    gh_defer(log_panicking, NULL); /* runs after the recover: 100 */
    gh_defer(record, (void *)1);
    gh_defer(recover_into, &rec);
    gh_defer(log_panicking, NULL); /* runs before it: 101 */
    gh_defer(record, (void *)2);
    log_add(0);
    gh_panic("bad job %d: %s", 7, "no input");
    log_add(99); /* never */
}

START_TEST(panic_runs_defers_and_recover_makes_call_return_epanic)
{
    ck_assert_int_eq(gh_call(panics_bad_job, NULL), GH_EPANIC);
    ck_assert_int_eq(rec.calls, 1);
    ck_assert_int_eq(rec.got, 1);
    ck_assert_str_eq(rec.msg, "bad job 7: no input");
    log_expect(5, 0, 2, 101, 1, 100);
    ck_assert_int_eq(gh_panicking(), 0);
}
END_TEST

static void panics_long(void *arg)
{
    char big[3000];

    gh_defer(recover_into, &rec);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    gh_panic("%s", big);
}

START_TEST(panic_keeps_1023_bytes_of_a_long_message)
{
    ck_assert_int_eq(gh_call(panics_long, NULL), GH_EPANIC);
    ck_assert_int_eq(rec.got, 1);
    ck_assert_uint_eq(strlen(rec.msg), 1023);
    ck_assert_int_eq(rec.msg[0], 'x');
}
END_TEST

/* Every way of asking outside a panic: directly, in a frame, in a call
 * deferred by a frame that returns normally. */
static void recover_must_be_null(void *arg)
{
    if (gh_recover() != NULL || gh_panicking())
        log_add(-1);
    else
        log_add(1);
}

static void asks_and_defers_asking(void *arg)
{
    gh_defer(recover_must_be_null, NULL);
    recover_must_be_null(NULL);
}

static void asks_in_goroutine(void *arg)
{
    gh_defer(bump_done, NULL);
    gh_defer(recover_must_be_null, NULL);
    if (gh_call(asks_and_defers_asking, NULL) != 0)
        log_add(-3);
    recover_must_be_null(NULL);
}

START_TEST(recover_returns_null_when_not_panicking)
{
    ck_assert_ptr_null(gh_recover());
    ck_assert_int_eq(gh_panicking(), 0);
    ck_assert_int_eq(gh_call(asks_and_defers_asking, NULL), 0);
    log_expect(2, 1, 1);

    atomic_store(&log_len, 0);
    ck_assert_int_gt(gh_go(asks_in_goroutine, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    log_expect(4, 1, 1, 1, 1);
}
END_TEST

/* A frame pushed by a deferred call of a panic is not that call: neither
 * its body nor its own deferred calls may recover the outer panic. */
static void recover_null_while_panicking(void *arg)
{
    log_add(gh_recover() == NULL && gh_panicking() ? 1 : -1);
}

static void nested_frame_asks(void *arg)
{
    gh_defer(recover_null_while_panicking, NULL);
    if (gh_recover() != NULL)
        log_add(-2);
    else
        log_add(2);
}

static void defer_with_inner_frame(void *arg)
{
    log_add(100 + gh_panicking());
    if (gh_call(nested_frame_asks, NULL) != 0)
        log_add(-3);
    recover_into(&rec);
    recover_into(&rec2); /* a second recover finds nothing */
    log_add(100 + gh_panicking());
}

static void panics_outer(void *arg)
{
    gh_defer(defer_with_inner_frame, NULL);
    gh_panic("outer");
}

START_TEST(recover_returns_null_outside_the_deferred_call_and_the_second_time)
{
    ck_assert_int_eq(gh_call(panics_outer, NULL), GH_EPANIC);
    log_expect(4, 101, 2, 1, 100);
    ck_assert_int_eq(rec.got, 1);
    ck_assert_str_eq(rec.msg, "outer");
    ck_assert_int_eq(rec2.calls, 1);
    ck_assert_int_eq(rec2.got, 0);
}
END_TEST

static void panics_twice(void *arg)
{
    gh_defer(recover_into, &rec);
    gh_defer(record, (void *)1);
    gh_defer(panic_with, "second");
    gh_defer(record, (void *)2);
    gh_panic("first");
}

START_TEST(panic_in_a_deferred_call_is_recovered_as_the_newest_panic)
{
    ck_assert_int_eq(gh_call(panics_twice, NULL), GH_EPANIC);
    ck_assert_int_eq(rec.got, 1);
    ck_assert_str_eq(rec.msg, "second");
    log_expect(2, 2, 1);
    ck_assert_int_eq(gh_panicking(), 0);
}
END_TEST

static void inner_panics(void *arg)
{
    gh_defer(record, (void *)1);
    gh_defer(record, (void *)2);
    gh_panic("deep %s", "trouble");
}

static void outer_calls_inner(void *arg)
{
    gh_defer(recover_into, &rec);
    gh_defer(record, (void *)3);
    gh_call(inner_panics, NULL);
    log_add(99); /* never: the inner frame did not recover */
}

START_TEST(panic_not_recovered_in_inner_call_is_recovered_by_outer_call)
{
    ck_assert_int_eq(gh_call(outer_calls_inner, NULL), GH_EPANIC);
    ck_assert_str_eq(rec.msg, "deep trouble");
    log_expect(3, 2, 1, 3);
}
END_TEST

static void panics_q(void *arg)
{
    gh_defer(recover_into, &rec2);
    gh_panic("Q");
}

static void defer_recovers_own_then_outer(void *arg)
{
    log_add(gh_call(panics_q, NULL) == GH_EPANIC ? 3 : -3);
    log_add(100 + gh_panicking()); /* P still unwinds */
    recover_into(&rec);
}

static void panics_p(void *arg)
{
    gh_defer(record, (void *)1);
    gh_defer(defer_recovers_own_then_outer, NULL);
    gh_panic("P");
}

START_TEST(recover_in_a_call_inside_a_deferred_call_sees_only_its_own_panic)
{
    ck_assert_int_eq(gh_call(panics_p, NULL), GH_EPANIC);
    ck_assert_str_eq(rec2.msg, "Q");
    ck_assert_str_eq(rec.msg, "P");
    log_expect(3, 3, 101, 1);
}
END_TEST

static void recovers_then_panics(void *arg)
{
    recover_into(&rec2);
    gh_panic("after recovering");
}

static void inner_recovers_then_panics(void *arg)
{
    gh_defer(record, (void *)1);
    gh_defer(recovers_then_panics, NULL);
    gh_panic("first");
}

static void outer_of_repanic(void *arg)
{
    gh_defer(recover_into, &rec);
    gh_call(inner_recovers_then_panics, NULL);
}

START_TEST(panic_after_recover_in_the_same_deferred_call_unwinds_on)
{
    ck_assert_int_eq(gh_call(outer_of_repanic, NULL), GH_EPANIC);
    ck_assert_str_eq(rec2.msg, "first");
    ck_assert_str_eq(rec.msg, "after recovering");
    log_expect(1, 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Goroutines                                                          */
/* ------------------------------------------------------------------ */

static void sleeps_and_records(void *arg)
{
    gh_sleep(GH_MILLISECOND);
    gh_yield();
    log_add((int)(intptr_t)arg);
}

static void root_recovers(void *arg)
{
    gh_defer(bump_done, NULL);
    gh_defer(log_panicking, NULL); /* after the recover: 100 */
    gh_defer(sleeps_and_records, (void *)2);
    gh_defer(recover_into, &rec);
    gh_defer(record, (void *)1);
    gh_panic("root %d", 5);
    log_add(99); /* never */
}

static void still_runs(void *arg)
{
    log_add(3);
    atomic_fetch_add(&done, 1);
}

START_TEST(panic_recovered_at_goroutine_root_ends_it_quietly)
{
    ck_assert_int_gt(gh_go(root_recovers, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_str_eq(rec.msg, "root 5");
    log_expect(3, 1, 2, 100);
    ck_assert_int_gt(gh_go(still_runs, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 2, 5 * GH_SECOND);
    log_expect(4, 1, 2, 100, 3);
}
END_TEST

static void panics_at_normal_exit(void *arg)
{
    gh_defer(bump_done, NULL);
    gh_defer(recover_into, &rec);
    gh_defer(record, (void *)1);
    gh_defer(panic_with, "late");
}

START_TEST(panic_in_a_root_deferred_call_is_recovered_by_an_older_one)
{
    ck_assert_int_gt(gh_go(panics_at_normal_exit, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_str_eq(rec.msg, "late");
    log_expect(1, 1);
}
END_TEST

static void panics_under_parking_defers(void *arg)
{
    gh_defer(recover_into, arg);
    gh_defer(sleeps_and_records, (void *)1);
    gh_defer(sleeps_and_records, (void *)2);
    gh_panic("parked");
}

static void goroutine_calls_parking(void *arg)
{
    log_add(gh_call(panics_under_parking_defers, &rec2) == GH_EPANIC ? 3 : -3);
    atomic_fetch_add(&done, 1);
}

START_TEST(deferred_calls_that_park_during_a_panic_work)
{
    /* On a plain thread (parking blocks it)... */
    ck_assert_int_eq(gh_call(panics_under_parking_defers, &rec), GH_EPANIC);
    ck_assert_str_eq(rec.msg, "parked");
    log_expect(2, 2, 1);
    /* ... and in a goroutine (parking switches). */
    atomic_store(&log_len, 0);
    ck_assert_int_gt(gh_go(goroutine_calls_parking, NULL), 0);
    GH_TEST_WAIT_COUNT(&done, 1, 5 * GH_SECOND);
    ck_assert_str_eq(rec2.msg, "parked");
    log_expect(3, 2, 1, 3);
}
END_TEST

/*
 * Moving a goroutine to another worker on purpose: it parks (gh__park, the
 * internal primitive every wait is built on), and a waker goroutine that
 * finds itself on another thread readies it, which queues it on the
 * waker's worker.  The test's main thread keeps starting wakers until the
 * goroutine reports that it runs elsewhere.
 */
static gh__lock_t hop_lock = GH__LOCK_INIT;
static gh__g_t *hop_parked;  /* under hop_lock */
static atomic_long hop_from; /* the thread it parked on */
static atomic_int hopped;

static void hop(void)
{
    gh__lock(&hop_lock);
    hop_parked = gh__cur_g();
    atomic_store(&hop_from, tid());
    gh__park(GH__W_SYNC, gh__lock_unlock_cb, &hop_lock);
}

static void hop_waker(void *arg)
{
    gh__g_t *g = NULL;

    gh__lock(&hop_lock);
    if (hop_parked && tid() != atomic_load(&hop_from)) {
        g = hop_parked;
        hop_parked = NULL;
    }
    gh__unlock(&hop_lock);
    if (g)
        gh__ready(g, 0);
}

static long tid_defer_set, tid_panic, tid_unwind, tid_after;

static void record_tid(void *arg)
{
    *(long *)arg = tid();
}

static void hop_then_panic(void *arg)
{
    gh_defer(record_tid, &tid_unwind);
    tid_defer_set = tid();
    for (int i = 0; i < 1000 && tid() == tid_defer_set; i++)
        hop(); /* another worker may steal it back: try again */
    tid_panic = tid();
    atomic_store(&hopped, 1);
    gh_panic("moved");
}

static void outer_of_hop(void *arg)
{
    gh_defer(recover_into, &rec);
    gh_call(hop_then_panic, NULL);
}

static int migrating_rc;

static void migrating(void *arg)
{
    migrating_rc = gh_call(outer_of_hop, NULL);
    tid_after = tid();
    atomic_fetch_add(&done, 1);
}

START_TEST(panic_unwinds_a_goroutine_that_moved_to_another_worker)
{
    int64_t deadline = gh_now() + gh_test_slack(10 * GH_SECOND);

    ck_assert_int_gt(gh_go(migrating, NULL), 0);
    while (!atomic_load(&hopped) && gh_now() < deadline) {
        ck_assert_int_gt(gh_go(hop_waker, NULL), 0);
        gh_sleep(GH_MILLISECOND);
    }
    GH_TEST_WAIT_COUNT(&done, 1, 10 * GH_SECOND);
    ck_assert_msg(tid_panic != tid_defer_set,
                  "the goroutine never left thread %ld", tid_defer_set);
    ck_assert_int_eq(migrating_rc, GH_EPANIC);
    ck_assert_str_eq(rec.msg, "moved");
    ck_assert_int_eq(tid_unwind, tid_panic);
    ck_assert_int_ne(tid_after, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Panics nobody recovers                                              */
/* ------------------------------------------------------------------ */

static void say(void *arg)
{
    fputs(arg, stderr);
}

static void expect_in(const struct gh_test_child *c, const char *what)
{
    ck_assert_msg(strstr(c->err, what) != NULL, "stderr lacks \"%s\":\n%s",
                  what, c->err);
}

/* Run fn in a child process, which must start its own runtime: skipped
 * under CK_FORK=no, where this process's runtime may already run. */
static bool run_doomed_child(void (*fn)(void *), struct gh_test_child *c)
{
    if (!gh_test_forking())
        return false;
    gh_test_run_child(fn, NULL, 10 * GH_SECOND, c);
    return true;
}

static void expect_exit_2(const struct gh_test_child *c)
{
    char fate[64];

    ck_assert_msg(c->exited && c->exit_code == 2,
                  "child: %s, want exit status 2; stderr:\n%s",
                  gh_test_child_str(c, fate, sizeof(fate)), c->err);
}

static void doomed_main(void *arg)
{
    gh_defer(say, "doomed: deferred call ran\n");
    gh_sleep(GH_MILLISECOND);
    gh_panic("job %d failed", 42);
}

static int64_t doomed_id;

/* Not inlined, so that "created by" has this name to show.  It is static
 * and the test program exports nothing: the name comes from the program's
 * .symtab, which the report reads when dladdr() finds no symbol. */
__attribute__((noinline)) static void spawn_doomed(void)
{
    gh_go_opts_t o = {.name = "doomed-worker"};

    doomed_id = gh_go_with(doomed_main, NULL, &o);
    if (doomed_id <= 0)
        fprintf(stderr, "gh_go_with: %lld\n", (long long)doomed_id);
}

static void child_goroutine_panics(void *arg)
{
    spawn_doomed();
    gh_sleep(30 * GH_SECOND);
}

START_TEST(panic_unrecovered_in_goroutine_exits_2_with_the_report)
{
    struct gh_test_child c;
    const char *ran, *pan;

    if (!run_doomed_child(child_goroutine_panics, &c))
        return;
    expect_exit_2(&c);
    expect_in(&c, "panic: job 42 failed\n");
    expect_in(&c, "\ngoroutine ");
    expect_in(&c, " [doomed-worker]:\n");
    expect_in(&c, "created by spawn_doomed");
    expect_in(&c, "doomed_main"); /* the backtrace shows the goroutine */
    ran = strstr(c.err, "deferred call ran");
    pan = strstr(c.err, "panic: ");
    ck_assert_msg(ran && pan && ran < pan,
                  "deferred calls must run before the report:\n%s", c.err);
}
END_TEST

static void child_main_panics(void *arg)
{
    gh_panic("main says %s", "no");
}

START_TEST(panic_unrecovered_on_main_thread_exits_2)
{
    struct gh_test_child c;

    if (!run_doomed_child(child_main_panics, &c))
        return;
    expect_exit_2(&c);
    expect_in(&c, "panic: main says no\n");
    expect_in(&c, "\nthread ");
    expect_in(&c, "child_main_panics");
}
END_TEST

static void call_panics_unrecovered(void *arg)
{
    gh_defer(say, "inner frame: deferred call ran\n");
    gh_panic("nobody catches this");
}

static void child_call_panics(void *arg)
{
    gh_call(call_panics_unrecovered, NULL);
    fputs("gh_call returned\n", stderr); /* never */
}

START_TEST(panic_unrecovered_in_a_call_runs_its_defers_then_exits_2)
{
    struct gh_test_child c;

    if (!run_doomed_child(child_call_panics, &c))
        return;
    expect_exit_2(&c);
    expect_in(&c, "inner frame: deferred call ran\npanic: nobody catches "
                  "this\n");
    ck_assert_ptr_null(strstr(c.err, "gh_call returned"));
}
END_TEST

static void nested_unrecovered(void *arg)
{
    gh_defer(panic_with, "second");
    gh_panic("first");
}

static void child_nested_panics(void *arg)
{
    gh_go(nested_unrecovered, NULL);
    gh_sleep(30 * GH_SECOND);
}

START_TEST(panic_nested_unrecovered_prints_every_panic_oldest_first)
{
    struct gh_test_child c;

    if (!run_doomed_child(child_nested_panics, &c))
        return;
    expect_exit_2(&c);
    expect_in(&c, "panic: first\n\tpanic: second\n");
    expect_in(&c, " [running]:\n");
}
END_TEST

/* Each test starts from a clean slate, also under CK_FORK=no. */
static void reset_state(void)
{
    atomic_store(&done, 0);
    atomic_store(&log_len, 0);
    memset(&rec, 0, sizeof(rec));
    memset(&rec2, 0, sizeof(rec2));
    atomic_store(&hopped, 0);
    tid_defer_set = tid_panic = tid_unwind = tid_after = 0;
}

static void tcase_setup(TCase *tc, double timeout_s)
{
    gh_test_tcase_setup(tc, timeout_s);
    tcase_add_checked_fixture(tc, reset_state, NULL);
}

static Suite *panic_suite(void)
{
    Suite *s = suite_create("panic");
    TCase *tc;

    tc = tcase_create("defer");
    tcase_setup(tc, 10);
    tcase_add_test(tc, defer_root_calls_run_lifo_when_the_goroutine_returns);
    tcase_add_test(tc, defer_in_call_runs_when_the_call_returns);
    tcase_add_test(tc, defer_thousand_calls_in_one_frame_all_run_lifo);
    tcase_add_test(tc, defer_made_by_a_deferred_call_runs_next);
    tcase_add_test(tc, defer_outside_any_frame_on_a_plain_thread_is_eperm);
    suite_add_tcase(s, tc);

    tc = tcase_create("recover");
    tcase_setup(tc, 10);
    tcase_add_test(tc, panic_runs_defers_and_recover_makes_call_return_epanic);
    tcase_add_test(tc, panic_keeps_1023_bytes_of_a_long_message);
    tcase_add_test(tc, recover_returns_null_when_not_panicking);
    tcase_add_test(
        tc, recover_returns_null_outside_the_deferred_call_and_the_second_time);
    tcase_add_test(tc,
                   panic_in_a_deferred_call_is_recovered_as_the_newest_panic);
    tcase_add_test(
        tc, panic_not_recovered_in_inner_call_is_recovered_by_outer_call);
    tcase_add_test(
        tc, recover_in_a_call_inside_a_deferred_call_sees_only_its_own_panic);
    tcase_add_test(tc,
                   panic_after_recover_in_the_same_deferred_call_unwinds_on);
    suite_add_tcase(s, tc);

    tc = tcase_create("goroutine");
    tcase_setup(tc, 20);
    tcase_add_test(tc, panic_recovered_at_goroutine_root_ends_it_quietly);
    tcase_add_test(tc,
                   panic_in_a_root_deferred_call_is_recovered_by_an_older_one);
    tcase_add_test(tc, deferred_calls_that_park_during_a_panic_work);
    tcase_add_test(tc, panic_unwinds_a_goroutine_that_moved_to_another_worker);
    suite_add_tcase(s, tc);

    tc = tcase_create("fatal");
    tcase_setup(tc, 30);
    tcase_add_test(tc, panic_unrecovered_in_goroutine_exits_2_with_the_report);
    tcase_add_test(tc, panic_unrecovered_on_main_thread_exits_2);
    tcase_add_test(tc,
                   panic_unrecovered_in_a_call_runs_its_defers_then_exits_2);
    tcase_add_test(tc,
                   panic_nested_unrecovered_prints_every_panic_oldest_first);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(panic_suite)
