/*
 * gohttpd/rt.h - goroutines, the M:N scheduler, time and sleeping.
 *
 * A goroutine is a function running on its own small stack.  gh_go() starts
 * one; goroutines are multiplexed over a few worker threads (one per CPU by
 * default), each with its own run queue and libev loop; idle workers steal
 * from busy ones.  The runtime starts itself on first use: a plain C main()
 * needs no init call and reads like the Go program it mirrors:
 *
 *     static void say_hello(void *arg) { printf("Hello from goroutine!\n"); }
 *
 *     int main(void)
 *     {
 *         gh_go(say_hello, NULL);   // go sayHello()
 *         gh_sleep(GH_SECOND);      // time.Sleep(time.Second)
 *         printf("Main function is done!\n");
 *     }
 *
 * Threads that are not workers (main, a library's own threads) may call
 * every function here; where a goroutine would park, such a thread blocks
 * (gh_sleep becomes a plain sleep, I/O waits in poll(2)).
 *
 * Scheduling is cooperative.  A goroutine is switched out only inside
 * runtime calls that can block or that say they yield: gh_yield, gh_sleep,
 * gh_sleep_until, gh_blocking, the gh_* I/O calls in net.h when the
 * descriptor is not ready, and (later headers) channel, select and sync
 * operations that must wait.  gh_go never switches: the new goroutine runs
 * when a worker picks it.  A CPU-bound loop that runs for more than about a
 * millisecond must call gh_yield() now and then, or it holds its worker (and
 * that worker's timers and sockets) until it finishes; so does a call that
 * blocks the thread (sleep(3), a blocking read, a library's own network
 * call) unless it goes through gh_blocking().  The runtime reports such a
 * goroutine in the log, with its backtrace (gh_set_stall_limit()).
 *
 * Units: durations and deadlines are int64_t nanoseconds; deadlines are
 * absolute CLOCK_MONOTONIC times as returned by gh_now().
 */
#ifndef GOHTTPD_RT_H
#define GOHTTPD_RT_H

#include <stddef.h>
#include <stdint.h>

#include "gohttpd/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Durations, in nanoseconds (Go's time.Nanosecond ... time.Hour). */
#define GH_NANOSECOND ((int64_t)1)
#define GH_MICROSECOND ((int64_t)1000)
#define GH_MILLISECOND ((int64_t)1000000)
#define GH_SECOND ((int64_t)1000000000)
#define GH_MINUTE (60 * GH_SECOND)
#define GH_HOUR (60 * GH_MINUTE)

/** A deadline that never expires: wait as long as it takes. */
#define GH_FOREVER INT64_MAX

/** The function a goroutine runs.  It owns nothing the caller did not pass. */
typedef void (*gh_go_fn)(void *arg);

/** Options for gh_go_with().  Zero-initialise, then set what you need. */
typedef struct gh_go_opts {
    size_t stack_size; /**< bytes; 0 = the runtime default (64 KiB) */
    const char *name;  /**< shown in gh_dump(); copied (31 bytes kept) */
} gh_go_opts_t;

/** The state of a goroutine, as gh_dump() reports it. */
enum gh_g_state {
    GH_G_DEAD = 0,  /**< finished; its stack is cached for reuse */
    GH_G_RUNNABLE,  /**< in a run queue, waiting for a worker */
    GH_G_RUNNING,   /**< running on a worker thread */
    GH_G_WAITING    /**< parked: see its wait reason */
};

/**
 * gh_go - start a goroutine running fn(arg) (Go's `go fn(arg)`).
 *
 * Returns the new goroutine's id (> 0), or GH_ENOMEM when no stack could be
 * mapped.  Never blocks and never switches: the caller keeps running.  Any
 * thread may call it; the first call starts the runtime's worker threads.
 */
GH_API int64_t gh_go(gh_go_fn fn, void *arg);

/**
 * gh_go_with - gh_go() with options: a stack size (rounded up to whole
 * pages; at least 16 KiB) and a name.  opts may be NULL.  Returns the id or
 * GH_ENOMEM / GH_EINVAL.
 */
GH_API int64_t gh_go_with(gh_go_fn fn, void *arg, const gh_go_opts_t *opts);

