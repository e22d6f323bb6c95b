/*
 * channels.c - goroutines talking over a channel, line for line like
 * channels.go: send_data sends one string on an unbuffered channel, main
 * receives it and prints it.  The channel carries `const char *` elements
 * by value, as Go's chan string carries strings.
 */
#include <stdio.h>

#include <gohttpd.h>

static void send_data(void *arg)
{
    gh_chan_t *ch = arg;
    const char *msg = "Hello from goroutine!";
    gh_chan_send(ch, &msg);                  // ch <- "Hello from goroutine!"
}

int main(void)
{
    gh_chan_t *ch = gh_chan_new(sizeof(const char *), 0); // make(chan string)
    gh_go(send_data, ch);      // Send data from a goroutine
    const char *msg;
    gh_chan_recv(ch, &msg);    // Receive data from the channel
    printf("%s\n", msg);
    gh_chan_free(ch);          // (Go's garbage collector does this)
    return 0;
}
