/*
 * netpoll.c - goroutine-aware I/O on non-blocking descriptors.
 *
 * Every call tries the system call first.  On EAGAIN the goroutine records
 * an iowait (on its own stack: nothing is allocated) in the descriptor's
 * slot, arms a one-shot ev_io (and a timer for its deadline) on the loop
 * of the worker it runs on, and parks.  Whichever fires first stops both
 * watchers, clears the slot and readies the goroutine; both callbacks run on
 * that same worker, so the two cannot race.  Watchers are only ever touched
 * by the thread that owns their loop.
 *
 * Closing.  gh_close() marks the descriptor closing (new waits fail with
 * GH_ECLOSED), then asks each worker that holds a waiter on it, through that
 * worker's inbox, to stop the watchers and ready the waiter with GH_ECLOSED;
 * it waits for every acknowledgement before calling close(2), so no loop
 * ever watches a descriptor number that has been closed and possibly reused.
 * A plain thread (not a worker) waits in poll(2) on the descriptor and an
 * eventfd of its own (or in slices, when no descriptor is left for one),
 * listed in the slot: gh_close() writes to the eventfd and waits until
 * the thread has left the slot, for the same reason.
 *
 * Descriptor slots live in a two-level table (1024 chunks of 1024 slots),
 * allocated chunk by chunk on first use and never freed: slots are reused
 * with their descriptor numbers.
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/netpoll.h"

#define CHUNK 1024
#define NCHUNKS 1024

typedef gh__iowait_t iowait_t;

/* A plain thread waiting on a descriptor (gh__poll_thread); on its stack. */
typedef struct thread_wait {
    struct thread_wait *next; /* in the slot's list */
    int events;               /* GH_IO_READ / GH_IO_WRITE */
    int efd;                  /* gh_close() writes to it to wake the thread;
                               * -1 when no descriptor was left for it */
    _Atomic bool closed;      /* gh_close() ran: set under the slot's mu */
} thread_wait_t;

/* Without an eventfd (EMFILE), a thread polls in slices this long and
 * looks at closed between them: gh_close() waits at most that. */
#define THREAD_SLICE_MS 10

typedef struct gh__pfd {
    gh__lock_t mu;      /* guards the fields below */
    iowait_t *rd;       /* the goroutine (or fdwatch) waiting to read */
    iowait_t *wr;       /* the goroutine (or fdwatch) waiting to write */
    thread_wait_t *threads; /* plain threads waiting in poll(2) */
    iowait_t *dormant;  /* a fired GH__FDWATCH_KEEP watch whose ev_io is
                         * still started on its loop */
    bool closing;       /* gh_close() in progress: refuse new waits */
    uint32_t gen;       /* gh_close() calls so far */
    gh__m_t *last_m;    /* the loop that last watched fd ... */
    uint32_t last_gen;  /* ... and the gen then */
} pfd_t;

static pfd_t *_Atomic chunks[NCHUNKS];

static pfd_t *pfd_get(int fd, bool create)
{
    pfd_t *c, *fresh;

    if (fd < 0 || fd >= CHUNK * NCHUNKS)
        return NULL;
    c = atomic_load_explicit(&chunks[fd / CHUNK], memory_order_acquire);
    if (c || !create)
        return c ? &c[fd % CHUNK] : NULL;
    fresh = calloc(CHUNK, sizeof(*fresh)); /* zero: unlocked, no waiters */
    if (!fresh)
        return NULL;
    if (!atomic_compare_exchange_strong(&chunks[fd / CHUNK], &c, fresh)) {
        free(fresh); /* another thread installed one first */
        return &c[fd % CHUNK];
    }
    return &fresh[fd % CHUNK];
}

/* ---- readiness in the kernel's order ---- */

/*
 * libev invokes the callbacks of one loop iteration last-fed first, so the
 * descriptor that epoll reported first (its ready list is in order of
 * readiness) would be served last.  io_cb only records the report; once
 * the iteration's callbacks have run, gh__netpoll_invoke() finishes the
 * waits oldest first, and their goroutines join the tail of the worker's
 * queue in that order (gh__ready_queued: not runnext, which would put one
 * of them ahead of what was queued before; none of them continues what
 * ran).  Anything else that finishes or disarms a recorded wait in the
 * meantime (gh_close() and gh__fdwatch_stop() requests, a deadline) takes
 * it off the list first, so each wait ends once.
 */
