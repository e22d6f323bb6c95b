/*
 * forwarded.c - the walk of the forwarding headers that names the real
 * client behind trusted proxies.
 *
 * Only a peer in trusted_proxies is believed, and then only as far as the
 * chain stays trusted: each proxy appends the address it got the request
 * from, so the entries are read right to left, and the first one that is
 * not a trusted proxy is the client (nginx's real_ip_recursive).  Anything
 * to the left of it was written by the client and is ignored.  A client
 * controls every byte here, so everything is bounded (the fields are
 * within max_header_bytes, the walk within max_forwarded_hops) and a
 * malformed entry ends the walk at the last address that was good.
 *
 * The entries are split left to right, respecting quoted strings (a
 * Forwarded host="a,b" is one entry), into a ring that keeps the last
 * max_hops of them: the walk needs only those.
 *
 * The request glue (the fields of the configured header, the scheme and
 * host, request IDs) is in client.c; this file is pure, for the unit
 * tests and fuzz_forwarded.
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "http/forwarded.h"

typedef struct span {
    const char *p;
    size_t n;
} span_t;


int gh__fwd_kind(const char *name)
{
    if (!name || strcasecmp(name, "X-Forwarded-For") == 0)
        return GH__FWD_XFF;
    if (strcasecmp(name, "X-Real-IP") == 0)
        return GH__FWD_XRI;
    if (strcasecmp(name, "Forwarded") == 0)
        return GH__FWD_FORWARDED;
    return -1;
}

static span_t trim(const char *p, size_t n)
{
    gh__fwd_span_t s = gh__fwd_trim(p, n);

    return (span_t){s.p, s.n};
}

/* ---- one address ---- */

static bool parse_port(const char *p, size_t n, uint16_t *out)
{
    uint32_t v = 0;

    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(p[i] - '0');
    }
    *out = (uint16_t)v;
    return v <= 65535;
}

bool gh__ip_parse(int af, const char *p, size_t n, void *sa, socklen_t *len)
{
    struct sockaddr_in *in = sa;
    struct sockaddr_in6 *in6 = sa;
    char tmp[INET6_ADDRSTRLEN];

    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    if (af == AF_INET) {
        memset(in, 0, sizeof(*in));
        in->sin_family = AF_INET;
        *len = sizeof(*in);
        return inet_pton(AF_INET, tmp, &in->sin_addr) == 1;
    }
    memset(in6, 0, sizeof(*in6));
    in6->sin6_family = AF_INET6;
    *len = sizeof(*in6);
    return inet_pton(AF_INET6, tmp, &in6->sin6_addr) == 1;
}

/*
 * A node: "1.2.3.4", "1.2.3.4:80", "2001:db8::1", "[2001:db8::1]",
 * "[2001:db8::1]:80" (a port "_name" is obfuscated: dropped).  1 and the
 * address in a; 0 for "unknown" or an obfuscated "_name"; -1 malformed.
 */
static int parse_node(span_t s, gh__addr_t *a, socklen_t *len)
{
    const char *colon, *end, *close;
    uint16_t port = 0;
    size_t hl;

    if (s.n == 0)
        return -1; /* s.p may be NULL: an element without for= */
    end = s.p + s.n;
    if (s.p[0] == '_' || (s.n == 7 && strncasecmp(s.p, "unknown", 7) == 0))
        return 0;
    if (s.p[0] == '[') {
        if (!(close = memchr(s.p, ']', s.n)) ||
            !gh__ip_parse(AF_INET6, s.p + 1, (size_t)(close - s.p - 1), a,
                          len))
            return -1;
        colon = close + 1 < end ? close + 1 : NULL;
        if (colon && *colon != ':')
            return -1;
    } else if ((colon = memchr(s.p, ':', s.n)) &&
               memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
        return gh__ip_parse(AF_INET6, s.p, s.n, a, len) ? 1 : -1; /* bare v6 */
    } else {
        hl = colon ? (size_t)(colon - s.p) : s.n;
        if (!gh__ip_parse(AF_INET, s.p, hl, a, len))
            return -1;
    }
    if (colon && !(colon[1] == '_' && end - colon > 2) &&
        !parse_port(colon + 1, (size_t)(end - colon - 1), &port))
        return -1;
    if (a->sa.sa_family == AF_INET)
        a->in.sin_port = htons(port);
    else
        a->in6.sin6_port = htons(port);
    return 1;
}

/* ---- Forwarded elements (RFC 7239 4) ---- */

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

typedef struct element {
    span_t for_, proto, host;  /* values, unquoted; n == 0: absent */
    bool for_escaped;          /* for= held a quoted-pair */
} element_t;

