/*
 * gohttpd/net.h - goroutine-aware I/O.
 *
 * Each call first tries the non-blocking system call.  If the descriptor is
 * not ready (EAGAIN), the calling goroutine parks: the worker it runs on
 * watches the descriptor in its libev loop and resumes the goroutine when it
 * is ready, meanwhile running other goroutines.  Every call takes an
 * absolute deadline (gh_now() based; GH_FOREVER for none) and returns
 * GH_ETIMEDOUT once it passes.  Called from a thread that is not a worker,
 * the same calls wait in poll(2) instead.
 *
 * Descriptors must be in non-blocking mode: gh_socket() and gh_accept()
 * create them so, gh_set_nonblock() converts others.  At most one goroutine
 * may wait to read and one to write on a descriptor at a time (a second
 * gets GH_EBUSY).  gh_close() wakes the goroutines parked on a descriptor
 * with GH_ECLOSED before it closes it; a plain close(2) on a descriptor that
 * someone is waiting on is a bug.
 *
 * Results follow STYLE: counts are ssize_t (>= 0), errors negative GH_E*
 * codes (never errno).  A read of 0 bytes means end of file.
 */
#ifndef GOHTTPD_NET_H
#define GOHTTPD_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "gohttpd/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What gh_wait_fd() waits for; may be or-ed. */
enum gh_io_event {
    GH_IO_READ = 1,  /**< readable, or end of file / error pending */
    GH_IO_WRITE = 2  /**< writable */
};

/**
 * gh_wait_fd - park until fd is ready for events (GH_IO_READ and/or
 * GH_IO_WRITE) or the deadline passes.  Returns the ready events (> 0),
 * GH_ETIMEDOUT, GH_ECLOSED (gh_close() ran), or GH_EBUSY (another goroutine
 * already waits for the same event on fd).  Parks; any thread.
 */
GH_API int gh_wait_fd(int fd, int events, int64_t deadline);

/** gh_read - read(2) that parks.  Returns bytes read (0 = EOF) or GH_E*. */
GH_API ssize_t gh_read(int fd, void *buf, size_t len, int64_t deadline);

/**
 * gh_write - write(2) that parks until at least one byte is written; may
 * write less than len (as write(2)).  Returns bytes written or GH_E*.
 */
GH_API ssize_t gh_write(int fd, const void *buf, size_t len, int64_t deadline);

/**
 * gh_write_all - write all len bytes, parking as needed.  Returns len, or a
 * GH_E* code (bytes already written are lost to the caller; the stream is
 * then in an unknown state and should be closed).
 */
GH_API ssize_t gh_write_all(int fd, const void *buf, size_t len,
                            int64_t deadline);

/** gh_readv - readv(2) that parks.  Returns bytes read or GH_E*. */
GH_API ssize_t gh_readv(int fd, const struct iovec *iov, int iovcnt,
                        int64_t deadline);

/** gh_writev - writev(2) that parks; may be partial.  Bytes or GH_E*. */
GH_API ssize_t gh_writev(int fd, const struct iovec *iov, int iovcnt,
                         int64_t deadline);

/** gh_recv - recv(2) that parks.  Returns bytes received or GH_E*. */
GH_API ssize_t gh_recv(int fd, void *buf, size_t len, int flags,
                       int64_t deadline);

/** gh_send - send(2) that parks (MSG_NOSIGNAL is added).  Bytes or GH_E*. */
GH_API ssize_t gh_send(int fd, const void *buf, size_t len, int flags,
                       int64_t deadline);

/** gh_recvfrom - recvfrom(2) that parks, for datagram sockets. */
GH_API ssize_t gh_recvfrom(int fd, void *buf, size_t len, int flags,
                           struct sockaddr *addr, socklen_t *addrlen,
                           int64_t deadline);

/** gh_sendto - sendto(2) that parks (MSG_NOSIGNAL is added). */
GH_API ssize_t gh_sendto(int fd, const void *buf, size_t len, int flags,
                         const struct sockaddr *addr, socklen_t addrlen,
                         int64_t deadline);

/**
 * gh_sendfile - sendfile(2) from in_fd (a regular file) at *offset to the
 * socket out_fd, parking while out_fd is full; may be partial.  Advances
 * *offset.  Returns bytes sent or GH_E*.
 */
GH_API ssize_t gh_sendfile(int out_fd, int in_fd, off_t *offset, size_t count,
                           int64_t deadline);

/**
 * gh_socket - socket(2), created non-blocking and close-on-exec.  Returns
 * the descriptor or GH_E*.  Never parks.
 */
GH_API int gh_socket(int domain, int type, int protocol);

/**
 * gh_accept - accept4(2) that parks until a connection arrives.  The new
 * descriptor is non-blocking and close-on-exec.  addr/addrlen may be NULL.
 * Returns the descriptor or GH_E* (GH_EMFILE / GH_ENFILE at the descriptor
 * limit: back off before trying again).
 */
GH_API int gh_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
                     int64_t deadline);

/**
 * gh_connect - connect(2) on a non-blocking socket, parking until the
 * connection is established or fails.  Returns 0 or GH_E* (for example
 * GH_ECONNREFUSED, GH_ETIMEDOUT).
 */
GH_API int gh_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
                      int64_t deadline);

/**
 * gh_close - wake every goroutine parked on fd with GH_ECLOSED, wait until
 * the workers have let go of it, then close(2) it.  Returns 0 or GH_E*.
 * May park briefly; any thread.
 */
GH_API int gh_close(int fd);

/** gh_set_nonblock - put fd in non-blocking mode.  Returns 0 or GH_E*. */
GH_API int gh_set_nonblock(int fd);

/* ---- network lists ----------------------------------------------------
 *
 * A list of networks in CIDR notation, for "which peers may do this"
 * settings: the PROXY protocol's senders, trusted proxies.
 */

typedef struct gh_netlist gh_netlist_t; /**< a parsed list; opaque */

/**
 * gh_netlist_new - parse text, networks separated by white space or
 * commas: "10.0.0.0/8 192.168.1.7 2001:db8::/32 ::1 unix".  An address
 * without a prefix is one host (/32, /128); host bits past the prefix are
 * ignored; "unix" stands for every Unix-domain peer.  At most 4096
 * entries.  Returns 0 and the list in *out (free it with
 * gh_netlist_free()), GH_EINVAL with a message in err (naming the entry
 * at fault; truncated to errlen, which may be 0) or GH_ENOMEM.  An empty
 * text gives an empty list, which matches nothing.
 */
GH_API int gh_netlist_new(gh_netlist_t **out, const char *text, char *err,
                          size_t errlen);

/**
 * gh_netlist_match - whether the peer sa (len bytes) is in list: an IPv4
 * or IPv6 address inside one of its networks (an IPv4-mapped IPv6 address,
 * ::ffff:a.b.c.d, counts as the IPv4 one), or a Unix-domain peer when the
 * list holds "unix".  A NULL list matches nothing.  Any thread; the list
 * is read-only.
 */
GH_API bool gh_netlist_match(const gh_netlist_t *list,
                             const struct sockaddr *sa, socklen_t len);

/** gh_netlist_free - free a list; NULL is ignored. */
GH_API void gh_netlist_free(gh_netlist_t *list);

#ifdef __cplusplus
}
#endif
#endif /* GOHTTPD_NET_H */
