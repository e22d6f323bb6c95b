/*
 * fuzz_forwarded.c - a libFuzzer target for the forwarded-header walk
 * (lib/http/forwarded.c: X-Forwarded-For, X-Real-IP, RFC 7239 Forwarded).
 *
 * The first input byte picks the header kind (bits 0-1), the recursive
 * mode (bit 2) and the hop limit (bits 3-7, plus 1); the rest, split at
 * NUL bytes, are the header's fields.  The peer is always trusted, and so
 * are 10.0.0.0/8 and ::1, so the walk goes as deep as the input lets it.
 * Checked: the walk stays within the limit; the client is an IPv4 or IPv6
 * address; when the walk named nobody, the client is still the peer; a
 * proto= or host= points inside the fields it came from.
 *
 * Built two ways (tests/fuzz/Makemodule.am): with libFuzzer by `make fuzz`,
 * and with standalone_main.c for `make check`, which runs the seed corpus.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/forwarded.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIELDS 8

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_forwarded: broken invariant: %s\n", what);
        abort();
    }
}

/* Is p[0 .. n) inside one of the n fields? */
static bool inside(const char *p, size_t n, char *const *v, int nv)
{
    for (int i = 0; i < nv; i++)
        if (p >= v[i] && p + n <= v[i] + strlen(v[i]))
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gh_netlist_t *trusted;
    char *copy, *values[FIELDS];
    gh__fwd_t f;
    int nv = 0;

    if (size < 1)
        return 0;
    if (!trusted && gh_netlist_new(&trusted, "127.0.0.1 10.0.0.0/8 ::1",
                                   NULL, 0) < 0)
        abort();
    if (!(copy = malloc(size)))
        return 0;
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    for (char *p = copy; nv < FIELDS && p < copy + size; p += strlen(p) + 1)
        values[nv++] = p;
    f = (gh__fwd_t){.trusted = trusted, .kind = data[0] % 3,
                    .recursive = data[0] & 4,
                    .max_hops = (uint32_t)(data[0] >> 3) + 1,
                    .values = (const char *const *)values, .nvalues = nv};
    f.client.in.sin_family = AF_INET;
    f.client.in.sin_addr.s_addr = htonl(0x7f000001);
    f.client_len = sizeof(f.client.in);
    gh__fwd_walk(&f);
    check(f.hops >= 0 && (uint32_t)f.hops <= f.max_hops, "hops bounded");
    check(f.hops <= 1 || f.recursive, "one hop when not recursive");
    check((f.client.sa.sa_family == AF_INET &&
           f.client_len == sizeof(f.client.in)) ||
              (f.client.sa.sa_family == AF_INET6 &&
               f.client_len == sizeof(f.client.in6)),
          "an IP client");
    check(f.hops > 0 || (f.client.sa.sa_family == AF_INET &&
                         f.client.in.sin_addr.s_addr == htonl(0x7f000001)),
          "no hop: the peer stays");
    check(!f.proto || inside(f.proto, f.proto_len, values, nv), "proto");
    check(!f.host || inside(f.host, f.host_len, values, nv), "host");
    check(f.kind == GH__FWD_FORWARDED || (!f.proto && !f.host),
          "proto and host only from Forwarded");
    free(copy);
    return 0;
}
