/*
 * fuzz_router.c - a libFuzzer target for the router's matching
 * (lib/http/router.c: gh__router_match() on a client's method and path).
 *
 * Input: byte 0 gives the number of routes (bits 0-2, plus 1) and the
 * request's method (bits 3-5); then three bytes per route: its methods
 * (bits 0-2), its number of segments (bits 3-4) and whether it is a prefix
 * route (bit 5), then a segment kind per 3 bits of the next two bytes
 * (literals, some of them the same after decoding, and parameters); the
 * rest is the raw path.  Checked against a second matcher written here the
 * plain way (every route tried, ranked by the rules at the top of
 * router.c):
 *   - gh_router_add() refuses a route with GH_EEXIST exactly when a route
 *     of the same pattern already takes one of its methods;
 *   - the result, the route found, its parameter spans, where the rest of
 *     a prefix route's path begins, and for 405 the methods in Allow (in
 *     the router's fixed order, each once) are the plain matcher's;
 *   - a router holding the same routes added in the reverse order answers
 *     the same, so precedence does not depend on the order of adding.
 *
 * Built two ways (tests/fuzz/Makemodule.am): with libFuzzer by `make fuzz`,
 * and with standalone_main.c for `make check`, which runs the seed corpus.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gohttpd/error.h"
#include "http/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ROUTES 8
#define MAX_SEGS 3

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_router: broken invariant: %s\n", what);
        abort();
    }
}

/* The methods this target uses, in the router's standard order. */
enum { GET, HEAD, POST, PUT, DELETE, NMETHODS };
static const char *const method_names[NMETHODS] = {"GET", "HEAD", "POST", "PUT",
                                                   "DELETE"};

/* A route's methods: its gh_router_add() string and the set it names
 * (0: any method). */
static const struct {
    const char *s;
    unsigned set;
} method_sets[8] = {
    {"*", 0},
    {"GET", 1u << GET},
    {"POST", 1u << POST},
    {"HEAD", 1u << HEAD},
    {"GET,POST", 1u << GET | 1u << POST},
    {"PUT", 1u << PUT},
    {"DELETE", 1u << DELETE},
    {"GET, PUT", 1u << GET | 1u << PUT},
};

/* The request's method: a standard one, one no route names, or none. */
static const char *const request_methods[8] = {"GET",    "HEAD", "POST", "PUT",
                                               "DELETE", "BREW", NULL,   "GET"};

/* Segment kinds: a literal as written in the pattern and decoded, or a
 * parameter (NULL). */
static const struct {
    const char *raw, *decoded;
} kinds[8] = {
    {"a", "a"},   {"%61", "a"}, {"b", "b"},   {"a%2Fb", "a/b"},
    {"ab", "ab"}, {"%25", "%"}, {NULL, NULL}, {NULL, NULL},
};

typedef struct route {
    int id;
    int msel;     /* method_sets[msel] */
    unsigned set; /* 0: any */
    int nseg;
    bool prefix;
    const char *lit[MAX_SEGS]; /* decoded; NULL: a parameter */
    char pattern[64];
} route_t;

/* ---- the plain matcher ---- */

static bool same_pattern(const route_t *a, const route_t *b)
{
    if (a->nseg != b->nseg || a->prefix != b->prefix)
        return false;
    for (int i = 0; i < a->nseg; i++)
        if ((a->lit[i] == NULL) != (b->lit[i] == NULL) ||
            (a->lit[i] && strcmp(a->lit[i], b->lit[i]) != 0))
            return false;
    return true;
}

static bool overlaps(const route_t *a, const route_t *b)
{
    return (a->set == 0 && b->set == 0) || (a->set & b->set) != 0;
}

/* A path's segments after its leading '/': how many, and the first few
 * (all a route can look at) as raw spans and decoded. */
#define FIRST (MAX_SEGS + 1)
typedef struct segs {
    int n;
    uint32_t off[FIRST], len[FIRST];
    char dec[FIRST][16];
    size_t declen[FIRST];
} segs_t;

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decode s[0 .. n) into out (n bytes of room); -1 for a bad escape. */
static ssize_t decode(const char *s, size_t n, char *out)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[k++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
        int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return -1;
        out[k++] = (char)(hi << 4 | lo);
        i += 2;
    }
    return (ssize_t)k;
}

