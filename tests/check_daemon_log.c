/*
 * check_daemon_log.c - the daemon's log files (server/log.c): the exact
 * common, combined and JSON access-log lines for hand-made records (IPv4,
 * IPv6, Unix and unknown peers, a request with no head, hostile bytes,
 * a 100 KB target), JSON that a real parser accepts, the error-log line;
 * and the writer: every line of many threads and goroutines written once
 * and whole, a full queue dropping and counting (the writer blocked on a
 * FIFO nobody reads yet) and saying so in the error log, reopen after a
 * rename (and a failed reopen keeping the old file), open errors naming
 * the path, files shared by path and inode and closed with their last
 * reference, and synchronous writes after shutdown.
 *
 * server/log.c is compiled into this program.  Files go to a fresh
 * directory under $TMPDIR (or /tmp), removed after each test.
 */
#include "check_gh.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"

/* 2026-11-29T10:00:00.123456789Z */
#define T0 (INT64_C(1795946400) * GH_SECOND + 123456789)
#define CLF_T0 "[29/Nov/2026:10:00:00 +0000]"

static char dir[256];
static struct sockaddr_in sin4; /* the records' peer; set up by setup() */

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");

    gh_test_rt_start();
    sin4.sin_family = AF_INET;
    sin4.sin_port = htons(54321);
    inet_pton(AF_INET, "127.0.0.1", &sin4.sin_addr);
    snprintf(dir, sizeof(dir), "%s/check_daemon_log.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
}

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    return remove(p);
}

static void teardown(void)
{
    gd_errlog_use(NULL);
    gd_logs_shutdown();
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    gh_test_rt_stop();
}

/* dir/name, in a static rotation of buffers. */
static const char *tpath(const char *name)
{
    static char bufs[8][512];
    static int i;
    char *b = bufs[i++ % 8];

    snprintf(b, 512, "%s/%s", dir, name);
    return b;
}

/* The whole file, NUL-terminated (malloc'd; "" when it does not exist). */
static char *slurp(const char *path, size_t *lenp)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    do {
        if (cap - len < 4096)
            ck_assert_ptr_nonnull(buf = realloc(buf, cap = cap * 2 + 8192));
        n = fp ? fread(buf + len, 1, cap - len - 1, fp) : 0;
        len += n;
    } while (n > 0);
    if (fp)
        fclose(fp);
    buf[len] = '\0';
    if (lenp)
        *lenp = len;
    return buf;
}

static void assert_file(const char *path, const char *want)
{
    char *got = slurp(path, NULL);

    ck_assert_msg(strcmp(got, want) == 0, "%s:\n got: [%s]\nwant: [%s]",
                  path, got, want);
    free(got);
}

static gd_logfile_t *open_ok(const char *path)
{
    char err[256] = "";
    gd_logfile_t *f = gd_logfile_open(path, err, sizeof(err));

    ck_assert_msg(f != NULL, "open %s: %s", path, err);
    return f;
}

static void write_str(gd_logfile_t *f, const char *s)
{
    gd_logfile_write(f, s, strlen(s));
}

/* A record: 127.0.0.1, GET /index.html HTTP/1.1, 200, 1234 bytes. */

static gh_access_t record(void)
{
    gh_access_t a = {0};

    a.peer = (struct sockaddr *)&sin4;
    a.peer_len = sizeof(sin4);
    a.method = "GET";
    a.target = "/index.html";
    a.version = 11;
    a.status = 200;
    a.body_bytes = 1234;
    a.start_wall = T0;
    a.duration = 123456;
    return a;
}

static char line[2 * GD_ACCESS_LINE_MAX];

static const char *fmt(int format, const gh_access_t *a, const char *ref,
                       const char *ua)
{
    size_t n = gd_access_format(line, sizeof(line), format, a, ref, ua);

    ck_assert_uint_eq(n, strlen(line));
    ck_assert_uint_le(n, GD_ACCESS_LINE_MAX);
    ck_assert_msg(n > 0 && line[n - 1] == '\n' && !memchr(line, '\n', n - 1),
                  "not exactly one line: [%s]", line);
    return line;
}

#define ASSERT_LINE(got, want)                                            \
    ck_assert_msg(strcmp((got), (want)) == 0, "\n got: [%s]\nwant: [%s]", \
                  (got), (want))

/*
 * Have python3 parse every line of path as JSON (strict UTF-8).  1: all
 * parse; 0: one does not; -1: no python3 (the check is skipped).
 */
static int python_json_ok(const char *path)
{
    char cmd[1024];
    int rc;

    snprintf(cmd, sizeof(cmd),
             "python3 -c 'import json,sys\n"
             "for l in open(sys.argv[1], \"rb\"):\n"
             "    o = json.loads(l.decode(\"utf-8\"))\n"
             "    assert isinstance(o, dict) and \"status\" in o, l\n"
             "' '%s' 2>&1", path);
    rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) == 127)
        return -1;
    return WEXITSTATUS(rc) == 0;
}

