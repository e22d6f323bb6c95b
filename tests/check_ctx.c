/*
 * check_ctx.c - contexts: cancel, deadlines, the tree, values, and waking
 * a select through the done channel.
 */
#include "check_gh.h"

#include <pthread.h>

#define T_MS GH_MILLISECOND

START_TEST(ctx_background_is_never_done)
{
    gh_ctx_t *bg = gh_ctx_background();

    ck_assert_ptr_null(gh_ctx_done(bg));
    ck_assert_int_eq(gh_ctx_err(bg), 0);
    ck_assert_int_eq(gh_ctx_deadline(bg), GH_FOREVER);
    ck_assert_ptr_null(gh_ctx_value(bg, "k"));
    gh_ctx_cancel(bg);
    gh_ctx_free(bg); /* ignored */
    ck_assert_int_eq(gh_ctx_err(bg), 0);
}
END_TEST

START_TEST(ctx_cancel_closes_done_and_sets_err)
{
    gh_ctx_t *c = gh_ctx_with_cancel(gh_ctx_background());

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(gh_ctx_done(c));
    ck_assert_int_eq(gh_ctx_err(c), 0);
    ck_assert_int_eq(gh_chan_try_recv(gh_ctx_done(c), NULL), GH_EAGAIN);
    gh_ctx_cancel(c);
    ck_assert_int_eq(gh_ctx_err(c), GH_ECANCELED);
    ck_assert_int_eq(gh_chan_try_recv(gh_ctx_done(c), NULL), GH_ECLOSED);
    gh_ctx_cancel(c); /* twice is fine, unlike closing a channel twice */
    gh_ctx_free(c);
}
END_TEST

START_TEST(ctx_cancelling_a_parent_cancels_the_whole_subtree)
{
    gh_ctx_t *root = gh_ctx_with_cancel(gh_ctx_background());
    gh_ctx_t *a = gh_ctx_with_cancel(root);
    gh_ctx_t *v = gh_ctx_with_value(a, "key", "val");
    gh_ctx_t *b = gh_ctx_with_cancel(v); /* below a value node */
    gh_ctx_t *sib = gh_ctx_with_cancel(root);

    gh_ctx_cancel(a);
    ck_assert_int_eq(gh_ctx_err(a), GH_ECANCELED);
    ck_assert_int_eq(gh_ctx_err(v), GH_ECANCELED);
    ck_assert_int_eq(gh_ctx_err(b), GH_ECANCELED);
    ck_assert_int_eq(gh_ctx_err(sib), 0);  /* siblings are untouched */
    ck_assert_int_eq(gh_ctx_err(root), 0); /* never upwards */
    ck_assert_ptr_eq(gh_ctx_done(v), gh_ctx_done(a));
    gh_ctx_cancel(root);
    ck_assert_int_eq(gh_ctx_err(sib), GH_ECANCELED);
    gh_ctx_free(b);
    gh_ctx_free(v);
    gh_ctx_free(a);
    gh_ctx_free(sib);
    gh_ctx_free(root);
}
END_TEST

/* A chain thousands deep: cancelling (and freeing) its root walks it on a
 * goroutine's default stack, where one frame per level overflowed. */
#define DEEP 20000
static gh_ctx_t *deep[DEEP + 1];
static _Atomic int deep_done;

static void deep_chain(void *arg)
{
    deep[0] = gh_ctx_with_cancel(gh_ctx_background());
    for (int i = 1; i <= DEEP; i++)
        deep[i] = i % 3 ? gh_ctx_with_cancel(deep[i - 1])
                        : gh_ctx_with_value(deep[i - 1], deep, NULL);
    gh_ctx_cancel(deep[0]);
    atomic_store(&deep_done, 1);
}

START_TEST(ctx_cancelling_a_very_deep_chain_costs_no_stack)
{
    ck_assert_int_gt(gh_go(deep_chain, NULL), 0);
    ck_assert(GH_TEST_WAIT_UNTIL(atomic_load(&deep_done), 10 * GH_SECOND));
    for (int i = 0; i <= DEEP; i++)
        ck_assert_int_eq(gh_ctx_err(deep[i]), GH_ECANCELED);
    /* Freed root first: the rest live on through their references. */
    for (int i = 0; i <= DEEP; i++)
        gh_ctx_free(deep[i]);
}
END_TEST

START_TEST(ctx_child_of_cancelled_parent_starts_cancelled)
{
    gh_ctx_t *p = gh_ctx_with_cancel(gh_ctx_background());
    gh_ctx_cancel(p);
    gh_ctx_t *c = gh_ctx_with_cancel(p);

    ck_assert_int_eq(gh_ctx_err(c), GH_ECANCELED);
    ck_assert_int_eq(gh_chan_try_recv(gh_ctx_done(c), NULL), GH_ECLOSED);
    gh_ctx_free(c);
    gh_ctx_free(p);
}
END_TEST

