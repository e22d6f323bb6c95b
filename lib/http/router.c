/*
 * router.c - the method and path router (gh_router_t): patterns, the
 * segment trie and matching.  gh_router_serve() lives in router_serve.c,
 * the only part that calls into the request code.
 *
 * Patterns.  A pattern is a list of segments plus a prefix flag:
 * "/users/{id}/files/" is "users", {id}, "files", prefix.  A pattern ending
 * in "/" or "/ *" (no space) is a prefix route; "/" alone matches every
 * path.  Literal segments are percent-decoded when added, so "/a%62" and
 * "/ab" are one pattern and a literal '%' is written "%25".  Refused with
 * GH_EINVAL: no leading '/', an empty segment ("//"), a '*' anywhere but as
 * the last segment, '{' or '}' in a literal (write %2A, %7B, %7D), a name that
 * is not [A-Za-z_][A-Za-z0-9_]*, a name twice, more than
 * GH__ROUTE_MAX_PARAMS names or GH__ROUTE_MAX_SEGMENTS segments, controls,
 * spaces, '?' or '#', and bad escapes or %00.
 *
 * The trie.  Patterns share a trie of segments.  A node has its literal
 * children in an array sorted by bytes (binary search), at most one
 * parameter child (shared by every {name} at that position: names belong
 * to routes, not nodes) and two lists of the routes ending there, exact and
 * prefix, in the order they were added.  A route is a method set (a 64-bit
 * mask over the router's method table, or "any"), a handler and its
 * parameter names.  One pattern may carry several routes whose explicit
 * methods are disjoint, plus one any-method route as their fallback; an
 * overlap is GH_EEXIST.  A router is built before it serves and only read
 * after, so any number of threads match on it at once without a lock.
 *
 * Matching works on the raw path.  One pass checks its escapes (a bad one
 * or %00: GH__ROUTE_BAD_PATH).  Then a depth-first walk descends the trie a
 * path segment at a time, comparing the raw segment with the sorted
 * literals while decoding it on the fly, so "/a%62c" matches "/abc" and
 * "%2F" stays inside its segment.  Nothing is allocated: parameter values
 * are spans of the raw path.  The walk never goes deeper than the trie, so
 * a long path costs the escape check plus one memchr per trie level.
 *
 * Precedence, deterministic and independent of the order routes were
 * added:
 *   1. An exact route beats every prefix route.
 *   2. Otherwise the patterns compare segment by segment from the left: at
 *      the first position where they differ, a literal beats a {param} and
 *      both beat the end of a prefix route.  So of two prefix routes on one
 *      line the longer wins ("/a/b/" over "/a/"), and "/a/b/" beats
 *      "/a/{x}/c/" for "/a/b/c/d".  The walk visits the literal child, then
 *      the parameter child, then (for prefix routes) the node itself, so
 *      the first route it finds is the best one.
 *   3. Among the routes of one pattern: the one naming the method, then
 *      (for HEAD) the one naming GET, then the any-method one.
 * A route whose pattern matches but whose methods do not is passed over
 * and the walk goes on: with "GET /a/{x}" and "POST /a/b", GET /a/b goes to
 * the first.  Only when no route matches both is the answer 405, with every
 * method of the routes matching the path in Allow (so an any-method route
 * never gives 405), in a fixed order: the standard methods first, then
 * others in the order the router first saw them.
 *
 * What does not match.  Prefix routes need their slash: "/static/" matches
 * "/static/" and "/static/x/y" but not "/static" (Go would redirect; we
 * answer 404 unless another route takes it).  An exact "/a" does not match
 * "/a/".  A {param} matches one non-empty segment.  Nothing is normalised:
 * "." and ".." are ordinary segments and "//" holds an empty one.  A target
 * not starting with '/' ("*" of OPTIONS *, or "") matches nothing.
 */
#include "config.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gohttpd/error.h"
#include "gohttpd/http.h"
#include "http/parse.h"
#include "http/router.h"

