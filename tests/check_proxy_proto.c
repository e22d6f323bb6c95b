/*
 * check_proxy_proto.c - the PROXY protocol parser (lib/http/proxy_proto.c):
 * v1 TCP4, TCP6 and UNKNOWN; v2 TCP over IPv4 and IPv6, UNIX and LOCAL,
 * with TLVs; every proper prefix of a good header is "need more" and the
 * bytes after it are never counted; and the refusals: garbage, a wrong
 * signature, bad lengths, oversized headers, bad fields.
 */
#include "check_gh.h"

#include <arpa/inet.h>

#include "http/proxy_proto.h"

static gh__pp_t pp;

/* Parse s (n bytes); expect rc. */
static int parse_n(const void *s, size_t n)
{
    return gh__pp_parse(s, n, 0, &pp);
}

static int parse(const char *s)
{
    return parse_n(s, strlen(s));
}

/* Every proper prefix of h[0 .. n) says "need more". */
static void prefixes_need_more(const void *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(parse_n(h, i) == GH__PP_NEED,
                      "prefix of %zu/%zu bytes: %d", i, n, parse_n(h, i));
}

static void check_v4(const gh__pp_addr_t *a, const char *ip, int port)
{
    char s[INET_ADDRSTRLEN];

    ck_assert_int_eq(a->sa.sa_family, AF_INET);
    inet_ntop(AF_INET, &a->in.sin_addr, s, sizeof(s));
    ck_assert_str_eq(s, ip);
    ck_assert_int_eq(ntohs(a->in.sin_port), port);
}

static void check_v6(const gh__pp_addr_t *a, const char *ip, int port)
{
    char s[INET6_ADDRSTRLEN];

    ck_assert_int_eq(a->sa.sa_family, AF_INET6);
    inet_ntop(AF_INET6, &a->in6.sin6_addr, s, sizeof(s));
    ck_assert_str_eq(s, ip);
    ck_assert_int_eq(ntohs(a->in6.sin6_port), port);
}

/* ---- v1 ---- */

START_TEST(v1_tcp4_gives_addresses_and_length)
{
    const char *h = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
    char buf[128];

    ck_assert_int_eq(parse(h), (int)strlen(h));
    ck_assert_int_eq(pp.version, 1);
    ck_assert(!pp.local);
    check_v4(&pp.src, "192.0.2.1", 56324);
    check_v4(&pp.dst, "198.51.100.2", 443);
    ck_assert_int_eq(pp.src_len, sizeof(struct sockaddr_in));
    /* The request after it is not part of the header. */
    snprintf(buf, sizeof(buf), "%sGET / HTTP/1.1\r\n\r\n", h);
    ck_assert_int_eq(parse(buf), (int)strlen(h));
    prefixes_need_more(h, strlen(h));
}
END_TEST

START_TEST(v1_tcp6_gives_addresses)
{
    const char *h = "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n";

    ck_assert_int_eq(parse(h), (int)strlen(h));
    check_v6(&pp.src, "2001:db8::1", 65535);
    check_v6(&pp.dst, "::1", 0);
    ck_assert_int_eq(pp.src_len, sizeof(struct sockaddr_in6));
    prefixes_need_more(h, strlen(h));
}
END_TEST

START_TEST(v1_unknown_is_local)
{
    const char *h1 = "PROXY UNKNOWN\r\n";
    const char *h2 = "PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\nGET";

    ck_assert_int_eq(parse(h1), 15);
    ck_assert(pp.local);
    ck_assert_int_eq(pp.src_len, 0);
    ck_assert_int_eq(parse(h2), (int)strlen(h2) - 3);
    ck_assert(pp.local);
    ck_assert_int_eq(parse("PROXY UNKNOWNX\r\n"), GH__PP_INVALID);
}
END_TEST

