/*
 * parse.c - the HTTP/1.x request parser: llhttp glue for the head, our own
 * decoder for the body, limits and request-smuggling defences.
 *
 * Head.  llhttp parses the request line and header fields; its callbacks
 * only record spans and flags.  A span callback gets a pointer into the
 * bytes of the current call, which becomes an offset from the start of the
 * caller's buffer (p->_buf) at once: nothing keeps a pointer across calls,
 * so the caller may move its buffer between them.  llhttp may deliver one
 * string in several pieces (it flushes open spans at the end of each
 * input); the pieces are adjacent in the caller's buffer, so a span is its
 * first piece's offset and its last piece's end.  on_headers_complete
 * pauses llhttp, which tells us where the head ends; llhttp never sees the
 * body and is reset for each request.  As llhttp is never resumed past
 * the head, its upgrade handling (Connection: upgrade, CONNECT) never runs:
 * such requests are plain requests here, the upgrade merely noted.
 *
 * What llhttp refuses by itself in every build (it may be compiled with or
 * without LLHTTP_STRICT_MODE, or be a newer system library): unknown
 * methods (400: an unknown token and garbage look the same to it), bad
 * request-target bytes (controls, spaces), malformed versions and versions
 * other than 0.9, 1.0, 1.1 and 2.0, header names with separators or controls,
 * controls in values, a CR or LF inside a field line, a space before the first
 * header, Content-Length that is empty, signed, non-decimal, a list,
 * overflowing or repeated, and Content-Length together with
 * Transfer-Encoding.  What it lets through without strict mode, and what
 * we therefore check ourselves, whichever llhttp we run on:
 *   - bare LF and bare CR as line ends, and obs-fold (a line starting with
 *     SP/HTAB): one pass over the complete head (line_ends_ok) requires
 *     every CR to be followed by LF, every LF preceded by CR and never
 *     followed by SP or HTAB;
 *   - whitespace inside or at the end of a header name, an empty name:
 *     every name is checked against tchar;
 *   - bytes >= 0x80 in the request-target;
 *   - HTTP/2.0 and HTTP/0.9, which llhttp accepts: 505;
 *   - transfer codings: only a lone "chunked" is accepted.  A list whose
 *     final coding is not "chunked", or with "chunked" twice, is 400 (the
 *     body's end is unknown: RFC 9112 6.3, 7.1), as is any on HTTP/1.0,
 *     where Transfer-Encoding makes the framing faulty; other codings
 *     before the final "chunked" are 501.  A strict llhttp itself refuses
 *     "chunked" followed by anything (HPE_INVALID_TRANSFER_ENCODING): 400;
 *   - Host (exactly one on HTTP/1.1, never two, and a valid uri-host with
 *     an optional port), Content-Length (counted and parsed again, so no
 *     llhttp leniency can matter) and Expect.
 *
 * Limits.  The request-target is bounded in on_url as it grows (414); the
 * request line as a whole (with any empty lines before it) by max_target +
 * GH__HTTP_REQLINE_SLACK, as it grows and when the head is complete; the
 * header section (from the byte after the request line's CRLF through the
 * empty line's CRLF) after each call and when the head completes (431):
 * since it is measured on offsets, the verdict does not depend on how the
 * bytes were split across reads.  The field count is checked as each field
 * starts (431).
 *
 * Body.  Our own decoder (llhttp without strict mode takes any two bytes
 * after chunk data for its CRLF, allows endless leading zeros in a
 * chunk-size, and reports body bytes only through callbacks), fed from the
 * same buffer: an identity body is
 * handed out as spans of the input; a chunked one is de-chunked by a small
 * state machine that hands out the chunk data as spans, bounds the
 * chunk-size line (size and extensions, which are ignored), requires CRLF
 * after every line and chunk, and checks each chunk's size against
 * max_body before its data arrives (413).  Trailer lines are parsed and
 * validated here, bounded like the header section, and appended to the
 * field array.  Invariants: p->_off only moves forward (but for
 * gh__http_parser_drop(), which moves everything together); body bytes
 * before it have been validated, and all of the head when
 * GH__HTTP_HEAD is returned; the parser keeps no pointer into the
 * caller's buffer between calls.
 */
#include "config.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "http/parse.h"

enum state {
    ST_HEAD,
    ST_IDENTITY,
    ST_CHUNK_SIZE,      /* the first hex digit of a chunk-size */
    ST_CHUNK_SIZE_MORE, /* more digits, then ';', BWS or CR */
    ST_CHUNK_BWS,       /* whitespace after the size: ';' must follow */
    ST_CHUNK_EXT,       /* extensions, ignored, up to CR */
    ST_CHUNK_SIZE_LF,
    ST_CHUNK_DATA,
    ST_CHUNK_DATA_CR,
    ST_CHUNK_DATA_LF,
    ST_TRAILER, /* at the start of a trailer line */
    ST_DONE,
    ST_ERROR
};

