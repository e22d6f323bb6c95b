/*
 * gohttpd/log.h - the error log that the library, the daemon and handler
 * plugins share.
 *
 * gh_log() formats one message and hands it to the sink.  The default sink
 * writes "2026-11-29T10:00:00Z [warn] message" lines to stderr; the gohttpd
 * daemon installs one that queues the line for its log-writer thread, so a
 * slow disk never stalls a worker.  Messages above the level set with
 * gh_log_set_level() (default GH_LOG_INFO) are dropped before they are
 * formatted.  Every call here is safe from any thread or goroutine and
 * never parks.
 */
#ifndef GOHTTPD_LOG_H
#define GOHTTPD_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "gohttpd/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Severities, most severe first. */
enum gh_log_level {
    GH_LOG_ERROR = 0, /**< something failed */
    GH_LOG_WARN,      /**< something is wrong but handled */
    GH_LOG_NOTICE,    /**< normal but significant (start, reload, stop) */
    GH_LOG_INFO,      /**< informational */
    GH_LOG_DEBUG      /**< for developers */
};

/** The longest message: longer ones are cut (and end in "..."). */
#define GH_LOG_MAX 2048

/**
 * A sink: receives each message that passed the level, without a trailing
 * newline or timestamp (msg is NUL-terminated, len bytes).  Called on the
 * logging thread; it must not park and must not call gh_log().
 */
typedef void (*gh_log_fn)(void *udata, int level, const char *msg,
                          size_t len);

/** gh_log - log a printf-style message at level. */
GH_API void gh_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** gh_logv - gh_log() with a va_list. */
GH_API void gh_logv(int level, const char *fmt, va_list ap);

/**
 * gh_log_set_sink - send messages to fn(udata, ...) from now on; NULL
 * restores the stderr sink.  Set it before starting goroutines that log.
 */
GH_API void gh_log_set_sink(gh_log_fn fn, void *udata);

/** gh_log_set_level - drop messages less severe than level. */
GH_API void gh_log_set_level(int level);

/** gh_log_level - the current level. */
GH_API int gh_log_level(void);

/** gh_log_level_name - "error", "warn", "notice", "info", "debug". */
GH_API const char *gh_log_level_name(int level);

/** gh_log_level_parse - the level called name, or GH_EINVAL. */
GH_API int gh_log_level_parse(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* GOHTTPD_LOG_H */
