/*
 * kv_json.c - the kv plugin's output helpers: a growable buffer, and
 * JSON strings (RFC 8259) made from arbitrary bytes.
 *
 * Values are bytes, but a JSON text must be UTF-8, so the escaper checks
 * every multi-byte sequence (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF) and writes U+FFFD for each byte that does not
 * start a valid one.  A client that stores binary data should read it back
 * as text/plain, where it comes back byte for byte.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

/* The length of the valid UTF-8 sequence at s[0 .. n), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned lo = 0x80, hi = 0xbf; /* the second byte's range */
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        lo = s[0] == 0xe0 ? 0xa0 : lo; /* overlong */
        hi = s[0] == 0xed ? 0x9f : hi; /* surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        lo = s[0] == 0xf0 ? 0x90 : lo; /* overlong */
        hi = s[0] == 0xf4 ? 0x8f : hi; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* The escape for byte c, or NULL when it may stand as it is. */
static const char *escape(unsigned char c, char tmp[7])
{
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    default:
        if (c >= 0x20)
            return NULL;
        snprintf(tmp, 7, "\\u%04x", c);
        return tmp;
    }
}

void gh__kv_buf_json(gh__kv_buf_t *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0; /* start of the bytes not yet copied */
    char tmp[7];

    gh__hbuf_put(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        size_t len = utf8_len(u + i, n - i);
        const char *esc = len == 1 ? escape(u[i], tmp) : NULL;
        if (len > 0 && !esc) {
            i += len; /* copied later, with the rest of the run */
            continue;
        }
        gh__hbuf_put(b, s + run, i - run);
        gh__hbuf_puts(b, esc ? esc : "\\ufffd");
        run = ++i;
    }
    gh__hbuf_put(b, s + run, n - run);
    gh__hbuf_put(b, "\"", 1);
}
