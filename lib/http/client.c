/*
 * client.c - the request's real client, scheme, host and ID
 * (gh_req_client, gh_req_scheme, gh_req_host, gh_req_id).
 *
 * Each request works them out once, right after its head is prepared
 * (gh__req_forwarded), so handlers, the access log and plugins all see
 * the same answer.  Without trusted proxies that costs copying the peer;
 * with them, one network-list match for an untrusted peer, and for a
 * trusted one the walk of forwarded.c over the configured header's fields
 * plus the X-Forwarded-Proto/-Host (or Forwarded proto=/host=) values,
 * which are checked (http or https; a host of at most 255 host
 * characters) before anything believes them.
 *
 * Request IDs come from a trusted peer's header when it is well formed,
 * else from a per-thread splitmix64 generator seeded by getrandom(2): 128
 * bits per ID, no lock, no system call after the first.  The generator
 * runs without parking, so its thread-local state is never read across a
 * yield (STYLE 4).
 */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "http/http_impl.h"

#define RID_MAX 128          /* an accepted incoming ID's longest */
#define FIELDS_MAX 16        /* header fields of one name looked at */

typedef gh__fwd_span_t span_t;

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
    return gh__fwd_trim(c, strlen(c));
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
    if (req->fwd_scheme)
        return req->fwd_scheme;
    return req->ss->c->tls ? "https" : "http";
}

/* An absolute-form target's authority comes before Host (RFC 9112
 * 3.2.2): a proxy that forwards "GET http://a/ HTTP/1.1" with "Host: b"
 * asks for a. */
const char *gh_req_host(const gh_req_t *req)
{
    if (req->fwd_host)
        return req->fwd_host;
    return req->target_host ? req->target_host : gh_req_header(req, "Host");
}

const char *gh_req_id(const gh_req_t *req)
{
    return req->id;
}
