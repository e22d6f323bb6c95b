/*
 * static_http.c - the header values the static handler reads and writes:
 * HTTP dates, entity tags and their lists, a Range value, Accept-Encoding,
 * and the escaping the directory listing needs.
 *
 * Everything here is a pure function of its arguments (no locale, no
 * global state), so it may run on any thread.  Parsers are strict where a
 * wrong guess would serve the wrong bytes (Range, entity tags) and give up
 * quietly otherwise: an unreadable validator is ignored, as RFC 9110 asks.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "static.h"

static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* ---- dates ----------------------------------------------------------- */

/* n as exactly width digits. */
static char *put_num(char *p, int n, int width)
{
    for (int i = width - 1; i >= 0; i--, n /= 10)
        p[i] = (char)('0' + n % 10);
    return p + width;
}

/* The times an IMF-fixdate can write: years 0000 to 9999. */
#define DATE_MIN INT64_C(-62167219200) /* 0000-01-01 00:00:00 */
#define DATE_MAX INT64_C(253402300799) /* 9999-12-31 23:59:59 */

void gh__static_fmt_date(time_t t, char *out)
{
    int64_t v = (int64_t)t;
    struct tm tm;
    char *p = out;

    /* A file's mtime may lie outside them (filesystems with wide
     * timestamps): it is written as the nearest one. */
    t = (time_t)(v < DATE_MIN ? DATE_MIN : v > DATE_MAX ? DATE_MAX : v);
    gmtime_r(&t, &tm);
    memcpy(p, days[tm.tm_wday], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = put_num(p, tm.tm_mday, 2);
    *p++ = ' ';
    memcpy(p, months[tm.tm_mon], 3);
    p += 3;
    *p++ = ' ';
    p = put_num(p, tm.tm_year + 1900, 4);
    *p++ = ' ';
    p = put_num(p, tm.tm_hour, 2);
    *p++ = ':';
    p = put_num(p, tm.tm_min, 2);
    *p++ = ':';
    p = put_num(p, tm.tm_sec, 2);
    memcpy(p, " GMT", 5);
}

static int month_index(const char *m)
{
    for (int i = 0; i < 12; i++)
        if (strcmp(m, months[i]) == 0)
            return i;
    return -1;
}

/* Check the fields sscanf found and convert them. */
static int make_time(int y, const char *mon, int d, int h, int mi, int s,
                     time_t *out)
{
    struct tm tm = {0};

    tm.tm_mon = month_index(mon);
    if (tm.tm_mon < 0 || y < 1900 || d < 1 || d > 31 || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || s < 0 || s > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    *out = timegm(&tm);
    /* A leap second at the end of 9999 would be a date no IMF-fixdate
     * can write back. */
    return (int64_t)*out > DATE_MAX ? -1 : 0;
}

/* The dashes in s, or -1 if it has a plus sign: sscanf's %d would take
 * either as a sign ("06-Nov--1" as the year -1), where only digits may
 * stand. */
static int dashes(const char *s)
{
    int n = 0;

    for (; *s; s++) {
        if (*s == '+')
            return -1;
        n += *s == '-';
    }
    return n;
}

/*
 * RFC 9110 5.6.7: recipients accept IMF-fixdate and the two obsolete forms.
 * %n after the last field makes sure nothing trails.
 */
int gh__static_parse_date(const char *s, time_t *out)
{
    char wd[10], mon[4];
    int y, d, h, mi, sec, n = -1, nd = dashes(s);

    /* IMF-fixdate and asctime have no dash, RFC 850 two: its
     * separators. */
    if (nd != 0 && nd != 2)
        return -1;
    if (nd == 0 &&
        sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", wd, &d,
               mon, &y, &h, &mi, &sec, &n) == 7 &&
        n > 0 && !s[n])
        return make_time(y, mon, d, h, mi, sec, out);
    n = -1;
    if (nd == 2 &&
        sscanf(s, "%9[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", wd, &d,
               mon, &y, &h, &mi, &sec, &n) == 7 &&
        n > 0 && !s[n])
        return make_time(y < 70 ? 2000 + y : 1900 + y, mon, d, h, mi, sec,
                         out);
    n = -1;
    if (nd == 0 &&
        sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wd, mon, &d,
               &h, &mi, &sec, &y, &n) == 7 &&
        n > 0 && !s[n])
        return make_time(y, mon, d, h, mi, sec, out);
    return -1;
}

/* ---- entity tags ----------------------------------------------------- */

/*
 * The ctime is in it as well as the mtime: anyone may set the mtime back
 * (touch -d), no one the ctime, so a file rewritten in place with its size
 * and mtime restored still gets a new tag.
 */
void gh__static_etag(const struct stat *st, char *out)
{
    unsigned long long m = (unsigned long long)st->st_mtim.tv_sec *
                               1000000000ull +
                           (unsigned long long)st->st_mtim.tv_nsec;
    unsigned long long c = (unsigned long long)st->st_ctim.tv_sec *
                               1000000000ull +
                           (unsigned long long)st->st_ctim.tv_nsec;

    snprintf(out, GH__STATIC_ETAG_MAX, "\"%llx-%llx-%llx-%llx\"",
             (unsigned long long)st->st_ino,
             (unsigned long long)st->st_size, m, c);
}

