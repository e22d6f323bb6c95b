/*
 * static_watch.c - change notifications for the open-file cache, so that
 * a hit asks the kernel one cheap question instead of walking the path
 * again.
 *
 * One inotify(7) instance per route watches every cached file (the inode:
 * writes, attribute changes, links and unlinks, whatever the path used)
 * and every directory from the root down to it (entries created, deleted
 * or renamed, permissions), so a file replaced by a rename, a directory
 * swapped for a link or moved away is reported like a write.  The kernel
 * queues the event inside the changing system call, before it returns.
 *
 * A hit then asks whether anything is queued (ioctl FIONREAD: one system
 * call, no path walk).  Nothing queued and no change counted since the
 * entry was last checked: the entry holds.  Otherwise the events are read
 * and counted (the generation, gen, goes up) and the entry is checked the
 * old way (gh__static_same), after which it holds for that generation.
 * So a change is seen by every request that starts after the changing
 * call returned, just as when every request walked the path; the events
 * only say when to look, never what is true.
 *
 * Races between hits on several workers.  A hit that finds the queue
 * empty because another one is reading it must not trust the old
 * generation: the reader raises `draining` before its read and lowers it
 * after raising gen, and a hit reads the queue, then draining, then gen.
 * A hit that is checking stores the generation it read before its check,
 * so a change during the check leaves the entry one generation behind.
 *
 * Watch descriptors are shared: the kernel gives one per inode, so the
 * root and a busy directory are watched once however many entries lie
 * beneath them.  A table counts the entries holding each; one no entry
 * holds stays (a rebuilt entry, every cache_valid, finds it again, and
 * removing it would queue an IN_IGNORED event that sends every entry to
 * be checked) until the table holds twice as many as the cache has
 * entries (plus a margin), when the unheld ones are removed.
 *
 * A path with a symbolic link on it is not watched (its entry is checked
 * at every request): a directory outside the path can change where a
 * link leads without any event on the path.  Neither is one deeper than
 * GH__STATIC_WATCH_DEPTH, nor anything once the kernel refuses a watch
 * (fs.inotify.max_user_watches; logged once).  Changes that make no event
 * stay unseen until cache_valid sends the entry to a full lookup: writes
 * through a shared mmap(2), a mount over a directory on the path, and on
 * network file systems, changes made by other machines.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <gohttpd.h>

#include "static.h"

/* The inode of a cached file: anything that changes its bytes or stat. */
#define FILE_MASK                                                              \
    (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF)
/* A directory on the path: its entries and its own permissions. */
#define DIR_MASK                                                               \
    (IN_ONLYDIR | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM |         \
     IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)

int gh__static_watch_init(gh__static_watch_t *w, int root_fd,
                          size_t max_entries)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    atomic_init(&w->gen, 1);
    atomic_init(&w->draining, 0);
    if (max_entries == 0)
        return 0;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        /* EMFILE: fs.inotify.max_user_instances; check every request. */
        gh_log(GH_LOG_WARN, "static: no change notifications (%s): the "
               "cache checks each file at every request", strerror(errno));
        return 0;
    }
    w->max_idle = 2 * max_entries + 64;
    snprintf(w->base, sizeof(w->base), "/proc/self/fd/%d", root_fd);
    return 0;
}

void gh__static_watch_fini(gh__static_watch_t *w)
{
    if (w->fd >= 0)
        close(w->fd); /* drops every watch */
    w->fd = -1;
    free(w->tab);
    w->tab = NULL;
    w->cap = w->n = 0;
}

/* ---- the table: wd -> entries holding it (open addressing) ---------- */

static size_t slot_of(const gh__static_watch_t *w, int wd)
{
    return ((uint32_t)wd * 2654435761u) & (w->cap - 1);
}

static gh__static_wd_t *find_wd(gh__static_watch_t *w, int wd)
{
    for (size_t i = slot_of(w, wd);; i = (i + 1) & (w->cap - 1)) {
        if (w->tab[i].wd == wd)
            return &w->tab[i];
        if (w->tab[i].wd == 0)
            return NULL;
    }
}

/* Put wd in a table with room (it is not there). */
static gh__static_wd_t *put_wd(gh__static_watch_t *w, int wd)
{
    size_t i = slot_of(w, wd);

    while (w->tab[i].wd != 0)
        i = (i + 1) & (w->cap - 1);
    w->tab[i] = (gh__static_wd_t){.wd = wd, .refs = 0};
    w->n++;
    return &w->tab[i];
}

/* Keep the table at most half full. */
static bool grow(gh__static_watch_t *w)
{
    gh__static_wd_t *old = w->tab;
    size_t ocap = w->cap, ncap = ocap ? 2 * ocap : 64;

    if (2 * (w->n + 1) <= ocap)
        return true;
    if (!(w->tab = calloc(ncap, sizeof(*w->tab)))) {
        w->tab = old;
        return false;
    }
    w->cap = ncap;
    w->n = 0;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].wd != 0)
            *put_wd(w, old[i].wd) = old[i];
    free(old);
    return true;
}

