/*
 * bench_ring - a token passed around a ring of N goroutines: goroutine i
 * receives from channel i and sends to channel i+1 (mod N); all channels
 * are unbuffered and carry an int, the number of hops still to go.  The
 * ring is built and every goroutine parked in its first receive before the
 * clock starts; then the token makes H hops in all.  The goroutine that
 * receives 0 reports the end and starts a shutdown wave (-1) around the
 * ring.  Prints ns per hop.  Go twin: go/ring.go.
 *
 *     bench_ring [-w WORKERS] [-n N] [-h HOPS]    (default 1, 1000, 1m)
 */
#include "config.h"

#include <stdint.h>

#include "bench.h"

static long ring_size = 1000;
static long n_hops = 1000000;
static gh_chan_t **chans;
static gh_chan_t *done;
static gh_waitgroup_t ready = GH_WAITGROUP_INIT;
static gh_waitgroup_t exited = GH_WAITGROUP_INIT;
static double result;

static void member(void *arg)
{
    long i = (long)(intptr_t)arg;
    gh_chan_t *left = chans[i], *right = chans[(i + 1) % ring_size];
    int started_wave = 0;
    int t;

    gh_waitgroup_done(&ready);
    for (;;) {
        if (gh_chan_recv(left, &t) != 0)
            bench_die("ring: unexpected close");
        if (t > 0) {
            t--;
            gh_chan_send(right, &t);
        } else if (t == 0) {
            gh_chan_send(done, &t); /* done carries nothing */
            t = -1;
            started_wave = 1;
            gh_chan_send(right, &t);
        } else {
            if (!started_wave)
                gh_chan_send(right, &t);
            break;
        }
    }
    gh_waitgroup_done(&exited);
}

static void driver(void *arg)
{
    int64_t t0;
    long i;
    int t = (int)n_hops;

    gh_waitgroup_add(&ready, ring_size);
    gh_waitgroup_add(&exited, ring_size);
    for (i = 0; i < ring_size; i++)
        bench_go(member, (void *)(intptr_t)i);
    gh_waitgroup_wait(&ready);
    t0 = gh_now();
    gh_chan_send(chans[0], &t);
    gh_chan_recv(done, NULL);
    result = (double)(gh_now() - t0) / n_hops;
    gh_waitgroup_wait(&exited);
    bench_done();
}

int main(int argc, char **argv)
{
    int c, workers = 1;
    long i;

    while ((c = getopt(argc, argv, "w:n:h:")) != -1) {
        if (c == 'w')
            workers = (int)bench_count(optarg);
        else if (c == 'n')
            ring_size = bench_count(optarg);
        else if (c == 'h')
            n_hops = bench_count(optarg);
        else
            bench_die("usage: bench_ring [-w WORKERS] [-n N] [-h HOPS]");
    }
    if (ring_size < 2 || n_hops > INT32_MAX)
        bench_die("bench_ring: need N >= 2 and HOPS < 2^31");
    chans = calloc((size_t)ring_size, sizeof(*chans));
    done = gh_chan_new(0, 0);
    if (chans == NULL || done == NULL)
        bench_die("out of memory");
    for (i = 0; i < ring_size; i++)
        if ((chans[i] = gh_chan_new(sizeof(int), 0)) == NULL)
            bench_die("gh_chan_new: %s", strerror(errno));
    bench_done_init();
    bench_set_workers(workers);
    bench_go(driver, NULL);
    bench_wait_done();
    printf("ring_workers %d\n", workers);
    printf("ring_size %ld\n", ring_size);
    printf("ring_hops %ld\n", n_hops);
    printf("ring_ns %.1f\n", result);
    return 0;
}
