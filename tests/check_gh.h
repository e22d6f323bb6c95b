/*
 * check_gh.h - shared scaffolding for the Check unit tests of libgohttpd.
 *
 * Every tests/check_<unit>.c includes this header and ends with
 * GH_CHECK_MAIN(<unit>_suite).  What it provides:
 *
 *  - GH_CHECK_MAIN(suite_fn): main() running the suite with an srunner
 *    (CK_NORMAL, or CK_VERBOSITY from the environment) and turning the
 *    number of failures into the exit status automake's harness expects.
 *  - gh_test_rt_start / gh_test_rt_stop: the checked fixture.  Check runs
 *    each test in a forked child and the runtime starts lazily on the first
 *    gh_go() there, so every test gets a fresh runtime; the fixture only
 *    picks a predictable worker count (2) that a test may still change with
 *    gh_test_set_workers() before its first gh_go().
 *  - gh_test_wait_count(): wait, bounded, until an atomic counter reaches a
 *    value, sleeping with gh_sleep() (so it also works inside goroutines).
 *  - gh_test_socketpair(): an AF_UNIX stream pair, both ends non-blocking.
 *  - gh_test_run_child(): run a function in a forked child and collect its
 *    stderr and exit status, for tests of fatal errors.
 *  - gh_test_slack(): scale an upper time bound for slow (sanitizer,
 *    valgrind) builds.  Lower bounds on time are asserted strictly, upper
 *    bounds loosely and through this function.
 *
 * Everything is static: each test program is one translation unit.
 */
#ifndef CHECK_GH_H
#define CHECK_GH_H

/* Include this header first: it brings config.h (and so _GNU_SOURCE). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <check.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gohttpd.h>

/* Silence -Wunused-function for helpers a given program does not use. */
#define GH_TEST_UNUSED __attribute__((unused))

/** The worker count the fixture configures before each test. */
#define GH_TEST_WORKERS 2

/* ------------------------------------------------------------------ */
/* Time                                                                */
/* ------------------------------------------------------------------ */

/*
 * How much slower than a plain -O2 build this build may be.  Sanitizer
 * builds are detected at compile time; GH_TEST_TIME_SCALE in the
 * environment (an integer, e.g. 10 under valgrind) overrides it.
 */
static GH_TEST_UNUSED int64_t gh_test_time_scale(void)
{
    const char *s = getenv("GH_TEST_TIME_SCALE");
    if (s != NULL && atoi(s) > 0)
        return atoi(s);
    /* TSan slows context switches and atomics far more than ASan does:
     * 10k goroutines sleeping 1 ms took 10.4 s under TSan beside another
     * test, against about 1 s under ASan. */
#if defined(__SANITIZE_THREAD__)
    return 10;
#elif defined(__SANITIZE_ADDRESS__)
    return 5;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    return 10;
#elif __has_feature(address_sanitizer)
    return 5;
#endif
#endif
    return 1;
}

/*
 * GH_TEST_TSAN is 1 in ThreadSanitizer builds: TSan keeps state (and
 * mappings) per fiber, so tests that hold many goroutines alive at once
 * scale down there.
 */
#if defined(__SANITIZE_THREAD__) || (defined(GH_SANITIZE_THREAD) && GH_SANITIZE_THREAD)
#define GH_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GH_TEST_TSAN 1
#endif
#endif
#ifndef GH_TEST_TSAN
#define GH_TEST_TSAN 0
#endif

/** An upper bound on a duration, stretched for slow builds. */
static GH_TEST_UNUSED int64_t gh_test_slack(int64_t ns)
{
    return ns * gh_test_time_scale();
}

/** Milliseconds as a double, for messages. */
static GH_TEST_UNUSED double gh_test_ms(int64_t ns)
{
    return (double)ns / (double)GH_MILLISECOND;
}

/* ------------------------------------------------------------------ */
/* Fixture and runner                                                  */
/* ------------------------------------------------------------------ */

/* True when Check runs tests in forked children (the default). */
static GH_TEST_UNUSED int gh_test_forking(void)
{
    const char *s = getenv("CK_FORK");
    return s == NULL || strcmp(s, "no") != 0;
}