/* Remove the watches no entry holds and rebuild the table without them. */
static void sweep(gh__static_watch_t *w)
{
    gh__static_wd_t *old = w->tab;
    size_t ocap = w->cap;

    if (!(w->tab = calloc(ocap, sizeof(*w->tab)))) {
        w->tab = old;
        return;
    }
    w->n = w->idle = 0;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].wd == 0)
            continue;
        if (old[i].refs == 0)
            (void)inotify_rm_watch(w->fd, old[i].wd);
        else
            *put_wd(w, old[i].wd) = old[i];
    }
    free(old);
}

/* Watch what p names with mask and count one more holder: the wd, or -1. */
static int hold(gh__static_watch_t *w, const char *p, uint32_t mask)
{
    gh__static_wd_t *t;
    int wd;

    if (!grow(w))
        return -1;
    if ((wd = inotify_add_watch(w->fd, p, mask)) < 0) {
        if (errno == ENOSPC && !w->full_logged) {
            w->full_logged = true;
            gh_log(GH_LOG_WARN, "static: out of inotify watches "
                   "(fs.inotify.max_user_watches): files cached from now "
                   "on are checked at every request");
        }
        return -1;
    }
    if (!(t = find_wd(w, wd)))
        t = put_wd(w, wd);
    else if (t->refs == 0)
        w->idle--;
    t->refs++;
    return wd;
}

static void let_go(gh__static_watch_t *w, int wd)
{
    gh__static_wd_t *t = find_wd(w, wd);

    if (t && --t->refs == 0)
        w->idle++;
}

/* ---- what the cache calls ------------------------------------------- */

int gh__static_watch_add(gh__static_watch_t *w, const char *rel, int *wds)
{
    char p[PATH_MAX];
    size_t blen = strlen(w->base), rlen = strlen(rel);
    int n = 0;

    if (w->fd < 0 || blen + 1 + rlen >= sizeof(p))
        return 0;
    memcpy(p, w->base, blen);
    p[blen] = '/';
    memcpy(p + blen + 1, rel, rlen + 1);
    gh_mutex_lock(&w->mu);
    /* The root, then each directory on the way, then the file. */
    if ((wds[n] = hold(w, w->base, DIR_MASK)) < 0)
        goto undo;
    n++;
    for (size_t i = blen + 1; rlen > 0; i++) {
        bool last = p[i] == '\0';
        if (!last && p[i] != '/')
            continue;
        if (n == GH__STATIC_WATCH_DEPTH)
            goto undo;
        p[i] = '\0';
        wds[n] = hold(w, p, last ? FILE_MASK : DIR_MASK);
        if (!last)
            p[i] = '/';
        if (wds[n] < 0)
            goto undo;
        n++;
        if (last)
            break;
    }
    gh_mutex_unlock(&w->mu);
    return n;
undo:
    while (n > 0)
        let_go(w, wds[--n]);
    gh_mutex_unlock(&w->mu);
    return 0;
}

void gh__static_watch_release(gh__static_watch_t *w, const int *wds, int n)
{
    if (n <= 0)
        return;
    gh_mutex_lock(&w->mu);
    for (int i = 0; i < n; i++)
        let_go(w, wds[i]);
    if (w->idle > w->max_idle)
        sweep(w);
    gh_mutex_unlock(&w->mu);
}

/* Read and count what is queued (several workers may do so at once). */
static void drain(gh__static_watch_t *w)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool any = false;
    ssize_t n;

    atomic_fetch_add_explicit(&w->draining, 1, memory_order_seq_cst);
    while ((n = read(w->fd, buf, sizeof(buf))) > 0 ||
           (n < 0 && errno == EINTR))
        any |= n > 0;
    if (any)
        atomic_fetch_add_explicit(&w->gen, 1, memory_order_seq_cst);
    atomic_fetch_sub_explicit(&w->draining, 1, memory_order_seq_cst);
}

bool gh__static_watch_quiet(gh__static_watch_t *w, uint64_t *gen)
{
    int queued = 0;

    if (w->fd < 0)
        return false;
    /* Twice: after reading what was queued, the caller's check may hold
     * for the generation that counted it. */
    for (int tries = 0; tries < 2; tries++) {
        if (ioctl(w->fd, FIONREAD, &queued) < 0)
            return false;
        if (queued > 0) {
            drain(w);
            continue;
        }
        if (atomic_load_explicit(&w->draining, memory_order_seq_cst) != 0)
            return false;
        *gen = atomic_load_explicit(&w->gen, memory_order_seq_cst);
        return true;
    }
    return false;
}