/* p->_in: which span is being built from llhttp's pieces. */
enum { IN_TARGET = 1, IN_VERSION = 2, IN_NAME = 4, IN_VALUE = 8 };

/* p->_seen: header fields met so far. */
enum {
    SEEN_HOST = 1,
    SEEN_CL = 2,
    SEEN_TE = 4,
    SEEN_TE_CHUNKED_LAST = 8, /* the last transfer coding is "chunked" */
    SEEN_EXPECT_CONTINUE = 16,
    SEEN_TE_CHUNKED_EARLY = 32 /* a coding followed "chunked" */
};

/* p->_kind: the header fields we act on. */
enum { K_OTHER, K_HOST, K_CONTENT_LENGTH, K_TRANSFER_ENCODING, K_EXPECT };

/* ---- characters ---- */

const uint8_t gh__http_tchar[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['!'] = 1,
    ['#'] = 1,         ['$'] = 1,         ['%'] = 1,         ['&'] = 1,
    ['\''] = 1,        ['*'] = 1,         ['+'] = 1,         ['-'] = 1,
    ['.'] = 1,         ['^'] = 1,         ['_'] = 1,         ['`'] = 1,
    ['|'] = 1,         ['~'] = 1,
};

static inline bool is_tchar(unsigned char c)
{
    return gh__http_tchar[c];
}

static inline bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/*
 * unreserved and sub-delims (RFC 3986 2.2, 2.3): the bytes of a reg-name
 * or an IPv4address besides percent-escapes, and with ':' what we allow
 * between an IP-literal's brackets.
 */
static const uint8_t host_char[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['-'] = 1,
    ['.'] = 1,         ['_'] = 1,         ['~'] = 1,         ['!'] = 1,
    ['$'] = 1,         ['&'] = 1,         ['\''] = 1,        ['('] = 1,
    [')'] = 1,         ['*'] = 1,         ['+'] = 1,         [','] = 1,
    [';'] = 1,         ['='] = 1,
};

/* field-vchar, SP and HTAB: anything but controls (obs-text included). */
static inline bool is_field_char(unsigned char c)
{
    return (c >= 0x20 && c != 0x7f) || c == '\t';
}

/* ---- small helpers ---- */

static int fail(gh__http_parser_t *p, int status)
{
    if (p->_status == 0)
        p->_status = (uint16_t)status;
    p->_state = ST_ERROR;
    return GH__HTTP_ERROR;
}

/* Make a callback return an error; the status is kept for later. */
static int cb_fail(gh__http_parser_t *p, int status)
{
    if (p->_status == 0)
        p->_status = (uint16_t)status;
    return HPE_USER;
}

static uint32_t field_limit(const gh__http_parser_t *p)
{
    return p->_cap < p->_lim.max_headers ? p->_cap : p->_lim.max_headers;
}

/* Extend span s with a piece llhttp delivered; flag says it is open. */
static void span_add(gh__http_parser_t *p, gh__http_span_t *s, uint8_t flag,
                     const char *at, size_t n)
{
    uint32_t o = (uint32_t)(at - p->_buf);

    if (!(p->_in & flag)) {
        s->off = o;
        p->_in |= flag;
    }
    s->len = o + (uint32_t)n - s->off;
}

static gh__http_parser_t *parser_of(llhttp_t *ll)
{
    return ll->data;
}

/* ---- llhttp callbacks: record spans and flags, nothing else ---- */

static int on_url(llhttp_t *ll, const char *at, size_t n)
{
    gh__http_parser_t *p = parser_of(ll);

    span_add(p, &p->head.target, IN_TARGET, at, n);
    if (p->head.target.len > p->_lim.max_target)
        return cb_fail(p, 414);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)at[i] >= 0x80)
            return cb_fail(p, 400);
    return 0;
}

static int on_version(llhttp_t *ll, const char *at, size_t n)
{
    gh__http_parser_t *p = parser_of(ll);

    span_add(p, &p->_version, IN_VERSION, at, n);
    return 0;
}

static int on_version_complete(llhttp_t *ll)
{
    gh__http_parser_t *p = parser_of(ll);

    /* llhttp requires the CRLF that follows; line_ends_ok() checks it. */
    p->_reqline_end = p->_version.off + p->_version.len + 2;
    p->_in &= (uint8_t)~IN_VERSION;
    return 0;
}

static int on_header_field(llhttp_t *ll, const char *at, size_t n)
{
    gh__http_parser_t *p = parser_of(ll);
    gh__http_field_t *f = &p->head.fields[p->head.nheaders];

    if (!(p->_in & IN_NAME) && p->head.nheaders >= field_limit(p))
        return cb_fail(p, 431);
    span_add(p, &f->name, IN_NAME, at, n);
    return 0;
}

