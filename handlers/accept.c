/*
 * accept.c - the weight an Accept header gives a media type, and the
 * weight (q) of one element of any such list (Accept-Encoding too).
 *
 * Each comma-separated element is a media range with optional parameters;
 * its weight is its q parameter (1 without one).  A range that does not
 * parse (no slash, a wildcard type with a named subtype) covers nothing.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "accept.h"

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* q's value in thousandths: "0" to "1.000"; anything else counts as 0, so
 * that a garbled refusal still refuses. */
static int qvalue(const char *p, const char *end)
{
    int q, scale = 1000;

    if (p >= end || (*p != '0' && *p != '1'))
        return 0;
    q = (*p++ - '0') * 1000;
    if (p < end && *p == '.')
        for (p++; p < end && *p >= '0' && *p <= '9' && scale > 1; p++)
            q += (*p - '0') * (scale /= 10);
    return q > 1000 ? 1000 : q;
}

int gh__accept_weight(const char *p, const char *end)
{
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        p = skip_ows(p, stop);
        if (stop - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
            return qvalue(p + 2, stop);
        p = semi ? semi + 1 : end;
    }
    return 1000;
}

int gh__accept_q(const char *accept, const char *type, bool *named)
{
    const char *slash = strchr(type, '/');
    size_t tlen = slash ? (size_t)(slash - type) : strlen(type);
    int best = -1, q = 0; /* best: 0 any type, 1 any subtype, 2 named */
    const char *p = accept;

    while (*p) {
        const char *end = strchr(p, ','), *r, *rend, *rslash;
        int spec = -1;
        if (!end)
            end = p + strlen(p);
        r = skip_ows(p, end);
        for (rend = r; rend < end && *rend != ';' && *rend != ' ' &&
                       *rend != '\t';
             rend++)
            ;
        rslash = memchr(r, '/', (size_t)(rend - r));
        if (rslash && rslash - r == 1 && *r == '*')
            spec = rend - rslash == 2 && rslash[1] == '*' ? 0 : -1;
        else if (rslash && (size_t)(rslash - r) == tlen &&
                 strncasecmp(r, type, tlen) == 0)
            spec = rend - rslash == 2 && rslash[1] == '*' ? 1
                   : slash && (size_t)(rend - rslash) == strlen(slash) &&
                           strncasecmp(rslash, slash, strlen(slash)) == 0
                       ? 2
                       : -1;
        if (spec > best) {
            best = spec;
            q = gh__accept_weight(rend, end);
        }
        p = *end ? end + 1 : end;
    }
    if (named)
        *named = best == 2;
    return best < 0 ? 0 : q;
}
