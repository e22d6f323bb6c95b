/*
 * tasks.c - several goroutines at once, line for line like tasks.go: five
 * tasks start, each sleeps a second, and main waits for all of them with a
 * WaitGroup before it finishes.
 */
#include <stdint.h>
#include <stdio.h>

#include <gohttpd.h>

static gh_waitgroup_t wg = GH_WAITGROUP_INIT;  // var wg sync.WaitGroup

static void task(void *arg)
{
    int id = (int)(intptr_t)arg;
    printf("Task %d started\n", id);
    gh_sleep(GH_SECOND);      // Simulate work
    printf("Task %d completed\n", id);
    gh_waitgroup_done(&wg);   // Tell main this task is finished
}

int main(void)
{
    for (int i = 1; i <= 5; i++) {
        gh_waitgroup_add(&wg, 1);
        gh_go(task, (void *)(intptr_t)i);  // Start each task in a separate goroutine
    }
    gh_waitgroup_wait(&wg);   // Wait for all tasks to complete
    printf("Main function is done!\n");
    return 0;
}
