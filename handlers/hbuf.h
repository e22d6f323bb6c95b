/*
 * hbuf.h - a growable byte buffer for building response bodies, shared by
 * the built-in plugins (compiled into each module; not part of the
 * library's API).  Appends never fail loudly: out of memory sets oom,
 * later appends do nothing, and the caller checks oom once at the end.
 */
#ifndef GH_HBUF_H
#define GH_HBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gh__hbuf {
    char *p;      /* malloc; NULL until the first append */
    size_t len;   /* bytes used */
    size_t cap;   /* bytes allocated */
    bool oom;     /* an append failed: the contents are incomplete */
} gh__hbuf_t;

/* Append n bytes of s. */
void gh__hbuf_put(gh__hbuf_t *b, const void *s, size_t n);

/* Append the string s. */
void gh__hbuf_puts(gh__hbuf_t *b, const char *s);

#endif /* GH_HBUF_H */