static void fired_push(iowait_t *w, int result)
{
    gh__m_t *m = w->m;

    w->fired = true;
    w->fired_result = result;
    w->fired_prev = NULL;
    w->fired_next = m->io_fired;
    if (w->fired_next)
        w->fired_next->fired_prev = w;
    m->io_fired = w; /* pushed last: reported first */
}

static void fired_unlink(iowait_t *w)
{
    if (!w->fired)
        return;
    if (w->fired_prev)
        w->fired_prev->fired_next = w->fired_next;
    else
        w->m->io_fired = w->fired_next;
    if (w->fired_next)
        w->fired_next->fired_prev = w->fired_prev;
    w->fired = false;
}

static void iowait_finish(iowait_t *w, int result);

void gh__netpoll_invoke(struct ev_loop *loop)
{
    gh__m_t *m = gh__cur_m();
    iowait_t *w;

    ev_invoke_pending(loop);
    /* The head again each time: a callback may finish others. */
    while ((w = m->io_fired))
        iowait_finish(w, w->fired_result); /* unlinks w */
}

/* Stop w's watchers, clear its slots, ready its goroutine.  Owner only. */
static void iowait_finish(iowait_t *w, int result)
{
    struct ev_loop *loop = w->m->loop;
    gh__g_t *g = w->g;
    /* A kept watch that saw its descriptor ready stays started: the
     * connection will most likely watch again from this worker, and
     * libev then needs no epoll_ctl at all. */
    bool keep = w->keep && result > 0;

    fired_unlink(w);
    if (!keep)
        ev_io_stop(loop, &w->io);
    gh__timer_stop(&w->tm);
    gh__lock(&w->pfd->mu);
    if (w->pfd->rd == w)
        w->pfd->rd = NULL;
    if (w->pfd->wr == w)
        w->pfd->wr = NULL;
    if (keep)
        w->pfd->dormant = w;
    gh__unlock(&w->pfd->mu);
    w->dormant = keep;
    w->ignored = 0;
    if (w->fn)
        w->fn(w, result); /* an fdwatch: nobody is parked */
    else
        gh__ready_queued(g, result);
}

/*
 * Owner only: stop a dormant watch's ev_io for good.  All of it happens
 * under the descriptor's lock: the moment p->dormant no longer names w, a
 * goroutine closing the descriptor on another worker stops waiting for
 * us and may free w, so nothing may touch w after that.
 */
static void dormant_stop(iowait_t *w)
{
    pfd_t *p = w->pfd;

    gh__lock(&p->mu);
    if (p->dormant == w)
        p->dormant = NULL;
    ev_io_stop(w->m->loop, &w->io);
    w->dormant = false;
    gh__unlock(&p->mu);
}

/* Level-triggered readiness keeps coming while the new owner of the bytes
 * has not read them yet; after a few reports it is probably busy with a
 * long request, and the watch stops rather than wake the loop for nothing. */
#define DORMANT_IGNORE 64

static void io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    iowait_t *w = gh__container_of(io, iowait_t, io);
    int ready = ((revents & EV_READ) ? GH_IO_READ : 0) |
                ((revents & EV_WRITE) ? GH_IO_WRITE : 0);

    if (w->dormant) {
        if (++w->ignored >= DORMANT_IGNORE)
            dormant_stop(w);
        return;
    }
    if (!w->fired)
        fired_push(w, ready ? ready : GH_EIO);
}

static void deadline_fire(gh__m_t *m, gh__timer_t *t)
{
    iowait_finish(gh__container_of(t, iowait_t, tm), GH_ETIMEDOUT);
}

/* Is a waiter for events (a goroutine's or a thread's) already there?
 * p->mu held.  One reader and one writer at a time. */
static bool slot_busy(const pfd_t *p, int events)
{
    if (((events & GH_IO_READ) && p->rd) || ((events & GH_IO_WRITE) && p->wr))
        return true;
    for (const thread_wait_t *t = p->threads; t; t = t->next)
        if (t->events & events)
            return true;
    return false;
}

