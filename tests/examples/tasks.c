/*
 * tasks.c - several goroutines at once, line for line like tasks.go: five
 * tasks start, each sleeps a second, then main (which slept six) finishes.
 */
#include <stdint.h>
#include <stdio.h>

#include <gohttpd.h>

static void task(void *arg)
{
    int id = (int)(intptr_t)arg;
    printf("Task %d started\n", id);
    gh_sleep(GH_SECOND);      // Simulate work
    printf("Task %d completed\n", id);
}

int main(void)
{
    for (int i = 1; i <= 5; i++) {
        gh_go(task, (void *)(intptr_t)i);  // Start each task in a separate goroutine
    }
    gh_sleep(6 * GH_SECOND);  // Wait for all tasks to complete
    printf("Main function is done!\n");
    return 0;
}
