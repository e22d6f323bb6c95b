/*
 * check_http_parse.c - the HTTP/1.x request parser (lib/http/parse.c):
 * heads fed whole and a byte at a time, spans across buffer moves and
 * drops, lookups, every limit at its boundary, the request-smuggling
 * defences, identity and chunked bodies with trailers, pipelining, and
 * random input.
 *
 * Most tests go through run(), which plays the connection loop: it feeds
 * the input in reads of a given size into a buffer it owns (optionally
 * moving it to a fresh allocation before every read, so that ASan catches
 * any pointer kept across calls), drives head and body parsing, and writes
 * what the parser reported into a text log.  Two ways of feeding the same
 * bytes must give the same log.
 */
#include "check_gh.h"

#include <stdarg.h>

#include "http/parse.h"

#define NFIELDS 128
#define S(lit) lit, sizeof(lit) - 1

/* ---- a growable byte string ---- */

struct str {
    char *s;
    size_t len, cap;
};

static void str_add(struct str *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        ck_assert_ptr_nonnull(b->s);
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void str_addf(struct str *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void str_addf(struct str *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    ck_assert(n >= 0 && (size_t)n < sizeof tmp);
    str_add(b, tmp, (size_t)n);
}

static void str_fill(struct str *b, char c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        str_add(b, &c, 1);
}

/* Add bytes with controls other than CR, LF, HTAB (and NUL) escaped. */
static void str_add_esc(struct str *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c >= 0x7f)
            str_addf(b, "\\x%02x", c);
        else
            str_add(b, &p[i], 1);
    }
}

static void str_free(struct str *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* ---- the driver ---- */

struct feed {
    size_t step;                  /* bytes per read; 0: all at once */
    bool move;                    /* a fresh buffer before every read */
    bool drop;                    /* drop consumed bytes when allowed */
    const gh__http_limits_t *lim; /* NULL: defaults */
    uint32_t nfields;             /* field storage; 0: NFIELDS */
};

struct outcome {
    int status;      /* 0, or the status of the error */
    bool in_body;    /* ... which came while reading a body */
    int nreq;        /* requests completed, head and body */
    bool incomplete; /* the input ended inside a request */
    uint64_t body;   /* body bytes of the current request handed out */
    struct str log;  /* what the parser reported */
};

static void check_span(gh__http_span_t s, size_t len)
{
    ck_assert_msg((size_t)s.off + s.len <= len, "span %u+%u beyond %zu", s.off,
                  s.len, len);
}

static void log_span(struct str *l, const char *buf, gh__http_span_t s)
{
    str_add_esc(l, buf + s.off, s.len);
}

static void log_fields(struct str *l, const char *buf, size_t len,
                       const gh__http_field_t *f, uint32_t n, const char *tag)
{
    for (uint32_t i = 0; i < n; i++) {
        check_span(f[i].name, len);
        check_span(f[i].value, len);
        str_addf(l, "%s ", tag);
        log_span(l, buf, f[i].name);
        str_add(l, S(": "));
        log_span(l, buf, f[i].value);
        str_add(l, S("\n"));
    }
}

static void log_head(struct str *l, const gh__http_parser_t *p, const char *buf,
                     size_t len)
{
    const gh__http_head_t *h = &p->head;

    check_span(h->target, len);
    ck_assert_uint_le(h->start, h->end);
    ck_assert_uint_le(h->end, len);
    ck_assert_uint_eq(gh__http_parser_offset(p), h->end);
    str_addf(l, "%s ", gh__http_method_name(h));
    log_span(l, buf, h->target);
    str_addf(l, " HTTP/%u.%u ka=%d chunked=%d expect=%d host=%d up=%d",
             h->version_major, h->version_minor, h->keep_alive, h->chunked,
             h->expect_continue, h->has_host, h->upgrade);
    if (h->has_content_length)
        str_addf(l, " cl=%llu\n", (unsigned long long)h->content_length);
    else
        str_add(l, S(" cl=-\n"));
    log_fields(l, buf, len, h->fields, h->nheaders, "H");
}

/* Append up to `step` more input bytes to the buffer, maybe moving it. */
static void feed_more(char **buf, size_t *len, const char *in, size_t n,
                      size_t *fed, const struct feed *f)
{
    size_t k = f->step && f->step < n - *fed ? f->step : n - *fed;

    if (f->move) {
        char *nb = malloc(*len + k + 1);
        ck_assert_ptr_nonnull(nb);
        memcpy(nb, *buf, *len);
        memset(*buf, 'Z', *len); /* stale reads would see garbage */
        free(*buf);
        *buf = nb;
    }
    memcpy(*buf + *len, in + *fed, k);
    *len += k;
    *fed += k;
}

/* Drop the body bytes handed out so far, as a connection loop would. */
static void drop_body(gh__http_parser_t *p, char *buf, size_t *len)
{
    uint32_t from = p->head.end, to = gh__http_parser_body_keep(p);

    if (to <= from)
        return;
    memmove(buf + from, buf + to, *len - to);
    *len -= to - from;
    gh__http_parser_drop(p, from, to);
}

/* A request is complete: log its body and trailers, start the next. */
static void request_done(struct outcome *o, gh__http_parser_t *p, char *buf,
                         size_t *len, struct str *body, const struct feed *f)
{
    const gh__http_head_t *h = &p->head;

    str_addf(&o->log, "BODY %zu [", body->len);
    str_add_esc(&o->log, body->s ? body->s : "", body->len);
    str_add(&o->log, S("]\n"));
    log_fields(&o->log, buf, *len, h->fields + h->nheaders, h->ntrailers, "T");
    str_add(&o->log, S("END\n"));
    body->len = 0;
    o->nreq++;
    o->body = 0;
    gh__http_parser_next(p);
    if (f->drop) {
        uint32_t off = gh__http_parser_offset(p);
        memmove(buf, buf + off, *len - off);
        *len -= off;
        gh__http_parser_drop(p, 0, off);
        ck_assert_uint_eq(gh__http_parser_offset(p), 0);
    }
}

static void run(struct outcome *o, const char *in, size_t n,
                const struct feed *f)
{
    gh__http_field_t fields[NFIELDS];
    gh__http_parser_t p;
    struct str body = {0};
    char *buf = malloc(n + 1);
    size_t len = 0, fed = 0, req_start = 0;
    bool in_body = false;

    ck_assert_ptr_nonnull(buf);
    memset(o, 0, sizeof *o);
    gh__http_parser_init(&p, f->lim, fields, f->nfields ? f->nfields : NFIELDS);
    for (;;) {
        gh__http_span_t d = {0, 0};
        int rc = in_body ? gh__http_parse_body(&p, buf, len, &d)
                         : gh__http_parse_head(&p, buf, len);

        ck_assert_uint_le(gh__http_parser_offset(&p), len);
        if (rc == GH__HTTP_AGAIN) {
            if (fed == n) {
                o->incomplete = in_body || len > req_start;
                break;
            }
            feed_more(&buf, &len, in, n, &fed, f);
        } else if (rc == GH__HTTP_ERROR) {
            o->status = gh__http_parser_status(&p);
            o->in_body = in_body;
            ck_assert_int_ne(o->status, 0);
            /* Errors are sticky. */
            ck_assert_int_eq(in_body ? gh__http_parse_body(&p, buf, len, &d)
                                     : gh__http_parse_head(&p, buf, len),
                             GH__HTTP_ERROR);
            break;
        } else if (rc == GH__HTTP_HEAD) {
            ck_assert(!in_body);
            log_head(&o->log, &p, buf, len);
            in_body = true;
        } else if (rc == GH__HTTP_DATA) {
            ck_assert(in_body);
            ck_assert_uint_gt(d.len, 0);
            check_span(d, len);
            ck_assert_uint_ge(d.off, p.head.end);
            str_add(&body, buf + d.off, d.len);
            o->body += d.len;
            if (f->drop)
                drop_body(&p, buf, &len);
        } else {
            ck_assert_int_eq(rc, GH__HTTP_DONE);
            ck_assert(in_body);
            request_done(o, &p, buf, &len, &body, f);
            in_body = false;
            req_start = gh__http_parser_offset(&p);
        }
    }
    str_free(&body);
    free(buf);
}

static void outcome_free(struct outcome *o)
{
    str_free(&o->log);
}

/* The feeds every status test goes through. */
static const struct feed feeds[] = {
    {.step = 0},
    {.step = 1},
    {.step = 7, .move = true, .drop = true},
};

/*
 * Run the input through each feed and require the status (0: success, the
 * whole input made of complete requests).  Returns the log of the
 * all-at-once run, which the caller frees.
 */
static char *expect_lim(const char *in, size_t n, const gh__http_limits_t *lim,
                        int status, const char *what)
{
    char *first = NULL;

    for (size_t i = 0; i < sizeof feeds / sizeof feeds[0]; i++) {
        struct feed f = feeds[i];
        struct outcome o;

        f.lim = lim;
        run(&o, in, n, &f);
        ck_assert_msg(o.status == status,
                      "%.300s (step %zu): status %d, want %d\nlog:\n%.1000s",
                      what, f.step, o.status, status, o.log.s ? o.log.s : "");
        if (status == 0)
            ck_assert_msg(!o.incomplete && o.nreq >= 1,
                          "%.300s (step %zu): incomplete\nlog:\n%.1000s", what,
                          f.step, o.log.s ? o.log.s : "");
        if (i == 0)
            first = o.log.s ? strdup(o.log.s) : strdup("");
        else
            ck_assert_str_eq(o.log.s ? o.log.s : "", first);
        outcome_free(&o);
    }
    return first;
}

static void expect_status(const char *in, size_t n, int status)
{
    free(expect_lim(in, n, NULL, status, in));
}

#define EXPECT(lit, status) expect_status(S(lit), (status))

/* ---- a simple GET ---- */

START_TEST(http_parse_simple_get_fills_the_head)
{
    static const char req[] = "GET /index.html?q=1 HTTP/1.1\r\n"
                              "Host: example.com\r\n"
                              "User-Agent: test/1.0\r\n"
                              "Accept: */*   \r\n"
                              "\r\n";
    gh__http_field_t fields[8];
    gh__http_parser_t p;
    const gh__http_head_t *h = &p.head;
    gh__http_span_t d;

    gh__http_parser_init(&p, NULL, fields, 8);
    ck_assert_int_eq(gh__http_parse_head(&p, req, sizeof req - 1),
                     GH__HTTP_HEAD);
    ck_assert_int_eq(h->method, HTTP_GET);
    ck_assert_str_eq(gh__http_method_name(h), "GET");
    ck_assert(gh__http_span_eq(req, h->target, S("/index.html?q=1")));
    ck_assert_uint_eq(h->version_major, 1);
    ck_assert_uint_eq(h->version_minor, 1);
    ck_assert_uint_eq(h->nheaders, 3);
    ck_assert(gh__http_span_eq(req, fields[0].name, S("Host")));
    ck_assert(gh__http_span_eq(req, fields[0].value, S("example.com")));
    ck_assert(gh__http_span_eq(req, fields[2].value, S("*/*")));
    ck_assert(h->keep_alive);
    ck_assert(h->has_host);
    ck_assert(!h->has_content_length && !h->chunked);
    ck_assert(!h->expect_continue && !h->upgrade);
    ck_assert_uint_eq(h->start, 0);
    ck_assert_uint_eq(h->end, sizeof req - 1);
    ck_assert_uint_eq(gh__http_parser_offset(&p), sizeof req - 1);
    ck_assert_int_eq(gh__http_parse_body(&p, req, sizeof req - 1, &d),
                     GH__HTTP_DONE);
}
END_TEST

START_TEST(http_parse_head_in_pieces_needs_more_then_completes)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    gh__http_field_t fields[4];
    gh__http_parser_t p;

    gh__http_parser_init(&p, NULL, fields, 4);
    ck_assert_int_eq(gh__http_parse_head(&p, req, 0), GH__HTTP_AGAIN);
    ck_assert_int_eq(gh__http_parse_head(&p, req, 10), GH__HTTP_AGAIN);
    ck_assert_int_eq(gh__http_parse_head(&p, req, 25), GH__HTTP_AGAIN);
    ck_assert_int_eq(gh__http_parse_head(&p, req, sizeof req - 1),
                     GH__HTTP_HEAD);
    ck_assert(gh__http_span_eq(req, fields[0].value, S("a")));
}
END_TEST

