/*
 * bench_select - ping-pong through two-case selects: each of two
 * goroutines waits in gh_select() on its incoming channel and on a quit
 * channel that only becomes ready (closed) at the end, then sends on its
 * outgoing channel; all channels carry ints and are unbuffered.  N round
 * trips after a warm-up of N/10; prints ns per round trip.  Go twin:
 * go/select.go.
 *
 *     bench_select [-w WORKERS] [-n N]      (default 1, 1m)
 */
#include "config.h"

#include <stdint.h>

#include "bench.h"

static long n_trips = 1000000;
static double result;

struct pair {
    gh_chan_t *ping, *pong, *quit;
    gh_waitgroup_t wg;
};

static gh_chan_t *new_chan(size_t elem_size)
{
    gh_chan_t *ch = gh_chan_new(elem_size, 0);

    if (ch == NULL)
        bench_die("gh_chan_new: %s", strerror(errno));
    return ch;
}

/* Wait for a value on in or for quit: 1 and the value in *v, or 0. */
static int wait_in(gh_chan_t *in, gh_chan_t *quit, int *v)
{
    gh_case_t cs[] = {GH_RECV(in, v), GH_RECV(quit, NULL)};
    int rc = gh_select(cs, 2, GH_FOREVER);

    if (rc < 0)
        bench_die("gh_select: %s", gh_strerror(rc));
    return rc == 0;
}

static void ponger(void *arg)
{
    struct pair *p = arg;
    int v;

    while (wait_in(p->ping, p->quit, &v)) {
        v++;
        gh_chan_send(p->pong, &v);
    }
    gh_waitgroup_done(&p->wg);
}

static int64_t run(long n)
{
    struct pair p = {new_chan(sizeof(int)), new_chan(sizeof(int)), new_chan(0),
                     GH_WAITGROUP_INIT};
    int64_t t0, el;
    long i;
    int v;

    gh_waitgroup_add(&p.wg, 1);
    bench_go(ponger, &p);
    t0 = gh_now();
    for (i = 0; i < n; i++) {
        v = (int)i;
        gh_chan_send(p.ping, &v);
        if (!wait_in(p.pong, p.quit, &v) || v != (int)i + 1)
            bench_die("select: wrong value");
    }
    el = gh_now() - t0;
    gh_chan_close(p.quit);
    gh_waitgroup_wait(&p.wg);
    gh_chan_free(p.ping);
    gh_chan_free(p.pong);
    gh_chan_free(p.quit);
    return el;
}

static void driver(void *arg)
{
    run(n_trips / 10);
    result = (double)run(n_trips) / n_trips;
    bench_done();
}

int main(int argc, char **argv)
{
    int c, workers = 1;

    while ((c = getopt(argc, argv, "w:n:")) != -1) {
        if (c == 'w')
            workers = (int)bench_count(optarg);
        else if (c == 'n')
            n_trips = bench_count(optarg);
        else
            bench_die("usage: bench_select [-w WORKERS] [-n N]");
    }
    if (n_trips < 10)
        bench_die("bench_select: -n needs at least 10");
    bench_done_init();
    bench_set_workers(workers);
    bench_go(driver, NULL);
    bench_wait_done();
    printf("select_workers %d\n", workers);
    printf("select_n %ld\n", n_trips);
    printf("select_ns %.1f\n", result);
    return 0;
}
