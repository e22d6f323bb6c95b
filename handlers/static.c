/*
 * static.c - the "static" handler plugin: serves the files under a
 * document root.
 *
 *     route / {
 *         handler static;
 *         root    ../www;
 *     }
 *
 * Settings (all optional but root):
 *
 *   root PATH               the directory to serve; relative to the
 *                           daemon's working directory.  It must exist
 *                           when the route is set up.
 *   index NAME...           files tried, in order, for a request ending in
 *                           '/'                     (default: index.html)
 *   mime_types PATH         a mime.types file ("type ext ext" lines, or
 *                           nginx's "types { type ext ext; }"), read at
 *                           init; it replaces the compiled-in table of
 *                           common web types        (default: compiled in)
 *   default_type TYPE       for extensions the table does not know
 *                                           (default: application/octet-stream)
 *   charset NAME|off        added to the text types, application/javascript
 *                           and application/json    (default: utf-8)
 *   cache_control VALUE|off sent as Cache-Control with every file, e.g.
 *                           "public, max-age=3600"  (default: off)
 *   precompressed on|off    serve FILE.br / FILE.gz in place of FILE when
 *                           Accept-Encoding allows it (Content-Encoding,
 *                           Vary: Accept-Encoding; Vary is sent for FILE
 *                           too whenever such a sibling exists)
 *                                                   (default: on)
 *   dotfiles on|off         serve paths with a segment starting with '.'
 *                           (otherwise they are 404) (default: off)
 *   symlinks on|off         follow symbolic links   (default: on)
 *   symlinks_outside on|off ... even to files outside the root (otherwise
 *                           such a link is 404)     (default: off)
 *   listing on|off          an HTML listing for a directory without an
 *                           index file (otherwise 403) (default: off)
 *   cache_entries N         answers kept in the open-file cache; 0: off
 *                                                   (default: 1024)
 *   cache_bytes SIZE        file bytes it keeps in memory (default: 16m)
 *   cache_file_max SIZE     the largest file kept in memory (default: 64k)
 *   cache_valid DURATION    how long the probes for index files and
 *                           precompressed siblings are trusted; 0: the
 *                           cache is off            (default: 1s)
 *   cache_watch on|off      check a cached file only after inotify(7)
 *                           reports a change on its way (otherwise at
 *                           every request)          (default: on)
 *
 * Requests.  GET and HEAD only (405 with Allow otherwise).  The file is the
 * route's "*" parameter (the rest of the path after a prefix route) or,
 * for an exact route, the whole path.  A segment "." or "..", an empty one
 * ("a//b"), an encoded '/' (%2F: a file name never contains one) and, with
 * dotfiles off, a segment starting with '.' are all 404, checked before
 * the disk is touched; static_fs.c then makes sure no symbolic link leads
 * out of the root.  A directory named without its trailing '/' is
 * redirected (301, query kept), unless the Location would name another
 * host to a browser ("//host", "/\\host": 404).  The file is looked up
 * on the worker when the kernel has every name and inode it takes cached,
 * else through gh_blocking() (static_fs.c), and the body goes out with
 * sendfile(2), or from memory (the open-file cache, below).
 *
 * Caching and ranges (RFC 9110).  A strong ETag made of the inode, size,
 * modification and change times, and Last-Modified.  If-Match and
 * If-Unmodified-Since give 412; If-None-Match (weak comparison) or, without
 * it, If-Modified-Since (ignored when its date is in the future) give 304.
 * A single "bytes" Range gives 206, an unsatisfiable one 416 with a
 * Content-Range that gives only the size; If-Range holds an entity tag
 * or a date, which counts only while it is a strong validator (see
 * gh__static_if_range).  A request for several ranges gets the whole file
 * with 200: serving multipart/byteranges buys little and is a known
 * amplification vector.  A precompressed variant has its own validators
 * and its ranges count bytes of the compressed file.
 *
 * The open-file cache (static_cache.c).  A plain file that was found is
 * remembered under the request's path: the resolved file (index included),
 * its fstat, ETag, Last-Modified, Content-Type and which compressed
 * siblings exist, and either an open descriptor or, for a file up to
 * cache_file_max, its bytes.  To check an entry costs one openat2(O_PATH)
 * with the same RESOLVE_ flags as a full lookup and one fstat: the path
 * must still lead, just as safely, to the same inode with the same type,
 * size, mtime and ctime, or the entry is dropped and the full lookup runs.
 * With cache_watch on, a hit checks only when inotify has reported a
 * change to the file or a directory on its way since the last check
 * (static_watch.c: one ioctl asks, and the kernel queues the report
 * before the changing call returns, so no request that starts after it
 * is served the old file); else every hit checks.  A small file then
 * leaves with its head in one write.  The index and sibling probes are
 * trusted for cache_valid.  A precompressed variant has an entry of its
 * own, used for the clients a full lookup would give it to.
 *
 * What the cache guarantees.  Every write to a file sets its ctime (which
 * no one can set by hand) to the kernel's coarse clock, so a change after
 * the bytes were read gives a ctime different from the one remembered,
 * unless the ctime taken then was itself that recent: two writes within
 * one clock tick (or one second, or two, on coarser file systems) can
 * leave the same size, mtime and ctime.  So bytes are kept only from a
 * file whose ctime is SETTLE_NS old when they are read (and unchanged
 * after); until then it is sent from its descriptor.  What stays unseen:
 * writes through a shared mmap (their times are stamped lazily), a clock
 * stepped back, or a writer stalled between stamping and copying for
 * longer than SETTLE_NS.
 *
 * Errors opening the file: absent, not a regular file or directory, or
 * refused by the checks above: 404; permission denied: 403; replaced
 * again and again while it was being opened (static_fs.c looks again each
 * time, so a deploy's rename never makes a file go missing): 503; anything
 * else is returned to the server, which answers 500 and logs it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gohttpd.h>

#include "static.h"

/* The precompressed variants, in order of preference. */
static const struct {
    const char *coding; /* in Accept-Encoding and Content-Encoding */
    const char *suffix; /* of the sibling file */
} encodings[] = {{"br", ".br"}, {"gzip", ".gz"}};
#define NENC ((int)(sizeof(encodings) / sizeof(*encodings)))

