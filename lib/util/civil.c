/*
 * civil.c - UTC calendar fields from a time_t, for the log's timestamps and
 * the HTTP Date header, without gmtime_r(): glibc's takes its time zone
 * lock, and the first call reads /etc/localtime from whichever thread makes
 * it (a worker, here).  Days to a civil date in the proleptic Gregorian
 * calendar, after Howard Hinnant's days_from_civil/civil_from_days.
 */
#include "config.h"

#include "internal.h"

void gh__utc_civil(int64_t t, gh__civil_t *c)
{
    int64_t days = t / 86400, sec = t % 86400;
    int64_t era, doe, yoe, doy, mp, m;

    if (sec < 0) {
        sec += 86400;
        days--;
    }
    /* 1970-01-01 was a Thursday. */
    c->wday = (int)(((days % 7) + 11) % 7);
    days += 719468; /* from 1970-01-01 to 0000-03-01 */
    era = (days >= 0 ? days : days - 146096) / 146097;
    doe = days - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    m = mp < 10 ? mp + 3 : mp - 9;
    c->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    c->mon = (int)m;
    c->year = yoe + era * 400 + (m <= 2);
    c->hour = (int)(sec / 3600);
    c->min = (int)(sec / 60 % 60);
    c->sec = (int)(sec % 60);
}
