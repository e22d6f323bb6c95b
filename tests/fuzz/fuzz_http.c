/*
 * fuzz_http.c - a libFuzzer target for the HTTP/1.x request parser
 * (lib/http/parse.c: llhttp's glue, the limits, the body decoder).
 *
 * Input: byte 0 picks the limits (small ones, so that every bound is
 * reached), byte 1 seeds how the rest is cut into reads; the rest is what
 * a client sent on one connection.  The stream is parsed twice, the way a
 * connection does (heads, bodies, trailers, pipelined requests), once
 * with every byte given at once and once a few bytes at a time, the
 * buffer moved to a fresh allocation before every call (so a pointer kept
 * across calls reads freed memory under ASan) and consumed bytes dropped
 * now and then.  Checked:
 *   - both runs give the same transcript: each head (method, version,
 *     flags, target, fields), each decoded body, each trailer section,
 *     and whether they stop at an error or at the end of the input; the
 *     verdict never depends on how the bytes arrived (but for which
 *     status refuses a stream that breaks two rules: see
 *     same_transcript());
 *   - a head lies within the bytes given; its target, names and values
 *     lie inside it; names are tokens; values are field characters
 *     without surrounding whitespace; the counts and lengths keep the
 *     limits; a body never exceeds max_body nor Content-Length;
 *   - an error is one of the statuses the parser documents;
 *   - line_ends_ok(), the parser's vector scan for bare CR, bare LF and
 *     obs-fold, agrees with a byte-at-a-time scan on every input.  To
 *     reach that static function this file includes parse.c itself.
 *
 * Built two ways (tests/fuzz/Makemodule.am): with libFuzzer by `make fuzz`,
 * and with standalone_main.c for `make check`, which runs the seed corpus.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NFIELDS 64

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_http: broken invariant: %s\n", what);
        abort();
    }
}

/* ---- a growing byte string: the transcript of one run ---- */

typedef struct bytes {
    unsigned char *p;
    size_t len, cap;
} bytes_t;

static void put(bytes_t *b, const void *s, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        if (!(b->p = realloc(b->p, cap)))
            abort();
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_u64(bytes_t *b, uint64_t v)
{
    put(b, &v, sizeof v);
}

/* A length-prefixed span of buf. */
static void put_span(bytes_t *b, const char *buf, gh__http_span_t s)
{
    put_u64(b, s.len);
    put(b, buf + s.off, s.len);
}

/* ---- the checks on a head ---- */

/* The scan line_ends_ok() must agree with, one byte pair at a time. */
static bool line_ends_slow(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'))
            return false;
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
            return false;
        if (s[i] == '\n' && i + 1 < n && (s[i + 1] == ' ' || s[i + 1] == '\t'))
            return false;
    }
    return true;
}

static bool inside(gh__http_span_t s, uint32_t from, uint32_t to)
{
    return s.off >= from && s.len <= to - from &&
           s.off - from <= to - from - s.len;
}

static void check_field(const char *buf, const gh__http_field_t *f,
                        uint32_t from, uint32_t to)
{
    check(inside(f->name, from, to) && inside(f->value, from, to),
          "a field lies within its section");
    check(f->name.len > 0, "a field has a name");
    for (uint32_t i = 0; i < f->name.len; i++)
        check(is_tchar((unsigned char)buf[f->name.off + i]),
              "names are tokens");
    for (uint32_t i = 0; i < f->value.len; i++)
        check(is_field_char((unsigned char)buf[f->value.off + i]),
              "values are field characters");
    if (f->value.len)
        check(!is_ows((unsigned char)buf[f->value.off]) &&
                  !is_ows((unsigned char)buf[f->value.off + f->value.len - 1]),
              "values are trimmed");
}

static void check_head(const gh__http_parser_t *p, const char *buf,
                       uint32_t len, uint32_t base)
{
    const gh__http_head_t *h = &p->head;
    const gh__http_limits_t *l = &p->_lim;

    check(h->start >= base && h->start < h->end && h->end <= len,
          "the head lies within the bytes given");
    check(h->end == gh__http_parser_offset(p), "the head ends at the offset");
    check(line_ends_slow((const unsigned char *)buf + base, h->end - base),
          "a head has only CRLF line ends");
    check(inside(h->target, h->start, h->end) && h->target.len > 0 &&
              h->target.len <= l->max_target,
          "the target lies within the head and the limit");
    check(h->nheaders <= l->max_headers && h->nheaders <= NFIELDS,
          "the header count keeps the limit");
    check(h->version_major == 1 && h->version_minor <= 1, "HTTP/1.0 or 1.1");
    check(!(h->chunked && h->has_content_length), "one framing");
    check(!h->has_content_length || h->content_length <= l->max_body,
          "Content-Length within max_body");
    check(h->version_minor == 0 || h->has_host, "HTTP/1.1 has a Host");
    for (uint32_t i = 0; i < h->nheaders; i++)
        check_field(buf, &h->fields[i], h->start, h->end);
}

