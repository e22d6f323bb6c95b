/*
 * sd.c - the service manager's protocols, by hand (see sd.h).
 *
 * Passed sockets: the manager (or the gohttpd handing over, upgrade.c)
 * leaves LISTEN_FDS sockets open at descriptors 3, 4, ... and sets
 * LISTEN_PID to the pid they are meant for, so that a child that merely
 * inherits the environment does not take them; LISTEN_FDNAMES names them,
 * colon-separated.  The variables are removed once read.
 *
 * Notifications: one datagram per message on the AF_UNIX socket named by
 * NOTIFY_SOCKET (a path, or an abstract name written with a leading '@').
 * The variable stays set, so that a new copy started by an upgrade can
 * notify too.  Nothing here is fatal: the manager not listening only
 * costs a log line, once.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <gohttpd.h>

#include "server/sd.h"

/* A whole decimal number within [min, max], or -1. */
static long env_number(const char *s, long min, long max)
{
    char *end;
    long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    return *end || errno || v < min || v > max ? -1 : v;
}

/* True when fd is a listening stream socket. */
static bool listening_stream(int fd)
{
    int type = 0, acc = 0;
    socklen_t tl = sizeof(type), al = sizeof(acc);

    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
           getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) == 0 &&
           type == SOCK_STREAM && acc;
}

/* The i-th colon-separated name of names into buf ("" if none). */
static void nth_name(const char *names, int i, char *buf, size_t len)
{
    const char *p = names, *end;
    size_t n;

    buf[0] = '\0';
    for (; p && i > 0; i--)
        p = (p = strchr(p, ':')) ? p + 1 : NULL;
    if (!p)
        return;
    end = strchr(p, ':');
    n = end ? (size_t)(end - p) : strlen(p);
    if (n >= len)
        n = len - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
}

/* Record descriptor fd as out's next socket, or close it if unfit. */
static void take_fd(gd_sd_fds_t *out, int fd, const char *names, int i)
{
    gd_sd_fd_t *f = &out->fds[out->n];
    char what[300];

    *f = (gd_sd_fd_t){.fd = fd, .len = sizeof(f->ss)};
    nth_name(names, i, f->name, sizeof(f->name));
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || !listening_stream(fd) ||
        getsockname(fd, (struct sockaddr *)&f->ss, &f->len) < 0) {
        gh_log(GH_LOG_WARN, "LISTEN_FDS: %s is not a listening stream "
               "socket: closed", gd_sd_describe(f, what, sizeof(what)));
        close(fd);
        return;
    }
    out->n++;
}

int gd_sd_listen_fds(gd_sd_fds_t *out, char *err, size_t errlen)
{
    long pid = env_number(getenv("LISTEN_PID"), 1, LONG_MAX);
    long n = env_number(getenv("LISTEN_FDS"), 0, INT_MAX);
    char *names = getenv("LISTEN_FDNAMES");
    int rc = 0;

    *out = (gd_sd_fds_t){NULL, 0};
    names = names ? strdup(names) : NULL;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (pid != (long)getpid() || n <= 0)
        goto out; /* not for us, or nothing */
    if (n > GD_SD_MAX_FDS) {
        snprintf(err, errlen, "LISTEN_FDS=%ld: more than %d sockets", n,
                 GD_SD_MAX_FDS);
        rc = GH_EINVAL;
        goto out;
    }
    if (!(out->fds = calloc((size_t)n, sizeof(*out->fds)))) {
        snprintf(err, errlen, "out of memory");
        rc = GH_ENOMEM;
        goto out;
    }
    for (int i = 0; i < n; i++)
        take_fd(out, GD_SD_LISTEN_FDS_START + i, names, i);
out:
    free(names);
    return rc;
}

void gd_sd_fds_free(gd_sd_fds_t *f)
{
    for (int i = 0; i < f->n; i++)
        if (!f->fds[i].used)
            close(f->fds[i].fd);
    free(f->fds);
    *f = (gd_sd_fds_t){NULL, 0};
}

const char *gd_sd_describe(const gd_sd_fd_t *f, char *buf, size_t len)
{
    char host[64] = "", port[16] = "";
    const struct sockaddr_un *un = (const struct sockaddr_un *)&f->ss;
    int n = snprintf(buf, len, "fd %d", f->fd);

    if (f->ss.ss_family == AF_UNIX && n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " (unix:%s)",
                      un->sun_path[0] ? un->sun_path : "@abstract");
    else if (f->ss.ss_family != AF_UNSPEC && n >= 0 && (size_t)n < len &&
             getnameinfo((const struct sockaddr *)&f->ss, f->len, host,
                         sizeof(host), port, sizeof(port),
                         NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        n += snprintf(buf + n, len - (size_t)n,
                      f->ss.ss_family == AF_INET6 ? " ([%s]:%s)" : " (%s:%s)",
                      host, port);
    if (f->name[0] && n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " named %s", f->name);
    return buf;
}

/* ---- notifications ---- */

/* NOTIFY_SOCKET as an address; its length, or 0 when unset or unusable. */
static socklen_t notify_addr(struct sockaddr_un *un)
{
    const char *p = getenv("NOTIFY_SOCKET");
    size_t n = p ? strlen(p) : 0;

    *un = (struct sockaddr_un){.sun_family = AF_UNIX};
    if (n < 2 || n >= sizeof(un->sun_path) || (p[0] != '/' && p[0] != '@'))
        return 0;
    memcpy(un->sun_path, p, n);
    if (p[0] == '@')
        un->sun_path[0] = '\0'; /* abstract: no terminating NUL counted */
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
                       (p[0] == '/'));
}

void gd_sd_notify(const char *fmt, ...)
{
    static bool complained;
    struct sockaddr_un un;
    socklen_t alen = notify_addr(&un);
    char msg[1024];
    va_list ap;
    int fd, n;

    if (!alen)
        return;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(msg))
        n = (int)strlen(msg); /* cut: the lines before still hold */
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && sendto(fd, msg, (size_t)n, MSG_NOSIGNAL,
                          (struct sockaddr *)&un, alen) == n) {
        close(fd);
        return;
    }
    if (!complained)
        gh_log(GH_LOG_WARN, "NOTIFY_SOCKET %s: %s", getenv("NOTIFY_SOCKET"),
               strerror(errno));
    complained = true;
    if (fd >= 0)
        close(fd);
}

unsigned long long gd_sd_monotonic_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ull +
           (unsigned long long)ts.tv_nsec / 1000ull;
}
