/*
 * bench_sieve - Go's classic concurrent prime sieve: a generator goroutine
 * sends 2, 3, 4, ... on an unbuffered channel of int, and each prime found
 * adds a filter goroutine to the end of the chain that drops multiples of
 * it.  Runs until the Nth prime (about N goroutines in the chain), checks
 * it against trial division and prints it and the seconds taken.  The
 * goroutines stay blocked when main() returns, as in the Go original.  Go
 * twin: go/sieve.go.
 *
 *     bench_sieve [-w WORKERS] [-n N]      (default 1, 10000: 104729)
 */
#include "config.h"

#include <stdint.h>

#include "bench.h"

static long n_primes = 10000;
static int prime_found;
static double seconds;

struct filter {
    gh_chan_t *in, *out;
    int prime;
};

static gh_chan_t *new_chan(void)
{
    gh_chan_t *ch = gh_chan_new(sizeof(int), 0);

    if (ch == NULL)
        bench_die("gh_chan_new: %s", strerror(errno));
    return ch;
}

static void generate(void *arg)
{
    gh_chan_t *ch = arg;
    int i;

    for (i = 2;; i++)
        gh_chan_send(ch, &i);
}

static void filter(void *arg)
{
    struct filter *f = arg;
    int i;

    for (;;) {
        gh_chan_recv(f->in, &i);
        if (i % f->prime != 0)
            gh_chan_send(f->out, &i);
    }
}

static void driver(void *arg)
{
    gh_chan_t *ch = new_chan();
    int64_t t0 = gh_now();
    struct filter *f;
    long i;
    int prime = 0;

    bench_go(generate, ch);
    for (i = 0; i < n_primes; i++) {
        gh_chan_recv(ch, &prime);
        if ((f = malloc(sizeof(*f))) == NULL)
            bench_die("out of memory");
        *f = (struct filter){ch, new_chan(), prime};
        bench_go(filter, f);
        ch = f->out;
    }
    seconds = (double)(gh_now() - t0) / 1e9;
    prime_found = prime;
    bench_done();
}

/* The nth prime by trial division, to check the sieve's answer. */
static int nth_prime(long n)
{
    int p = 1, d;

    while (n > 0) {
        p++;
        for (d = 2; d * d <= p && p % d != 0; d++)
            ;
        if (d * d > p)
            n--;
    }
    return p;
}

int main(int argc, char **argv)
{
    int c, workers = 1, want;

    while ((c = getopt(argc, argv, "w:n:")) != -1) {
        if (c == 'w')
            workers = (int)bench_count(optarg);
        else if (c == 'n')
            n_primes = bench_count(optarg);
        else
            bench_die("usage: bench_sieve [-w WORKERS] [-n N]");
    }
    if (n_primes > 1000000)
        bench_die("bench_sieve: N above 1m would take days");
    want = nth_prime(n_primes);
    bench_done_init();
    bench_set_workers(workers);
    bench_go(driver, NULL);
    bench_wait_done();
    if (prime_found != want)
        bench_die("sieve: prime %ld is %d, not %d", n_primes, prime_found,
                  want);
    printf("sieve_workers %d\n", workers);
    printf("sieve_n %ld\n", n_primes);
    printf("sieve_prime %d\n", prime_found);
    printf("sieve_s %.3f\n", seconds);
    return 0;
}