/* List tw in fd's slot.  0, GH_ECLOSED or GH_EBUSY. */
static int thread_wait_start(pfd_t *p, thread_wait_t *tw)
{
    int rc = 0;

    gh__lock(&p->mu);
    if (p->closing)
        rc = GH_ECLOSED;
    else if (slot_busy(p, tw->events))
        rc = GH_EBUSY;
    else {
        tw->next = p->threads;
        p->threads = tw;
    }
    gh__unlock(&p->mu);
    return rc;
}

/* Take tw off the slot's list: whether gh_close() ran meanwhile. */
static bool thread_wait_end(pfd_t *p, thread_wait_t *tw)
{
    thread_wait_t **pp;
    bool closed;

    gh__lock(&p->mu);
    for (pp = &p->threads; *pp != tw; pp = &(*pp)->next)
        ;
    *pp = tw->next;
    closed = atomic_load_explicit(&tw->closed, memory_order_relaxed);
    gh__unlock(&p->mu);
    return closed;
}

/* poll(2) on fd and tw's eventfd until one is ready or deadline passes:
 * the events ready, GH_ECLOSED when gh_close() woke us, or GH_E*. */
static int thread_poll(int fd, thread_wait_t *tw, int64_t deadline)
{
    struct pollfd p[2] = {{.fd = fd}, {.fd = tw->efd, .events = POLLIN}};
    int r;

    p[0].events = (short)(((tw->events & GH_IO_READ) ? POLLIN : 0) |
                          ((tw->events & GH_IO_WRITE) ? POLLOUT : 0));
    for (;;) {
        int ms = -1;
        if (atomic_load(&tw->closed))
            return GH_ECLOSED;
        if (deadline != GH_FOREVER) {
            int64_t left = deadline - gh_now();
            if (left <= 0)
                return GH_ETIMEDOUT;
            ms = (int)((left + GH_MILLISECOND - 1) / GH_MILLISECOND);
        }
        if (tw->efd < 0 && (ms < 0 || ms > THREAD_SLICE_MS))
            ms = THREAD_SLICE_MS;
        r = poll(p, tw->efd < 0 ? 1 : 2, ms);
        if (r > 0)
            break;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
    if (p[1].revents)
        return GH_ECLOSED;
    if (p[0].revents & POLLNVAL)
        return GH_EBADF;
    r = ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? GH_IO_READ : 0) |
        ((p[0].revents & (POLLOUT | POLLERR)) ? GH_IO_WRITE : 0);
    return r & tw->events ? r & tw->events : tw->events;
}

int gh__poll_thread(int fd, int events, int64_t deadline)
{
    thread_wait_t tw = {.events = events};
    pfd_t *p = pfd_get(fd, true);
    int rc;

    if (!p)
        return fd >= CHUNK * NCHUNKS ? GH_EBADF : GH_ENOMEM;
    /* Out of descriptors (the very moment a server may be waiting for one
     * to free up), the wait still works: in slices, see thread_poll. */
    tw.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if ((rc = thread_wait_start(p, &tw)) == 0) {
        rc = thread_poll(fd, &tw, deadline);
        if (thread_wait_end(p, &tw))
            rc = GH_ECLOSED;
    }
    if (tw.efd >= 0)
        close(tw.efd);
    return rc;
}

/*
 * Claim fd's slots for w; 0 or GH_ECLOSED / GH_EBUSY.  *again is set when
 * w's loop watched this same descriptor last and nobody has gh_close()d it
 * since: libev's epoll registration from then is still valid (libev drops
 * it lazily), and forcing a fresh one would cost a failing epoll_ctl.
 */
static int pfd_claim(pfd_t *p, iowait_t *w, int events, bool *again)
{
    int rc = 0;

    gh__lock(&p->mu);
    *again = p->last_m == w->m && p->last_gen == p->gen;
    p->last_m = w->m;
    p->last_gen = p->gen;
    if (p->closing)
        rc = GH_ECLOSED;
    else if (slot_busy(p, events))
        rc = GH_EBUSY;
    else {
        if (events & GH_IO_READ)
            p->rd = w;
        if (events & GH_IO_WRITE)
            p->wr = w;
        if (p->dormant == w)
            p->dormant = NULL; /* re-armed in place: armed again */
    }
    gh__unlock(&p->mu);
    return rc;
}

