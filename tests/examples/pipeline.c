/*
 * pipeline.c - a two-stage pipeline, line for line like pipeline.go: gen
 * sends 1..5 and closes its channel, sq squares what it receives until that
 * channel is closed and then closes its own, and main prints the squares
 * until sq's channel is closed.  Unbuffered channels keep the stages in
 * step, so the output is always 1 4 9 16 25.
 */
#include <stdio.h>

#include <gohttpd.h>

struct stage {
    gh_chan_t *in;   // <-chan int
    gh_chan_t *out;  // chan<- int
};

static void gen(void *arg)
{
    gh_chan_t *out = arg;
    for (int n = 1; n <= 5; n++) {
        gh_chan_send(out, &n);  // out <- n
    }
    gh_chan_close(out);         // The receiver's range loop ends after 5
}

static void sq(void *arg)
{
    struct stage *st = arg;
    int n;
    GH_RANGE(st->in, n) {       // for n := range in
        int s = n * n;
        gh_chan_send(st->out, &s);  // out <- n * n
    }
    gh_chan_close(st->out);
}

int main(void)
{
    gh_chan_t *nums = gh_chan_new(sizeof(int), 0);     // make(chan int)
    gh_chan_t *squares = gh_chan_new(sizeof(int), 0);
    struct stage st = {nums, squares};
    gh_go(gen, nums);           // First stage: 1, 2, 3, 4, 5
    gh_go(sq, &st);             // Second stage: their squares
    int s;
    GH_RANGE(squares, s) {      // for s := range squares
        printf("%d\n", s);
    }
    gh_chan_free(nums);         // Both stages are done with them
    gh_chan_free(squares);
    return 0;
}