/* One configured route; read-only once init returns. */
typedef struct static_state {
    gh__static_cache_t cache; /* the one mutable part: see static_cache.c;
                               * first, so the unit test can read its counts */
    gh__static_root_t root;
    char **index;        /* index file names; malloc */
    int nindex;
    gh__static_mime_t mime;
    char *default_type;  /* charset included; malloc */
    char *cache_control; /* NULL: none; malloc */
    bool precompressed, dotfiles, listing;
    bool cache_watch;    /* change notifications for the cache */
} static_state_t;
_Static_assert(offsetof(static_state_t, cache) == 0, "the cache comes first");

/* A file younger than this (by its change time) is not kept in memory:
 * see "What the cache guarantees" above. */
#define SETTLE_NS (2 * GH_SECOND)

/* ---- settings -------------------------------------------------------- */

/* Work that init hands to the blocking pool: it may run on a goroutine. */
typedef struct init_job {
    static_state_t *st;
    const char *path;  /* root or mime_types */
    char err[512];     /* the reason, when it fails */
} init_job_t;

static int open_root_job(void *arg)
{
    init_job_t *j = arg;
    gh__static_root_t *r = &j->st->root;
    int rc = 0;

    r->fd = open(j->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->fd < 0)
        rc = -errno;
    else if (!(r->real = realpath(j->path, NULL)))
        rc = -errno;
    if (rc < 0)
        snprintf(j->err, sizeof(j->err), "%s", rc == GH_ENOTDIR
                 ? "not a directory" : gh_strerror(rc));
    else
        r->real_len = strlen(r->real);
    return rc;
}

static int load_mime_job(void *arg)
{
    init_job_t *j = arg;

    return gh__static_mime_load(&j->st->mime, j->path, j->err,
                                sizeof(j->err));
}

static int read_root(const gh_conf_section_t *conf, static_state_t *st)
{
    init_job_t j = {.st = st};
    int rc;

    if ((rc = gh_conf_get_str(conf, "root", NULL, &j.path)) < 0)
        return rc;
    if (!j.path || !*j.path)
        return gh_conf_errorf(conf, NULL, "static: the setting \"root\" "
                              "(the directory to serve) is required");
    if ((rc = gh_blocking(open_root_job, &j)) < 0) {
        gh_conf_errorf(conf, gh_conf_find(conf, "root"), "root %s: %s",
                       j.path, j.err);
        return rc == GH_ENOMEM ? rc : GH_EINVAL;
    }
    return 0;
}

/* "off", or a value checked by ok(); *out is a malloc'd copy or NULL. */
static int read_optional(const gh_conf_section_t *conf, const char *key,
                         const char *dflt, bool (*ok)(const char *),
                         char **out)
{
    const char *v;
    int rc;

    if ((rc = gh_conf_get_str(conf, key, dflt, &v)) < 0)
        return rc;
    if (!v || strcmp(v, "off") == 0)
        return 0;
    if (!ok(v))
        return gh_conf_errorf(conf, gh_conf_find(conf, key),
                              "%s: \"%s\" is not a valid value", key, v);
    return (*out = strdup(v)) ? 0 : GH_ENOMEM;
}

static bool ok_charset(const char *v)
{
    return *v && strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                           "TUVWXYZ0123456789-_.:+") == strlen(v);
}

static bool ok_header_value(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 && *v != '\t')
            return false;
    return true;
}