static void split(const char *path, size_t len, segs_t *s)
{
    uint32_t b = 1;

    for (s->n = 0;; s->n++) {
        const char *sl = memchr(path + b, '/', len - b);
        uint32_t e = sl ? (uint32_t)(sl - path) : (uint32_t)len;
        if (s->n < FIRST) {
            s->off[s->n] = b;
            s->len[s->n] = e - b;
            /* Longer than any literal: left empty, so it matches none. */
            s->declen[s->n] = 0;
            if (e - b <= sizeof s->dec[0])
                s->declen[s->n] = (size_t)decode(path + b, e - b, s->dec[s->n]);
        }
        if (!sl)
            break;
        b = e + 1;
    }
    s->n++;
}

/* Does route rt match the path (ignoring the method)? */
static bool path_matches(const route_t *rt, const segs_t *s)
{
    if (rt->prefix ? s->n <= rt->nseg : s->n != rt->nseg)
        return false;
    for (int i = 0; i < rt->nseg; i++) {
        if (rt->lit[i] == NULL) {
            if (s->len[i] == 0)
                return false;
        } else if (strlen(rt->lit[i]) != s->declen[i] ||
                   memcmp(rt->lit[i], s->dec[i], s->declen[i]) != 0) {
            return false;
        }
    }
    return true;
}

/* How well rt answers method m: 3 naming it, 2 naming GET for a HEAD, 1
 * any method, 0 not at all. */
static int answers(const route_t *rt, int m)
{
    if (rt->set == 0)
        return 1;
    if (m >= 0 && (rt->set & 1u << m))
        return 3;
    return m == HEAD && (rt->set & 1u << GET) ? 2 : 0;
}

/* Precedence: > 0 when a beats b (both match the path). */
static int rank_cmp(const route_t *a, const route_t *b)
{
    if (a->prefix != b->prefix)
        return a->prefix ? -1 : 1;
    for (int i = 0;; i++) {
        int ra = i < a->nseg ? (a->lit[i] ? 2 : 1) : 0;
        int rb = i < b->nseg ? (b->lit[i] ? 2 : 1) : 0;
        if (ra != rb)
            return ra - rb;
        if (ra == 0)
            return 0;
    }
}

/* ---- the target ---- */

static int handler(void *u, gh_req_t *req, gh_resp_t *resp)
{
    (void)u, (void)req, (void)resp;
    return 0;
}

