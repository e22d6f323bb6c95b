/*
 * status_acl.c - the status plugin's "allow" list: networks in CIDR
 * notation, and whether a peer is in one of them.
 *
 * A network keeps its address with the host bits cleared, so that a match
 * compares the peer's first `bits` bits with it and nothing else.  IPv4
 * and IPv6 networks live in one list; a peer is compared only with the
 * networks of its own family, after an IPv4-mapped IPv6 address has been
 * unwrapped (a listener on [::] sees IPv4 clients that way).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

/* Clear the bits of addr (len bytes) past the first bits. */
static void mask(uint8_t *addr, int len, int bits)
{
    for (int i = 0; i < len; i++) {
        int keep = bits - 8 * i;
        if (keep <= 0)
            addr[i] = 0;
        else if (keep < 8)
            addr[i] &= (uint8_t)(0xff << (8 - keep));
    }
}

/* "/n" after an address of max bits: *bits, or -1. */
static int prefix_len(const char *s, int max)
{
    char *end;
    long n;

    if (*s < '0' || *s > '9')
        return -1;
    n = strtol(s, &end, 10);
    return *end || n > max ? -1 : (int)n;
}

int gh__status_net_parse(const char *text, gh__status_net_t *out, char *err,
                         size_t errlen)
{
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    char addr[INET6_ADDRSTRLEN];
    int max;

    memset(out, 0, sizeof(*out));
    if (alen == 0 || alen >= sizeof(addr))
        goto bad_addr;
    memcpy(addr, text, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, addr, out->addr) == 1)
        out->family = AF_INET6;
    else
        goto bad_addr;
    max = out->family == AF_INET ? 32 : 128;
    out->bits = slash ? prefix_len(slash + 1, max) : max;
    if (out->bits < 0) {
        snprintf(err, errlen, "\"%s\": the prefix length must be 0 to %d", text,
                 max);
        return GH_EINVAL;
    }
    mask(out->addr, max / 8, out->bits);
    return 0;
bad_addr:
    snprintf(err, errlen,
             "\"%s\" is not an IP address or network "
             "(127.0.0.0/8, ::1)",
             text);
    return GH_EINVAL;
}

/* Are the first bits bits of a and b equal? */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
    int whole = bits / 8, rest = bits % 8;

    if (memcmp(a, b, (size_t)whole) != 0)
        return false;
    return rest == 0 ||
           ((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool gh__status_allowed(const gh__status_net_t *nets, int n,
                        const struct sockaddr *sa, socklen_t len)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0,    0,
                                         0, 0, 0, 0, 0xff, 0xff};
    const uint8_t *addr;
    int family = sa->sa_family;

    if (family == AF_UNIX)
        return true;
    if (family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        addr = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (family == AF_INET6 &&
               len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
            family = AF_INET;
            addr += sizeof(v4mapped);
        }
    } else {
        return false;
    }
    for (int i = 0; i < n; i++)
        if (nets[i].family == family &&
            prefix_eq(nets[i].addr, addr, nets[i].bits))
            return true;
    return false;
}
