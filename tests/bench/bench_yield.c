/*
 * bench_yield - the cost of gh_yield() between two goroutines on one worker.
 *
 * Two goroutines share a single worker thread and call gh_yield() N times
 * each, so every yield is a switch to the other one.  Prints the wall time
 * per yield (total time / total yields).  Go twin: go/yield.go with
 * runtime.GOMAXPROCS(1) and runtime.Gosched().
 *
 *     bench_yield [-n YIELDS_PER_GOROUTINE]      (default 10m)
 */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>

#include "bench.h"

static long n_yields = 10000000;
static atomic_int ready;
static atomic_int finished;
static int64_t t_start, t_end;

static void yielder(void *arg)
{
    long i;

    /* Both must be running before the clock starts: a lone yielder would
     * measure the no-one-else-to-run fast path. */
    if (atomic_fetch_add(&ready, 1) == 0) {
        while (atomic_load(&ready) < 2)
            gh_yield();
        t_start = gh_now();
    } else {
        gh_yield();
    }
    for (i = 0; i < n_yields; i++)
        gh_yield();
    if (atomic_fetch_add(&finished, 1) == 1) {
        t_end = gh_now();
        bench_done();
    }
}

int main(int argc, char **argv)
{
    int c;

    while ((c = getopt(argc, argv, "n:")) != -1) {
        if (c == 'n')
            n_yields = bench_count(optarg);
        else
            bench_die("usage: bench_yield [-n N]");
    }
    bench_done_init();
    bench_set_workers(1);
    bench_go(yielder, NULL);
    bench_go(yielder, NULL);
    bench_wait_done();
    printf("yield_n %ld\n", 2 * n_yields);
    printf("yield_ns %.2f\n", (double)(t_end - t_start) / (2.0 * n_yields));
    return 0;
}