static void assert_json_lines(const char *path)
{
    int ok = python_json_ok(path);

    if (ok < 0)
        fprintf(stderr, "check_daemon_log: no python3, JSON not parsed\n");
    else
        ck_assert_msg(ok == 1, "python3 rejected the JSON in %s", path);
}

/* ------------------------------------------------------------------ */
/* Access-log formats                                                  */
/* ------------------------------------------------------------------ */

START_TEST(access_common_line_is_exact)
{
    gh_access_t a = record();

    ASSERT_LINE(fmt(GD_ACCESS_COMMON, &a, "x", "y"),
                "127.0.0.1 - - " CLF_T0
                " \"GET /index.html HTTP/1.1\" 200 1234\n");
    a.version = 10;
    a.body_bytes = 0; /* %b: "-" for no body */
    a.status = 304;
    ASSERT_LINE(fmt(GD_ACCESS_COMMON, &a, NULL, NULL),
                "127.0.0.1 - - " CLF_T0
                " \"GET /index.html HTTP/1.0\" 304 -\n");
}
END_TEST

START_TEST(access_peers_ipv6_unix_and_unknown)
{
    gh_access_t a = record();
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    struct sockaddr_un su = {.sun_family = AF_UNIX};

    inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
    a.peer = (struct sockaddr *)&s6;
    a.peer_len = sizeof(s6);
    ASSERT_LINE(fmt(GD_ACCESS_COMMON, &a, NULL, NULL),
                "2001:db8::1 - - " CLF_T0
                " \"GET /index.html HTTP/1.1\" 200 1234\n");
    ck_assert_ptr_nonnull(strstr(fmt(GD_ACCESS_JSON, &a, NULL, NULL),
                                 "\"remote\":\"2001:db8::1\","));
    a.peer = (struct sockaddr *)&su;
    a.peer_len = sizeof(sa_family_t); /* an unnamed client socket */
    ck_assert_int_eq(strncmp(fmt(GD_ACCESS_COMMON, &a, NULL, NULL),
                             "unix - - [", 10), 0);
    ck_assert_ptr_nonnull(strstr(fmt(GD_ACCESS_JSON, &a, NULL, NULL),
                                 "\"remote\":\"unix\","));
    a.peer = NULL;
    a.peer_len = 0;
    ck_assert_int_eq(strncmp(fmt(GD_ACCESS_COMMON, &a, NULL, NULL),
                             "- - - [", 7), 0);
    ck_assert_ptr_nonnull(strstr(fmt(GD_ACCESS_JSON, &a, NULL, NULL),
                                 "\"remote\":null,"));
}
END_TEST

/* A head that never parsed (a 400 for garbage, a 408). */
START_TEST(access_no_request_line_is_a_dash)
{
    gh_access_t a = record();

    a.method = NULL;
    a.target = NULL;
    a.version = 0;
    a.status = 400;
    a.body_bytes = 0;
    ASSERT_LINE(fmt(GD_ACCESS_COMMON, &a, NULL, NULL),
                "127.0.0.1 - - " CLF_T0 " \"-\" 400 -\n");
    ASSERT_LINE(fmt(GD_ACCESS_COMBINED, &a, NULL, NULL),
                "127.0.0.1 - - " CLF_T0 " \"-\" 400 - \"-\" \"-\"\n");
    ASSERT_LINE(fmt(GD_ACCESS_JSON, &a, NULL, NULL),
                "{\"time\":\"2026-11-29T10:00:00.123Z\",\"remote\":"
                "\"127.0.0.1\",\"method\":null,\"target\":null,"
                "\"protocol\":null,\"status\":400,\"bytes\":0,"
                "\"duration_ms\":0.123,\"referer\":null,"
                "\"user_agent\":null}\n");
}
END_TEST

START_TEST(access_combined_adds_referer_and_agent)
{
    gh_access_t a = record();

    ASSERT_LINE(fmt(GD_ACCESS_COMBINED, &a, "http://example.com/",
                    "curl/8.0"),
                "127.0.0.1 - - " CLF_T0
                " \"GET /index.html HTTP/1.1\" 200 1234"
                " \"http://example.com/\" \"curl/8.0\"\n");
    ASSERT_LINE(fmt(GD_ACCESS_COMBINED, &a, NULL, "curl/8.0"),
                "127.0.0.1 - - " CLF_T0
                " \"GET /index.html HTTP/1.1\" 200 1234 \"-\" \"curl/8.0\"\n");
}
END_TEST

START_TEST(access_json_line_is_exact)
{
    gh_access_t a = record();

    a.duration = 2 * GH_SECOND + 345678;
    ASSERT_LINE(fmt(GD_ACCESS_JSON, &a, "http://example.com/", "curl/8.0"),
                "{\"time\":\"2026-11-29T10:00:00.123Z\",\"remote\":"
                "\"127.0.0.1\",\"method\":\"GET\",\"target\":\"/index.html\","
                "\"protocol\":\"HTTP/1.1\",\"status\":200,\"bytes\":1234,"
                "\"duration_ms\":2000.345,\"referer\":"
                "\"http://example.com/\",\"user_agent\":\"curl/8.0\"}\n");
}
END_TEST