/* ---- feeding ---- */

static const char complex_input[] =
    "\r\nPOST /upload/a%20b?x=1&y=2 HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
    "X-Empty:\r\n"
    "X-Spaces: \t padded value \t \r\n"
    "Transfer-Encoding: chunked\r\n"
    "Expect: 100-continue\r\n"
    "\r\n"
    "5;name=val;flag;q=\"quoted \\\" ;\"\r\nhello\r\n"
    "1\r\n \r\n"
    "A\r\n0123456789\r\n"
    "0;last\r\n"
    "X-Checksum: abc\r\n"
    "X-Trailer-2:  two \r\n"
    "\r\n"
    "PUT /second HTTP/1.0\r\n"
    "Content-Length: 12\r\n"
    "Connection: keep-alive\r\n"
    "\r\n"
    "a\r\nb\0c\r\n\r\nde"
    "GET /third HTTP/1.1\r\n"
    "host: x\r\n"
    "Connection: close\r\n"
    "\r\n";

static const char complex_log[] =
    "POST /upload/a%20b?x=1&y=2 HTTP/1.1 ka=1 chunked=1 expect=1 host=1 "
    "up=0 cl=-\n"
    "H Host: example.com:8080\n"
    "H User-Agent: Mozilla/5.0 (X11; Linux x86_64)\n"
    "H X-Empty: \n"
    "H X-Spaces: padded value\n"
    "H Transfer-Encoding: chunked\n"
    "H Expect: 100-continue\n"
    "BODY 16 [hello 0123456789]\n"
    "T X-Checksum: abc\n"
    "T X-Trailer-2: two\n"
    "END\n"
    "PUT /second HTTP/1.0 ka=1 chunked=0 expect=0 host=0 up=0 cl=12\n"
    "H Content-Length: 12\n"
    "H Connection: keep-alive\n"
    "BODY 12 [a\r\nb\\x00c\r\n\r\nde]\n"
    "END\n"
    "GET /third HTTP/1.1 ka=0 chunked=0 expect=0 host=1 up=0 cl=-\n"
    "H host: x\n"
    "H Connection: close\n"
    "BODY 0 []\n"
    "END\n";

