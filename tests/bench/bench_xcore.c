/*
 * bench_xcore - how long a cache line takes to go from one CPU to another
 * and back: two threads, pinned to two CPUs, take turns writing a counter
 * in one line.  run.sh probes it before every round, because on a virtual
 * machine it is not a constant: two vCPUs that share a physical core (or
 * its cache) hand a line over in about 50 ns, two that do not in 300 ns or
 * more, and the hypervisor moves them between the two placements from one
 * minute to the next.  Whatever the runtime does across workers (a wake-up
 * that moves a goroutine, a steal, a lock) pays that price: a benchmark
 * with 2 workers can run twice as slow in the second placement, with
 * nothing changed in the code.  No runtime here: plain threads.
 *
 *     bench_xcore [-n ROUND_TRIPS] [CPU_A CPU_B]
 *
 * CPU_A and CPU_B default to the first two CPUs the process may use.
 * Prints "xcore_cpus A,B" and "xcore_rt_ns N", the median of 5 batches of
 * ROUND_TRIPS (default 20000) round trips; nothing with a single CPU.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCHES 5

static _Alignas(64) _Atomic long line;
static long trips = 20000;
static int cpu_b;

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_xcore: %s: %s\n", what, strerror(err));
    exit(1);
}

static void pin(int cpu)
{
    cpu_set_t set;
    int err;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if ((err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set)))
        die("pthread_setaffinity_np", err);
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The other side: answers every odd value with the next even one. */
static void *echo(void *arg)
{
    long total = trips * BATCHES;

    (void)arg;
    pin(cpu_b);
    for (long i = 0; i < total; i++) {
        while (atomic_load_explicit(&line, memory_order_acquire) != 2 * i + 1)
            ;
        atomic_store_explicit(&line, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double ns[BATCHES];
    cpu_set_t allowed;
    int c, cpu_a = -1, err;
    pthread_t t;
    long i = 0;

    while ((c = getopt(argc, argv, "n:")) != -1) {
        if (c != 'n' || (trips = atol(optarg)) <= 0) {
            fprintf(stderr, "usage: bench_xcore [-n ROUND_TRIPS] "
                            "[CPU_A CPU_B]\n");
            return 2;
        }
    }
    if (argc - optind == 2) {
        cpu_a = atoi(argv[optind]);
        cpu_b = atoi(argv[optind + 1]);
    } else {
        if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
            die("sched_getaffinity", errno);
        if (CPU_COUNT(&allowed) < 2)
            return 0; /* nothing to measure */
        cpu_b = -1;
        for (int cpu = 0; cpu < CPU_SETSIZE && cpu_b < 0; cpu++)
            if (CPU_ISSET(cpu, &allowed)) {
                if (cpu_a < 0)
                    cpu_a = cpu;
                else
                    cpu_b = cpu;
            }
    }
    pin(cpu_a);
    if ((err = pthread_create(&t, NULL, echo, NULL)))
        die("pthread_create", err);
    for (int b = 0; b < BATCHES; b++) {
        double t0 = now_ns();
        for (long end = i + trips; i < end; i++) {
            atomic_store_explicit(&line, 2 * i + 1, memory_order_release);
            while (atomic_load_explicit(&line, memory_order_acquire) !=
                   2 * i + 2)
                ;
        }
        ns[b] = (now_ns() - t0) / (double)trips;
    }
    pthread_join(t, NULL);
    qsort(ns, BATCHES, sizeof(ns[0]), cmp_double);
    printf("xcore_cpus %d,%d\n", cpu_a, cpu_b);
    printf("xcore_rt_ns %.1f\n", ns[BATCHES / 2]);
    return 0;
}