struct node;

/* A literal child: its decoded segment (owned) and the node below it. */
struct edge {
    char *lit;
    uint32_t len;
    struct node *child;
};

struct node {
    struct edge *lits;    /* sorted by lit_cmp(); owned */
    uint32_t nlits;       /* entries in use */
    uint32_t caplits;     /* entries allocated */
    struct node *param;   /* the {name} child, or NULL; owned */
    struct route *exact;  /* routes "/.../this", in order added; owned */
    struct route *prefix; /* routes "/.../this/", likewise */
};

struct route {
    struct route *next; /* the node's exact or prefix list */
    uint64_t mask;      /* bit i: the router's methods[i] */
    bool any;           /* any method (mask is 0) */
    gh_handler_fn fn;
    void *udata;
    int nparams;
    const char *names[GH__ROUTE_MAX_PARAMS]; /* into buf */
    char buf[]; /* the names, NUL-terminated, back to back */
};

/*
 * The standard methods hold the first table slots, so that Allow lists them
 * in this order whatever order routes were added in.
 */
static const char *const std_methods[] = {
    "GET",    "HEAD",    "POST",    "PUT",   "PATCH",
    "DELETE", "OPTIONS", "CONNECT", "TRACE",
};
#define NSTD ((int)(sizeof std_methods / sizeof std_methods[0]))
#define M_GET 0
#define M_HEAD 1
#define BIT(i) ((uint64_t)1 << (i))

struct gh_router {
    struct node root;
    const char *methods[GH__ROUTE_MAX_METHODS]; /* past NSTD: owned */
    int nmethods;
    size_t allow_max;    /* every method name plus ", ", plus NUL */
    gh_handler_fn nf_fn; /* the not-found handler, or NULL */
    void *nf_udata;
};

/* ---- percent-decoding ------------------------------------------------ */

ssize_t gh__route_unescape(const char *in, size_t len, char *out)
{
    ssize_t n = gh__http_unescape(in, len, out, false);

    return n < 0 ? GH_EINVAL : n;
}

/* Checked once per match, so that the walk may decode without checks. */
static bool path_escapes_ok(const char *p, size_t len)
{
    const char *end = p + len;

    while ((p = memchr(p, '%', (size_t)(end - p))) != NULL) {
        if (gh__http_escape_at(p, (size_t)(end - p)) < 0)
            return false;
        p += 3;
    }
    return true;
}

/*
 * Compare a raw path segment, decoding it as it goes, with a decoded
 * literal, in lit_cmp()'s order.  The escapes were checked already.
 */
static int seg_cmp(const char *raw, size_t rlen, const char *lit, size_t llen)
{
    size_t i = 0, j = 0;

    while (i < rlen && j < llen) {
        unsigned char c = (unsigned char)raw[i];
        unsigned char d = (unsigned char)lit[j++];
        if (c == '%') {
            c = (unsigned char)gh__http_escape_at(raw + i, rlen - i);
            i += 3;
        } else {
            i++;
        }
        if (c != d)
            return c < d ? -1 : 1;
    }
    return i < rlen ? 1 : j < llen ? -1 : 0;
}

static int lit_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* ---- methods --------------------------------------------------------- */

static bool is_tchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int method_find(const gh_router_t *r, const char *m, size_t len)
{
    for (int i = 0; i < r->nmethods; i++)
        if (strncmp(r->methods[i], m, len) == 0 && r->methods[i][len] == '\0')
            return i;
    return -1;
}

/* The table index of method m (len bytes), adding it if new. */
static int method_intern(gh_router_t *r, const char *m, size_t len)
{
    int i = method_find(r, m, len);
    char *copy;

    if (i >= 0)
        return i;
    if (r->nmethods == GH__ROUTE_MAX_METHODS)
        return GH_EINVAL;
    if ((copy = strndup(m, len)) == NULL)
        return GH_ENOMEM;
    r->methods[r->nmethods] = copy;
    r->allow_max += len + 2;
    return r->nmethods++;
}

