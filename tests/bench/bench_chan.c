/*
 * bench_chan - channel throughput and latency, in one process per worker
 * count:
 *
 *   unbuffered  two goroutines bounce an int over two unbuffered channels
 *               (ping, pong), N round trips; ns per round trip.
 *   buffered    P producers send M ints in all on one channel of capacity
 *               1024, C consumers drain it (for v := range ch); the last
 *               producer to finish closes it.  Run as 1/1 and 4/4; ns per
 *               message (elapsed / M).
 *
 * Each part runs once unmeasured at a tenth of its size first, so worker
 * threads and the stack cache are warm.  A driver goroutine does the
 * timing; main() only waits for it.  Go twin: go/chan.go.
 *
 *     bench_chan [-w WORKERS] [-n ROUNDTRIPS] [-m MESSAGES]
 *                (default 1, 1m, 10m)
 */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>

#include "bench.h"

static long n_trips = 1000000;
static long n_msgs = 10000000;

static gh_chan_t *new_chan(size_t cap)
{
    gh_chan_t *ch = gh_chan_new(sizeof(int), cap);

    if (ch == NULL)
        bench_die("gh_chan_new: %s", strerror(errno));
    return ch;
}

static void send_int(gh_chan_t *ch, int v)
{
    gh_chan_send(ch, &v);
}

static int recv_int(gh_chan_t *ch)
{
    int v;

    if (gh_chan_recv(ch, &v) != 0)
        bench_die("gh_chan_recv: unexpected close");
    return v;
}

/* --- unbuffered ping-pong --- */

struct pingpong {
    gh_chan_t *ping, *pong;
    long n;
    gh_waitgroup_t wg;
};

static void ponger(void *arg)
{
    struct pingpong *pp = arg;
    long i;

    for (i = 0; i < pp->n; i++)
        send_int(pp->pong, recv_int(pp->ping) + 1);
    gh_waitgroup_done(&pp->wg);
}

/* Returns the ns the pinger's n round trips took. */
static int64_t pingpong(long n)
{
    struct pingpong pp = {new_chan(0), new_chan(0), n, GH_WAITGROUP_INIT};
    int64_t t0, el;
    long i;

    gh_waitgroup_add(&pp.wg, 1);
    bench_go(ponger, &pp);
    t0 = gh_now();
    for (i = 0; i < n; i++) {
        send_int(pp.ping, (int)i);
        if (recv_int(pp.pong) != (int)i + 1)
            bench_die("pingpong: wrong value");
    }
    el = gh_now() - t0;
    gh_waitgroup_wait(&pp.wg);
    gh_chan_free(pp.ping);
    gh_chan_free(pp.pong);
    return el;
}

/* --- buffered producers/consumers --- */

struct pc {
    gh_chan_t *ch;
    long per_producer;
    atomic_int producers_left;
    atomic_long sum;
    gh_waitgroup_t consumers;
};

static void producer(void *arg)
{
    struct pc *pc = arg;
    long i;

    for (i = 0; i < pc->per_producer; i++)
        send_int(pc->ch, 1);
    if (atomic_fetch_sub(&pc->producers_left, 1) == 1)
        gh_chan_close(pc->ch);
}

static void consumer(void *arg)
{
    struct pc *pc = arg;
    long sum = 0;
    int v;

    GH_RANGE(pc->ch, v) {
        sum += v;
    }
    atomic_fetch_add(&pc->sum, sum);
    gh_waitgroup_done(&pc->consumers);
}

/* Returns the ns that m messages from np producers to nc consumers took. */
static int64_t prodcons(long m, int np, int nc)
{
    struct pc pc = {.ch = new_chan(1024), .per_producer = m / np};
    int64_t t0, el;
    int i;

    atomic_init(&pc.producers_left, np);
    atomic_init(&pc.sum, 0);
    gh_waitgroup_add(&pc.consumers, nc);
    t0 = gh_now();
    for (i = 0; i < nc; i++)
        bench_go(consumer, &pc);
    for (i = 0; i < np; i++)
        bench_go(producer, &pc);
    gh_waitgroup_wait(&pc.consumers);
    el = gh_now() - t0;
    if (atomic_load(&pc.sum) != pc.per_producer * np)
        bench_die("prodcons %d/%d: received %ld of %ld", np, nc,
                  atomic_load(&pc.sum), pc.per_producer * np);
    gh_chan_free(pc.ch);
    return el;
}

static double res_unbuf, res_buf1, res_buf4;

static void driver(void *arg)
{
    long m4 = n_msgs / 4 * 4;

    pingpong(n_trips / 10);
    res_unbuf = (double)pingpong(n_trips) / n_trips;
    prodcons(n_msgs / 10, 1, 1);
    res_buf1 = (double)prodcons(n_msgs, 1, 1) / n_msgs;
    prodcons(m4 / 10 / 4 * 4, 4, 4);
    res_buf4 = (double)prodcons(m4, 4, 4) / m4;
    bench_done();
}

int main(int argc, char **argv)
{
    int c, workers = 1;

    while ((c = getopt(argc, argv, "w:n:m:")) != -1) {
        if (c == 'w')
            workers = (int)bench_count(optarg);
        else if (c == 'n')
            n_trips = bench_count(optarg);
        else if (c == 'm')
            n_msgs = bench_count(optarg);
        else
            bench_die("usage: bench_chan [-w WORKERS] [-n N] [-m M]");
    }
    if (n_trips < 10 || n_msgs < 40)
        bench_die("bench_chan: -n needs at least 10, -m at least 40");
    bench_done_init();
    bench_set_workers(workers);
    bench_go(driver, NULL);
    bench_wait_done();
    printf("chan_workers %d\n", workers);
    printf("chan_unbuf_n %ld\n", n_trips);
    printf("chan_unbuf_ns %.1f\n", res_unbuf);
    printf("chan_buf_n %ld\n", n_msgs);
    printf("chan_buf1_ns %.2f\n", res_buf1);
    printf("chan_buf4_ns %.2f\n", res_buf4);
    return 0;
}
