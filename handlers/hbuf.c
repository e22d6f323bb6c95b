/*
 * hbuf.c - the plugins' growable byte buffer and JSON string escaping (see
 * hbuf.h).  Capacity doubles from 256 bytes, so building a body of n bytes
 * costs O(n).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hbuf.h"

/* Room for n more bytes and a NUL.  False once out of memory. */
static bool reserve(gh__hbuf_t *b, size_t n)
{
    size_t cap;
    char *p;

    if (b->oom)
        return false;
    if (b->cap - b->len > n)
        return true;
    cap = b->cap ? b->cap : 256;
    while (cap - b->len <= n)
        cap *= 2;
    if (!(p = realloc(b->p, cap))) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void gh__hbuf_put(gh__hbuf_t *b, const void *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void gh__hbuf_puts(gh__hbuf_t *b, const char *s)
{
    gh__hbuf_put(b, s, strlen(s));
}

void gh__hbuf_printf(gh__hbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

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

void gh__hbuf_json(gh__hbuf_t *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0; /* start of the bytes not yet copied */
    char esc[8];

    gh__hbuf_put(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        size_t len = utf8_len(u + i, n - i);
        if (len > 1 || (len == 1 && u[i] >= 0x20 && u[i] != 0x7f &&
                        u[i] != '"' && u[i] != '\\')) {
            i += len; /* copied later, with the rest of the run */
            continue;
        }
        gh__hbuf_put(b, s + run, i - run);
        if (len == 0)
            gh__hbuf_puts(b, "\\ufffd");
        else if (u[i] == '"' || u[i] == '\\')
            gh__hbuf_put(b, (char[]){'\\', (char)u[i]}, 2);
        else
            gh__hbuf_put(b, esc, (size_t)snprintf(esc, sizeof(esc),
                                                  "\\u%04x", u[i]));
        run = ++i;
    }
    gh__hbuf_put(b, s + run, n - run);
    gh__hbuf_put(b, "\"", 1);
}