/* Quotes, backslashes, newlines, controls, DEL, invalid and valid UTF-8. */
#define HOSTILE_TARGET "/a\"b\\c\nd\x01\x7f\xff \xc3\xa9"
#define HOSTILE_UA "evil\" \n127.0.0.1 - - [fake] \"GET / HTTP/1.1\" 200 1"

START_TEST(access_common_escapes_hostile_bytes)
{
    gh_access_t a = record();

    a.target = HOSTILE_TARGET;
    ASSERT_LINE(fmt(GD_ACCESS_COMBINED, &a, "\x1b[31mred", HOSTILE_UA),
                "127.0.0.1 - - " CLF_T0
                " \"GET /a\\x22b\\x5Cc\\x0Ad\\x01\\x7F\\xFF \\xC3\\xA9"
                " HTTP/1.1\" 200 1234 \"\\x1B[31mred\" \"evil\\x22 \\x0A"
                "127.0.0.1 - - [fake] \\x22GET / HTTP/1.1\\x22 200 1\"\n");
}
END_TEST

START_TEST(access_json_escapes_and_stays_valid)
{
    gh_access_t a = record();
    const char *path = tpath("j.log");
    FILE *fp;

    a.target = HOSTILE_TARGET;
    ck_assert_ptr_nonnull(strstr(
        fmt(GD_ACCESS_JSON, &a, "\t\b\f\r", HOSTILE_UA),
        "\"target\":\"/a\\\"b\\\\c\\nd\\u0001\\u007F\\u00FF \xc3\xa9\","));
    ck_assert_ptr_nonnull(strstr(line, "\"referer\":\"\\t\\b\\f\\r\","));
    ck_assert_ptr_nonnull(strstr(line, "\"user_agent\":\"evil\\\" \\n127"));
    ck_assert_ptr_nonnull(fp = fopen(path, "w"));
    fputs(line, fp);
    /* Truncated, overlong and surrogate UTF-8 are bytes, not text. */
    a.target = "/\xc3 \xe0\x80\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xf0\x9f\x98\x80";
    fputs(fmt(GD_ACCESS_JSON, &a, NULL, NULL), fp);
    ck_assert_ptr_nonnull(strstr(line, "\"/\\u00C3 \\u00E0\\u0080\\u00AF "
                                       "\\u00ED\\u00A0\\u0080 \\u00F4\\u0090"
                                       "\\u0080\\u0080 \xf0\x9f\x98\x80\""));
    fclose(fp);
    assert_json_lines(path);
}
END_TEST