static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/*
 * Parse "GET,POST" (blanks around the commas allowed) into a mask; NULL or
 * "*" alone is any method.  Names are case-sensitive, as in HTTP.
 */
static int parse_methods(gh_router_t *r, const char *s, uint64_t *mask,
                         bool *any)
{
    *mask = 0;
    *any = s == NULL ||
           (*skip_ows(s) == '*' && *skip_ows(skip_ows(s) + 1) == '\0');
    if (*any)
        return 0;
    for (;;) {
        const char *tok = skip_ows(s);
        size_t len = 0;
        int i;
        while (is_tchar(tok[len]))
            len++;
        s = skip_ows(tok + len);
        if (len == 0 || (len == 1 && tok[0] == '*') || (*s && *s != ','))
            return GH_EINVAL;
        if ((i = method_intern(r, tok, len)) < 0)
            return i;
        *mask |= BIT(i);
        if (*s++ == '\0')
            return 0;
    }
}

/* ---- patterns -------------------------------------------------------- */

struct pseg {
    const char *s; /* literal: decoded, in pat.buf; param: the name */
    uint32_t len;
    bool param;
};

struct pat {
    struct pseg seg[GH__ROUTE_MAX_SEGMENTS];
    int nseg;
    int nparams;
    bool prefix;
    char *buf; /* decoded literals; malloc */
    char *out; /* where the next literal goes in buf */
};

static bool valid_name(const char *s, size_t len)
{
    if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') ||
              (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return true;
}

static int add_param(struct pat *pt, const char *s, size_t len)
{
    struct pseg *sg = &pt->seg[pt->nseg];

    if (len < 2 || s[len - 1] != '}' || !valid_name(s + 1, len - 2) ||
        pt->nparams == GH__ROUTE_MAX_PARAMS)
        return GH_EINVAL;
    for (int i = 0; i < pt->nseg; i++)
        if (pt->seg[i].param && pt->seg[i].len == len - 2 &&
            memcmp(pt->seg[i].s, s + 1, len - 2) == 0)
            return GH_EINVAL;
    sg->s = s + 1;
    sg->len = (uint32_t)(len - 2);
    sg->param = true;
    pt->nparams++;
    pt->nseg++;
    return 0;
}

static int add_literal(struct pat *pt, const char *s, size_t len)
{
    struct pseg *sg = &pt->seg[pt->nseg];
    ssize_t n;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f || strchr("{}*?#", c) != NULL)
            return GH_EINVAL;
    }
    if ((n = gh__route_unescape(s, len, pt->out)) < 0)
        return (int)n;
    sg->s = pt->out;
    sg->len = (uint32_t)n;
    sg->param = false;
    pt->out += n;
    pt->nseg++;
    return 0;
}

static int add_segment(struct pat *pt, const char *s, size_t len)
{
    if (len == 0 || (len == 1 && s[0] == '*') ||
        pt->nseg == GH__ROUTE_MAX_SEGMENTS)
        return GH_EINVAL;
    return s[0] == '{' ? add_param(pt, s, len) : add_literal(pt, s, len);
}

/* Split p into pt; on success the caller frees pt->buf. */
static int parse_pattern(const char *p, struct pat *pt)
{
    int rc = 0;

    pt->nseg = pt->nparams = 0;
    pt->prefix = false;
    pt->buf = NULL;
    if (p == NULL || p[0] != '/')
        return GH_EINVAL;
    if ((pt->buf = pt->out = malloc(strlen(p))) == NULL)
        return GH_ENOMEM;
    for (size_t i = 1, e;; i = e + 1) {
        e = i + strcspn(p + i, "/");
        if (p[e] == '\0' && (e == i || (e == i + 1 && p[i] == '*'))) {
            pt->prefix = true;
            break;
        }
        if ((rc = add_segment(pt, p + i, e - i)) < 0 || p[e] == '\0')
            break;
    }
    if (rc < 0)
        free(pt->buf);
    return rc;
}