static void check_complex(const struct feed *f)
{
    struct outcome o;

    run(&o, complex_input, sizeof complex_input - 1, f);
    ck_assert_msg(o.status == 0, "step %zu move %d drop %d: status %d\n%s",
                  f->step, f->move, f->drop, o.status, o.log.s);
    ck_assert_int_eq(o.nreq, 3);
    ck_assert(!o.incomplete);
    ck_assert_uint_eq(o.log.len, sizeof complex_log - 1);
    ck_assert_msg(memcmp(o.log.s, complex_log, o.log.len) == 0,
                  "step %zu move %d drop %d: log\n%s", f->step, f->move,
                  f->drop, o.log.s);
    outcome_free(&o);
}

START_TEST(http_parse_whole_input_gives_the_expected_requests)
{
    check_complex(&(struct feed){.step = 0});
}
END_TEST

START_TEST(http_parse_split_at_every_boundary_gives_the_same_result)
{
    size_t n = sizeof complex_input - 1;

    /* One byte at a time, then every split into two reads. */
    check_complex(&(struct feed){.step = 1});
    for (size_t step = 2; step <= n; step++)
        check_complex(&(struct feed){.step = step});
}
END_TEST

START_TEST(http_parse_spans_survive_buffer_moves)
{
    for (size_t step = 1; step <= 13; step++)
        check_complex(&(struct feed){.step = step, .move = true});
}
END_TEST

START_TEST(http_parse_dropping_consumed_bytes_keeps_spans_right)
{
    for (size_t step = 1; step <= 13; step++)
        check_complex(&(struct feed){.step = step, .move = true, .drop = true});
    check_complex(&(struct feed){.step = 0, .drop = true});
}
END_TEST

/* ---- lookups ---- */

START_TEST(http_parse_headers_are_found_ignoring_case)
{
    static const char req[] = "GET / HTTP/1.1\r\n"
                              "Host: a\r\n"
                              "X-Custom-Thing: one\r\n"
                              "accept: text/html\r\n"
                              "x-custom-thing: two\r\n"
                              "\r\n";
    gh__http_field_t fields[8];
    gh__http_parser_t p;
    const gh__http_head_t *h = &p.head;
    int i;

    gh__http_parser_init(&p, NULL, fields, 8);
    ck_assert_int_eq(gh__http_parse_head(&p, req, sizeof req - 1),
                     GH__HTTP_HEAD);
    ck_assert_uint_eq(h->nheaders, 4);
    i = gh__http_field_find(h->fields, h->nheaders, req, S("HOST"), 0);
    ck_assert_int_eq(i, 0);
    i = gh__http_field_find(h->fields, h->nheaders, req, S("Accept"), 0);
    ck_assert_int_eq(i, 2);
    ck_assert(gh__http_span_eq(req, fields[i].value, S("TEXT/html")));
    i = gh__http_field_find(h->fields, h->nheaders, req, S("X-CUSTOM-thing"),
                            0);
    ck_assert_int_eq(i, 1);
    ck_assert(gh__http_span_eq(req, fields[i].value, S("one")));
    i = gh__http_field_find(h->fields, h->nheaders, req, S("x-custom-thing"),
                            (uint32_t)i + 1);
    ck_assert_int_eq(i, 3);
    ck_assert(gh__http_span_eq(req, fields[i].value, S("two")));
    ck_assert_int_eq(gh__http_field_find(h->fields, h->nheaders, req,
                                         S("x-custom-thing"), 4),
                     -1);
    ck_assert_int_eq(
        gh__http_field_find(h->fields, h->nheaders, req, S("Hos"), 0), -1);
    ck_assert_int_eq(
        gh__http_field_find(h->fields, h->nheaders, req, S("Hostx"), 0), -1);
}
END_TEST

/* ---- limits ---- */

/* "GET /aaa... HTTP/1.1" with a request-target of n bytes. */
static void target_request(struct str *b, size_t n)
{
    str_add(b, S("GET /"));
    str_fill(b, 'a', n - 1);
    str_add(b, S(" HTTP/1.1\r\nHost: h\r\n\r\n"));
}

START_TEST(http_parse_target_limit_is_414_one_past_it)
{
    struct str b = {0};
    gh__http_limits_t lim;

    target_request(&b, GH__HTTP_MAX_TARGET);
    free(expect_lim(b.s, b.len, NULL, 0, "target at the limit"));
    str_free(&b);
    target_request(&b, GH__HTTP_MAX_TARGET + 1);
    free(expect_lim(b.s, b.len, NULL, 414, "target over the limit"));
    str_free(&b);

    gh__http_limits_init(&lim);
    lim.max_target = 16;
    target_request(&b, 16);
    free(expect_lim(b.s, b.len, &lim, 0, "target at a set limit"));
    str_free(&b);
    target_request(&b, 17);
    free(expect_lim(b.s, b.len, &lim, 414, "target over a set limit"));
    str_free(&b);
}
END_TEST

