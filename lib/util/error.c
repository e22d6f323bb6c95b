/*
 * error.c - error messages, the version, fatal errors and small parsers of
 * environment settings shared by the runtime.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

const char *gh_version(void)
{
    return GH_VERSION_STRING;
}

const char *gh_strerror(int err)
{
    switch (err) {
#define GH__ERR_MSG(name, value, msg)                                      \
    case value:                                                            \
        return msg;
        GH_ERRNO_MAP(GH__ERR_MSG)
#undef GH__ERR_MSG
    case 0:
        return "success";
    default:
        break;
    }
    if (err < 0 && err > -4000) {
        const char *s = strerrordesc_np(-err);
        if (s)
            return s;
    }
    return "unknown error";
}

const char *gh_err_name(int err)
{
    switch (err) {
#define GH__ERR_NAME(name, value, msg)                                     \
    case value:                                                            \
        return #name;
        GH_ERRNO_MAP(GH__ERR_NAME)
#undef GH__ERR_NAME
    default:
        return "UNKNOWN";
    }
}

void gh__fatal(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n = snprintf(buf, sizeof(buf), "fatal error: ");

    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 2)
        n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    (void)!write(2, buf, (size_t)n);
    _exit(2);
}

long long gh__parse_size(const char *s)
{
    char *end;
    long long v;

    if (!s || !*s)
        return -1;
    v = strtoll(s, &end, 10);
    if (end == s || v < 0)
        return -1;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    return *end ? -1 : v;
}

long gh__env_long(const char *name, long dflt, long lo, long hi)
{
    const char *s = getenv(name);
    long long v;

    if (!s || !*s)
        return dflt;
    v = gh__parse_size(s);
    if (v < lo || v > hi) {
        gh_log(GH_LOG_WARN, "ignoring %s=%s (expected %ld..%ld)", name, s,
               lo, hi);
        return dflt;
    }
    return (long)v;
}
