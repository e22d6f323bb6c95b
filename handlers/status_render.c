/*
 * status_render.c - the status plugin's views as text: the statistics as
 * JSON and in the Prometheus text exposition format (version 0.0.4), and
 * the goroutine list as text or JSON.
 *
 * Every view is built in a gh__status_buf_t and sent whole, with a
 * Content-Length: a scraper gets all of a snapshot or nothing.  The
 * buffer remembers running out of memory instead of failing each call,
 * so a renderer is a straight list of prints checked once at the end.
 *
 * The Prometheus names follow its conventions: a "gohttpd_" prefix, base
 * units (seconds, bytes), "_total" on counters, and the latency histogram
 * as a real histogram: cumulative "_bucket" series with an "le" label
 * ending in "+Inf", then "_sum" and "_count".
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

static const uint32_t bounds_us[GH_LATENCY_BUCKETS - 1] = GH_LATENCY_BOUNDS_US;

/* ---- the statistics ---------------------------------------------------- */

double gh__status_quantile(const uint64_t *n, double q)
{
    uint64_t total = 0, below = 0;
    double rank;

    for (int i = 0; i < GH_LATENCY_BUCKETS; i++)
        total += n[i];
    if (total == 0)
        return -1;
    rank = q * (double)total;
    for (int i = 0; i < GH_LATENCY_BUCKETS - 1; i++) {
        double lo = i ? bounds_us[i - 1] : 0;
        if (n[i] && (double)(below + n[i]) >= rank)
            return lo +
                   (bounds_us[i] - lo) * (rank - (double)below) / (double)n[i];
        below += n[i];
    }
    /* In the open last bucket: its lower bound is all that is known. */
    return bounds_us[GH_LATENCY_BUCKETS - 2];
}

/* A quantile in milliseconds, or null. */
static void json_quantile(gh__status_buf_t *b, const char *key,
                          const uint64_t *n, double q)
{
    double us = gh__status_quantile(n, q);

    if (us < 0)
        gh__hbuf_printf(b, "\"%s\":null", key);
    else
        gh__hbuf_printf(b, "\"%s\":%.3f", key, us / 1e3);
}

static void json_latency(gh__status_buf_t *b, const gh_server_stats_t *st)
{
    uint64_t count = 0;

    gh__hbuf_puts(b, "\"latency\":{\"bounds_us\":[");
    for (int i = 0; i < GH_LATENCY_BUCKETS - 1; i++)
        gh__hbuf_printf(b, "%s%" PRIu32, i ? "," : "", bounds_us[i]);
    gh__hbuf_puts(b, "],\"counts\":[");
    for (int i = 0; i < GH_LATENCY_BUCKETS; i++) {
        gh__hbuf_printf(b, "%s%" PRIu64, i ? "," : "", st->latency[i]);
        count += st->latency[i];
    }
    gh__hbuf_printf(b, "],\"count\":%" PRIu64 ",\"sum_seconds\":%.6f,", count,
                      (double)st->latency_sum_ns / 1e9);
    json_quantile(b, "p50_ms", st->latency, 0.50);
    gh__hbuf_puts(b, ",");
    json_quantile(b, "p90_ms", st->latency, 0.90);
    gh__hbuf_puts(b, ",");
    json_quantile(b, "p99_ms", st->latency, 0.99);
    gh__hbuf_puts(b, "}");
}

static void json_workers(gh__status_buf_t *b, const gh__status_snap_t *s)
{
    gh__hbuf_puts(b, "\"workers\":[");
    for (int i = 0; i < s->nworkers; i++) {
        const gh_rt_worker_stats_t *w = &s->workers[i];
        gh__hbuf_printf(b,
                          "%s{\"id\":%d,\"idle\":%s,\"runq\":%" PRIu32
                          ",\"spawned\":%" PRId64 ",\"switches\":%" PRIu64 "}",
                          i ? "," : "", w->id, w->idle ? "true" : "false",
                          w->runq, w->spawned, w->switches);
    }
    gh__hbuf_puts(b, "]");
}

/* Goroutines by state: "running" is what is neither queued nor parked. */
static int64_t running(const gh_rt_stats_t *rt)
{
    int64_t n = rt->goroutines - rt->runnable - rt->waiting;

    return n < 0 ? 0 : n; /* the three are read at slightly different times */
}