static uint8_t classify(const char *s, uint32_t n)
{
    switch (n) {
    case 4:
        return gh__http_eq_ci(s, "host", 4) ? K_HOST : K_OTHER;
    case 6:
        return gh__http_eq_ci(s, "expect", 6) ? K_EXPECT : K_OTHER;
    case 14:
        return gh__http_eq_ci(s, "content-length", 14) ? K_CONTENT_LENGTH
                                                       : K_OTHER;
    case 17:
        return gh__http_eq_ci(s, "transfer-encoding", 17) ? K_TRANSFER_ENCODING
                                                          : K_OTHER;
    default:
        return K_OTHER;
    }
}

static int on_header_field_complete(llhttp_t *ll)
{
    gh__http_parser_t *p = parser_of(ll);
    gh__http_field_t *f = &p->head.fields[p->head.nheaders];
    const char *s;

    if (!(p->_in & IN_NAME) || f->name.len == 0)
        return cb_fail(p, 400);
    s = p->_buf + f->name.off;
    for (uint32_t i = 0; i < f->name.len; i++)
        if (!is_tchar((unsigned char)s[i]))
            return cb_fail(p, 400);
    p->_in &= (uint8_t)~IN_NAME;
    p->_kind = classify(s, f->name.len);
    return 0;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t n)
{
    gh__http_parser_t *p = parser_of(ll);

    span_add(p, &p->head.fields[p->head.nheaders].value, IN_VALUE, at, n);
    return 0;
}

/* Content-Length = 1*DIGIT, without overflow; one field only. */
static int content_length(gh__http_parser_t *p, const char *s, uint32_t n)
{
    uint64_t v = 0;

    if ((p->_seen & SEEN_CL) || n == 0)
        return 400;
    for (uint32_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - (unsigned)'0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return 400;
        v = v * 10 + d;
    }
    p->_seen |= SEEN_CL;
    p->head.content_length = v;
    return 0;
}

/*
 * The length of the IP-literal at s ("[" ... "]"), or UINT32_MAX.  Its
 * inside is checked loosely, for the bytes that IPv6address and IPvFuture
 * may hold: what matters is that no byte which would end the authority or
 * change its meaning ('/', '?', '#', '@', '%', a bracket, whitespace)
 * reaches handlers.
 */
static uint32_t ip_literal_len(const char *s, uint32_t n)
{
    uint32_t i = 1;

    while (i < n && (host_char[(unsigned char)s[i]] || s[i] == ':'))
        i++;
    return i > 1 && i < n && s[i] == ']' ? i + 1 : UINT32_MAX;
}

/* The length of the reg-name or IPv4address at s (it may be empty), up to
 * ':' or n, or UINT32_MAX at a bad byte or escape. */
static uint32_t reg_name_len(const char *s, uint32_t n)
{
    uint32_t i = 0;

    while (i < n && s[i] != ':') {
        /* An encoded NUL is refused as in request-targets: a handler
         * that decodes the name would find it cut short. */
        if (s[i] == '%' && gh__http_escape_at(s + i, n - i) >= 0)
            i += 3;
        else if (host_char[(unsigned char)s[i]])
            i++;
        else
            return UINT32_MAX;
    }
    return i;
}

/*
 * Host = uri-host [ ":" port ], port = *DIGIT (RFC 9110 7.2, RFC 3986
 * 3.2.2).  An empty value is valid: HTTP/1.1 sends it for targets that
 * have no authority.  A malformed one is a 400 (RFC 9112 3.2) rather than
 * a string that handlers would take for a host name.
 */
bool gh__http_host_ok(const char *s, uint32_t n)
{
    uint32_t i =
        n > 0 && s[0] == '[' ? ip_literal_len(s, n) : reg_name_len(s, n);

    if (i == UINT32_MAX || (i < n && s[i] != ':'))
        return false;
    for (i++; i < n; i++)
        if ((unsigned)(s[i] - '0') > 9)
            return false;
    return true;
}

/*
 * Transfer-Encoding = #transfer-coding: count the codings across all such
 * fields, note whether the last one is "chunked" and whether one came
 * after a "chunked".  Empty list elements are allowed (RFC 9110 5.6.1);
 * parameters make a coding unknown.
 */
static void transfer_encoding(gh__http_parser_t *p, const char *s, uint32_t n)
{
    uint32_t i = 0;

    p->_seen |= SEEN_TE;
    while (i < n) {
        uint32_t b, e;
        while (i < n && (is_ows((unsigned char)s[i]) || s[i] == ','))
            i++;
        if (i == n)
            break;
        b = i;
        while (i < n && s[i] != ',')
            i++;
        e = i;
        while (e > b && is_ows((unsigned char)s[e - 1]))
            e--;
        if (p->_te_codings < UINT8_MAX)
            p->_te_codings++;
        if (p->_seen & SEEN_TE_CHUNKED_LAST)
            p->_seen |= SEEN_TE_CHUNKED_EARLY;
        if (e - b == 7 && gh__http_eq_ci(s + b, "chunked", 7))
            p->_seen |= SEEN_TE_CHUNKED_LAST;
        else
            p->_seen &= (uint8_t)~SEEN_TE_CHUNKED_LAST;
    }
}

