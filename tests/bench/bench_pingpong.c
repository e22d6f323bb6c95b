/*
 * bench_pingpong - netpoll round trips: two goroutines bounce one byte over
 * a non-blocking socketpair with gh_read()/gh_write(), N times, on the
 * default worker count.  Every read finds the socket empty first, so each
 * round trip parks and wakes both sides through the workers' libev loops.
 * Prints ns per round trip.  Go twin: go/pingpong.go.
 *
 *     bench_pingpong [-n N]      (default 200k)
 */
#include "config.h"

#include <stdint.h>
#include <sys/socket.h>

#include "bench.h"

static long n_trips = 200000;
static int fds[2];
static int64_t elapsed;

static void xfer(int fd, int out)
{
    char b = 'x';
    ssize_t r;

    if (out)
        r = gh_write(fd, &b, 1, GH_FOREVER);
    else
        r = gh_read(fd, &b, 1, GH_FOREVER);
    if (r != 1)
        bench_die("gh_%s: %s", out ? "write" : "read",
                  r < 0 ? gh_strerror((int)r) : "short transfer");
}

static void pinger(void *arg)
{
    int64_t t0 = gh_now();
    long i;

    for (i = 0; i < n_trips; i++) {
        xfer(fds[0], 1);
        xfer(fds[0], 0);
    }
    elapsed = gh_now() - t0;
    bench_done();
}

static void ponger(void *arg)
{
    long i;

    for (i = 0; i < n_trips; i++) {
        xfer(fds[1], 0);
        xfer(fds[1], 1);
    }
}

int main(int argc, char **argv)
{
    int c;

    while ((c = getopt(argc, argv, "n:")) != -1) {
        if (c == 'n')
            n_trips = bench_count(optarg);
        else
            bench_die("usage: bench_pingpong [-n N]");
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   fds) != 0)
        bench_die("socketpair: %s", strerror(errno));
    bench_done_init();
    bench_go(ponger, NULL);
    bench_go(pinger, NULL);
    bench_wait_done();
    printf("pingpong_n %ld\n", n_trips);
    printf("pingpong_ns %.1f\n", (double)elapsed / n_trips);
    return 0;
}
