/*
 * static.h - the pieces of the static handler plugin (handlers/static*.c)
 * shared between its files.  Nothing here is exported from the module:
 * it is built with -fvisibility=hidden and only gh_handler_entry carries
 * GH_API.  The unit test compiles static_http.c and static_mime.c in as
 * well, to check the parsers directly.
 *
 *   static.c       the plugin: settings, the request flow, the listing
 *   static_fs.c    resolving a request path under the root, safely; runs
 *                  on the blocking-thread pool
 *   static_http.c  header values: dates, entity tags, Range,
 *                  Accept-Encoding, HTML and URL escaping
 *   static_mime.c  the extension -> Content-Type table
 *   static_cache.c the open-file cache: what a path resolved to, and the
 *                  bytes of small files
 */
#ifndef GH_HANDLER_STATIC_H
#define GH_HANDLER_STATIC_H

#include <stdbool.h>
#include <stddef.h>

#include "hbuf.h"
#include <gohttpd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* ---- static_mime.c --------------------------------------------------- */

/* One extension and the Content-Type it maps to (charset included). */
typedef struct gh__static_mime_ent {
    char *ext;   /* lower case, without the dot; malloc */
    char *ctype; /* "text/html; charset=utf-8"; malloc */
    size_t seq;  /* order of addition: the later duplicate wins */
} gh__static_mime_ent_t;

/* The table: sorted by ext, no duplicates, after gh__static_mime_finish. */
typedef struct gh__static_mime {
    gh__static_mime_ent_t *ents; /* malloc */
    size_t n, cap;
} gh__static_mime_t;

/* Fill m from the compiled-in table of common types.  0 or GH_ENOMEM. */
int gh__static_mime_builtin(gh__static_mime_t *m);

/*
 * Fill m from a mime.types file (Apache's "type ext ext" lines; nginx's
 * "types { type ext ext; }" shape is accepted too).  0, or a negative
 * GH_E* with "path:line: what is wrong" (or "path: reason") in err.
 * Blocking: reads the file.
 */
int gh__static_mime_load(gh__static_mime_t *m, const char *path, char *err,
                         size_t errlen);

/* Sort m, drop duplicate extensions (the later line wins) and append
 * "; charset=CS" to the types that take one (charset NULL: none).
 * 0 or GH_ENOMEM. */
int gh__static_mime_finish(gh__static_mime_t *m, const char *charset);

/* The Content-Type for a file name by its extension (case-insensitive),
 * or NULL when the table has none. */
const char *gh__static_mime_find(const gh__static_mime_t *m,
                                 const char *name);

/* Is t a media type, "type/subtype" made of token characters? */
bool gh__static_mime_valid(const char *t);

/* "type; charset=CS" if type takes a charset, else a copy of type.  The
 * result is malloc'd; NULL when out of memory. */
char *gh__static_ctype(const char *type, const char *charset);

void gh__static_mime_fini(gh__static_mime_t *m);

/* ---- static_http.c --------------------------------------------------- */

#define GH__STATIC_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define GH__STATIC_ETAG_MAX 72 /* 4 x 16 hex digits, 3 '-', 2 '"', NUL */

/* Format t as an IMF-fixdate into out[GH__STATIC_DATE_LEN + 1]; a time
 * before year 0000 or after 9999 as the first or the last second of that
 * range. */
void gh__static_fmt_date(time_t t, char *out);

/* Parse an HTTP date (IMF-fixdate, RFC 850 or asctime) of the years
 * 1900 to 9999, to the letter of RFC 9110 5.6.7 (two-digit fields, names
 * as written there, a day that exists and its weekday).  0 or -1. */
int gh__static_parse_date(const char *s, time_t *out);

/* The strong entity tag of a file: "\"ino-size-mtime_ns-ctime_ns\"",
 * hex. */
void gh__static_etag(const struct stat *st, char *out);

/*
 * Does the If-Match / If-None-Match value list ("*" or a comma-separated
 * list of entity tags) match etag?  strong: the strong comparison (a weak
 * tag never matches), else the weak one.
 */
bool gh__static_etag_match(const char *list, const char *etag, bool strong);

/*
 * Does If-Range value ir (an entity tag or a date) let a Range apply to the
 * file sb, whose tag is etag, at now_ns (CLOCK_REALTIME)?  A tag must be
 * strong and equal.  A date must equal the file's mtime and be a strong
 * validator (RFC 9110 8.8.2.2): the ctime is the mtime (nobody set the
 * mtime after the last write) and both are two seconds old, so that no
 * second write can share the second the date names.
 */
bool gh__static_if_range(const char *ir, const struct stat *sb,
                         const char *etag, int64_t now_ns);

enum gh__static_range {
    GH__RANGE_NONE,  /* no usable single range: send the whole file */
    GH__RANGE_OK,    /* *off and *len are set */
    GH__RANGE_UNSAT  /* 416 */
};

/*
 * Interpret a Range header value for a representation of size bytes.  Only
 * one "bytes" range is served; a list of several, another unit or a syntax
 * error gives GH__RANGE_NONE (RFC 9110 14.2 lets a server ignore Range).
 */