static int on_header_value_complete(llhttp_t *ll)
{
    gh__http_parser_t *p = parser_of(ll);
    gh__http_field_t *f = &p->head.fields[p->head.nheaders];
    const char *s;
    int st = 0;

    if (!(p->_in & IN_VALUE))
        f->value = (gh__http_span_t){f->name.off + f->name.len + 1, 0};
    p->_in &= (uint8_t)~IN_VALUE;
    s = p->_buf + f->value.off;
    while (f->value.len > 0 && is_ows((unsigned char)s[f->value.len - 1]))
        f->value.len--;
    switch (p->_kind) {
    case K_HOST:
        st = (p->_seen & SEEN_HOST) || !gh__http_host_ok(s, f->value.len)
                 ? 400
                 : 0;
        p->_seen |= SEEN_HOST;
        break;
    case K_CONTENT_LENGTH:
        st = content_length(p, s, f->value.len);
        break;
    case K_TRANSFER_ENCODING:
        transfer_encoding(p, s, f->value.len);
        break;
    case K_EXPECT:
        if (f->value.len == 12 && gh__http_eq_ci(s, "100-continue", 12))
            p->_seen |= SEEN_EXPECT_CONTINUE;
        break;
    }
    p->head.nheaders++;
    return st ? cb_fail(p, st) : 0;
}

static int on_headers_complete(llhttp_t *ll)
{
    /* Stop here: llhttp reports where the head ends; the body is ours. */
    (void)ll;
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_url = on_url,
    .on_version = on_version,
    .on_version_complete = on_version_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
};

/* ---- the head ---- */

/*
 * Every CR is followed by LF, every LF preceded by CR and not followed by
 * SP or HTAB (obs-fold).  Bare CR, bare LF and obs-fold are the line-end
 * ambiguities request smuggling relies on; RFC 9112 allows refusing them.
 * This runs over every head, so it looks at 16 byte pairs (s[i], s[i+1])
 * at a time with GCC's vector extensions (SSE2, NEON): a third of the cost
 * of memchr() from line to line on a typical 300-byte head.
 */
typedef unsigned char v16u_t __attribute__((vector_size(16)));
typedef signed char v16s_t __attribute__((vector_size(16)));

static bool line_ends_ok(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    v16s_t bad = {0};
    uint64_t w[2];
    size_t i = 0;

    if (n == 0)
        return true;
    if (u[0] == '\n' || u[n - 1] == '\r')
        return false;
    for (; i + 17 <= n; i += 16) {
        v16u_t a, b;
        memcpy(&a, u + i, 16);
        memcpy(&b, u + i + 1, 16);
        bad |= (b == '\n') ^ (a == '\r');
        bad |= (a == '\n') & ((b == ' ') | (b == '\t'));
    }
    memcpy(w, &bad, sizeof w);
    if (w[0] | w[1])
        return false;
    for (; i + 1 < n; i++) {
        unsigned char a = u[i], b = u[i + 1];
        if ((b == '\n') != (a == '\r') || (a == '\n' && is_ows(b)))
            return false;
    }
    return true;
}

/* Framing: Content-Length, Transfer-Encoding and where the body ends. */
static int head_framing(gh__http_parser_t *p)
{
    gh__http_head_t *h = &p->head;

    if ((p->_seen & SEEN_CL) && (p->_seen & SEEN_TE))
        return 400;
    if (p->_seen & SEEN_TE) {
        if (h->version_minor == 0)
            return 400; /* RFC 9112 6.1: the framing is faulty */
        /* RFC 9112 6.3 and 7.1: unless "chunked" is the final coding, and
         * the only "chunked", the body's end is unknown.  Other codings
         * before it leave a body we could delimit but cannot decode. */
        if (!(p->_seen & SEEN_TE_CHUNKED_LAST) ||
            (p->_seen & SEEN_TE_CHUNKED_EARLY))
            return 400;
        if (p->_te_codings != 1)
            return 501;
        h->chunked = true;
        p->_state = ST_CHUNK_SIZE;
        return 0;
    }
    h->has_content_length = (p->_seen & SEEN_CL) != 0;
    if (h->has_content_length && h->content_length > p->_lim.max_body)
        return 413;
    p->_left = h->has_content_length ? h->content_length : 0;
    p->_state = ST_IDENTITY;
    return 0;
}

