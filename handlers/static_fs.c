/*
 * static_fs.c - finding a request's file under the document root without
 * ever leaving it.  Every function here may block on the disk and runs on
 * the runtime's blocking-thread pool (gh_blocking), never on a worker;
 * except in the fast path below, which never waits for the disk.
 *
 * How a path stays inside the root.  The caller has already refused "..",
 * "." and empty segments, so the only way out is a symbolic link.  The
 * file is opened relative to the root's descriptor (openat), then checked
 * after the fact, on the descriptor actually opened: realpath(3) of the
 * same path must lie under the root's own real path (with symlinks off:
 * must be exactly root + "/" + rel, i.e. no link anywhere on the way), and
 * must name the very inode that was opened.  Checking the open descriptor
 * rather than the name closes the race in which a link is swapped in
 * between the check and the open: whatever was opened either is the file
 * realpath found inside the root, or is refused.  With
 * "symlinks_outside on" the operator opted out, and only the open happens.
 *
 * Where the kernel has openat2(2) (Linux 5.6), RESOLVE_BENEATH (plus
 * RESOLVE_NO_SYMLINKS with symlinks off) makes the open itself refuse any
 * way out, and the realpath check is skipped: it is cheaper, and it needs
 * no search permission above the root, which matters once the daemon has
 * dropped root privileges and the root lies under, say, /root.  Only an
 * absolute link, which RESOLVE_BENEATH refuses even when it points
 * inside, takes the slow path.
 *
 * Before opening, fstatat() makes sure the path is a regular file or a
 * directory, so a request never opens a device (opening one can have side
 * effects) or blocks on a FIFO (O_NONBLOCK guards that race as well).
 *
 * The fast path ("cached"): a trip to the blocking pool costs two thread
 * switches, more than the lookup itself when the kernel has every name and
 * inode cached, which is the usual case for a busy site.  So the handler
 * first looks on the worker, with openat2's RESOLVE_CACHED (Linux 5.12),
 * which fails with EAGAIN rather than wait for the disk.  O_PATH opens the
 * name without opening the file, standing in for fstatat, so a device is
 * still never opened.  Every answer the fast path is not sure of (EAGAIN,
 * an absolute link, any error but "not there", no RESOLVE_CACHED) is
 * GH_EAGAIN, and the caller then does the whole lookup again on the pool,
 * the slow way: the fast path only ever gives the answer the slow one
 * would.
 *
 * Revalidating a cached answer (gh__static_same) is the fast path's walk,
 * with the same resolve flags, on an O_PATH descriptor, and a comparison of
 * its fstat with the one remembered: a path that a full lookup would now
 * refuse, or that names another inode or a changed one, is "not the same".
 * Reading a small file into the cache (gh__static_slurp) uses
 * RWF_NOWAIT, so it too never waits for the disk on a worker.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include <gohttpd.h>

#include "static.h"

static bool servable(const struct stat *st)
{
    return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode);
}

/* root->real + "/" + rel into buf[PATH_MAX]; false when it does not fit. */
static bool join_real(const gh__static_root_t *root, const char *rel,
                      char *buf)
{
    size_t rl = strlen(rel), base = root->real_len;

    if (base == 1) /* the root is "/" itself */
        base = 0;
    if (base + 1 + rl + 1 > PATH_MAX)
        return false;
    memcpy(buf, root->real, base);
    buf[base] = '/';
    memcpy(buf + base + 1, rel, rl + 1);
    if (rl == 0 && base > 0)
        buf[base] = '\0'; /* the root itself */
    return true;
}

/* open_once()'s answer when rel named another file by the time it was
 * opened than when it was looked at: a deploy renamed a new version over
 * it, say.  Not an error: look again. */
#define SWAPPED INT_MIN

/* Is the file opened as *st really the one at rel inside the root?  0,
 * GH_ENOENT, SWAPPED or another GH_E*. */
