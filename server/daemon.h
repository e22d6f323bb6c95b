/*
 * daemon.h - the running daemon's state, shared by main.c (command line),
 * daemon.c (start, signals, reload, stop) and process.c (the process:
 * paths, detaching, pid file, privileges, limits).
 */
#ifndef GD_DAEMON_H
#define GD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "server/settings.h"
#include "server/log.h"
#include "server/plugins.h"
#include "server/sd.h"

/* An access log in use: kept until exit, because a connection may still
 * hold server options that point at it. */
typedef struct gd_access_keep {
    gd_access_log_t log;
    struct gd_access_keep *next;
} gd_access_keep_t;

/* The server listeners one listen directive made: ":port" makes two, and
 * an fd_name as many as the inherited sockets of that name. */
typedef struct gd_lslot {
    int idx;                    /* the first one's index */
    int n;                      /* how many, with consecutive indexes */
} gd_lslot_t;

/* SIGUSR2: the new process taking over (upgrade.c).  Main thread only. */
typedef struct gd_upgrade {
    pid_t pid;                  /* the new process; 0: no upgrade running */
    int fd;                     /* its readiness pipe (read end), or -1 */
    int64_t deadline;           /* gh_now() after which it is given up */
    /* in the new process: what the old one passed */
    int ready_fd;               /* write 'R' here once serving; -1: none */
    int pid_fd;                 /* the pid file, open; -1: none */
} gd_upgrade_t;

/* The settings only a restart changes, as in force since the start: a
 * reload warns about the ones its configuration changes.  Copies, since
 * the configuration they came from goes with the first reload. */
typedef struct gd_fixed {
    int workers;
    char *user, *group;         /* malloc; group may be NULL */
    bool allow_root;
    uint64_t log_buffer;
    uint64_t max_open_files;
} gd_fixed_t;

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
    gd_fixed_t fixed;           /* what of it a reload cannot change */
    gh_server_t *srv;
    gd_lslot_t *lslots;         /* server listeners of cfg->listens[i] */
    gd_logfile_t *errlog;       /* NULL: stderr */
    gd_access_keep_t *access;   /* every access log made, newest first */
    bool pid_written;
    char *pid_path;             /* the pid file written (malloc), or NULL:
                                 * a reload may name another, or none */
    int pid_fd;                 /* the pid file kept open for an upgrade
                                 * to write (after the drop from root) */
    int sfd;                    /* signalfd */
    /* socket activation and upgrades */
    char **argv;                /* main()'s */
    char *exe;                  /* this executable's path, at start */
    gd_sd_fds_t inherited;      /* LISTEN_FDS sockets */
    int *extra;                 /* inherited sockets no listen directive
                                 * matched, served all the same: their
                                 * listener indexes */
    int nextra;
    gd_upgrade_t up;
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
/* Does the pid file we wrote still hold our pid?  After an upgrade whose
 * configuration names another file, the new process wrote that one. */
bool gd_pid_holds_ours(const gd_daemon_t *d);
int gd_drop_privileges(const gd_config_t *c, char *err, size_t errlen);
int gd_pid_rewrite(gd_daemon_t *d, char *err, size_t errlen);

/* upgrade.c */
/* In a new process started by an upgrade: take what the old one passed
 * (GOHTTPD_UPGRADE), before anything else opens descriptors. */
void gd_upgrade_child_init(gd_daemon_t *d);
/* The new process is serving: write its pid file and tell the old one.
 * 0, or GH_E* with err (then the old one keeps serving). */
int gd_upgrade_child_ready(gd_daemon_t *d, char *err, size_t errlen);
/* SIGUSR2: start the new process (refused while one is running). */
void gd_upgrade_start(gd_daemon_t *d);
/* Its pipe said something or the deadline passed: true when the new
 * process is ready and this one should stop; false if the upgrade failed
 * (logged; this process goes on serving) or is still waited for. */
bool gd_upgrade_check(gd_daemon_t *d, bool readable);
void gd_upgrade_cleanup(gd_daemon_t *d);

/* daemon.c */
int gd_start(gd_daemon_t *d, char *err, size_t errlen);
/* Listener indexes this process serves, for an upgrade to pass on, and
 * the name to pass each under: up to max of them; how many. */
int gd_listeners(gd_daemon_t *d, int *idx, const char **nm, int max);
int gd_run(gd_daemon_t *d);
void gd_stop_logs(gd_daemon_t *d);
void gd_teardown(gd_daemon_t *d);

#endif /* GD_DAEMON_H */
