/*
 * daemon.h - the running daemon's state, shared by main.c (command line),
 * daemon.c (start, signals, reload, stop) and process.c (the process:
 * paths, detaching, pid file, privileges, limits).
 */
#ifndef GD_DAEMON_H
#define GD_DAEMON_H

#include <stdbool.h>

#include "server/settings.h"
#include "server/log.h"
#include "server/plugins.h"

/* An access log in use: kept until exit, because a connection may still
 * hold server options that point at it. */
typedef struct gd_access_keep {
    gd_access_log_t log;
    struct gd_access_keep *next;
} gd_access_keep_t;

/* The server listeners one listen directive made: ":port" makes two. */
typedef struct gd_lslot {
    int idx;                    /* the first one's index */
    int n;                      /* 1 or 2 */
} gd_lslot_t;

typedef struct gd_daemon {
    /* command line */
    const char *conf_arg;       /* -c */
    gd_overrides_t ov;          /* -l -r -w -g */
    bool test_only;             /* -t */
    bool detach;                /* -d */
    int detach_fd;              /* pipe to the waiting parent, or -1 */
    /* set up by process.c */
    char *conf_path;            /* absolute; NULL with -r */
    char *root_path;            /* -r's directory, absolute */
    /* running */
    gd_config_t *cfg;           /* the configuration in force */
    gh_server_t *srv;
    gd_lslot_t *lslots;         /* server listeners of cfg->listens[i] */
    gd_logfile_t *errlog;       /* NULL: stderr */
    gd_access_keep_t *access;   /* every access log made, newest first */
    bool pid_written;
    int sfd;                    /* signalfd */
} gd_daemon_t;

/* process.c */
const char *gd_default_conf(void);
int gd_locate(gd_daemon_t *d, char *err, size_t errlen);
/* Where c looks for plugins; pp points into c. */
void gd_plugin_path(const gd_config_t *c, gd_plugin_path_t *pp);
int gd_enter_dir(gd_daemon_t *d, char *err, size_t errlen);
int gd_detach(gd_daemon_t *d, char *err, size_t errlen);
void gd_detach_report(gd_daemon_t *d, int status);
void gd_raise_nofile(const gd_config_t *c);
int gd_pid_write(gd_daemon_t *d, char *err, size_t errlen);
void gd_pid_remove(gd_daemon_t *d);
int gd_drop_privileges(const gd_config_t *c, char *err, size_t errlen);

/* daemon.c */
int gd_start(gd_daemon_t *d, char *err, size_t errlen);
int gd_run(gd_daemon_t *d);
void gd_stop_logs(gd_daemon_t *d);
void gd_teardown(gd_daemon_t *d);

#endif /* GD_DAEMON_H */
