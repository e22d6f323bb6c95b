/*
 * fuzz_static.c - a libFuzzer target for the static handler's header
 * helpers (handlers/static_http.c), which read what a client sends.
 *
 * The first input byte picks the helper (bits 0-2; the seeds use letters)
 * and a flag (bit 5, the ASCII case bit); the rest, cut at a NUL, is the
 * header value.  'D' HTTP-date, 'F' formatting a time_t (next 8 bytes),
 * 'E'/'e' If-Match compared strongly/weakly, 'R'/'r' Range for a size in
 * the next 8 bytes/byte, 'A'/'a' Accept-Encoding asked about gzip/br, 'X'
 * the listing's HTML and URL escaping.  Beyond not crashing or reading out
 * of bounds, each helper's contract is checked (the check() strings): a
 * model where one is short (RFC 9110 14.1.2's range arithmetic, the
 * escapes), else round trips (a date formats to an IMF-fixdate that parses
 * back), what an appended or prepended piece may change (nothing trails a
 * date or a range; a first mention decides a list), and bounds (a range
 * lies in the file, a match names the tag).
 *
 * Built two ways (tests/fuzz/Makemodule.am): with libFuzzer by `make fuzz`,
 * and with standalone_main.c for `make check`, which runs the seed corpus.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "static.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ETAG "\"1-2-3-4\""        /* the shape gh__static_etag gives */
#define YEAR_1900 (-2208988800LL) /* 1900-01-01 00:00:00 GMT */
#define YEAR_10000 253402300800LL /* 10000-01-01 00:00:00 GMT */
#define YEAR_0 (-62167219200LL)   /* 0000-01-01 00:00:00 GMT */

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_static: broken invariant: %s\n", what);
        abort();
    }
}

/* a, b and c end to end, valid until the next call.  Sized exactly, so
 * that ASan sees a read past the NUL. */