static const char *skip_ows_commas(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
    return p;
}

bool gh__static_etag_match(const char *list, const char *etag, bool strong)
{
    size_t elen = strlen(etag);
    const char *p = skip_ows_commas(list);

    if (*p == '*')
        return true;
    while (*p) {
        bool weak = strncmp(p, "W/", 2) == 0;
        const char *q, *end;
        if (weak)
            p += 2;
        if (*p != '"' || !(end = strchr(p + 1, '"')))
            return false; /* malformed: stop, match nothing more */
        q = end + 1;
        if (!(weak && strong) && (size_t)(q - p) == elen &&
            memcmp(p, etag, elen) == 0)
            return true;
        p = skip_ows_commas(q);
    }
    return false;
}

/* ---- Range ----------------------------------------------------------- */

/* Digits to a number, saturating; NULL if there are none. */
static const char *parse_u64(const char *p, uint64_t *v)
{
    const char *start = p;

    *v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        *v = *v > (UINT64_MAX - d) / 10 ? UINT64_MAX : *v * 10 + d;
    }
    return p == start ? NULL : p;
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* "-n": the last n bytes. */
static enum gh__static_range suffix_range(const char *p, uint64_t size,
                                          uint64_t *off, uint64_t *len)
{
    uint64_t n;

    if (!(p = parse_u64(p, &n)) || *skip_ows(p))
        return GH__RANGE_NONE;
    if (n == 0 || size == 0)
        return GH__RANGE_UNSAT;
    if (n > size)
        n = size;
    *off = size - n;
    *len = n;
    return GH__RANGE_OK;
}

enum gh__static_range gh__static_range(const char *h, uint64_t size,
                                       uint64_t *off, uint64_t *len)
{
    const char *p = skip_ows(h);
    uint64_t first, last = UINT64_MAX;

    if (strncasecmp(p, "bytes", 5) != 0)
        return GH__RANGE_NONE;
    p = skip_ows(p + 5);
    if (*p != '=' || strchr(p, ','))
        return GH__RANGE_NONE; /* several ranges: the whole file */
    p = skip_ows(p + 1);
    if (*p == '-')
        return suffix_range(p + 1, size, off, len);
    if (!(p = parse_u64(p, &first)) || *p++ != '-')
        return GH__RANGE_NONE;
    if (*p >= '0' && *p <= '9') {
        p = parse_u64(p, &last);
        if (last < first)
            return GH__RANGE_NONE; /* invalid, so ignored */
    }
    if (*skip_ows(p))
        return GH__RANGE_NONE;
    if (first >= size)
        return GH__RANGE_UNSAT;
    if (last > size - 1)
        last = size - 1;
    *off = first;
    *len = last - first + 1;
    return GH__RANGE_OK;
}

/* ---- Accept-Encoding ------------------------------------------------- */

/* The q parameter of one element's parameters [p, end): is it above 0? */
static bool q_positive(const char *p, const char *end)
{
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        p = skip_ows(p);
        if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            /* "0", "0.0", "0.000" are zero; any other digit is not. */
            for (p += 2; p < end && *p != ';'; p++)
                if (*p >= '1' && *p <= '9')
                    return true;
            return false;
        }
        if (!semi)
            break;
        p = semi + 1;
    }
    return true;
}

bool gh__static_accepts(const char *ae, const char *coding)
{
    size_t clen = strlen(coding);
    int star = -1; /* "*": unknown (-1), refused (0), allowed (1) */
    const char *p = ae;

    while (*(p = skip_ows_commas(p))) {
        const char *end = strchr(p, ','), *tok_end = p;
        if (!end)
            end = p + strlen(p);
        while (tok_end < end && *tok_end != ';' && *tok_end != ' ' &&
               *tok_end != '\t')
            tok_end++;
        if ((size_t)(tok_end - p) == clen && !strncasecmp(p, coding, clen))
            return q_positive(tok_end, end);
        if (tok_end - p == 1 && *p == '*')
            star = q_positive(tok_end, end);
        p = end;
    }
    return star == 1;
}

/* ---- output buffer and escaping -------------------------------------- */

void gh__static_buf_html(gh__static_buf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': gh__hbuf_puts(b, "&amp;"); break;
        case '<': gh__hbuf_puts(b, "&lt;"); break;
        case '>': gh__hbuf_puts(b, "&gt;"); break;
        case '"': gh__hbuf_puts(b, "&quot;"); break;
        case '\'': gh__hbuf_puts(b, "&#39;"); break;
        default: gh__hbuf_put(b, s, 1);
        }
    }
}

void gh__static_buf_url(gh__static_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~')
            gh__hbuf_put(b, s, 1);
        else
            gh__hbuf_put(b, e, 3);
    }
}
