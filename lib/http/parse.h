/*
 * parse.h - the HTTP/1.x request parser: llhttp glue, limits and the body
 * decoder (internal to libgohttpd, never installed).
 *
 * One gh__http_parser_t (caller storage, no heap) serves one connection.  It
 * parses requests one at a time out of a buffer the caller owns and fills:
 *
 *   1. gh__http_parse_head() until it returns GH__HTTP_HEAD.  The head is
 *      then in p->head: every string in it is a gh__http_span_t, an OFFSET
 *      and a length into the caller's buffer, never a pointer.  The caller
 *      passes the buffer's current address on every call, so it may grow or
 *      move the buffer (realloc) between calls; it must keep the bytes
 *      themselves where they are, relative to the buffer's start, except
 *      through gh__http_parser_drop().
 *   2. gh__http_parse_body() until it returns GH__HTTP_DONE.  Each
 *      GH__HTTP_DATA result is a span of decoded body bytes inside the
 *      buffer (chunked framing removed), which the caller may hand to a
 *      reader in place.  Trailers, if any, follow the headers in the same
 *      field array.
 *   3. gh__http_parser_next() to start on the next (pipelined) request,
 *      which begins at gh__http_parser_offset(p).
 *
 * Any step may return GH__HTTP_ERROR: gh__http_parser_status(p) is then the
 * status to answer (400, 413, 414, 431, 501 or 505), after which the
 * connection must be closed.  Errors are sticky.  Nothing here allocates,
 * copies the head or blocks; a parser is used by one goroutine at a time.
 */
#ifndef GH_HTTP_PARSE_H
#define GH_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <llhttp.h>

/** A byte range of the caller's buffer: offset from its start, length. */
typedef struct gh__http_span {
    uint32_t off;
    uint32_t len;
} gh__http_span_t;

/** One header (or trailer) field line; the value has no surrounding OWS. */
typedef struct gh__http_field {
    gh__http_span_t name;
    gh__http_span_t value;
} gh__http_field_t;

/* The defaults gh__http_limits_init() sets. */
#define GH__HTTP_MAX_TARGET 8192u             /* -> 414 */
#define GH__HTTP_MAX_HEADER_BYTES 16384u      /* -> 431 */
#define GH__HTTP_MAX_HEADERS 100u             /* -> 431 */
#define GH__HTTP_MAX_CHUNK_LINE 4096u         /* -> 400 */
#define GH__HTTP_MAX_BODY ((uint64_t)1 << 20) /* -> 413 */

/*
 * Bytes of a request line beyond its request-target that a parser accepts:
 * method, spaces, "HTTP/1.1", CRLF and a few empty lines before it.  A head
 * is therefore at most max_target + GH__HTTP_REQLINE_SLACK +
 * max_header_bytes bytes long, the read buffer size a caller needs.
 */
#define GH__HTTP_REQLINE_SLACK 64u

/**
 * What a client may send.  Each bound is inclusive: exactly the limit is
 * accepted, one byte (or field) more is refused with the status shown.
 */
typedef struct gh__http_limits {
    uint32_t max_target;       /* request-target bytes (414) */
    uint32_t max_header_bytes; /* header section bytes, from the byte after
                                * the request line's CRLF through the empty
                                * line's CRLF (431); the trailer section
                                * separately has the same bound */
    uint32_t max_headers;      /* field lines, headers and trailers
                                * together (431) */
    uint32_t max_chunk_line;   /* a chunk-size line with its extensions,
                                * without the CRLF (400) */
    uint64_t max_body;         /* decoded body bytes (413): checked against
                                * Content-Length before any body byte is
                                * read, and while de-chunking */
} gh__http_limits_t;

/** Fill *l with the defaults above. */
void gh__http_limits_init(gh__http_limits_t *l);

/** Results of gh__http_parse_head() and gh__http_parse_body(). */
enum gh__http_result {
    GH__HTTP_ERROR = -1, /* refuse: see gh__http_parser_status() */
    GH__HTTP_AGAIN = 0,  /* every byte given was used: read more */
    GH__HTTP_HEAD = 1,   /* the head is complete, in p->head */
    GH__HTTP_DATA = 2,   /* *data holds body bytes */
    GH__HTTP_DONE = 3    /* the body (and its trailers) is complete */
};

/**
 * A parsed request head.  Spans are offsets into the caller's buffer.
 * Valid from GH__HTTP_HEAD until gh__http_parser_next(); the trailers
 * (fields[nheaders .. nheaders + ntrailers)) from GH__HTTP_DONE.
 */