/* Start w's deadline on m and claim fd's slots for it.  0 or GH_E*. */
static int iowait_claim(gh__m_t *m, iowait_t *w, int events, int64_t deadline,
                        bool *again)
{
    int rc;

    /* The timer cannot fire before the caller is done: timers run only
     * when this worker polls. */
    w->tm = (gh__timer_t){.when = deadline, .idx = GH__TIMER_IDLE,
                          .fn = deadline_fire};
    if (deadline != GH_FOREVER && gh__timer_start(m, &w->tm) < 0)
        return GH_ENOMEM;
    if ((rc = pfd_claim(w->pfd, w, events, again)) < 0)
        gh__timer_stop(&w->tm);
    return rc;
}

/* Arm w (g or fn set by the caller) for fd on m's loop.  0 or GH_E*. */
static int iowait_arm(gh__m_t *m, iowait_t *w, int fd, int events,
                      int64_t deadline)
{
    bool again;
    int rc;

    if (!(w->pfd = pfd_get(fd, true)))
        return fd >= CHUNK * NCHUNKS ? GH_EBADF : GH_ENOMEM;
    w->m = m;
    w->dormant = false;
    w->fired = false;
    if ((rc = iowait_claim(m, w, events, deadline, &again)) < 0)
        return rc;
    ev_io_init(&w->io, io_cb, fd,
               ((events & GH_IO_READ) ? EV_READ : 0) |
                   ((events & GH_IO_WRITE) ? EV_WRITE : 0));
    /* Only descriptors closed with gh_close() bump gen, so only waiters
     * that promise that (fdwatches, gh__wait_fd_owned) skip libev's
     * re-registration. */
    if (again && w->owned)
        w->io.events &= ~EV__IOFDSET;
    ev_io_start(m->loop, &w->io);
    return 0;
}

static int check_events(int fd, int events)
{
    if (fd < 0)
        return GH_EBADF;
    if (!(events & (GH_IO_READ | GH_IO_WRITE)) ||
        (events & ~(GH_IO_READ | GH_IO_WRITE)))
        return GH_EINVAL;
    return 0;
}

static int wait_fd(int fd, int events, int64_t deadline, bool owned)
{
    gh__m_t *m = gh__cur_m();
    iowait_t w;
    int rc;

    if ((rc = check_events(fd, events)) < 0)
        return rc;
    if (!m || m->cur == &m->g0)
        return gh__poll_thread(fd, events, deadline);
    if (deadline != GH_FOREVER && deadline <= gh_now())
        return GH_ETIMEDOUT;
    w.g = m->cur;
    w.fn = NULL;
    w.keep = false;
    w.owned = owned;
    if ((rc = iowait_arm(m, &w, fd, events, deadline)) < 0)
        return rc;
    return gh__park((events & GH_IO_READ) ? GH__W_IO_READ : GH__W_IO_WRITE,
                    NULL, NULL);
}

int gh_wait_fd(int fd, int events, int64_t deadline)
{
    return wait_fd(fd, events, deadline, false);
}

int gh__wait_fd_owned(int fd, int events, int64_t deadline)
{
    return wait_fd(fd, events, deadline, true);
}

static bool fdwatch_disarm(iowait_t *w);

/* Re-arm w, dormant on this worker's loop: its ev_io is still started,
 * so only the slot and the deadline need setting.  0 or GH_E*. */
static int fdwatch_rearm(gh__m_t *m, iowait_t *w, int events,
                         int64_t deadline)
{
    bool again;
    int rc = iowait_claim(m, w, events, deadline, &again);

    if (rc == 0)
        w->dormant = false;
    return rc;
}