static int read_types(const gh_conf_section_t *conf, static_state_t *st)
{
    init_job_t j = {.st = st};
    char *charset = NULL;
    const char *dflt;
    int rc;

    if ((rc = read_optional(conf, "charset", "utf-8", ok_charset,
                            &charset)) < 0 ||
        (rc = gh_conf_get_str(conf, "mime_types", NULL, &j.path)) < 0 ||
        (rc = gh_conf_get_str(conf, "default_type",
                              "application/octet-stream", &dflt)) < 0)
        goto out;
    if (!gh__static_mime_valid(dflt)) {
        rc = gh_conf_errorf(conf, gh_conf_find(conf, "default_type"),
                            "default_type: \"%s\" is not a media type "
                            "(type/subtype)", dflt);
        goto out;
    }
    rc = j.path ? gh_blocking(load_mime_job, &j)
                : gh__static_mime_builtin(&st->mime);
    if (rc < 0 && j.path)
        gh_conf_errorf(conf, gh_conf_find(conf, "mime_types"),
                       "mime_types: %s", j.err);
    if (rc == 0)
        rc = gh__static_mime_finish(&st->mime, charset);
    if (rc == 0 && !(st->default_type = gh__static_ctype(dflt, charset)))
        rc = GH_ENOMEM;
out:
    free(charset);
    return rc;
}

static int read_index(const gh_conf_section_t *conf, static_state_t *st)
{
    static const char *const dflt[] = {"index.html"};
    const char *const *names;
    int n, rc;

    if ((rc = gh_conf_get_list(conf, "index", &names, &n)) < 0)
        return rc;
    if (n == 0) {
        names = dflt;
        n = 1;
    }
    if (!(st->index = calloc((size_t)n, sizeof(char *))))
        return GH_ENOMEM;
    for (int i = 0; i < n; i++) {
        const char *s = names[i];
        if (!*s || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, ".."))
            return gh_conf_errorf(conf, gh_conf_find(conf, "index"),
                                  "index: \"%s\" is not a file name", s);
        if (!(st->index[st->nindex++] = strdup(s)))
            return GH_ENOMEM;
    }
    return 0;
}

static int read_flags(const gh_conf_section_t *conf, static_state_t *st)
{
    gh__static_root_t *r = &st->root;
    int rc;

    if ((rc = gh_conf_get_bool(conf, "precompressed", true,
                               &st->precompressed)) < 0 ||
        (rc = gh_conf_get_bool(conf, "dotfiles", false, &st->dotfiles)) < 0 ||
        (rc = gh_conf_get_bool(conf, "listing", false, &st->listing)) < 0 ||
        (rc = gh_conf_get_bool(conf, "symlinks", true, &r->symlinks)) < 0 ||
        (rc = gh_conf_get_bool(conf, "symlinks_outside", false,
                               &r->outside)) < 0)
        return rc;
    if (r->outside && !r->symlinks)
        return gh_conf_errorf(conf, gh_conf_find(conf, "symlinks_outside"),
                              "symlinks_outside on needs symlinks on");
    return read_optional(conf, "cache_control", NULL, ok_header_value,
                         &st->cache_control);
}

static int read_cache(const gh_conf_section_t *conf, static_state_t *st)
{
    uint64_t bytes, file_max;
    int64_t entries, valid;
    int rc;

    if ((rc = gh_conf_get_int(conf, "cache_entries", 1024, 0, 1 << 20,
                              &entries)) < 0 ||
        (rc = gh_conf_get_size(conf, "cache_bytes", 16u << 20, &bytes)) < 0 ||
        (rc = gh_conf_get_size(conf, "cache_file_max", 64u << 10,
                               &file_max)) < 0 ||
        (rc = gh_conf_get_duration(conf, "cache_valid", GH_SECOND,
                                   &valid)) < 0 ||
        (rc = gh_conf_get_bool(conf, "cache_watch", true,
                               &st->cache_watch)) < 0)
        return rc;
    if (file_max > bytes)
        return gh_conf_errorf(conf, gh_conf_find(conf, "cache_file_max"),
                              "cache_file_max %llu is more than cache_bytes "
                              "%llu", (unsigned long long)file_max,
                              (unsigned long long)bytes);
    if (bytes > SIZE_MAX / 2 || valid < 0)
        return gh_conf_errorf(conf, gh_conf_find(conf, valid < 0
                              ? "cache_valid" : "cache_bytes"),
                              "%s: out of range", valid < 0 ? "cache_valid"
                              : "cache_bytes");
    /* Probes never trusted: every entry would be stale at once. */
    if (valid == 0)
        entries = 0;
    return gh__static_cache_init(&st->cache, (size_t)entries, (size_t)bytes,
                                 (size_t)file_max, valid);
}

static void static_fini(void *state)
{
    static_state_t *st = state;

    if (!st)
        return;
    gh__static_cache_fini(&st->cache);
    if (st->root.fd >= 0)
        close(st->root.fd);
    free(st->root.real);
    for (int i = 0; i < st->nindex; i++)
        free(st->index[i]);
    free(st->index);
    gh__static_mime_fini(&st->mime);
    free(st->default_type);
    free(st->cache_control);
    free(st);
}

static int static_init(const gh_conf_section_t *conf, void **state)
{
    static_state_t *st = calloc(1, sizeof(*st));
    int rc;

    if (!st)
        return GH_ENOMEM;
    st->root.fd = -1;
    st->cache.watch.fd = -1;
    st->cache.lru.prev = st->cache.lru.next = &st->cache.lru;
    /* The root last: its errors are the likeliest, the others cheaper. */
    if ((rc = read_flags(conf, st)) < 0 || (rc = read_index(conf, st)) < 0 ||
        (rc = read_cache(conf, st)) < 0 ||
        (rc = read_types(conf, st)) < 0 || (rc = read_root(conf, st)) < 0 ||
        (rc = gh__static_watch_init(&st->cache.watch, st->root.fd,
                                    st->cache_watch && st->cache.buckets
                                        ? st->cache.max_entries
                                        : 0)) < 0) {
        static_fini(st);
        return rc;
    }
    *state = st;
    return 0;
}