static int check_inside(const gh__static_root_t *root, const char *rel,
                        const struct stat *st)
{
    char want[PATH_MAX], got[PATH_MAX];
    struct stat st2;

    if (!join_real(root, rel, want))
        return GH_ENAMETOOLONG;
    if (!realpath(want, got))
        return errno == ENOENT || errno == ENOTDIR ? GH_ENOENT : -errno;
    if (!root->symlinks) {
        if (strcmp(want, got) != 0)
            return GH_ENOENT; /* a link somewhere on the way */
    } else if (root->real_len > 1 &&
               (strncmp(got, root->real, root->real_len) != 0 ||
                (got[root->real_len] != '/' && got[root->real_len] != '\0'))) {
        return GH_ENOENT; /* a link leading out of the root */
    }
    if (stat(got, &st2) < 0)
        return GH_ENOENT;
    if (st2.st_dev != st->st_dev || st2.st_ino != st->st_ino)
        return SWAPPED;
    return 0;
}

/* Set once openat2(2) turned out to be missing (or filtered out). */
static atomic_bool no_openat2;

/*
 * Open p beneath the root with openat2(2): a descriptor; -1 when the path
 * leads out of the root (errno EXDEV or ELOOP); -2 when there is no
 * openat2, and the caller must check by itself.
 */
static int open_beneath(const gh__static_root_t *root, const char *p,
                        int flags)
{
#ifdef SYS_openat2
    struct open_how how = {
        .flags = (uint64_t)flags,
        .resolve = RESOLVE_BENEATH |
                   (root->symlinks ? 0 : RESOLVE_NO_SYMLINKS),
    };
    long fd;

    if (!atomic_load_explicit(&no_openat2, memory_order_relaxed)) {
        fd = syscall(SYS_openat2, root->fd, p, &how, sizeof(how));
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
            return fd >= 0 ? (int)fd : -1;
        atomic_store_explicit(&no_openat2, true, memory_order_relaxed);
    }
#endif
    return -2;
}

#ifdef SYS_openat2
/* Set once RESOLVE_CACHED turned out to be unknown (Linux < 5.12). */
static atomic_bool no_cached;

static int openat2_fd(int dirfd, const char *p, int flags, uint64_t resolve)
{
    struct open_how how = {.flags = (uint64_t)flags, .resolve = resolve};

    return (int)syscall(SYS_openat2, dirfd, p, &how, sizeof(how));
}

/* The fast path's answer to a failed cached open. */
static int cached_error(const gh__static_root_t *root, int err)
{
    if (err == ENOENT || err == ENOTDIR || (err == ELOOP && !root->symlinks))
        return GH_ENOENT;
    if (err == EINVAL)
        atomic_store_explicit(&no_cached, true, memory_order_relaxed);
    return GH_EAGAIN;
}

static bool cached_ok(void)
{
    return !atomic_load_explicit(&no_openat2, memory_order_relaxed) &&
           !atomic_load_explicit(&no_cached, memory_order_relaxed);
}
#endif

/* gh__static_open() without waiting for the disk: see the top. */
static int open_cached(const gh__static_root_t *root, const char *p,
                       struct stat *st)
{
#ifdef SYS_openat2
    uint64_t resolve = RESOLVE_BENEATH | RESOLVE_CACHED |
                       (root->symlinks ? 0 : RESOLVE_NO_SYMLINKS);
    struct stat pre;
    int fd, rc;

    if (!cached_ok() || (root->symlinks && root->outside))
        return GH_EAGAIN;
    if ((fd = openat2_fd(root->fd, p, O_PATH | O_CLOEXEC, resolve)) < 0)
        return cached_error(root, errno);
    rc = fstat(fd, &pre) < 0 ? GH_EAGAIN : servable(&pre) ? 0 : GH_ENOENT;
    close(fd);
    if (rc < 0)
        return rc;
    fd = openat2_fd(root->fd, p, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                    resolve);
    if (fd < 0)
        return cached_error(root, errno);
    if (fstat(fd, st) < 0 || st->st_dev != pre.st_dev ||
        st->st_ino != pre.st_ino) {
        close(fd);
        return GH_EAGAIN; /* swapped under us: the slow path decides */
    }
    return fd;
#else
    return GH_EAGAIN;
#endif
}

