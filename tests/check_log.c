/*
 * check_log.c - the shared error log (gohttpd/log.h): the level filter,
 * what a sink receives, the cut of long messages, the level names, the
 * stderr sink's line format, and logging from many goroutines and threads
 * at once (no line lost or torn, a consistent sink while it is replaced).
 *
 * Every test starts from the defaults (level info, the stderr sink): the
 * fixture restores them, which matters under CK_FORK=no.  Tests of the
 * stderr sink point descriptor 2 at a temporary file and read it back.
 */
#include "check_gh.h"

#include <ctype.h>
#include <pthread.h>

#include "internal.h" /* gh__utc_civil */

/* ------------------------------------------------------------------ */
/* A recording sink                                                    */
/* ------------------------------------------------------------------ */

typedef struct rec {
    int calls;
    int level;
    size_t len;
    char msg[GH_LOG_MAX + 16];
    bool nul_terminated;
} rec_t;

static void rec_sink(void *udata, int level, const char *msg, size_t len)
{
    rec_t *r = udata;

    r->calls++;
    r->level = level;
    r->len = len;
    r->nul_terminated = msg[len] == '\0';
    memcpy(r->msg, msg, len < sizeof(r->msg) ? len + 1 : sizeof(r->msg));
}

static atomic_long got_a, got_b, bad, finished; /* the concurrency tests */

static void log_defaults(void)
{
    gh_test_rt_start();
    gh_log_set_sink(NULL, NULL);
    gh_log_set_level(GH_LOG_INFO);
    atomic_store(&got_a, 0);
    atomic_store(&got_b, 0);
    atomic_store(&bad, 0);
    atomic_store(&finished, 0);
}

static void log_reset(void)
{
    gh_log_set_sink(NULL, NULL);
    gh_log_set_level(GH_LOG_INFO);
    gh_test_rt_stop();
}

/* ------------------------------------------------------------------ */
/* stderr into a file                                                  */
/* ------------------------------------------------------------------ */

static int stderr_to_file(char *path)
{
    int fd, saved;

    strcpy(path, "/tmp/gh-log-XXXXXX");
    ck_assert_int_ge(fd = mkstemp(path), 0);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
    return saved;
}

/* Restore stderr; the file's contents (malloc'd, NUL-terminated). */
static char *stderr_back(int saved, const char *path, size_t *len)
{
    FILE *f;
    char *buf;
    long n;

    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ck_assert_ptr_nonnull(f = fopen(path, "r"));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    ck_assert_ptr_nonnull(buf = malloc((size_t)n + 1));
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    if (len)
        *len = (size_t)n;
    return buf;
}

/* The time at the start of a stderr line, "YYYY-MM-DDTHH:MM:SSZ ", as
 * seconds since the epoch; -1 if it is not one. */
static time_t line_time(const char *line)
{
    struct tm tm = {0};
    const char *end = strptime(line, "%Y-%m-%dT%H:%M:%SZ ", &tm);

    return end == line + 21 ? timegm(&tm) : -1;
}

/* ------------------------------------------------------------------ */
/* Levels                                                              */
/* ------------------------------------------------------------------ */

START_TEST(level_defaults_to_info_and_filters_less_severe)
{
    rec_t r = {0};

    ck_assert_int_eq(gh_log_level(), GH_LOG_INFO);
    gh_log_set_sink(rec_sink, &r);
    gh_log(GH_LOG_DEBUG, "dropped");
    ck_assert_int_eq(r.calls, 0);
    gh_log(GH_LOG_INFO, "kept %d", 1);
    ck_assert_int_eq(r.calls, 1);

    gh_log_set_level(GH_LOG_WARN);
    ck_assert_int_eq(gh_log_level(), GH_LOG_WARN);
    gh_log(GH_LOG_NOTICE, "dropped");
    gh_log(GH_LOG_INFO, "dropped");
    ck_assert_int_eq(r.calls, 1);
    gh_log(GH_LOG_WARN, "warn");
    gh_log(GH_LOG_ERROR, "error");
    ck_assert_int_eq(r.calls, 3);
    ck_assert_int_eq(r.level, GH_LOG_ERROR);

    gh_log_set_level(GH_LOG_DEBUG);
    gh_log(GH_LOG_DEBUG, "debug");
    ck_assert_int_eq(r.calls, 4);
    ck_assert_str_eq(r.msg, "debug");
}
END_TEST

START_TEST(level_out_of_range_is_clamped)
{
    rec_t r = {0};

    gh_log_set_level(99);
    ck_assert_int_eq(gh_log_level(), GH_LOG_DEBUG);
    gh_log_set_level(-5);
    ck_assert_int_eq(gh_log_level(), GH_LOG_ERROR);
    /* A message with an unknown level counts as its nearest neighbour. */
    gh_log_set_sink(rec_sink, &r);
    gh_log(42, "too verbose");
    ck_assert_int_eq(r.calls, 0);
    gh_log(-1, "very bad");
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.level, GH_LOG_ERROR);
}
END_TEST

