/*
 * hbuf.h - a growable byte buffer for building response bodies, shared by
 * the built-in plugins (compiled into each module; not part of the
 * library's API).  Appends never fail loudly: out of memory sets oom,
 * later appends do nothing, and the caller checks oom once at the end.
 * The contents are always NUL-terminated (when p is not NULL).
 */
#ifndef GH_HBUF_H
#define GH_HBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gh__hbuf {
    char *p;      /* malloc; NULL until the first append */
    size_t len;   /* bytes used, the NUL not counted */
    size_t cap;   /* bytes allocated */
    bool oom;     /* an append failed: the contents are incomplete */
} gh__hbuf_t;

/* Append n bytes of s. */
void gh__hbuf_put(gh__hbuf_t *b, const void *s, size_t n);

/* Append the string s. */
void gh__hbuf_puts(gh__hbuf_t *b, const char *s);

/* Append printf(fmt, ...). */
void gh__hbuf_printf(gh__hbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Append n bytes of s as a JSON string, quotes included: '"' and '\' get
 * a backslash, control bytes and DEL become \u00XX, and every byte that is
 * not part of valid UTF-8 becomes U+FFFD, so the output is always valid
 * JSON whatever a client sent.
 */
void gh__hbuf_json(gh__hbuf_t *b, const char *s, size_t n);

#endif /* GH_HBUF_H */
