/*
 * sd.h - the daemon's side of the service manager's protocols, written
 * directly (no libsystemd): the listening sockets passed in (LISTEN_FDS,
 * LISTEN_PID, LISTEN_FDNAMES) and the state notifications (NOTIFY_SOCKET).
 * systemd speaks both, and so does a gohttpd handing its sockets to a new
 * copy of itself (upgrade.c).
 */
#ifndef GD_SD_H
#define GD_SD_H

#include <stdbool.h>
#include <sys/socket.h>

#define GD_SD_LISTEN_FDS_START 3
#define GD_SD_MAX_FDS 256        /* inherited sockets taken at most */

/* One inherited listening socket. */
typedef struct gd_sd_fd {
    int fd;
    char name[256];              /* from LISTEN_FDNAMES; "" if unnamed */
    struct sockaddr_storage ss;  /* getsockname(2) */
    socklen_t len;
    bool used;                   /* adopted by a listener */
} gd_sd_fd_t;

typedef struct gd_sd_fds {
    gd_sd_fd_t *fds;             /* malloc; n of them */
    int n;
} gd_sd_fds_t;

/* Take the sockets passed to this process, if LISTEN_PID is our pid:
 * each is set close-on-exec; one that is not a listening stream socket is
 * closed with a warning.  The LISTEN_* variables are removed from the
 * environment either way.  0 (out->n may be 0), or GH_E* with err. */
int gd_sd_listen_fds(gd_sd_fds_t *out, char *err, size_t errlen);

void gd_sd_fds_free(gd_sd_fds_t *f);

/* "fd 3 (name http)" for the log. */
const char *gd_sd_describe(const gd_sd_fd_t *f, char *buf, size_t len);

/* Send fmt's text (newline-separated VAR=VALUE lines) to NOTIFY_SOCKET,
 * if it is set; a failure is logged, never fatal. */
void gd_sd_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CLOCK_MONOTONIC in microseconds, for RELOADING=1's MONOTONIC_USEC. */
unsigned long long gd_sd_monotonic_usec(void);

#endif /* GD_SD_H */
