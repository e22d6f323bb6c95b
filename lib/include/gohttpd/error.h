/*
 * gohttpd/error.h - error codes shared by every gohttpd call.
 *
 * A fallible call returns an int (or ssize_t for counts): 0 or a
 * non-negative count on success, a negative GH_E* code on failure.  System
 * errors keep their errno value, negated (GH_EAGAIN == -EAGAIN on Linux),
 * so a caller can compare with either spelling; gohttpd's own conditions
 * (a closed channel or descriptor, ...) use values outside errno's range.
 * errno itself is never the error channel: a goroutine can resume on
 * another OS thread after it parks, so errno read after a park may belong to
 * someone else.  gh_strerror() turns any code into a fixed message.
 */
#ifndef GOHTTPD_ERROR_H
#define GOHTTPD_ERROR_H

#include <errno.h>

#include "gohttpd/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The one table of error codes: X(NAME, value, message).  System codes are
 * negated errno values; the rest live at -4000 and below.
 */
#define GH_ERRNO_MAP(X)                                                    \
    X(EPERM, -EPERM, "operation not permitted")                            \
    X(ENOENT, -ENOENT, "no such file or directory")                        \
    X(EINTR, -EINTR, "interrupted system call")                            \
    X(EIO, -EIO, "i/o error")                                              \
    X(EBADF, -EBADF, "bad file descriptor")                                \
    X(EAGAIN, -EAGAIN, "resource temporarily unavailable")                 \
    X(ENOMEM, -ENOMEM, "not enough memory")                                \
    X(EACCES, -EACCES, "permission denied")                                \
    X(EFAULT, -EFAULT, "bad address in system call argument")              \
    X(EBUSY, -EBUSY, "resource busy or locked")                            \
    X(EEXIST, -EEXIST, "file already exists")                              \
    X(ENOTDIR, -ENOTDIR, "not a directory")                                \
    X(EISDIR, -EISDIR, "illegal operation on a directory")                 \
    X(EINVAL, -EINVAL, "invalid argument")                                 \
    X(ENFILE, -ENFILE, "file table overflow")                              \
    X(EMFILE, -EMFILE, "too many open files")                              \
    X(ENOSPC, -ENOSPC, "no space left on device")                          \
    X(EFBIG, -EFBIG, "file too large")                                     \
    X(EPIPE, -EPIPE, "broken pipe")                                        \
    X(ERANGE, -ERANGE, "result too large")                                 \
    X(ENAMETOOLONG, -ENAMETOOLONG, "name too long")                        \
    X(ENOSYS, -ENOSYS, "function not implemented")                         \
    X(ENOTSOCK, -ENOTSOCK, "socket operation on non-socket")               \
    X(EMSGSIZE, -EMSGSIZE, "message too long")                             \
    X(EPROTONOSUPPORT, -EPROTONOSUPPORT, "protocol not supported")         \
    X(ENOTSUP, -ENOTSUP, "operation not supported")                        \
    X(EAFNOSUPPORT, -EAFNOSUPPORT, "address family not supported")         \
    X(EADDRINUSE, -EADDRINUSE, "address already in use")                   \
    X(EADDRNOTAVAIL, -EADDRNOTAVAIL, "address not available")              \
    X(ENETDOWN, -ENETDOWN, "network is down")                              \
    X(ENETUNREACH, -ENETUNREACH, "network is unreachable")                 \
    X(ECONNABORTED, -ECONNABORTED, "software caused connection abort")     \
    X(ECONNRESET, -ECONNRESET, "connection reset by peer")                 \
    X(ENOBUFS, -ENOBUFS, "no buffer space available")                      \
    X(EISCONN, -EISCONN, "socket is already connected")                    \
    X(ENOTCONN, -ENOTCONN, "socket is not connected")                      \
    X(ETIMEDOUT, -ETIMEDOUT, "timed out")                                  \
    X(ECONNREFUSED, -ECONNREFUSED, "connection refused")                   \
    X(EHOSTUNREACH, -EHOSTUNREACH, "host is unreachable")                  \
    X(EALREADY, -EALREADY, "operation already in progress")                \
    X(EINPROGRESS, -EINPROGRESS, "operation in progress")                  \
    X(ECANCELED, -ECANCELED, "operation canceled")                         \
    X(ECLOSED, -4000, "use of closed channel or descriptor")               \
    X(EDEADLINE, -4001, "deadline exceeded")                               \
    X(EPANIC, -4002, "goroutine panicked")                                 \
    X(ESENT, -4003, "response already sent")

/** The error codes, as an enum: GH_EAGAIN, GH_ETIMEDOUT, GH_ECLOSED, ... */
enum gh_errno {
#define GH__ERR_ENUM(name, value, msg) GH_##name = (value),
    GH_ERRNO_MAP(GH__ERR_ENUM)
#undef GH__ERR_ENUM
};

/**
 * gh_strerror - a fixed, human-readable message for an error code.
 * Accepts any GH_E* code (or a negated errno value that is not in the
 * table: the C library's message is used then).  Never returns NULL; the
 * string is static and must not be freed.  Thread-safe; never blocks.
 */
GH_API const char *gh_strerror(int err);

/**
 * gh_err_name - the code's symbolic name without the GH_ prefix ("EAGAIN"),
 * or "UNKNOWN".  Static string; thread-safe.
 */
GH_API const char *gh_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif /* GOHTTPD_ERROR_H */