enum gh__static_range gh__static_range(const char *h, uint64_t size,
                                       uint64_t *off, uint64_t *len);

/* The weight Accept-Encoding value ae gives coding ("gzip", "br"), named
 * or through "*": 1 to 1000 (q in thousandths), 0 when it is refused or
 * not named at all. */
int gh__static_accept_q(const char *ae, const char *coding);

/* A growing output buffer; once out of memory it stays failed (oom). */
typedef gh__hbuf_t gh__static_buf_t; /* hbuf.h */
/* s with & < > " ' as character references. */
void gh__static_buf_html(gh__static_buf_t *b, const char *s);
/* s percent-encoded, all but the unreserved characters (RFC 3986). */
void gh__static_buf_url(gh__static_buf_t *b, const char *s);

/* ---- static_fs.c ----------------------------------------------------- */

/* The document root, opened at init. */
typedef struct gh__static_root {
    int fd;           /* O_DIRECTORY descriptor of the root */
    char *real;       /* its realpath(3); malloc */
    size_t real_len;  /* strlen(real) */
    bool symlinks;    /* follow symbolic links at all */
    bool outside;     /* ... even to files outside the root */
} gh__static_root_t;

/*
 * Open root->fd's path rel ("" is the root itself; no leading or trailing
 * '/', no "." / ".." / empty segment: the caller checked) as a regular
 * file or a directory.  Returns the descriptor (>= 0, close-on-exec) with
 * its fstat in *st, or GH_ENOENT for anything that is not to be served
 * (absent, not a regular file or directory, a symlink where none is
 * allowed, one leading out of the root), GH_EBUSY when rel named another
 * file at open time than at look time, time after time (it is looked at
 * again each time), or another negative GH_E* (GH_EACCES, ...).
 * Blocking; with cached, it never waits for the disk and may run on a
 * worker, but returns GH_EAGAIN whenever it cannot be sure of the answer:
 * then ask again without.
 */
int gh__static_open(const gh__static_root_t *root, const char *rel,
                    struct stat *st, bool cached);

/* Is there a regular file at rel (following symlinks)?  1 or 0.  Blocking;
 * with cached, as gh__static_open (GH_EAGAIN: ask again without). */
int gh__static_exists(const gh__static_root_t *root, const char *rel,
                      bool cached);

/* One directory entry, for the listing. */
typedef struct gh__static_dirent {
    char *name; /* malloc */
    bool dir;
} gh__static_dirent_t;

/*
 * Read the directory open at fd, which is rel under the root (the
 * descriptor is consumed), into a
 * sorted array: directories first, then by name in byte order.  Entries
 * that could not be served (dotfiles unless dotfiles, symlinks unless
 * root->symlinks, fifos, devices) are left out.  Returns the count and
 * the array in *out (free with gh__static_dirents_free), or a negative
 * GH_E*.  Blocking.
 */
ssize_t gh__static_readdir(const gh__static_root_t *root, int fd,
                           const char *rel, bool dotfiles,
                           gh__static_dirent_t **out);

void gh__static_dirents_free(gh__static_dirent_t *e, size_t n);

/*
 * Does rel still name, beneath the root and by the same rules as
 * gh__static_open, the very file *want is an fstat of, unchanged (device,
 * inode, type, size, modification and change times)?  1 yes, 0 no (gone,
 * replaced or changed), GH_EAGAIN when it cannot tell without waiting for
 * the disk (or without openat2: then the cache is not used).  Never
 * blocks; may run on a worker.
 */
int gh__static_same(const gh__static_root_t *root, const char *rel,
                    const struct stat *want);

/* Can gh__static_same ever answer for this root? */
bool gh__static_same_works(const gh__static_root_t *root);
/* Is there no symbolic link on rel's way from the root (what the change
 * notifications can follow, static_watch.c)? */
bool gh__static_no_links(const gh__static_root_t *root, const char *rel);

/*
 * The whole regular file open at fd, whose fstat is *st, read without
 * waiting for the disk (preadv2 RWF_NOWAIT) into a malloc'd buffer,
 * provided fstat still says *st afterwards.  NULL when any of it fails.
 */
char *gh__static_slurp(int fd, const struct stat *st);

/* ---- static_watch.c: change notifications ---------------------------- */

/* Watches an entry may hold: the root, the directories below it on the
 * way, the file.  A deeper path is checked at every request. */
#define GH__STATIC_WATCH_DEPTH 16

typedef struct gh__static_wd {
    int wd;        /* inotify watch descriptor; 0: a free slot */
    unsigned refs; /* entries holding it */
} gh__static_wd_t;

typedef struct gh__static_watch {
    int fd;                     /* inotify(7), non-blocking; -1: off */
    char base[32];              /* "/proc/self/fd/N": the root */
    _Atomic uint64_t gen;       /* 1 + batches of events read */
    _Atomic int draining;       /* readers between their read and gen++ */
    gh_mutex_t mu;              /* guards what follows */
    gh__static_wd_t *tab;       /* open addressing, at most half full */
    size_t cap, n;              /* slots, used slots */
    size_t idle, max_idle;      /* watches no entry holds; sweep above */
    bool full_logged;           /* ENOSPC was logged */
} gh__static_watch_t;

