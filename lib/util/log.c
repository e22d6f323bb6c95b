/*
 * log.c - the shared error log: a level filter, the message formatting and
 * a replaceable sink (the default one writes lines to stderr).
 *
 * gh_log() may run on any thread or goroutine at once, so nothing here
 * takes a lock or allocates.  The level is an atomic int.  The sink is a
 * pair (fn, udata) that must be read as a pair: it is published under a
 * sequence counter (a seqlock).  A writer makes the counter odd, stores the
 * two words and makes it even again; a reader retries when the counter was
 * odd or changed while it read.  Without fences (ThreadSanitizer does not
 * model them): the words are stored with release and loaded with acquire,
 * so a reader that sees either new word also sees the odd counter on its
 * second look, and that look cannot move before the word loads.  Every
 * access is atomic, so a reader never races with a writer in the C11
 * sense, and on x86 all of it compiles to plain moves.  What the
 * seqlock cannot do is keep the old sink alive for a reader that already
 * called it: callers set the sink before the goroutines that log start (or
 * keep the old one usable afterwards), as log.h says.
 *
 * The stderr sink builds the whole line on the stack, control characters
 * escaped as \xNN so that one message is always one line, and hands it to
 * a single write(2): lines from different threads never interleave.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define PREFIX_MAX 40 /* "2026-11-29T10:00:00Z [notice] " and spare */

static const char *const level_names[] = {"error", "warn", "notice", "info",
                                          "debug"};

static _Atomic int log_level = GH_LOG_INFO;

static struct {
    _Atomic unsigned seq;     /* odd while a writer stores the pair */
    _Atomic(gh_log_fn) fn;    /* NULL: the stderr sink */
    _Atomic(void *) udata;
} sink;

/* ---- levels ---- */

static int clamp_level(int level)
{
    return level < GH_LOG_ERROR ? GH_LOG_ERROR
           : level > GH_LOG_DEBUG ? GH_LOG_DEBUG
                                  : level;
}

void gh_log_set_level(int level)
{
    atomic_store_explicit(&log_level, clamp_level(level),
                          memory_order_relaxed);
}

int gh_log_level(void)
{
    return atomic_load_explicit(&log_level, memory_order_relaxed);
}

const char *gh_log_level_name(int level)
{
    if (level < GH_LOG_ERROR || level > GH_LOG_DEBUG)
        return "unknown";
    return level_names[level];
}

int gh_log_level_parse(const char *name)
{
    if (!name)
        return GH_EINVAL;
    for (int i = GH_LOG_ERROR; i <= GH_LOG_DEBUG; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    if (strcasecmp(name, "warning") == 0)
        return GH_LOG_WARN;
    return GH_EINVAL;
}

/* ---- the sink ---- */

void gh_log_set_sink(gh_log_fn fn, void *udata)
{
    unsigned s = atomic_load_explicit(&sink.seq, memory_order_relaxed);

    /* Writers are rare; one that finds another mid-store waits for it. */
    while ((s & 1) || !atomic_compare_exchange_weak_explicit(
                          &sink.seq, &s, s + 1, memory_order_acquire,
                          memory_order_relaxed))
        s = atomic_load_explicit(&sink.seq, memory_order_relaxed);
    atomic_store_explicit(&sink.fn, fn, memory_order_release);
    atomic_store_explicit(&sink.udata, udata, memory_order_release);
    atomic_store_explicit(&sink.seq, s + 2, memory_order_release);
}

/* The current (fn, udata), read consistently. */
static gh_log_fn sink_load(void **udata)
{
    unsigned s1, s2;
    gh_log_fn fn;

    do {
        s1 = atomic_load_explicit(&sink.seq, memory_order_acquire);
        fn = atomic_load_explicit(&sink.fn, memory_order_acquire);
        *udata = atomic_load_explicit(&sink.udata, memory_order_acquire);
        s2 = atomic_load_explicit(&sink.seq, memory_order_relaxed);
    } while ((s1 & 1) || s1 != s2);
    return fn;
}

/* ---- the stderr sink ---- */

/* UTC "YYYY-MM-DDTHH:MM:SSZ" (civil.c: no time zone lock). */
static size_t fmt_utc(char *out, size_t cap, time_t t)
{
    gh__civil_t c;

    gh__utc_civil(t, &c);
    return (size_t)snprintf(out, cap, "%04lld-%02d-%02dT%02d:%02d:%02dZ",
                            (long long)c.year, c.mon, c.mday, c.hour, c.min,
                            c.sec);
}

static void stderr_sink(int level, const char *msg, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char line[PREFIX_MAX + GH_LOG_MAX + 8];
    struct timespec ts;
    size_t n, i;
    ssize_t w;

    clock_gettime(CLOCK_REALTIME, &ts);
    n = fmt_utc(line, PREFIX_MAX, ts.tv_sec);
    n += (size_t)snprintf(line + n, PREFIX_MAX - n, " [%s] ",
                          gh_log_level_name(level));
    /* Escapes can make the line longer than the message: cut it so that
     * "...\n" still fits. */
    for (i = 0; i < len && n + 4 + 4 < sizeof(line); i++) {
        unsigned char c = (unsigned char)msg[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            memcpy(line + n, "\\x", 2);
            line[n + 2] = hex[c >> 4];
            line[n + 3] = hex[c & 15];
            n += 4;
        } else {
            line[n++] = (char)c;
        }
    }
    if (i < len) {
        memcpy(line + n, "...", 3);
        n += 3;
    }
    line[n++] = '\n';
    do
        w = write(STDERR_FILENO, line, n);
    while (w < 0 && errno == EINTR);
}

/* ---- logging ---- */

void gh_logv(int level, const char *fmt, va_list ap)
{
    char msg[GH_LOG_MAX];
    int saved = errno;
    void *udata;
    gh_log_fn fn;
    int n;
    size_t len;

    level = clamp_level(level);
    if (level > atomic_load_explicit(&log_level, memory_order_relaxed))
        return;
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        n = snprintf(msg, sizeof(msg), "(bad log format \"%s\")", fmt);
    len = (size_t)n;
    if (len >= sizeof(msg)) { /* cut: say so */
        len = sizeof(msg) - 1;
        memcpy(msg + len - 3, "...", 3);
    }
    if ((fn = sink_load(&udata)) != NULL)
        fn(udata, level, msg, len);
    else
        stderr_sink(level, msg, len);
    errno = saved;
}

void gh_log(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    gh_logv(level, fmt, ap);
    va_end(ap);
}

void gh__log_gate_init(gh__log_gate_t *g, int64_t every)
{
    atomic_init(&g->said, -every); /* gh_now() starts at or above 0 */
    atomic_init(&g->quiet, 0);
}

bool gh__log_gate_pass(gh__log_gate_t *g, int64_t every, uint64_t *quiet)
{
    int64_t now = gh_now(), said = atomic_load(&g->said);
    uint64_t n;

    if (now - said < every ||
        !atomic_compare_exchange_strong(&g->said, &said, now)) {
        atomic_fetch_add(&g->quiet, 1);
        return false;
    }
    n = atomic_exchange(&g->quiet, 0);
    if (quiet)
        *quiet = n;
    return true;
}
