/*
 * log.c - the daemon's log files: the queue, the writer thread, reopening,
 * the error-log sink and the access-log formats.
 *
 * All state hangs off one global, g, under one mutex, g.lock.  Each open
 * file has a byte queue of whole lines (f->buf); producers append to it
 * under g.lock and nothing else, so a worker thread holds the lock for a
 * memcpy (and, while a queue grows to its high-water mark, a realloc).
 * g.queued counts the bytes in all queues against the bound g.cap.
 *
 * The writer thread owns each file's second buffer (f->wbuf).  A round:
 * under the lock it picks a file with work, swaps the two buffers (the
 * queue is empty again at once and the bytes leave g.queued), moves the
 * file to the list's tail (so one busy file cannot starve the others),
 * and then writes the batch with the lock released.  Only the writer
 * writes to a file's descriptor while it runs, and it writes whole
 * buffers of whole lines, so lines never interleave or tear.
 *
 * A reopen is a mark in the queue: gd_logs_reopen() records in every
 * file-backed log how many queued bytes came before it (f->cut).  The
 * writer writes those to the old descriptor, opens the path again, swaps
 * the descriptor in under the lock, closes the old one and writes the
 * rest to the new one.  Only the writer (or, with no writer, a caller
 * holding g.lock) changes f->fd, so the writer reads it without the lock.
 *
 * A file whose last reference goes (refs == 0) is no longer found by
 * gd_logfile_open(); the writer writes what it still has queued, then
 * unlinks, closes and frees it.  Without a writer (before gd_logs_init(),
 * after gd_logs_shutdown()) every write is done at once under g.lock and
 * a release frees at once.
 *
 * Batching: when lines arrive while the writer is idle, the first one is
 * written at once (a quiet server's log is current), but rounds then come
 * at most every BATCH_EVERY_MS: the writer lingers until then, unless the
 * queues pass a quarter of the bound, someone flushes, or it is told to
 * stop.  Producers signal only an idle writer or, past that mark, a
 * lingering one, so under load a log line costs a memcpy and no system
 * call, and the file gets one write(2) per round.
 *
 * The writer must never hold g.lock while it calls gh_log(): the error-log
 * sink takes g.lock to queue the message.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define NO_CUT SIZE_MAX
#define FLUSH_WAIT_S 2
#define BATCH_EVERY_MS 20        /* at most one round per this, under load */
#define JOIN_WAIT_S 3

struct gd_logfile {
    char *path;              /* as opened; constant */
    bool std;                /* stdout or stderr: never reopened or closed */
    int fd;                  /* g.lock to change; the writer reads it
                              * without (only it changes it meanwhile) */
    dev_t dev;               /* g.lock: the file fd is on */
    ino_t ino;               /* g.lock */
    int refs;                /* g.lock; 0: dying, the writer frees it */
    char *buf;               /* g.lock: the queue, whole lines */
    size_t len, cap;         /* g.lock: bytes queued in buf, its size */
    size_t cut;              /* g.lock: bytes of buf queued before a
                              * reopen request; NO_CUT: none pending */
    char *wbuf;              /* writer: the batch being written */
    size_t wlen, wcap;       /* writer */
    size_t wcut;             /* writer: the batch's cut */
    bool failing;            /* writer: the last write failed (reported) */
    bool due;                /* g.lock: to be served in this round */
    struct gd_logfile *next; /* g.lock: g.files */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work;     /* the writer waits here for work */
    pthread_cond_t idle;     /* flushers wait here for an idle writer */
    gd_logfile_t *files;     /* every file, dying ones too */
    size_t queued;           /* bytes in all f->buf */
    size_t cap;              /* ... at most */
    bool running;            /* a writer thread serves the queues */
    bool stop;               /* shutting down: exit once idle */
    bool busy;               /* the writer has a batch in hand */
    bool waiting;            /* the writer sleeps on g.work, idle */
    bool lingering;          /* ... or waits for the next round's time */
    int hurry;               /* flushers waiting: no lingering */
    struct timespec next_round; /* writer: no round before (MONOTONIC:
                                 * a wall-clock step must not stall it) */
    uint64_t dropped;        /* lines dropped, ever */
    uint64_t unreported;     /* ... not yet noted in the error log */
    gd_logfile_t *errlog;    /* the error log's file (a reference) */
    pthread_t thread;        /* the writer, while running */
} g = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
    .idle = PTHREAD_COND_INITIALIZER,
    .cap = GD_LOGS_QUEUE_DEFAULT,
};

