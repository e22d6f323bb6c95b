/*
 * config.c - the daemon's configuration: turns the tree that
 * gh_conf_parse_file() reads into a gd_config_t, checking every directive.
 *
 * The main context is a list of directives that each set one thing; a
 * later one overrides an earlier one (so -g, applied last, overrides the
 * file), except listen and route, which add.  Every error names the file,
 * line and column of the directive at fault, and an unknown directive is
 * an error, so a typo never passes silently.  A route's block belongs to
 * its plugin, which reads it in init (plugins.c); only "handler" is read
 * here.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/settings.h"
#include "server/log.h"

typedef struct loader {
    gd_config_t *c;
    const gh_conf_section_t *sec; /* the section being read */
    char *err;
    size_t errlen;
    const gh_conf_directive_t *user_d; /* the user directive in force */
} loader_t;

typedef int (*setter_fn)(loader_t *l, const gh_conf_directive_t *d);

static int fail(loader_t *l, const gh_conf_directive_t *d, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));

static int fail(loader_t *l, const gh_conf_directive_t *d, const char *fmt,
                ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (d)
        snprintf(l->err, l->errlen, "%s:%d:%d: %s: %s", gh_conf_file(d),
                 gh_conf_line(d), gh_conf_col(d), gh_conf_name(d), msg);
    else
        snprintf(l->err, l->errlen, "%s", msg);
    return GH_EINVAL;
}

/* The directive must have between min and max arguments and no block. */
static int shape(loader_t *l, const gh_conf_directive_t *d, int min, int max)
{
    int n = gh_conf_nargs(d);

    if (gh_conf_block(d))
        return fail(l, d, "unexpected block");
    if (n < min || n > max) {
        if (min == max)
            return fail(l, d, "expected %d argument%s, found %d", min,
                        min == 1 ? "" : "s", n);
        return fail(l, d, "expected %d to %d arguments, found %d", min, max,
                    n);
    }
    return 0;
}

static int get_size(loader_t *l, const gh_conf_directive_t *d, uint64_t max,
                    uint64_t *out)
{
    int rc = shape(l, d, 1, 1);

    if (rc)
        return rc;
    if (gh_conf_parse_size(gh_conf_arg(d, 0), out) < 0)
        return fail(l, d, "expected a size (e.g. 512, 64k, 1m), found \"%s\"",
                    gh_conf_arg(d, 0));
    if (*out > max)
        return fail(l, d, "must be at most %llu", (unsigned long long)max);
    return 0;
}

static int get_count(loader_t *l, const gh_conf_directive_t *d, uint64_t min,
                     uint64_t max, uint64_t *out)
{
    const char *a;
    char *end;
    int rc = shape(l, d, 1, 1);

    if (rc)
        return rc;
    a = gh_conf_arg(d, 0);
    errno = 0;
    *out = strtoull(a, &end, 10);
    if (!*a || *end || *a == '-' || errno)
        return fail(l, d, "expected a number, found \"%s\"", a);
    if (*out < min || *out > max)
        return fail(l, d, "must be between %llu and %llu",
                    (unsigned long long)min, (unsigned long long)max);
    return 0;
}

static int get_duration(loader_t *l, const gh_conf_directive_t *d,
                        int64_t *out)
{
    int rc = shape(l, d, 1, 1);

    if (rc)
        return rc;
    if (gh_conf_parse_duration(gh_conf_arg(d, 0), out) < 0)
        return fail(l, d,
                    "expected a duration (e.g. 30s, 500ms, 5m), found \"%s\"",
                    gh_conf_arg(d, 0));
    if (*out <= 0)
        return fail(l, d, "must be more than 0");
    return 0;
}

/* d's one argument as a duration, or 0 when it is word ("0", "off"). */
static int get_duration_or_zero(loader_t *l, const gh_conf_directive_t *d,
                                const char *word, int64_t *out)
{
    int rc = shape(l, d, 1, 1);

    if (rc)
        return rc;
    if (strcmp(gh_conf_arg(d, 0), word) == 0) {
        *out = 0;
        return 0;
    }
    return get_duration(l, d, out);
}

static int get_flag(loader_t *l, const gh_conf_directive_t *d, bool *out)
{
    int rc = shape(l, d, 1, 1);

    if (rc)
        return rc;
    if (gh_conf_parse_bool(gh_conf_arg(d, 0), out) < 0)
        return fail(l, d, "expected on or off, found \"%s\"",
                    gh_conf_arg(d, 0));
    return 0;
}

/* ---- the HTTP limits and timeouts ---- */

/* "must be more than 0", or "must be at least 32k": min as the file would
 * write it, in the largest unit that divides it. */
static int size_below(loader_t *l, const gh_conf_directive_t *d,
                      uint64_t min)
{
    static const char units[] = "kmg";
    int u = 0;

    if (min <= 1)
        return fail(l, d, "must be more than 0");
    while (u < 3 && min % 1024 == 0) {
        min /= 1024;
        u++;
    }
    if (u == 0)
        return fail(l, d, "must be at least %llu", (unsigned long long)min);
    return fail(l, d, "must be at least %llu%c", (unsigned long long)min,
                units[u - 1]);
}

#define HTTP_SIZE(field, min, max)                                         \
    static int set_##field(loader_t *l, const gh_conf_directive_t *d)      \
    {                                                                      \
        uint64_t v;                                                        \
        int rc = get_size(l, d, max, &v);                                  \
        if (rc == 0 && v < (min))                                          \
            rc = size_below(l, d, min);                                    \
        if (rc == 0)                                                       \
            l->c->http.field = v;                                          \
        return rc;                                                         \
    }
#define HTTP_COUNT(field, min, max)                                        \
    static int set_##field(loader_t *l, const gh_conf_directive_t *d)      \
    {                                                                      \
        uint64_t v;                                                        \
        int rc = get_count(l, d, min, max, &v);                            \
        if (rc == 0)                                                       \
            l->c->http.field = v;                                          \
        return rc;                                                         \
    }
#define HTTP_DURATION(field)                                               \
    static int set_##field(loader_t *l, const gh_conf_directive_t *d)      \
    {                                                                      \
        int64_t v;                                                         \
        int rc = get_duration(l, d, &v);                                   \
        if (rc == 0)                                                       \
            l->c->http.field = v;                                          \
        return rc;                                                         \
    }

/* Less stack than this breaks every connection: with 16k or 24k the
 * first request overflows into the guard page (a fatal signal), with 12k
 * or less each connection is closed.  32k was measured to work, over TLS
 * too. */
#define STACK_MIN (32u << 10)