void gh__status_json(gh__status_buf_t *b, const gh__status_snap_t *s,
                     bool goroutines)
{
    const gh_server_stats_t *st = &s->srv;
    const gh_rt_stats_t *rt = &s->rt;

    gh__hbuf_puts(b, "{\"version\":");
    gh__status_json_str(b, gh_version());
    gh__hbuf_printf(b, ",\"time\":%.3f,\"uptime\":%.3f,",
                      (double)s->wall / 1e9, (double)s->uptime / 1e9);
    gh__hbuf_printf(b,
                      "\"connections\":{\"open\":%" PRIu64 ",\"idle\":%" PRIu64
                      ",\"total\":%" PRIu64 "},",
                      st->conns_open, st->conns_idle, st->conns_total);
    gh__hbuf_printf(b, "\"requests\":{\"total\":%" PRIu64, st->requests);
    for (int c = 1; c <= 5; c++)
        gh__hbuf_printf(b, ",\"%dxx\":%" PRIu64, c, st->status[c]);
    gh__hbuf_printf(b,
                      "},\"bytes\":{\"in\":%" PRIu64 ",\"out\":%" PRIu64 "},"
                      "\"timeouts\":%" PRIu64 ",\"accept_pauses\":%" PRIu64 ",",
                      st->bytes_in, st->bytes_out, st->timeouts,
                      st->accept_pauses);
    json_latency(b, st);
    gh__hbuf_printf(b,
                      ",\"goroutines\":{\"total\":%" PRId64
                      ",\"running\":%" PRId64 ",\"runnable\":%" PRId64
                      ",\"waiting\":%" PRId64 ",\"started\":%" PRId64 "},",
                      rt->goroutines, running(rt), rt->runnable, rt->waiting,
                      rt->spawned);
    json_workers(b, s);
    gh__hbuf_printf(b,
                    ",\"stacks\":{\"mapped\":%" PRId64 ",\"guarded\":%" PRId64
                    ",\"bytes\":%" PRId64 "},\"blocking_threads\":%" PRId64
                    ",\"stalls\":%" PRId64 ",\"goroutine_list\":%s}\n",
                    rt->stacks_mapped, rt->stacks_guarded, rt->stack_bytes,
                    rt->blocking_threads, s->stalls,
                    goroutines ? "true" : "false");
}

/* ---- Prometheus -------------------------------------------------------- */

/* The # HELP and # TYPE lines of a metric family. */
static void family(gh__status_buf_t *b, const char *name, const char *type,
                   const char *help)
{
    gh__hbuf_printf(b, "# HELP gohttpd_%s %s\n# TYPE gohttpd_%s %s\n", name,
                      help, name, type);
}

/* A family of one unlabelled sample. */
static void metric(gh__status_buf_t *b, const char *name, const char *type,
                   const char *help, uint64_t v)
{
    family(b, name, type, help);
    gh__hbuf_printf(b, "gohttpd_%s %" PRIu64 "\n", name, v);
}

static void prom_histogram(gh__status_buf_t *b, const gh_server_stats_t *st)
{
    static const char name[] = "gohttpd_request_duration_seconds";
    uint64_t cum = 0;

    family(b, "request_duration_seconds", "histogram",
           "Time from a request's first byte to the end of its response.");
    for (int i = 0; i < GH_LATENCY_BUCKETS; i++) {
        cum += st->latency[i];
        if (i < GH_LATENCY_BUCKETS - 1)
            gh__hbuf_printf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
                              bounds_us[i] / 1e6, cum);
        else
            gh__hbuf_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name,
                              cum);
    }
    gh__hbuf_printf(b, "%s_sum %.9f\n%s_count %" PRIu64 "\n", name,
                      (double)st->latency_sum_ns / 1e9, name, cum);
}

static void prom_server(gh__status_buf_t *b, const gh__status_snap_t *s)
{
    const gh_server_stats_t *st = &s->srv;

    family(b, "uptime_seconds", "gauge", "Seconds since the server started.");
    gh__hbuf_printf(b, "gohttpd_uptime_seconds %.3f\n",
                      (double)s->uptime / 1e9);
    metric(b, "connections_open", "gauge", "Open client connections.",
           (uint64_t)st->conns_open);
    metric(b, "connections_idle", "gauge",
           "Open connections idle between requests.", (uint64_t)st->conns_idle);
    metric(b, "connections_accepted_total", "counter", "Connections accepted.",
           (uint64_t)st->conns_total);
    metric(b, "requests_total", "counter", "Requests answered.",
           (uint64_t)st->requests);
    family(b, "responses_total", "counter", "Responses by status class.");
    for (int c = 1; c <= 5; c++)
        gh__hbuf_printf(
            b, "gohttpd_responses_total{code=\"%dxx\"} %" PRIu64 "\n", c,
            st->status[c]);
    metric(b, "received_bytes_total", "counter", "Bytes read from clients.",
           (uint64_t)st->bytes_in);
    metric(b, "sent_bytes_total", "counter", "Bytes written to clients.",
           (uint64_t)st->bytes_out);
    metric(b, "timeouts_total", "counter", "Connections cut by a timeout.",
           (uint64_t)st->timeouts);
    metric(b, "accept_pauses_total", "counter",
           "Times accepting paused (descriptor or connection limit).",
           (uint64_t)st->accept_pauses);
    prom_histogram(b, st);
}

