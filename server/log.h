/*
 * log.h - the daemon's log files: an asynchronous writer, the error-log
 * sink and the access-log formats.
 *
 * A log file (gd_logfile_t) is a path opened for appending, or the
 * process's stderr or stdout.  Writing a line never blocks the caller on
 * the disk: gd_logfile_write() copies it into the file's in-memory queue
 * under a short mutex and wakes one plain pthread, the writer, which
 * writes each file's queue out in one write(2) per batch.  Lines are
 * appended and written whole, by one thread, so they never interleave or
 * tear.  The queues of all files together hold at most the bytes given to
 * gd_logs_init() (plus the one batch being written); a line that does not
 * fit is dropped, counted, and the writer says so in the error log once
 * it has room.
 *
 * Before gd_logs_init() and after gd_logs_shutdown() there is no writer:
 * writes go straight to the descriptor, synchronously, so messages at
 * start-up and exit are neither queued nor lost.
 *
 * Times are UTC in both logs (no time-zone lock or file per line, and
 * logs from several hosts compare directly), as the library's own stderr
 * sink writes them: the error log's
 * "2026-11-29T10:00:00Z [warn] message" and the access log's
 * "[29/Nov/2026:10:00:00 +0000]".
 *
 * Every function here may be called from any thread or goroutine unless
 * it says otherwise; none parks a goroutine except the ones that say they
 * wait (gd_logs_flush(), gd_logs_shutdown()).
 */
#ifndef GD_LOG_H
#define GD_LOG_H

#include <stddef.h>
#include <stdint.h>

#include <gohttpd.h>

/** A log file, shared by everyone who opened the same path. */
typedef struct gd_logfile gd_logfile_t;

/** The queue bound when gd_logs_init() is given 0. */
#define GD_LOGS_QUEUE_DEFAULT ((size_t)1 << 20)

/** The longest access-log line; longer fields are cut and end in "...". */
#define GD_ACCESS_LINE_MAX 8192

/* ---- the writer ---- */

/**
 * gd_logs_init - start the writer thread with room for queue_bytes of
 * queued lines (0: GD_LOGS_QUEUE_DEFAULT).  Call it once the process has
 * forked for the last time (threads do not survive fork) and with the
 * signal mask the writer should inherit.  0, or GH_EBUSY when a writer is
 * already running, or GH_ENOMEM / a negated errno from pthread_create.
 * It may be called again after gd_logs_shutdown().
 */
int gd_logs_init(size_t queue_bytes);

/**
 * gd_logs_flush - wait until everything queued so far is written, and a
 * pending reopen done, or 2 s passed.  0, or GH_ETIMEDOUT.  Blocks the
 * calling thread (a goroutine's worker too): for the signal loop and
 * tests, not for request paths.
 */
int gd_logs_flush(void);

/**
 * gd_logs_shutdown - flush, stop the writer and join it (waiting at most
 * a few seconds for a writer stuck on a full pipe, which is then left
 * behind).  Writes after it are synchronous.  Idempotent.
 */
void gd_logs_shutdown(void);

/**
 * gd_logs_reopen - ask the writer to reopen every file-backed log by its
 * path (after logrotate renamed it: SIGUSR1).  Lines queued before the
 * call go to the old file, later ones to the new; the old descriptor is
 * closed once its lines are out.  A file that cannot be reopened keeps
 * its old descriptor, and the error goes to the error log.  Returns at
 * once; without a writer the reopen is done in the caller.
 */
void gd_logs_reopen(void);

/** gd_logs_dropped - lines dropped because the queue was full, ever. */
uint64_t gd_logs_dropped(void);

/* ---- log files ---- */

/**
 * gd_logfile_open - the log file at path ("stderr" and "stdout" name the
 * process's own), opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, mode 0644.
 * Opening a path that is already open (the same string, or the same file
 * by device and inode) returns the same object with one more reference,
 * so a reload that keeps its paths keeps its descriptors.  Returns NULL
 * with "cannot open log file PATH: REASON" in err when it cannot.
 */