START_TEST(level_names_print_and_parse)
{
    static const char *const names[] = {"error", "warn", "notice", "info",
                                        "debug"};

    for (int i = GH_LOG_ERROR; i <= GH_LOG_DEBUG; i++) {
        ck_assert_str_eq(gh_log_level_name(i), names[i]);
        ck_assert_int_eq(gh_log_level_parse(names[i]), i);
    }
    ck_assert_int_eq(gh_log_level_parse("WARN"), GH_LOG_WARN);
    ck_assert_int_eq(gh_log_level_parse("Debug"), GH_LOG_DEBUG);
    ck_assert_int_eq(gh_log_level_parse("warning"), GH_LOG_WARN);
    ck_assert_int_eq(gh_log_level_parse("verbose"), GH_EINVAL);
    ck_assert_int_eq(gh_log_level_parse(""), GH_EINVAL);
    ck_assert_int_eq(gh_log_level_parse("info "), GH_EINVAL);
    ck_assert_int_eq(gh_log_level_parse(NULL), GH_EINVAL);
    ck_assert_str_eq(gh_log_level_name(-1), "unknown");
    ck_assert_str_eq(gh_log_level_name(5), "unknown");
}
END_TEST

/* ------------------------------------------------------------------ */
/* What a sink gets                                                    */
/* ------------------------------------------------------------------ */

static void logv_wrapper(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    gh_logv(level, fmt, ap);
    va_end(ap);
}

START_TEST(sink_receives_exact_message_level_and_udata)
{
    rec_t r = {0};

    gh_log_set_sink(rec_sink, &r);
    gh_log(GH_LOG_WARN, "listen %s: %s (%d)", "127.0.0.1:80", "in use", 98);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.level, GH_LOG_WARN);
    ck_assert_str_eq(r.msg, "listen 127.0.0.1:80: in use (98)");
    ck_assert_uint_eq(r.len, strlen("listen 127.0.0.1:80: in use (98)"));
    ck_assert(r.nul_terminated);

    /* No timestamp, no level, no newline added; bytes kept as they are. */
    gh_log(GH_LOG_NOTICE, "two\nlines\t%s", "x");
    ck_assert_str_eq(r.msg, "two\nlines\tx");
    ck_assert_int_eq(r.level, GH_LOG_NOTICE);

    logv_wrapper(GH_LOG_ERROR, "via %s", "gh_logv");
    ck_assert_int_eq(r.calls, 3);
    ck_assert_str_eq(r.msg, "via gh_logv");

    gh_log(GH_LOG_INFO, "%s", "");
    ck_assert_int_eq(r.len, 0);
    ck_assert_str_eq(r.msg, "");
}
END_TEST

