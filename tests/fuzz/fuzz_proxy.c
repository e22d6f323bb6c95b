/*
 * fuzz_proxy.c - a libFuzzer target for the PROXY protocol parser
 * (lib/http/proxy_proto.c).
 *
 * The first input byte picks the v2 bound (max); the rest is what a peer
 * sent.  Beyond not crashing or reading out of bounds, the parser's
 * contract is checked: a header's length is within the input and the
 * bounds (107 bytes for v1, max for v2); it carries a family the caller
 * knows; parsing only the header's own bytes, or the input with garbage
 * appended, gives the same answer (the bytes after the header are never
 * looked at); and every proper prefix of a header is "need more", so a
 * connection reading it a byte at a time never gives up early.
 *
 * Built two ways (tests/fuzz/Makemodule.am): with libFuzzer by `make fuzz`,
 * and with standalone_main.c for `make check`, which runs the seed corpus.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/proxy_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_proxy: broken invariant: %s\n", what);
        abort();
    }
}

static void check_header(const gh__pp_t *pp, int n, size_t size, size_t max)
{
    check((size_t)n <= size, "the header is within the input");
    check(pp->version == 1 || pp->version == 2, "a version");
    check(pp->version == 2 || n <= GH__PP_V1_MAX, "v1 within 107 bytes");
    check(pp->version == 1 || (size_t)n <= max, "v2 within max");
    if (pp->local) {
        check(pp->src_len == 0, "local: no address");
        return;
    }
    check(pp->src.sa.sa_family == AF_INET ||
              pp->src.sa.sa_family == AF_INET6 ||
              pp->src.sa.sa_family == AF_UNIX, "a known family");
    check(pp->src_len > 0 && pp->src_len <= sizeof(pp->src), "a length");
    check(pp->src.sa.sa_family != AF_UNIX ||
              memchr(pp->src.un.sun_path, 0, sizeof(pp->src.un.sun_path)),
          "a Unix path ends");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gh__pp_t pp, pp2;
    size_t max;
    uint8_t *copy;
    int n, m;

    if (size < 1)
        return 0;
    max = (size_t)data[0] * 32; /* 0 (the default) up to 8160 */
    data++, size--;
    n = gh__pp_parse(data, size, max, &pp);
    check(n >= GH__PP_INVALID, "a known result");
    if (max == 0 || max > GH__PP_V2_MAX)
        max = GH__PP_V2_MAX;
    /* More bytes after the input change nothing once it is decided. */
    if (!(copy = malloc(size + 64)))
        return 0;
    memcpy(copy, data, size);
    memset(copy + size, 'G', 64);
    m = gh__pp_parse(copy, size + 64, max, &pp2);
    if (n != GH__PP_NEED)
        check(m == n, "appended bytes change the answer");
    if (n > 0) {
        check_header(&pp, n, size, max);
        check(memcmp(&pp, &pp2, sizeof(pp)) == 0, "the same header twice");
        check(gh__pp_parse(data, (size_t)n, max, &pp2) == n,
              "the header alone");
        for (int i = 0; i < n; i++)
            check(gh__pp_parse(data, (size_t)i, max, &pp2) == GH__PP_NEED,
                  "a prefix of a header needs more");
    }
    free(copy);
    return 0;
}