/* ---- building the trie ----------------------------------------------- */

/* The index of the first literal not below (s, len). */
static uint32_t lit_lower_bound(const struct node *n, const char *s, size_t len)
{
    uint32_t lo = 0, hi = n->nlits;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (lit_cmp(n->lits[mid].lit, n->lits[mid].len, s, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int grow_lits(struct node *n)
{
    uint32_t cap = n->caplits ? n->caplits * 2 : 4;
    struct edge *e = realloc(n->lits, cap * sizeof *e);

    if (e == NULL)
        return GH_ENOMEM;
    n->lits = e;
    n->caplits = cap;
    return 0;
}

static struct node *lit_child(struct node *n, const struct pseg *sg)
{
    uint32_t i = lit_lower_bound(n, sg->s, sg->len);
    struct edge e;

    if (i < n->nlits &&
        lit_cmp(n->lits[i].lit, n->lits[i].len, sg->s, sg->len) == 0)
        return n->lits[i].child;
    if (n->nlits == n->caplits && grow_lits(n) < 0)
        return NULL;
    e.len = sg->len;
    e.lit = malloc(sg->len + 1);
    e.child = calloc(1, sizeof *e.child);
    if (e.lit == NULL || e.child == NULL) {
        free(e.lit);
        free(e.child);
        return NULL;
    }
    memcpy(e.lit, sg->s, sg->len);
    e.lit[sg->len] = '\0';
    memmove(&n->lits[i + 1], &n->lits[i], (n->nlits - i) * sizeof e);
    n->lits[i] = e;
    n->nlits++;
    return e.child;
}

/*
 * The node the pattern ends at, created as needed.  On GH_ENOMEM the nodes
 * made so far stay: empty nodes match nothing and are freed with the rest.
 */
static struct node *pattern_node(gh_router_t *r, const struct pat *pt)
{
    struct node *n = &r->root;

    for (int i = 0; i < pt->nseg && n != NULL; i++) {
        if (!pt->seg[i].param)
            n = lit_child(n, &pt->seg[i]);
        else if (n->param != NULL)
            n = n->param;
        else
            n = n->param = calloc(1, sizeof *n);
    }
    return n;
}

static struct route *route_new(const struct pat *pt)
{
    size_t bytes = 0;
    struct route *rt;
    char *p;

    for (int i = 0; i < pt->nseg; i++)
        bytes += pt->seg[i].param ? pt->seg[i].len + 1 : 0;
    if ((rt = calloc(1, sizeof *rt + bytes)) == NULL)
        return NULL;
    p = rt->buf;
    for (int i = 0; i < pt->nseg; i++) {
        if (!pt->seg[i].param)
            continue;
        memcpy(p, pt->seg[i].s, pt->seg[i].len);
        p[pt->seg[i].len] = '\0';
        rt->names[rt->nparams++] = p;
        p += pt->seg[i].len + 1;
    }
    return rt;
}

/* Append rt unless a route of the list takes one of its methods. */
static int list_add(struct route **list, struct route *rt)
{
    for (; *list != NULL; list = &(*list)->next)
        if (((*list)->any && rt->any) || ((*list)->mask & rt->mask) != 0)
            return GH_EEXIST;
    *list = rt;
    return 0;
}

/* ---- the public calls ------------------------------------------------ */

gh_router_t *gh_router_new(void)
{
    gh_router_t *r = calloc(1, sizeof *r);

    if (r == NULL)
        return NULL;
    r->allow_max = 1;
    for (int i = 0; i < NSTD; i++) {
        r->methods[i] = std_methods[i];
        r->allow_max += strlen(std_methods[i]) + 2;
    }
    r->nmethods = NSTD;
    return r;
}

static void routes_free(struct route *rt)
{
    while (rt != NULL) {
        struct route *next = rt->next;
        free(rt);
        rt = next;
    }
}

/* Recursion is bounded by GH__ROUTE_MAX_SEGMENTS. */
static void node_fini(struct node *n)
{
    for (uint32_t i = 0; i < n->nlits; i++) {
        node_fini(n->lits[i].child);
        free(n->lits[i].child);
        free(n->lits[i].lit);
    }
    free(n->lits);
    if (n->param != NULL) {
        node_fini(n->param);
        free(n->param);
    }
    routes_free(n->exact);
    routes_free(n->prefix);
}

void gh_router_free(gh_router_t *r)
{
    if (r == NULL)
        return;
    node_fini(&r->root);
    for (int i = NSTD; i < r->nmethods; i++)
        free((char *)r->methods[i]);
    free(r);
}

int gh_router_add(gh_router_t *r, const char *methods, const char *pattern,
                  gh_handler_fn fn, void *udata)
{
    struct pat pt;
    struct route *rt = NULL;
    struct node *n;
    uint64_t mask;
    bool any;
    int rc;

    if (r == NULL || fn == NULL)
        return GH_EINVAL;
    if ((rc = parse_pattern(pattern, &pt)) < 0)
        return rc;
    if ((rc = parse_methods(r, methods, &mask, &any)) < 0)
        goto out;
    rc = GH_ENOMEM;
    if ((n = pattern_node(r, &pt)) == NULL || (rt = route_new(&pt)) == NULL)
        goto out;
    rt->mask = mask;
    rt->any = any;
    rt->fn = fn;
    rt->udata = udata;
    if ((rc = list_add(pt.prefix ? &n->prefix : &n->exact, rt)) == 0)
        rt = NULL;
out:
    free(rt);
    free(pt.buf);
    return rc;
}

int gh_router_not_found(gh_router_t *r, gh_handler_fn fn, void *udata)
{
    if (r == NULL)
        return GH_EINVAL;
    r->nf_fn = fn;
    r->nf_udata = udata;
    return 0;
}

size_t gh__router_allow_max(const gh_router_t *r)
{
    return r->allow_max;
}

/* ---- matching -------------------------------------------------------- */

enum walk_mode { W_EXACT, W_PREFIX, W_ALLOW };

/* One walk over the trie; the params stack follows the current branch. */
struct walk {
    const char *path;
    size_t len;
    int midx; /* the method's table index, or -1 */
    enum walk_mode mode;
    uint64_t allow; /* W_ALLOW: methods of every matching route */
    int np;         /* params on the current branch */
    gh__route_span_t params[GH__ROUTE_MAX_PARAMS];
    const struct route *found;
    size_t rest; /* where found's unmatched part begins */
    bool prefix; /* found is a prefix route */
};

/* The route of list answering the method, by rule 3 at the top. */
static const struct route *pick(const struct route *rt, int midx)
{
    const struct route *get = NULL, *any = NULL;

    for (; rt != NULL; rt = rt->next) {
        if (rt->any)
            any = rt;
        else if (midx >= 0 && (rt->mask & BIT(midx)) != 0)
            return rt;
        else if (midx == M_HEAD && (rt->mask & BIT(M_GET)) != 0)
            get = rt;
    }
    return get != NULL ? get : any;
}

/* A node's route list matches the path here; true ends the walk. */
static bool visit(struct walk *w, const struct route *list, size_t rest,
                  bool prefix)
{
    if (w->mode == W_ALLOW) {
        for (; list != NULL; list = list->next)
            w->allow |= list->mask;
        return false;
    }
    if ((w->found = pick(list, w->midx)) == NULL)
        return false;
    assert(w->found->nparams == w->np);
    w->rest = rest;
    w->prefix = prefix;
    return true;
}

static const struct node *find_lit(const struct node *n, const char *s,
                                   size_t len)
{
    uint32_t lo = 0, hi = n->nlits;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = seg_cmp(s, len, n->lits[mid].lit, n->lits[mid].len);
        if (c == 0)
            return n->lits[mid].child;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/*
 * Walk the subtree of n, which matched the path up to pos (the end, or the
 * '/' before the next segment), in precedence order: literal child,
 * parameter child, then n's own prefix routes.  Depth is bounded by the
 * trie's, GH__ROUTE_MAX_SEGMENTS.
 */
static bool walk(struct walk *w, const struct node *n, size_t pos)
{
    size_t s = pos + 1, e;
    const struct node *c;
    const char *slash;

    if (pos == w->len)
        return w->mode != W_PREFIX && visit(w, n->exact, pos, false);
    slash = memchr(w->path + s, '/', w->len - s);
    e = slash != NULL ? (size_t)(slash - w->path) : w->len;
    if ((c = find_lit(n, w->path + s, e - s)) != NULL && walk(w, c, e))
        return true;
    if (n->param != NULL && e > s) {
        assert(w->np < GH__ROUTE_MAX_PARAMS);
        w->params[w->np].off = (uint32_t)s;
        w->params[w->np++].len = (uint32_t)(e - s);
        if (walk(w, n->param, e))
            return true;
        w->np--;
    }
    return w->mode != W_EXACT && visit(w, n->prefix, s, true);
}

/* Cut after the last whole method that fits; see router.h. */
static void format_allow(const gh_router_t *r, uint64_t mask, char *out,
                         size_t cap)
{
    size_t n = 0;

    if (cap == 0)
        return;
    if ((mask & BIT(M_GET)) != 0)
        mask |= BIT(M_HEAD);
    out[0] = '\0';
    for (int i = 0; i < r->nmethods; i++) {
        size_t len = strlen(r->methods[i]), sep = n > 0 ? 2 : 0;
        if ((mask & BIT(i)) == 0)
            continue;
        if (n + sep + len + 1 > cap)
            break;
        memcpy(out + n, ", ", sep);
        memcpy(out + n + sep, r->methods[i], len + 1);
        n += sep + len;
    }
}

static int method_index(const gh_router_t *r, const char *method)
{
    for (int i = 0; method != NULL && i < r->nmethods; i++)
        if (strcmp(r->methods[i], method) == 0)
            return i;
    return -1;
}

static int found(struct walk *w, gh__route_match_t *m)
{
    m->fn = w->found->fn;
    m->udata = w->found->udata;
    m->nparams = w->np;
    m->rest = (uint32_t)w->rest;
    m->prefix = w->prefix;
    for (int i = 0; i < w->np; i++) {
        m->names[i] = w->found->names[i];
        m->values[i] = w->params[i];
    }
    return GH__ROUTE_FOUND;
}

int gh__router_match(const gh_router_t *r, const char *method,
                     const char *raw_path, size_t path_len,
                     gh__route_match_t *m, char *allow, size_t allow_cap)
{
    struct walk w = {.path = raw_path, .len = path_len};

    m->fn = NULL;
    m->udata = NULL;
    m->nparams = 0;
    m->rest = 0;
    m->prefix = false;
    if (allow_cap > 0)
        allow[0] = '\0';
    if (path_len > UINT32_MAX || !path_escapes_ok(raw_path, path_len))
        return GH__ROUTE_BAD_PATH;
    if (path_len > 0 && raw_path[0] == '/') {
        /* Rule 1: a whole walk for exact routes before one for prefixes. */
        w.midx = method_index(r, method);
        w.mode = W_EXACT;
        if (walk(&w, &r->root, 0))
            return found(&w, m);
        w.mode = W_PREFIX;
        if (walk(&w, &r->root, 0))
            return found(&w, m);
        w.mode = W_ALLOW;
        walk(&w, &r->root, 0);
        if (w.allow != 0) {
            format_allow(r, w.allow, allow, allow_cap);
            return GH__ROUTE_BAD_METHOD;
        }
    }
    m->fn = r->nf_fn;
    m->udata = r->nf_udata;
    return GH__ROUTE_NOT_FOUND;
}