/* ---- finding the file (on the blocking pool) ------------------------- */

enum { FOUND_FILE, FOUND_REDIRECT, FOUND_DIR };

/* One request's lookup: what serve asks and what the pool found. */
typedef struct lookup {
    const static_state_t *st;
    const char *rel;       /* the path under the root, checked */
    bool slash;            /* the request's path ended in '/' */
    bool cached;           /* the fast path: see static_fs.c */
    bool accept[NENC];     /* the codings the client takes */
    int pref[NENC];        /* every coding, those taken first, by weight */
    int fd;                /* out: the file or directory; -1 */
    struct stat sb;        /* out: its fstat */
    int index;             /* out: the index file served, or -1 */
    int enc;               /* out: the encoding variant served, or -1 */
    bool vary;             /* out: a compressed sibling exists */
    unsigned siblings;     /* out: bit e: variant e exists */
    gh__static_dirent_t *ents; /* out: a listing's entries (malloc) */
    ssize_t nents;
} lookup_t;

/* If path is a regular file, make it the one lk serves: 1.  0 if it is
 * missing or not a regular file; GH_E* on another error. */
static int adopt_file(lookup_t *lk, const char *path)
{
    struct stat sb;
    int fd = gh__static_open(&lk->st->root, path, &sb, lk->cached);

    if (fd == GH_ENOENT)
        return 0;
    if (fd < 0)
        return fd;
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return 0;
    }
    close(lk->fd);
    lk->fd = fd;
    lk->sb = sb;
    return 1;
}

/* dir's first index file that is a regular file: adopt it. */
static int find_index(lookup_t *lk, char *path)
{
    const static_state_t *st = lk->st;
    int rc;

    for (int i = 0; i < st->nindex; i++) {
        if (snprintf(path, PATH_MAX, "%s%s%s", lk->rel, *lk->rel ? "/" : "",
                     st->index[i]) >= PATH_MAX)
            return GH_ENAMETOOLONG;
        if ((rc = adopt_file(lk, path)) < 0)
            return rc;
        if (rc) {
            lk->index = i;
            return FOUND_FILE;
        }
    }
    return FOUND_DIR;
}

/* Swap in the best compressed sibling of path that the client takes.
 * 0, or GH_EAGAIN from the fast path. */
static int find_variant(lookup_t *lk, const char *path)
{
    char vpath[PATH_MAX];
    int rc;

    for (int i = 0; i < NENC; i++) {
        int e = lk->pref[i];
        if (snprintf(vpath, sizeof(vpath), "%s%s", path,
                     encodings[e].suffix) >= (int)sizeof(vpath) ||
            (rc = gh__static_exists(&lk->st->root, vpath, lk->cached)) == 0)
            continue;
        if (rc < 0)
            return rc;
        lk->vary = true;
        lk->siblings |= 1u << e;
        if (lk->enc >= 0 || !lk->accept[e])
            continue;
        /* a variant that fails to open is skipped: the plain file stays */
        if ((rc = adopt_file(lk, vpath)) > 0)
            lk->enc = e;
        else if (rc == GH_EAGAIN && lk->cached)
            return rc;
    }
    return 0;
}

static int lookup_run(void *arg)
{
    lookup_t *lk = arg;
    char path[PATH_MAX];
    int rc = FOUND_FILE;

    if ((lk->fd = gh__static_open(&lk->st->root, lk->rel, &lk->sb,
                                  lk->cached)) < 0)
        return lk->fd;
    snprintf(path, sizeof(path), "%s", lk->rel);
    if (!S_ISDIR(lk->sb.st_mode) && lk->slash && *lk->rel)
        return GH_ENOTDIR; /* "file.txt/", as open(2) would say */
    if (S_ISDIR(lk->sb.st_mode)) {
        if (!lk->slash)
            return FOUND_REDIRECT;
        if ((rc = find_index(lk, path)) < 0)
            return rc;
    }
    if (rc == FOUND_DIR && lk->st->listing) {
        if (lk->cached)
            return GH_EAGAIN; /* reading a directory may wait */
        lk->nents = gh__static_readdir(&lk->st->root, lk->fd, lk->rel,
                                       lk->st->dotfiles, &lk->ents);
        lk->fd = -1; /* consumed */
        return lk->nents < 0 ? (int)lk->nents : FOUND_DIR;
    }
    if (rc == FOUND_FILE && lk->st->precompressed &&
        find_variant(lk, path) < 0)
        return GH_EAGAIN;
    return rc;
}

/* Find the file: on the worker when the kernel has cached all it takes,
 * else on the blocking pool. */
