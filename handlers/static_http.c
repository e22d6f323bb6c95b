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

#include "accept.h"
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

static const char *const long_days[7] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
    "Saturday"};

/* The weekday of p's three letters (Sun is 0), or -1. */
static int short_day(const char *p)
{
    for (int i = 0; i < 7; i++)
        if (memcmp(p, days[i], 3) == 0)
            return i;
    return -1;
}

/* The weekday of the n letters at p written in full, or -1. */
static int long_day(const char *p, size_t n)
{
    for (int i = 0; i < 7; i++)
        if (strlen(long_days[i]) == n && memcmp(p, long_days[i], n) == 0)
            return i;
    return -1;
}

/* Does s have the shape pat, to its end?  In pat, 'd' stands for a digit,
 * 's' for a digit or a space, 'a' for a letter; anything else for itself. */
static bool shaped(const char *s, const char *pat)
{
    for (; *pat; s++, pat++) {
        bool digit = *s >= '0' && *s <= '9';
        bool letter = (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z');
        if (*pat == 'd' ? !digit
            : *pat == 's' ? !digit && *s != ' '
            : *pat == 'a' ? !letter
                          : *s != *pat)
            return false;
    }
    return *s == '\0';
}

/* The n digits at p (a space counts as 0). */
static int digits(const char *p, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++)
        v = v * 10 + (p[i] == ' ' ? 0 : p[i] - '0');
    return v;
}

/* The time of the fields, if they name a real second whose weekday is
 * wday. */
static int make_time(int wday, int y, const char *mon, int d, int h, int mi,
                     int s, time_t *out)
{
    struct tm tm = {0}, back;
    char m[4] = {mon[0], mon[1], mon[2], '\0'};
    time_t t;

    for (tm.tm_mon = 0; tm.tm_mon < 12 && strcmp(m, months[tm.tm_mon]);
         tm.tm_mon++)
        ;
    if (tm.tm_mon == 12 || y < 1900 || d < 1 || h > 23 || mi > 59 || s > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s == 60 ? 59 : s; /* a leap second: its minute's last */
    t = timegm(&tm);
    /* 31 Feb would come back as 3 Mar; a date after 9999 is one no
     * IMF-fixdate can write back. */
    if (!gmtime_r(&t, &back) || back.tm_mday != d || back.tm_wday != wday ||
        (int64_t)t + (s == 60) > DATE_MAX)
        return -1;
    *out = t + (s == 60);
    return 0;
}

/*
 * RFC 9110 5.6.7: recipients accept IMF-fixdate ("Sun, 06 Nov 1994
 * 08:49:37 GMT") and the two obsolete forms, RFC 850 ("Sunday, 06-Nov-94
 * 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994"), and must ignore
 * anything else: a value that is not one of them exactly is not a date.
 */
int gh__static_parse_date(const char *s, time_t *out)
{
    const char *comma = strchr(s, ',');
    int wd, y;

    if (shaped(s, "aaa, dd aaa dddd dd:dd:dd GMT")) {
        wd = short_day(s);
        return wd < 0 ? -1
                      : make_time(wd, digits(s + 12, 4), s + 8,
                                  digits(s + 5, 2), digits(s + 17, 2),
                                  digits(s + 20, 2), digits(s + 23, 2), out);
    }
    if (shaped(s, "aaa aaa sd dd:dd:dd dddd")) {
        wd = short_day(s);
        return wd < 0 ? -1
                      : make_time(wd, digits(s + 20, 4), s + 4, digits(s + 8, 2),
                               digits(s + 11, 2), digits(s + 14, 2),
                               digits(s + 17, 2), out);
    }
    if (comma && shaped(comma, ", dd-aaa-dd dd:dd:dd GMT")) {
        wd = long_day(s, (size_t)(comma - s));
        y = digits(comma + 9, 2);
        return wd < 0 ? -1
                      : make_time(wd, y < 70 ? 2000 + y : 1900 + y, comma + 5,
                                  digits(comma + 2, 2), digits(comma + 12, 2),
                                  digits(comma + 15, 2), digits(comma + 18, 2),
                                  out);
    }
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

bool gh__static_if_range(const char *ir, const struct stat *sb,
                         const char *etag, int64_t now_ns)
{
    time_t t;

    if (ir[0] == '"' || strncmp(ir, "W/", 2) == 0)
        return strcmp(ir, etag) == 0; /* strong: a weak tag never equals */
    return gh__static_parse_date(ir, &t) == 0 && t == sb->st_mtim.tv_sec &&
           sb->st_ctim.tv_sec == sb->st_mtim.tv_sec &&
           (int64_t)sb->st_ctim.tv_sec * 1000000000 + sb->st_ctim.tv_nsec +
                   2 * INT64_C(1000000000) <
               now_ns;
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

int gh__static_accept_q(const char *ae, const char *coding)
{
    size_t clen = strlen(coding);
    int star = 0; /* "*": what any coding not named gets */
    const char *p = ae;

    while (*(p = skip_ows_commas(p))) {
        const char *end = strchr(p, ','), *tok_end = p;
        if (!end)
            end = p + strlen(p);
        while (tok_end < end && *tok_end != ';' && *tok_end != ' ' &&
               *tok_end != '\t')
            tok_end++;
        if ((size_t)(tok_end - p) == clen && !strncasecmp(p, coding, clen))
            return gh__accept_weight(tok_end, end);
        if (tok_end - p == 1 && *p == '*')
            star = gh__accept_weight(tok_end, end);
        p = end;
    }
    return star;
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
