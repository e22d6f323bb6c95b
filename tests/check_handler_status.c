/*
 * check_handler_status.c - the status plugin's parts that need no server:
 * "allow" networks (parsing, masking, matching IPv4, IPv6, IPv4-mapped
 * and Unix-domain peers, and the errors for bad ones), the latency
 * quantile estimate, JSON string escaping and the Prometheus exposition
 * of a made-up snapshot.  The daemon end to end is
 * tests/integration/daemon-status.sh.
 */
#include "check_gh.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include "status.h"

/* ---- allow ----------------------------------------------------------- */

static gh__status_net_t net(const char *text)
{
    gh__status_net_t n;
    char err[160] = "";

    ck_assert_msg(gh__status_net_parse(text, &n, err, sizeof(err)) == 0,
                  "%s: %s", text, err);
    return n;
}

START_TEST(net_parse_reads_cidrs_and_clears_host_bits)
{
    gh__status_net_t n = net("10.1.2.3/8");
    char buf[INET6_ADDRSTRLEN];

    ck_assert_int_eq(n.family, AF_INET);
    ck_assert_int_eq(n.bits, 8);
    ck_assert_str_eq(inet_ntop(AF_INET, n.addr, buf, sizeof(buf)),
                     "10.0.0.0");
    n = net("192.168.77.200/20");
    ck_assert_str_eq(inet_ntop(AF_INET, n.addr, buf, sizeof(buf)),
                     "192.168.64.0");
    n = net("127.0.0.1");
    ck_assert_int_eq(n.bits, 32);
    n = net("::1");
    ck_assert_int_eq(n.family, AF_INET6);
    ck_assert_int_eq(n.bits, 128);
    n = net("fd12:3456::7/12");
    ck_assert_str_eq(inet_ntop(AF_INET6, n.addr, buf, sizeof(buf)),
                     "fd10::");
    ck_assert_int_eq(net("0.0.0.0/0").bits, 0);
}
END_TEST

static const struct {
    const char *text, *why;
} bad_nets[] = {
    {"10.0.0.0/33", "the prefix length must be 0 to 32"},
    {"::/129", "the prefix length must be 0 to 128"},
    {"10.0.0.0/", "the prefix length must be"},
    {"10.0.0.0/-1", "the prefix length must be"},
    {"10.0.0.0/8x", "the prefix length must be"},
    {"localhost", "is not an IP address or network"},
    {"10.0.0", "is not an IP address or network"},
    {"", "is not an IP address or network"},
    {"/8", "is not an IP address or network"},
};

START_TEST(net_parse_refuses_bad_networks_saying_why)
{
    gh__status_net_t n;
    char err[160] = "";

    ck_assert_int_eq(gh__status_net_parse(bad_nets[_i].text, &n, err,
                                          sizeof(err)),
                     GH_EINVAL);
    ck_assert_msg(strstr(err, bad_nets[_i].why), "%s: \"%s\"",
                  bad_nets[_i].text, err);
}
END_TEST

static bool allowed4(const gh__status_net_t *nets, int n, const char *ip)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};

    ck_assert_int_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    return gh__status_allowed(nets, n, (struct sockaddr *)&sin, sizeof(sin));
}

static bool allowed6(const gh__status_net_t *nets, int n, const char *ip)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};

    ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
    return gh__status_allowed(nets, n, (struct sockaddr *)&sin6,
                              sizeof(sin6));
}

START_TEST(allowed_matches_prefixes_of_the_peer_family)
{
    gh__status_net_t nets[] = {net("127.0.0.0/8"), net("::1"),
                               net("172.16.0.0/12"), net("fd00::/8")};
    struct sockaddr_un un = {.sun_family = AF_UNIX};

    ck_assert(allowed4(nets, 4, "127.0.0.1"));
    ck_assert(allowed4(nets, 4, "127.255.1.2"));
    ck_assert(!allowed4(nets, 4, "128.0.0.1"));
    ck_assert(allowed4(nets, 4, "172.31.255.255")); /* /12 edges */
    ck_assert(!allowed4(nets, 4, "172.32.0.0"));
    ck_assert(!allowed4(nets, 4, "172.15.255.255"));
    ck_assert(allowed6(nets, 4, "::1"));
    ck_assert(!allowed6(nets, 4, "::2"));
    ck_assert(allowed6(nets, 4, "fdab::1"));
    ck_assert(!allowed6(nets, 4, "fe80::1"));
    /* A dual-stack listener's IPv4 client, by its IPv4 address. */
    ck_assert(allowed6(nets, 4, "::ffff:127.0.0.1"));
    ck_assert(!allowed6(nets, 4, "::ffff:10.0.0.1"));
    /* Unix-domain peers always; nothing at all for an empty list. */
    ck_assert(gh__status_allowed(nets, 0, (struct sockaddr *)&un,
                                 sizeof(sa_family_t)));
    ck_assert(!allowed4(nets, 0, "127.0.0.1"));
    ck_assert(allowed4((gh__status_net_t[]){net("0.0.0.0/0")}, 1,
                       "203.0.113.9"));
}
END_TEST

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

static Suite *handler_status_suite(void)
{
    Suite *s = suite_create("handler_status");
    TCase *tc = tcase_create("parts");

    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, net_parse_reads_cidrs_and_clears_host_bits);
    tcase_add_loop_test(tc, net_parse_refuses_bad_networks_saying_why, 0,
                        (int)(sizeof(bad_nets) / sizeof(bad_nets[0])));
    tcase_add_test(tc, allowed_matches_prefixes_of_the_peer_family);
    tcase_add_test(tc, quantile_interpolates_inside_the_bucket);
    tcase_add_test(tc, json_str_escapes_and_repairs_utf8);
    tcase_add_test(tc, prometheus_histogram_is_cumulative_and_ends_in_inf);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(handler_status_suite)