static int lookup(lookup_t *lk)
{
    int rc;

    lk->cached = true;
    if ((rc = lookup_run(lk)) != GH_EAGAIN)
        return rc;
    if (lk->fd >= 0)
        close(lk->fd);
    lk->fd = lk->index = lk->enc = -1;
    lk->vary = lk->cached = false;
    lk->siblings = 0;
    return gh_blocking(lookup_run, lk);
}

/* ---- the request's path ---------------------------------------------- */

/* Is seg[0 .. n) a segment that may be served? */
static bool segment_ok(const static_state_t *st, const char *seg, size_t n)
{
    if (n == 0)
        return false;
    if (seg[0] == '.')
        return st->dotfiles && !(n == 1 || (n == 2 && seg[1] == '.'));
    return true;
}

/*
 * The path under the root that req names, into *rel (the request's arena)
 * without a trailing '/', and whether the request had one.  0, 404, or
 * GH_ENOMEM.
 */
static int request_rel(const static_state_t *st, gh_req_t *req,
                       const char **rel, bool *slash)
{
    const char *p = gh_req_param(req, "*"), *seg;
    size_t n;
    char *r;

    /* The path is decoded whole, so an encoded '/' would split a segment
     * the client meant as one: no file name holds a '/' anyway. */
    if (strcasestr(gh_req_raw_path(req), "%2f"))
        return 404;
    if (!p && *(p = gh_req_path(req)) == '/')
        p++; /* an exact route: the whole path */
    n = strlen(p);
    if (n >= PATH_MAX - 64 || !(r = gh_req_alloc(req, n + 1)))
        return n >= PATH_MAX - 64 ? 404 : GH_ENOMEM;
    memcpy(r, p, n + 1);
    *slash = n == 0 || r[n - 1] == '/';
    if (n > 0 && r[n - 1] == '/')
        r[--n] = '\0';
    for (seg = r; n > 0; seg++) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (!segment_ok(st, seg, len))
            return 404;
        if (!end)
            break;
        seg = end;
    }
    *rel = r;
    return 0;
}

/* ---- responses ------------------------------------------------------- */

static int error_status(int rc)
{
    switch (rc) {
    case GH_ENOENT: case GH_ENOTDIR: case GH_ENAMETOOLONG: case -ELOOP:
        return 404;
    case GH_EACCES: case GH_EPERM:
        return 403;
    case GH_EBUSY:
        return 503;
    default:
        return rc; /* the server answers 500 and logs it */
    }
}

static int redirect(gh_req_t *req, gh_resp_t *resp)
{
    const char *raw = gh_req_raw_path(req), *q = gh_req_query(req);
    size_t n = strlen(raw) + (q ? strlen(q) + 1 : 0) + 2;
    char *loc;

    /* "//host/" would be a protocol-relative URL: another site; and
     * browsers read "/\\host/" as "//host/". */
    if (raw[0] != '/' || raw[1] == '/' || raw[1] == '\\')
        return 404;
    if (!(loc = gh_req_alloc(req, n)))
        return GH_ENOMEM;
    snprintf(loc, n, "%s/%s%s", raw, q ? "?" : "", q ? q : "");
    gh_resp_header_set(resp, "Location", loc);
    return 301;
}

static int send_listing(gh_req_t *req, gh_resp_t *resp, const lookup_t *lk)
{
    gh__static_buf_t b = {0};
    const char *path = gh_req_path(req);
    int rc;

    gh__hbuf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\""
                        "utf-8\">\n<title>Index of ");
    gh__static_buf_html(&b, path);
    gh__hbuf_puts(&b, "</title>\n<style>body{font:15px/1.6 system-ui,"
                        "sans-serif;margin:2em}ul{list-style:none;padding:0}"
                        "a{text-decoration:none}</style>\n</head><body>\n"
                        "<h1>Index of ");
    gh__static_buf_html(&b, path);
    gh__hbuf_puts(&b, "</h1>\n<ul>\n");
    if (*lk->rel)
        gh__hbuf_puts(&b, "<li><a href=\"../\">../</a></li>\n");
    for (ssize_t i = 0; i < lk->nents; i++) {
        const char *sl = lk->ents[i].dir ? "/" : "";
        gh__hbuf_puts(&b, "<li><a href=\"");
        gh__static_buf_url(&b, lk->ents[i].name);
        gh__hbuf_puts(&b, sl);
        gh__hbuf_puts(&b, "\">");
        gh__static_buf_html(&b, lk->ents[i].name);
        gh__hbuf_puts(&b, sl);
        gh__hbuf_puts(&b, "</a></li>\n");
    }
    gh__hbuf_puts(&b, "</ul>\n</body></html>\n");
    if (b.oom)
        rc = GH_ENOMEM;
    else if ((rc = gh_resp_header_set(resp, "Content-Type",
                                      "text/html; charset=utf-8")) == 0)
        rc = gh_resp_send(resp, b.p, b.len);
    free(b.p);
    return rc;
}