/* The request line, with any empty lines before it, is over its bound
 * (len: the bytes given, while the line is not complete).  Checked on
 * every call, complete or not, so the verdict does not depend on whether
 * the line arrived whole. */
static bool reqline_too_long(const gh__http_parser_t *p, uint32_t len)
{
    uint32_t end = p->_reqline_end != 0 ? p->_reqline_end : len;

    return end - p->_base > p->_lim.max_target + GH__HTTP_REQLINE_SLACK;
}

/* The head ends at offset end: the checks that need all of it. */
static int finish_head(gh__http_parser_t *p, const char *buf, uint32_t end)
{
    gh__http_head_t *h = &p->head;
    int st;

    h->end = end;
    if (reqline_too_long(p, end))
        return fail(p, 400);
    if (p->_reqline_end != 0 && end > p->_reqline_end &&
        end - p->_reqline_end > p->_lim.max_header_bytes)
        return fail(p, 431);
    if (!line_ends_ok(buf + p->_base, end - p->_base))
        return fail(p, 400);
    h->version_major = llhttp_get_http_major(&p->_ll);
    h->version_minor = llhttp_get_http_minor(&p->_ll);
    if (h->version_major != 1 || h->version_minor > 1)
        return fail(p, 505);
    h->method = llhttp_get_method(&p->_ll);
    h->has_host = (p->_seen & SEEN_HOST) != 0;
    if (h->version_minor == 1 && !h->has_host)
        return fail(p, 400);
    if ((st = head_framing(p)) != 0)
        return fail(p, st);
    h->keep_alive = llhttp_should_keep_alive(&p->_ll) != 0;
    h->expect_continue =
        h->version_minor == 1 && (p->_seen & SEEN_EXPECT_CONTINUE);
    h->upgrade = (p->_ll.flags & F_CONNECTION_UPGRADE) != 0;
    for (h->start = p->_base;
         h->start < end && (buf[h->start] == '\r' || buf[h->start] == '\n');)
        h->start++;
    return GH__HTTP_HEAD;
}

/* "HTTP/d.d" with a version we do not speak, rather than a malformed one. */
static bool version_unsupported(const gh__http_parser_t *p, const char *buf)
{
    const char *v = buf + p->_version.off;

    if (!(p->_in & IN_VERSION) || p->_version.len != 3)
        return false;
    return v[0] >= '0' && v[0] <= '9' && v[1] == '.' && v[2] >= '0' &&
           v[2] <= '9' && !(v[0] == '1' && (v[2] == '0' || v[2] == '1'));
}

static int llhttp_failed(gh__http_parser_t *p, const char *buf,
                         llhttp_errno_t err)
{
    if (p->_status != 0) /* one of our callbacks refused */
        return fail(p, p->_status);
    switch (err) {
    case HPE_INVALID_VERSION:
        return fail(p, version_unsupported(p, buf) ? 505 : 400);
    case HPE_PAUSED_H2_UPGRADE: /* "PRI * HTTP/2.0": a prior-knowledge h2 */
        return fail(p, 505);
    default: /* HPE_INVALID_TRANSFER_ENCODING too, as in head_framing() */
        return fail(p, 400);
    }
}

/* All of the input was used and the head is not complete yet. */
static int head_partial(gh__http_parser_t *p, uint32_t len)
{
    if (reqline_too_long(p, len))
        return fail(p, 400);
    if (p->_reqline_end != 0 && len > p->_reqline_end &&
        len - p->_reqline_end > p->_lim.max_header_bytes)
        return fail(p, 431);
    return GH__HTTP_AGAIN;
}

int gh__http_parse_head(gh__http_parser_t *p, const char *buf, size_t len)
{
    llhttp_errno_t err;
    int rc;

    if (p->_state != ST_HEAD)
        return p->_state == ST_ERROR ? GH__HTTP_ERROR : GH__HTTP_HEAD;
    assert(len >= p->_off && len <= UINT32_MAX);
    p->_buf = buf;
    err = llhttp_execute(&p->_ll, buf + p->_off, len - p->_off);
    if (err == HPE_OK) {
        p->_off = (uint32_t)len;
        rc = head_partial(p, (uint32_t)len);
    } else if (err == HPE_PAUSED && p->_status == 0) {
        p->_off = (uint32_t)(llhttp_get_error_pos(&p->_ll) - buf);
        rc = finish_head(p, buf, p->_off);
    } else {
        rc = llhttp_failed(p, buf, err);
    }
    p->_buf = NULL;
    return rc;
}

/* ---- the body ---- */

static int identity(gh__http_parser_t *p, size_t len, gh__http_span_t *data)
{
    uint64_t n = len - p->_off;

    if (p->_left == 0) {
        p->_state = ST_DONE;
        return GH__HTTP_DONE;
    }
    if (n == 0)
        return GH__HTTP_AGAIN;
    if (n > p->_left)
        n = p->_left;
    *data = (gh__http_span_t){p->_off, (uint32_t)n};
    p->_off += (uint32_t)n;
    p->_left -= n;
    p->_body += n;
    return GH__HTTP_DATA;
}