static void prom_runtime(gh__status_buf_t *b, const gh__status_snap_t *s)
{
    const gh_rt_stats_t *rt = &s->rt;

    family(b, "goroutines", "gauge", "Live goroutines by state.");
    gh__hbuf_printf(b,
                      "gohttpd_goroutines{state=\"running\"} %" PRId64 "\n"
                      "gohttpd_goroutines{state=\"runnable\"} %" PRId64 "\n"
                      "gohttpd_goroutines{state=\"waiting\"} %" PRId64 "\n",
                      running(rt), rt->runnable, rt->waiting);
    metric(b, "goroutines_started_total", "counter", "Goroutines started.",
           (uint64_t)rt->spawned);
    metric(b, "workers", "gauge", "Scheduler worker threads.",
           (uint64_t)s->nworkers);
    family(b, "worker_run_queue", "gauge",
           "Goroutines queued on a worker, waiting to run.");
    for (int i = 0; i < s->nworkers; i++)
        gh__hbuf_printf(
            b, "gohttpd_worker_run_queue{worker=\"%d\"} %" PRIu32 "\n",
            s->workers[i].id, s->workers[i].runq);
    family(b, "worker_switches_total", "counter",
           "Goroutines a worker started or resumed.");
    for (int i = 0; i < s->nworkers; i++)
        gh__hbuf_printf(
            b, "gohttpd_worker_switches_total{worker=\"%d\"} %" PRIu64 "\n",
            s->workers[i].id, s->workers[i].switches);
    metric(b, "stacks_mapped", "gauge",
           "Goroutine stacks mapped (live and cached).",
           (uint64_t)rt->stacks_mapped);
    metric(b, "stack_reserved_bytes", "gauge",
           "Virtual memory reserved for goroutine stacks.",
           (uint64_t)rt->stack_bytes);
    metric(b, "blocking_threads", "gauge",
           "Threads in the pool for blocking calls.",
           (uint64_t)rt->blocking_threads);
    metric(b, "stalls_total", "counter",
           "Times a goroutine kept its worker past stall_limit.",
           (uint64_t)s->stalls);
}

void gh__status_prometheus(gh__status_buf_t *b, const gh__status_snap_t *s)
{
    const char *v = gh_version();

    /* The version is digits and dots: no label escaping is needed, but a
     * stray quote or backslash must not break the exposition. */
    family(b, "build_info", "gauge", "Always 1; the version as a label.");
    gh__hbuf_puts(b, "gohttpd_build_info{version=\"");
    for (; *v; v++)
        if (*v != '"' && *v != '\\' && *v != '\n')
            gh__hbuf_put(b, v, 1);
    gh__hbuf_puts(b, "\"} 1\n");
    prom_server(b, s);
    prom_runtime(b, s);
}

/* ---- goroutines -------------------------------------------------------- */

typedef struct g_list {
    gh__status_buf_t *b;
    bool json;
    int max, listed, total;
} g_list_t;

static const char *state_name(int state)
{
    return state == GH_G_RUNNING    ? "running"
           : state == GH_G_RUNNABLE ? "runnable"
                                    : "waiting";
}

static void g_text(gh__status_buf_t *b, const gh_rt_g_info_t *g)
{
    gh__hbuf_printf(b, "goroutine %" PRId64 " [", g->id);
    if (g->state == GH_G_WAITING && g->wait_ns < GH_SECOND)
        gh__hbuf_printf(b, "%s, %" PRId64 "ms", g->wait,
                          g->wait_ns / GH_MILLISECOND);
    else if (g->state == GH_G_WAITING)
        gh__hbuf_printf(b, "%s, %.1fs", g->wait, (double)g->wait_ns / 1e9);
    else
        gh__hbuf_puts(b, state_name(g->state));
    gh__hbuf_printf(b, "]: \"%s\" started at %s\n", g->name, g->fn_name);
}

static void g_json(gh__status_buf_t *b, const gh_rt_g_info_t *g, bool first)
{
    gh__hbuf_printf(
        b, "%s{\"id\":%" PRId64 ",\"name\":", first ? "\n" : ",\n", g->id);
    gh__status_json_str(b, g->name);
    gh__hbuf_printf(b, ",\"state\":\"%s\",\"wait\":", state_name(g->state));
    if (g->wait)
        gh__status_json_str(b, g->wait);
    else
        gh__hbuf_puts(b, "null");
    gh__hbuf_printf(b, ",\"wait_ms\":%.1f,\"fn\":", (double)g->wait_ns / 1e6);
    gh__status_json_str(b, g->fn_name);
    gh__hbuf_puts(b, "}");
}

static int g_one(void *udata, const gh_rt_g_info_t *g)
{
    g_list_t *l = udata;

    l->total++;
    if (l->listed >= l->max)
        return 0; /* counted, not listed */
    if (l->json)
        g_json(l->b, g, l->listed == 0);
    else
        g_text(l->b, g);
    l->listed++;
    return 0;
}

int gh__status_goroutines(gh__status_buf_t *b, bool json, int max)
{
    g_list_t l = {.b = b, .json = json, .max = max};
    int rc;

    if (json)
        gh__hbuf_puts(b, "{\"goroutines\":[");
    if ((rc = gh_rt_goroutines(g_one, &l)) < 0)
        return rc;
    if (json)
        gh__hbuf_printf(b, "\n],\"listed\":%d,\"total\":%d}\n", l.listed,
                          l.total);
    else if (l.listed < l.total)
        gh__hbuf_printf(b, "... %d more not listed\n%d goroutines\n",
                          l.total - l.listed, l.total);
    else
        gh__hbuf_printf(b, "%d goroutines\n", l.total);
    return b->oom ? GH_ENOMEM : 0;
}