/* The file a response is about, found just now or in the cache. */
typedef struct served {
    int fd;                /* open on it, or -1 when body holds it */
    const char *body;      /* its bytes in memory, or NULL */
    const struct stat *sb; /* its fstat */
    const char *etag, *lm; /* ETag, Last-Modified */
    const char *ctype;     /* Content-Type */
    bool vary;             /* a compressed sibling exists */
    int enc;               /* the variant it is, or -1 */
} served_t;

/* RFC 9110 13.2.2, steps 1 to 4: 0, 304 or 412. */
static int preconditions(gh_req_t *req, const struct stat *sb,
                         const char *etag)
{
    const char *im = gh_req_header(req, "If-Match");
    const char *inm = gh_req_header(req, "If-None-Match");
    const char *h;
    time_t t;

    if (im) {
        if (!gh__static_etag_match(im, etag, true))
            return 412;
    } else if ((h = gh_req_header(req, "If-Unmodified-Since")) &&
               gh__static_parse_date(h, &t) == 0 && sb->st_mtim.tv_sec > t) {
        return 412;
    }
    if (inm)
        return gh__static_etag_match(inm, etag, false) ? 304 : 0;
    /* A date in the future is no validator the server ever sent. */
    if ((h = gh_req_header(req, "If-Modified-Since")) &&
        gh__static_parse_date(h, &t) == 0 && sb->st_mtim.tv_sec <= t &&
        t <= time(NULL))
        return 304;
    return 0;
}

/* Does If-Range (absent, an entity tag or a date) let Range apply? */
static bool if_range_ok(gh_req_t *req, const struct stat *sb,
                        const char *etag)
{
    const char *ir = gh_req_header(req, "If-Range");
    struct timespec now;

    if (!ir)
        return true;
    clock_gettime(CLOCK_REALTIME, &now);
    return gh__static_if_range(ir, sb, etag,
                               (int64_t)now.tv_sec * GH_SECOND + now.tv_nsec);
}

/* The fields every answer about the file carries, 304 included.  The
 * response is fresh, so these and send_file's are added, not set: set
 * would first look for each name among those already there. */
static int set_validators(const static_state_t *st, const served_t *f,
                          gh_resp_t *resp)
{
    int rc;

    if ((rc = gh_resp_header_add(resp, "ETag", f->etag)) < 0 ||
        (rc = gh_resp_header_add(resp, "Last-Modified", f->lm)) < 0)
        return rc;
    if (st->cache_control &&
        (rc = gh_resp_header_add(resp, "Cache-Control", st->cache_control)))
        return rc;
    if (f->vary && (rc = gh_resp_header_add(resp, "Vary", "Accept-Encoding")))
        return rc;
    return 0;
}

/* Narrow the body to the request's Range: 0 (maybe now a 206) or 416. */
static int apply_range(gh_req_t *req, gh_resp_t *resp, const served_t *f,
                       uint64_t *off, uint64_t *len)
{
    const char *h = gh_req_header(req, "Range");
    uint64_t size = (uint64_t)f->sb->st_size;
    char cr[80];

    if (!h || strcmp(gh_req_method(req), "GET") != 0 ||
        !if_range_ok(req, f->sb, f->etag))
        return 0;
    switch (gh__static_range(h, size, off, len)) {
    case GH__RANGE_OK:
        snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu",
                 (unsigned long long)*off,
                 (unsigned long long)(*off + *len - 1),
                 (unsigned long long)size);
        gh_resp_status(resp, 206);
        return gh_resp_header_add(resp, "Content-Range", cr);
    case GH__RANGE_UNSAT:
        snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
        gh_resp_header_del(resp, "Content-Encoding");
        gh_resp_header_add(resp, "Content-Range", cr);
        return 416;
    default:
        return 0;
    }
}

/* The content type by the name the client asked for (not FILE.gz). */
static const char *content_type(const static_state_t *st, const lookup_t *lk)
{
    const char *name = lk->index >= 0 ? st->index[lk->index] : lk->rel;
    const char *slash = strrchr(name, '/'), *t;

    t = gh__static_mime_find(&st->mime, slash ? slash + 1 : name);
    return t ? t : st->default_type;
}

static int send_file(const static_state_t *st, const served_t *f,
                     gh_req_t *req, gh_resp_t *resp)
{
    uint64_t off = 0, len = (uint64_t)f->sb->st_size;
    int rc;

    if ((rc = set_validators(st, f, resp)) < 0)
        return rc;
    if ((rc = preconditions(req, f->sb, f->etag)) == 304) {
        gh_resp_status(resp, 304);
        return gh_resp_send(resp, NULL, 0);
    }
    if (rc)
        return rc;
    if ((rc = gh_resp_header_add(resp, "Content-Type", f->ctype)) < 0 ||
        (rc = gh_resp_header_add(resp, "Accept-Ranges", "bytes")) < 0)
        return rc;
    if (f->enc >= 0 && (rc = gh_resp_header_add(resp, "Content-Encoding",
                                                encodings[f->enc].coding)))
        return rc;
    if ((rc = apply_range(req, resp, f, &off, &len)) != 0)
        return rc;
    if (f->body) /* with the head, in one write */
        return gh_resp_send(resp, f->body + off, (size_t)len);
    return gh_resp_sendfile(resp, f->fd, (off_t)off, (size_t)len);
}