/* One more hex digit of a chunk-size: 413 as soon as it is over budget. */
static int chunk_digit(gh__http_parser_t *p, int d)
{
    uint64_t room = p->_lim.max_body - p->_body;

    if (p->_left > (room >> 4) || (p->_left << 4) + (uint64_t)d > room)
        return 413;
    p->_left = (p->_left << 4) + (uint64_t)d;
    return 0;
}

/*
 * The framing a chunked body may carry beyond what its data pays for.
 * max_body bounds the decoded bytes only: 1-byte chunks with 4 KB of
 * extensions each would put 4 GB on the wire for 1 MiB of body.  Each
 * chunk's line and CRLFs count, and its data pays 16 bytes plus twice its
 * size (the rule Go adopted for CVE-2023-39326): ordinary framing never
 * comes near the allowance.
 */
#define CHUNK_EXCESS_MAX (16 * 1024)

static int chunk_framing(gh__http_parser_t *p)
{
    uint64_t paid = 16 + 2 * p->_left;

    p->_excess += p->_line_len + 4; /* the line's CRLF and the data's */
    p->_excess = p->_excess > paid ? p->_excess - paid : 0;
    return p->_excess > CHUNK_EXCESS_MAX ? 400 : 0;
}

/*
 * One byte of a chunk-size line: size, then optionally BWS and extensions
 * (not interpreted, but only field characters), then CR LF.  Every byte but
 * the CR LF counts against max_chunk_line, leading zeros included.
 */
static int chunk_line_byte(gh__http_parser_t *p, unsigned char c)
{
    int d = gh__http_hexval(c);

    if (p->_state == ST_CHUNK_SIZE_LF) {
        if (c != '\n' || chunk_framing(p))
            return 400;
        p->_line_len = 0;
        p->_state = p->_left == 0 ? ST_TRAILER : ST_CHUNK_DATA;
        return 0;
    }
    if (c == '\r' &&
        (p->_state == ST_CHUNK_SIZE_MORE || p->_state == ST_CHUNK_EXT)) {
        p->_state = ST_CHUNK_SIZE_LF;
        return 0;
    }
    if (++p->_line_len > p->_lim.max_chunk_line)
        return 400;
    switch (p->_state) {
    case ST_CHUNK_SIZE:
        if (d < 0)
            return 400;
        p->_state = ST_CHUNK_SIZE_MORE;
        return chunk_digit(p, d);
    case ST_CHUNK_SIZE_MORE:
        if (d >= 0)
            return chunk_digit(p, d);
        /* Not a digit: BWS or ';'. */
        /* fall through */
    case ST_CHUNK_BWS:
        if (c == ';')
            p->_state = ST_CHUNK_EXT;
        else if (is_ows(c))
            p->_state = ST_CHUNK_BWS;
        else
            return 400;
        return 0;
    default: /* ST_CHUNK_EXT */
        return is_field_char(c) ? 0 : 400;
    }
}

/* Validate a trailer field line [s, e) (CRLF excluded) and store it. */
static int trailer_field(gh__http_parser_t *p, const char *buf, uint32_t s,
                         uint32_t e)
{
    gh__http_head_t *h = &p->head;
    uint32_t i = s, v;

    if (h->nheaders + h->ntrailers >= field_limit(p))
        return 431;
    while (i < e && is_tchar((unsigned char)buf[i]))
        i++;
    if (i == s || i == e || buf[i] != ':')
        return 400;
    for (v = i + 1; v < e && is_ows((unsigned char)buf[v]);)
        v++;
    while (e > v && is_ows((unsigned char)buf[e - 1]))
        e--;
    for (uint32_t j = v; j < e; j++)
        if (!is_field_char((unsigned char)buf[j]))
            return 400;
    h->fields[h->nheaders + h->ntrailers++] =
        (gh__http_field_t){{s, i - s}, {v, e - v}};
    return 0;
}

/*
 * The trailer section, a line at a time.  Lines are consumed only when
 * complete; p->_scan remembers how far the search for LF got, so bytes that
 * arrive one at a time are still looked at once.
 */
static int trailers(gh__http_parser_t *p, const char *buf, uint32_t len)
{
    for (;;) {
        const char *nl = memchr(buf + p->_scan, '\n', len - p->_scan);
        uint32_t ls = p->_off, i;
        int st;

        if (nl == NULL) {
            p->_scan = len;
            if (len - p->_trailer_start > p->_lim.max_header_bytes)
                return fail(p, 431);
            return GH__HTTP_AGAIN;
        }
        i = (uint32_t)(nl - buf);
        if (i + 1 - p->_trailer_start > p->_lim.max_header_bytes)
            return fail(p, 431);
        /* A CR elsewhere in the line fails trailer_field()'s checks. */
        if (i == ls || buf[i - 1] != '\r')
            return fail(p, 400);
        p->_off = p->_scan = i + 1;
        if (i - 1 == ls) {
            p->_state = ST_DONE;
            return GH__HTTP_DONE;
        }
        if ((st = trailer_field(p, buf, ls, i - 1)) != 0)
            return fail(p, st);
    }
}

