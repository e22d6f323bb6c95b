/*
 * tests/bench/bench.h - small helpers shared by the runtime micro-benchmarks.
 *
 * Each benchmark is a C program with a Go twin in tests/bench/go/ that does
 * the same work.  Both print their results as "key value" lines on stdout,
 * which tests/bench/run.sh parses; anything else goes to stderr.  The
 * helpers here are static so every benchmark stays a single object file.
 */
#ifndef GH_BENCH_H
#define GH_BENCH_H

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gohttpd.h>

/* Print a message and end the program: benchmarks have no error recovery. */
static inline void __attribute__((noreturn, format(printf, 1, 2)))
bench_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/*
 * The resident set size of this process in KiB, from /proc/self/status.
 * Never inlined: its 4 KiB buffer must not become part of the frame of a
 * goroutine that calls it only on a rare path, or every such goroutine
 * would touch an extra stack page.
 */
static __attribute__((noinline, unused)) long bench_vmrss_kb(void)
{
    char buf[4096];
    ssize_t n, len = 0;
    char *p;
    int fd;

    fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while (len < (ssize_t)sizeof(buf) - 1 &&
           (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += n;
    close(fd);
    buf[len] = '\0';
    p = strstr(buf, "VmRSS:");
    return p ? strtol(p + 6, NULL, 10) : -1;
}

/* Parse a count such as "1000000", "100k" or "1m". */
static inline long bench_count(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*end == 'k' || *end == 'K')
        v *= 1000;
    else if (*end == 'm' || *end == 'M')
        v *= 1000000;
    else if (*end != '\0')
        bench_die("bad number: %s", s);
    if (v <= 0)
        bench_die("bad number: %s", s);
    return v;
}

/*
 * A one-shot "done" signal from a goroutine to main().  main() is not a
 * goroutine, so it blocks in sem_wait(); sem_post() never blocks, so a
 * goroutine may call it.
 */
static sem_t bench_done_sem;

static inline void bench_done_init(void)
{
    if (sem_init(&bench_done_sem, 0, 0) != 0)
        bench_die("sem_init: %s", strerror(errno));
}

static inline void bench_done(void)
{
    sem_post(&bench_done_sem);
}

static inline void bench_wait_done(void)
{
    while (sem_wait(&bench_done_sem) != 0 && errno == EINTR)
        ;
}

static inline void bench_set_workers(int n)
{
    int rc = gh_set_workers(n);

    if (rc < 0)
        bench_die("gh_set_workers(%d): %s", n, gh_strerror(rc));
}

static inline void bench_go(gh_go_fn fn, void *arg)
{
    int64_t id = gh_go(fn, arg);

    if (id <= 0)
        bench_die("gh_go: %s", gh_strerror((int)id));
}

#endif /* GH_BENCH_H */