START_TEST(http_parse_endless_empty_lines_before_a_request_are_refused)
{
    struct str b = {0};
    gh__http_limits_t lim;

    gh__http_limits_init(&lim);
    lim.max_target = 16;
    for (int i = 0; i < 50; i++)
        str_add(&b, S("\r\n"));
    free(expect_lim(b.s, b.len, &lim, 400, "empty lines"));
    /* The same with a request after them, whole or with its head still
     * coming: refused whether the bytes come at once or a few at a time. */
    str_add(&b, S("GET / HTTP/1.1\r\nHost: h\r\n"));
    free(expect_lim(b.s, b.len, &lim, 400, "empty lines, then a head"));
    str_add(&b, S("\r\n"));
    free(expect_lim(b.s, b.len, &lim, 400, "empty lines, then a request"));
    str_free(&b);
    /* A few are ignored, as RFC 9112 2.2 asks. */
    str_add(&b, S("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    free(expect_lim(b.s, b.len, &lim, 0, "two empty lines, then a request"));
    str_free(&b);
}
END_TEST

/* A head whose header section (after the request line) is n bytes. */
static void header_bytes_request(struct str *b, size_t n, bool complete)
{
    /* "Host: h\r\n" + "X: " pad "\r\n" + "\r\n" */
    size_t pad = n - 9 - 5 - 2;

    str_add(b, S("GET / HTTP/1.1\r\nHost: h\r\nX: "));
    str_fill(b, 'v', pad);
    str_add(b, S("\r\n"));
    if (complete)
        str_add(b, S("\r\n"));
}

START_TEST(http_parse_header_bytes_limit_is_431_one_past_it)
{
    struct str b = {0};
    struct outcome o;

    header_bytes_request(&b, GH__HTTP_MAX_HEADER_BYTES, true);
    free(expect_lim(b.s, b.len, NULL, 0, "header section at the limit"));
    str_free(&b);
    header_bytes_request(&b, GH__HTTP_MAX_HEADER_BYTES + 1, true);
    free(expect_lim(b.s, b.len, NULL, 431, "header section over the limit"));
    str_free(&b);

    /* Refused as soon as the bytes received exceed it, without an end. */
    header_bytes_request(&b, GH__HTTP_MAX_HEADER_BYTES + 1, false);
    str_fill(&b, 'v', 2);
    run(&o, b.s, b.len, &(struct feed){.step = 1000});
    ck_assert_int_eq(o.status, 431);
    outcome_free(&o);
    str_free(&b);
}
END_TEST

static void many_headers_request(struct str *b, int n)
{
    str_add(b, S("GET / HTTP/1.1\r\nHost: h\r\n"));
    for (int i = 1; i < n; i++)
        str_addf(b, "X-H%d: %d\r\n", i, i);
    str_add(b, S("\r\n"));
}

START_TEST(http_parse_header_count_limit_is_431_one_past_it)
{
    struct str b = {0};
    gh__http_limits_t lim;
    struct outcome o;

    many_headers_request(&b, GH__HTTP_MAX_HEADERS);
    free(expect_lim(b.s, b.len, NULL, 0, "header count at the limit"));
    str_free(&b);
    many_headers_request(&b, GH__HTTP_MAX_HEADERS + 1);
    free(expect_lim(b.s, b.len, NULL, 431, "header count over the limit"));
    str_free(&b);

    gh__http_limits_init(&lim);
    lim.max_headers = 3;
    many_headers_request(&b, 3);
    free(expect_lim(b.s, b.len, &lim, 0, "header count at a set limit"));
    str_free(&b);
    many_headers_request(&b, 4);
    free(expect_lim(b.s, b.len, &lim, 431, "header count over a set limit"));
    str_free(&b);

    /* Less storage than the limit: the storage bounds the count. */
    many_headers_request(&b, 11);
    run(&o, b.s, b.len, &(struct feed){.nfields = 11});
    ck_assert_int_eq(o.status, 0);
    outcome_free(&o);
    run(&o, b.s, b.len, &(struct feed){.nfields = 10});
    ck_assert_int_eq(o.status, 431);
    outcome_free(&o);
    str_free(&b);
}
END_TEST

START_TEST(http_parse_content_length_over_the_limit_is_413_before_the_body)
{
    struct str b = {0};
    struct outcome o;
    gh__http_limits_t lim;

    str_addf(&b, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %llu\r\n\r\n",
             (unsigned long long)GH__HTTP_MAX_BODY);
    str_fill(&b, 'b', GH__HTTP_MAX_BODY);
    run(&o, b.s, b.len, &(struct feed){.step = 65536});
    ck_assert_int_eq(o.status, 0);
    ck_assert_int_eq(o.nreq, 1);
    outcome_free(&o);
    str_free(&b);

    /* One byte more: refused by the head, no body byte sent at all. */
    str_addf(&b, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %llu\r\n\r\n",
             (unsigned long long)GH__HTTP_MAX_BODY + 1);
    free(expect_lim(b.s, b.len, NULL, 413, "Content-Length over the limit"));
    run(&o, b.s, b.len, &(struct feed){0});
    ck_assert(!o.in_body);
    outcome_free(&o);
    str_free(&b);

    gh__http_limits_init(&lim);
    lim.max_body = 5;
    free(expect_lim(S("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                      "\r\nhello"),
                    &lim, 0, "body at a set limit"));
    free(expect_lim(S("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n"
                      "\r\n"),
                    &lim, 413, "body over a set limit"));
}
END_TEST

START_TEST(http_parse_chunked_body_over_the_limit_is_413)
{
    gh__http_limits_t lim;
    struct outcome o;
    char *log;

    gh__http_limits_init(&lim);
    lim.max_body = 10;
    log = expect_lim(S("POST / HTTP/1.1\r\nHost: h\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"),
                     &lim, 0, "chunked body at the limit");
    ck_assert_ptr_nonnull(strstr(log, "BODY 10 [helloworld]"));
    free(log);
    free(expect_lim(S("POST / HTTP/1.1\r\nHost: h\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n"),
                    &lim, 413, "chunked body over the limit"));

    /* Refused at the chunk-size, before the chunk's data arrives. */
    run(&o,
        S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
          "5\r\nhello\r\n6"),
        &(struct feed){.lim = &lim});
    ck_assert_int_eq(o.status, 413);
    ck_assert(o.in_body);
    ck_assert_uint_eq(o.body, 5);
    outcome_free(&o);

    /* Huge sizes do not overflow. */
    free(expect_lim(S("POST / HTTP/1.1\r\nHost: h\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"
                      "ffffffffffffffffffffffff\r\n"),
                    NULL, 413, "chunk size overflow"));
}
END_TEST

static void chunk_line_request(struct str *b, size_t line_len, bool ext)
{
    str_add(b, S("POST / HTTP/1.1\r\nHost: h\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"));
    if (ext) {
        str_add(b, S("3;e="));
        str_fill(b, 'x', line_len - 4);
    } else {
        str_fill(b, '0', line_len - 1);
        str_add(b, S("3"));
    }
    str_add(b, S("\r\nabc\r\n0\r\n\r\n"));
}

START_TEST(http_parse_chunk_size_line_limit_is_400_one_past_it)
{
    struct str b = {0};

    chunk_line_request(&b, GH__HTTP_MAX_CHUNK_LINE, false);
    free(expect_lim(b.s, b.len, NULL, 0, "zeros at the limit"));
    str_free(&b);
    chunk_line_request(&b, GH__HTTP_MAX_CHUNK_LINE + 1, false);
    free(expect_lim(b.s, b.len, NULL, 400, "zeros over the limit"));
    str_free(&b);
    chunk_line_request(&b, GH__HTTP_MAX_CHUNK_LINE, true);
    free(expect_lim(b.s, b.len, NULL, 0, "extension at the limit"));
    str_free(&b);
    chunk_line_request(&b, GH__HTTP_MAX_CHUNK_LINE + 1, true);
    free(expect_lim(b.s, b.len, NULL, 400, "extension over the limit"));
    str_free(&b);
}
END_TEST

/* n chunks of one byte, each with an extension of ext bytes. */
static void tiny_chunks_request(struct str *b, int n, size_t ext)
{
    str_add(b, S("POST / HTTP/1.1\r\nHost: h\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"));
    for (int i = 0; i < n; i++) {
        str_add(b, S("1"));
        if (ext) {
            str_add(b, S(";e="));
            str_fill(b, 'x', ext - 3);
        }
        str_add(b, S("\r\nx\r\n"));
    }
    str_add(b, S("0\r\n\r\n"));
}

/* max_body counts decoded bytes: framing must be paid for by data, or a
 * body of a few KB could take gigabytes on the wire. */
START_TEST(http_parse_chunk_framing_beyond_its_data_is_400)
{
    static const struct {
        int chunks;
        size_t ext;
        int status;
        const char *what;
    } cases[] = {{5000, 0, 0, "5000 one-byte chunks"},
                 {3, 4000, 0, "a few long extensions"},
                 {200, 100, 400, "200 100-byte extensions"},
                 {5, 4000, 400, "20 KB of extensions"}};

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct str b = {0};
        tiny_chunks_request(&b, cases[i].chunks, cases[i].ext);
        free(expect_lim(b.s, b.len, NULL, cases[i].status, cases[i].what));
        str_free(&b);
    }
}
END_TEST

START_TEST(http_parse_trailers_are_bounded_like_headers)
{
    struct str b = {0};
    gh__http_limits_t lim;
    static const char head[] = "POST / HTTP/1.1\r\nHost: h\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n0\r\n";

    /* Section bytes: "X: " pad "\r\n" "\r\n". */
    str_add(&b, S(head));
    str_add(&b, S("X: "));
    str_fill(&b, 't', GH__HTTP_MAX_HEADER_BYTES - 7);
    str_add(&b, S("\r\n\r\n"));
    free(expect_lim(b.s, b.len, NULL, 0, "trailers at the limit"));
    str_free(&b);
    str_add(&b, S(head));
    str_add(&b, S("X: "));
    str_fill(&b, 't', GH__HTTP_MAX_HEADER_BYTES - 6);
    str_add(&b, S("\r\n\r\n"));
    free(expect_lim(b.s, b.len, NULL, 431, "trailers over the limit"));
    str_free(&b);

    /* Headers and trailers share the field count. */
    gh__http_limits_init(&lim);
    lim.max_headers = 4;
    free(expect_lim(S("POST / HTTP/1.1\r\nHost: h\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: "
                      "2\r\n\r\n"),
                    &lim, 0, "fields at the limit"));
    free(expect_lim(S("POST / HTTP/1.1\r\nHost: h\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: "
                      "2\r\nC: 3\r\n\r\n"),
                    &lim, 431, "fields over the limit"));
}
END_TEST

/* ---- request smuggling ---- */

START_TEST(http_parse_content_length_with_transfer_encoding_is_400)
{
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
           "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
           "Content-Length: 5\r\n\r\n0\r\n\r\n",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n"
           "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           400);
}
END_TEST

START_TEST(http_parse_duplicate_content_length_is_400_even_if_equal)
{
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
           "Content-Length: 5\r\n\r\nhello",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
           "Content-Length: 6\r\n\r\nhello!",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n"
           "hello",
           400);
}
END_TEST

