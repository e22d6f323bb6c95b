/*
 * conn.c - the plain TCP (and Unix-domain) transport behind the connection
 * vtable.
 *
 * The HTTP code reads, writes and sends files only through c->ops, so a TLS
 * transport (conn_tls.c, later) provides the same five calls over OpenSSL
 * and nothing else changes.  These calls are thin: the goroutine-aware
 * system calls in netpoll.c already park on EAGAIN.
 */
#include "config.h"

#include <sys/socket.h>
#include <unistd.h>

#include "http/http_impl.h"

static ssize_t tcp_read(gh__conn_t *c, void *buf, size_t len,
                        int64_t deadline)
{
    return gh_read(c->fd, buf, len, deadline);
}

static ssize_t tcp_writev(gh__conn_t *c, const struct iovec *iov, int n,
                          int64_t deadline)
{
    return gh_writev(c->fd, iov, n, deadline);
}

static ssize_t tcp_sendfile(gh__conn_t *c, int fd, off_t *off, size_t len,
                            int64_t deadline)
{
    return gh_sendfile(c->fd, fd, off, len, deadline);
}

static bool tcp_pending(gh__conn_t *c)
{
    return false; /* the kernel holds every byte not yet read */
}

static void tcp_close(gh__conn_t *c)
{
    gh_close(c->fd);
    c->fd = -1;
}

const gh__conn_ops_t gh__conn_tcp_ops = {
    .read = tcp_read,
    .writev = tcp_writev,
    .sendfile = tcp_sendfile,
    .pending = tcp_pending,
    .close = tcp_close,
};