static char *repeat(int c, size_t n)
{
    char *s = malloc(n + 1);

    ck_assert_ptr_nonnull(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

START_TEST(access_long_fields_are_cut_with_dots)
{
    gh_access_t a = record();
    char *big = repeat('a', 100000), *ctl = repeat('\x01', 100000);
    const char *path = tpath("long.log"), *p;
    FILE *fp = fopen(path, "w");

    big[0] = '/';
    a.target = big;
    fmt(GD_ACCESS_COMMON, &a, NULL, NULL);
    p = strstr(line, "\"GET /");
    ck_assert_ptr_nonnull(p);
    /* The target field is 4096 bytes, its last three the dots. */
    ck_assert_int_eq(strspn(p + 6, "a"), 4096 - 4);
    ck_assert_str_eq(p + 5 + 4096 - 3, "... HTTP/1.1\" 200 1234\n");
    fmt(GD_ACCESS_COMBINED, &a, ctl, ctl);
    ck_assert_ptr_nonnull(strstr(line, "\\x01\\x01...\" \"\\x01"));
    ck_assert_ptr_nonnull(strstr(line, "\\x01...\"\n"));
    ck_assert_ptr_nonnull(fp);
    fputs(fmt(GD_ACCESS_JSON, &a, big, big), fp);
    a.target = ctl;
    fputs(fmt(GD_ACCESS_JSON, &a, ctl, ctl), fp);
    ck_assert_ptr_nonnull(strstr(line, "\\u0001...\",\"protocol\""));
    fclose(fp);
    assert_json_lines(path);
    free(big);
    free(ctl);
}
END_TEST

/* Behind a proxy: %h and "remote" are the client, "peer" the proxy. */
START_TEST(access_client_peer_and_request_id)
{
    gh_access_t a = record();
    struct sockaddr_in6 c6 = {.sin6_family = AF_INET6};
    struct sockaddr_in same;

    inet_pton(AF_INET6, "2001:db8::7", &c6.sin6_addr);
    a.client = (struct sockaddr *)&c6;
    a.client_len = sizeof(c6);
    a.request_id = "0123abcd";
    ASSERT_LINE(fmt(GD_ACCESS_COMMON, &a, NULL, NULL),
                "2001:db8::7 - - " CLF_T0
                " \"GET /index.html HTTP/1.1\" 200 1234\n");
    ASSERT_LINE(fmt(GD_ACCESS_COMBINED_ID, &a, NULL, "curl/8.0"),
                "2001:db8::7 - - " CLF_T0
                " \"GET /index.html HTTP/1.1\" 200 1234 \"-\" \"curl/8.0\""
                " \"0123abcd\"\n");
    ASSERT_LINE(fmt(GD_ACCESS_JSON, &a, NULL, NULL),
                "{\"time\":\"2026-11-29T10:00:00.123Z\",\"remote\":"
                "\"2001:db8::7\",\"peer\":\"127.0.0.1\",\"method\":\"GET\","
                "\"target\":\"/index.html\",\"protocol\":\"HTTP/1.1\","
                "\"status\":200,\"bytes\":1234,\"duration_ms\":0.123,"
                "\"referer\":null,\"user_agent\":null,"
                "\"request_id\":\"0123abcd\"}\n");
    /* The same address: no "peer"; no ID: "-" and no field. */
    memcpy(&same, a.peer, sizeof(same));
    a.client = (struct sockaddr *)&same;
    a.client_len = sizeof(same);
    a.request_id = NULL;
    ck_assert_ptr_null(strstr(fmt(GD_ACCESS_JSON, &a, NULL, NULL),
                              "\"peer\""));
    ck_assert_ptr_null(strstr(line, "request_id"));
    ck_assert_ptr_nonnull(strstr(fmt(GD_ACCESS_COMBINED_ID, &a, NULL, NULL),
                                 "\"-\" \"-\" \"-\"\n"));
    /* A hostile ID (a trusted proxy's, but still) stays in its quotes. */
    a.request_id = "a\"b\nc";
    ck_assert_ptr_nonnull(strstr(fmt(GD_ACCESS_COMBINED_ID, &a, NULL, NULL),
                                 "\"a\\x22b\\x0Ac\"\n"));
}
END_TEST

START_TEST(access_format_names_parse)
{
    ck_assert_int_eq(gd_access_format_parse("combined_id"),
                     GD_ACCESS_COMBINED_ID);
    ck_assert_int_eq(gd_access_format_parse("common"), GD_ACCESS_COMMON);
    ck_assert_int_eq(gd_access_format_parse("combined"), GD_ACCESS_COMBINED);
    ck_assert_int_eq(gd_access_format_parse("json"), GD_ACCESS_JSON);
    ck_assert_int_eq(gd_access_format_parse("Common"), -1);
    ck_assert_int_eq(gd_access_format_parse(""), -1);
    ck_assert_int_eq(gd_access_format_parse("jsonl"), -1);
    ck_assert_int_eq(gd_access_format_parse(NULL), -1);
}
END_TEST

START_TEST(access_log_cb_queues_the_line)
{
    gh_access_t a = record();
    gd_access_log_t al = {open_ok(tpath("access.log")), GD_ACCESS_JSON};
    char want[GD_ACCESS_LINE_MAX * 2];

    ck_assert_int_eq(gd_logs_init(0), 0);
    gd_access_log_cb(&al, &a);
    al.format = GD_ACCESS_COMBINED; /* no request: no headers */
    gd_access_log_cb(&al, &a);
    ck_assert_int_eq(gd_logs_flush(), 0);
    gd_access_format(want, sizeof(want), GD_ACCESS_JSON, &a, NULL, NULL);
    gd_access_format(want + strlen(want), sizeof(want) - strlen(want),
                     GD_ACCESS_COMBINED, &a, NULL, NULL);
    assert_file(tpath("access.log"), want);
    gd_logfile_release(al.f);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The error log                                                       */
/* ------------------------------------------------------------------ */

START_TEST(errlog_line_format_is_exact)
{
    char buf[256];
    size_t n = gd_errlog_format(buf, sizeof(buf), T0, GH_LOG_WARN,
                                "disk \"full\"", 11);

    ck_assert_str_eq(buf, "2026-11-29T10:00:00Z [warn] disk \"full\"\n");
    ck_assert_uint_eq(n, strlen(buf));
    /* A message cannot start a line of its own. */
    gd_errlog_format(buf, sizeof(buf), T0, GH_LOG_ERROR,
                     "a\nb\tc\x7f\r", 7);
    ck_assert_str_eq(buf,
                     "2026-11-29T10:00:00Z [error] a\\x0Ab\tc\\x7F\\x0D\n");
}
END_TEST

START_TEST(errlog_sink_writes_leveled_lines)
{
    gd_logfile_t *f = open_ok(tpath("error.log"));
    regex_t re;
    char *got;

    ck_assert_int_eq(gd_logs_init(0), 0);
    gd_errlog_use(f);
    gd_logfile_release(f); /* the error log keeps its own reference */
    gh_log_set_level(GH_LOG_NOTICE);
    gh_log(GH_LOG_WARN, "hello %d", 42);
    gh_log(GH_LOG_INFO, "not at this level");
    gh_log(GH_LOG_NOTICE, "two\nlines?");
    gd_errlog_use(NULL);
    ck_assert_int_eq(gd_logs_flush(), 0);
    got = slurp(tpath("error.log"), NULL);
    ck_assert_int_eq(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
                             "[0-9]{2}Z \\[warn\\] hello 42\n"
                             "[0-9-]{10}T[0-9:]{8}Z \\[notice\\] "
                             "two\\\\x0Alines\\?\n$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    ck_assert_msg(regexec(&re, got, 0, NULL, 0) == 0, "error log: [%s]",
                  got);
    regfree(&re);
    free(got);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

START_TEST(open_error_names_the_path)
{
    char err[256] = "";
    const char *missing = tpath("no/such/dir/a.log");
    char want[512];

    ck_assert_ptr_null(gd_logfile_open(missing, err, sizeof(err)));
    snprintf(want, sizeof(want),
             "cannot open log file %s: No such file or directory", missing);
    ck_assert_str_eq(err, want);
    ck_assert_ptr_null(gd_logfile_open(dir, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, dir));
    ck_assert_ptr_nonnull(strstr(err, strerror(EISDIR)));
}
END_TEST

START_TEST(open_creates_appends_and_adds_newlines)
{
    const char *path = tpath("a.log");
    gd_logfile_t *f;
    FILE *fp = fopen(path, "w");
    struct stat st;

    umask(022);
    ck_assert_ptr_nonnull(fp);
    fputs("old\n", fp);
    fclose(fp);
    ck_assert_int_eq(gd_logs_init(0), 0);
    f = open_ok(path);
    write_str(f, "one\n");
    write_str(f, "two");
    gd_logfile_write(f, "", 0);
    ck_assert_int_eq(gd_logs_flush(), 0);
    assert_file(path, "old\none\ntwo\n\n");
    gd_logfile_release(f);
    f = open_ok(tpath("new.log"));
    ck_assert_int_eq(stat(tpath("new.log"), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    ck_assert_int_eq(fcntl(gd_logfile_fd(f), F_GETFD) & FD_CLOEXEC,
                     FD_CLOEXEC);
    ck_assert_str_eq(gd_logfile_path(f), tpath("new.log"));
    gd_logfile_release(f);
}
END_TEST

START_TEST(files_are_shared_by_path_and_closed_by_last_release)
{
    const char *path = tpath("s.log");
    gd_logfile_t *f1, *f2, *f3;
    int fd;

    ck_assert_int_eq(gd_logs_init(0), 0);
    f1 = open_ok(path);
    f2 = open_ok(path);
    ck_assert_ptr_eq(f1, f2);
    /* Another spelling of the same file is the same object too. */
    f3 = open_ok(tpath("./s.log"));
    ck_assert_ptr_eq(f1, f3);
    fd = gd_logfile_fd(f1);
    gd_logfile_release(f1);
    gd_logfile_release(f2);
    write_str(f3, "still open");
    ck_assert_int_eq(gd_logs_flush(), 0);
    ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
    write_str(f3, "last line");
    gd_logfile_release(f3);
    ck_assert_int_eq(gd_logs_flush(), 0);
    /* Its queued line was written before the close. */
    assert_file(path, "still open\nlast line\n");
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
    ck_assert_int_eq(errno, EBADF);
}
END_TEST

START_TEST(stdout_and_stderr_are_shared_and_never_closed)
{
    gd_logfile_t *e1 = open_ok("stderr"), *e2 = open_ok("stderr");
    gd_logfile_t *o = open_ok("stdout");

    ck_assert_ptr_eq(e1, e2);
    ck_assert_ptr_ne(e1, o);
    ck_assert_int_eq(gd_logfile_fd(e1), STDERR_FILENO);
    ck_assert_int_eq(gd_logfile_fd(o), STDOUT_FILENO);
    gd_logfile_release(e1);
    gd_logfile_release(e2);
    gd_logfile_release(o);
    ck_assert_int_ne(fcntl(STDERR_FILENO, F_GETFD), -1);
    ck_assert_int_ne(fcntl(STDOUT_FILENO, F_GETFD), -1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The writer                                                          */
/* ------------------------------------------------------------------ */

START_TEST(writes_without_writer_are_synchronous)
{
    const char *path = tpath("sync.log");
    gd_logfile_t *f = open_ok(path);

    write_str(f, "before init");
    assert_file(path, "before init\n");
    ck_assert_int_eq(gd_logs_init(0), 0);
    ck_assert_int_eq(gd_logs_init(0), GH_EBUSY);
    write_str(f, "queued");
    gd_logs_shutdown(); /* writes what was queued */
    assert_file(path, "before init\nqueued\n");
    write_str(f, "late");
    assert_file(path, "before init\nqueued\nlate\n");
    gd_logs_shutdown();
    ck_assert_int_eq(gd_logs_flush(), 0);
    ck_assert_int_eq(gd_logs_init(0), 0); /* and it starts again */
    write_str(f, "again");
    ck_assert_int_eq(gd_logs_flush(), 0);
    assert_file(path, "before init\nqueued\nlate\nagain\n");
    gd_logfile_release(f);
}
END_TEST

#define PRODUCERS 4
#define LINES (GH_TEST_TSAN ? 1000 : 4000)

struct producer {
    int id;
    gd_logfile_t *f;
    gd_access_log_t al;
};

static atomic_long go_done;

/* Lines "t<id> <i> xxx..." of varying length, straight to the file. */
static void *thread_producer(void *arg)
{
    struct producer *p = arg;
    char buf[256];

    for (int i = 0; i < LINES; i++) {
        int n = snprintf(buf, sizeof(buf), "t%d %d ", p->id, i);
        memset(buf + n, 'x', (size_t)(i % 97));
        gd_logfile_write(p->f, buf, (size_t)n + (size_t)(i % 97));
    }
    return NULL;
}

/* Access-log lines for "/g<id>/<i>" through the callback. */
static void go_producer(void *arg)
{
    struct producer *p = arg;
    gh_access_t a = record();
    char target[64];

    a.target = target;
    for (int i = 0; i < LINES; i++) {
        snprintf(target, sizeof(target), "/g%d/%d", p->id, i);
        gd_access_log_cb(&p->al, &a);
        if (i % 64 == 0)
            gh_yield();
    }
    atomic_fetch_add(&go_done, 1);
}

/* Check one line of the concurrent test and mark it seen. */
static void check_line(const char *all, size_t len, unsigned char *seen)
{
    char l[256];
    int id, i, n = 0;

    ck_assert_msg(len < sizeof(l), "overlong line: [%.*s]", (int)len, all);
    memcpy(l, all, len);
    l[len] = '\0';
    if (sscanf(l, "t%d %d %n", &id, &i, &n) == 2 && n > 0) {
        ck_assert_msg(id >= 0 && id < PRODUCERS && i >= 0 && i < LINES &&
                      len == (size_t)n + (size_t)(i % 97) &&
                      strspn(l + n, "x") == (size_t)(i % 97),
                      "torn line: [%.*s]", (int)len, l);
    } else {
        ck_assert_msg(sscanf(l, "127.0.0.1 - - [%*[^]]] \"GET /g%d/%d "
                             "HTTP/1.1\" 200 1234", &id, &i) == 2 &&
                      id >= 0 && id < PRODUCERS && i >= 0 && i < LINES,
                      "bad line: [%.*s]", (int)len, l);
        id += PRODUCERS;
    }
    ck_assert_msg(!seen[id * LINES + i], "twice: [%.*s]", (int)len, l);
    seen[id * LINES + i] = 1;
}

START_TEST(concurrent_lines_written_once_and_whole)
{
    const char *path = tpath("c.log");
    struct producer p[PRODUCERS * 2];
    pthread_t t[PRODUCERS];
    unsigned char *seen = calloc(2 * PRODUCERS * LINES, 1);
    size_t len, count = 0;
    char *all, *l, *nl;

    ck_assert_int_eq(gd_logs_init(64u << 20), 0);
    for (int i = 0; i < PRODUCERS * 2; i++)
        p[i] = (struct producer){i % PRODUCERS, open_ok(path),
                                 {NULL, GD_ACCESS_COMMON}};
    for (int i = 0; i < PRODUCERS; i++) {
        p[PRODUCERS + i].al.f = p[PRODUCERS + i].f;
        ck_assert_int_gt(gh_go(go_producer, &p[PRODUCERS + i]), 0);
        ck_assert_int_eq(pthread_create(&t[i], NULL, thread_producer, &p[i]),
                         0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    GH_TEST_WAIT_COUNT(&go_done, PRODUCERS, 30 * GH_SECOND);
    ck_assert_int_eq(gd_logs_flush(), 0);
    ck_assert_uint_eq(gd_logs_dropped(), 0);
    all = slurp(path, &len);
    for (l = all; (nl = memchr(l, '\n', len - (size_t)(l - all))); l = nl + 1) {
        check_line(l, (size_t)(nl - l), seen);
        count++;
    }
    ck_assert_msg(l == all + len, "a partial last line");
    ck_assert_uint_eq(count, 2 * PRODUCERS * LINES);
    for (int i = 0; i < PRODUCERS * 2; i++)
        gd_logfile_release(p[i].f);
    free(all);
    free(seen);
}
END_TEST

/* Read a FIFO to its end into a buffer. */
struct reader {
    int fd;
    char *buf;
    size_t len, cap;
};

static void *read_all(void *arg)
{
    struct reader *r = arg;
    ssize_t n;

    for (;;) {
        if (r->cap - r->len < 65536 &&
            !(r->buf = realloc(r->buf, r->cap = r->cap * 2 + 65536)))
            abort();
        n = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (n > 0)
            r->len += (size_t)n;
        else if (n == 0 || errno != EINTR)
            break;
    }
    return NULL;
}

/*
 * Stall the writer: one 100 KB line to a FIFO nobody reads yet is one
 * write(2) that cannot finish, and the writer is a single thread, so
 * whatever is queued next stays queued until unstall().
 */
struct stall {
    gd_logfile_t *f;
    struct reader r;
    pthread_t t;
};

#define STALL_LEN 100000

static void stall(struct stall *st)
{
    char *big = malloc(STALL_LEN);
    int full = 0, cap;

    ck_assert_ptr_nonnull(big);
    ck_assert_int_eq(mkfifo(tpath("stall"), 0600), 0);
    memset(st, 0, sizeof(*st));
    st->r.fd = open(tpath("stall"), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ck_assert_int_ge(st->r.fd, 0);
    cap = fcntl(st->r.fd, F_GETPIPE_SZ);
    st->f = open_ok(tpath("stall"));
    memset(big, 's', STALL_LEN);
    gd_logfile_write(st->f, big, STALL_LEN);
    free(big);
    /* The pipe is full and the rest of the line is still to go. */
    ck_assert(GH_TEST_WAIT_UNTIL(
        ioctl(st->r.fd, FIONREAD, &full) == 0 && full >= cap,
        5 * GH_SECOND));
}

static void unstall(struct stall *st)
{
    fcntl(st->r.fd, F_SETFL, 0);
    ck_assert_int_eq(pthread_create(&st->t, NULL, read_all, &st->r), 0);
    ck_assert_int_eq(gd_logs_flush(), 0);
    gd_logfile_release(st->f); /* closed by the writer: the reader's EOF */
    ck_assert_int_eq(gd_logs_flush(), 0);
    pthread_join(st->t, NULL);
    ck_assert_uint_eq(st->r.len, STALL_LEN + 1);
    free(st->r.buf);
    close(st->r.fd);
}

#define FULL_LINES 300
#define FULL_LEN 1000

/* Sum of N over the "N log lines dropped" notes in the error log. */
static uint64_t noted_drops(const char *path)
{
    char *all = slurp(path, NULL), *p = all;
    uint64_t sum = 0;

    while ((p = strstr(p, "[warn] "))) {
        unsigned long long n;
        p += 7;
        ck_assert_msg(sscanf(p, "%llu log lines dropped (log queue full)",
                             &n) == 1, "unexpected note: %.80s", p);
        sum += n;
    }
    free(all);
    return sum;
}

START_TEST(full_queue_drops_and_counts_lines)
{
    const char *fifo = tpath("fifo");
    struct reader r = {0};
    gd_logfile_t *f, *e;
    char buf[FULL_LEN];
    uint64_t dropped;
    size_t got = 0;
    pthread_t t;

    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    r.fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ck_assert_int_ge(r.fd, 0);
    ck_assert_int_eq(gd_logs_init(4096), 0);
    e = open_ok(tpath("error.log"));
    gd_errlog_use(e);
    gh_log_set_level(GH_LOG_INFO);
    f = open_ok(fifo);
    /* Nobody reads: the writer blocks once the pipe holds 64 KiB. */
    for (int i = 0; i < FULL_LINES; i++) {
        memset(buf, 'a' + i % 26, FULL_LEN);
        snprintf(buf, 8, "%06d", i);
        buf[6] = ' ';
        buf[FULL_LEN - 1] = '\n';
        gd_logfile_write(f, buf, FULL_LEN);
    }
    dropped = gd_logs_dropped();
    ck_assert_uint_ge(dropped, FULL_LINES - (65536 + 3 * 4096) / FULL_LEN);
    fcntl(r.fd, F_SETFL, 0);
    ck_assert_int_eq(pthread_create(&t, NULL, read_all, &r), 0);
    ck_assert_int_eq(gd_logs_flush(), 0);
    gd_logfile_release(f); /* the writer closes it: the reader sees EOF */
    ck_assert_int_eq(gd_logs_flush(), 0);
    pthread_join(t, NULL);
    for (size_t off = 0; off < r.len; off += FULL_LEN, got++) {
        int i = atoi(r.buf + off);
        ck_assert_msg(off + FULL_LEN <= r.len &&
                      r.buf[off + FULL_LEN - 1] == '\n' &&
                      r.buf[off + 7] == 'a' + i % 26 &&
                      r.buf[off + FULL_LEN - 2] == 'a' + i % 26,
                      "torn line at %zu", off);
    }
    ck_assert_uint_eq(got + dropped, FULL_LINES);
    gd_errlog_use(NULL);
    gd_logfile_release(e);
    ck_assert_int_eq(gd_logs_flush(), 0);
    ck_assert_uint_eq(noted_drops(tpath("error.log")), gd_logs_dropped());
    free(r.buf);
    close(r.fd);
}
END_TEST

START_TEST(reopen_after_rename_starts_a_new_file)
{
    const char *path = tpath("r.log"), *old = tpath("r.log.1");
    struct stall st;
    gd_logfile_t *f;

    ck_assert_int_eq(gd_logs_init(0), 0);
    f = open_ok(path);
    write_str(f, "before 1");
    ck_assert_int_eq(gd_logs_flush(), 0);
    stall(&st);
    write_str(f, "before 2"); /* still queued at the rename and reopen */
    ck_assert_int_eq(rename(path, old), 0);
    gd_logs_reopen();
    write_str(f, "after 1");
    unstall(&st);
    assert_file(old, "before 1\nbefore 2\n");
    assert_file(path, "after 1\n");
    /* And the same without a writer: done in the caller. */
    gd_logs_shutdown();
    ck_assert_int_eq(rename(path, old), 0);
    gd_logs_reopen();
    write_str(f, "after 2");
    assert_file(old, "after 1\n");
    assert_file(path, "after 2\n");
    gd_logfile_release(f);
}
END_TEST

START_TEST(failed_reopen_keeps_the_old_file)
{
    const char *path = tpath("sub/r.log"), *moved = tpath("r.moved");
    struct stall st;
    gd_logfile_t *f, *e;
    char *errs;

    ck_assert_int_eq(mkdir(tpath("sub"), 0755), 0);
    ck_assert_int_eq(gd_logs_init(0), 0);
    e = open_ok(tpath("error.log"));
    gd_errlog_use(e);
    gd_logfile_release(e);
    gh_log_set_level(GH_LOG_INFO);
    f = open_ok(path);
    stall(&st);
    write_str(f, "before");
    ck_assert_int_eq(rename(path, moved), 0);
    ck_assert_int_eq(rmdir(tpath("sub")), 0);
    gd_logs_reopen();
    write_str(f, "after");
    unstall(&st);
    assert_file(moved, "before\nafter\n");
    errs = slurp(tpath("error.log"), NULL);
    ck_assert_msg(strstr(errs, "[error] reopen: cannot open log file ") &&
                  strstr(errs, "sub/r.log: No such file or directory "
                               "(keeping the old file)\n"),
                  "error log: [%s]", errs);
    free(errs);
    gd_logfile_release(f);
}
END_TEST

static Suite *daemon_log_suite(void)
{
    Suite *s = suite_create("daemon_log");
    TCase *fmt_tc = tcase_create("formats");
    TCase *file_tc = tcase_create("files");
    TCase *wr_tc = tcase_create("writer");

    tcase_add_checked_fixture(fmt_tc, setup, teardown);
    tcase_add_test(fmt_tc, access_common_line_is_exact);
    tcase_add_test(fmt_tc, access_peers_ipv6_unix_and_unknown);
    tcase_add_test(fmt_tc, access_no_request_line_is_a_dash);
    tcase_add_test(fmt_tc, access_combined_adds_referer_and_agent);
    tcase_add_test(fmt_tc, access_json_line_is_exact);
    tcase_add_test(fmt_tc, access_common_escapes_hostile_bytes);
    tcase_add_test(fmt_tc, access_json_escapes_and_stays_valid);
    tcase_add_test(fmt_tc, access_long_fields_are_cut_with_dots);
    tcase_add_test(fmt_tc, access_format_names_parse);
    tcase_add_test(fmt_tc, access_client_peer_and_request_id);
    tcase_add_test(fmt_tc, access_log_cb_queues_the_line);
    tcase_add_test(fmt_tc, errlog_line_format_is_exact);
    tcase_add_test(fmt_tc, errlog_sink_writes_leveled_lines);
    tcase_set_timeout(fmt_tc, 10 * gh_test_time_scale());
    suite_add_tcase(s, fmt_tc);

    tcase_add_checked_fixture(file_tc, setup, teardown);
    tcase_add_test(file_tc, open_error_names_the_path);
    tcase_add_test(file_tc, open_creates_appends_and_adds_newlines);
    tcase_add_test(file_tc, files_are_shared_by_path_and_closed_by_last_release);
    tcase_add_test(file_tc, stdout_and_stderr_are_shared_and_never_closed);
    tcase_set_timeout(file_tc, 10 * gh_test_time_scale());
    suite_add_tcase(s, file_tc);

    tcase_add_checked_fixture(wr_tc, setup, teardown);
    tcase_add_test(wr_tc, writes_without_writer_are_synchronous);
    tcase_add_test(wr_tc, concurrent_lines_written_once_and_whole);
    tcase_add_test(wr_tc, full_queue_drops_and_counts_lines);
    tcase_add_test(wr_tc, reopen_after_rename_starts_a_new_file);
    tcase_add_test(wr_tc, failed_reopen_keeps_the_old_file);
    tcase_set_timeout(wr_tc, 30 * gh_test_time_scale());
    suite_add_tcase(s, wr_tc);
    return s;
}

GH_CHECK_MAIN(daemon_log_suite)