/* The wall clock, ns since the epoch. */
static int64_t wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * ns since the epoch as a UTC date and time (tm_year, tm_mon, tm_mday,
 * tm_hour, tm_min, tm_sec).  Not gmtime_r(): glibc takes its time-zone
 * lock there on every call, and this runs for every access-log line.
 * Days are counted from 0000-03-01 in 400-year eras of 146097 days, so
 * that the leap day ends each year.
 */
static void utc(int64_t ns, struct tm *tm)
{
    int64_t secs = ns / 1000000000, days = secs / 86400, sod = secs % 86400;
    int64_t era, doe, yoe, doy, mp;

    if (sod < 0) {
        sod += 86400;
        days--;
    }
    days += 719468;
    era = (days >= 0 ? days : days - 146096) / 146097;
    doe = days - era * 146097;                             /* [0, 146096] */
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);         /* [0, 365] */
    mp = (5 * doy + 2) / 153;                              /* March = 0 */
    memset(tm, 0, sizeof(*tm));
    tm->tm_mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    tm->tm_mon = (int)(mp < 10 ? mp + 2 : mp - 10);
    tm->tm_year = (int)(yoe + era * 400 + (tm->tm_mon <= 1) - 1900);
    tm->tm_hour = (int)(sod / 3600);
    tm->tm_min = (int)(sod / 60 % 60);
    tm->tm_sec = (int)(sod % 60);
}

/* ------------------------------------------------------------------ */
/* Descriptors                                                         */
/* ------------------------------------------------------------------ */

/* Write all of iov[0..n) to fd, through EINTR, short writes and a
 * non-blocking descriptor.  0 or a negated errno. */
static int writev_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                poll(&p, 1, 100);
            else if (errno != EINTR)
                return -errno;
            continue;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
    struct iovec iov = {.iov_base = (void *)p, .iov_len = len};
    return len ? writev_all(fd, &iov, 1) : 0;
}