static int chunk_data(gh__http_parser_t *p, uint32_t len, gh__http_span_t *data)
{
    uint64_t n = len - p->_off;

    if (n > p->_left)
        n = p->_left;
    *data = (gh__http_span_t){p->_off, (uint32_t)n};
    p->_off += (uint32_t)n;
    p->_left -= n;
    p->_body += n;
    if (p->_left == 0)
        p->_state = ST_CHUNK_DATA_CR;
    return GH__HTTP_DATA;
}

static int chunked(gh__http_parser_t *p, const char *buf, uint32_t len,
                   gh__http_span_t *data)
{
    while (p->_off < len) {
        unsigned char c = (unsigned char)buf[p->_off];
        int st = 0;

        switch (p->_state) {
        case ST_CHUNK_DATA:
            return chunk_data(p, len, data);
        case ST_CHUNK_DATA_CR:
            st = c == '\r' ? 0 : 400;
            p->_state = ST_CHUNK_DATA_LF;
            break;
        case ST_CHUNK_DATA_LF:
            st = c == '\n' ? 0 : 400;
            p->_state = ST_CHUNK_SIZE;
            break;
        default:
            st = chunk_line_byte(p, c);
            break;
        }
        if (st != 0)
            return fail(p, st);
        p->_off++;
        if (p->_state == ST_TRAILER) {
            p->_trailer_start = p->_scan = p->_off;
            return trailers(p, buf, len);
        }
    }
    return GH__HTTP_AGAIN;
}

int gh__http_parse_body(gh__http_parser_t *p, const char *buf, size_t len,
                        gh__http_span_t *data)
{
    assert(len >= p->_off && len <= UINT32_MAX);
    switch (p->_state) {
    case ST_HEAD:
        assert(!"gh__http_parse_body before the head is complete");
        return fail(p, 500);
    case ST_ERROR:
        return GH__HTTP_ERROR;
    case ST_DONE:
        return GH__HTTP_DONE;
    case ST_IDENTITY:
        return identity(p, len, data);
    case ST_TRAILER:
        return trailers(p, buf, (uint32_t)len);
    default:
        return chunked(p, buf, (uint32_t)len, data);
    }
}

/* ---- the parser ---- */

void gh__http_limits_init(gh__http_limits_t *l)
{
    l->max_target = GH__HTTP_MAX_TARGET;
    l->max_header_bytes = GH__HTTP_MAX_HEADER_BYTES;
    l->max_headers = GH__HTTP_MAX_HEADERS;
    l->max_chunk_line = GH__HTTP_MAX_CHUNK_LINE;
    l->max_body = GH__HTTP_MAX_BODY;
}

/* The per-request state beside the head and llhttp's, for a request that
 * starts at off. */
static void reset_state(gh__http_parser_t *p, uint32_t off)
{
    p->_base = p->_off = off;
    p->_reqline_end = 0;
    p->_version = (gh__http_span_t){0, 0};
    p->_scan = 0;
    p->_trailer_start = UINT32_MAX;
    p->_line_len = 0;
    p->_status = 0;
    p->_state = ST_HEAD;
    p->_kind = K_OTHER;
    p->_in = 0;
    p->_seen = 0;
    p->_te_codings = 0;
    p->_left = 0;
    p->_body = 0;
    p->_excess = 0;
}

/* Start a request at offset off. */
static void reset(gh__http_parser_t *p, uint32_t off)
{
    gh__http_field_t *fields = p->head.fields;

    memset(&p->head, 0, sizeof p->head);
    p->head.fields = fields;
    llhttp_reset(&p->_ll);
    reset_state(p, off);
}

void gh__http_parser_init(gh__http_parser_t *p, const gh__http_limits_t *limits,
                          gh__http_field_t *fields, uint32_t nfields)
{
    memset(p, 0, sizeof *p);
    if (limits)
        p->_lim = *limits;
    else
        gh__http_limits_init(&p->_lim);
    p->_cap = nfields;
    p->head.fields = fields;
    llhttp_init(&p->_ll, HTTP_REQUEST, &settings);
    p->_ll.data = p;
    reset_state(p, 0); /* the head and llhttp are fresh already */
}

void gh__http_parser_next(gh__http_parser_t *p)
{
    assert(p->_state == ST_DONE);
    reset(p, p->_off);
}

