/*
 * forwarded.c - the real client, scheme and host behind trusted proxies,
 * and request IDs.
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
 * Request IDs come from a trusted peer's header when it is well formed,
 * else from a per-thread splitmix64 generator seeded by getrandom(2): 128
 * bits per ID, no lock, no system call after the first.  The generator
 * runs without parking, so its thread-local state is never read across a
 * yield (STYLE 4).
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "http/forwarded.h"

#define RID_MAX 128          /* an accepted incoming ID's longest */
#define FIELDS_MAX 16        /* header fields of one name looked at */

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
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return (span_t){p, n};
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

/* inet_pton() of p[0 .. n) as family af into a. */
static bool parse_ip(int af, const char *p, size_t n, gh__addr_t *a,
                     socklen_t *len)
{
    char tmp[INET6_ADDRSTRLEN];

    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    memset(a, 0, sizeof(*a));
    if (af == AF_INET) {
        a->in.sin_family = AF_INET;
        *len = sizeof(a->in);
        return inet_pton(AF_INET, tmp, &a->in.sin_addr) == 1;
    }
    a->in6.sin6_family = AF_INET6;
    *len = sizeof(a->in6);
    return inet_pton(AF_INET6, tmp, &a->in6.sin6_addr) == 1;
}

/*
 * A node: "1.2.3.4", "1.2.3.4:80", "2001:db8::1", "[2001:db8::1]",
 * "[2001:db8::1]:80" (a port "_name" is obfuscated: dropped).  1 and the
 * address in a; 0 for "unknown" or an obfuscated "_name"; -1 malformed.
 */