static char *cat(const char *a, const char *b, const char *c)
{
    static char *s;
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;

    free(s);
    if (!(s = malloc(n)))
        abort();
    snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

/* Is s an IMF-fixdate, with the weekday of t (1970-01-01 was a Thu)? */
static bool fixdate(const char *s, time_t t)
{
    static const char shape[] = "Aaa, 00 Aaa 0000 00:00:00 GMT";
    static const char wdays[] = "ThuFriSatSunMonTueWed";
    long long day = (long long)t / 86400 - ((long long)t % 86400 < 0);

    for (size_t i = 0; i < sizeof(shape); i++)
        if (shape[i] == 'A'   ? !(s[i] >= 'A' && s[i] <= 'Z')
            : shape[i] == 'a' ? !(s[i] >= 'a' && s[i] <= 'z')
            : shape[i] == '0' ? !(s[i] >= '0' && s[i] <= '9')
                              : s[i] != shape[i])
            return false;
    return memcmp(s, &wdays[3 * ((day % 7 + 7) % 7)], 3) == 0;
}

/* Any time formats to an IMF-fixdate, of the nearest second of years
 * 0000-9999; from 1900 on (what the parser takes) it parses back. */
static void check_fmt(time_t t)
{
    char out[GH__STATIC_DATE_LEN + 1]; /* exactly: ASan sees one more */
    time_t c = t < YEAR_0 ? YEAR_0 : t >= YEAR_10000 ? YEAR_10000 - 1 : t;
    time_t back;

    gh__static_fmt_date(t, out);
    check(fixdate(out, c), "an IMF-fixdate");
    check(c < YEAR_1900 ||
              (gh__static_parse_date(out, &back) == 0 && back == c),
          "a formatted date parses back to its time");
}

static void fuzz_date(const char *s)
{
    time_t t, t2;

    if (gh__static_parse_date(s, &t) != 0)
        return;
    check(t >= YEAR_1900 && t < YEAR_10000, "a date in 1900-9999");
    check(gh__static_parse_date(cat(s, "x", ""), &t2) != 0,
          "nothing trails a date");
    check_fmt(t);
}

static void fuzz_etag(const char *list, bool strong)
{
    bool m = gh__static_etag_match(list, ETAG, strong);
    bool star = list[strspn(list, " \t,")] == '*';

    check(!m || star || strstr(list, ETAG), "a match names the tag or *");
    check(!gh__static_etag_match(list, ETAG, true) ||
              gh__static_etag_match(list, ETAG, false),
          "a strong match is a weak match");
    check(!m ||
              gh__static_etag_match(cat(list, "\", W/\"* ,", ""), ETAG, strong),
          "what follows a match changes nothing");
    check(gh__static_etag_match(cat(ETAG ", ", list, ""), ETAG, strong),
          "the tag first matches");
    /* The strong comparison skips a weak tag; "*" is only "*" alone. */
    check(gh__static_etag_match(cat("W/" ETAG ",", list, ""), ETAG, strong) ==
              (!strong || (m && !star)),
          "a weak tag first matches only weakly");
}

static enum gh__static_range range(const char *h, uint64_t size, uint64_t *off,
                                   uint64_t *len)
{
    enum gh__static_range r = gh__static_range(h, size, off, len);

    check(r != GH__RANGE_OK || (*len > 0 && *off < size && *len <= size - *off),
          "a range lies inside the file");
    return r;
}

/* RFC 9110 14.1.2: "bytes=first-last" ("first-" when last is UINT64_MAX)
 * is [first, min(last, size - 1)], ignored when backward, 416 past the
 * end; "bytes=-n" (suffix) is the last min(n, size) bytes, 416 if none. */
static void check_model(uint64_t size, uint64_t first, uint64_t last,
                        bool suffix)
{
    uint64_t off = 0, len = 0, n = first < size ? first : size;
    char h[64];
    enum gh__static_range r;

    snprintf(h, sizeof(h), suffix ? "bytes=-%" PRIu64 : "bytes=%" PRIu64 "-",
             first);
    if (!suffix && last != UINT64_MAX)
        snprintf(h + strlen(h), sizeof(h) - strlen(h), "%" PRIu64, last);
    r = range(h, size, &off, &len);
    if (suffix)
        check(n == 0 ? r == GH__RANGE_UNSAT
                     : r == GH__RANGE_OK && len == n && off == size - n,
              "the last min(n, size) bytes");
    else if (last < first)
        check(r == GH__RANGE_NONE, "a backward range is ignored");
    else if (first >= size)
        check(r == GH__RANGE_UNSAT, "a range past the end is 416");
    else
        check(r == GH__RANGE_OK && off == first &&
                  len == (last < size ? last : size - 1) - first + 1,
              "first to min(last, size - 1)");
}

static void fuzz_range(const char *h, uint64_t size)
{
    uint64_t off = 0, len = 0, off2 = 0, len2 = 0, a, b;
    enum gh__static_range r = range(h, size, &off, &len);
    char *end;

    check(!strchr(h, ',') || r == GH__RANGE_NONE, "one range or none");
    check(range(cat(" \t", h, "\t "), size, &off2, &len2) == r &&
              (r != GH__RANGE_OK || (off2 == off && len2 == len)),
          "OWS around a Range value changes nothing");
    check(range(cat(h, "x", ""), size, &off2, &len2) == GH__RANGE_NONE,
          "anything after a Range value voids it");
    if (r == GH__RANGE_OK) { /* what Content-Range says, asked again */
        check_model(size, off, off + len - 1, false);
        if (off + len == size)
            check_model(size, len, 0, true);
    }
    /* The value's first two numbers, saturated as the parser does. */
    a = strtoull(h + strcspn(h, "0123456789"), &end, 10);
    b = strtoull(end + strcspn(end, "0123456789"), NULL, 10);
    check_model(size, a, b, false);
    check_model(size, a, UINT64_MAX, false);
    check_model(size, a, 0, true);
    check_model(size, size - 1, UINT64_MAX, false);
    check_model(size, size, size, false);
    check_model(size, size + 1, 0, true);
}

/* The codings static.c asks about, and how a client may name them. */
static const struct coding {
    const char *name, *allow, *refuse;
} codings[] = {{"gzip", "GZIP", "Gzip;q=0"}, {"br", "bR;Q=1", "BR ; q=0.000"}};

/* Whether ae takes the coding at all (a weight above 0). */
static bool accepts(const char *ae, const char *name)
{
    int q = gh__static_accept_q(ae, name);

    check(q >= 0 && q <= 1000, "a weight is 0 to 1000 thousandths");
    return q > 0;
}

static void fuzz_accepts(const char *ae, const struct coding *c)
{
    bool yes = accepts(ae, c->name), later, later0;
    char *upper = cat(ae, "", "");

    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    check(accepts(upper, c->name) == yes, "case changes nothing");
    check(accepts(cat(" ,\t", ae, ""), c->name) == yes,
          "leading , and OWS change nothing");
    check(accepts(cat(c->allow, ", ", ae), c->name),
          "a first mention allows");
    check(!accepts(cat(c->refuse, ", ", ae), c->name),
          "a first q=0 refuses");
    /* Appended, the coding decides only when ae does not name it. */
    later = accepts(cat(ae, ", ", c->allow), c->name);
    later0 = accepts(cat(ae, ", ", c->refuse), c->name);
    check(later == later0 ? later == yes : later && !later0,
          "a later mention decides only when it is the first");
    if (later != later0 && !strchr(ae, '*'))
        check(accepts(cat("*, ", ae, ""), c->name) &&
                  !accepts(cat("*;q=0, ", ae, ""), c->name),
              "\"*\" decides for a coding not named");
}

/* s as the listing must show it in HTML or in a URL; malloc'd. */
static char *escaped(const char *s, bool html)
{
    static const char raw[] = "&<>\"'";
    static const char *const ref[] = {"&amp;", "&lt;", "&gt;", "&quot;",
                                      "&#39;"};
    char *out = malloc(6 * strlen(s) + 1), *p = out;

    if (!out)
        abort();
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *r = strchr(raw, c);
        if (html && r)
            p += sprintf(p, "%s", ref[r - raw]);
        else if (!html && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
                 !(c >= '0' && c <= '9') && !strchr("-._~", c))
            p += sprintf(p, "%%%02X", c);
        else
            *p++ = (char)c;
    }
    *p = '\0';
    return out;
}

