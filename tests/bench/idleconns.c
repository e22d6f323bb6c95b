/*
 * idleconns - hold many idle keep-alive HTTP connections open, for
 * measuring what an idle connection costs a server (tests/bench/http.sh).
 *
 *     idleconns [-n CONNS] [-u PATH] [-t SECONDS] HOST PORT
 *
 * Opens CONNS (default 10000) TCP connections to HOST:PORT, one after
 * another, and on each sends one "GET PATH HTTP/1.1" (default /plaintext)
 * and reads its whole response (Content-Length bodies only), so that every
 * connection has served a request and sits idle in keep-alive.  Then it
 * prints "ready N" and holds them until its standard input reaches end of
 * file or it gets SIGTERM, SIGINT or SIGHUP.  Before exiting it prints
 * "alive M": how many connections the server had not closed meanwhile.
 * Each connect and each response must finish within SECONDS (default 10).
 *
 * Exits 0, or 1 (with a message on stderr) when a connection or a request
 * fails; 2 for a usage error.  The soft RLIMIT_NOFILE is raised to the hard
 * limit when CONNS needs more descriptors.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: idleconns [-n conns] [-u path] [-t seconds]"
                    " host port\n");
    return 2;
}

/* Enough descriptors for n connections and a few more. */
static int raise_nofile(long n)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)n + 16) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            return -1;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)n + 16) {
        fprintf(stderr,
                "idleconns: %ld connections need more descriptors"
                " than the hard limit %llu (ulimit -Hn)\n",
                n, (unsigned long long)rl.rlim_max);
        return -1;
    }
    return 0;
}

static int dial(const struct addrinfo *ai, int secs)
{
    struct timeval tv = {.tv_sec = secs};
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);

    if (fd < 0)
        return -1;
    /* Bounds connect(2) too, on Linux, as well as every read and write. */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* The Content-Length of the head in buf (NUL-terminated), 0 if none. */
static long content_length(const char *buf)
{
    const char *p = buf;

    while ((p = strstr(p, "\r\n"))) {
        p += 2;
        if (strncasecmp(p, "Content-Length:", 15) == 0)
            return strtol(p + 15, NULL, 10);
    }
    return 0;
}

/* Send one GET on fd and read the whole response.  0, or -1 with a reason
 * in *why (and errno, or 0). */
static int request(int fd, const char *req, const char **why)
{
    char buf[8192];
    size_t len = strlen(req), have = 0, total = 0;
    long need = -1;
    ssize_t n;

    errno = 0;
    if (write(fd, req, len) != (ssize_t)len) {
        *why = "write";
        return -1;
    }
    while (need < 0 || (long)total < need) {
        /* Past the head only the byte count matters: reuse the buffer. */
        if (need >= 0 || have == sizeof(buf) - 1)
            have = 0;
        n = read(fd, buf + have, sizeof(buf) - 1 - have);
        if (n <= 0) {
            *why = n == 0 ? "closed by the server" : "read";
            return -1;
        }
        have += (size_t)n;
        total += (size_t)n;
        buf[have] = '\0';
        if (need < 0) {
            char *end = strstr(buf, "\r\n\r\n");
            if (end)
                need = (long)(total - have) + (end + 4 - buf) +
                       content_length(buf);
        }
    }
    return 0;
}

/* How many of fds[0..n-1] the server has not closed (nothing to read). */
static long count_alive(const int *fds, long n)
{
    struct pollfd p;
    long alive = 0;

    for (long i = 0; i < n; i++) {
        p.fd = fds[i];
        p.events = POLLIN | POLLRDHUP;
        if (poll(&p, 1, 0) == 0)
            alive++;
    }
    return alive;
}

static void wait_for_end(void)
{
    struct sigaction sa;
    char c[256];

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: read(2) returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    while (!stop) {
        ssize_t n = read(0, c, sizeof(c));
        if (n == 0 || (n < 0 && errno != EINTR))
            break;
    }
}

int main(int argc, char **argv)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    const char *path = "/plaintext", *why = NULL;
    long n = 10000;
    int c, secs = 10, rc;
    char req[1024];
    int *fds;

    while ((c = getopt(argc, argv, "n:u:t:")) != -1) {
        switch (c) {
        case 'n':
            n = strtol(optarg, NULL, 10);
            break;
        case 'u':
            path = optarg;
            break;
        case 't':
            secs = atoi(optarg);
            break;
        default:
            return usage();
        }
    }
    if (argc - optind != 2 || n < 1 || secs < 1)
        return usage();
    if ((rc = getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai))) {
        fprintf(stderr, "idleconns: %s: %s\n", argv[optind], gai_strerror(rc));
        return 1;
    }
    if (raise_nofile(n) < 0 || !(fds = calloc((size_t)n, sizeof(int)))) {
        perror("idleconns");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%s\r\n\r\n", path,
             argv[optind], argv[optind + 1]);
    for (long i = 0; i < n; i++) {
        if ((fds[i] = dial(ai, secs)) < 0) {
            fprintf(stderr, "idleconns: connection %ld: connect: %s\n", i,
                    strerror(errno));
            return 1;
        }
        if (request(fds[i], req, &why) < 0) {
            fprintf(stderr, "idleconns: connection %ld: %s: %s\n", i, why,
                    errno ? strerror(errno) : "");
            return 1;
        }
    }
    printf("ready %ld\n", n);
    fflush(stdout);
    wait_for_end();
    printf("alive %ld\n", count_alive(fds, n));
    return 0;
}