START_TEST(http_parse_invalid_content_length_is_400)
{
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\nhello",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5 5\r\n\r\nhello",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5a\r\n\r\nhello",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\n"
           "Content-Length: 18446744073709551616\r\n\r\n",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\n"
           "Content-Length: 99999999999999999999999\r\n\r\n",
           400);
    /* Valid: OWS around it and leading zeros. */
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  005 \r\n\r\nhello",
           0);
}
END_TEST

START_TEST(http_parse_obs_fold_is_400)
{
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX:\r\n b\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n 0\r\n\r\n"
           "0123456789",
           400);
}
END_TEST

START_TEST(http_parse_bare_cr_and_bare_lf_are_400)
{
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\r\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHo\rst: h\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\nHost: h\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\n\n", 400);
    EXPECT("GET / HTTP/1.1\nHost: h\n\n", 400);
    EXPECT("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}
END_TEST

START_TEST(http_parse_whitespace_before_the_colon_is_400)
{
    EXPECT("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\nhello",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n"
           "\r\n0\r\n\r\n",
           400);
}
END_TEST

START_TEST(http_parse_bad_header_name_characters_are_400)
{
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX(y): 1\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX y: 1\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX\x01y: 1\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX\x80y: 1\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX\"y: 1\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\n: empty\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400);
    /* Every tchar is fine. */
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\n"
           "!#$%&'*+-.^_`|~09azAZ: 1\r\n\r\n",
           0);
}
END_TEST

START_TEST(http_parse_bad_header_value_characters_are_400)
{
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01"
           "b\r\n\r\n",
           400);
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f"
           "b\r\n\r\n",
           400);
    /* obs-text and HTAB are allowed. */
    EXPECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\xc3\xa9\tb\r\n\r\n", 0);
}
END_TEST

START_TEST(http_parse_bad_request_lines_are_400)
{
    EXPECT("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    EXPECT("GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    EXPECT("GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    EXPECT("get / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    EXPECT("BREW / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400);
    EXPECT("GET / HTTP/11.1\r\nHost: h\r\n\r\n", 400);
    EXPECT("GET / http/1.1\r\nHost: h\r\n\r\n", 400);
    EXPECT("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400);
}
END_TEST

/* ---- transfer codings and versions ---- */

/* RFC 9112 6.3: without a final "chunked" the body's end is unknown. */
START_TEST(http_parse_transfer_encoding_not_ending_in_chunked_is_400)
{
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n"
           "\r\n",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip"
           "\r\n\r\n",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
           "Transfer-Encoding: gzip\r\n\r\n",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedx\r\n"
           "\r\n0\r\n\r\n",
           400);
    /* A parameter makes the coding one we do not know. */
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;x=1"
           "\r\n\r\n0\r\n\r\n",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 400);
}
END_TEST

/* RFC 9112 7.1: a sender never chunks twice, so the framing is faulty. */
START_TEST(http_parse_chunked_applied_twice_is_400)
{
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked"
           "\r\n\r\n0\r\n\r\n",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
           "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\n"
           "Transfer-Encoding: gzip, chunked, chunked\r\n\r\n0\r\n\r\n",
           400);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\n"
           "Transfer-Encoding: chunked, gzip, chunked\r\n\r\n0\r\n\r\n",
           400);
}
END_TEST

/* The body could be de-chunked, but not decoded further. */
START_TEST(http_parse_transfer_coding_before_chunked_is_501)
{
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked"
           "\r\n\r\n0\r\n\r\n",
           501);
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
           "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           501);
    /* Accepted: "chunked" alone, in any case, with OWS. */
    EXPECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:  ChUnKeD  \r\n"
           "\r\n0\r\n\r\n",
           0);
}
END_TEST