START_TEST(ctx_children_outlive_a_freed_parent)
{
    gh_ctx_t *p = gh_ctx_with_cancel(gh_ctx_background());
    gh_ctx_t *v = gh_ctx_with_value(p, "k", "v");
    gh_ctx_t *c = gh_ctx_with_cancel(v);

    gh_ctx_free(v);
    gh_ctx_free(p); /* cancels c; memory stays while c holds it */
    ck_assert_int_eq(gh_ctx_err(c), GH_ECANCELED);
    ck_assert_str_eq(gh_ctx_value(c, "k"), "v");
    gh_ctx_free(c); /* frees the chain (ASan checks for leaks) */
}
END_TEST

START_TEST(ctx_values_are_found_by_key_up_the_tree)
{
    static int k1, k2, k3;
    gh_ctx_t *a = gh_ctx_with_value(gh_ctx_background(), &k1, "one");
    gh_ctx_t *b = gh_ctx_with_cancel(a);
    gh_ctx_t *c = gh_ctx_with_value(b, &k2, "two");
    gh_ctx_t *d = gh_ctx_with_value(c, &k1, "shadow");

    ck_assert_str_eq(gh_ctx_value(c, &k1), "one");
    ck_assert_str_eq(gh_ctx_value(c, &k2), "two");
    ck_assert_str_eq(gh_ctx_value(d, &k1), "shadow");
    ck_assert_ptr_null(gh_ctx_value(c, &k3));
    ck_assert_ptr_null(gh_ctx_value(a, &k2));
    ck_assert_ptr_null(gh_ctx_done(a)); /* a value node over background */
    gh_ctx_cancel(a);                    /* has nothing to cancel */
    ck_assert_int_eq(gh_ctx_err(a), 0);
    gh_ctx_free(d);
    gh_ctx_free(c);
    gh_ctx_free(b);
    gh_ctx_free(a);
}
END_TEST

static void deadline_in(void *arg)
{
    int64_t t0 = gh_now();
    gh_ctx_t *c = gh_ctx_with_timeout(gh_ctx_background(), 30 * T_MS);

    ck_assert_int_ge(gh_ctx_deadline(c), t0 + 30 * T_MS);
    ck_assert_int_le(gh_ctx_deadline(c), gh_now() + 30 * T_MS);
    ck_assert_int_eq(gh_chan_recv(gh_ctx_done(c), NULL), GH_ECLOSED);
    ck_assert_int_ge(gh_now() - t0, 30 * T_MS);
    ck_assert_int_lt(gh_now() - t0, gh_test_slack(500 * T_MS));
    ck_assert_int_eq(gh_ctx_err(c), GH_EDEADLINE);
    gh_ctx_free(c);
}

struct counter {
    void (*fn)(void *);
    atomic_long n;
};

static void count_run(void *p)
{
    struct counter *c = p;
    c->fn(NULL);
    atomic_fetch_add(&c->n, 1);
}

START_TEST(ctx_deadline_cancels_with_deadline_exceeded)
{
    struct counter c = {deadline_in, 0};

    gh_go(count_run, &c);
    ck_assert(gh_test_wait_count(&c.n, 1, 5 * GH_SECOND));
    deadline_in(NULL); /* and from a plain thread */
}
END_TEST

START_TEST(ctx_deadline_propagates_to_children_and_earlier_parent_wins)
{
    gh_ctx_t *p = gh_ctx_with_timeout(gh_ctx_background(), 20 * T_MS);
    gh_ctx_t *late = gh_ctx_with_timeout(p, 10 * GH_SECOND);
    gh_ctx_t *kid = gh_ctx_with_cancel(p);

    ck_assert_int_eq(gh_ctx_deadline(late), gh_ctx_deadline(p));
    ck_assert_int_eq(gh_ctx_deadline(kid), gh_ctx_deadline(p));
    ck_assert_int_eq(gh_chan_recv(gh_ctx_done(late), NULL), GH_ECLOSED);
    ck_assert_int_eq(gh_ctx_err(late), GH_EDEADLINE);
    ck_assert_int_eq(gh_ctx_err(kid), GH_EDEADLINE);
    gh_ctx_free(kid);
    gh_ctx_free(late);
    gh_ctx_free(p);
}
END_TEST

START_TEST(ctx_past_deadline_is_cancelled_at_once)
{
    gh_ctx_t *c = gh_ctx_with_deadline(gh_ctx_background(), gh_now() - 1);

    ck_assert_int_eq(gh_ctx_err(c), GH_EDEADLINE);
    gh_ctx_free(c);
}
END_TEST

