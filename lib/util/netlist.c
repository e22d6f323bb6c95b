/*
 * netlist.c - lists of networks in CIDR notation (gh_netlist_t), and
 * whether a peer is in one.
 *
 * Each network keeps its address with the host bits cleared, so a match
 * compares the peer's first `bits` bits and nothing else.  An IPv4-mapped
 * IPv6 network (::ffff:10.0.0.0/104) is stored as the IPv4 one it stands
 * for, and an IPv4-mapped peer is unwrapped before the comparison (a
 * listener on [::] sees IPv4 clients that way), so both spellings match
 * both kinds of peer.  Lists are immutable once made: any thread may read
 * them.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NETLIST_MAX 4096
#define SEPS " \t\r\n,"

typedef struct net {
    uint8_t family;    /* AF_INET or AF_INET6 */
    uint8_t bits;      /* prefix length */
    uint8_t addr[16];  /* host bits cleared */
} net_t;

struct gh_netlist {
    bool unix_peers;   /* "unix" was listed */
    int n;
    net_t nets[];
};

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

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

/* The prefix length after '/': 1 to 3 digits, at most max; else -1. */
static int prefix_len(const char *s, int max)
{
    int n = 0, i;

    for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 4; i++)
        n = n * 10 + (s[i] - '0');
    return i == 0 || i > 3 || s[i] || n > max ? -1 : n;
}

/* One entry (NUL-terminated) into *out.  0 or GH_EINVAL with err. */
static int net_parse(const char *text, net_t *out, char *err, size_t errlen)
{
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    char addr[INET6_ADDRSTRLEN];
    int max, bits;

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
    bits = slash ? prefix_len(slash + 1, max) : max;
    if (bits < 0) {
        snprintf(err, errlen, "\"%s\": the prefix length must be a number "
                 "from 0 to %d", text, max);
        return GH_EINVAL;
    }
    if (out->family == AF_INET6 && bits >= 96 &&
        memcmp(out->addr, v4mapped, sizeof(v4mapped)) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        out->family = AF_INET;
        bits -= 96;
        max = 32;
    }
    out->bits = (uint8_t)bits;
    mask(out->addr, 16, bits);
    return 0;
bad_addr:
    snprintf(err, errlen, "\"%s\" is not an IP address or network (e.g. "
             "10.0.0.0/8, ::1, unix)", text);
    return GH_EINVAL;
}

/* The number of entries in text. */
static size_t count_entries(const char *text)
{
    size_t n = 0;

    for (text += strspn(text, SEPS); *text; text += strspn(text, SEPS)) {
        n++;
        text += strcspn(text, SEPS);
    }
    return n;
}

/* Fill l from text (n entries).  0 or GH_EINVAL with err. */
static int fill(gh_netlist_t *l, const char *text, char *err, size_t errlen)
{
    char one[INET6_ADDRSTRLEN + 8];
    size_t len;
    int rc;

    for (text += strspn(text, SEPS); *text; text += strspn(text, SEPS)) {
        len = strcspn(text, SEPS);
        if (len >= sizeof(one)) {
            snprintf(err, errlen, "\"%.*s...\" is not an IP address or "
                     "network (e.g. 10.0.0.0/8, ::1, unix)", 40, text);
            return GH_EINVAL;
        }
        memcpy(one, text, len);
        one[len] = '\0';
        text += len;
        if (strcmp(one, "unix") == 0) {
            l->unix_peers = true;
            continue;
        }
        if ((rc = net_parse(one, &l->nets[l->n], err, errlen)) < 0)
            return rc;
        l->n++;
    }
    return 0;
}

int gh_netlist_new(gh_netlist_t **out, const char *text, char *err,
                   size_t errlen)
{
    size_t n = count_entries(text);
    gh_netlist_t *l;
    int rc;

    *out = NULL;
    if (errlen)
        err[0] = '\0';
    if (n > NETLIST_MAX) {
        snprintf(err, errlen, "%zu networks, more than the %d allowed", n,
                 NETLIST_MAX);
        return GH_EINVAL;
    }
    if (!(l = calloc(1, sizeof(*l) + n * sizeof(net_t))))
        return GH_ENOMEM;
    if ((rc = fill(l, text, err, errlen)) < 0) {
        free(l);
        return rc;
    }
    *out = l;
    return 0;
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

bool gh_netlist_match(const gh_netlist_t *l, const struct sockaddr *sa,
                      socklen_t len)
{
    const uint8_t *addr;
    int family;

    if (!l || !sa || len < (socklen_t)sizeof(sa_family_t))
        return false;
    family = sa->sa_family;
    if (family == AF_UNIX)
        return l->unix_peers;
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
    for (int i = 0; i < l->n; i++)
        if (l->nets[i].family == family &&
            prefix_eq(l->nets[i].addr, addr, l->nets[i].bits))
            return true;
    return false;
}

void gh_netlist_free(gh_netlist_t *l)
{
    free(l);
}