START_TEST(v1_longest_line_fits_and_one_more_does_not)
{
    /* 107 bytes: the longest line the spec allows (UNKNOWN with the
     * longest addresses; the same as TCP6 is 104). */
    const char *max = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 "
                      "65535\r\n";
    char buf[256];

    ck_assert_int_eq(strlen(max), 107);
    ck_assert_int_eq(parse(max), 107);
    ck_assert(pp.local);
    memcpy(buf, max, 107);
    memcpy(buf + 6, "TCP6   ", 7);
    ck_assert_int_eq(parse_n(buf, 107), GH__PP_INVALID); /* spaces */
    memmove(buf + 11, buf + 14, 93);
    ck_assert_int_eq(parse_n(buf, 104), 104);
    check_v6(&pp.src, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
    /* An UNKNOWN line padded past 107 bytes: refused at 107, not later. */
    memset(buf, 'x', sizeof(buf));
    memcpy(buf, "PROXY UNKNOWN ", 14);
    ck_assert_int_eq(parse_n(buf, 106), GH__PP_NEED);
    ck_assert_int_eq(parse_n(buf, 107), GH__PP_INVALID);
    ck_assert_int_eq(parse_n(buf, sizeof(buf)), GH__PP_INVALID);
    /* A CR as the 107th byte leaves no room for the LF. */
    buf[106] = '\r';
    buf[107] = '\n';
    ck_assert_int_eq(parse_n(buf, 108), GH__PP_INVALID);
}
END_TEST

START_TEST(v1_malformed_fields_are_invalid)
{
    static const char *bad[] = {
        "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\n",  /* LF alone */
        "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\rX", /* CR, no LF */
        "PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n",     /* two spaces */
        "PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n",        /* a port short */
        "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n",    /* one too many */
        "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n",     /* trailing space */
        "PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n",    /* bad address */
        "PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",    /* v6 as TCP4 */
        "PROXY TCP6 192.0.2.1 ::1 1 2\r\n",               /* v4 as TCP6 */
        "PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n",  /* port range */
        "PROXY TCP4 192.0.2.1 198.51.100.2 080 2\r\n",    /* leading 0 */
        "PROXY TCP4 192.0.2.1 198.51.100.2 -1 2\r\n",     /* sign */
        "PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n",      /* protocol */
        "PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",
        "PROXY \r\n",                                     /* nothing */
        "PROXY\r\n",
        "proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n",      /* case */
        "PROXY TCP4 192.0.2.1\t198.51.100.2 1 2\r\n",     /* a tab */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(parse(bad[i]) == GH__PP_INVALID, "accepted: %s",
                      bad[i]);
    /* A NUL or a high byte in the line. */
    ck_assert_int_eq(parse_n("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 33),
                     GH__PP_INVALID);
    ck_assert_int_eq(parse("PROXY TCP4 1.2.3.\xff 5.6.7.8 1 2\r\n"),
                     GH__PP_INVALID);
}
END_TEST

START_TEST(garbage_is_invalid_at_the_first_byte)
{
    ck_assert_int_eq(parse_n("G", 1), GH__PP_INVALID);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\n\r\n"), GH__PP_INVALID);
    ck_assert_int_eq(parse_n("PROXX", 5), GH__PP_INVALID);
    ck_assert_int_eq(parse_n("\x16\x03\x01", 3), GH__PP_INVALID); /* TLS */
    ck_assert_int_eq(parse_n("", 0), GH__PP_NEED);
}
END_TEST

/* ---- v2 ---- */

static const uint8_t sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* A v2 header: command (0 LOCAL, 1 PROXY), family byte, body. */
static size_t v2(uint8_t *out, int cmd, uint8_t fam, const void *body,
                 size_t blen)
{
    memcpy(out, sig, 12);
    out[12] = (uint8_t)(0x20 | cmd);
    out[13] = fam;
    out[14] = (uint8_t)(blen >> 8);
    out[15] = (uint8_t)blen;
    if (blen)
        memcpy(out + 16, body, blen);
    return 16 + blen;
}

static const uint8_t v4_body[] = {192, 0, 2, 1,  198, 51, 100, 2,
                                  0xdc, 0x04, 0x01, 0xbb};

START_TEST(v2_tcp4_gives_addresses)
{
    uint8_t h[64];
    size_t n = v2(h, 1, 0x11, v4_body, sizeof(v4_body));

    ck_assert_int_eq(parse_n(h, n), (int)n);
    ck_assert_int_eq(pp.version, 2);
    ck_assert(!pp.local);
    check_v4(&pp.src, "192.0.2.1", 56324);
    check_v4(&pp.dst, "198.51.100.2", 443);
    prefixes_need_more(h, n);
    /* The request after it stays out. */
    memcpy(h + n, "GET / HTTP/1.1\r\n", 16);
    ck_assert_int_eq(parse_n(h, n + 16), (int)n);
}
END_TEST

START_TEST(v2_tcp6_gives_addresses)
{
    uint8_t body[36] = {0}, h[64];
    size_t n;

    inet_pton(AF_INET6, "2001:db8::17", body);
    inet_pton(AF_INET6, "2001:db8::1", body + 16);
    body[32] = 0x12, body[33] = 0x34, body[34] = 0x00, body[35] = 0x50;
    n = v2(h, 1, 0x21, body, sizeof(body));
    ck_assert_int_eq(parse_n(h, n), (int)n);
    check_v6(&pp.src, "2001:db8::17", 0x1234);
    check_v6(&pp.dst, "2001:db8::1", 80);
    prefixes_need_more(h, n);
}
END_TEST

START_TEST(v2_unix_gives_paths)
{
    uint8_t body[216] = {0}, h[256];
    size_t n;

    strcpy((char *)body, "/run/client.sock");
    memset(body + 108, 'a', 108); /* a path filling its whole field */
    n = v2(h, 1, 0x31, body, sizeof(body));
    ck_assert_int_eq(parse_n(h, n), (int)n);
    ck_assert_int_eq(pp.src.sa.sa_family, AF_UNIX);
    ck_assert_str_eq(pp.src.un.sun_path, "/run/client.sock");
    ck_assert_uint_eq(strlen(pp.dst.un.sun_path), 107);
    prefixes_need_more(h, n);
}
END_TEST

START_TEST(v2_local_and_unspec_keep_the_peer)
{
    uint8_t h[64], junk[5] = {1, 2, 3, 4, 5};
    size_t n = v2(h, 0, 0x00, NULL, 0);

    ck_assert_int_eq(parse_n(h, n), 16);
    ck_assert(pp.local);
    ck_assert_int_eq(pp.src_len, 0);
    /* LOCAL with addresses and junk: all of it skipped. */
    n = v2(h, 0, 0x11, junk, sizeof(junk));
    ck_assert_int_eq(parse_n(h, n), (int)n);
    ck_assert(pp.local);
    /* PROXY with an unspecified family or transport. */
    n = v2(h, 1, 0x00, junk, sizeof(junk));
    ck_assert_int_eq(parse_n(h, n), (int)n);
    ck_assert(pp.local);
    n = v2(h, 1, 0x10, junk, sizeof(junk));
    ck_assert_int_eq(parse_n(h, n), (int)n);
    ck_assert(pp.local);
}
END_TEST

START_TEST(v2_tlvs_are_skipped_when_well_framed)
{
    uint8_t body[64], h[128];
    size_t b = sizeof(v4_body), n;

    memcpy(body, v4_body, b);
    /* PP2_TYPE_ALPN "h2", then a NOOP of length 0, then an AUTHORITY. */
    memcpy(body + b, "\x01\x00\x02h2\x04\x00\x00\x02\x00\x03" "a.b", 14);
    n = v2(h, 1, 0x11, body, b + 14);
    ck_assert_int_eq(parse_n(h, n), (int)n);
    check_v4(&pp.src, "192.0.2.1", 56324);
    prefixes_need_more(h, n);
    /* A TLV running past the header, or a stub of one. */
    n = v2(h, 1, 0x11, body, b + 13);
    ck_assert_int_eq(parse_n(h, n), GH__PP_INVALID);
    n = v2(h, 1, 0x11, body, b + 2);
    ck_assert_int_eq(parse_n(h, n), GH__PP_INVALID);
}
END_TEST

START_TEST(v2_bad_heads_are_invalid)
{
    uint8_t h[64];
    size_t n = v2(h, 1, 0x11, v4_body, sizeof(v4_body));

    h[3] ^= 1; /* the signature */
    ck_assert_int_eq(parse_n(h, n), GH__PP_INVALID);
    ck_assert_int_eq(parse_n(h, 4), GH__PP_INVALID); /* at once */
    h[3] ^= 1;
    h[12] = 0x11; /* version 1 */
    ck_assert_int_eq(parse_n(h, 13), GH__PP_INVALID);
    h[12] = 0x22; /* command 2 */
    ck_assert_int_eq(parse_n(h, n), GH__PP_INVALID);
    h[12] = 0x21;
    h[13] = 0x41; /* family 4 */
    ck_assert_int_eq(parse_n(h, 14), GH__PP_INVALID);
    h[13] = 0x13; /* transport 3 */
    ck_assert_int_eq(parse_n(h, n), GH__PP_INVALID);
    h[13] = 0x12; /* UDP over IPv4 on a stream */
    ck_assert_int_eq(parse_n(h, n), GH__PP_INVALID);
}
END_TEST

START_TEST(v2_lengths_short_of_the_addresses_are_invalid)
{
    uint8_t h[300], body[300] = {0};

    for (size_t l = 0; l < 12; l++)
        ck_assert_int_eq(parse_n(h, v2(h, 1, 0x11, body, l)),
                         GH__PP_INVALID);
    ck_assert_int_eq(parse_n(h, v2(h, 1, 0x21, body, 35)), GH__PP_INVALID);
    ck_assert_int_eq(parse_n(h, v2(h, 1, 0x31, body, 215)), GH__PP_INVALID);
}
END_TEST

START_TEST(v2_oversized_is_invalid_before_it_is_read)
{
    uint8_t h[16];

    memcpy(h, sig, 12);
    h[12] = 0x21;
    h[13] = 0x11;
    h[14] = 0xff; /* 65535 bytes announced */
    h[15] = 0xff;
    ck_assert_int_eq(parse_n(h, 16), GH__PP_INVALID);
    /* The caller's bound: 16 + 12 = 28 fits 28, not 27. */
    h[14] = 0;
    h[15] = 12;
    ck_assert_int_eq(gh__pp_parse(h, 16, 28, &pp), GH__PP_NEED);
    ck_assert_int_eq(gh__pp_parse(h, 16, 27, &pp), GH__PP_INVALID);
    /* 4096 is the ceiling whatever max says. */
    h[14] = 0x10;
    h[15] = 0x00;
    ck_assert_int_eq(gh__pp_parse(h, 16, 100000, &pp), GH__PP_INVALID);
}
END_TEST

static Suite *proxy_proto_suite(void)
{
    Suite *s = suite_create("proxy_proto");
    TCase *tc = tcase_create("v1");

    tcase_add_test(tc, v1_tcp4_gives_addresses_and_length);
    tcase_add_test(tc, v1_tcp6_gives_addresses);
    tcase_add_test(tc, v1_unknown_is_local);
    tcase_add_test(tc, v1_longest_line_fits_and_one_more_does_not);
    tcase_add_test(tc, v1_malformed_fields_are_invalid);
    tcase_add_test(tc, garbage_is_invalid_at_the_first_byte);
    suite_add_tcase(s, tc);
    tc = tcase_create("v2");
    tcase_add_test(tc, v2_tcp4_gives_addresses);
    tcase_add_test(tc, v2_tcp6_gives_addresses);
    tcase_add_test(tc, v2_unix_gives_paths);
    tcase_add_test(tc, v2_local_and_unspec_keep_the_peer);
    tcase_add_test(tc, v2_tlvs_are_skipped_when_well_framed);
    tcase_add_test(tc, v2_bad_heads_are_invalid);
    tcase_add_test(tc, v2_lengths_short_of_the_addresses_are_invalid);
    tcase_add_test(tc, v2_oversized_is_invalid_before_it_is_read);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(proxy_proto_suite)