static void expect_match(const gh_router_t *r, const route_t *routes,
                         int nroutes, const char *method, const char *path,
                         size_t len)
{
    gh__route_match_t m;
    char allow[128];
    segs_t s;
    int mi = -1, rc, best = -1, want;
    unsigned allowed = 0;
    bool ok_escapes = true, any_path = false;

    for (int i = 0; i < NMETHODS; i++)
        if (method && strcmp(method, method_names[i]) == 0)
            mi = i;
    rc = gh__router_match(r, method, path, len, &m, allow, sizeof allow);

    for (size_t i = 0; i < len && ok_escapes; i++) {
        char tmp[3];
        if (path[i] == '%')
            ok_escapes = decode(path + i, len - i < 3 ? len - i : 3, tmp) == 1;
    }
    if (!ok_escapes) {
        check(rc == GH__ROUTE_BAD_PATH, "a bad escape is a bad path");
        return;
    }
    if (len == 0 || path[0] != '/') {
        check(rc == GH__ROUTE_NOT_FOUND, "a path without '/' matches nothing");
        return;
    }
    split(path, len, &s);
    for (int i = 0; i < nroutes; i++) {
        if (!path_matches(&routes[i], &s))
            continue;
        any_path = true;
        allowed |= routes[i].set;
        if (!answers(&routes[i], mi))
            continue;
        if (best < 0 || rank_cmp(&routes[i], &routes[best]) > 0 ||
            (rank_cmp(&routes[i], &routes[best]) == 0 &&
             answers(&routes[i], mi) > answers(&routes[best], mi)))
            best = i;
    }
    want = best >= 0  ? GH__ROUTE_FOUND
           : any_path ? GH__ROUTE_BAD_METHOD
                      : GH__ROUTE_NOT_FOUND;
    check(rc == want, "the result is the plain matcher's");
    if (rc == GH__ROUTE_FOUND) {
        const route_t *rt = &routes[best];
        int np = 0;
        check((int)(intptr_t)m.udata == rt->id, "the route is the best one");
        check(m.prefix == rt->prefix, "the route's kind");
        for (int i = 0; i < rt->nseg; i++) {
            if (rt->lit[i])
                continue;
            check(np < m.nparams && m.values[np].off == s.off[i] &&
                      m.values[np].len == s.len[i],
                  "a parameter is its raw segment");
            np++;
        }
        check(np == m.nparams, "one value per parameter");
        check(m.rest == (rt->prefix ? s.off[rt->nseg] : len),
              "the rest starts after the prefix");
    } else if (rc == GH__ROUTE_BAD_METHOD) {
        char want_allow[128] = "";
        if (allowed & 1u << GET)
            allowed |= 1u << HEAD;
        for (int i = 0; i < NMETHODS; i++)
            if (allowed & 1u << i) {
                if (want_allow[0])
                    strcat(want_allow, ", ");
                strcat(want_allow, method_names[i]);
            }
        check(strcmp(allow, want_allow) == 0, "Allow lists the methods");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    route_t routes[MAX_ROUTES];
    gh_router_t *fwd, *rev;
    int want, nroutes = 0;
    const char *method;
    size_t used;

    if (size < 1)
        return 0;
    want = (data[0] & 7) + 1;
    method = request_methods[data[0] >> 3 & 7];
    used = 1;
    if (!(fwd = gh_router_new()) || !(rev = gh_router_new()))
        abort();
    for (int i = 0; i < want && used + 3 <= size; i++, used += 3) {
        route_t *rt = &routes[nroutes];
        unsigned kindbits = data[used + 1] | (unsigned)data[used + 2] << 8;
        char *p = rt->pattern;
        bool taken = false;
        int np = 0, rc;

        rt->id = i + 1;
        rt->msel = data[used] & 7;
        rt->set = method_sets[rt->msel].set;
        rt->nseg = data[used] >> 3 & 3;
        rt->prefix = data[used] >> 5 & 1;
        for (int j = 0; j < rt->nseg; j++) {
            int k = kindbits >> (3 * j) & 7;
            rt->lit[j] = kinds[k].decoded;
            if (kinds[k].raw)
                p += sprintf(p, "/%s", kinds[k].raw);
            else
                p += sprintf(p, "/{p%d}", np++);
        }
        strcpy(p, rt->prefix || rt->nseg == 0 ? "/" : "");
        rt->prefix = rt->prefix || rt->nseg == 0; /* "/" is a prefix */
        for (int j = 0; j < nroutes; j++)
            taken = taken ||
                    (same_pattern(rt, &routes[j]) && overlaps(rt, &routes[j]));
        rc = gh_router_add(fwd, method_sets[rt->msel].s, rt->pattern, handler,
                           (void *)(intptr_t)rt->id);
        check(rc == (taken ? GH_EEXIST : 0),
              "EEXIST exactly for a method the pattern has already");
        if (rc == 0)
            nroutes++;
    }
    for (int i = nroutes - 1; i >= 0; i--)
        check(gh_router_add(rev, method_sets[routes[i].msel].s,
                            routes[i].pattern, handler,
                            (void *)(intptr_t)routes[i].id) == 0,
              "the same routes in reverse order are all accepted");
    expect_match(fwd, routes, nroutes, method, (const char *)data + used,
                 size - used);
    expect_match(rev, routes, nroutes, method, (const char *)data + used,
                 size - used);
    gh_router_free(fwd);
    gh_router_free(rev);
    return 0;
}
