/*
 * bench_park - many parked goroutines: spawn time and memory per goroutine.
 *
 * The first thing the program does is start a spawner goroutine (default
 * worker count) that starts N goroutines.  Each increments a counter and
 * sleeps until a deadline common to all, far enough ahead to leave room for
 * the spawning.  The goroutine that brings the counter to N notes the time
 * and the resident set size: spawn_us is the time from the first spawn to
 * that moment per goroutine, rss_bytes the growth of VmRSS per goroutine.
 * After the deadline all wake and end; wake_ms is the time from the
 * deadline until the last one ended, and idle_rss_mb the RSS after a
 * further 1.5 s idle period (cached stacks trimmed).
 * Go twin: go/park.go.
 *
 *     bench_park [-n N]      (default 1m)
 */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>

#include "bench.h"

static long n_park = 1000000;
static atomic_long parked;
static atomic_long woken;
static int64_t deadline;
static int64_t t_start, t_parked, t_woken;
static long rss_parked_kb;

static void sleeper(void *arg)
{
    if (atomic_fetch_add(&parked, 1) + 1 == n_park) {
        t_parked = gh_now();
        rss_parked_kb = bench_vmrss_kb();
    }
    gh_sleep_until(deadline);
    if (atomic_fetch_add(&woken, 1) + 1 == n_park) {
        t_woken = gh_now();
        bench_done();
    }
}

static void spawner(void *arg)
{
    long i;

    t_start = gh_now();
    /* 1 s plus 8 us per goroutine: three times the spawn-time target, and
     * room for Go, which needs about 6 us. */
    deadline = t_start + GH_SECOND + n_park * 8 * GH_MICROSECOND;
    for (i = 0; i < n_park; i++)
        bench_go(sleeper, NULL);
}

int main(int argc, char **argv)
{
    long rss0_kb, rss_idle_kb;
    int c;

    while ((c = getopt(argc, argv, "n:")) != -1) {
        if (c == 'n')
            n_park = bench_count(optarg);
        else
            bench_die("usage: bench_park [-n N]");
    }
    /* The spawner keeps its worker for seconds on purpose, as Go's loop of
     * go statements does: that is what is measured, not a stall. */
    gh_set_stall_limit(0);
    bench_done_init();
    rss0_kb = bench_vmrss_kb();
    bench_go(spawner, NULL);
    bench_wait_done();
    gh_sleep(GH_SECOND * 3 / 2);
    rss_idle_kb = bench_vmrss_kb();

    printf("park_n %ld\n", n_park);
    printf("park_spawn_us %.3f\n", (double)(t_parked - t_start) / 1e3 / n_park);
    printf("park_rss_bytes %.0f\n",
           (double)(rss_parked_kb - rss0_kb) * 1024.0 / n_park);
    printf("park_late %d\n", t_parked > deadline);
    printf("park_wake_ms %.2f\n", (double)(t_woken - deadline) / 1e6);
    printf("park_idle_rss_mb %.1f\n", rss_idle_kb / 1024.0);
    return 0;
}