/* The value at s.p[*i]: a token or a quoted string.  false if neither. */
static bool pair_value(span_t s, size_t *i, span_t *v, bool *escaped)
{
    size_t j = *i;

    *escaped = false;
    if (j < s.n && s.p[j] == '"') {
        for (j++; j < s.n && s.p[j] != '"'; j++) {
            if (s.p[j] == '\\') {
                *escaped = true;
                j++;
            }
        }
        if (j >= s.n)
            return false;
        *v = (span_t){s.p + *i + 1, j - *i - 1};
        *i = j + 1;
        return true;
    }
    while (j < s.n && is_tchar((unsigned char)s.p[j]))
        j++;
    if (j == *i)
        return false;
    *v = (span_t){s.p + *i, j - *i};
    *i = j;
    return true;
}

static bool key_is(span_t key, const char *name)
{
    return key.n == strlen(name) && strncasecmp(key.p, name, key.n) == 0;
}

/* Skip spaces and tabs from s.p[i]. */
static size_t skip_ows(span_t s, size_t i)
{
    while (i < s.n && (s.p[i] == ' ' || s.p[i] == '\t'))
        i++;
    return i;
}

/* One element: pairs separated by ';'.  false if malformed.  A quoted
 * value with a quoted-pair is kept only for for= (marked: no address
 * needs one), never for proto= or host=. */
static bool parse_element(span_t s, element_t *e)
{
    span_t key, v;
    size_t i = 0;
    bool esc;

    memset(e, 0, sizeof(*e));
    for (;;) {
        i = skip_ows(s, i);
        key.p = s.p + i;
        while (i < s.n && is_tchar((unsigned char)s.p[i]))
            i++;
        key.n = (size_t)(s.p + i - key.p);
        if (key.n == 0 || i >= s.n || s.p[i++] != '=' ||
            !pair_value(s, &i, &v, &esc))
            return false;
        if (key_is(key, "for")) {
            e->for_ = v;
            e->for_escaped = esc;
        } else if (key_is(key, "proto") && !esc) {
            e->proto = v;
        } else if (key_is(key, "host") && !esc) {
            e->host = v;
        }
        i = skip_ows(s, i);
        if (i == s.n)
            return true;
        if (s.p[i++] != ';')
            return false;
    }
}

/* ---- the walk ---- */

typedef struct ring {
    span_t e[GH__FWD_HOPS_MAX];
    uint32_t n, cap;           /* entries seen; the last cap are kept */
} ring_t;

/* Split v into entries at commas outside quoted strings. */
static void split(ring_t *r, const char *v)
{
    const char *start = v;
    bool quoted = false;

    for (const char *p = v;; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == '\\' && quoted && p[1])
            p++;
        else if ((*p == ',' && !quoted) || !*p) {
            r->e[r->n++ % r->cap] = trim(start, (size_t)(p - start));
            if (!*p)
                return;
            start = p + 1;
        }
    }
}

/* An entry as an address (parse_node()); e is its element (Forwarded). */
static int entry_node(const gh__fwd_t *f, span_t s, element_t *e,
                      gh__addr_t *a, socklen_t *len)
{
    if (f->kind != GH__FWD_FORWARDED)
        return parse_node(s, a, len);
    if (!parse_element(s, e) || e->for_escaped)
        return -1;
    return parse_node(e->for_, a, len);
}

void gh__fwd_walk(gh__fwd_t *f)
{
    ring_t r = {.cap = f->max_hops};
    element_t e, chosen = {0};
    gh__addr_t a;
    socklen_t len;
    uint32_t i, have;

    f->hops = 0;
    f->proto = f->host = NULL;
    if (r.cap < 1 || r.cap > GH__FWD_HOPS_MAX ||
        !gh_netlist_match(f->trusted, &f->client.sa, f->client_len))
        return;
    for (int k = 0; k < f->nvalues; k++)
        split(&r, f->values[k]);
    have = r.n < r.cap ? r.n : r.cap;
    for (i = 0; i < have; i++) {
        span_t s = r.e[(r.n - 1 - i) % r.cap];
        if (entry_node(f, s, &e, &a, &len) <= 0)
            break;
        f->client = a;
        f->client_len = len;
        f->hops++;
        chosen = e;
        if (!f->recursive || !gh_netlist_match(f->trusted, &a.sa, len))
            break;
    }
    if (f->kind != GH__FWD_FORWARDED)
        return;
    if (f->hops == 0 && !(have && parse_element(r.e[(r.n - 1) % r.cap],
                                                &chosen)))
        return;
    if (chosen.proto.n)
        f->proto = chosen.proto.p, f->proto_len = chosen.proto.n;
    if (chosen.host.n)
        f->host = chosen.host.p, f->host_len = chosen.host.n;
}

gh__fwd_span_t gh__fwd_trim(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return (gh__fwd_span_t){p, n};
}