/* One look and one open: gh__static_open()'s result, or SWAPPED. */
static int open_once(const gh__static_root_t *root, const char *rel,
                     const char *p, struct stat *st)
{
    int nofollow = root->symlinks ? 0 : O_NOFOLLOW, fd = -2, rc;
    int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    bool checked = root->symlinks && root->outside;
    struct stat pre;

    if (fstatat(root->fd, p, &pre, root->symlinks ? 0 : AT_SYMLINK_NOFOLLOW))
        return errno == ENOTDIR || errno == ELOOP ? GH_ENOENT : -errno;
    if (!servable(&pre))
        return GH_ENOENT;
    if (!checked) {
        fd = open_beneath(root, p, flags);
        /* An absolute link may still point inside: the slow check says. */
        if (fd == -1 && errno == EXDEV && root->symlinks)
            fd = -2;
        checked = fd != -2;
    }
    if (fd == -2)
        fd = openat(root->fd, p, flags | nofollow);
    if (fd < 0)
        return errno == ENOTDIR || errno == ELOOP || errno == EXDEV
                   ? GH_ENOENT
                   : -errno;
    if (fstat(fd, st) < 0) {
        rc = -errno;
        goto fail;
    }
    rc = st->st_dev != pre.st_dev || st->st_ino != pre.st_ino ? SWAPPED
                                                              : GH_ENOENT;
    if (rc == SWAPPED || !servable(st))
        goto fail;
    if (!checked && (rc = check_inside(root, rel, st)) < 0)
        goto fail;
    return fd;
fail:
    close(fd);
    return rc;
}

/* How many times a file that keeps being replaced is looked at again
 * before the request gives up with GH_EBUSY (503). */
#define SWAP_TRIES 8

int gh__static_open(const gh__static_root_t *root, const char *rel,
                    struct stat *st, bool cached)
{
    const char *p = *rel ? rel : ".";
    int fd = SWAPPED;

    if (cached)
        return open_cached(root, p, st);
    for (int i = 0; i < SWAP_TRIES && fd == SWAPPED; i++)
        fd = open_once(root, rel, p, st);
    return fd == SWAPPED ? GH_EBUSY : fd;
}