HTTP_SIZE(max_target, 1, 1u << 20)
HTTP_SIZE(max_header_bytes, 1, 1u << 24)
HTTP_SIZE(max_body, 1, UINT64_MAX / 2)
HTTP_SIZE(stack_size, STACK_MIN, 1u << 30)
HTTP_SIZE(linger_bytes, 1, UINT64_MAX / 2)
HTTP_COUNT(max_headers, 1, 65535)
HTTP_COUNT(body_min_rate, 0, UINT32_MAX)
HTTP_COUNT(write_min_rate, 0, UINT32_MAX)
HTTP_COUNT(max_conns, 1, UINT32_MAX)
HTTP_COUNT(max_requests, 0, UINT32_MAX)
HTTP_DURATION(header_timeout)
HTTP_DURATION(body_timeout)
HTTP_DURATION(write_timeout)
HTTP_DURATION(idle_timeout)
HTTP_DURATION(accept_backoff)
HTTP_DURATION(linger_timeout)

static int set_server_header(loader_t *l, const gh_conf_directive_t *d)
{
    const char *v;
    int rc = shape(l, d, 1, 1);

    if (rc)
        return rc;
    v = gh_conf_arg(d, 0);
    if (strpbrk(v, "\r\n"))
        return fail(l, d, "must not contain a line break");
    /* RFC 9110 5.5: a field value holds no CTL but HTAB; a client may
     * reject the response, or a proxy cut the header, on any other. */
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return fail(l, d, "must not contain a control character "
                        "(byte 0x%02x)", *p);
    l->c->http.server_header = strcmp(v, "off") == 0 ? NULL : v;
    return 0;
}

/* health_path / ready_path: a path, or off. */
static int get_probe_path(loader_t *l, const gh_conf_directive_t *d,
                          const char **out)
{
    const char *v;
    int rc = shape(l, d, 1, 1);

    if (rc)
        return rc;
    v = gh_conf_arg(d, 0);
    if (strcmp(v, "off") == 0) {
        *out = NULL;
        return 0;
    }
    if (v[0] != '/' || strpbrk(v, "?# \t\r\n"))
        return fail(l, d, "expected a path starting with / (no query) or "
                    "off, found \"%s\"", v);
    *out = v;
    return 0;
}

static int set_health_path(loader_t *l, const gh_conf_directive_t *d)
{
    return get_probe_path(l, d, &l->c->http.health_path);
}

static int set_ready_path(loader_t *l, const gh_conf_directive_t *d)
{
    return get_probe_path(l, d, &l->c->http.ready_path);
}

static int set_health_log(loader_t *l, const gh_conf_directive_t *d)
{
    return get_flag(l, d, &l->c->http.health_log);
}

/* ---- behind a reverse proxy ---- */

/* A string the configuration owns (freed with it), or NULL. */
static char *own(loader_t *l, char *s)
{
    gd_config_t *c = l->c;
    char **o;

    if (!s)
        return NULL;
    if (!(o = realloc(c->owned, (size_t)(c->nowned + 1) * sizeof(*o)))) {
        free(s);
        return NULL;
    }
    c->owned = o;
    c->owned[c->nowned++] = s;
    return s;
}

/* d's arguments as one checked network list ("a b c"), owned by the
 * configuration; NULL with an error. */