/* ---- one run over the stream ---- */

/* How the bytes arrive: all at once (seed 0), or in pieces of 1 to 64
 * bytes drawn from a xorshift generator. */
typedef struct feed {
    const uint8_t *in;
    size_t n, fed;
    uint32_t rng;
} feed_t;

static uint32_t next_rand(feed_t *f)
{
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 17;
    f->rng ^= f->rng << 5;
    return f->rng;
}

/* Append the next piece to *buf (moving it to a new allocation); false
 * when the input is used up. */
static bool feed_more(feed_t *f, char **buf, uint32_t *len)
{
    size_t piece = f->rng ? 1 + next_rand(f) % 64 : f->n;
    char *nb;

    if (f->fed == f->n)
        return false;
    if (piece > f->n - f->fed)
        piece = f->n - f->fed;
    if (!(nb = malloc(*len + piece)))
        abort();
    if (*len)
        memcpy(nb, *buf, *len);
    memcpy(nb + *len, f->in + f->fed, piece);
    free(*buf);
    *buf = nb;
    *len += (uint32_t)piece;
    f->fed += piece;
    return true;
}

/* Remove [from, to) from the buffer, as a connection does. */
static void drop(gh__http_parser_t *p, char *buf, uint32_t *len, uint32_t from,
                 uint32_t to)
{
    memmove(buf + from, buf + to, *len - to);
    *len -= to - from;
    gh__http_parser_drop(p, from, to);
}

static bool known_status(int st)
{
    return st == 400 || st == 413 || st == 414 || st == 431 || st == 501 ||
           st == 505;
}

static void run(const gh__http_limits_t *lim, feed_t *f, bytes_t *t)
{
    gh__http_field_t fields[NFIELDS];
    gh__http_parser_t p;
    bytes_t body = {0}; /* the current request's decoded body */
    char *buf = NULL;
    uint32_t len = 0, base = 0;
    bool in_body = false;
    int r;

    gh__http_parser_init(&p, lim, fields, NFIELDS);
    if (!feed_more(f, &buf, &len))
        return;
    for (;;) {
        gh__http_span_t d;
        uint32_t off = gh__http_parser_offset(&p);

        if (!in_body) {
            r = gh__http_parse_head(&p, buf, len);
            if (r == GH__HTTP_HEAD) {
                const gh__http_head_t *h = &p.head;
                check_head(&p, buf, len, base);
                put(t, "H", 1);
                put(t, &h->method, 1);
                put(t, &h->version_minor, 1);
                put_u64(t, (uint64_t)h->chunked | h->keep_alive << 1 |
                               h->expect_continue << 2 | h->has_host << 3 |
                               h->upgrade << 4 | h->has_content_length << 5);
                put_u64(t, h->content_length);
                put_span(t, buf, h->target);
                for (uint32_t i = 0; i < h->nheaders; i++) {
                    put_span(t, buf, h->fields[i].name);
                    put_span(t, buf, h->fields[i].value);
                }
                in_body = true;
                body.len = 0;
                continue;
            }
        } else {
            r = gh__http_parse_body(&p, buf, len, &d);
            if (r == GH__HTTP_DATA) {
                check(d.len > 0 && d.off >= off && d.off + d.len <= len &&
                          d.off + d.len == gh__http_parser_offset(&p),
                      "body data comes from the bytes given, in order");
                put(&body, buf + d.off, d.len);
                check(body.len <= p._lim.max_body, "the body keeps max_body");
                check(!p.head.has_content_length ||
                          body.len <= p.head.content_length,
                      "the body keeps Content-Length");
                /* The data was used: a connection may drop it. */
                if (f->rng && next_rand(f) % 4 == 0)
                    drop(&p, buf, &len, p.head.end,
                         gh__http_parser_body_keep(&p));
                continue;
            }
            if (r == GH__HTTP_DONE) {
                const gh__http_head_t *h = &p.head;
                check(!h->has_content_length || body.len == h->content_length,
                      "an identity body is Content-Length bytes");
                put(t, "B", 1);
                put_u64(t, body.len);
                put(t, body.p, body.len);
                check(h->nheaders + h->ntrailers <= p._lim.max_headers &&
                          h->nheaders + h->ntrailers <= NFIELDS,
                      "the field count keeps the limit");
                put(t, "T", 1);
                for (uint32_t i = h->nheaders; i < h->nheaders + h->ntrailers;
                     i++) {
                    check_field(buf, &h->fields[i], h->end,
                                gh__http_parser_offset(&p));
                    put_span(t, buf, h->fields[i].name);
                    put_span(t, buf, h->fields[i].value);
                }
                gh__http_parser_next(&p);
                in_body = false;
                base = gh__http_parser_offset(&p);
                if (f->rng && next_rand(f) % 2 == 0) {
                    drop(&p, buf, &len, 0, base);
                    base = 0;
                }
                continue;
            }
        }
        if (r == GH__HTTP_ERROR) {
            int st = gh__http_parser_status(&p);
            check(known_status(st), "an error has a known status");
            put(t, "E", 1);
            put_u64(t, (uint64_t)st);
            break;
        }
        check(r == GH__HTTP_AGAIN, "a known result");
        check(in_body || gh__http_parser_offset(&p) == len,
              "a head's AGAIN used every byte");
        /* Room for more, as a connection makes it: trailer lines already
         * parsed move down with the rest. */
        if (in_body && f->rng && next_rand(f) % 2 == 0)
            drop(&p, buf, &len, p.head.end, gh__http_parser_body_keep(&p));
        if (!feed_more(f, &buf, &len)) {
            put(t, in_body ? "b" : "h", 1); /* the input ended mid-request */
            break;
        }
    }
    if (in_body) { /* the body so far, before the error or the end */
        put_u64(t, body.len);
        put(t, body.p, body.len);
    }
    free(body.p);
    free(buf);
}

