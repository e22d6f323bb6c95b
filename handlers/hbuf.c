/*
 * hbuf.c - the plugins' growable byte buffer (see hbuf.h): capacity
 * doubles from 256 bytes, so building a body of n bytes costs O(n).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hbuf.h"

void gh__hbuf_put(gh__hbuf_t *b, const void *s, size_t n)
{
    size_t cap;
    char *p;

    if (b->oom || n == 0)
        return;
    if (b->cap - b->len < n) {
        cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        if (!(p = realloc(b->p, cap))) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void gh__hbuf_puts(gh__hbuf_t *b, const char *s)
{
    gh__hbuf_put(b, s, strlen(s));
}