/*
 * gh_test_set_workers - configure n workers before the runtime starts.
 * Under CK_FORK=no the runtime of an earlier test is still running; then
 * the call is accepted only if the count already matches.
 */
static GH_TEST_UNUSED void gh_test_set_workers(int n)
{
    int rc = gh_set_workers(n);
    if (rc == GH_EBUSY && !gh_test_forking()) {
        ck_assert_msg(gh_workers() == n,
                      "test needs %d workers; run it with CK_FORK=yes", n);
        return;
    }
    ck_assert_msg(rc == 0, "gh_set_workers(%d) = %d (%s)", n, rc,
                  gh_err_name(rc));
}

/*
 * The checked fixture: runs in the forked child before each test.  It does
 * not start the runtime (the test's first gh_go() does) so that a test can
 * still choose its worker count, stack size or GH_GUARD_STACKS.
 */
static GH_TEST_UNUSED void gh_test_rt_start(void)
{
    int rc = gh_set_workers(GH_TEST_WORKERS);
    /* GH_EBUSY only when CK_FORK=no left a runtime running. */
    ck_assert_msg(rc == 0 || (rc == GH_EBUSY && !gh_test_forking()),
                  "fixture: gh_set_workers = %d", rc);
}

/* The runtime has no stop call: the forked child's exit ends it. */
static GH_TEST_UNUSED void gh_test_rt_stop(void)
{
    fflush(stdout);
    fflush(stderr);
}

/** Add the fixture and a timeout (seconds, scaled for slow builds). */
static GH_TEST_UNUSED void gh_test_tcase_setup(TCase *tc, double timeout_s)
{
    tcase_add_checked_fixture(tc, gh_test_rt_start, gh_test_rt_stop);
    tcase_set_timeout(tc, timeout_s * (double)gh_test_time_scale());
}

#define GH_CHECK_MAIN(suite_fn)                                          \
    int main(void)                                                       \
    {                                                                    \
        SRunner *sr = srunner_create(suite_fn());                        \
        int nfailed;                                                     \
        srunner_run_all(sr,                                              \
                        getenv("CK_VERBOSITY") ? CK_ENV : CK_NORMAL);    \
        nfailed = srunner_ntests_failed(sr);                             \
        srunner_free(sr);                                                \
        return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;               \
    }

/* ------------------------------------------------------------------ */
/* Waiting                                                             */
/* ------------------------------------------------------------------ */

/*
 * gh_test_wait_count - wait until *c >= target or timeout_ns (scaled)
 * passes, polling every millisecond with gh_sleep() (a goroutine parks, any
 * other thread sleeps).  Returns 1 when the target was reached, else 0.
 */
static GH_TEST_UNUSED int gh_test_wait_count(atomic_long *c, long target,
                                             int64_t timeout_ns)
{
    int64_t deadline = gh_now() + gh_test_slack(timeout_ns);
    while (atomic_load(c) < target) {
        if (gh_now() > deadline)
            return atomic_load(c) >= target;
        gh_sleep(GH_MILLISECOND);
    }
    return 1;
}

/** Wait for *c >= target and fail the test with a message if it is not. */
#define GH_TEST_WAIT_COUNT(c, target, timeout_ns)                         \
    do {                                                                 \
        long gh_t_target_ = (long)(target);                              \
        ck_assert_msg(gh_test_wait_count((c), gh_t_target_, (timeout_ns)), \
                      "%s reached %ld, expected %ld within %.0f ms", #c, \
                      atomic_load(c), gh_t_target_,                      \
                      gh_test_ms(gh_test_slack(timeout_ns)));            \
    } while (0)

/*
 * GH_TEST_WAIT_UNTIL - the same for an arbitrary condition expression;
 * evaluates to 1 when it became true in time.
 */