/*
 * Whether two runs' transcripts agree.  A stream that breaks two rules may
 * be refused for either, depending on which check met its bytes first: a
 * limit is checked whenever the input runs out, the line ends once the
 * head is complete.  So when both runs end in an error at the same point,
 * their statuses may differ (both are known statuses, checked above).
 */
static bool same_transcript(const bytes_t *a, const bytes_t *b)
{
    size_t tail = 1 + sizeof(uint64_t); /* "E" and the status */

    if (a->len != b->len)
        return false;
    if (a->len == 0 || memcmp(a->p, b->p, a->len) == 0)
        return true;
    return a->len >= tail && a->p[a->len - tail] == 'E' &&
           b->p[b->len - tail] == 'E' && memcmp(a->p, b->p, a->len - tail) == 0;
}

/* ---- the target ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t targets[] = {GH__HTTP_MAX_TARGET, 8, 40, 200};
    static const uint32_t hbytes[] = {GH__HTTP_MAX_HEADER_BYTES, 16, 60, 300};
    static const uint32_t counts[] = {GH__HTTP_MAX_HEADERS, 0, 2, 8};
    static const uint64_t bodies[] = {GH__HTTP_MAX_BODY, 0, 5, 100};
    gh__http_limits_t lim;
    bytes_t whole = {0}, pieces = {0};
    feed_t f;

    if (size < 2)
        return 0;
    check(line_ends_ok((const char *)data, size) == line_ends_slow(data, size),
          "line_ends_ok agrees with the byte-at-a-time scan");
    gh__http_limits_init(&lim);
    lim.max_target = targets[data[0] & 3];
    lim.max_header_bytes = hbytes[data[0] >> 2 & 3];
    lim.max_headers = counts[data[0] >> 4 & 3];
    lim.max_body = bodies[data[0] >> 6 & 3];
    lim.max_chunk_line = data[0] & 0x40 ? 6 : GH__HTTP_MAX_CHUNK_LINE;

    f = (feed_t){.in = data + 2, .n = size - 2};
    run(&lim, &f, &whole);
    f = (feed_t){
        .in = data + 2, .n = size - 2, .rng = data[1] * 2654435761u | 1};
    run(&lim, &f, &pieces);
    check(same_transcript(&whole, &pieces),
          "the same stream cut differently parses the same");
    free(whole.p);
    free(pieces.p);
    return 0;
}