/* A file just found, not from the cache. */
static int send_found(const static_state_t *st, const lookup_t *lk,
                      gh_req_t *req, gh_resp_t *resp)
{
    char etag[GH__STATIC_ETAG_MAX], lm[GH__STATIC_DATE_LEN + 1];
    served_t f = {.fd = lk->fd, .sb = &lk->sb, .etag = etag, .lm = lm,
                  .ctype = content_type(st, lk), .vary = lk->vary,
                  .enc = lk->enc};

    gh__static_etag(&lk->sb, etag);
    gh__static_fmt_date(lk->sb.st_mtim.tv_sec, lm);
    return send_file(st, &f, req, resp);
}

/* ---- the open-file cache --------------------------------------------- */

#define CACHE_MISS 1000 /* no status: serve_hit could not answer */

/* Has the file kept its change time for SETTLE_NS, so that any later
 * change is sure to give it another? */
static bool settled(const struct stat *sb)
{
    struct timespec now;
    int64_t c = (int64_t)sb->st_ctim.tv_sec * GH_SECOND + sb->st_ctim.tv_nsec;
    int64_t m = (int64_t)sb->st_mtim.tv_sec * GH_SECOND + sb->st_mtim.tv_nsec;

    clock_gettime(CLOCK_REALTIME, &now);
    return (c > m ? c : m) + SETTLE_NS <
           (int64_t)now.tv_sec * GH_SECOND + now.tv_nsec;
}

static served_t entry_view(const gh__static_cache_ent_t *e)
{
    return (served_t){.fd = e->fd, .body = e->body, .sb = &e->sb,
                      .etag = e->etag, .lm = e->lm, .ctype = e->ctype,
                      .vary = e->siblings != 0, .enc = e->enc};
}

/* The variant a full lookup would pick for lk's client if the siblings in
 * mask exist (find_variant's choice), or -1 for the plain file. */
static int pick_variant(const lookup_t *lk, unsigned mask)
{
    for (int i = 0; i < NENC; i++)
        if (lk->accept[lk->pref[i]] && (mask & (1u << lk->pref[i])))
            return lk->pref[i];
    return -1;
}

/* Serve the cached answer e if it still holds: CACHE_MISS if not. */
static int serve_hit(static_state_t *st, gh__static_cache_ent_t *e,
                     const lookup_t *lk, gh_req_t *req, gh_resp_t *resp)
{
    gh__static_cache_t *c = &st->cache;
    uint64_t gen = 0;
    bool watched;
    served_t f;
    int rc;

    if (pick_variant(lk, e->siblings) != e->enc)
        return CACHE_MISS; /* not what this client is to get */
    if (gh_now() - e->probed > c->valid ||
        (!e->body && !e->body_tried && (size_t)e->sb.st_size <= c->file_max &&
         settled(&e->sb)))
        goto stale; /* probe again; or now it may be kept in memory */
    watched = e->nwd > 0 && gh__static_watch_quiet(&c->watch, &gen);
    if (!watched ||
        atomic_load_explicit(&e->checked, memory_order_relaxed) != gen) {
        atomic_fetch_add_explicit(&c->checks, 1, memory_order_relaxed);
        if ((rc = gh__static_same(&st->root, e->path, &e->sb)) == GH_EAGAIN)
            return CACHE_MISS;
        if (rc != 1)
            goto stale;
        if (watched) /* it holds until the next change is reported */
            atomic_store_explicit(&e->checked, gen, memory_order_relaxed);
    }
    f = entry_view(e);
    return send_file(st, &f, req, resp);
stale:
    gh__static_cache_drop(c, e);
    return CACHE_MISS;
}

/*
 * The cache's key for lk's path and variant enc: rel, a '/' if the path
 * ended in one, and for a variant "//" and its suffix (a path never has
 * "//": request_rel refuses empty segments).  key has PATH_MAX bytes.
 */
static size_t cache_key(const lookup_t *lk, int enc, char *key)
{
    size_t n = strlen(lk->rel);

    memcpy(key, lk->rel, n);
    if (lk->slash)
        key[n++] = '/';
    if (enc >= 0)
        n += (size_t)sprintf(key + n, "//%s", encodings[enc].suffix);
    key[n] = '\0';
    return n;
}

/*
 * Make what lk found (a file) an entry and put it in the cache; it
 * takes lk's descriptor unless the bytes are read into memory.  The entry,
 * with the caller's reference, or NULL (then lk is left as it was).
 */