#define GH_TEST_WAIT_UNTIL(cond, timeout_ns)                              \
    ({                                                                   \
        int64_t gh_t_dl_ = gh_now() + gh_test_slack(timeout_ns);         \
        int gh_t_ok_;                                                    \
        while (!(gh_t_ok_ = !!(cond)) && gh_now() <= gh_t_dl_)           \
            gh_sleep(GH_MILLISECOND);                                    \
        gh_t_ok_ || !!(cond);                                            \
    })

/* ------------------------------------------------------------------ */
/* Descriptors                                                         */
/* ------------------------------------------------------------------ */

/** An AF_UNIX stream socketpair with both ends non-blocking. */
static GH_TEST_UNUSED void gh_test_socketpair(int sv[2])
{
    int rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    ck_assert_msg(rc == 0, "socketpair: %s", strerror(errno));
    ck_assert_int_eq(gh_set_nonblock(sv[0]), 0);
    ck_assert_int_eq(gh_set_nonblock(sv[1]), 0);
}

/** A pipe with both ends non-blocking. */
static GH_TEST_UNUSED void gh_test_pipe(int p[2])
{
    int rc = pipe2(p, O_CLOEXEC);
    ck_assert_msg(rc == 0, "pipe2: %s", strerror(errno));
    ck_assert_int_eq(gh_set_nonblock(p[0]), 0);
    ck_assert_int_eq(gh_set_nonblock(p[1]), 0);
}

/* ------------------------------------------------------------------ */
/* Forked children, for fatal errors                                   */
/* ------------------------------------------------------------------ */

/** What gh_test_run_child() observed. */
struct gh_test_child {
    int exited;     /* the child called exit (or returned) */
    int exit_code;  /* ... with this status */
    int signaled;   /* the child died from a signal */
    int sig;        /* ... this one */
    int timed_out;  /* it had to be killed after the timeout */
    char err[16384]; /* its stderr, NUL-terminated (truncated if longer) */
};

/*
 * gh_test_run_child - fork, run fn(arg) in the child with stderr on a pipe,
 * and _exit(0) if fn returns.  The parent collects stderr and the exit
 * status; a child still running after timeout_ns (scaled) is killed.  Call
 * it before this process has started the runtime: a fork does not copy
 * worker threads, so the child must start its own runtime.
 */
static GH_TEST_UNUSED void gh_test_run_child(void (*fn)(void *), void *arg,
                                             int64_t timeout_ns,
                                             struct gh_test_child *out)
{
    int p[2], status = 0;
    size_t len = 0;
    int64_t deadline;
    pid_t pid;

    memset(out, 0, sizeof *out);
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    fflush(NULL);
    pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        fn(arg);
        fflush(NULL);
        _exit(0);
    }
    close(p[1]);
    deadline = gh_now() + gh_test_slack(timeout_ns);
    for (;;) {
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        int64_t left = (deadline - gh_now()) / GH_MILLISECOND;
        ssize_t n;
        if (left <= 0) {
            out->timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) <= 0)
            continue;
        if (len + 1 >= sizeof out->err) {
            char sink[4096];
            n = read(p[0], sink, sizeof sink);
        } else {
            n = read(p[0], out->err + len, sizeof out->err - 1 - len);
            if (n > 0)
                len += (size_t)n;
        }
        if (n == 0 || (n < 0 && errno != EINTR))
            break;
    }
    out->err[len] = '\0';
    close(p[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    out->exited = WIFEXITED(status);
    out->exit_code = out->exited ? WEXITSTATUS(status) : -1;
    out->signaled = WIFSIGNALED(status);
    out->sig = out->signaled ? WTERMSIG(status) : 0;
}

/** Describe a child's fate, for assertion messages. */
static GH_TEST_UNUSED const char *gh_test_child_str(
    const struct gh_test_child *c, char *buf, size_t n)
{
    if (c->timed_out)
        snprintf(buf, n, "timed out (killed)");
    else if (c->exited)
        snprintf(buf, n, "exit status %d", c->exit_code);
    else if (c->signaled)
        snprintf(buf, n, "killed by signal %d (%s)", c->sig,
                 strsignal(c->sig));
    else
        snprintf(buf, n, "unknown fate");
    return buf;
}

#endif /* CHECK_GH_H */