/**
 * gh_yield - let other runnable goroutines run, then continue (Go's
 * runtime.Gosched).  Also lets the worker poll its sockets and timers now
 * and then, so a CPU-bound loop that yields does not starve I/O.  From a
 * thread that is not a worker it is sched_yield(2).
 */
GH_API void gh_yield(void);

/**
 * gh_sleep - park the calling goroutine for at least ns nanoseconds (Go's
 * time.Sleep).  ns <= 0 just yields.  Other goroutines keep running.  From
 * a thread that is not a worker, the thread sleeps.
 */
GH_API void gh_sleep(int64_t ns);

/** gh_sleep_until - like gh_sleep(), up to an absolute gh_now() deadline. */
GH_API void gh_sleep_until(int64_t deadline);

/** gh_now - the monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
GH_API int64_t gh_now(void);

/**
 * gh_deadline_in - gh_now() + ns, saturating: GH_FOREVER stays forever and
 * a negative ns gives a deadline in the past.
 */
GH_API int64_t gh_deadline_in(int64_t ns);

/** gh_self_id - the calling goroutine's id, or 0 outside a goroutine. */
GH_API int64_t gh_self_id(void);

/**
 * gh_self_name - the calling goroutine's name ("" if none was given), or
 * NULL outside a goroutine.  Valid until the goroutine ends.
 */
GH_API const char *gh_self_name(void);

/**
 * gh_in_goroutine - 1 when called from a goroutine, 0 from any other thread.
 */
GH_API int gh_in_goroutine(void);

/**
 * gh_set_workers - the number of worker threads (default: the CPUs this
 * process may run on, or the GH_WORKERS environment variable).  Must be
 * called before the runtime starts (before the first gh_go); returns 0,
 * GH_EINVAL for n < 1 or n > 1024, or GH_EBUSY once started.
 */
GH_API int gh_set_workers(int n);

/**
 * gh_set_stack_size - the default goroutine stack size, in bytes (default
 * 64 KiB, or GH_STACK_SIZE in the environment, e.g. "128k").  The stack is
 * a reservation: a goroutine costs only the pages it touches.  Must be
 * called before the runtime starts; returns 0, GH_EINVAL (below 16 KiB or
 * above 1 GiB) or GH_EBUSY.
 */
GH_API int gh_set_stack_size(size_t bytes);

/**
 * gh_set_stall_limit - report a goroutine that keeps its worker for ns
 * nanoseconds or more without switching: computing without gh_yield(), or
 * blocked in a call that blocks the thread.  The report is a warning in
 * the log (gh_log) naming the worker, the goroutine (id, name, the function
 * that started it) and its backtrace, and a notice when it lets go.  To take
 * the backtrace the runtime interrupts the goroutine's thread once with
 * SIGURG (SA_RESTART: most interrupted system calls go on; sleep(3), poll(2)
 * and the like return early, as for any signal).  The default is 1 s, or
 * GH_STALL_MS in the environment (milliseconds); 0 turns the report off.
 * Any time, from any thread.  Returns 0, or GH_EINVAL for ns below 10 ms
 * (other than 0) or above an hour.
 */
GH_API int gh_set_stall_limit(int64_t ns);

/**
 * gh_rt_stalls - how many times the stall watch has reported a goroutine
 * that kept its worker (see gh_set_stall_limit()) since the runtime
 * started.  Any thread.
 */
GH_API int64_t gh_rt_stalls(void);

/** gh_workers - the number of worker threads (configured, if not started). */
GH_API int gh_workers(void);

/**
 * gh_blocking - run fn(arg) on the runtime's thread pool for blocking calls
 * (disk open/stat, getaddrinfo, a library that blocks) while the calling
 * goroutine parks; returns fn's result.  Workers keep running other
 * goroutines meanwhile.  Called from a thread that is not a worker, fn runs
 * right there.  The pool grows to GH_BLOCKING_THREADS (default 64) threads;
 * beyond that, calls queue.  fn must not call gh_* functions that park.
 */
typedef int (*gh_blocking_fn)(void *arg);
GH_API int gh_blocking(gh_blocking_fn fn, void *arg);