int gh__fdwatch_start(gh__iowait_t *w, int fd, int events, int64_t deadline,
                      void (*fn)(gh__iowait_t *w, int result), unsigned flags)
{
    gh__m_t *m = gh__cur_m();
    int rc;

    if ((rc = check_events(fd, events)) < 0)
        return rc;
    if (!m || !fn)
        return GH_EINVAL;
    w->g = NULL;
    w->fn = fn;
    w->owned = true;
    if (flags & GH__FDWATCH_KEEP) {
        /* A kept watch is dormant only while started on its own loop,
         * and only that loop's thread reads w->dormant. */
        if (w->keep && w->m == m && w->dormant) {
            if (w->io.fd == fd && events == GH_IO_READ)
                return fdwatch_rearm(m, w, events, deadline);
            fdwatch_disarm(w);
        } else if (w->keep && w->m && w->m != m) {
            gh__fdwatch_stop(w); /* dormant over there, maybe */
            /* That parked: this goroutine may run on another worker now,
             * and only the current worker's loop may be touched. */
            m = gh__cur_m();
        }
    }
    w->keep = (flags & GH__FDWATCH_KEEP) != 0;
    return iowait_arm(m, w, fd, events, deadline);
}

/* On w's worker: stop w if it still holds its slot.  True if it did. */
static bool fdwatch_disarm(iowait_t *w)
{
    pfd_t *p = w->pfd;
    bool ours, dormant;

    gh__lock(&p->mu);
    ours = p->rd == w || p->wr == w;
    dormant = p->dormant == w;
    if (p->rd == w)
        p->rd = NULL;
    if (p->wr == w)
        p->wr = NULL;
    if (dormant)
        p->dormant = NULL;
    gh__unlock(&p->mu);
    if (ours || dormant)
        ev_io_stop(w->m->loop, &w->io);
    if (ours)
        gh__timer_stop(&w->tm);
    fired_unlink(w); /* reported ready, but fn has not run: it never will */
    w->dormant = false;
    return ours;
}

typedef struct stop_req {
    gh__req_t req;
    iowait_t *w;
    gh__lock_t mu;   /* held by the stopper until it has parked */
    gh__g_t *g;      /* the stopper */
    bool stopped;
} stop_req_t;

static void stop_fn(gh__m_t *m, gh__req_t *r)
{
    stop_req_t *sr = (stop_req_t *)r;

    sr->stopped = fdwatch_disarm(sr->w);
    gh__lock(&sr->mu);
    gh__ready(sr->g, 0);
    gh__unlock(&sr->mu);
}

bool gh__fdwatch_stop(gh__iowait_t *w)
{
    stop_req_t sr;

    /* Callbacks and requests run on the owner's thread, one at a time: on
     * that thread, or after its acknowledgement, fn is not running. */
    if (gh__cur_m() == w->m)
        return fdwatch_disarm(w);
    sr = (stop_req_t){.req = {NULL, stop_fn}, .w = w,
                      .mu = GH__LOCK_INIT, .g = gh__cur_g()};
    gh__lock(&sr.mu);
    gh__m_post(w->m, &sr.req);
    gh__park(GH__W_CLOSE, gh__lock_unlock_cb, &sr.mu);
    gh__lock(&sr.mu); /* stop_fn may still be inside sr.mu */
    gh__unlock(&sr.mu);
    return sr.stopped;
}

/* ---- closing ---- */

typedef struct closer {
    gh__lock_t mu;      /* held by the closer until it has parked */
    int pending;        /* acknowledgements still to come; under mu */
    gh__g_t *g;         /* the closing goroutine or thread */
} closer_t;

typedef struct cancel_req {
    gh__req_t req;
    iowait_t *w;
    pfd_t *pfd;
    closer_t *c;
} cancel_req_t;

/* Runs on the worker that owns w's watchers. */
static void cancel_fn(gh__m_t *m, gh__req_t *r)
{
    cancel_req_t *cr = (cancel_req_t *)r;
    closer_t *c = cr->c;
    iowait_t *w = cr->w;
    bool ours;

    /* w is only dereferenced if it still holds a slot: once it was
     * finished, its goroutine may have returned and w is gone. */
    gh__lock(&cr->pfd->mu);
    ours = cr->pfd->rd == w || cr->pfd->wr == w;
    bool dormant = cr->pfd->dormant == w;
    gh__unlock(&cr->pfd->mu);
    if (ours)
        iowait_finish(w, GH_ECLOSED);
    else if (dormant)
        dormant_stop(w); /* fired already: nobody to tell */
    gh__lock(&c->mu);
    if (--c->pending == 0)
        gh__ready(c->g, 0);
    gh__unlock(&c->mu);
}