START_TEST(ctx_freed_before_its_deadline_never_fires)
{
    for (int i = 0; i < 200; i++) {
        gh_ctx_t *c = gh_ctx_with_timeout(gh_ctx_background(),
                                          (i % 3) * GH_MICROSECOND * 50);
        gh_ctx_free(c); /* the timer must not touch it afterwards */
    }
    gh_sleep(10 * T_MS);
}
END_TEST

/* A backend worker waits in a select on its job and the context: the
 * cancellation wakes it. */
struct job {
    gh_ctx_t *ctx;
    gh_chan_t *work;
    atomic_long result;
};

static void backend(void *p)
{
    struct job *j = p;
    int w;
    gh_case_t cs[] = {GH_RECV(j->work, &w), GH_RECV(gh_ctx_done(j->ctx), NULL)};
    int r = gh_select(cs, 2, GH_FOREVER);
    atomic_store(&j->result, r == 1 ? gh_ctx_err(j->ctx) : 1);
}

START_TEST(ctx_cancel_wakes_a_select_on_done)
{
    gh_ctx_t *parent = gh_ctx_with_cancel(gh_ctx_background());
    struct job j = {gh_ctx_with_timeout(parent, 10 * GH_SECOND),
                    gh_chan_new(sizeof(int), 0), 0};

    gh_go(backend, &j);
    gh_sleep(20 * T_MS);
    ck_assert_int_eq(atomic_load(&j.result), 0);
    gh_ctx_cancel(parent); /* the client went away */
    int64_t t0 = gh_now();
    while (atomic_load(&j.result) == 0 && gh_now() - t0 < gh_test_slack(GH_SECOND))
        gh_sleep(T_MS);
    ck_assert_int_eq(atomic_load(&j.result), GH_ECANCELED);
    gh_ctx_free(j.ctx);
    gh_ctx_free(parent);
    gh_chan_free(j.work);
}
END_TEST

/* Many goroutines create, cancel and free children of one parent while
 * the parent is cancelled: no leak, no crash, everyone sees the cancel. */
struct churn {
    gh_ctx_t *root;
    atomic_long done;
};

static void churner(void *p)
{
    struct churn *ch = p;
    for (int i = 0; i < 2000; i++) {
        gh_ctx_t *c = gh_ctx_with_cancel(ch->root);
        gh_ctx_t *d = gh_ctx_with_timeout(c, GH_MICROSECOND * (i % 7));
        if (i % 3 == 0)
            gh_ctx_cancel(c);
        gh_ctx_free(d);
        gh_ctx_free(c);
        if (i % 100 == 0)
            gh_yield();
    }
    atomic_fetch_add(&ch->done, 1);
}

START_TEST(ctx_concurrent_children_and_cancel_are_safe)
{
    struct churn ch = {gh_ctx_with_cancel(gh_ctx_background()), 0};

    for (int i = 0; i < 8; i++)
        gh_go(churner, &ch);
    gh_sleep(2 * T_MS);
    gh_ctx_cancel(ch.root);
    ck_assert(gh_test_wait_count(&ch.done, 8, 20 * GH_SECOND));
    gh_ctx_free(ch.root);
}
END_TEST

static Suite *ctx_suite(void)
{
    Suite *s = suite_create("ctx");
    TCase *tc = tcase_create("core");

    gh_test_tcase_setup(tc, 30);
    tcase_add_test(tc, ctx_background_is_never_done);
    tcase_add_test(tc, ctx_cancel_closes_done_and_sets_err);
    tcase_add_test(tc, ctx_cancelling_a_parent_cancels_the_whole_subtree);
    tcase_add_test(tc, ctx_cancelling_a_very_deep_chain_costs_no_stack);
    tcase_add_test(tc, ctx_child_of_cancelled_parent_starts_cancelled);
    tcase_add_test(tc, ctx_children_outlive_a_freed_parent);
    tcase_add_test(tc, ctx_values_are_found_by_key_up_the_tree);
    tcase_add_test(tc, ctx_deadline_cancels_with_deadline_exceeded);
    tcase_add_test(tc, ctx_deadline_propagates_to_children_and_earlier_parent_wins);
    tcase_add_test(tc, ctx_past_deadline_is_cancelled_at_once);
    tcase_add_test(tc, ctx_freed_before_its_deadline_never_fires);
    tcase_add_test(tc, ctx_cancel_wakes_a_select_on_done);
    tcase_add_test(tc, ctx_concurrent_children_and_cancel_are_safe);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(ctx_suite)
