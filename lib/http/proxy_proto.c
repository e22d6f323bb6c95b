/*
 * proxy_proto.c - the PROXY protocol header parser (proxy_proto.h).
 *
 * v1 is one line: "PROXY TCP4 <src> <dst> <sport> <dport>\r\n" (TCP6 with
 * IPv6 addresses; "PROXY UNKNOWN<anything>\r\n" carries none), at most
 * 107 bytes.  It is read strictly: single spaces, addresses that
 * inet_pton() takes, ports without leading zeros up to 65535.
 *
 * v2 is a 16-byte head (a 12-byte signature, version and command, family
 * and transport, a big-endian length) and that many bytes: the addresses
 * for the family, then TLVs.  The TLVs are not interpreted, but their
 * framing must fit the header exactly, so a header that lies about its
 * contents is refused rather than half-read.  A LOCAL command, or a PROXY
 * one with an unspecified family or transport, carries no addresses worth
 * keeping: the connection's own peer stays.
 *
 * A prefix is checked as far as it goes, so a peer that sends "GET / ..."
 * on a listener that wants a header is refused at its first byte, not
 * after a timeout.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include "http/forwarded.h"
#include "http/proxy_proto.h"

static const uint8_t v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                   0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* ---- v1 ---- */

/* A port: 1 to 5 digits, no leading zero (but "0"), at most 65535. */
static bool v1_port(const char *s, size_t n, uint16_t *out)
{
    uint32_t v = 0;

    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* The next space-terminated word of line[*pos .. end) (the last one ends
 * at end).  Its length, or 0. */
static size_t v1_word(const char *line, size_t *pos, size_t end, bool last)
{
    size_t start = *pos, i = start;

    while (i < end && line[i] != ' ')
        i++;
    if (i == start || (last ? i != end : i == end))
        return 0;
    *pos = i + (last ? 0 : 1);
    return i - start;
}

/* "TCP4 a b p q" in line[pos .. end). */
static int v1_fields(const char *line, size_t pos, size_t end, gh__pp_t *out)
{
    const char *w[4];
    size_t n[4];
    uint16_t sport, dport;
    int af;

    if (end - pos < 5 || memcmp(line + pos, "TCP", 3) != 0 ||
        (line[pos + 3] != '4' && line[pos + 3] != '6') ||
        line[pos + 4] != ' ')
        return GH__PP_INVALID;
    af = line[pos + 3] == '4' ? AF_INET : AF_INET6;
    pos += 5;
    for (int i = 0; i < 4; i++) {
        w[i] = line + pos;
        if (!(n[i] = v1_word(line, &pos, end, i == 3)))
            return GH__PP_INVALID;
    }
    if (!gh__ip_parse(af, w[0], n[0], &out->src, &out->src_len) ||
        !gh__ip_parse(af, w[1], n[1], &out->dst, &out->dst_len) ||
        !v1_port(w[2], n[2], &sport) || !v1_port(w[3], n[3], &dport))
        return GH__PP_INVALID;
    if (af == AF_INET) {
        out->src.in.sin_port = htons(sport);
        out->dst.in.sin_port = htons(dport);
    } else {
        out->src.in6.sin6_port = htons(sport);
        out->dst.in6.sin6_port = htons(dport);
    }
    return 0;
}

static int v1_parse(const char *b, size_t len, gh__pp_t *out)
{
    size_t n = len < GH__PP_V1_MAX ? len : GH__PP_V1_MAX, end;
    const char *cr;

    if (memcmp(b, "PROXY ", n < 6 ? n : 6) != 0)
        return GH__PP_INVALID;
    /* Only printable ASCII before the CRLF. */
    for (end = 0; end < n && b[end] != '\r'; end++)
        if ((unsigned char)b[end] < 0x20 || (unsigned char)b[end] > 0x7e)
            return GH__PP_INVALID;
    if (end == n)
        return len >= GH__PP_V1_MAX ? GH__PP_INVALID : GH__PP_NEED;
    /* The CRLF must end within the 107 bytes. */
    if (end > GH__PP_V1_MAX - 2 || end < 6)
        return GH__PP_INVALID;
    cr = b + end;
    if (end + 1 == len)
        return GH__PP_NEED;
    if (cr[1] != '\n')
        return GH__PP_INVALID;
    out->version = 1;
    if (end - 6 >= 7 && memcmp(b + 6, "UNKNOWN", 7) == 0 &&
        (end == 13 || b[13] == ' ')) {
        out->local = true;
        return (int)end + 2;
    }
    if (v1_fields(b, 6, end, out) < 0)
        return GH__PP_INVALID;
    return (int)end + 2;
}

/* ---- v2 ---- */

/* The TLVs in t[0 .. n) must tile it exactly. */
static bool v2_tlvs_ok(const uint8_t *t, size_t n)
{
    size_t i = 0;

    while (i < n) {
        if (n - i < 3)
            return false;
        size_t l = (size_t)t[i + 1] << 8 | t[i + 2];
        if (l > n - i - 3)
            return false;
        i += 3 + l;
    }
    return true;
}

/* Addresses of family fam from a[0 .. n); their size, or -1. */
static int v2_addrs(int fam, const uint8_t *a, size_t n, gh__pp_t *out)
{
    if (fam == 1 && n >= 12) {
        out->src.in.sin_family = out->dst.in.sin_family = AF_INET;
        memcpy(&out->src.in.sin_addr, a, 4);
        memcpy(&out->dst.in.sin_addr, a + 4, 4);
        memcpy(&out->src.in.sin_port, a + 8, 2);
        memcpy(&out->dst.in.sin_port, a + 10, 2);
        out->src_len = out->dst_len = sizeof(struct sockaddr_in);
        return 12;
    }
    if (fam == 2 && n >= 36) {
        out->src.in6.sin6_family = out->dst.in6.sin6_family = AF_INET6;
        memcpy(&out->src.in6.sin6_addr, a, 16);
        memcpy(&out->dst.in6.sin6_addr, a + 16, 16);
        memcpy(&out->src.in6.sin6_port, a + 32, 2);
        memcpy(&out->dst.in6.sin6_port, a + 34, 2);
        out->src_len = out->dst_len = sizeof(struct sockaddr_in6);
        return 36;
    }
    if (fam == 3 && n >= 216) {
        /* Two 108-byte paths; a path fills its field or ends at a NUL. */
        out->src.un.sun_family = out->dst.un.sun_family = AF_UNIX;
        memcpy(out->src.un.sun_path, a, 107);
        memcpy(out->dst.un.sun_path, a + 108, 107);
        out->src_len = out->dst_len = sizeof(struct sockaddr_un);
        return 216;
    }
    return -1;
}

/* What the first bytes (fewer than 16) say: need more, or invalid. */
static int v2_prefix(const uint8_t *b, size_t len)
{
    size_t n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);

    if (memcmp(b, v2_sig, n) != 0)
        return GH__PP_INVALID;
    if (len > 12 && ((b[12] >> 4) != 2 || (b[12] & 0x0f) > 1))
        return GH__PP_INVALID;
    if (len > 13 && ((b[13] >> 4) > 3 || (b[13] & 0x0f) > 2))
        return GH__PP_INVALID;
    return GH__PP_NEED;
}