/* Wake fd's waiters with GH_ECLOSED and wait until their workers let go. */
static void cancel_waiters(pfd_t *p)
{
    cancel_req_t reqs[3];
    gh__m_t *owners[3];
    closer_t c;
    int n = 0;

    c.mu = (gh__lock_t)GH__LOCK_INIT;
    gh__lock(&c.mu);
    gh__lock(&p->mu);
    p->closing = true;
    for (thread_wait_t *t = p->threads; t; t = t->next) {
        uint64_t one = 1;
        atomic_store(&t->closed, true);
        if (t->efd >= 0)
            (void)!write(t->efd, &one, sizeof(one));
    }
    iowait_t *ws[3] = {p->rd, p->wr != p->rd ? p->wr : NULL,
                       p->dormant != p->rd ? p->dormant : NULL};
    for (int i = 0; i < 3; i++) {
        if (!ws[i])
            continue;
        reqs[n] = (cancel_req_t){{NULL, cancel_fn}, ws[i], p, &c};
        owners[n] = ws[i]->m;
        n++;
    }
    gh__unlock(&p->mu);
    c.pending = n;
    c.g = gh__cur_g();
    for (int i = 0; i < n; i++)
        gh__m_post(owners[i], &reqs[i].req);
    if (n > 0) {
        gh__park(GH__W_CLOSE, gh__lock_unlock_cb, &c.mu);
        /* The last acknowledger may still be inside c.mu. */
        gh__lock(&c.mu);
    }
    gh__unlock(&c.mu);
    /* Threads in poll(2) leave within microseconds of their wake-up (a
     * slice, without an eventfd). */
    gh__lock(&p->mu);
    while (p->threads) {
        gh__unlock(&p->mu);
        gh_sleep(20 * GH_MICROSECOND);
        gh__lock(&p->mu);
    }
    p->closing = false;
    p->gen++;
    gh__unlock(&p->mu);
}

int gh_close(int fd)
{
    pfd_t *p = pfd_get(fd, false);

    if (fd < 0)
        return GH_EBADF;
    if (p)
        cancel_waiters(p);
    /* Linux releases the descriptor even when close reports EINTR. */
    if (close(fd) != 0 && errno != EINTR)
        return -errno;
    return 0;
}

/* ---- the calls ---- */

typedef struct io_args {
    void *buf;
    size_t len;
    int flags;
    const struct iovec *iov;
    int iovcnt;
    struct sockaddr *addr;
    socklen_t *addrlen;
    const struct sockaddr *caddr;
    socklen_t caddrlen;
    int in_fd;
    off_t *offset;
} io_args_t;

typedef ssize_t (*io_op_fn)(int fd, io_args_t *a);

/* Try op; on EAGAIN park until fd is ready for ev, then try again. */
static ssize_t io_retry(int fd, int ev, int64_t deadline, io_op_fn op,
                        io_args_t *a)
{
    for (;;) {
        ssize_t n = op(fd, a);
        if (n >= 0)
            return n;
        int e = errno; /* read before anything can park */
        if (e == EINTR)
            continue;
        if (e != EAGAIN && e != EWOULDBLOCK)
            return -e;
        int rc = gh_wait_fd(fd, ev, deadline);
        if (rc < 0)
            return rc;
    }
}

static ssize_t op_read(int fd, io_args_t *a)
{
    return read(fd, a->buf, a->len);
}

static ssize_t op_write(int fd, io_args_t *a)
{
    return write(fd, a->buf, a->len);
}

static ssize_t op_readv(int fd, io_args_t *a)
{
    return readv(fd, a->iov, a->iovcnt);
}

static ssize_t op_writev(int fd, io_args_t *a)
{
    return writev(fd, a->iov, a->iovcnt);
}

static ssize_t op_recvfrom(int fd, io_args_t *a)
{
    return recvfrom(fd, a->buf, a->len, a->flags, a->addr, a->addrlen);
}

