/*
 * status.h - the pieces of the status handler plugin (handlers/status*.c)
 * shared between its files.  Nothing here is exported from the module:
 * it is built with -fvisibility=hidden and only gh_handler_entry carries
 * GH_API.
 *
 *   status.c             the plugin: settings, access control, which view
 *                        a request asks for, the response headers
 *   status_render.c      the views as text: the JSON statistics, the
 *                        Prometheus exposition, the goroutine lists
 *   status_dashboard.c   generated at build time from
 *                        status_dashboard.html by status_embed.sh: the
 *                        dashboard page as one C string
 */
#ifndef GH_HANDLER_STATUS_H
#define GH_HANDLER_STATUS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <gohttpd.h>

#include "hbuf.h"

/* ---- status_dashboard.c (generated) ---------------------------------- */

extern const char gh__status_dashboard[];     /* the HTML page, NUL-ended */
extern const size_t gh__status_dashboard_len; /* strlen of it */

/* ---- status_render.c ------------------------------------------------- */

/* The output buffer (hbuf.h). */
typedef gh__hbuf_t gh__status_buf_t;

/* s as a JSON string, quotes included; invalid UTF-8 becomes U+FFFD. */
static inline void gh__status_json_str(gh__status_buf_t *b, const char *s)
{
    gh__hbuf_json(b, s, strlen(s));
}

/* Everything the statistics views show, taken at one moment. */
typedef struct gh__status_snap {
    gh_server_stats_t srv;
    gh_rt_stats_t rt;
    int64_t stalls;                /* gh_rt_stalls() */
    gh_rt_worker_stats_t *workers; /* nworkers of them; caller's memory */
    int nworkers;
    int64_t uptime; /* ns since the server was created */
    int64_t wall;   /* CLOCK_REALTIME, ns */
} gh__status_snap_t;

/*
 * The latency below which a fraction q (0 < q <= 1) of the responses
 * counted in n[GH_LATENCY_BUCKETS] fell, in microseconds, interpolated
 * linearly inside its bucket (as Prometheus' histogram_quantile does); the
 * last finite bound when it lies beyond it; -1 when n is all zero.
 */
double gh__status_quantile(const uint64_t *n, double q);

/* The statistics as a JSON object.  goroutines: whether the goroutine
 * list may be asked for (the dashboard shows it then). */
void gh__status_json(gh__status_buf_t *b, const gh__status_snap_t *s,
                     bool goroutines);

/* The statistics in the Prometheus text exposition format 0.0.4. */
void gh__status_prometheus(gh__status_buf_t *b, const gh__status_snap_t *s);

/*
 * The live goroutines, at most max of them: as gh_dump() prints them
 * (json false) or as a JSON object {"total":N, "listed":M,
 * "goroutines":[{"id", "name", "state", "wait", "wait_ms", "fn"}, ...]}.
 * Returns 0 or GH_ENOMEM.
 */
int gh__status_goroutines(gh__status_buf_t *b, bool json, int max);

#endif /* GH_HANDLER_STATUS_H */