/* Open path for appending; fills *st.  The fd, or -1 with err set. */
static int open_path(const char *path, struct stat *st, char *err,
                     size_t errlen)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0) {
        snprintf(err, errlen, "cannot open log file %s: %s", path,
                 strerror(errno));
        return -1;
    }
    if (fstat(fd, st) < 0) {
        snprintf(err, errlen, "cannot open log file %s: %s", path,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* ------------------------------------------------------------------ */
/* Log files                                                           */
/* ------------------------------------------------------------------ */

/* The live file at path, or on st's inode; g.lock held. */
static gd_logfile_t *find_locked(const char *path, const struct stat *st)
{
    for (gd_logfile_t *f = g.files; f; f = f->next) {
        if (f->refs == 0)
            continue;
        if (strcmp(f->path, path) == 0 ||
            (st && !f->std && f->dev == st->st_dev && f->ino == st->st_ino))
            return f;
    }
    return NULL;
}

static gd_logfile_t *file_new(const char *path, int fd, bool std,
                              const struct stat *st)
{
    gd_logfile_t *f = calloc(1, sizeof(*f));

    if (!f || !(f->path = strdup(path))) {
        free(f);
        return NULL;
    }
    f->fd = fd;
    f->std = std;
    f->dev = st ? st->st_dev : 0;
    f->ino = st ? st->st_ino : 0;
    f->refs = 1;
    f->cut = NO_CUT;
    return f;
}

static void file_free(gd_logfile_t *f)
{
    if (!f->std)
        close(f->fd);
    free(f->buf);
    free(f->wbuf);
    free(f->path);
    free(f);
}

/* Link f in, unless an equal one appeared meanwhile (that one wins, with
 * a new reference, and f is freed).  g.lock held. */
static gd_logfile_t *add_locked(gd_logfile_t *f, const struct stat *st)
{
    gd_logfile_t *old = find_locked(f->path, st);

    if (old) {
        old->refs++;
        file_free(f);
        return old;
    }
    f->next = g.files;
    g.files = f;
    return f;
}

gd_logfile_t *gd_logfile_open(const char *path, char *err, size_t errlen)
{
    bool std = !strcmp(path, "stderr") || !strcmp(path, "stdout");
    gd_logfile_t *f;
    struct stat st;
    int fd;

    pthread_mutex_lock(&g.lock);
    if ((f = find_locked(path, NULL)))
        f->refs++;
    pthread_mutex_unlock(&g.lock);
    if (f)
        return f;
    fd = std ? (path[3] == 'e' ? STDERR_FILENO : STDOUT_FILENO)
             : open_path(path, &st, err, errlen);
    if (fd < 0)
        return NULL;
    if (!(f = file_new(path, fd, std, std ? NULL : &st))) {
        if (!std)
            close(fd);
        snprintf(err, errlen, "cannot open log file %s: out of memory",
                 path);
        return NULL;
    }
    pthread_mutex_lock(&g.lock);
    f = add_locked(f, std ? NULL : &st);
    pthread_mutex_unlock(&g.lock);
    return f;
}

static void unlink_locked(gd_logfile_t *f)
{
    gd_logfile_t **pp = &g.files;

    while (*pp != f)
        pp = &(*pp)->next;
    *pp = f->next;
}

void gd_logfile_release(gd_logfile_t *f)
{
    bool free_now = false;

    if (!f)
        return;
    pthread_mutex_lock(&g.lock);
    if (--f->refs == 0) {
        /* The writer writes what is left and frees it. */
        if (g.running)
            pthread_cond_signal(&g.work);
        else
            unlink_locked(f);
        free_now = !g.running;
    }
    pthread_mutex_unlock(&g.lock);
    if (free_now)
        file_free(f);
}

int gd_logfile_fd(gd_logfile_t *f)
{
    int fd;

    pthread_mutex_lock(&g.lock);
    fd = f->fd;
    pthread_mutex_unlock(&g.lock);
    return fd;
}

const char *gd_logfile_path(const gd_logfile_t *f)
{
    return f->path;
}

/* ------------------------------------------------------------------ */
/* Queueing                                                            */
/* ------------------------------------------------------------------ */

static bool grow_locked(gd_logfile_t *f, size_t need)
{
    size_t cap = f->cap ? f->cap : 4096;
    char *p;

    while (cap < need)
        cap *= 2;
    if (!(p = realloc(f->buf, cap)))
        return false;
    f->buf = p;
    f->cap = cap;
    return true;
}

/* Queue line (plus '\n' if nl) on f, or drop and count it; force
 * queues it past the bound. */
static void enqueue_locked(gd_logfile_t *f, const char *line, size_t len,
                           bool nl, bool force)
{
    size_t need = len + nl;

    if ((!force && need > g.cap - g.queued) ||
        (f->len + need > f->cap && !grow_locked(f, f->len + need))) {
        g.dropped++;
        g.unreported++;
        return;
    }
    memcpy(f->buf + f->len, line, len);
    if (nl)
        f->buf[f->len + len] = '\n';
    f->len += need;
    g.queued += need;
    if (g.waiting || (g.lingering && g.queued >= g.cap / 4))
        pthread_cond_signal(&g.work);
}

/* Queue the line, or with no writer write it now (still under g.lock, so
 * lines from several threads do not interleave). */
static void put_locked(gd_logfile_t *f, const char *line, size_t len)
{
    bool nl = len == 0 || line[len - 1] != '\n';
    struct iovec iov[2] = {{(void *)line, len}, {"\n", 1}};

    if (g.running)
        enqueue_locked(f, line, len, nl, false);
    else
        writev_all(f->fd, iov, nl ? 2 : 1);
}

void gd_logfile_write(gd_logfile_t *f, const char *line, size_t len)
{
    pthread_mutex_lock(&g.lock);
    put_locked(f, line, len);
    pthread_mutex_unlock(&g.lock);
}

uint64_t gd_logs_dropped(void)
{
    uint64_t n;

    pthread_mutex_lock(&g.lock);
    n = g.dropped;
    pthread_mutex_unlock(&g.lock);
    return n;
}

/* ------------------------------------------------------------------ */
/* Reopening                                                           */
/* ------------------------------------------------------------------ */

/* Open f's path again and make it f's descriptor; returns the old one to
 * close (after its lines are out), or -1 with err set. */
static int reopen_swap(gd_logfile_t *f, bool locked, char *err,
                       size_t errlen)
{
    struct stat st;
    int fd = open_path(f->path, &st, err, errlen), old;

    if (fd < 0)
        return -1;
    if (!locked)
        pthread_mutex_lock(&g.lock);
    old = f->fd;
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    if (!locked)
        pthread_mutex_unlock(&g.lock);
    return old;
}

/* Without a writer: reopen every file now, under the lock; errors are
 * collected and logged after it is released. */
static void reopen_now_locked(char *errs, size_t n)
{
    char err[512];
    size_t used = 0;

    errs[0] = '\0';
    for (gd_logfile_t *f = g.files; f; f = f->next) {
        int old;
        if (f->std || f->refs == 0)
            continue;
        if ((old = reopen_swap(f, true, err, sizeof(err))) >= 0)
            close(old);
        else if (used < n)
            used += (size_t)snprintf(errs + used, n - used, "%s%s",
                                     used ? "; " : "", err);
    }
}

void gd_logs_reopen(void)
{
    char errs[2048] = "";

    pthread_mutex_lock(&g.lock);
    if (g.running) {
        for (gd_logfile_t *f = g.files; f; f = f->next)
            if (!f->std && f->refs > 0 && f->cut == NO_CUT)
                f->cut = f->len;
        pthread_cond_signal(&g.work);
    } else {
        reopen_now_locked(errs, sizeof(errs));
    }
    pthread_mutex_unlock(&g.lock);
    if (errs[0])
        gh_log(GH_LOG_ERROR, "reopen: %s (keeping the old file)", errs);
}

/* ------------------------------------------------------------------ */
/* The writer thread                                                   */
/* ------------------------------------------------------------------ */

static bool has_work(const gd_logfile_t *f)
{
    return f->len > 0 || f->cut != NO_CUT || f->refs == 0;
}

/* True when nothing is queued or pending; g.lock held. */
static bool idle_locked(void)
{
    if (g.busy || g.queued > 0)
        return false;
    for (gd_logfile_t *f = g.files; f; f = f->next)
        if (has_work(f))
            return false;
    return true;
}

/* Take f's queue as the writer's batch and move f to the list's tail. */
static void take_locked(gd_logfile_t *f)
{
    char *p = f->wbuf;
    size_t cap = f->wcap;
    gd_logfile_t **pp;

    f->wbuf = f->buf;
    f->wlen = f->len;
    f->wcap = f->cap;
    f->wcut = f->cut;
    f->buf = p;
    f->cap = cap;
    f->len = 0;
    f->cut = NO_CUT;
    g.queued -= f->wlen;
    unlink_locked(f);
    f->next = NULL;
    for (pp = &g.files; *pp; pp = &(*pp)->next)
        ;
    *pp = f;
}

/* Write [off, off+len) of f's batch; report the first failure. */
static void write_part(gd_logfile_t *f, size_t off, size_t len)
{
    int rc = write_all(f->fd, f->wbuf + off, len);

    if (rc == 0 || len == 0) {
        f->failing = false;
        return;
    }
    if (!f->failing)
        gh_log(GH_LOG_ERROR, "cannot write to log file %s: %s (lines "
               "are being lost)", f->path, strerror(-rc));
    f->failing = true;
}

/* Write f's batch, reopening at its cut.  g.lock not held. */
static void write_batch(gd_logfile_t *f)
{
    size_t cut = f->wcut == NO_CUT ? f->wlen : f->wcut;
    char err[512];
    int old;

    write_part(f, 0, cut);
    if (f->wcut != NO_CUT && !f->std) {
        if ((old = reopen_swap(f, false, err, sizeof(err))) >= 0)
            close(old);
        else
            gh_log(GH_LOG_ERROR, "reopen: %s (keeping the old file)", err);
    }
    write_part(f, cut, f->wlen - cut);
    f->wlen = 0;
}

/*
 * After a batch: note dropped lines in the error log.  The note goes past
 * the queue's bound (by one line per batch at most), so that it is not
 * dropped in turn and the count it gives is every line lost.
 */
static void report_drops_locked(void)
{
    char msg[80], line[160];
    uint64_t n = g.unreported;
    size_t len;

    if (n == 0)
        return;
    g.unreported = 0;
    len = (size_t)snprintf(msg, sizeof(msg),
                           "%" PRIu64 " log lines dropped (log queue full)",
                           n);
    if (g.errlog && gh_log_level() >= GH_LOG_WARN) {
        len = gd_errlog_format(line, sizeof(line), wall_now(), GH_LOG_WARN,
                               msg, len);
        enqueue_locked(g.errlog, line, len, false, true);
        return;
    }
    pthread_mutex_unlock(&g.lock);
    gh_log(GH_LOG_WARN, "%s", msg);
    pthread_mutex_lock(&g.lock);
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec ||
           (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Wait for the next round's time, unless something cannot wait.  True if
 * it waited (the caller looks for work again).  g.lock held. */
static bool linger_locked(void)
{
    struct timespec now;
    int rc = 0;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!ts_before(&now, &g.next_round))
        return false;
    g.lingering = true;
    while (rc == 0 && !g.stop && !g.hurry && g.queued < g.cap / 4)
        rc = pthread_cond_clockwait(&g.work, &g.lock, CLOCK_MONOTONIC,
                                    &g.next_round);
    g.lingering = false;
    return true;
}

/* The earliest time of the round after one starting now. */
static void round_started(void)
{
    clock_gettime(CLOCK_MONOTONIC, &g.next_round);
    g.next_round.tv_nsec += BATCH_EVERY_MS * 1000000L;
    if (g.next_round.tv_nsec >= 1000000000L) {
        g.next_round.tv_sec++;
        g.next_round.tv_nsec -= 1000000000L;
    }
}

static void serve_locked(gd_logfile_t *f);

/* Some file has work: serve the next one due in this round, or start a
 * round (once its time has come: marking every file with work as due).
 * g.lock held. */
static void serve_or_linger_locked(void)
{
    gd_logfile_t *f = g.files;

    while (f && !(f->due && has_work(f)))
        f = f->next;
    if (f) {
        f->due = false;
        serve_locked(f);
        return;
    }
    if (linger_locked())
        return; /* look again: the queues changed meanwhile */
    round_started();
    for (f = g.files; f; f = f->next)
        f->due = has_work(f);
}

/* One batch of f; g.lock held on entry and exit. */
static void serve_locked(gd_logfile_t *f)
{
    take_locked(f);
    g.busy = true;
    pthread_mutex_unlock(&g.lock);
    write_batch(f);
    pthread_mutex_lock(&g.lock);
    /* A dying file got no lines since it was taken (nobody holds it). */
    if (f->refs == 0 && f->len == 0) {
        unlink_locked(f);
        pthread_mutex_unlock(&g.lock);
        file_free(f);
        pthread_mutex_lock(&g.lock);
    }
    report_drops_locked();
}

static void *writer_main(void *arg)
{
    pthread_mutex_lock(&g.lock);
    while (g.running) {
        gd_logfile_t *f = g.files;
        while (f && !has_work(f))
            f = f->next;
        if (f) {
            serve_or_linger_locked();
            continue;
        }
        g.busy = false;
        pthread_cond_broadcast(&g.idle);
        if (g.stop)
            break;
        g.waiting = true;
        pthread_cond_wait(&g.work, &g.lock);
        g.waiting = false;
    }
    g.running = false;
    pthread_cond_broadcast(&g.idle);
    pthread_mutex_unlock(&g.lock);
    return arg;
}

int gd_logs_init(size_t queue_bytes)
{
    sigset_t all, old;
    int rc;

    pthread_mutex_lock(&g.lock);
    if (g.running) {
        pthread_mutex_unlock(&g.lock);
        return GH_EBUSY;
    }
    g.cap = queue_bytes ? queue_bytes : GD_LOGS_QUEUE_DEFAULT;
    g.running = true;
    g.stop = false;
    /* The writer takes no signals: they belong to the signal loop. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&g.thread, NULL, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        g.running = false;
    pthread_mutex_unlock(&g.lock);
    return rc == EAGAIN ? GH_ENOMEM : -rc;
}

/* s seconds from now on clock (pthread_timedjoin_np takes REALTIME). */
static struct timespec deadline_in(clockid_t clock, int s)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    ts.tv_sec += s;
    return ts;
}

int gd_logs_flush(void)
{
    struct timespec dl = deadline_in(CLOCK_MONOTONIC, FLUSH_WAIT_S);
    int rc = 0;

    pthread_mutex_lock(&g.lock);
    g.hurry++;
    while (g.running && !idle_locked() && rc == 0) {
        pthread_cond_signal(&g.work);
        rc = pthread_cond_clockwait(&g.idle, &g.lock, CLOCK_MONOTONIC, &dl);
    }
    g.hurry--;
    pthread_mutex_unlock(&g.lock);
    return rc == ETIMEDOUT ? GH_ETIMEDOUT : 0;
}

void gd_logs_shutdown(void)
{
    struct timespec dl;
    pthread_t t;

    pthread_mutex_lock(&g.lock);
    if (!g.running || g.stop) {
        pthread_mutex_unlock(&g.lock);
        return;
    }
    g.stop = true;
    t = g.thread;
    pthread_cond_signal(&g.work);
    pthread_mutex_unlock(&g.lock);
    dl = deadline_in(CLOCK_REALTIME, JOIN_WAIT_S);
    if (pthread_timedjoin_np(t, NULL, &dl) != 0) {
        /* Stuck on a full pipe: leave it; writes are synchronous now. */
        pthread_detach(t);
        pthread_mutex_lock(&g.lock);
        g.running = false;
        pthread_mutex_unlock(&g.lock);
    }
    pthread_mutex_lock(&g.lock);
    g.stop = false;
    pthread_mutex_unlock(&g.lock);
}

/* ------------------------------------------------------------------ */
/* The error log                                                       */
/* ------------------------------------------------------------------ */

size_t gd_errlog_format(char *buf, size_t cap, int64_t wall_ns, int level,
                        const char *msg, size_t len)
{
    struct tm tm;
    size_t n, i;

    if (cap < 64) /* the time and the level always fit */
        return 0;
    utc(wall_ns, &tm);
    n = (size_t)snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ [%s] ",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min, tm.tm_sec,
                         gh_log_level_name(level));
    /* Room for an escape, "..." and the newline. */
    for (i = 0; i < len && n + 4 + 5 <= cap; i++) {
        unsigned char c = (unsigned char)msg[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02X", c);
        else
            buf[n++] = (char)c;
    }
    if (i < len)
        n += (size_t)snprintf(buf + n, cap - n, "...");
    buf[n++] = '\n';
    buf[n] = '\0';
    return n;
}

static void errlog_sink(void *udata, int level, const char *msg, size_t len)
{
    char line[GH_LOG_MAX + 128];
    size_t n = gd_errlog_format(line, sizeof(line), wall_now(), level, msg,
                                len);

    pthread_mutex_lock(&g.lock);
    if (g.errlog)
        put_locked(g.errlog, line, n);
    else /* gd_errlog_use(NULL) raced with this message */
        write_all(STDERR_FILENO, line, n);
    pthread_mutex_unlock(&g.lock);
}

void gd_errlog_use(gd_logfile_t *f)
{
    gd_logfile_t *old;

    pthread_mutex_lock(&g.lock);
    old = g.errlog;
    if (f)
        f->refs++;
    g.errlog = f;
    pthread_mutex_unlock(&g.lock);
    gh_log_set_sink(f ? errlog_sink : NULL, NULL);
    gd_logfile_release(old);
}

/* ------------------------------------------------------------------ */
/* Access-log lines                                                    */
/* ------------------------------------------------------------------ */

/* A bounded output buffer: len never passes cap. */
typedef struct obuf {
    char *p;
    size_t len, cap;
} obuf_t;

static void put(obuf_t *o, const char *s, size_t n)
{
    if (n > o->cap - o->len)
        n = o->cap - o->len;
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void puts_(obuf_t *o, const char *s)
{
    put(o, s, strlen(s));
}

static void putf(obuf_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void putf(obuf_t *o, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* An escaper: writes the escaped form of the unit at s to u (at most 8
 * bytes), sets *ulen, and returns how many input bytes it consumed. */
typedef size_t (*esc_fn)(const unsigned char *s, char *u, size_t *ulen);

static size_t esc_clf(const unsigned char *s, char *u, size_t *ulen)
{
    if (*s < 0x20 || *s >= 0x7f || *s == '"' || *s == '\\') {
        *ulen = (size_t)snprintf(u, 8, "\\x%02X", *s);
    } else {
        u[0] = (char)*s;
        *ulen = 1;
    }
    return 1;
}

/* The length of the valid UTF-8 sequence (2 to 4 bytes) at s, or 0. */
static size_t utf8_seq(const unsigned char *s)
{
    size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
    uint32_t cp = s[0] & (0x7f >> n);

    if (s[0] < 0xc2 || s[0] > 0xf4) /* continuation, overlong or > U+10FFFF */
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static size_t esc_json(const unsigned char *s, char *u, size_t *ulen)
{
    static const char short_esc[] = "\"\"\\\\\nn\rr\tt\bb\ff";
    const char *e = *s ? strchr(short_esc, *s) : NULL;
    size_t n;

    if (e && (e - short_esc) % 2 == 0) { /* a pair: the byte, its letter */
        u[0] = '\\';
        u[1] = e[1];
        *ulen = 2;
        return 1;
    }
    if (*s >= 0x20 && *s < 0x7f) {
        u[0] = (char)*s;
        *ulen = 1;
        return 1;
    }
    if (*s >= 0x80 && (n = utf8_seq(s)) > 0) {
        memcpy(u, s, n);
        *ulen = n;
        return n;
    }
    *ulen = (size_t)snprintf(u, 8, "\\u%04X", *s);
    return 1;
}

/* Append s escaped by esc, cut with "..." so the field stays within
 * limit bytes (and the buffer). */
static void put_esc(obuf_t *o, const char *s, size_t limit, esc_fn esc)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t room = o->cap - o->len, used = 0, ulen;
    char u[8];

    if (room > limit)
        room = limit;
    while (*p) {
        size_t in = esc(p, u, &ulen);
        if (used + ulen + 3 > room && (used + ulen > room || p[in])) {
            put(o, "...", room - used < 3 ? room - used : 3);
            return;
        }
        put(o, u, ulen);
        used += ulen;
        p += in;
    }
}

/* An address as text, or NULL when unknown. */
static const char *addr_str(const struct sockaddr *sa, socklen_t len,
                            char *buf, size_t n)
{
    if (!sa || len < (socklen_t)sizeof(sa_family_t))
        return NULL;
    if (sa->sa_family == AF_INET)
        return inet_ntop(AF_INET,
                         &((const struct sockaddr_in *)sa)->sin_addr, buf,
                         (socklen_t)n);
    if (sa->sa_family == AF_INET6)
        return inet_ntop(AF_INET6,
                         &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
                         (socklen_t)n);
    if (sa->sa_family == AF_UNIX)
        return "unix";
    return NULL;
}

/* The real client's address (behind trusted proxies), as text. */
static const char *remote_str(const gh_access_t *a, char *buf, size_t n)
{
    if (a->client)
        return addr_str(a->client, a->client_len, buf, n);
    return addr_str(a->peer, a->peer_len, buf, n);
}

/* "HTTP/1.1" for 11; NULL when unknown. */
static const char *protocol_str(int version)
{
    static const char *const names[] = {"HTTP/1.0", "HTTP/1.1",
                                        "HTTP/2.0", "HTTP/3.0"};

    switch (version) {
    case 10: return names[0];
    case 11: return names[1];
    case 20: return names[2];
    case 30: return names[3];
    default: return NULL;
    }
}

#define TARGET_MAX 4096
#define HEADER_MAX 1024
#define METHOD_MAX 64
#define RID_MAX 128

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* %h %l %u %t "%r" %>s %b, and for combined "%{Referer}i" "%{UA}i",
 * and for combined_id the request ID in quotes. */
static void format_clf(obuf_t *o, const gh_access_t *a, int fmt,
                       const char *referer, const char *ua)
{
    char rbuf[INET6_ADDRSTRLEN];
    const char *remote = remote_str(a, rbuf, sizeof(rbuf));
    const char *proto = protocol_str(a->version);
    struct tm tm;

    utc(a->start_wall ? a->start_wall : wall_now(), &tm);
    puts_(o, remote ? remote : "-");
    putf(o, " - - [%02d/%s/%04d:%02d:%02d:%02d +0000] \"", tm.tm_mday,
         months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
         tm.tm_sec);
    if (!a->method) {
        puts_(o, "-");
    } else {
        put_esc(o, a->method, METHOD_MAX, esc_clf);
        puts_(o, " ");
        put_esc(o, a->target ? a->target : "-", TARGET_MAX, esc_clf);
        if (proto)
            putf(o, " %s", proto);
    }
    putf(o, "\" %d ", a->status);
    if (a->body_bytes)
        putf(o, "%" PRIu64, a->body_bytes);
    else
        puts_(o, "-");
    if (fmt == GD_ACCESS_COMMON)
        return;
    puts_(o, " \"");
    put_esc(o, referer ? referer : "-", HEADER_MAX, esc_clf);
    puts_(o, "\" \"");
    put_esc(o, ua ? ua : "-", HEADER_MAX, esc_clf);
    puts_(o, "\"");
    if (fmt != GD_ACCESS_COMBINED_ID)
        return;
    puts_(o, " \"");
    put_esc(o, a->request_id ? a->request_id : "-", RID_MAX, esc_clf);
    puts_(o, "\"");
}

/* ,"key":"value" or ,"key":null */
static void json_str(obuf_t *o, const char *key, const char *v, size_t limit)
{
    putf(o, ",\"%s\":", key);
    if (!v) {
        puts_(o, "null");
        return;
    }
    puts_(o, "\"");
    put_esc(o, v, limit, esc_json);
    puts_(o, "\"");
}

/* ,"peer":"..." when the connection's peer is not the client shown
 * (remote, the client's text): a request that came through a proxy. */
static void json_peer(obuf_t *o, const gh_access_t *a, const char *remote)
{
    char pbuf[INET6_ADDRSTRLEN];
    const char *peer;

    if (!a->client || a->client == a->peer)
        return;
    peer = addr_str(a->peer, a->peer_len, pbuf, sizeof(pbuf));
    if (peer && (!remote || strcmp(peer, remote) != 0))
        json_str(o, "peer", peer, 64);
}

/* A TLS request's connection: version, cipher, SNI and the verified
 * client; nothing for plain HTTP, so those lines stay as they were. */
static void json_tls(obuf_t *o, const gh_tls_info_t *ti)
{
    if (!ti)
        return;
    json_str(o, "tls_version", ti->version, 16);
    json_str(o, "tls_cipher", ti->cipher, 64);
    json_str(o, "sni", ti->sni, 256);
    if (ti->client_subject)
        json_str(o, "client_subject", ti->client_subject, 512);
}

static void format_json(obuf_t *o, const gh_access_t *a, const char *referer,
                        const char *ua)
{
    char rbuf[INET6_ADDRSTRLEN];
    const char *remote;
    int64_t t = a->start_wall ? a->start_wall : wall_now();
    int64_t d = a->duration > 0 ? a->duration : 0;
    struct tm tm;

    utc(t, &tm);
    putf(o, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
         tm.tm_min, tm.tm_sec, (int)(t % 1000000000 / 1000000));
    remote = remote_str(a, rbuf, sizeof(rbuf));
    json_str(o, "remote", remote, 64);
    json_peer(o, a, remote);
    json_str(o, "method", a->method, METHOD_MAX);
    json_str(o, "target", a->target, TARGET_MAX);
    json_str(o, "protocol", protocol_str(a->version), 16);
    putf(o, ",\"status\":%d,\"bytes\":%" PRIu64, a->status, a->body_bytes);
    putf(o, ",\"duration_ms\":%" PRId64 ".%03d", d / 1000000,
         (int)(d % 1000000 / 1000));
    json_str(o, "referer", referer, HEADER_MAX);
    json_str(o, "user_agent", ua, HEADER_MAX);
    if (a->request_id)
        json_str(o, "request_id", a->request_id, RID_MAX);
    json_tls(o, a->req ? gh_req_tls(a->req) : NULL);
    puts_(o, "}");
}

size_t gd_access_format(char *buf, size_t cap, int fmt, const gh_access_t *a,
                        const char *referer, const char *ua)
{
    obuf_t o = {.p = buf, .len = 0};

    if (cap < 2)
        return 0;
    if (cap > GD_ACCESS_LINE_MAX)
        cap = GD_ACCESS_LINE_MAX;
    o.cap = cap - 2; /* the newline and a NUL */
    if (fmt == GD_ACCESS_JSON)
        format_json(&o, a, referer, ua);
    else
        format_clf(&o, a, fmt, referer, ua);
    buf[o.len++] = '\n';
    buf[o.len] = '\0';
    return o.len;
}

int gd_access_format_parse(const char *name)
{
    static const char *const names[] = {"common", "combined", "json",
                                        "combined_id"};

    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

void gd_access_log_cb(void *udata, const gh_access_t *a)
{
    const gd_access_log_t *al = udata;
    const char *referer = NULL, *ua = NULL;
    char line[GD_ACCESS_LINE_MAX];
    size_t n;

    if (a->req && al->format != GD_ACCESS_COMMON) {
        referer = gh_req_header(a->req, "Referer");
        ua = gh_req_header(a->req, "User-Agent");
    }
    n = gd_access_format(line, sizeof(line), al->format, a, referer, ua);
    gd_logfile_write(al->f, line, n);
}