static ssize_t op_sendto(int fd, io_args_t *a)
{
    return sendto(fd, a->buf, a->len, a->flags | MSG_NOSIGNAL, a->caddr,
                  a->caddrlen);
}

static ssize_t op_sendfile(int fd, io_args_t *a)
{
    return sendfile(fd, a->in_fd, a->offset, a->len);
}

static ssize_t op_accept(int fd, io_args_t *a)
{
    for (;;) {
        int c = accept4(fd, a->addr, a->addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        /* A connection reset before we took it is not the listener's
         * error: take the next one (as Go does). */
        if (c < 0 && errno == ECONNABORTED)
            continue;
        return c;
    }
}

ssize_t gh_read(int fd, void *buf, size_t len, int64_t deadline)
{
    io_args_t a = {.buf = buf, .len = len};

    return io_retry(fd, GH_IO_READ, deadline, op_read, &a);
}

ssize_t gh_write(int fd, const void *buf, size_t len, int64_t deadline)
{
    io_args_t a = {.buf = (void *)buf, .len = len};

    return io_retry(fd, GH_IO_WRITE, deadline, op_write, &a);
}

ssize_t gh_write_all(int fd, const void *buf, size_t len, int64_t deadline)
{
    const char *p = buf;
    size_t done = 0;

    while (done < len) {
        ssize_t n = gh_write(fd, p + done, len - done, deadline);
        if (n < 0)
            return n;
        done += (size_t)n;
    }
    return (ssize_t)len;
}

ssize_t gh_readv(int fd, const struct iovec *iov, int iovcnt,
                 int64_t deadline)
{
    io_args_t a = {.iov = iov, .iovcnt = iovcnt};

    return io_retry(fd, GH_IO_READ, deadline, op_readv, &a);
}

ssize_t gh_writev(int fd, const struct iovec *iov, int iovcnt,
                  int64_t deadline)
{
    io_args_t a = {.iov = iov, .iovcnt = iovcnt};

    return io_retry(fd, GH_IO_WRITE, deadline, op_writev, &a);
}

ssize_t gh_recvfrom(int fd, void *buf, size_t len, int flags,
                    struct sockaddr *addr, socklen_t *addrlen,
                    int64_t deadline)
{
    io_args_t a = {.buf = buf, .len = len, .flags = flags, .addr = addr,
                   .addrlen = addrlen};

    return io_retry(fd, GH_IO_READ, deadline, op_recvfrom, &a);
}

ssize_t gh_recv(int fd, void *buf, size_t len, int flags, int64_t deadline)
{
    return gh_recvfrom(fd, buf, len, flags, NULL, NULL, deadline);
}

ssize_t gh_sendto(int fd, const void *buf, size_t len, int flags,
                  const struct sockaddr *addr, socklen_t addrlen,
                  int64_t deadline)
{
    io_args_t a = {.buf = (void *)buf, .len = len, .flags = flags,
                   .caddr = addr, .caddrlen = addrlen};

    return io_retry(fd, GH_IO_WRITE, deadline, op_sendto, &a);
}

ssize_t gh_send(int fd, const void *buf, size_t len, int flags,
                int64_t deadline)
{
    return gh_sendto(fd, buf, len, flags, NULL, 0, deadline);
}

ssize_t gh_sendfile(int out_fd, int in_fd, off_t *offset, size_t count,
                    int64_t deadline)
{
    io_args_t a = {.len = count, .in_fd = in_fd, .offset = offset};

    return io_retry(out_fd, GH_IO_WRITE, deadline, op_sendfile, &a);
}

int gh_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
              int64_t deadline)
{
    io_args_t a = {.addr = addr, .addrlen = addrlen};

    return (int)io_retry(fd, GH_IO_READ, deadline, op_accept, &a);
}

int gh_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
               int64_t deadline)
{
    int err = 0, rc;
    socklen_t len = sizeof(err);

    if (connect(fd, addr, addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    if ((rc = gh_wait_fd(fd, GH_IO_WRITE, deadline)) < 0)
        return rc;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return -errno;
    return -err;
}

int gh_socket(int domain, int type, int protocol)
{
    int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);

    return fd < 0 ? -errno : fd;
}

int gh_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}
