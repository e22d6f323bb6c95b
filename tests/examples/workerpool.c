/*
 * workerpool.c - a pool of workers, line for line like workerpool.go:
 * three workers take five jobs from a buffered channel, each job takes a
 * tenth of a second, and main collects the five results.  Closing the jobs
 * channel ends every worker's GH_RANGE loop.  Which worker takes which job,
 * and the order of the lines, vary from run to run.
 *
 * Unlike Go, C frees the channels itself, and may do so only once nobody
 * uses them: main waits for the workers with a WaitGroup first.
 */
#include <stdio.h>

#include <gohttpd.h>

static gh_waitgroup_t wg = GH_WAITGROUP_INIT;  // var wg sync.WaitGroup

struct worker_args {
    int id;
    gh_chan_t *jobs;     // <-chan int
    gh_chan_t *results;  // chan<- int
};

static void worker(void *arg)
{
    struct worker_args *w = arg;
    int j;
    GH_RANGE(w->jobs, j) {                   // for j := range jobs
        printf("worker %d started job %d\n", w->id, j);
        gh_sleep(100 * GH_MILLISECOND);      // Simulate work
        printf("worker %d finished job %d\n", w->id, j);
        int r = j * 2;
        gh_chan_send(w->results, &r);        // results <- j * 2
    }
    gh_waitgroup_done(&wg);  // jobs is closed and drained: this worker is done
}

int main(void)
{
    enum { num_jobs = 5 };
    gh_chan_t *jobs = gh_chan_new(sizeof(int), num_jobs);
    gh_chan_t *results = gh_chan_new(sizeof(int), num_jobs);
    struct worker_args args[3];

    for (int w = 1; w <= 3; w++) {
        gh_waitgroup_add(&wg, 1);
        args[w - 1] = (struct worker_args){w, jobs, results};
        gh_go(worker, &args[w - 1]);  // Three workers, blocked until jobs come
    }
    for (int j = 1; j <= num_jobs; j++) {
        gh_chan_send(jobs, &j);  // Queue the jobs
    }
    gh_chan_close(jobs);         // No more jobs: each worker's range loop ends

    int sum = 0;
    for (int a = 1; a <= num_jobs; a++) {
        int r;
        gh_chan_recv(results, &r);  // Collect the results
        sum += r;
    }
    gh_waitgroup_wait(&wg);      // Every worker has returned
    printf("sum of results: %d\n", sum);
    gh_chan_free(jobs);
    gh_chan_free(results);
    return 0;
}