typedef struct gh__http_head {
    gh__http_field_t *fields; /* the caller's array (gh__http_parser_init) */
    uint32_t nheaders;        /* header fields, in arrival order */
    uint32_t ntrailers;       /* trailer fields, after the headers */
    uint32_t start;           /* offset of the request line's first byte */
    uint32_t end;             /* offset just past the head's empty line */
    gh__http_span_t target;   /* the request-target, as sent */
    uint64_t content_length;  /* if has_content_length */
    uint8_t method;           /* enum llhttp_method */
    uint8_t version_major;    /* 1 */
    uint8_t version_minor;    /* 0 or 1 */
    bool has_content_length;  /* a (single, valid) Content-Length */
    bool chunked;             /* Transfer-Encoding: chunked */
    bool keep_alive;          /* the connection may carry another request */
    bool expect_continue;     /* HTTP/1.1 with Expect: 100-continue */
    bool has_host;            /* exactly one Host field */
    bool upgrade;             /* Connection: upgrade was sent; noted only,
                               * the protocol is never switched */
} gh__http_head_t;

/**
 * A request parser.  Caller storage; the fields starting with '_' are
 * private.  Initialise with gh__http_parser_init(); there is nothing to
 * release.
 */
typedef struct gh__http_parser {
    gh__http_head_t head;     /* the current request (see above) */
    llhttp_t _ll;             /* parses the head; reset per request */
    gh__http_limits_t _lim;   /* a copy of the caller's limits */
    uint32_t _cap;            /* fields[] entries the caller provided */
    uint32_t _base;           /* offset where this request's bytes begin */
    uint32_t _off;            /* offset of the next byte not yet parsed */
    uint32_t _reqline_end;    /* offset past the request line, 0 if unseen */
    gh__http_span_t _version; /* "1.1" in the request line, for 505 */
    uint32_t _scan;           /* trailers: where the search for LF resumes */
    uint32_t _trailer_start;  /* offset of the trailer section */
    uint32_t _line_len;       /* bytes of the chunk-size line so far */
    uint16_t _status;         /* the HTTP status of an error, else 0 */
    uint8_t _state;           /* enum in parse.c */
    uint8_t _kind;            /* class of the header field being parsed */
    uint8_t _in;              /* flags: a span is being built (parse.c) */
    uint8_t _seen;            /* flags: Host, Content-Length, ... seen */
    uint8_t _te_codings;      /* transfer codings listed, saturating */
    const char *_buf;         /* the caller's buffer, during a call only */
    uint64_t _left;           /* identity body or current chunk: bytes left */
    uint64_t _body;           /* body bytes decoded so far */
    uint64_t _excess;         /* chunk framing not paid for by data */
} gh__http_parser_t;

/**
 * Prepare p for a connection's first request.  limits is copied (NULL: the
 * defaults); fields is the caller's array of nfields entries for header
 * and trailer lines, which must outlive p.  At most min(nfields,
 * limits->max_headers) field lines are accepted, more is a 431.
 */
void gh__http_parser_init(gh__http_parser_t *p, const gh__http_limits_t *limits,
                          gh__http_field_t *fields, uint32_t nfields);

/**
 * Parse the head of the current request from buf[gh__http_parser_offset(p)
 * .. len): bytes before that offset were given before and are not looked
 * at again, except to validate the complete head.  buf is the caller's
 * whole buffer (its current address); len the bytes in it.
 * Returns GH__HTTP_AGAIN (all of buf used, the head is not complete),
 * GH__HTTP_HEAD (p->head is complete and the offset is p->head.end) or
 * GH__HTTP_ERROR.
 */
int gh__http_parse_head(gh__http_parser_t *p, const char *buf, size_t len);

/**
 * Decode the body of the current request from buf[offset .. len), after
 * GH__HTTP_HEAD.  Returns GH__HTTP_DATA with *data set to the next
 * non-empty run of body bytes (inside buf, already consumed: the offset is
 * past it), GH__HTTP_AGAIN (all of buf used), GH__HTTP_DONE (the body and
 * any trailers are complete; the offset is where the next request starts)
 * or GH__HTTP_ERROR.  A request without a body returns GH__HTTP_DONE at
 * once.  Trailers are appended to p->head.fields (p->head.ntrailers).
 */
int gh__http_parse_body(gh__http_parser_t *p, const char *buf, size_t len,
                        gh__http_span_t *data);

