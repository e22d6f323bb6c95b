/*
 * netpoll.h - descriptor waits shared by netpoll.c and the HTTP server
 * (internal).  Kept apart from internal.h because it needs <ev.h>, whose
 * EV_* names clash with <elf.h> in files that include <link.h>.
 */
#ifndef GH_NETPOLL_H
#define GH_NETPOLL_H

#include <ev.h>

#include "internal.h"

/*
 * A wait on a descriptor (netpoll.c).  gh_wait_fd() keeps one on the
 * parked goroutine's stack (g set, fn NULL).  An fdwatch (fn set) is one
 * that no goroutine waits on: when the descriptor is ready, the deadline
 * passes or gh_close() runs, fn(w, result) is called on the worker's
 * thread (g0: it must not park; it may gh_go()) with the result
 * gh_wait_fd() would have returned.  The HTTP server parks idle
 * connections this way, with no goroutine or stack.  A descriptor that has
 * had an fdwatch must be closed with gh_close(), never close(2): its libev
 * registration is reused from one watch to the next until then.
 */
struct gh__pfd;
typedef struct gh__iowait gh__iowait_t;
struct gh__iowait {
    ev_io io;        /* on m's loop; m's thread only */
    gh__timer_t tm;  /* the deadline, in m's timer heap */
    gh__g_t *g;      /* the parked goroutine (gh_wait_fd) */
    gh__m_t *m;      /* the worker whose loop holds the watchers */
    struct gh__pfd *pfd; /* the descriptor's slot */
    void (*fn)(gh__iowait_t *w, int result); /* fdwatch callback */
    void *data;      /* the fdwatch owner's */
    bool keep;       /* GH__FDWATCH_KEEP */
    bool owned;      /* fd is closed with gh_close() only */
    bool dormant;    /* fired, ev_io still started; m's thread only */
    uint8_t ignored; /* readiness reports while dormant */
    /* Reported ready, to be finished once the loop's other callbacks of
     * this iteration have run (m->io_fired; m's thread only). */
    bool fired;
    int fired_result;
    gh__iowait_t *fired_prev, *fired_next;
};

/* gh__fdwatch_start() flag: w is re-armed again and again for the same
 * descriptor (a keep-alive connection).  After it fires, its ev_io stays
 * started ("dormant"), so that re-arming it from the same worker costs no
 * epoll_ctl; gh_close() and gh__fdwatch_stop() stop it for good.  w must
 * be zeroed before its first use and stay put until then. */
#define GH__FDWATCH_KEEP 1u
/* Arm an fdwatch on the calling worker (a goroutine or a callback on a
 * worker's g0).  0, or GH_EBUSY / GH_ECLOSED / GH_ENOMEM / GH_EINVAL (not
 * on a worker).  w must stay put until fn has run or the watch stopped. */
int gh__fdwatch_start(gh__iowait_t *w, int fd, int events, int64_t deadline,
                      void (*fn)(gh__iowait_t *w, int result), unsigned flags);
/* gh_wait_fd() for a descriptor that is only ever closed with gh_close():
 * waiting again from the same worker then costs no epoll_ctl. */
int gh__wait_fd_owned(int fd, int events, int64_t deadline);
/* m's loop's invoke-pending callback (ev_set_invoke_pending_cb): runs the
 * iteration's callbacks, then finishes the waits of the descriptors it
 * found ready, in the kernel's order. */
void gh__netpoll_invoke(struct ev_loop *loop);
/* Disarm w from any thread; parks while its worker does it.  Returns true
 * if w was stopped before it fired, false if fn ran (it has returned). */
bool gh__fdwatch_stop(gh__iowait_t *w);

#endif /* GH_NETPOLL_H */