/* Move offset *x down if it lies past the removed range [from, to). */
static void shift(uint32_t *x, uint32_t from, uint32_t to)
{
    if (*x >= to && *x != UINT32_MAX)
        *x -= to - from;
    else
        assert(*x <= from || *x == UINT32_MAX);
}

static void shift_span(gh__http_span_t *s, uint32_t from, uint32_t to)
{
    if (s->off >= to)
        s->off -= to - from;
    else
        assert(s->off + s->len <= from);
}

void gh__http_parser_drop(gh__http_parser_t *p, uint32_t from, uint32_t to)
{
    gh__http_head_t *h = &p->head;

    assert(from <= to && to <= p->_off);
    if (from == to)
        return;
    shift(&p->_off, from, to);
    shift(&p->_base, from, to);
    shift(&p->_scan, from, to);
    shift(&p->_trailer_start, from, to);
    shift(&p->_reqline_end, from, to);
    shift(&h->start, from, to);
    shift(&h->end, from, to);
    shift_span(&h->target, from, to);
    shift_span(&p->_version, from, to);
    for (uint32_t i = 0; i < h->nheaders + h->ntrailers; i++) {
        shift_span(&h->fields[i].name, from, to);
        shift_span(&h->fields[i].value, from, to);
    }
}

/* ---- lookups and status lines ---- */

bool gh__http_span_eq(const char *buf, gh__http_span_t s, const char *name,
                      size_t len)
{
    return s.len == len && gh__http_eq_ci(buf + s.off, name, len);
}

int gh__http_field_find(const gh__http_field_t *fields, uint32_t n,
                        const char *buf, const char *name, size_t len,
                        uint32_t from)
{
    for (uint32_t i = from; i < n; i++)
        if (gh__http_span_eq(buf, fields[i].name, name, len))
            return (int)i;
    return -1;
}

/* RFC 9110 section 15: the statuses we may send and their reason phrases. */
#define HTTP_REASONS(X)                                                        \
    X(100, "Continue")                                                         \
    X(101, "Switching Protocols")                                              \
    X(200, "OK")                                                               \
    X(201, "Created")                                                          \
    X(202, "Accepted")                                                         \
    X(203, "Non-Authoritative Information")                                    \
    X(204, "No Content")                                                       \
    X(205, "Reset Content")                                                    \
    X(206, "Partial Content")                                                  \
    X(300, "Multiple Choices")                                                 \
    X(301, "Moved Permanently")                                                \
    X(302, "Found")                                                            \
    X(303, "See Other")                                                        \
    X(304, "Not Modified")                                                     \
    X(307, "Temporary Redirect")                                               \
    X(308, "Permanent Redirect")                                               \
    X(400, "Bad Request")                                                      \
    X(401, "Unauthorized")                                                     \
    X(403, "Forbidden")                                                        \
    X(404, "Not Found")                                                        \
    X(405, "Method Not Allowed")                                               \
    X(406, "Not Acceptable")                                                   \
    X(408, "Request Timeout")                                                  \
    X(409, "Conflict")                                                         \
    X(410, "Gone")                                                             \
    X(411, "Length Required")                                                  \
    X(412, "Precondition Failed")                                              \
    X(413, "Content Too Large")                                                \
    X(414, "URI Too Long")                                                     \
    X(415, "Unsupported Media Type")                                           \
    X(416, "Range Not Satisfiable")                                            \
    X(417, "Expectation Failed")                                               \
    X(421, "Misdirected Request")                                              \
    X(422, "Unprocessable Content")                                            \
    X(426, "Upgrade Required")                                                 \
    X(428, "Precondition Required")                                            \
    X(429, "Too Many Requests")                                                \
    X(431, "Request Header Fields Too Large")                                  \
    X(500, "Internal Server Error")                                            \
    X(501, "Not Implemented")                                                  \
    X(502, "Bad Gateway")                                                      \
    X(503, "Service Unavailable")                                              \
    X(504, "Gateway Timeout")                                                  \
    X(505, "HTTP Version Not Supported")

ssize_t gh__http_unescape(const char *in, size_t len, char *out, bool plus)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++, n++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            if ((c = gh__http_escape_at(in + i, len - i)) < 0)
                return -1;
            i += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        if (out)
            out[n] = (char)c;
    }
    return (ssize_t)n;
}

const char *gh__http_reason(int status)
{
    switch (status) {
#define REASON_CASE(code, reason)                                              \
    case code:                                                                 \
        return reason;
        HTTP_REASONS(REASON_CASE)
#undef REASON_CASE
    default:
        return "";
    }
}

size_t gh__http_status_line(int status, char *out, size_t cap)
{
    int n = snprintf(out, cap, "HTTP/1.1 %03d %s\r\n", status,
                     gh__http_reason(status));
    return n < 0 ? 0 : (size_t)n;
}
