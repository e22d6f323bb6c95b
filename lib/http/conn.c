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

/* recv and send rather than read and writev: on a socket they skip the
 * VFS layer (the file position lock, rw_verify_area, fsnotify), which the
 * profile of a keep-alive request shows at a few percent of its CPU. */
static ssize_t tcp_read(gh__conn_t *c, void *buf, size_t len,
                        int64_t deadline)
{
    return gh_recv(c->fd, buf, len, 0, deadline);
}

/* The usual case, the session's batch alone, is one buffer: send(2). */
static ssize_t tcp_writev(gh__conn_t *c, const struct iovec *iov, int n,
                          int64_t deadline)
{
    if (n == 1)
        return gh_send(c->fd, iov->iov_base, iov->iov_len, 0, deadline);
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