static int v2_parse(const uint8_t *b, size_t len, size_t max, gh__pp_t *out)
{
    size_t body, total;
    int fam, proto, used;

    if (len < GH__PP_V2_HEAD || v2_prefix(b, len) < 0)
        return v2_prefix(b, len);
    body = (size_t)b[14] << 8 | b[15];
    total = GH__PP_V2_HEAD + body;
    if (total > max)
        return GH__PP_INVALID;
    if (len < total)
        return GH__PP_NEED;
    out->version = 2;
    fam = b[13] >> 4;
    proto = b[13] & 0x0f;
    /* LOCAL (a health check from the proxy itself), or addresses of a kind
     * that mean nothing here: skip the whole block as the spec asks. */
    if ((b[12] & 0x0f) == 0 || fam == 0 || proto == 0) {
        out->local = true;
        return (int)total;
    }
    if (proto != 1)
        return GH__PP_INVALID; /* datagrams on a stream connection */
    if ((used = v2_addrs(fam, b + GH__PP_V2_HEAD, body, out)) < 0 ||
        !v2_tlvs_ok(b + GH__PP_V2_HEAD + used, body - (size_t)used))
        return GH__PP_INVALID;
    return (int)total;
}

int gh__pp_parse(const void *buf, size_t len, size_t max, gh__pp_t *out)
{
    const uint8_t *b = buf;

    memset(out, 0, sizeof(*out));
    if (max == 0 || max > GH__PP_V2_MAX)
        max = GH__PP_V2_MAX;
    if (len == 0)
        return GH__PP_NEED;
    if (b[0] == 'P')
        return v1_parse(buf, len, out);
    if (b[0] == v2_sig[0])
        return v2_parse(b, len, max, out);
    return GH__PP_INVALID;
}