/**
 * After GH__HTTP_DONE: forget the request (p->head is cleared) and get
 * ready to parse the next one at the current offset.
 */
void gh__http_parser_next(gh__http_parser_t *p);

/**
 * The caller removed bytes [from, to) from its buffer and moved the bytes
 * after them down by to - from: every offset p holds at or past `to` moves
 * with them.  The removed bytes must be ones p has consumed (to <= offset)
 * and no span still in use may point into them.  Typical uses: after
 * gh__http_parser_next(), drop [0, offset); while reading a body, drop
 * [p->head.end, gh__http_parser_body_keep(p)) once the body bytes handed
 * out are no longer needed.
 */
void gh__http_parser_drop(gh__http_parser_t *p, uint32_t from, uint32_t to);

/**
 * Is s[0..n) a valid Host value, uri-host [":" port] (RFC 9110 7.2, RFC
 * 3986 3.2.2)?  Empty is valid.  The authority of an absolute-form target
 * is held to it too (request.c).
 */
bool gh__http_host_ok(const char *s, uint32_t n);

/** The offset of the first byte of the buffer p has not yet parsed. */
static inline uint32_t gh__http_parser_offset(const gh__http_parser_t *p)
{
    return p->_off;
}

/**
 * While reading a body: the end of the consumed body bytes that may be
 * dropped (the trailer section, once begun, must stay).
 */
static inline uint32_t gh__http_parser_body_keep(const gh__http_parser_t *p)
{
    return p->_trailer_start < p->_off ? p->_trailer_start : p->_off;
}

/** After GH__HTTP_ERROR: the HTTP status to answer with; else 0. */
static inline int gh__http_parser_status(const gh__http_parser_t *p)
{
    return p->_status;
}

/** The method's name ("GET"), a static string. */
static inline const char *gh__http_method_name(const gh__http_head_t *h)
{
    return llhttp_method_name((llhttp_method_t)h->method);
}

/**
 * Whether span s of buf equals name (len bytes), ignoring ASCII case.
 * name may be in any case.
 */
bool gh__http_span_eq(const char *buf, gh__http_span_t s, const char *name,
                      size_t len);

/**
 * The index of the first of fields[from .. n) whose name is `name` (len
 * bytes, any case), or -1.  Headers: (h->fields, h->nheaders); trailers:
 * (h->fields + h->nheaders, h->ntrailers).
 */
int gh__http_field_find(const gh__http_field_t *fields, uint32_t n,
                        const char *buf, const char *name, size_t len,
                        uint32_t from);

/* tchar (RFC 9110 5.6.2): the bytes of a token, such as a field name (1),
 * indexed by byte. */
extern const uint8_t gh__http_tchar[256];

/* ASCII case-insensitive equality of n bytes (header names, tokens). */
static inline bool gh__http_eq_ci(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if ((unsigned)(x - 'A') < 26u)
            x |= 0x20;
        if ((unsigned)(y - 'A') < 26u)
            y |= 0x20;
        if (x != y)
            return false;
    }
    return true;
}

/** The value of the hex digit c, or -1. */
static inline int gh__http_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/**
 * The byte that the escape "%hh" at p stands for (p[0] is '%', avail
 * bytes from p on), or -1 when it is malformed or encodes NUL.
 */
static inline int gh__http_escape_at(const char *p, size_t avail)
{
    int hi, lo;

    if (avail < 3 || (hi = gh__http_hexval((unsigned char)p[1])) < 0 ||
        (lo = gh__http_hexval((unsigned char)p[2])) < 0)
        return -1;
    return hi == 0 && lo == 0 ? -1 : hi << 4 | lo;
}

/**
 * Percent-decode in[0 .. len) into out (room for len bytes; NULL only
 * checks and counts); plus: '+' stands for a space (query strings).  No
 * NUL is added.  Returns the decoded length, or -1 for a malformed escape
 * or an encoded NUL.
 */
ssize_t gh__http_unescape(const char *in, size_t len, char *out, bool plus);

/**
 * The reason phrase of an HTTP status (RFC 9110), e.g. "Content Too Large"
 * for 413; "" for a status it does not know.  A static string.
 */
const char *gh__http_reason(int status);

/**
 * Write "HTTP/1.1 <status> <reason>\r\n" into out (NUL-terminated, cap
 * bytes).  Returns its length without the NUL, or the length it needed if
 * cap was too small (snprintf's contract).
 */
size_t gh__http_status_line(int status, char *out, size_t cap);

#endif /* GH_HTTP_PARSE_H */
