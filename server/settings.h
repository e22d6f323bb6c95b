/*
 * settings.h - the daemon's configuration: the parsed tree (lib/util/conf.c)
 * turned into typed settings, with every directive checked.
 *
 * A gd_config_t is immutable once loaded; a reload loads a new one and the
 * old one lives until nothing refers to it.  Relative paths stay as
 * written: the daemon runs in the main configuration file's directory
 * (main.c), so they resolve against it.
 */
#ifndef GD_SETTINGS_H
#define GD_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include <gohttpd.h>

typedef struct gd_listen {
    const char *addr;        /* as gh_server_listen() takes it */
    int backlog;             /* 0: the library's default */
    bool reuseport;
    /* A unix: listener's socket file: set before it accepts (and again on
     * each reload).  -1 / 0: as created (the daemon's user, the umask). */
    long uid, gid;
    unsigned mode;
    bool proxy_protocol;     /* a PROXY header starts each connection */
    const char *proxy_protocol_from; /* who may send one; NULL: anyone */
    int64_t proxy_protocol_timeout;  /* 0: the library's 5 s */
    int notsent_lowat;       /* TCP_NOTSENT_LOWAT: 0 the library's 16k,
                              * -1 "off" (the system's) */
    const gh_conf_directive_t *d; /* where it was set (NULL: -l) */
    const char *fd_name;     /* serve the inherited sockets of this name
                              * (LISTEN_FDNAMES); NULL: match by address */
    gh_tls_t *tls;           /* its tls block, built at load; NULL: plain
                              * HTTP.  Owned (gd_config_free drops it). */
} gd_listen_t;

typedef struct gd_route {
    const char *pattern;     /* a gh_router_add() pattern */
    const char *methods;     /* "GET,POST" or NULL for any */
    const char *handler;     /* a plugin name ("static") or a .so path */
    const gh_conf_section_t *block; /* its settings, for the plugin */
    const gh_conf_directive_t *d;
} gd_route_t;

/* An error_page: what a canned status of its code is answered with. */
typedef struct gd_error_page {
    int status;              /* 400..599 */
    char *body;              /* the file's content, read at load; malloc */
    size_t len;
} gd_error_page_t;

typedef struct gd_config {
    gh_conf_section_t *tree;     /* owns every string below */
    gh_conf_section_t *extra;    /* -g directives, or NULL */
    char *path;                  /* the main file ("" with -r) */
    int workers;                 /* 0: one per CPU */
    const char *user, *group;    /* to drop to when started as root */
    bool allow_root;             /* keep running as root if started so */
    const char *pid_file;        /* NULL: none */
    const char *error_log;       /* "stderr" or a path */
    int error_level;             /* enum gh_log_level */
    const char *access_log;      /* "stdout", a path, or NULL (off) */
    int access_format;           /* GD_ACCESS_* (log.h) */
    uint64_t log_buffer;         /* bytes queued for the log writer */
    int64_t shutdown_timeout;    /* grace for in-flight requests */
    int64_t drain_delay;         /* on SIGTERM: not ready, still serving,
                                  * this long before the shutdown */
    int64_t upgrade_timeout;     /* SIGUSR2: how long the new process
                                  * has to say it is ready */
    uint64_t max_open_files;     /* RLIMIT_NOFILE wanted; 0: the hard
                                  * limit */
    int64_t stall_limit;         /* gh_set_stall_limit(); 0: off */
    const char *plugin_dir;      /* NULL: the built-in search path */
    gh_server_opts_t http;       /* limits and timeouts */
    gd_listen_t *listens;
    int nlistens;
    gd_route_t *routes;
    int nroutes;
    gd_error_page_t *error_pages; /* one per status, in no order */
    int nerror_pages;
    char **owned;                /* strings built at load (network lists),
                                  * freed with the configuration */
    int nowned;
} gd_config_t;

/* What the command line overrides. */
typedef struct gd_overrides {
    const char *listen;      /* -l: replaces every listen */
    const char *root;        /* -r: no file; serve this directory */
    const char *globals;     /* -g: directives applied after the file */
    int workers;             /* -w; 0 if not given */
} gd_overrides_t;

/* Load path (ignored with ov->root) and check it.  0, or GH_E* with
 * "file:line:col: message" in err. */
int gd_config_load(const char *path, const gd_overrides_t *ov,
                   gd_config_t **out, char *err, size_t errlen);

void gd_config_free(gd_config_t *c);

/* The error_page for status, or NULL. */
const gd_error_page_t *gd_error_page(const gd_config_t *c, int status);

/* True when a and b listen on the same sockets the same way. */
bool gd_listen_same(const gd_listen_t *a, const gd_listen_t *b);

#endif /* GD_SETTINGS_H */