int gh__static_exists(const gh__static_root_t *root, const char *rel,
                      bool cached)
{
    struct stat st;
    int fd, rc;

    if (!cached)
        return fstatat(root->fd, rel, &st, 0) == 0 && S_ISREG(st.st_mode);
#ifdef SYS_openat2
    if (!cached_ok())
        return GH_EAGAIN;
    /* As fstatat: symbolic links followed wherever they lead. */
    if ((fd = openat2_fd(root->fd, rel, O_PATH | O_CLOEXEC,
                         RESOLVE_CACHED)) < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : GH_EAGAIN;
    rc = fstat(fd, &st) < 0 ? GH_EAGAIN : S_ISREG(st.st_mode);
    close(fd);
    return rc;
#else
    (void)fd;
    (void)rc;
    return GH_EAGAIN;
#endif
}

/* ---- revalidating a cached answer ------------------------------------ */

bool gh__static_same_works(const gh__static_root_t *root)
{
#ifdef SYS_openat2
    return cached_ok() && !(root->symlinks && root->outside);
#else
    (void)root;
    return false;
#endif
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
           a->st_mode == b->st_mode && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * The same walk as open_cached, with the same resolve flags, so a path that
 * a full lookup would now refuse (a link out of the root, any link with
 * symlinks off) is "not the same" and goes the full way.  The O_PATH
 * descriptor only names the inode; nothing is opened.
 */
int gh__static_same(const gh__static_root_t *root, const char *rel,
                    const struct stat *want)
{
#ifdef SYS_openat2
    uint64_t resolve = RESOLVE_BENEATH | RESOLVE_CACHED |
                       (root->symlinks ? 0 : RESOLVE_NO_SYMLINKS);
    struct stat now;
    int fd, rc;

    if (!gh__static_same_works(root))
        return GH_EAGAIN;
    fd = openat2_fd(root->fd, *rel ? rel : ".", O_PATH | O_CLOEXEC, resolve);
    if (fd < 0)
        return errno == EAGAIN ? GH_EAGAIN : 0;
    rc = fstat(fd, &now) == 0 && same_file(&now, want);
    close(fd);
    return rc;
#else
    (void)root, (void)rel, (void)want;
    return GH_EAGAIN;
#endif
}

bool gh__static_no_links(const gh__static_root_t *root, const char *rel)
{
#ifdef SYS_openat2
    int fd;

    if (!root->symlinks)
        return true; /* every lookup and every check refuses links */
    fd = openat2_fd(root->fd, *rel ? rel : ".", O_PATH | O_CLOEXEC,
                    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
    if (fd < 0)
        return false;
    close(fd);
    return true;
#else
    (void)root, (void)rel;
    return false;
#endif
}

char *gh__static_slurp(int fd, const struct stat *st)
{
    size_t len = (size_t)st->st_size, got = 0;
    char *buf = malloc(len ? len : 1);
    struct stat after;

    if (!buf || !S_ISREG(st->st_mode))
        goto fail;
    while (got < len) {
        struct iovec iov = {buf + got, len - got};
        ssize_t n = preadv2(fd, &iov, 1, (off_t)got, RWF_NOWAIT);
        if (n <= 0)
            goto fail; /* not in the page cache, or shrunk */
        got += (size_t)n;
    }
    if (fstat(fd, &after) < 0 || !same_file(&after, st))
        goto fail;
    return buf;
fail:
    free(buf);
    return NULL;
}

/* ---- listing --------------------------------------------------------- */

static int cmp_dirent(const void *a, const void *b)
{
    const gh__static_dirent_t *x = a, *y = b;

    if (x->dir != y->dir)
        return x->dir ? -1 : 1;
    return strcmp(x->name, y->name);
}

/*
 * Should entry d of the directory at rel be listed, and is it a directory?
 * A symbolic link is listed only if following it would be allowed.
 */
static bool listable(const gh__static_root_t *root, DIR *dir, const char *rel,
                     const struct dirent *d, bool dotfiles, bool *is_dir)
{
    char path[PATH_MAX];
    struct stat st;
    int fd;

    if (d->d_name[0] == '.' && (!dotfiles || !d->d_name[1] ||
                                (d->d_name[1] == '.' && !d->d_name[2])))
        return false;
    if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return false;
    if (S_ISLNK(st.st_mode)) {
        if (!root->symlinks ||
            snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "",
                     d->d_name) >= (int)sizeof(path) ||
            (fd = gh__static_open(root, path, &st, false)) < 0)
            return false;
        close(fd);
    }
    *is_dir = S_ISDIR(st.st_mode);
    return servable(&st);
}

static int push(gh__static_dirent_t **v, size_t *n, size_t *cap,
                const char *name, bool dir)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 32;
        gh__static_dirent_t *p = realloc(*v, c * sizeof(*p));
        if (!p)
            return GH_ENOMEM;
        *v = p;
        *cap = c;
    }
    if (!((*v)[*n].name = strdup(name)))
        return GH_ENOMEM;
    (*v)[(*n)++].dir = dir;
    return 0;
}

ssize_t gh__static_readdir(const gh__static_root_t *root, int fd,
                           const char *rel, bool dotfiles,
                           gh__static_dirent_t **out)
{
    gh__static_dirent_t *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *d;
    int rc = 0;
    DIR *dir = fdopendir(fd);

    if (!dir) {
        rc = -errno;
        close(fd);
        return rc;
    }
    while (rc == 0 && (errno = 0, d = readdir(dir))) {
        bool is_dir = false;
        if (listable(root, dir, rel, d, dotfiles, &is_dir))
            rc = push(&v, &n, &cap, d->d_name, is_dir);
    }
    if (rc == 0 && errno)
        rc = -errno;
    closedir(dir);
    if (rc < 0) {
        gh__static_dirents_free(v, n);
        return rc;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_dirent);
    *out = v;
    return (ssize_t)n;
}

void gh__static_dirents_free(gh__static_dirent_t *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].name);
    free(e);
}