/* Open the notifications for the root open as root_fd (nothing when
 * max_entries is 0).  If the kernel refuses, w stays off (logged) and the
 * cache checks every file at every request.  0 or GH_ENOMEM. */
int gh__static_watch_init(gh__static_watch_t *w, int root_fd,
                          size_t max_entries);
void gh__static_watch_fini(gh__static_watch_t *w);
/* Watch the root, each directory on the way to rel and rel itself, into
 * wds (GH__STATIC_WATCH_DEPTH of them): how many, or 0 when w is off or
 * the kernel refused one (then nothing is held). */
int gh__static_watch_add(gh__static_watch_t *w, const char *rel, int *wds);
void gh__static_watch_release(gh__static_watch_t *w, const int *wds, int n);
/* May a check made now hold until the next change is reported?  True,
 * with the current generation in *gen, once no event is queued or being
 * read (what was queued is read and counted first); false when the
 * watch is off or another reader is still counting.  One ioctl(2) when
 * nothing changed. */
bool gh__static_watch_quiet(gh__static_watch_t *w, uint64_t *gen);

/* ---- static_cache.c -------------------------------------------------- */

/* One cached answer: immutable once put, but for the links. */
typedef struct gh__static_cache_ent gh__static_cache_ent_t;
struct gh__static_cache_ent {
    char *key;           /* the request's path under the root, plus '/'
                          * when it ended in one, plus "//" and the
                          * suffix for a variant (in this allocation) */
    size_t klen;
    char *path;          /* the file served: rel[/INDEX][.SUFFIX] (ditto) */
    int fd;              /* open on the file, or -1 when body holds it */
    struct stat sb;      /* its fstat when the entry was made */
    int index;           /* the index file it is, or -1 */
    int enc;             /* the precompressed variant it is, or -1 */
    unsigned siblings;   /* bit e: the precompressed variant e exists */
    int64_t probed;      /* gh_now() when index and siblings were probed */
    const char *ctype;   /* Content-Type (the route's table owns it) */
    char etag[GH__STATIC_ETAG_MAX];
    char lm[GH__STATIC_DATE_LEN + 1]; /* Last-Modified */
    char *body;          /* the file's bytes (malloc), or NULL */
    bool body_tried;     /* reading them was tried when it was made */
    size_t body_len;     /* bytes counted against the cache: body's */
    gh__static_watch_t *watch; /* holds wds[0 .. nwd) */
    int nwd;             /* 0: not watched, checked at every request */
    int wds[GH__STATIC_WATCH_DEPTH];
    _Atomic uint64_t checked; /* the watch's gen when last checked; 0 */
    atomic_uint refs;    /* the cache's (while linked) + each user's */
    /* Under the cache's lock: */
    uint64_t hash;
    bool linked;         /* in the table and the LRU list */
    gh__static_cache_ent_t *hnext, *prev, *next;
};

/* A route's cache; every field but mu's charges is set at init. */
typedef struct gh__static_cache {
    gh_mutex_t mu;                     /* guards what follows it */
    gh__static_cache_ent_t **buckets;  /* NULL: the cache is off */
    size_t mask;                       /* buckets - 1 */
    gh__static_cache_ent_t lru;        /* sentinel: next is the newest */
    size_t n, bytes;                   /* entries, body bytes */
    size_t max_entries, max_bytes;     /* bounds (settings) */
    size_t file_max;                   /* largest body kept in memory */
    int64_t valid;                     /* how long probes are trusted */
    gh__static_watch_t watch;          /* when a file must be checked */
    _Atomic uint64_t checks;           /* hits that checked the file */
} gh__static_cache_t;

/* Set c up for at most max_entries entries (0: off).  0 or GH_ENOMEM. */
int gh__static_cache_init(gh__static_cache_t *c, size_t max_entries,
                          size_t max_bytes, size_t file_max, int64_t valid);
void gh__static_cache_fini(gh__static_cache_t *c);

/* A new entry (one reference: the caller's) for key, serving path; the
 * caller fills in the rest before putting it.  NULL: out of memory. */
gh__static_cache_ent_t *gh__static_cache_ent_new(const char *key,
                                                 size_t klen,
                                                 const char *path);

/* The entry for key with a reference taken (let go with unref), or NULL.
 * Any thread or goroutine. */
gh__static_cache_ent_t *gh__static_cache_get(gh__static_cache_t *c,
                                             const char *key, size_t klen);

/* Put e in (the cache takes its own reference; the caller keeps its),
 * replacing the entry for the same key and evicting the least recently
 * used ones as the bounds require. */
void gh__static_cache_put(gh__static_cache_t *c, gh__static_cache_ent_t *e);

/* Take e out, if it is still in: it no longer says the truth. */
void gh__static_cache_drop(gh__static_cache_t *c, gh__static_cache_ent_t *e);

void gh__static_cache_unref(gh__static_cache_ent_t *e);

/* The current counts, for the tests. */
void gh__static_cache_stats(gh__static_cache_t *c, size_t *n,
                            size_t *bytes);

#endif /* GH_HANDLER_STATIC_H */
