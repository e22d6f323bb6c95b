/*
 * bench_idle - CPU used by an idle runtime.
 *
 * Starts the runtime with 8 workers, runs one goroutine to the end, then
 * sleeps in main() and reports the CPU time (user + system, all threads)
 * the process used meanwhile, and its context switches.  Idle workers
 * should block in their event loops and cost nothing.  Go twin: go/idle.go.
 *
 *     bench_idle [-w WORKERS] [-s SECONDS]      (default 8, 10)
 */
#include "config.h"

#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"

static void noop(void *arg)
{
    bench_done();
}

static double cpu_ms(const struct rusage *ru)
{
    return ru->ru_utime.tv_sec * 1e3 + ru->ru_utime.tv_usec / 1e3 +
           ru->ru_stime.tv_sec * 1e3 + ru->ru_stime.tv_usec / 1e3;
}

int main(int argc, char **argv)
{
    struct rusage r0, r1;
    struct timespec ts;
    int c, workers = 8;
    long secs = 10;

    while ((c = getopt(argc, argv, "w:s:")) != -1) {
        if (c == 'w')
            workers = (int)bench_count(optarg);
        else if (c == 's')
            secs = bench_count(optarg);
        else
            bench_die("usage: bench_idle [-w WORKERS] [-s SECONDS]");
    }
    bench_done_init();
    bench_set_workers(workers);
    bench_go(noop, NULL);
    bench_wait_done();
    getrusage(RUSAGE_SELF, &r0);
    ts.tv_sec = secs;
    ts.tv_nsec = 0;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    getrusage(RUSAGE_SELF, &r1);
    printf("idle_workers %d\n", workers);
    printf("idle_seconds %ld\n", secs);
    printf("idle_cpu_ms %.2f\n", cpu_ms(&r1) - cpu_ms(&r0));
    printf("idle_ctxsw %ld\n",
           (r1.ru_nvcsw - r0.ru_nvcsw) + (r1.ru_nivcsw - r0.ru_nivcsw));
    return 0;
}