START_TEST(http_parse_transfer_encoding_on_http_1_0_is_400)
{
    EXPECT("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           400);
}
END_TEST

START_TEST(http_parse_unsupported_versions_are_505)
{
    EXPECT("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    EXPECT("GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505);
    EXPECT("GET /\r\n\r\n", 505);
    EXPECT("GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505);
    EXPECT("GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505);
    EXPECT("GET / HTTP/9.9\r\nHost: h\r\n\r\n", 505);
    EXPECT("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
}
END_TEST

/* ---- Host ---- */

START_TEST(http_parse_host_is_required_once_on_http_1_1)
{
    EXPECT("GET / HTTP/1.1\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nX: y\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.0\r\n\r\n", 0);
    EXPECT("GET / HTTP/1.1\r\nHost:\r\n\r\n", 0);
}
END_TEST

/* RFC 9112 3.2: Host = uri-host [ ":" port ], else 400. */
START_TEST(http_parse_invalid_host_is_400)
{
    EXPECT("GET / HTTP/1.1\r\nHost: foo bar\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: a:b:c\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: ::1]\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: []\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: [::1]:x\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: [a/b]\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: a?b\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: a#b\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: a\tb\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: \xc3\xa9.example\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: %zz\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: %4\r\n\r\n", 400);
    EXPECT("GET / HTTP/1.1\r\nHost: a%00b\r\n\r\n", 400);
    /* Any request with a Host, HTTP/1.0 too. */
    EXPECT("GET / HTTP/1.0\r\nHost: foo bar\r\n\r\n", 400);
    /* Valid: names, addresses, ports (even empty), escapes, OWS. */
    EXPECT("GET / HTTP/1.1\r\nHost: example.org\r\n\r\n", 0);
    EXPECT("GET / HTTP/1.1\r\nHost: example.org:8080\r\n\r\n", 0);
    EXPECT("GET / HTTP/1.1\r\nHost: example.org:\r\n\r\n", 0);
    EXPECT("GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n", 0);
    EXPECT("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 0);
    EXPECT("GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", 0);
    EXPECT("GET / HTTP/1.1\r\nHost: [v1.x]\r\n\r\n", 0);
    EXPECT("GET / HTTP/1.1\r\nHost: a.b-c_d~e\r\n\r\n", 0);
    EXPECT("GET / HTTP/1.1\r\nHost: a!$&'()*+,;=b\r\n\r\n", 0);
    EXPECT("GET / HTTP/1.1\r\nHost: %41b\r\n\r\n", 0);
    EXPECT("GET / HTTP/1.1\r\nHost: xn--bcher-kva.example\r\n\r\n", 0);
    EXPECT("GET / HTTP/1.1\r\nHost: \t a \t\r\n\r\n", 0);
}
END_TEST

/* ---- keep-alive, Expect, upgrade ---- */

static char *head_log(const char *in, size_t n)
{
    return expect_lim(in, n, NULL, 0, in);
}

#define HAS(log, s) ck_assert_msg(strstr((log), (s)) != NULL, "%.1000s", (log))

START_TEST(http_parse_keep_alive_follows_the_version_and_connection)
{
    char *l;

    l = head_log(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    HAS(l, "ka=1");
    free(l);
    l = head_log(S("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
    HAS(l, "ka=0");
    free(l);
    l = head_log(S(
        "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n"));
    HAS(l, "ka=0");
    free(l);
    l = head_log(S("GET / HTTP/1.0\r\n\r\n"));
    HAS(l, "ka=0");
    free(l);
    l = head_log(S("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    HAS(l, "ka=1");
    free(l);
    l = head_log(S("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    HAS(l, "ka=1");
    free(l);
}
END_TEST

START_TEST(http_parse_expect_100_continue_is_flagged_on_http_1_1)
{
    char *l;

    l = head_log(S("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                   "Content-Length: 2\r\n\r\nhi"));
    HAS(l, "expect=1");
    free(l);
    l = head_log(S("POST / HTTP/1.1\r\nHost: h\r\nexpect: 100-Continue\r\n"
                   "Content-Length: 2\r\n\r\nhi"));
    HAS(l, "expect=1");
    free(l);
    l = head_log(S("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n"
                   "hi"));
    HAS(l, "expect=0");
    free(l);
    l = head_log(S("POST / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n"
                   "Content-Length: 2\r\n\r\nhi"));
    HAS(l, "expect=0");
    free(l);
    /* RFC 9110 10.1.1: ignored in an HTTP/1.0 request. */
    l = head_log(S("POST / HTTP/1.0\r\nExpect: 100-continue\r\n"
                   "Content-Length: 2\r\n\r\nhi"));
    HAS(l, "expect=0");
    free(l);
}
END_TEST

START_TEST(http_parse_upgrade_is_noted_but_parsed_as_a_request)
{
    char *l =
        head_log(S("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
                   "Upgrade: websocket\r\n\r\n"
                   "GET /next HTTP/1.1\r\nHost: h\r\n\r\n"));

    HAS(l, "GET /ws HTTP/1.1 ka=1 chunked=0 expect=0 host=1 up=1");
    HAS(l, "GET /next HTTP/1.1 ka=1 chunked=0 expect=0 host=1 up=0");
    free(l);
    /* CONNECT too is a plain request here (the router refuses it). */
    l = head_log(S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"
                   "GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    HAS(l, "CONNECT h:443 HTTP/1.1");
    HAS(l, "GET / HTTP/1.1");
    free(l);
}
END_TEST

/* ---- bodies ---- */

START_TEST(http_parse_identity_body_is_delivered_exactly)
{
    static const char body[] = "\r\n\r\n\0\xff GET / HTTP/1.1\r\n\r\n0\r\n";
    struct str b = {0};
    struct str want = {0};
    char *l;

    str_addf(&b, "PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n",
             sizeof body - 1);
    str_add(&b, body, sizeof body - 1);
    str_add(&b, S("GET /after HTTP/1.1\r\nHost: h\r\n\r\n"));
    str_addf(&want, "BODY %zu [", sizeof body - 1);
    str_add_esc(&want, body, sizeof body - 1);
    str_add(&want, S("]\nEND\nGET /after"));
    l = expect_lim(b.s, b.len, NULL, 0, "identity body");
    HAS(l, want.s);
    free(l);
    str_free(&b);
    str_free(&want);
}
END_TEST

START_TEST(http_parse_identity_body_spans_are_handed_out_in_place)
{
    static const char req[] = "POST / HTTP/1.1\r\nHost: h\r\n"
                              "Content-Length: 10\r\n\r\n0123456789";
    gh__http_field_t fields[4];
    gh__http_parser_t p;
    gh__http_span_t d;
    size_t head = sizeof req - 1 - 10;

    gh__http_parser_init(&p, NULL, fields, 4);
    ck_assert_int_eq(gh__http_parse_head(&p, req, head + 3), GH__HTTP_HEAD);
    ck_assert_uint_eq(p.head.end, head);
    ck_assert_int_eq(gh__http_parse_body(&p, req, head + 3, &d), GH__HTTP_DATA);
    ck_assert_uint_eq(d.off, head);
    ck_assert_uint_eq(d.len, 3);
    ck_assert_int_eq(gh__http_parse_body(&p, req, head + 3, &d),
                     GH__HTTP_AGAIN);
    ck_assert_int_eq(gh__http_parse_body(&p, req, sizeof req - 1, &d),
                     GH__HTTP_DATA);
    ck_assert_uint_eq(d.off, head + 3);
    ck_assert_uint_eq(d.len, 7);
    ck_assert_int_eq(gh__http_parse_body(&p, req, sizeof req - 1, &d),
                     GH__HTTP_DONE);
    ck_assert_uint_eq(gh__http_parser_offset(&p), sizeof req - 1);
}
END_TEST

START_TEST(http_parse_chunked_body_is_dechunked_with_extensions_and_trailers)
{
    static const char req[] =
        "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4;ext\r\nWiki\r\n"
        "5 ; a=b ; c=\"x;y\"\r\npedia\r\n"
        "E\r\n in\r\n\r\nchunks.\r\n"
        "00\r\n"
        "Expires: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
        "X-Sum:\t9\t\r\n"
        "\r\n";
    char *l;

    l = expect_lim(S(req), NULL, 0, "chunked");
    HAS(l, "BODY 23 [Wikipedia in\r\n\r\nchunks.]\n"
           "T Expires: Wed, 21 Oct 2015 07:28:00 GMT\n"
           "T X-Sum: 9\nEND\n");
    free(l);
}
END_TEST

START_TEST(http_parse_trailers_are_found_after_the_headers)
{
    static const char req[] =
        "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\nX-Digest: abc\r\n\r\n";
    gh__http_field_t fields[8];
    gh__http_parser_t p;
    const gh__http_head_t *h = &p.head;
    gh__http_span_t d;
    int i;

    gh__http_parser_init(&p, NULL, fields, 8);
    ck_assert_int_eq(gh__http_parse_head(&p, req, sizeof req - 1),
                     GH__HTTP_HEAD);
    ck_assert(h->chunked);
    ck_assert_int_eq(gh__http_parse_body(&p, req, sizeof req - 1, &d),
                     GH__HTTP_DONE);
    ck_assert_uint_eq(h->nheaders, 2);
    ck_assert_uint_eq(h->ntrailers, 1);
    i = gh__http_field_find(h->fields + h->nheaders, h->ntrailers, req,
                            S("x-digest"), 0);
    ck_assert_int_eq(i, 0);
    ck_assert(
        gh__http_span_eq(req, h->fields[h->nheaders + i].value, S("abc")));
    ck_assert_int_eq(
        gh__http_field_find(h->fields, h->nheaders, req, S("x-digest"), 0), -1);
}
END_TEST

START_TEST(http_parse_malformed_chunked_bodies_are_400)
{
#define CHUNKED(body)                                                          \
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" body
    EXPECT(CHUNKED("5\r\nhelloXX0\r\n\r\n"), 400);
    EXPECT(CHUNKED("5\r\nhelloX\n0\r\n\r\n"), 400);
    EXPECT(CHUNKED("5\r\nhello\rX0\r\n\r\n"), 400);
    EXPECT(CHUNKED("5\r\nhello\n0\r\n\r\n"), 400);
    EXPECT(CHUNKED("5\nhello\r\n0\r\n\r\n"), 400);
    EXPECT(CHUNKED("5\r\r\nhello\r\n0\r\n\r\n"), 400);
    EXPECT(CHUNKED("0x5\r\nhello\r\n0\r\n\r\n"), 400);
    EXPECT(CHUNKED("-5\r\nhello\r\n0\r\n\r\n"), 400);
    EXPECT(CHUNKED(" 5\r\nhello\r\n0\r\n\r\n"), 400);
    EXPECT(CHUNKED("5 \r\nhello\r\n0\r\n\r\n"), 400);
    EXPECT(CHUNKED("\r\nhello\r\n0\r\n\r\n"), 400);
    EXPECT(CHUNKED("5;a\x01\r\nhello\r\n0\r\n\r\n"), 400);
    EXPECT(CHUNKED("5;a\nb\r\nhello\r\n0\r\n\r\n"), 400);
    EXPECT(CHUNKED("0\r\nX: a\rb\r\n\r\n"), 400);
    EXPECT(CHUNKED("0\r\nX: a\n\r\n"), 400);
    EXPECT(CHUNKED("0\r\nX: a\r\n b\r\n\r\n"), 400);
    EXPECT(CHUNKED("0\r\nX : a\r\n\r\n"), 400);
    EXPECT(CHUNKED("0\r\n: a\r\n\r\n"), 400);
    EXPECT(CHUNKED("0\r\nX a\r\n\r\n"), 400);
    EXPECT(CHUNKED("0\r\nX: a\x7f\r\n\r\n"), 400);
    EXPECT(CHUNKED("0\r\n\n"), 400);
    /* BWS before an extension is allowed (RFC 9112 7.1.1). */
    EXPECT(CHUNKED("5 \t;a\r\nhello\r\n0\r\n\r\n"), 0);
#undef CHUNKED
}
END_TEST

/* ---- pipelining ---- */

START_TEST(http_parse_sixteen_pipelined_requests_are_parsed_in_order)
{
    struct str b = {0};
    char *l, *at;

    for (int i = 0; i < 16; i++) {
        switch (i % 3) {
        case 0:
            str_addf(&b, "GET /r%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
            break;
        case 1:
            str_addf(&b,
                     "POST /r%d HTTP/1.1\r\nHost: h\r\n"
                     "Content-Length: %d\r\n\r\nbody%02d",
                     i, 6, i);
            break;
        default:
            str_addf(&b,
                     "POST /r%d HTTP/1.1\r\nHost: h\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n2\r\n%02d\r\n0\r\n\r\n",
                     i, i);
            break;
        }
    }
    l = expect_lim(b.s, b.len, NULL, 0, "pipeline");
    at = l;
    for (int i = 0; i < 16; i++) {
        char want[64];
        snprintf(want, sizeof want, "/r%d HTTP/1.1", i);
        at = strstr(at, want);
        ck_assert_msg(at != NULL, "request %d missing or out of order", i);
        if (i % 3 == 1)
            snprintf(want, sizeof want, "BODY 6 [body%02d]", i);
        else if (i % 3 == 2)
            snprintf(want, sizeof want, "BODY 5 [abc%02d]", i);
        else
            snprintf(want, sizeof want, "BODY 0 []");
        at = strstr(at, want);
        ck_assert_msg(at != NULL, "body of request %d", i);
    }
    free(l);
    str_free(&b);
}
END_TEST

START_TEST(http_parse_garbage_after_a_request_is_400_on_the_next)
{
    static const char ok[] = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char *const garbage[] = {
        "XYZZY / HTTP/1.1\r\n\r\n", "\x01\x02\x03", " GET / HTTP/1.1\r\n",
        "hello world\r\n\r\n", "\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"};

    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        struct str b = {0};
        for (size_t f = 0; f < sizeof feeds / sizeof feeds[0]; f++) {
            struct outcome o;
            b.len = 0;
            str_add(&b, S(ok));
            str_add(&b, garbage[i], strlen(garbage[i]));
            run(&o, b.s, b.len, &feeds[f]);
            ck_assert_int_eq(o.nreq, 1);
            ck_assert_msg(o.status == 400, "garbage %zu: status %d", i,
                          o.status);
            outcome_free(&o);
        }
        str_free(&b);
    }
}
END_TEST

/* ---- robustness ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: fixed seed, same sequence on every run. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static bool status_known(int st)
{
    return st == 0 || st == 400 || st == 413 || st == 414 || st == 431 ||
           st == 501 || st == 505;
}

START_TEST(http_parse_truncated_valid_input_is_incomplete_never_an_error)
{
    size_t n = sizeof complex_input - 1;

    for (size_t cut = 0; cut < n; cut++) {
        struct outcome o;
        run(&o, complex_input, cut, &(struct feed){.step = 1 + cut % 5});
        ck_assert_msg(o.status == 0, "cut at %zu: status %d", cut, o.status);
        outcome_free(&o);
    }
}
END_TEST

START_TEST(http_parse_random_bytes_never_crash)
{
    static const char alphabet[] = "GET POST HTTP/1.1\r\n\r\n:; \t,0123456789"
                                   "abcdefABCDEF-chunkedHostContent-Length"
                                   "Transfer-Encoding\x00\x01\x7f\x80\xff";
    char in[512];
    gh__http_limits_t lim;

    gh__http_limits_init(&lim);
    lim.max_target = 64;
    lim.max_header_bytes = 200;
    lim.max_headers = 8;
    lim.max_chunk_line = 16;
    lim.max_body = 100;
    rng_state = 0x9e3779b97f4a7c15ULL;
    for (int it = 0; it < 4000; it++) {
        size_t n = rng() % sizeof in;
        struct outcome o;
        for (size_t i = 0; i < n; i++)
            in[i] = (it & 1) ? (char)rng()
                             : alphabet[rng() % (sizeof alphabet - 1)];
        run(&o, in, n,
            &(struct feed){.step = rng() % 9,
                           .move = (it % 7) == 0,
                           .drop = (it % 3) == 0,
                           .lim = (it % 2) ? &lim : NULL});
        ck_assert_msg(status_known(o.status), "status %d", o.status);
        outcome_free(&o);
    }
}
END_TEST

START_TEST(http_parse_mutated_valid_requests_never_crash)
{
    static const char inserts[] = "\r\n \t:;,0aZ\x00\x80";
    size_t n0 = sizeof complex_input - 1;
    char in[sizeof complex_input + 8];

    rng_state = 0x2545f4914f6cdd1dULL;
    for (int it = 0; it < 4000; it++) {
        size_t n = n0, pos;
        struct outcome o;
        memcpy(in, complex_input, n0);
        for (int m = 0; m < 1 + (int)(rng() % 3); m++) {
            pos = rng() % n;
            switch (rng() % 4) {
            case 0: /* replace */
                in[pos] = inserts[rng() % (sizeof inserts - 1)];
                break;
            case 1: /* delete */
                memmove(in + pos, in + pos + 1, n - pos - 1);
                n--;
                break;
            case 2: /* insert */
                if (n < sizeof in) {
                    memmove(in + pos + 1, in + pos, n - pos);
                    in[pos] = inserts[rng() % (sizeof inserts - 1)];
                    n++;
                }
                break;
            default: /* truncate */
                n = pos;
                break;
            }
            if (n == 0)
                break;
        }
        run(&o, in, n,
            &(struct feed){.step = rng() % 11,
                           .move = (it % 5) == 0,
                           .drop = (it % 2) == 0});
        ck_assert_msg(status_known(o.status), "status %d", o.status);
        outcome_free(&o);
    }
}
END_TEST

/* ---- reasons ---- */

START_TEST(http_parse_reasons_follow_rfc_9110)
{
    char line[64];

    ck_assert_str_eq(gh__http_reason(400), "Bad Request");
    ck_assert_str_eq(gh__http_reason(413), "Content Too Large");
    ck_assert_str_eq(gh__http_reason(414), "URI Too Long");
    ck_assert_str_eq(gh__http_reason(431), "Request Header Fields Too Large");
    ck_assert_str_eq(gh__http_reason(501), "Not Implemented");
    ck_assert_str_eq(gh__http_reason(505), "HTTP Version Not Supported");
    ck_assert_str_eq(gh__http_reason(422), "Unprocessable Content");
    ck_assert_str_eq(gh__http_reason(299), "");
    ck_assert_uint_eq(gh__http_status_line(413, line, sizeof line),
                      strlen("HTTP/1.1 413 Content Too Large\r\n"));
    ck_assert_str_eq(line, "HTTP/1.1 413 Content Too Large\r\n");
}
END_TEST

static Suite *http_parse_suite(void)
{
    Suite *s = suite_create("http_parse");
    TCase *tc = tcase_create("core");

    gh_test_tcase_setup(tc, 60);
    tcase_add_test(tc, http_parse_simple_get_fills_the_head);
    tcase_add_test(tc, http_parse_head_in_pieces_needs_more_then_completes);
    tcase_add_test(tc, http_parse_whole_input_gives_the_expected_requests);
    tcase_add_test(tc,
                   http_parse_split_at_every_boundary_gives_the_same_result);
    tcase_add_test(tc, http_parse_spans_survive_buffer_moves);
    tcase_add_test(tc, http_parse_dropping_consumed_bytes_keeps_spans_right);
    tcase_add_test(tc, http_parse_headers_are_found_ignoring_case);
    tcase_add_test(tc, http_parse_target_limit_is_414_one_past_it);
    tcase_add_test(tc,
                   http_parse_endless_empty_lines_before_a_request_are_refused);
    tcase_add_test(tc, http_parse_header_bytes_limit_is_431_one_past_it);
    tcase_add_test(tc, http_parse_header_count_limit_is_431_one_past_it);
    tcase_add_test(
        tc, http_parse_content_length_over_the_limit_is_413_before_the_body);
    tcase_add_test(tc, http_parse_chunked_body_over_the_limit_is_413);
    tcase_add_test(tc, http_parse_chunk_size_line_limit_is_400_one_past_it);
    tcase_add_test(tc, http_parse_chunk_framing_beyond_its_data_is_400);
    tcase_add_test(tc, http_parse_trailers_are_bounded_like_headers);
    tcase_add_test(tc, http_parse_content_length_with_transfer_encoding_is_400);
    tcase_add_test(tc,
                   http_parse_duplicate_content_length_is_400_even_if_equal);
    tcase_add_test(tc, http_parse_invalid_content_length_is_400);
    tcase_add_test(tc, http_parse_obs_fold_is_400);
    tcase_add_test(tc, http_parse_bare_cr_and_bare_lf_are_400);
    tcase_add_test(tc, http_parse_whitespace_before_the_colon_is_400);
    tcase_add_test(tc, http_parse_bad_header_name_characters_are_400);
    tcase_add_test(tc, http_parse_bad_header_value_characters_are_400);
    tcase_add_test(tc, http_parse_bad_request_lines_are_400);
    tcase_add_test(tc,
                   http_parse_transfer_encoding_not_ending_in_chunked_is_400);
    tcase_add_test(tc, http_parse_chunked_applied_twice_is_400);
    tcase_add_test(tc, http_parse_transfer_coding_before_chunked_is_501);
    tcase_add_test(tc, http_parse_transfer_encoding_on_http_1_0_is_400);
    tcase_add_test(tc, http_parse_unsupported_versions_are_505);
    tcase_add_test(tc, http_parse_host_is_required_once_on_http_1_1);
    tcase_add_test(tc, http_parse_invalid_host_is_400);
    tcase_add_test(tc,
                   http_parse_keep_alive_follows_the_version_and_connection);
    tcase_add_test(tc, http_parse_expect_100_continue_is_flagged_on_http_1_1);
    tcase_add_test(tc, http_parse_upgrade_is_noted_but_parsed_as_a_request);
    tcase_add_test(tc, http_parse_identity_body_is_delivered_exactly);
    tcase_add_test(tc, http_parse_identity_body_spans_are_handed_out_in_place);
    tcase_add_test(
        tc, http_parse_chunked_body_is_dechunked_with_extensions_and_trailers);
    tcase_add_test(tc, http_parse_trailers_are_found_after_the_headers);
    tcase_add_test(tc, http_parse_malformed_chunked_bodies_are_400);
    tcase_add_test(tc,
                   http_parse_sixteen_pipelined_requests_are_parsed_in_order);
    tcase_add_test(tc, http_parse_garbage_after_a_request_is_400_on_the_next);
    tcase_add_test(
        tc, http_parse_truncated_valid_input_is_incomplete_never_an_error);
    tcase_add_test(tc, http_parse_random_bytes_never_crash);
    tcase_add_test(tc, http_parse_mutated_valid_requests_never_crash);
    tcase_add_test(tc, http_parse_reasons_follow_rfc_9110);
    suite_add_tcase(s, tc);
    return s;
}

GH_CHECK_MAIN(http_parse_suite)
