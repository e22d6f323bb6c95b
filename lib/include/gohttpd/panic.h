/*
 * gohttpd/panic.h - defer, panic and recover.
 *
 * gh_defer(fn, arg) schedules fn(arg) to run when the current frame ends:
 * the goroutine's function returns (or the goroutine panics), or, inside
 * gh_call(), the function gh_call runs returns.  Deferred calls run last in,
 * first out.  gh_panic() stops the goroutine's normal flow and runs the
 * deferred calls of each frame, innermost first; a deferred call that calls
 * gh_recover() stops the panic, and the frame it belongs to ends normally:
 * gh_call() returns GH_EPANIC, or, for the goroutine's own frame, the
 * goroutine ends quietly.  A panic nobody recovers prints the message, the
 * goroutine's id, name and the function that started it, and a backtrace,
 * and ends the process with exit status 2, as Go does.
 *
 *     static void worker(void *arg)
 *     {
 *         gh_defer(release, arg);          // defer release(arg)
 *         gh_defer(recover_and_log, NULL); // defer func() { recover() }()
 *         ...
 *         if (bad)
 *             gh_panic("bad job %d", id);
 *     }
 *
 * The runtime panics the same way on misuse: sending on a closed channel,
 * closing a channel twice, unlocking a mutex that is not locked, a negative
 * WaitGroup counter.
 *
 * A panic unwinds with longjmp: code between the panic and the frame that
 * recovers is skipped, so whatever it would have released must be released
 * by a deferred call (lwan's and Go's rule).  Locks taken with gh_mutex_lock
 * stay taken unless a deferred call unlocks them.
 *
 * Threads that are not goroutines may use all of this inside gh_call();
 * outside one, gh_defer() fails with GH_EPERM and a panic is fatal.
 */
#ifndef GOHTTPD_PANIC_H
#define GOHTTPD_PANIC_H

#include "gohttpd/rt.h"
#include "gohttpd/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A deferred function. */
typedef void (*gh_defer_fn)(void *arg);

/**
 * gh_defer - run fn(arg) when the current frame ends (see above), after
 * every call deferred later.  Returns 0, GH_ENOMEM (fn has not been
 * recorded), GH_EINVAL (fn is NULL), or GH_EPERM outside a goroutine and
 * outside gh_call().
 */
GH_API int gh_defer(gh_defer_fn fn, void *arg);

/**
 * gh_call - run fn(arg) as a frame of its own, as a Go function call that
 * defers and may recover: calls deferred while fn runs run when it returns.
 * Returns 0 when fn returned, GH_EPANIC when fn panicked and one of its
 * deferred calls recovered, or GH_EINVAL when fn is NULL.  A panic nobody recovers in this frame goes on
 * to the enclosing frames.  Any goroutine or thread may call it.
 */
GH_API int gh_call(gh_go_fn fn, void *arg);

/**
 * gh_panic - panic with a printf-style message (at most 1023 bytes kept).
 * Never returns.  Runs deferred calls as described above.
 */
GH_API void gh_panic(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

/**
 * gh_recover - called from a deferred function while a panic unwinds:
 * stop the panic and return its message (valid until the deferred function
 * returns).  Otherwise (no panic, or not from a deferred function) returns
 * NULL and does nothing.
 */
GH_API const char *gh_recover(void);

/** gh_panicking - 1 while the caller's goroutine is unwinding a panic. */
GH_API int gh_panicking(void);

#ifdef __cplusplus
}
#endif
#endif /* GOHTTPD_PANIC_H */