START_TEST(log_keeps_errno)
{
    rec_t r = {0};

    gh_log_set_sink(rec_sink, &r);
    errno = EADDRINUSE;
    gh_log(GH_LOG_ERROR, "%s", "x");
    ck_assert_int_eq(errno, EADDRINUSE);
    gh_log_set_sink(NULL, NULL);
    errno = ENOENT;
    gh_log(GH_LOG_DEBUG, "filtered"); /* dropped: still no change */
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(long_message_is_cut_and_ends_in_dots)
{
    size_t n = GH_LOG_MAX * 3;
    char *big = malloc(n + 1);
    rec_t r = {0};

    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = '\0';
    gh_log_set_sink(rec_sink, &r);
    gh_log(GH_LOG_ERROR, "start:%s", big);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_uint_eq(r.len, GH_LOG_MAX - 1);
    ck_assert(r.nul_terminated);
    ck_assert_int_eq(strncmp(r.msg, "start:abc", 9), 0);
    ck_assert_str_eq(r.msg + r.len - 3, "...");
    /* Everything before the dots is the message's own beginning. */
    ck_assert_int_eq(memcmp(r.msg + 6, big, r.len - 3 - 6), 0);

    /* Exactly the longest message that fits: not cut. */
    big[GH_LOG_MAX - 1] = '\0';
    gh_log(GH_LOG_ERROR, "%s", big);
    ck_assert_uint_eq(r.len, GH_LOG_MAX - 1);
    ck_assert_str_eq(r.msg, big);
    free(big);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The stderr sink                                                     */
/* ------------------------------------------------------------------ */

START_TEST(stderr_sink_writes_timestamped_lines)
{
    char path[64], *out, *nl;
    time_t t0 = time(NULL), t;
    int saved = stderr_to_file(path);

    gh_log(GH_LOG_WARN, "accept paused: %s", "EMFILE");
    gh_log(GH_LOG_ERROR, "bad\r\nline");
    gh_log(GH_LOG_DEBUG, "dropped");
    out = stderr_back(saved, path, NULL);
    /* 2026-11-29T10:00:00Z [warn] accept paused: EMFILE */
    t = line_time(out);
    ck_assert_msg(t >= t0 - 1 && t <= time(NULL) + 1, "time in: %s", out);
    ck_assert_ptr_nonnull(nl = strchr(out, '\n'));
    *nl = '\0';
    ck_assert_str_eq(out + 21, "[warn] accept paused: EMFILE");
    /* Control characters are escaped: one message, one line. */
    ck_assert_int_ge(line_time(nl + 1), t0 - 1);
    ck_assert_str_eq(nl + 1 + 21, "[error] bad\\x0D\\x0Aline\n");
    free(out);
}
END_TEST

START_TEST(stderr_sink_is_restored_after_a_custom_one)
{
    char path[64], *out;
    rec_t r = {0};
    int saved = stderr_to_file(path);

    gh_log_set_sink(rec_sink, &r);
    gh_log(GH_LOG_NOTICE, "to the sink");
    gh_log_set_sink(NULL, NULL);
    gh_log(GH_LOG_NOTICE, "to stderr");
    out = stderr_back(saved, path, NULL);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_str_eq(r.msg, "to the sink");
    ck_assert_msg(strstr(out, "[notice] to stderr\n") && !strstr(out, "sink"),
                  "stderr got: '%s'", out);
    free(out);
}
END_TEST

START_TEST(stderr_sink_cuts_long_lines)
{
    char path[64], *out, *big = malloc(GH_LOG_MAX * 2);
    size_t len;
    int saved;

    ck_assert_ptr_nonnull(big);
    memset(big, 'x', GH_LOG_MAX * 2 - 1);
    big[GH_LOG_MAX * 2 - 1] = '\0';
    saved = stderr_to_file(path);
    gh_log(GH_LOG_INFO, "%s", big);
    out = stderr_back(saved, path, &len);
    ck_assert_msg(len > GH_LOG_MAX - 8 && len < GH_LOG_MAX + 64,
                  "line of %zu bytes", len);
    ck_assert_ptr_eq(strchr(out, '\n'), out + len - 1);
    ck_assert_int_eq(strncmp(out + len - 4, "...\n", 4), 0);
    free(out);
    free(big);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Many loggers at once                                                */
/* ------------------------------------------------------------------ */

#define LOGGERS 32
#define LINES 300

static int udata_a, udata_b;

/* Each message is "g<i> n<j> <checksum>": a torn or mixed message, or a
 * sink called with the other sink's udata, counts as bad. */
static void check_msg(const char *msg, size_t len)
{
    int g, n, sum;

    if (sscanf(msg, "g%d n%d %d", &g, &n, &sum) != 3 || sum != g * 1000 + n ||
        strlen(msg) != len)
        atomic_fetch_add(&bad, 1);
}

static void sink_a(void *udata, int level, const char *msg, size_t len)
{
    if (udata != &udata_a || level != GH_LOG_INFO)
        atomic_fetch_add(&bad, 1);
    check_msg(msg, len);
    atomic_fetch_add(&got_a, 1);
}

static void sink_b(void *udata, int level, const char *msg, size_t len)
{
    if (udata != &udata_b || level != GH_LOG_INFO)
        atomic_fetch_add(&bad, 1);
    check_msg(msg, len);
    atomic_fetch_add(&got_b, 1);
}

static void logger(void *arg)
{
    int g = (int)(intptr_t)arg;

    for (int n = 0; n < LINES; n++) {
        gh_log(GH_LOG_INFO, "g%d n%d %d", g, n, g * 1000 + n);
        if (n % 50 == 0)
            gh_yield();
    }
    atomic_fetch_add(&finished, 1);
}

START_TEST(concurrent_goroutines_lose_no_line_while_the_sink_changes)
{
    long total = (long)LOGGERS * LINES;
    int swaps = 0;

    gh_log_set_sink(sink_a, &udata_a);
    for (int g = 0; g < LOGGERS; g++)
        ck_assert_int_gt(gh_go(logger, (void *)(intptr_t)g), 0);
    /* The pair (fn, udata) is replaced while they log: every call must
     * still see a matching pair. */
    while (atomic_load(&finished) < LOGGERS && swaps < 100000) {
        gh_log_set_sink(swaps % 2 ? sink_a : sink_b,
                        swaps % 2 ? (void *)&udata_a : (void *)&udata_b);
        swaps++;
    }
    GH_TEST_WAIT_COUNT(&finished, LOGGERS, 10 * GH_SECOND);
    ck_assert_int_eq(atomic_load(&bad), 0);
    ck_assert_int_eq(atomic_load(&got_a) + atomic_load(&got_b), total);
}
END_TEST

static void *thread_logger(void *arg)
{
    logger(arg);
    return NULL;
}

START_TEST(concurrent_stderr_lines_never_interleave)
{
    enum { THREADS = 4, GOROUTINES = 8 };
    pthread_t th[THREADS];
    char path[64], *out, *line, *save = NULL;
    long lines = 0;
    int saved = stderr_to_file(path);

    for (int g = 0; g < GOROUTINES; g++)
        ck_assert_int_gt(gh_go(logger, (void *)(intptr_t)g), 0);
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, thread_logger,
                                        (void *)(intptr_t)(100 + t)),
                         0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    GH_TEST_WAIT_COUNT(&finished, GOROUTINES + THREADS, 10 * GH_SECOND);
    out = stderr_back(saved, path, NULL);
    for (line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        ck_assert_msg(line_time(line) > 0 &&
                          strncmp(line + 20, " [info] g", 9) == 0,
                      "torn line: '%s'", line);
        check_msg(line + 28, strlen(line + 28));
        lines++;
    }
    ck_assert_int_eq(atomic_load(&bad), 0);
    ck_assert_int_eq(lines, (long)(GOROUTINES + THREADS) * LINES);
    free(out);
}
END_TEST

/* ------------------------------------------------------------------ */
/* UTC calendar fields (civil.c), against the C library's gmtime_r      */

static void civil_matches_gmtime(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gh__civil_t c;

    ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
    gh__utc_civil(t, &c);
    ck_assert_msg(c.year == tm.tm_year + 1900 && c.mon == tm.tm_mon + 1 &&
                      c.mday == tm.tm_mday && c.hour == tm.tm_hour &&
                      c.min == tm.tm_min && c.sec == tm.tm_sec &&
                      c.wday == tm.tm_wday,
                  "t=%lld: %lld-%02d-%02d %02d:%02d:%02d wday %d, gmtime "
                  "%d-%02d-%02d %02d:%02d:%02d wday %d",
                  (long long)t, (long long)c.year, c.mon, c.mday, c.hour,
                  c.min, c.sec, c.wday, tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_wday);
}

START_TEST(utc_civil_agrees_with_gmtime)
{
    static const int64_t edges[] = {
        0, -1, 86399, 86400, -86400, -86401,
        951782400,   /* 2000-02-29 */
        951868800,   /* 2000-03-01 */
        4107542400,  /* 2100-03-01: no 29 February in 2100 */
        -2208988800, /* 1900-01-01 */
        253402300799 /* 9999-12-31 23:59:59 */
    };
    uint64_t x = 88172645463325252ull;

    for (size_t i = 0; i < sizeof(edges) / sizeof(*edges); i++)
        civil_matches_gmtime(edges[i]);
    /* Every day from 1600 to 2500, at a different second of each. */
    for (int64_t t = -11676096000; t < 16725225600; t += 86400 + 997)
        civil_matches_gmtime(t);
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        civil_matches_gmtime((int64_t)(x % 40000000000ull) - 20000000000);
    }
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc;

    tc = tcase_create("civil");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, utc_civil_agrees_with_gmtime);
    suite_add_tcase(s, tc);

    tc = tcase_create("levels");
    tcase_add_checked_fixture(tc, log_defaults, log_reset);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, level_defaults_to_info_and_filters_less_severe);
    tcase_add_test(tc, level_out_of_range_is_clamped);
    tcase_add_test(tc, level_names_print_and_parse);
    suite_add_tcase(s, tc);

    tc = tcase_create("sink");
    tcase_add_checked_fixture(tc, log_defaults, log_reset);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, sink_receives_exact_message_level_and_udata);
    tcase_add_test(tc, log_keeps_errno);
    tcase_add_test(tc, long_message_is_cut_and_ends_in_dots);
    tcase_add_test(tc, stderr_sink_writes_timestamped_lines);
    tcase_add_test(tc, stderr_sink_is_restored_after_a_custom_one);
    tcase_add_test(tc, stderr_sink_cuts_long_lines);
    suite_add_tcase(s, tc);

    tc = tcase_create("concurrency");
    tcase_add_checked_fixture(tc, log_defaults, log_reset);
    tcase_set_timeout(tc, 20 * (double)gh_test_time_scale());
    tcase_add_test(tc, concurrent_goroutines_lose_no_line_while_the_sink_changes);
    tcase_add_test(tc, concurrent_stderr_lines_never_interleave);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(log_suite)
