/*
 * bench_sleep - timer precision under load: N goroutines each sleep 1 ms.
 *
 * A spawner goroutine (default worker count) starts N goroutines; each
 * notes gh_now(), calls gh_sleep(1 ms) and records how long it actually
 * slept.  Prints the median, 99th percentile and maximum of those
 * durations, and the wall time from the first spawn until the last one
 * woke.  Go twin: go/sleep.go.
 *
 *     bench_sleep [-n N]      (default 10k)
 */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>

#include "bench.h"

static long n_sleep = 10000;
static int64_t *slept;
static atomic_long next_slot;
static atomic_long finished;
static int64_t t_start, t_end;

static void sleeper(void *arg)
{
    int64_t t0 = gh_now();

    gh_sleep(GH_MILLISECOND);
    slept[atomic_fetch_add(&next_slot, 1)] = gh_now() - t0;
    if (atomic_fetch_add(&finished, 1) + 1 == n_sleep) {
        t_end = gh_now();
        bench_done();
    }
}

static void spawner(void *arg)
{
    long i;

    t_start = gh_now();
    for (i = 0; i < n_sleep; i++)
        bench_go(sleeper, NULL);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int c;

    while ((c = getopt(argc, argv, "n:")) != -1) {
        if (c == 'n')
            n_sleep = bench_count(optarg);
        else
            bench_die("usage: bench_sleep [-n N]");
    }
    slept = calloc(n_sleep, sizeof(*slept));
    if (!slept)
        bench_die("out of memory");
    bench_done_init();
    bench_go(spawner, NULL);
    bench_wait_done();
    qsort(slept, n_sleep, sizeof(*slept), cmp_i64);
    printf("sleep_n %ld\n", n_sleep);
    printf("sleep_p50_ms %.3f\n", slept[n_sleep / 2] / 1e6);
    printf("sleep_p99_ms %.3f\n", slept[n_sleep * 99 / 100] / 1e6);
    printf("sleep_max_ms %.3f\n", slept[n_sleep - 1] / 1e6);
    printf("sleep_wall_ms %.3f\n", (t_end - t_start) / 1e6);
    return 0;
}