gd_logfile_t *gd_logfile_open(const char *path, char *err, size_t errlen);

/**
 * gd_logfile_release - drop a reference; the last one closes the file
 * once its queued lines are written.  NULL is ignored.
 */
void gd_logfile_release(gd_logfile_t *f);

/**
 * gd_logfile_write - append one line (len bytes; a '\n' is added if it
 * does not end in one).  Never blocks on I/O while the writer runs: the
 * line is queued, or dropped and counted when the queue is full.
 */
void gd_logfile_write(gd_logfile_t *f, const char *line, size_t len);

/**
 * gd_logfile_fd - the descriptor lines go to now, for writing around the
 * queue (a goroutine dump after gd_logs_flush()).  It changes at a
 * reopen, so do not keep it.
 */
int gd_logfile_fd(gd_logfile_t *f);

/** gd_logfile_path - the path it was opened with. */
const char *gd_logfile_path(const gd_logfile_t *f);

/* ---- the error log ---- */

/**
 * gd_errlog_use - send gh_log() messages to f from now on, as
 * "2026-11-29T10:00:00Z [level] message" lines (control bytes in the
 * message other than tab become \xHH, so one message is one line).  Takes
 * its own reference to f: the caller may release its one.  NULL restores
 * the library's stderr sink.  The level stays gh_log_set_level()'s.
 */
void gd_errlog_use(gd_logfile_t *f);

/**
 * gd_errlog_format - the error-log line for one message at wall-clock
 * time wall_ns (ns since the epoch) into buf, with its '\n', cut to fit.
 * Returns its length.  For tests and for the sink.
 */
size_t gd_errlog_format(char *buf, size_t cap, int64_t wall_ns, int level,
                        const char *msg, size_t len);

/* ---- access logs ---- */

/** Access-log formats. */
enum gd_access_format {
    GD_ACCESS_COMMON = 0, /**< Apache/NCSA common */
    GD_ACCESS_COMBINED,   /**< common + "referer" "user-agent" */
    GD_ACCESS_JSON,       /**< one JSON object per line */
    GD_ACCESS_COMBINED_ID /**< combined + "request-id" */
};

/**
 * An access log: what gd_access_log_cb() needs as its udata.  The daemon
 * owns it and keeps it alive while any server options point at it.
 */
typedef struct gd_access_log {
    gd_logfile_t *f; /**< where lines go (a reference the owner holds) */
    int format;      /**< enum gd_access_format */
} gd_access_log_t;

/** gd_access_format_parse - "common", "combined", "json"; else -1. */
int gd_access_format_parse(const char *name);

/**
 * gd_access_log_cb - a gh_access_fn: format a as udata's format and queue
 * the line on its file.  Never parks; any thread or goroutine.
 */
void gd_access_log_cb(void *udata, const gh_access_t *a);

/**
 * gd_access_format - the line for a in format fmt into buf (cap bytes,
 * at most GD_ACCESS_LINE_MAX used), ending in '\n'; referer and ua are
 * the header values (NULL: absent).  Returns its length.  Escaping, so a
 * client cannot forge lines: in common and combined, '"', '\\', control
 * bytes and bytes >= 0x7f in the request line, referer and user agent are
 * written \xHH (as nginx does).  In JSON, strings use \" \\ \n \r \t and
 * \u00XX for other control bytes and DEL; valid UTF-8 is kept as it is,
 * and each byte of invalid UTF-8 is written \u00XX too (so the line is
 * always valid JSON, and \u0080-\u00ff always means a raw byte).  The
 * target is cut at 4096 bytes of output, referer and user agent at 1024,
 * the method at 64, each ending in "..." when cut.  Give it
 * GD_ACCESS_LINE_MAX bytes: a smaller buffer cuts the line where it is
 * full (and a cut JSON line is not JSON).
 */
size_t gd_access_format(char *buf, size_t cap, int fmt, const gh_access_t *a,
                        const char *referer, const char *ua);

#endif /* GD_LOG_H */
