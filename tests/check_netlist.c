/*
 * check_netlist.c - network lists (gh_netlist_*): IPv4, IPv6 and
 * IPv4-mapped networks and peers, /0, /32, /128, host bits past the
 * prefix, "unix", separators, and the errors for bad prefixes and bad
 * addresses, with their messages.
 */
#include "check_gh.h"

#include <arpa/inet.h>
#include <sys/un.h>

static char err[256];

static gh_netlist_t *list(const char *text)
{
    gh_netlist_t *l = NULL;
    int rc = gh_netlist_new(&l, text, err, sizeof(err));

    ck_assert_msg(rc == 0, "\"%s\": %d %s", text, rc, err);
    return l;
}

/* Is ip (v4 or v6) in l? */
static bool in(const gh_netlist_t *l, const char *ip)
{
    struct sockaddr_in in4 = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

    if (inet_pton(AF_INET, ip, &in4.sin_addr) == 1)
        return gh_netlist_match(l, (struct sockaddr *)&in4, sizeof(in4));
    ck_assert(inet_pton(AF_INET6, ip, &in6.sin6_addr) == 1);
    return gh_netlist_match(l, (struct sockaddr *)&in6, sizeof(in6));
}

static void fails(const char *text, const char *msg)
{
    gh_netlist_t *l = (gh_netlist_t *)&l;

    ck_assert_int_eq(gh_netlist_new(&l, text, err, sizeof(err)), GH_EINVAL);
    ck_assert_ptr_null(l);
    ck_assert_msg(strstr(err, msg) != NULL, "\"%s\": got \"%s\"", text, err);
}

START_TEST(ipv4_networks_match_their_addresses_only)
{
    gh_netlist_t *l = list("10.0.0.0/8, 192.168.1.7 172.16.0.0/12");

    ck_assert(in(l, "10.0.0.1"));
    ck_assert(in(l, "10.255.255.255"));
    ck_assert(!in(l, "11.0.0.0"));
    ck_assert(in(l, "192.168.1.7"));
    ck_assert(!in(l, "192.168.1.8"));
    ck_assert(in(l, "172.31.255.1"));
    ck_assert(!in(l, "172.32.0.1"));
    ck_assert(!in(l, "::1"));
    gh_netlist_free(l);
}
END_TEST

START_TEST(ipv6_networks_and_edges)
{
    gh_netlist_t *l = list("2001:db8::/32 ::1/128 fe80::/10");

    ck_assert(in(l, "2001:db8:ffff::1"));
    ck_assert(!in(l, "2001:db9::1"));
    ck_assert(in(l, "::1"));
    ck_assert(!in(l, "::2"));
    ck_assert(in(l, "febf::1"));
    ck_assert(!in(l, "fec0::1"));
    ck_assert(!in(l, "10.0.0.1"));
    gh_netlist_free(l);
    l = list("0.0.0.0/0");
    ck_assert(in(l, "1.2.3.4") && in(l, "255.255.255.255"));
    ck_assert(in(l, "::ffff:8.8.8.8")); /* mapped: an IPv4 peer */
    ck_assert(!in(l, "2001:db8::1"));
    gh_netlist_free(l);
    l = list("::/0");
    ck_assert(in(l, "2001:db8::1") && !in(l, "1.2.3.4"));
    gh_netlist_free(l);
}
END_TEST

START_TEST(ipv4_mapped_peers_and_networks_meet)
{
    gh_netlist_t *l = list("127.0.0.1 ::ffff:10.0.0.0/104");

    ck_assert(in(l, "::ffff:127.0.0.1"));
    ck_assert(in(l, "10.1.2.3"));
    ck_assert(in(l, "::ffff:10.1.2.3"));
    ck_assert(!in(l, "::ffff:11.1.2.3"));
    ck_assert(!in(l, "::127.0.0.1")); /* compatible, not mapped */
    gh_netlist_free(l);
}
END_TEST

START_TEST(host_bits_past_the_prefix_are_ignored)
{
    gh_netlist_t *l = list("10.1.2.3/8 2001:db8::1/64 1.2.3.4/32");

    ck_assert(in(l, "10.9.9.9"));
    ck_assert(in(l, "2001:db8::ffff"));
    ck_assert(in(l, "1.2.3.4") && !in(l, "1.2.3.5"));
    gh_netlist_free(l);
}
END_TEST

START_TEST(unix_peers_only_with_the_word)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    gh_netlist_t *l = list("unix"), *l2 = list("0.0.0.0/0 ::/0");

    ck_assert(gh_netlist_match(l, (struct sockaddr *)&un, sizeof(un)));
    ck_assert(!gh_netlist_match(l2, (struct sockaddr *)&un, sizeof(un)));
    /* Only the family known: as the server keeps Unix peers. */
    ck_assert(gh_netlist_match(l, (struct sockaddr *)&un,
                               sizeof(sa_family_t)));
    ck_assert(!in(l, "127.0.0.1"));
    gh_netlist_free(l);
    gh_netlist_free(l2);
}
END_TEST

START_TEST(empty_and_null_lists_match_nothing)
{
    struct sockaddr_in in4 = {.sin_family = AF_INET};
    gh_netlist_t *l = list("  ,\t ");

    ck_assert(!in(l, "127.0.0.1"));
    gh_netlist_free(l);
    ck_assert(!gh_netlist_match(NULL, (struct sockaddr *)&in4, sizeof(in4)));
    /* A truncated address is no match, not a read past it. */
    l = list("0.0.0.0/0");
    ck_assert(!gh_netlist_match(l, (struct sockaddr *)&in4, 4));
    gh_netlist_free(l);
    gh_netlist_free(NULL);
}
END_TEST

START_TEST(bad_prefixes_are_refused_clearly)
{
    fails("10.0.0.0/33", "\"10.0.0.0/33\": the prefix length must be a "
          "number from 0 to 32");
    fails("::/129", "from 0 to 128");
    fails("10.0.0.0/", "from 0 to 32");
    fails("10.0.0.0/-1", "from 0 to 32");
    fails("10.0.0.0/8x", "from 0 to 32");
    fails("10.0.0.0/0008", "from 0 to 32");
    fails("10.0.0.0/ 8", "\"10.0.0.0/\": the prefix length");
}
END_TEST

START_TEST(bad_addresses_are_refused_clearly)
{
    fails("10.0.0.256", "\"10.0.0.256\" is not an IP address or network "
          "(e.g. 10.0.0.0/8, ::1, unix)");
    fails("127.0.0.1 localhost", "\"localhost\" is not an IP address");
    fails("10.0.0/8", "\"10.0.0/8\" is not");
    fails("/8", "\"/8\" is not");
    fails("2001:db8:::1", "is not an IP address");
    fails("Unix", "\"Unix\" is not");
    fails("0123456789012345678901234567890123456789012345678901234567890",
          "is not an IP address");
}
END_TEST

static Suite *netlist_suite(void)
{
    Suite *s = suite_create("netlist");
    TCase *tc = tcase_create("netlist");

    tcase_add_test(tc, ipv4_networks_match_their_addresses_only);
    tcase_add_test(tc, ipv6_networks_and_edges);
    tcase_add_test(tc, ipv4_mapped_peers_and_networks_meet);
    tcase_add_test(tc, host_bits_past_the_prefix_are_ignored);
    tcase_add_test(tc, unix_peers_only_with_the_word);
    tcase_add_test(tc, empty_and_null_lists_match_nothing);
    tcase_add_test(tc, bad_prefixes_are_refused_clearly);
    tcase_add_test(tc, bad_addresses_are_refused_clearly);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(netlist_suite)