/** Counters describing the runtime, for status pages and tests. */
typedef struct gh_rt_stats {
    int workers;               /**< worker threads */
    int64_t goroutines;        /**< live goroutines (not dead) */
    int64_t runnable;          /**< ... of which runnable */
    int64_t waiting;           /**< ... of which parked */
    int64_t spawned;           /**< goroutines ever started */
    int64_t stacks_mapped;     /**< stacks reserved (live + cached) */
    int64_t stacks_guarded;    /**< ... of which have a guard page */
    int64_t stack_bytes;       /**< virtual bytes reserved for stacks */
    int64_t blocking_threads;  /**< threads in the blocking pool */
} gh_rt_stats_t;

/**
 * gh_rt_stats - fill *st with a snapshot of the runtime's counters.  The
 * figures are read without stopping the world and may be slightly stale.
 */
GH_API void gh_rt_stats(gh_rt_stats_t *st);

/** One worker thread's load, from gh_rt_worker_stats(). */
typedef struct gh_rt_worker_stats {
    int id;            /**< 0 .. workers-1 */
    int idle;          /**< 1: blocked in its event loop, out of work */
    uint32_t runq;     /**< goroutines queued on it now, waiting to run */
    int64_t spawned;   /**< goroutines started from it so far */
    uint64_t switches; /**< times it started or resumed a goroutine */
} gh_rt_worker_stats_t;

/**
 * gh_rt_worker_stats - fill out[0 .. max) with the workers' figures, by
 * worker id, read without stopping the world (each a moment's snapshot;
 * runq is exact only for a worker that is not busy).  Returns how many
 * were filled: min(workers, max), or 0 before the runtime has started.
 * Does not park; any thread.
 */
GH_API int gh_rt_worker_stats(gh_rt_worker_stats_t *out, int max);

/** One live goroutine, as gh_rt_goroutines() reports it. */
typedef struct gh_rt_g_info {
    int64_t id;          /**< its id (gh_self_id() inside it) */
    const char *name;    /**< its name, "" if none */
    int state;           /**< GH_G_RUNNABLE, GH_G_RUNNING or GH_G_WAITING */
    const char *wait;    /**< why it waits ("sleep", "chan receive",
                          *   "IO wait (read)", ...); NULL unless
                          *   GH_G_WAITING */
    int64_t wait_ns;     /**< for how long it has been parked, ns; 0
                          *   unless GH_G_WAITING */
    const void *fn;      /**< the function it was started with */
    const char *fn_name; /**< fn's symbol ("handle_conn"), or, for a
                          *   symbol that is not exported, the object and
                          *   offset ("libgohttpd.so.0+0x1f2e0") */
} gh_rt_g_info_t;

/**
 * A gh_rt_goroutines() callback: return 0 to go on, anything else to stop
 * the walk.  g and its strings are valid only during the call.
 */
typedef int (*gh_rt_g_fn)(void *udata, const gh_rt_g_info_t *g);

/**
 * gh_rt_goroutines - call fn(udata, g) for each live goroutine (the data
 * gh_dump() prints, structured: for status pages).  The records are copied
 * under the runtime's lock first and fn runs with no lock held, so it may
 * do anything, park and start goroutines included (those it starts are
 * not listed).  Best effort, as gh_dump(): goroutines keep running while
 * they are copied.  Allocates a copy of the list, and parks only if fn
 * does.  Returns the number of goroutines reported, the first non-zero
 * value fn returned, or GH_ENOMEM.  Any thread.
 */
GH_API int gh_rt_goroutines(gh_rt_g_fn fn, void *udata);

/**
 * gh_dump - write one line per live goroutine to fd, as Go's SIGQUIT dump
 * does: id, name, state, wait reason, for how long, and the function it was
 * started with.  Best effort: goroutines keep running while it reads.  Does
 * not park; safe from any thread (not from a signal handler).  Returns the
 * number of goroutines listed or a negative GH_E* code.
 */
GH_API int gh_dump(int fd);

/**
 * gh_dump_on_sigquit - on SIGQUIT, write gh_dump() to fd (and keep
 * running).  fd < 0 restores the previous SIGQUIT disposition.  The dump
 * runs on a helper thread, never inside the signal handler.  Returns 0 or a
 * negative GH_E* code.
 */
GH_API int gh_dump_on_sigquit(int fd);

#ifdef GH_SHORT_NAMES
#define go gh_go
#define yield gh_yield
#endif

#ifdef __cplusplus
}
#endif
#endif /* GOHTTPD_RT_H */
