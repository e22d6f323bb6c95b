/*
 * check_handler_status.c - the status plugin's parts that need no server:
 * the latency quantile estimate, JSON string escaping and the Prometheus
 * exposition of a made-up snapshot.  Its "allow" list is a gh_netlist
 * (tests/check_netlist.c); the daemon end to end, allow included, is
 * tests/integration/daemon-status.sh.
 */
#include "check_gh.h"

#include "accept.h"
#include "status.h"

/* ---- quantiles ------------------------------------------------------- */

START_TEST(quantile_interpolates_inside_the_bucket)
{
    uint64_t n[GH_LATENCY_BUCKETS] = {0};

    ck_assert(gh__status_quantile(n, 0.5) < 0); /* nothing counted */
    n[0] = 100; /* 0 .. 10 us */
    ck_assert_double_eq_tol(gh__status_quantile(n, 0.5), 5, 1e-9);
    ck_assert_double_eq_tol(gh__status_quantile(n, 1.0), 10, 1e-9);
    n[0] = 50;
    n[3] = 50; /* 50 .. 100 us */
    ck_assert_double_eq_tol(gh__status_quantile(n, 0.5), 10, 1e-9);
    ck_assert_double_eq_tol(gh__status_quantile(n, 0.9), 90, 1e-9);
    memset(n, 0, sizeof(n));
    n[GH_LATENCY_BUCKETS - 1] = 1; /* over 10 s: the last bound */
    ck_assert_double_eq_tol(gh__status_quantile(n, 0.99), 10e6, 1e-9);
}
END_TEST

/* ---- output ---------------------------------------------------------- */

START_TEST(json_str_escapes_and_repairs_utf8)
{
    gh__status_buf_t b = {0};

    gh__status_json_str(&b, "a\"b\\c\n\x01 caf\xc3\xa9 \xff\xc3 \xed\xa0\x80!");
    ck_assert(!b.oom);
    ck_assert_str_eq(b.p, "\"a\\\"b\\\\c\\u000a\\u0001 caf\xc3\xa9 "
                          "\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd!\"");
    free(b.p);
}
END_TEST

START_TEST(prometheus_histogram_is_cumulative_and_ends_in_inf)
{
    gh_rt_worker_stats_t w[2] = {{.id = 0, .runq = 3}, {.id = 1}};
    gh__status_snap_t s = {.workers = w, .nworkers = 2};
    gh__status_buf_t b = {0};

    s.srv.latency[0] = 2;
    s.srv.latency[5] = 3;
    s.srv.latency[GH_LATENCY_BUCKETS - 1] = 1;
    s.srv.latency_sum_ns = 12 * GH_SECOND;
    s.rt.goroutines = 5;
    s.rt.waiting = 4;
    gh__status_prometheus(&b, &s);
    ck_assert(!b.oom);
    ck_assert_ptr_nonnull(strstr(
        b.p, "# TYPE gohttpd_request_duration_seconds histogram\n"
             "gohttpd_request_duration_seconds_bucket{le=\"1e-05\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(
        b.p, "gohttpd_request_duration_seconds_bucket{le=\"0.0005\"} 5\n"));
    ck_assert_ptr_nonnull(strstr(
        b.p, "gohttpd_request_duration_seconds_bucket{le=\"10\"} 5\n"
             "gohttpd_request_duration_seconds_bucket{le=\"+Inf\"} 6\n"
             "gohttpd_request_duration_seconds_sum 12.000000000\n"
             "gohttpd_request_duration_seconds_count 6\n"));
    ck_assert_ptr_nonnull(strstr(b.p, "gohttpd_goroutines{state=\"running\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(b.p, "gohttpd_worker_run_queue{worker=\"0\"} 3\n"
                    "gohttpd_worker_run_queue{worker=\"1\"} 0\n"));
    ck_assert_int_eq(b.p[b.len - 1], '\n');
    free(b.p);
}
END_TEST

/* The weights an Accept header gives: the most specific range wins, and
 * q=0 refuses (the status and kv plugins choose JSON or not by them). */
START_TEST(accept_weighs_the_most_specific_range)
{
    bool named;

    ck_assert_int_eq(gh__accept_q("application/json", "application/json",
                                  &named), 1000);
    ck_assert(named);
    ck_assert_int_eq(gh__accept_q("text/plain, application/json;q=0",
                                  "application/json", &named), 0);
    ck_assert(named);
    ck_assert_int_eq(gh__accept_q("text/plain, application/json;q=0",
                                  "text/plain", NULL), 1000);
    /* Not a prefix match. */
    ck_assert_int_eq(gh__accept_q("application/jsonp", "application/json",
                                  &named), 0);
    ck_assert(!named);
    ck_assert_int_eq(gh__accept_q("application/json-seq;q=1",
                                  "application/json", NULL), 0);
    /* Wildcards cover it, less specifically. */
    ck_assert_int_eq(gh__accept_q("*/*;q=0.8", "application/json", &named),
                     800);
    ck_assert(!named);
    ck_assert_int_eq(gh__accept_q("*/*;q=0.8, application/*;q=0.3",
                                  "application/json", NULL), 300);
    ck_assert_int_eq(gh__accept_q("application/json;q=0.1, */*",
                                  "application/json", &named), 100);
    ck_assert(named);
    ck_assert_int_eq(gh__accept_q("*/json", "application/json", NULL), 0);
    /* A browser's Accept. */
    const char *browser = "text/html,application/xhtml+xml,application/xml;"
                          "q=0.9,*/*;q=0.8";
    ck_assert_int_eq(gh__accept_q(browser, "text/html", NULL), 1000);
    ck_assert_int_eq(gh__accept_q(browser, "application/json", &named), 800);
    ck_assert(!named);
    /* Case, spaces, other parameters, odd weights. */
    ck_assert_int_eq(gh__accept_q(" Application/JSON ; charset=utf-8 ; q=0.5",
                                  "application/json", NULL), 500);
    ck_assert_int_eq(gh__accept_q("application/json;q=x", "application/json",
                                  NULL), 0);
    ck_assert_int_eq(gh__accept_q("application/json;q=1.5",
                                  "application/json", NULL), 1000);
    ck_assert_int_eq(gh__accept_q("", "application/json", &named), 0);
    ck_assert(!named);
    ck_assert_int_eq(gh__accept_q(",,,", "application/json", NULL), 0);
    ck_assert_int_eq(gh__accept_q("application", "application/json", NULL),
                     0);
}
END_TEST

static Suite *handler_status_suite(void)
{
    Suite *s = suite_create("handler_status");
    TCase *tc = tcase_create("parts");

    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, quantile_interpolates_inside_the_bucket);
    tcase_add_test(tc, json_str_escapes_and_repairs_utf8);
    tcase_add_test(tc, prometheus_histogram_is_cumulative_and_ends_in_inf);
    tcase_add_test(tc, accept_weighs_the_most_specific_range);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(handler_status_suite)
