/*
 * hello.c - the first goroutine example, line for line like hello.go:
 * start say_hello in a goroutine, sleep a second, print from main.
 */
#include <stdio.h>

#include <gohttpd.h>

static void say_hello(void *arg)
{
    printf("Hello from goroutine!\n");
}

int main(void)
{
    gh_go(say_hello, NULL);   // Starts say_hello in a new goroutine
    gh_sleep(GH_SECOND);      // Wait for goroutine to finish
    printf("Main function is done!\n");
    return 0;
}