static gh__static_cache_ent_t *cache_fill(static_state_t *st, lookup_t *lk,
                                          const char *key, size_t klen,
                                          int64_t probed)
{
    gh__static_cache_t *c = &st->cache;
    char path[PATH_MAX];
    gh__static_cache_ent_t *e;

    if (!c->buckets || !gh__static_same_works(&st->root) ||
        snprintf(path, sizeof(path), "%s%s%s%s", lk->rel,
                 lk->index >= 0 && *lk->rel ? "/" : "",
                 lk->index >= 0 ? st->index[lk->index] : "",
                 lk->enc >= 0 ? encodings[lk->enc].suffix : "") >= PATH_MAX ||
        !(e = gh__static_cache_ent_new(key, klen, path)))
        return NULL;
    e->sb = lk->sb;
    e->index = lk->index;
    e->enc = lk->enc;
    e->siblings = lk->siblings;
    e->probed = probed;
    e->ctype = content_type(st, lk);
    gh__static_etag(&lk->sb, e->etag);
    gh__static_fmt_date(lk->sb.st_mtim.tv_sec, e->lm);
    if ((size_t)lk->sb.st_size <= c->file_max && settled(&lk->sb)) {
        e->body_tried = true;
        e->body = gh__static_slurp(lk->fd, &lk->sb);
    }
    if (e->body) {
        e->body_len = (size_t)lk->sb.st_size;
    } else {
        e->fd = lk->fd;
        lk->fd = -1;
    }
    /* Watched from now on, so its first hit's check (checked is 0) sees
     * anything that changed since the lookup, and later ones are told. */
    e->watch = &c->watch;
    e->nwd = gh__static_watch_add(&c->watch, e->path, e->wds);
    if (e->nwd > 0 && !gh__static_no_links(&st->root, e->path)) {
        gh__static_watch_release(&c->watch, e->wds, e->nwd);
        e->nwd = 0;
    }
    gh__static_cache_put(c, e);
    return e;
}

/* The answer for a file found by lookup: from a new cache entry when
 * one could be made (so a small file's bytes go from memory at once). */
static int serve_found(static_state_t *st, lookup_t *lk, int64_t t0,
                       gh_req_t *req, gh_resp_t *resp)
{
    char key[PATH_MAX];
    size_t klen = cache_key(lk, lk->enc, key);
    gh__static_cache_ent_t *e = cache_fill(st, lk, key, klen, t0);
    served_t f;
    int rc;

    if (!e)
        return send_found(st, lk, req, resp);
    f = entry_view(e);
    f.vary = lk->vary;
    rc = send_file(st, &f, req, resp);
    gh__static_cache_unref(e);
    return rc;
}

/* Answer from the cache: the variant the client may take, else the plain
 * file.  CACHE_MISS when it cannot. */
static int serve_cached(static_state_t *st, const lookup_t *lk,
                        gh_req_t *req, gh_resp_t *resp)
{
    gh__static_cache_ent_t *e;
    char key[PATH_MAX];
    int rc = CACHE_MISS;

    for (int i = 0; i <= NENC && rc == CACHE_MISS; i++) {
        int want = i < NENC ? lk->pref[i] : -1; /* the plain file last */
        size_t klen;
        if (want >= 0 && !lk->accept[want])
            continue;
        klen = cache_key(lk, want, key);
        if ((e = gh__static_cache_get(&st->cache, key, klen))) {
            rc = serve_hit(st, e, lk, req, resp);
            gh__static_cache_unref(e);
        }
    }
    return rc;
}

/* The method, the path and the codings the client takes into lk: 0 or a
 * status. */
static int read_request(const static_state_t *st, gh_req_t *req,
                        gh_resp_t *resp, lookup_t *lk)
{
    const char *m = gh_req_method(req), *ae;
    int weights[NENC], rc;

    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
        gh_resp_header_set(resp, "Allow", "GET, HEAD");
        return 405;
    }
    if ((rc = request_rel(st, req, &lk->rel, &lk->slash)) != 0)
        return rc;
    ae = gh_req_header(req, "Accept-Encoding");
    for (int e = 0; e < NENC; e++) {
        int q = ae && st->precompressed
                    ? gh__static_accept_q(ae, encodings[e].coding)
                    : 0;
        int i = e;
        /* By the client's weights; on a tie, the order of encodings[]
         * (the smaller file first). */
        for (; i > 0 && q > weights[i - 1]; i--) {
            weights[i] = weights[i - 1];
            lk->pref[i] = lk->pref[i - 1];
        }
        weights[i] = q;
        lk->pref[i] = e;
        lk->accept[e] = q > 0;
    }
    return 0;
}

static int static_serve(void *state, gh_req_t *req, gh_resp_t *resp)
{
    static_state_t *st = state;
    lookup_t lk = {.st = st, .fd = -1, .index = -1, .enc = -1};
    int64_t t0;
    int rc;

    if ((rc = read_request(st, req, resp, &lk)) != 0)
        return rc;
    if ((rc = serve_cached(st, &lk, req, resp)) != CACHE_MISS)
        return rc;
    t0 = gh_now();
    rc = lookup(&lk);
    if (rc == FOUND_FILE)
        rc = serve_found(st, &lk, t0, req, resp);
    else if (rc == FOUND_REDIRECT)
        rc = redirect(req, resp);
    else if (rc == FOUND_DIR)
        rc = st->listing ? send_listing(req, resp, &lk) : 403;
    else
        rc = error_status(rc);
    if (lk.fd >= 0)
        close(lk.fd);
    gh__static_dirents_free(lk.ents, lk.nents > 0 ? (size_t)lk.nents : 0);
    return rc;
}

GH_HANDLER_DEFINE("static", static_init, static_serve, static_fini);