static const char *get_netlist(loader_t *l, const gh_conf_directive_t *d)
{
    size_t len = 1;
    char *text, err[256];
    gh_netlist_t *nl;
    int n = gh_conf_nargs(d);

    for (int i = 0; i < n; i++)
        len += strlen(gh_conf_arg(d, i)) + 1;
    if (!(text = own(l, calloc(1, len)))) {
        fail(l, d, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        strcat(text, gh_conf_arg(d, i));
        strcat(text, " ");
    }
    if (gh_netlist_new(&nl, text, err, sizeof(err)) < 0) {
        fail(l, d, "%s", err[0] ? err : "out of memory");
        return NULL;
    }
    gh_netlist_free(nl);
    return text;
}

static int set_trusted_proxies(loader_t *l, const gh_conf_directive_t *d)
{
    int rc = shape(l, d, 1, 4096);

    if (rc)
        return rc;
    if (gh_conf_nargs(d) == 1 && strcmp(gh_conf_arg(d, 0), "off") == 0) {
        l->c->http.trusted_proxies = NULL;
        return 0;
    }
    l->c->http.trusted_proxies = get_netlist(l, d);
    return l->c->http.trusted_proxies ? 0 : GH_EINVAL;
}

static int set_real_ip_header(loader_t *l, const gh_conf_directive_t *d)
{
    static const char *const names[] = {"X-Forwarded-For", "X-Real-IP",
                                        "Forwarded"};
    int rc = shape(l, d, 1, 1);

    if (rc)
        return rc;
    for (int i = 0; i < 3; i++)
        if (strcasecmp(gh_conf_arg(d, 0), names[i]) == 0) {
            l->c->http.real_ip_header = names[i];
            return 0;
        }
    return fail(l, d, "expected X-Forwarded-For, X-Real-IP or Forwarded, "
                "found \"%s\"", gh_conf_arg(d, 0));
}

static int set_real_ip_recursive(loader_t *l, const gh_conf_directive_t *d)
{
    return get_flag(l, d, &l->c->http.real_ip_recursive);
}

/* Headers the server writes itself, or reads to frame the message and
 * manage the connection: a request ID echoed in one of them would give a
 * response two framings (or two values of something only the server may
 * say), so none can carry it. */
static bool server_owned_header(const char *name)
{
    static const char *const names[] = {
        "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
        "Proxy-Connection", "TE", "Trailer", "Upgrade", "Host", "Date",
        "Server", "Content-Type", "Expect"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

static int set_request_id_header(loader_t *l, const gh_conf_directive_t *d)
{
    const char *v;
    size_t n;
    int rc = shape(l, d, 1, 1);

    if (rc)
        return rc;
    v = gh_conf_arg(d, 0);
    if (strcmp(v, "off") == 0) {
        l->c->http.request_id_header = NULL;
        return 0;
    }
    n = strlen(v);
    if (n == 0 || n > 64 ||
        strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789!#$%&'*+-.^_`|~") != n)
        return fail(l, d, "expected a header name (letters, digits, '-'; "
                    "at most 64) or off, found \"%s\"", v);
    if (server_owned_header(v))
        return fail(l, d, "\"%s\" is a header the server sets or reads "
                    "itself (for framing and the connection): choose "
                    "another name", v);
    l->c->http.request_id_header = v;
    return 0;
}

HTTP_COUNT(max_forwarded_hops, 1, 64)

/* ---- the daemon's own settings ---- */

static int set_workers(loader_t *l, const gh_conf_directive_t *d)
{
    uint64_t v;
    int rc = shape(l, d, 1, 1);

    if (rc)
        return rc;
    if (strcmp(gh_conf_arg(d, 0), "auto") == 0) {
        l->c->workers = 0;
        return 0;
    }
    if ((rc = get_count(l, d, 1, 1024, &v)) == 0)
        l->c->workers = (int)v;
    return rc;
}

/*
 * Users and groups are looked up at load, not only when root is dropped
 * (process.c), so that -t and a reload refuse a name start-up would.
 * The _r calls: a reload loads while handlers run on other threads, and
 * getpwnam()'s record is shared.  A record too large for the buffer
 * (ERANGE) is tried again with a larger one.
 */
#define ID_BUF_MAX (1u << 20)

/* One getpwnam_r/getgrnam_r call: its error, *found and the id. */
typedef int (*id_fn)(const char *name, char *buf, size_t len, bool *found,
                     unsigned *id);

static int passwd_id(const char *name, char *buf, size_t len, bool *found,
                     unsigned *id)
{
    struct passwd pw, *res = NULL;
    int e = getpwnam_r(name, &pw, buf, len, &res);

    if ((*found = res != NULL))
        *id = pw.pw_uid;
    return e;
}

static int group_id(const char *name, char *buf, size_t len, bool *found,
                    unsigned *id)
{
    struct group gr, *res = NULL;
    int e = getgrnam_r(name, &gr, buf, len, &res);

    if ((*found = res != NULL))
        *id = gr.gr_gid;
    return e;
}

/* Look name up as a what ("user", "group") with fn, into *id. */
static int id_lookup(loader_t *l, const gh_conf_directive_t *d,
                     const char *what, const char *name, id_fn fn,
                     unsigned *id)
{
    char *buf = NULL, *nb;
    size_t len = 512;
    bool found;
    int e;

    do {
        if (!(nb = realloc(buf, len *= 2))) {
            free(buf);
            return fail(l, d, "out of memory");
        }
        buf = nb;
        e = fn(name, buf, len, &found, id);
    } while (!found && e == ERANGE && len < ID_BUF_MAX);
    free(buf);
    if (found)
        return 0;
    if (e == 0 || e == ENOENT || e == ESRCH)
        return fail(l, d, "no %s \"%s\" on this system", what, name);
    return fail(l, d, "cannot look up %s \"%s\": %s", what, name,
                strerror(e));
}

static int user_lookup(loader_t *l, const gh_conf_directive_t *d,
                       const char *name, uid_t *uid)
{
    unsigned id;
    int rc = id_lookup(l, d, "user", name, passwd_id, &id);

    if (rc == 0)
        *uid = (uid_t)id;
    return rc;
}

static int group_lookup(loader_t *l, const gh_conf_directive_t *d,
                        const char *name, gid_t *gid)
{
    unsigned id;
    int rc = id_lookup(l, d, "group", name, group_id, &id);

    if (rc == 0)
        *gid = (gid_t)id;
    return rc;
}

/* user NAME [GROUP]: both must exist, as start-up as root looks them up
 * by name; a typo is refused here even when not root. */
static int set_user(loader_t *l, const gh_conf_directive_t *d)
{
    uid_t uid;
    gid_t gid;
    int rc = shape(l, d, 1, 2);

    if (rc)
        return rc;
    l->c->user = gh_conf_arg(d, 0);
    l->c->group = gh_conf_nargs(d) > 1 ? gh_conf_arg(d, 1) : NULL;
    l->user_d = d;
    if ((rc = user_lookup(l, d, l->c->user, &uid)))
        return rc;
    return l->c->group ? group_lookup(l, d, l->c->group, &gid) : 0;
}

/* Started as root without allow_root, start-up refuses a user that is
 * root (process.c).  allow_root may come later in the file or from -g,
 * so this runs once all is read; as any other user it cannot apply. */
static int check_root_user(loader_t *l)
{
    uid_t uid;

    if (geteuid() != 0 || l->c->allow_root)
        return 0;
    if (user_lookup(l, l->user_d, l->c->user, &uid))
        return GH_EINVAL;
    if (uid == 0)
        return fail(l, l->user_d, "\"%s\" has uid 0: refusing to run "
                    "handlers as root (set allow_root on to insist)",
                    l->c->user);
    return 0;
}

static int set_allow_root(loader_t *l, const gh_conf_directive_t *d)
{
    return get_flag(l, d, &l->c->allow_root);
}

/* d's first argument as a path, or off (NULL) when off_ok. */
static int get_path(loader_t *l, const gh_conf_directive_t *d, bool off_ok,
                    const char **out)
{
    *out = gh_conf_arg(d, 0);
    if (!**out)
        return fail(l, d, "expected a path, found \"\"");
    if (off_ok && strcmp(*out, "off") == 0)
        *out = NULL;
    return 0;
}

static int set_pid_file(loader_t *l, const gh_conf_directive_t *d)
{
    return shape(l, d, 1, 1) ? GH_EINVAL
                             : get_path(l, d, true, &l->c->pid_file);
}

static int set_plugin_dir(loader_t *l, const gh_conf_directive_t *d)
{
    return shape(l, d, 1, 1) ? GH_EINVAL
                             : get_path(l, d, false, &l->c->plugin_dir);
}

static int set_error_log(loader_t *l, const gh_conf_directive_t *d)
{
    int rc = shape(l, d, 1, 2), level;

    if (rc)
        return rc;
    if (gh_conf_nargs(d) > 1) {
        level = gh_log_level_parse(gh_conf_arg(d, 1));
        if (level < 0)
            return fail(l, d, "expected a level (error, warn, notice, info, "
                        "debug), found \"%s\"", gh_conf_arg(d, 1));
        l->c->error_level = level;
    }
    return get_path(l, d, false, &l->c->error_log);
}

static int set_access_log(loader_t *l, const gh_conf_directive_t *d)
{
    int rc = shape(l, d, 1, 2), fmt;

    if (rc)
        return rc;
    if (gh_conf_nargs(d) > 1) {
        fmt = gd_access_format_parse(gh_conf_arg(d, 1));
        if (fmt < 0)
            return fail(l, d, "expected a format (common, combined, json, "
                        "combined_id), "
                        "found \"%s\"", gh_conf_arg(d, 1));
        l->c->access_format = fmt;
    }
    return get_path(l, d, true, &l->c->access_log);
}

static int set_log_buffer(loader_t *l, const gh_conf_directive_t *d)
{
    int rc = get_size(l, d, 1u << 30, &l->c->log_buffer);

    if (rc == 0 && l->c->log_buffer < 4096)
        rc = fail(l, d, "must be at least 4k");
    return rc;
}

static int set_shutdown_timeout(loader_t *l, const gh_conf_directive_t *d)
{
    return get_duration(l, d, &l->c->shutdown_timeout);
}

static int set_stall_limit(loader_t *l, const gh_conf_directive_t *d)
{
    int64_t *v = &l->c->stall_limit;
    int rc = get_duration_or_zero(l, d, "off", v);

    /* gh_set_stall_limit()'s range, checked here: loading must not
     * change the running process. */
    if (rc == 0 && *v && (*v < 10 * GH_MILLISECOND || *v > GH_HOUR))
        return fail(l, d, "must be off, or between 10ms and 1h");
    return rc;
}

static int set_drain_delay(loader_t *l, const gh_conf_directive_t *d)
{
    return get_duration_or_zero(l, d, "0", &l->c->drain_delay);
}

static int set_upgrade_timeout(loader_t *l, const gh_conf_directive_t *d)
{
    return get_duration(l, d, &l->c->upgrade_timeout);
}

static int set_max_open_files(loader_t *l, const gh_conf_directive_t *d)
{
    return get_count(l, d, 64, 1u << 30, &l->c->max_open_files);
}

/* ---- listen and route ---- */

static int listen_flag(loader_t *l, const gh_conf_directive_t *d,
                       gd_listen_t *ls, const char *a)
{
    uint64_t v;
    char *end;

    if (strcmp(a, "reuseport") == 0) {
        ls->reuseport = true;
        return 0;
    }
    if (strncmp(a, "backlog=", 8) == 0) {
        errno = 0;
        v = strtoull(a + 8, &end, 10);
        if (a[8] && !*end && a[8] != '-' && !errno && v >= 1 && v <= 65535) {
            ls->backlog = (int)v;
            return 0;
        }
        return fail(l, d, "backlog= expects a number from 1 to 65535, "
                    "found \"%s\"", a + 8);
    }
    return fail(l, d, "unknown flag \"%s\" (expected reuseport or "
                "backlog=N)", a);
}

/* ---- a listen block: settings of one listener ---- */

typedef int (*listen_setter_fn)(loader_t *l, const gh_conf_directive_t *d,
                                gd_listen_t *ls);

/* A user or group name, or a number. */
static int socket_id(loader_t *l, const gh_conf_directive_t *d, bool group,
                     long *out)
{
    const char *a;
    char *end;
    unsigned long v;
    int rc = shape(l, d, 1, 1);

    if (rc)
        return rc;
    a = gh_conf_arg(d, 0);
    errno = 0;
    v = strtoul(a, &end, 10);
    if (*a && !*end && *a != '-' && !errno && v < (1ul << 31)) {
        *out = (long)v;
        return 0;
    }
    if (group) {
        gid_t gid;
        if ((rc = group_lookup(l, d, a, &gid)) == 0)
            *out = (long)gid;
        return rc;
    }
    uid_t uid;
    if ((rc = user_lookup(l, d, a, &uid)) == 0)
        *out = (long)uid;
    return rc;
}

static int set_socket_owner(loader_t *l, const gh_conf_directive_t *d,
                            gd_listen_t *ls)
{
    return socket_id(l, d, false, &ls->uid);
}

static int set_socket_group(loader_t *l, const gh_conf_directive_t *d,
                            gd_listen_t *ls)
{
    return socket_id(l, d, true, &ls->gid);
}

static int set_socket_mode(loader_t *l, const gh_conf_directive_t *d,
                           gd_listen_t *ls)
{
    const char *a;
    char *end;
    unsigned long v;
    int rc = shape(l, d, 1, 1);

    if (rc)
        return rc;
    a = gh_conf_arg(d, 0);
    errno = 0;
    v = strtoul(a, &end, 8);
    if (!*a || *end || *a == '-' || errno || v == 0 || v > 0777)
        return fail(l, d, "expected an octal mode from 1 to 0777 (e.g. "
                    "0660), found \"%s\"", a);
    ls->mode = (unsigned)v;
    return 0;
}

/* The name of the inherited socket (LISTEN_FDNAMES) to serve instead of
 * binding: systemd's FileDescriptorName=, which LISTEN_FDNAMES splits on
 * ':' (so none in it). */
static int set_fd_name(loader_t *l, const gh_conf_directive_t *d,
                       gd_listen_t *ls)
{
    const char *a;
    int rc = shape(l, d, 1, 1);

    if (rc)
        return rc;
    a = gh_conf_arg(d, 0);
    if (!*a || strlen(a) > 255 || strchr(a, ':'))
        return fail(l, d, "expected a name of 1 to 255 characters without "
                    "':', found \"%s\"", a);
    ls->fd_name = a;
    return 0;
}

static int set_proxy_protocol(loader_t *l, const gh_conf_directive_t *d,
                              gd_listen_t *ls)
{
    return get_flag(l, d, &ls->proxy_protocol);
}

static int set_proxy_protocol_from(loader_t *l, const gh_conf_directive_t *d,
                                   gd_listen_t *ls)
{
    int rc = shape(l, d, 1, 4096);

    if (rc)
        return rc;
    ls->proxy_protocol_from = get_netlist(l, d);
    return ls->proxy_protocol_from ? 0 : GH_EINVAL;
}

static int set_proxy_protocol_timeout(loader_t *l,
                                      const gh_conf_directive_t *d,
                                      gd_listen_t *ls)
{
    return get_duration(l, d, &ls->proxy_protocol_timeout);
}

/* notsent_lowat SIZE | off: at most 64m, as no send queue is larger. */
static int set_notsent_lowat(loader_t *l, const gh_conf_directive_t *d,
                             gd_listen_t *ls)
{
    uint64_t v;
    int rc = shape(l, d, 1, 1);

    if (rc)
        return rc;
    if (strcmp(gh_conf_arg(d, 0), "off") == 0) {
        ls->notsent_lowat = -1;
        return 0;
    }
    if ((rc = get_size(l, d, 64u << 20, &v)))
        return rc;
    if (v == 0)
        return fail(l, d, "must be at least 1 (or off)");
    ls->notsent_lowat = (int)v;
    return 0;
}

/* ---- a listen block's tls block ---- */

static char *config_relative(const gd_config_t *c, const char *path);

#define SNI_MAX 1024

/* A tls block while it is read: the options and the strings they point
 * to (file names made relative to the main file's directory). */
typedef struct tls_build {
    gh_tls_opts_t o;
    gh_tls_cert_t *certs;      /* [0] the default; then the sni ones */
    int ncerts;
    const gh_conf_directive_t *certd; /* where the default's was set */
    char *files[2 * SNI_MAX + 8]; /* every path made; freed at the end */
    int nfiles;
} tls_build_t;

typedef int (*tls_setter_fn)(loader_t *l, const gh_conf_directive_t *d,
                             tls_build_t *b);

static int tls_file(loader_t *l, const gh_conf_directive_t *d,
                    tls_build_t *b, const char *arg, const char **out)
{
    char *full;

    if (!*arg)
        return fail(l, d, "expected a file, found \"\"");
    if (b->nfiles == (int)(sizeof(b->files) / sizeof(b->files[0])) ||
        !(full = config_relative(l->c, arg)))
        return fail(l, d, "out of memory");
    b->files[b->nfiles++] = full;
    *out = full;
    return 0;
}

static int tls_one_file(loader_t *l, const gh_conf_directive_t *d,
                        tls_build_t *b, const char **out)
{
    int rc = shape(l, d, 1, 1);

    return rc ? rc : tls_file(l, d, b, gh_conf_arg(d, 0), out);
}

static int tls_certificate(loader_t *l, const gh_conf_directive_t *d,
                           tls_build_t *b)
{
    b->certd = d;
    return tls_one_file(l, d, b, &b->certs[0].cert_file);
}

static int tls_key(loader_t *l, const gh_conf_directive_t *d, tls_build_t *b)
{
    return tls_one_file(l, d, b, &b->certs[0].key_file);
}

static int tls_ocsp(loader_t *l, const gh_conf_directive_t *d, tls_build_t *b)
{
    return tls_one_file(l, d, b, &b->certs[0].ocsp_file);
}

static int tls_client_ca(loader_t *l, const gh_conf_directive_t *d,
                         tls_build_t *b)
{
    return tls_one_file(l, d, b, &b->o.client_ca_file);
}

/* sni NAME CERT KEY [OCSP]; */
static int tls_sni(loader_t *l, const gh_conf_directive_t *d, tls_build_t *b)
{
    gh_tls_cert_t *c;
    int rc = shape(l, d, 3, 4);

    if (rc)
        return rc;
    if (b->ncerts > SNI_MAX)
        return fail(l, d, "more than %d names", SNI_MAX);
    if (!*gh_conf_arg(d, 0) || strchr(gh_conf_arg(d, 0), '/'))
        return fail(l, d, "expected a server name, found \"%s\"",
                    gh_conf_arg(d, 0));
    if (!(c = realloc(b->certs, (size_t)(b->ncerts + 1) * sizeof(*c))))
        return fail(l, d, "out of memory");
    b->certs = c;
    c = &c[b->ncerts++];
    *c = (gh_tls_cert_t){.name = gh_conf_arg(d, 0)};
    if ((rc = tls_file(l, d, b, gh_conf_arg(d, 1), &c->cert_file)) ||
        (rc = tls_file(l, d, b, gh_conf_arg(d, 2), &c->key_file)))
        return rc;
    return gh_conf_nargs(d) > 3
               ? tls_file(l, d, b, gh_conf_arg(d, 3), &c->ocsp_file)
               : 0;
}

static int tls_min_version(loader_t *l, const gh_conf_directive_t *d,
                           tls_build_t *b)
{
    int rc = shape(l, d, 1, 1);
    const char *a = gh_conf_arg(d, 0);

    if (rc)
        return rc;
    if (strcmp(a, "TLSv1.2") == 0)
        b->o.min_version = GH_TLS_1_2;
    else if (strcmp(a, "TLSv1.3") == 0)
        b->o.min_version = GH_TLS_1_3;
    else
        return fail(l, d, "expected TLSv1.2 or TLSv1.3, found \"%s\"", a);
    return 0;
}

static int tls_ciphers(loader_t *l, const gh_conf_directive_t *d,
                       tls_build_t *b)
{
    int rc = shape(l, d, 1, 1);

    if (rc == 0)
        b->o.ciphers = gh_conf_arg(d, 0);
    return rc;
}

static int tls_ciphersuites(loader_t *l, const gh_conf_directive_t *d,
                            tls_build_t *b)
{
    int rc = shape(l, d, 1, 1);

    if (rc == 0)
        b->o.ciphersuites = gh_conf_arg(d, 0);
    return rc;
}

static int tls_verify_client(loader_t *l, const gh_conf_directive_t *d,
                             tls_build_t *b)
{
    int rc = shape(l, d, 1, 1);
    const char *a = gh_conf_arg(d, 0);

    if (rc)
        return rc;
    if (strcmp(a, "off") == 0)
        b->o.verify_client = GH_TLS_VERIFY_OFF;
    else if (strcmp(a, "on") == 0)
        b->o.verify_client = GH_TLS_VERIFY_REQUIRE;
    else if (strcmp(a, "optional") == 0)
        b->o.verify_client = GH_TLS_VERIFY_OPTIONAL;
    else
        return fail(l, d, "expected on, optional or off, found \"%s\"", a);
    return 0;
}

static int tls_verify_depth(loader_t *l, const gh_conf_directive_t *d,
                            tls_build_t *b)
{
    uint64_t v;
    int rc = get_count(l, d, 1, 100, &v);

    b->o.verify_depth = (int)v;
    return rc;
}

static int tls_tickets(loader_t *l, const gh_conf_directive_t *d,
                       tls_build_t *b)
{
    return get_flag(l, d, &b->o.session_tickets);
}

static int tls_ktls(loader_t *l, const gh_conf_directive_t *d, tls_build_t *b)
{
    return get_flag(l, d, &b->o.ktls);
}

static int tls_rotate(loader_t *l, const gh_conf_directive_t *d,
                      tls_build_t *b)
{
    return get_duration(l, d, &b->o.ticket_key_rotate);
}

static int tls_session_timeout(loader_t *l, const gh_conf_directive_t *d,
                               tls_build_t *b)
{
    return get_duration(l, d, &b->o.session_timeout);
}

static int tls_handshake_timeout(loader_t *l, const gh_conf_directive_t *d,
                                 tls_build_t *b)
{
    return get_duration(l, d, &b->o.handshake_timeout);
}

static int tls_session_cache(loader_t *l, const gh_conf_directive_t *d,
                             tls_build_t *b)
{
    uint64_t v;
    int rc = get_count(l, d, 0, 1u << 24, &v);

    b->o.session_cache = (uint32_t)v;
    return rc;
}

static int tls_max_handshakes(loader_t *l, const gh_conf_directive_t *d,
                              tls_build_t *b)
{
    uint64_t v;
    int rc = get_count(l, d, 1, 1u << 24, &v);

    b->o.max_handshakes = (uint32_t)v;
    return rc;
}

static const struct tls_key {
    const char *name;
    tls_setter_fn set;
} tls_keys[] = {
    {"certificate", tls_certificate},
    {"key", tls_key},
    {"ocsp_response", tls_ocsp},
    {"sni", tls_sni},
    {"min_version", tls_min_version},
    {"ciphers", tls_ciphers},
    {"ciphersuites", tls_ciphersuites},
    {"verify_client", tls_verify_client},
    {"client_ca", tls_client_ca},
    {"verify_depth", tls_verify_depth},
    {"session_tickets", tls_tickets},
    {"ticket_key_rotate", tls_rotate},
    {"session_cache", tls_session_cache},
    {"session_timeout", tls_session_timeout},
    {"handshake_timeout", tls_handshake_timeout},
    {"max_handshakes", tls_max_handshakes},
    {"ktls", tls_ktls},
};

static int tls_keys_read(loader_t *l, const gh_conf_section_t *sec,
                         tls_build_t *b)
{
    size_t i, n = sizeof(tls_keys) / sizeof(tls_keys[0]);
    int rc;

    for (int k = 0; k < gh_conf_count(sec); k++) {
        const gh_conf_directive_t *d = gh_conf_at(sec, k);

        for (i = 0; i < n && strcmp(gh_conf_name(d), tls_keys[i].name); i++)
            ;
        if (i == n)
            return fail(l, d, "unknown setting in a tls block");
        gh_conf_use(d);
        if ((rc = tls_keys[i].set(l, d, b)))
            return rc;
    }
    return 0;
}

/* Check the block's sense, then build the context: gh_tls_new() reads
 * every file, so a bad one is reported here, at the tls directive. */
static int tls_build(loader_t *l, const gh_conf_directive_t *d,
                     tls_build_t *b, gd_listen_t *ls)
{
    char err[512];

    if (!b->certs[0].cert_file || !b->certs[0].key_file)
        return fail(l, d, "a tls block needs certificate and key");
    if (b->o.verify_client != GH_TLS_VERIFY_OFF && !b->o.client_ca_file)
        return fail(l, d, "verify_client needs client_ca");
    b->o.certs = b->certs;
    b->o.ncerts = b->ncerts;
    if (gh_tls_new(&ls->tls, &b->o, err, sizeof(err)) < 0)
        return fail(l, d, "%s", err);
    return 0;
}

static int set_listen_tls(loader_t *l, const gh_conf_directive_t *d,
                          gd_listen_t *ls)
{
    tls_build_t *b;
    int rc;

    if (!gh_conf_block(d) || gh_conf_nargs(d) != 0)
        return fail(l, d, "expected a block: tls { certificate FILE; key "
                    "FILE; ... }");
    if (ls->tls)
        return fail(l, d, "a second tls block");
    if (!(b = calloc(1, sizeof(*b))) ||
        !(b->certs = calloc(1, sizeof(*b->certs)))) {
        free(b);
        return fail(l, d, "out of memory");
    }
    b->ncerts = 1;
    gh_tls_opts_init(&b->o);
    rc = tls_keys_read(l, gh_conf_block(d), b);
    if (rc == 0)
        rc = tls_build(l, d, b, ls);
    for (int i = 0; i < b->nfiles; i++)
        free(b->files[i]);
    free(b->certs);
    free(b);
    return rc;
}

static const struct listen_key {
    const char *name;
    listen_setter_fn set;
    bool unix_only;          /* a Unix-domain socket's file */
    bool tcp_only;
} listen_keys[] = {
    {"owner", set_socket_owner, true, false},
    {"group", set_socket_group, true, false},
    {"mode", set_socket_mode, true, false},
    {"fd_name", set_fd_name, false, false},
    {"proxy_protocol", set_proxy_protocol, false, false},
    {"proxy_protocol_from", set_proxy_protocol_from, false, false},
    {"proxy_protocol_timeout", set_proxy_protocol_timeout, false, false},
    {"tls", set_listen_tls, false, false},
    {"notsent_lowat", set_notsent_lowat, false, true},
};

/* PROXY protocol settings without "proxy_protocol on" would do nothing:
 * most likely the switch was forgotten, and with it the client's
 * address.  An error, not a silent no-op. */
static int proxy_settings_alone(loader_t *l, const gh_conf_section_t *b,
                                const gd_listen_t *ls)
{
    static const char *const keys[] = {"proxy_protocol_from",
                                       "proxy_protocol_timeout"};

    if (ls->proxy_protocol)
        return 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const gh_conf_directive_t *d = gh_conf_find(b, keys[i]);
        if (d)
            return fail(l, d, "needs \"proxy_protocol on;\" in the same "
                        "listen block");
    }
    return 0;
}

static int listen_block(loader_t *l, const gh_conf_section_t *b,
                        gd_listen_t *ls)
{
    size_t i, n = sizeof(listen_keys) / sizeof(listen_keys[0]);
    bool is_unix = strncmp(ls->addr, "unix:", 5) == 0;
    int rc;

    for (int k = 0; k < gh_conf_count(b); k++) {
        const gh_conf_directive_t *d = gh_conf_at(b, k);

        for (i = 0; i < n; i++)
            if (strcmp(gh_conf_name(d), listen_keys[i].name) == 0)
                break;
        if (i == n)
            return fail(l, d, "unknown setting in a listen block");
        if (listen_keys[i].unix_only && !is_unix)
            return fail(l, d, "only for a unix: listener");
        if (listen_keys[i].tcp_only && is_unix)
            return fail(l, d, "only for a TCP listener");
        gh_conf_use(d);
        if ((rc = listen_keys[i].set(l, d, ls)))
            return rc;
    }
    return proxy_settings_alone(l, b, ls);
}

/* ---- listen addresses, read as gh_server_listen() will ---- */

/* addr as the server will read it; d is NULL for -l. */
static int check_addr(loader_t *l, const gh_conf_directive_t *d,
                      const char *addr)
{
    const char *why = gh_listen_addr_problem(addr);

    if (!why)
        return 0;
    if (d)
        return fail(l, d, "\"%s\": %s", addr, why);
    return fail(l, NULL, "-l %s: %s", addr, why);
}

static int set_listen(loader_t *l, const gh_conf_directive_t *d)
{
    gd_config_t *c = l->c;
    gd_listen_t *ls;
    int rc, n = gh_conf_nargs(d);

    if (n < 1 || n > 3)
        return fail(l, d, "expected 1 to 3 arguments, found %d", n);
    ls = realloc(c->listens, (size_t)(c->nlistens + 1) * sizeof(*ls));
    if (!ls)
        return fail(l, d, "out of memory");
    c->listens = ls;
    ls = &ls[c->nlistens];
    *ls = (gd_listen_t){.addr = gh_conf_arg(d, 0), .uid = -1, .gid = -1,
                        .d = d};
    for (int i = 1; i < n; i++)
        if ((rc = listen_flag(l, d, ls, gh_conf_arg(d, i))))
            return rc;
    if (!*ls->addr)
        return fail(l, d, "expected an address, found \"\"");
    if ((rc = check_addr(l, d, ls->addr)))
        return rc;
    if (gh_conf_block(d) && (rc = listen_block(l, gh_conf_block(d), ls))) {
        gh_tls_free(ls->tls);
        return rc;
    }
    c->nlistens++;
    return 0;
}

static int route_handler(loader_t *l, const gh_conf_directive_t *d,
                         gd_route_t *r)
{
    const gh_conf_directive_t *h = gh_conf_find(r->block, "handler");

    if (!h)
        return fail(l, d, "the block names no handler (add \"handler "
                    "NAME;\")");
    if (gh_conf_block(h) || gh_conf_nargs(h) != 1)
        return fail(l, h, "expected 1 argument");
    r->handler = gh_conf_arg(h, 0);
    return 0;
}

static int set_route(loader_t *l, const gh_conf_directive_t *d)
{
    gd_config_t *c = l->c;
    gd_route_t *r;
    int n = gh_conf_nargs(d), rc;

    if (!gh_conf_block(d))
        return fail(l, d, "expected a block: route PATH [METHODS] { handler "
                    "NAME; ... }");
    if (n < 1 || n > 2)
        return fail(l, d, "expected a path and optionally methods, found %d "
                    "arguments", n);
    if (gh_conf_arg(d, 0)[0] != '/')
        return fail(l, d, "the path must start with '/', found \"%s\"",
                    gh_conf_arg(d, 0));
    r = realloc(c->routes, (size_t)(c->nroutes + 1) * sizeof(*r));
    if (!r)
        return fail(l, d, "out of memory");
    c->routes = r;
    r = &r[c->nroutes];
    *r = (gd_route_t){.pattern = gh_conf_arg(d, 0),
                      .methods = n > 1 ? gh_conf_arg(d, 1) : NULL,
                      .block = gh_conf_block(d), .d = d};
    if ((rc = route_handler(l, d, r)))
        return rc;
    c->nroutes++;
    return 0;
}

/* ---- error pages ---- */

#define ERROR_PAGE_MAX (64 * 1024)

/* path as the daemon will see it: it reads the file at load, and the first
 * load runs before it moves to the main file's directory (main.c). */
static char *config_relative(const gd_config_t *c, const char *path)
{
    const char *slash = strrchr(c->path, '/');
    char *out;

    if (path[0] == '/' || !slash)
        return strdup(path);
    if (asprintf(&out, "%.*s/%s", (int)(slash - c->path), c->path, path) < 0)
        return NULL;
    return out;
}

/* The page at path, which must be a regular file of at most 64k, into
 * *body (malloc'ed) and *len. */
static int read_page(loader_t *l, const gh_conf_directive_t *d,
                     const char *path, char **body, size_t *len)
{
    char *full = config_relative(l->c, path);
    struct stat st;
    ssize_t n = 0;
    int fd, rc = 0;

    /* O_NONBLOCK: a FIFO there must not hang the load. */
    if (!full || (fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
        rc = full ? fail(l, d, "%s: %s", path, strerror(errno))
                  : fail(l, d, "out of memory");
        free(full);
        return rc;
    }
    free(full);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        rc = fail(l, d, "%s: not a regular file", path);
    else if (st.st_size > ERROR_PAGE_MAX)
        rc = fail(l, d, "%s: %lld bytes, more than the 64k allowed", path,
                  (long long)st.st_size);
    else if (!(*body = malloc((size_t)st.st_size + 1)))
        rc = fail(l, d, "out of memory");
    for (*len = 0; rc == 0 && *len < (size_t)st.st_size; *len += (size_t)n)
        if ((n = read(fd, *body + *len, (size_t)st.st_size - *len)) <= 0)
            break;
    if (rc == 0 && n < 0) {
        rc = fail(l, d, "%s: %s", path, strerror(errno));
        free(*body);
    }
    close(fd);
    return rc;
}

/* Make body the page for status, replacing an earlier one. */
static int page_add(loader_t *l, const gh_conf_directive_t *d, int status,
                    const char *body, size_t len)
{
    gd_config_t *c = l->c;
    gd_error_page_t *p = NULL;
    char *copy = malloc(len + 1);

    for (int i = 0; i < c->nerror_pages && !p; i++)
        if (c->error_pages[i].status == status)
            p = &c->error_pages[i];
    if (!copy)
        return fail(l, d, "out of memory");
    memcpy(copy, body, len);
    if (!p) {
        p = realloc(c->error_pages,
                    (size_t)(c->nerror_pages + 1) * sizeof(*p));
        if (!p) {
            free(copy);
            return fail(l, d, "out of memory");
        }
        c->error_pages = p;
        p = &p[c->nerror_pages++];
        p->status = status;
    } else {
        free(p->body);
    }
    p->body = copy;
    p->len = len;
    return 0;
}

static int set_error_page(loader_t *l, const gh_conf_directive_t *d)
{
    int n = gh_conf_nargs(d), rc = shape(l, d, 2, 64);
    const char *path;
    uint64_t code;
    size_t len = 0;
    char *body = NULL;

    if (rc)
        return rc;
    for (int i = 0; i < n - 1; i++) {
        const char *a = gh_conf_arg(d, i);
        if (strspn(a, "0123456789") != 3 || a[3] ||
            (code = strtoull(a, NULL, 10)) < 400 || code > 599)
            return fail(l, d, "expected a status code from 400 to 599, "
                        "found \"%s\"", a);
    }
    path = gh_conf_arg(d, n - 1);
    if (!*path)
        return fail(l, d, "expected a path, found \"\"");
    if ((rc = read_page(l, d, path, &body, &len)))
        return rc;
    for (int i = 0; i < n - 1 && rc == 0; i++)
        rc = page_add(l, d, atoi(gh_conf_arg(d, i)), body, len);
    free(body);
    return rc;
}

const gd_error_page_t *gd_error_page(const gd_config_t *c, int status)
{
    for (int i = 0; i < c->nerror_pages; i++)
        if (c->error_pages[i].status == status)
            return &c->error_pages[i];
    return NULL;
}

/* ---- the main context ---- */

static const struct directive {
    const char *name;
    setter_fn set;
} directives[] = {
    {"workers", set_workers},
    {"user", set_user},
    {"allow_root", set_allow_root},
    {"pid_file", set_pid_file},
    {"plugin_dir", set_plugin_dir},
    {"error_log", set_error_log},
    {"access_log", set_access_log},
    {"log_buffer", set_log_buffer},
    {"shutdown_timeout", set_shutdown_timeout},
    {"drain_delay", set_drain_delay},
    {"health_path", set_health_path},
    {"ready_path", set_ready_path},
    {"health_log", set_health_log},
    {"upgrade_timeout", set_upgrade_timeout},
    {"stall_limit", set_stall_limit},
    {"max_open_files", set_max_open_files},
    {"listen", set_listen},
    {"route", set_route},
    {"error_page", set_error_page},
    {"max_target", set_max_target},
    {"max_header_bytes", set_max_header_bytes},
    {"max_headers", set_max_headers},
    {"max_body", set_max_body},
    {"header_timeout", set_header_timeout},
    {"body_timeout", set_body_timeout},
    {"body_min_rate", set_body_min_rate},
    {"write_timeout", set_write_timeout},
    {"write_min_rate", set_write_min_rate},
    {"idle_timeout", set_idle_timeout},
    {"max_conns", set_max_conns},
    {"max_requests", set_max_requests},
    {"accept_backoff", set_accept_backoff},
    {"linger_timeout", set_linger_timeout},
    {"linger_bytes", set_linger_bytes},
    {"server_header", set_server_header},
    {"stack_size", set_stack_size},
    {"trusted_proxies", set_trusted_proxies},
    {"real_ip_header", set_real_ip_header},
    {"real_ip_recursive", set_real_ip_recursive},
    {"max_forwarded_hops", set_max_forwarded_hops},
    {"request_id_header", set_request_id_header},
};

static int apply(loader_t *l, const gh_conf_section_t *sec)
{
    size_t i, n = sizeof(directives) / sizeof(directives[0]);
    int rc;

    for (int k = 0; k < gh_conf_count(sec); k++) {
        const gh_conf_directive_t *d = gh_conf_at(sec, k);

        for (i = 0; i < n; i++)
            if (strcmp(gh_conf_name(d), directives[i].name) == 0)
                break;
        if (i == n)
            return fail(l, d, "unknown directive");
        gh_conf_use(d);
        if ((rc = directives[i].set(l, d)))
            return rc;
    }
    return 0;
}

static void defaults(gd_config_t *c)
{
    c->error_log = "stderr";
    c->error_level = GH_LOG_INFO;
    c->access_log = NULL;
    c->access_format = GD_ACCESS_COMBINED;
    c->log_buffer = 1u << 20;
    c->shutdown_timeout = 30 * GH_SECOND;
    c->upgrade_timeout = 60 * GH_SECOND;
    c->stall_limit = GH_SECOND;
    c->user = "nobody";
    gh_server_opts_init(&c->http);
    c->http.request_id_header = "X-Request-ID";
}

/* A double-quoted config string holding s. */
static char *quote(const char *s)
{
    size_t n = strlen(s);
    char *q = malloc(2 * n + 3), *p = q;

    if (!q)
        return NULL;
    *p++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\' || *s == '$')
            *p++ = '\\';
        *p++ = *s;
    }
    *p++ = '"';
    *p = '\0';
    return q;
}

/* -r DIR: the configuration a file would give, as text. */
static int root_tree(const char *dir, gh_conf_section_t **out, char *err,
                     size_t errlen)
{
    char *q = quote(dir), *text = NULL;
    int rc = GH_ENOMEM, n;

    if (q) {
        n = asprintf(&text, "access_log stdout common;\n"
                            "route / {\n  handler static;\n  root %s;\n"
                            "  listing on;\n}\n", q);
        if (n >= 0)
            rc = gh_conf_parse_string("-r", text, (size_t)n, out, err,
                                      errlen);
    }
    free(q);
    free(text);
    return rc;
}

static int parse(const char *path, const gd_overrides_t *ov, gd_config_t *c,
                 char *err, size_t errlen)
{
    int rc;

    if (ov->root)
        rc = root_tree(ov->root, &c->tree, err, errlen);
    else
        rc = gh_conf_parse_file(path, &c->tree, err, errlen);
    if (rc == 0 && ov->globals)
        rc = gh_conf_parse_string("-g", ov->globals, strlen(ov->globals),
                                  &c->extra, err, errlen);
    return rc;
}

/* The command line's -l and -w, and the settings that need one another. */
static int finish(loader_t *l, const gd_overrides_t *ov)
{
    gd_config_t *c = l->c;

    if (ov->listen) {
        gd_listen_t *ls;

        if (check_addr(l, NULL, ov->listen))
            return GH_EINVAL;
        if (!(ls = realloc(c->listens, sizeof(*ls))))
            return fail(l, NULL, "out of memory");
        c->listens = ls;
        /* One listen directive: -l moves it, its settings (PROXY
         * protocol, TLS, ...) stay, so one file serves several
         * instances on several ports. */
        if (c->nlistens == 1) {
            ls->addr = ov->listen;
            ls->d = NULL;
        } else {
            *ls = (gd_listen_t){.addr = ov->listen, .uid = -1, .gid = -1};
        }
        c->nlistens = 1;
    }
    if (ov->workers)
        c->workers = ov->workers;
    if (c->nlistens == 0 && ov->root) {
        c->listens = calloc(1, sizeof(*c->listens));
        if (!c->listens)
            return fail(l, NULL, "out of memory");
        c->listens[0] = (gd_listen_t){.addr = "127.0.0.1:8080", .uid = -1,
                                      .gid = -1};
        c->nlistens = 1;
    }
    if (c->nlistens == 0)
        return fail(l, NULL, "%s: no listen directive (add one, e.g. "
                    "\"listen 127.0.0.1:8080;\", or use -l ADDR)", c->path);
    if (c->http.max_target + (uint64_t)c->http.max_header_bytes >= 1u << 30)
        return fail(l, NULL, "%s: max_target + max_header_bytes must stay "
                    "under 1g", c->path);
    return check_root_user(l);
}

int gd_config_load(const char *path, const gd_overrides_t *ov,
                   gd_config_t **out, char *err, size_t errlen)
{
    gd_config_t *c = calloc(1, sizeof(*c));
    loader_t l = {.c = c, .err = err, .errlen = errlen};
    int rc;

    *out = NULL;
    if (!c || !(c->path = strdup(ov->root ? "" : path))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return GH_ENOMEM;
    }
    defaults(c);
    rc = parse(path, ov, c, err, errlen);
    if (rc == 0)
        rc = apply(&l, c->tree);
    if (rc == 0 && c->extra)
        rc = apply(&l, c->extra);
    if (rc == 0)
        rc = finish(&l, ov);
    if (rc) {
        gd_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void gd_config_free(gd_config_t *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nlistens; i++)
        gh_tls_free(c->listens[i].tls);
    free(c->listens);
    free(c->routes);
    for (int i = 0; i < c->nerror_pages; i++)
        free(c->error_pages[i].body);
    free(c->error_pages);
    for (int i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    free(c->owned);
    gh_conf_free(c->tree);
    gh_conf_free(c->extra);
    free(c->path);
    free(c);
}

bool gd_listen_same(const gd_listen_t *a, const gd_listen_t *b)
{
    return strcmp(a->addr, b->addr) == 0 && a->reuseport == b->reuseport;
}
