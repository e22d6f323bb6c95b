/*
 * bench_mutex - a contended gh_mutex_t: 8 goroutines each lock it,
 * increment a shared counter and unlock it, in a loop, N pairs in all, on
 * the given worker count.  With one worker the goroutines take turns and
 * the lock is seldom contended; with two, two of them run at once and
 * fight over it.  Prints ns per lock/unlock pair (wall time over all
 * pairs).  Go twin: go/mutex.go.
 *
 *     bench_mutex [-n N] [-w WORKERS]     (default 10m; GH_WORKERS or CPUs)
 */
#include "config.h"

#include <stdint.h>

#include "bench.h"

#define GOROUTINES 8

static long n_ops = 10000000;
static gh_mutex_t mu = GH_MUTEX_INIT;
static gh_waitgroup_t wg = GH_WAITGROUP_INIT;
static long counter; /* guarded by mu */

static void locker(void *arg)
{
    long n = (long)(intptr_t)arg;

    for (long i = 0; i < n; i++) {
        gh_mutex_lock(&mu);
        counter++;
        gh_mutex_unlock(&mu);
    }
    gh_waitgroup_done(&wg);
}

int main(int argc, char **argv)
{
    int c, workers = 0;
    int64_t t0, elapsed;
    long per;

    while ((c = getopt(argc, argv, "n:w:")) != -1) {
        if (c == 'n')
            n_ops = bench_count(optarg);
        else if (c == 'w')
            workers = (int)bench_count(optarg);
        else
            bench_die("usage: bench_mutex [-n N] [-w WORKERS]");
    }
    if (workers > 0)
        bench_set_workers(workers);
    per = n_ops / GOROUTINES;
    n_ops = per * GOROUTINES;
    t0 = gh_now();
    gh_waitgroup_add(&wg, GOROUTINES);
    for (int i = 0; i < GOROUTINES; i++)
        bench_go(locker, (void *)(intptr_t)per);
    gh_waitgroup_wait(&wg);
    elapsed = gh_now() - t0;
    if (counter != n_ops)
        bench_die("counter is %ld, want %ld: the mutex let two in", counter,
                  n_ops);
    printf("mutex_n %ld\n", n_ops);
    printf("mutex_workers %d\n", gh_workers());
    printf("mutex_goroutines %d\n", GOROUTINES);
    printf("mutex_ns %.2f\n", (double)elapsed / n_ops);
    return 0;
}