static void fuzz_escape(const char *s)
{
    for (int html = 0; html < 2; html++) {
        gh__static_buf_t b = {0};
        char *want = escaped(s, html);
        const char *got;

        (html ? gh__static_buf_html : gh__static_buf_url)(&b, s);
        got = b.p ? b.p : "";
        check(b.oom || (strlen(got) == b.len && strcmp(got, want) == 0),
              html ? "HTML escaping" : "URL escaping");
        check(!html || b.oom || !strpbrk(got, "<>\"'"), "raw < > \" '");
        free(b.p);
        free(want);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int what = size ? data[0] & 7 : -1;
    bool flag = size && data[0] & 0x20;
    size_t skip = 1, width = what == 2 ? (flag ? 1 : 8) : what == 6 ? 8 : 0;
    uint64_t n = 0;
    char *s;

    if (what < 0 || size < skip + width)
        return 0;
    for (; width > 0; width--)
        n = n << 8 | data[skip++];
    if (!(s = malloc(size - skip + 1)))
        return 0;
    memcpy(s, data + skip, size - skip);
    s[size - skip] = '\0';
    switch (what) {
    case 0:
        fuzz_escape(s);
        break;
    case 1:
        fuzz_accepts(s, &codings[flag]);
        break;
    case 2:
        fuzz_range(s, n);
        break;
    case 4:
        fuzz_date(s);
        break;
    case 5:
        fuzz_etag(s, !flag);
        break;
    case 6: /* any time: half of them within 1900-9999 */
        check_fmt(n & 1
                      ? (time_t)(int64_t)n
                      : YEAR_1900 + (long long)(n % (YEAR_10000 - YEAR_1900)));
        break;
    }
    free(s);
    return 0;
}