static int parse_node(span_t s, gh__addr_t *a, socklen_t *len)
{
    const char *colon, *end = s.p + s.n, *close;
    uint16_t port = 0;
    size_t hl;

    if (s.n == 0)
        return -1;
    if (s.p[0] == '_' || (s.n == 7 && strncasecmp(s.p, "unknown", 7) == 0))
        return 0;
    if (s.p[0] == '[') {
        if (!(close = memchr(s.p, ']', s.n)) ||
            !parse_ip(AF_INET6, s.p + 1, (size_t)(close - s.p - 1), a, len))
            return -1;
        colon = close + 1 < end ? close + 1 : NULL;
        if (colon && *colon != ':')
            return -1;
    } else if ((colon = memchr(s.p, ':', s.n)) &&
               memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
        return parse_ip(AF_INET6, s.p, s.n, a, len) ? 1 : -1; /* bare v6 */
    } else {
        hl = colon ? (size_t)(colon - s.p) : s.n;
        if (!parse_ip(AF_INET, s.p, hl, a, len))
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

/* ---- the request ---- */

/* Up to FIELDS_MAX values of the fields called name (the last ones). */
static int field_values(const gh_req_t *req, const char *name,
                        const char **out)
{
    const char *n, *v;
    int count = gh_req_header_count(req), k = 0;

    for (int i = 0; i < count; i++) {
        gh_req_header_at(req, i, &n, &v);
        if (strcasecmp(n, name) != 0)
            continue;
        if (k == FIELDS_MAX)
            memmove(out, out + 1, --k * sizeof(*out));
        out[k++] = v;
    }
    return k;
}

static const char *scheme_of(const char *p, size_t n)
{
    if (n == 5 && strncasecmp(p, "https", 5) == 0)
        return "https";
    if (n == 4 && strncasecmp(p, "http", 4) == 0)
        return "http";
    return NULL;
}

/* A host[:port] as a proxy may report it, copied into the arena. */
static const char *host_of(gh_req_t *req, const char *p, size_t n)
{
    char *h;

    if (n == 0 || n > GH__FWD_HOST_MAX ||
        strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789-._:[]") < n)
        return NULL;
    if ((h = gh_req_alloc(req, n + 1))) {
        memcpy(h, p, n);
        h[n] = '\0';
    }
    return h;
}

/* The last comma-separated entry of the last field called name. */
static span_t last_entry(const gh_req_t *req, const char *name)
{
    const char *vals[FIELDS_MAX], *c;
    int k = field_values(req, name, vals);

    if (k == 0)
        return (span_t){NULL, 0};
    c = strrchr(vals[k - 1], ',');
    c = c ? c + 1 : vals[k - 1];
    return trim(c, strlen(c));
}

/* The peer is trusted: believe what the proxies say. */
static void from_proxies(gh_req_t *req, const gh__server_cfg_t *cfg)
{
    static const char *const names[] = {"X-Forwarded-For", "X-Real-IP",
                                        "Forwarded"};
    const char *vals[FIELDS_MAX];
    gh__fwd_t f = {.trusted = cfg->trusted, .kind = cfg->real_ip,
                   .recursive = cfg->o.real_ip_recursive,
                   .max_hops = cfg->o.max_forwarded_hops, .values = vals,
                   .client = req->client, .client_len = req->client_len};
    span_t s;

    f.nvalues = field_values(req, names[f.kind], vals);
    gh__fwd_walk(&f);
    req->client = f.client;
    req->client_len = f.client_len;
    if (f.kind != GH__FWD_FORWARDED) {
        s = last_entry(req, "X-Forwarded-Proto");
        f.proto = s.p, f.proto_len = s.n;
        s = last_entry(req, "X-Forwarded-Host");
        f.host = s.p, f.host_len = s.n;
    }
    if (f.proto)
        req->fwd_scheme = scheme_of(f.proto, f.proto_len);
    if (f.host)
        req->fwd_host = host_of(req, f.host, f.host_len);
}

/* splitmix64: a fast generator whose every output is a full mix of its
 * state; per thread, seeded once from the kernel. */
static uint64_t rid_next(void)
{
    static __thread uint64_t state;
    uint64_t z;

    if (GH__UNLIKELY(state == 0)) {
        struct timespec ts;
        if (getrandom(&state, sizeof(state), GRND_NONBLOCK) !=
            (ssize_t)sizeof(state)) {
            clock_gettime(CLOCK_REALTIME, &ts);
            state = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^
                    (uint64_t)(uintptr_t)&state ^ (uint64_t)ts.tv_sec;
        }
        state |= 1;
    }
    z = (state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void rid_new(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t w[2] = {rid_next(), rid_next()};

    for (int i = 0; i < 32; i++)
        out[i] = hex[(w[i / 16] >> (4 * (i % 16))) & 15];
    out[32] = '\0';
}

static bool rid_ok(const char *v)
{
    size_t n = strlen(v);

    return n >= 1 && n <= RID_MAX &&
           strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789-_.:+/=@") == n;
}

void gh__req_forwarded(gh_req_t *req, bool parsed)
{
    const gh__server_cfg_t *cfg = req->ss->cfg;
    const gh__conn_t *c = req->ss->c;
    bool trusted;
    const char *v;

    req->client = c->peer;
    req->client_len = c->peer_len;
    /* Without a parsed head (a canned error) there is nothing to read. */
    trusted = parsed && cfg->trusted &&
              gh_netlist_match(cfg->trusted, &c->peer.sa, c->peer_len);
    if (trusted)
        from_proxies(req, cfg);
    if (!cfg->rid_header)
        return;
    v = trusted ? gh_req_header(req, cfg->rid_header) : NULL;
    if (v && rid_ok(v)) {
        req->id = v;
    } else {
        rid_new(req->idbuf);
        req->id = req->idbuf;
    }
}

const struct sockaddr *gh_req_client(const gh_req_t *req, socklen_t *len)
{
    *len = req->client_len;
    return &req->client.sa;
}

const char *gh_req_scheme(const gh_req_t *req)
{
    return req->fwd_scheme ? req->fwd_scheme : "http";
}

const char *gh_req_host(const gh_req_t *req)
{
    return req->fwd_host ? req->fwd_host : gh_req_header(req, "Host");
}

const char *gh_req_id(const gh_req_t *req)
{
    return req->id;
}
