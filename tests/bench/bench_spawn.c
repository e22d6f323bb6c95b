/*
 * bench_spawn - the cost of gh_go() plus running and ending a goroutine,
 * with warm (cached) stacks.
 *
 * A spawner goroutine starts N goroutines that each increment a counter,
 * then yields until the counter reaches N.  A first, unmeasured round warms
 * the stack cache; the second is timed.  With -b B the spawner waits for
 * each batch of B before starting the next, so few goroutines are alive at
 * once (the pattern of a server: a goroutine per request on warm stacks).
 * Prints ns per goroutine.  Go twin: go/spawn.go.
 *
 *     bench_spawn [-n N] [-w WORKERS] [-b BATCH]   (default 1m, 1, N)
 */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>

#include "bench.h"

static long n_spawn = 1000000;
static long batch;
static atomic_long counter;
static int64_t elapsed;

static void incr(void *arg)
{
    atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
}

static int64_t one_round(void)
{
    int64_t t0 = gh_now();
    long i = 0;

    atomic_store(&counter, 0);
    while (i < n_spawn) {
        long end = i + batch < n_spawn ? i + batch : n_spawn;

        for (; i < end; i++)
            bench_go(incr, NULL);
        while (atomic_load_explicit(&counter, memory_order_relaxed) < end)
            gh_yield();
    }
    return gh_now() - t0;
}

static void spawner(void *arg)
{
    one_round(); /* warm-up: fills the stack cache */
    elapsed = one_round();
    bench_done();
}

int main(int argc, char **argv)
{
    int c, workers = 1;

    while ((c = getopt(argc, argv, "n:w:b:")) != -1) {
        if (c == 'n')
            n_spawn = bench_count(optarg);
        else if (c == 'w')
            workers = (int)bench_count(optarg);
        else if (c == 'b')
            batch = bench_count(optarg);
        else
            bench_die("usage: bench_spawn [-n N] [-w WORKERS] [-b BATCH]");
    }
    if (batch == 0 || batch > n_spawn)
        batch = n_spawn;
    /* The spawner keeps its worker for seconds on purpose, as Go's loop of
     * go statements does: that is what is measured, not a stall. */
    gh_set_stall_limit(0);
    bench_done_init();
    bench_set_workers(workers);
    bench_go(spawner, NULL);
    bench_wait_done();
    printf("spawn_n %ld\n", n_spawn);
    printf("spawn_workers %d\n", workers);
    printf("spawn_batch %ld\n", batch);
    printf("spawn_ns %.2f\n", (double)elapsed / n_spawn);
    return 0;
}
